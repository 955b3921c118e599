"""`musicllm serve-llm` / `musicllm llm-check`: real backends, one-line errors, exit code 2."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from musicllm.apps.llm_commands import register
from musicllm.language.backends.debug_model import build_debug_chat_model
from musicllm.language.backends.transformers_backend import TransformersBackend
from musicllm.language.serve_openai import create_app, running_server


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app, eval_app = typer.Typer(), typer.Typer()
    app.add_typer(eval_app, name="eval")
    register(app, eval_app)
    return app


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_debug_chat_model(tmp_path_factory.mktemp("cli_chat_llama"))


def _run(cli: typer.Typer, *args: str):
    return CliRunner().invoke(cli, list(args))


def test_llm_check_local_and_served(cli: typer.Typer, checkpoint: Path) -> None:
    local = _run(cli, "llm-check", f"transformers:{checkpoint}", "--max-new-tokens", "6")
    assert local.exit_code == 0, local.output
    reply = local.stdout.strip()
    assert reply and f"transformers:{checkpoint}: ok" in local.stderr
    with running_server(create_app(TransformersBackend(checkpoint))) as url:
        served = _run(cli, "llm-check", f"openai:{url}/v1", "--max-new-tokens", "6")
    assert served.exit_code == 0, served.output
    assert served.stdout.strip() == reply  # same checkpoint, greedy: same words over HTTP


def _one_error_line(result) -> str:
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musicllm: error: "), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    return lines[0]


def test_llm_check_errors(cli: typer.Typer, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = _one_error_line(_run(cli, "llm-check", f"openai:http://127.0.0.1:{port}/v1"))
    assert line.endswith(f"LLM backend openai:http://127.0.0.1:{port}/v1: unreachable (connection refused)")
    assert "unknown LLM backend 'vllm'" in _one_error_line(_run(cli, "llm-check", "vllm:http://x"))
    assert "builtin is not an LLM" in _one_error_line(_run(cli, "llm-check", "builtin"))
    assert "no such checkpoint folder" in _one_error_line(_run(cli, "llm-check", f"transformers:{tmp_path}/x"))


def test_serve_llm_rejects_a_bad_checkpoint(cli: typer.Typer, tmp_path: Path) -> None:
    line = _one_error_line(_run(cli, "serve-llm", str(tmp_path), "--port", "0"))
    assert "--port must be between 1 and 65535" in line
    line = _one_error_line(_run(cli, "serve-llm", str(tmp_path), "--port", "8123"))
    assert line == f"musicllm: error: LLM backend transformers:{tmp_path}: not a transformers checkpoint folder (no config.json)"
