"""`musicllm serve-llm` and `musicllm llm-check`: serve a local checkpoint, and try an ``--llm`` spec.

Wired into the CLI by ``register(app, eval_app)``. Errors a user can cause (bad spec, missing or broken
checkpoint, unreachable or silent server) print one line ``musicllm: error: ...`` on stderr and exit
with code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from musicllm.errors import MusicLLMError


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"musicllm: error: {msg}", err=True)
    raise typer.Exit(code)


def serve_llm(
    checkpoint: Path = typer.Argument(..., help="Local transformers checkpoint folder with a chat template."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (no authentication: keep it local)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or auto."),
    model_name: str | None = typer.Option(None, "--model-name", help="Model id to serve (default: folder name)."),
) -> None:
    """Serve a local chat checkpoint as an OpenAI-compatible API (use it with --llm openai:http://HOST:PORT/v1)."""
    if not 0 < port < 65536:
        _fail(f"--port must be between 1 and 65535, got {port}")
    from musicllm.language.serve_openai import main as serve

    args = [str(checkpoint), "--host", host, "--port", str(port), "--device", device]
    code = serve([*args, "--model-name", model_name] if model_name else args)
    if code:
        raise typer.Exit(code)  # serve() already printed the one-line error


def llm_check(
    llm: str = typer.Argument(..., help="transformers:/path/to/checkpoint or openai:http://HOST:PORT/v1[#model=NAME]."),
    prompt: str = typer.Option("Say hello in one short sentence.", "--prompt", help="What to send."),
    max_new_tokens: int = typer.Option(32, "--max-new-tokens", help="Reply length limit in tokens."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds to wait for the reply."),
) -> None:
    """Send one message to an LLM backend and print its reply (stdout): a quick test of an --llm spec."""
    from musicllm.language.backends import get_backend

    try:
        backend = get_backend(llm)
        if backend is None:
            _fail("builtin is not an LLM; give transformers:/path/to/checkpoint or openai:http://HOST:PORT/v1")
        assert backend is not None
        backend.check(timeout_s=timeout)
        reply = backend.chat([{"role": "user", "content": prompt}], max_new_tokens=max_new_tokens,
                             timeout_s=timeout)
    except MusicLLMError as exc:
        _fail(str(exc))
    typer.echo(f"{backend.name}: ok", err=True)
    sys.stdout.write(reply + "\n")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:  # noqa: ARG001 - same signature for all
    app.command("serve-llm")(serve_llm)
    app.command("llm-check")(llm_check)
