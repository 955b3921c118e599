"""A small OpenAI-compatible chat server for a local transformers checkpoint.

    python -m musicllm.language.serve_openai /path/to/checkpoint --port 8000
    musicllm describe song.wav --llm openai:http://127.0.0.1:8000/v1

Endpoints: ``GET /v1/models`` and ``POST /v1/chat/completions`` (non-streaming; ``max_tokens`` or
``max_completion_tokens``, ``temperature``, ``seed``), enough for :mod:`musicllm.language.backends` and for
other OpenAI clients. Errors use OpenAI's ``{"error": {"message", "type", "code"}}`` body. An empty
reply is returned as empty content (as other servers do); deciding that it is an error is the client's
job. One request generates at a time. It binds to 127.0.0.1 by default and has no authentication: put
it behind a proxy before exposing it.
"""

# No ``from __future__ import annotations``: FastAPI must resolve the request model defined in create_app.
import argparse
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from musicllm.errors import MissingDependencyError, MusicLLMError
from musicllm.language.backends.base import BackendError
from musicllm.language.backends.transformers_backend import TransformersBackend

DEFAULT_MAX_TOKENS = 256


def _web():
    try:
        import fastapi
        import pydantic
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError(f"the OpenAI-compatible server needs fastapi and uvicorn "
                                     f"({exc.name} is missing): pip install fastapi uvicorn") from None
    return fastapi, pydantic, uvicorn


def _text(content: Any) -> str:
    """Message content as text: a string, or OpenAI's list of ``{"type": "text", "text": ...}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if len(parts) == len(content):
            return "".join(str(p) for p in parts)
    raise ValueError("only text message content is supported")


def create_app(backend: TransformersBackend, model_name: str | None = None) -> Any:
    """A FastAPI app serving ``backend`` under the model id ``model_name`` (default: the folder name)."""
    fastapi, pydantic, _ = _web()
    from fastapi.responses import JSONResponse

    name = model_name or backend.model_id()
    created = int(time.time())

    class ChatMessage(pydantic.BaseModel):
        role: str
        content: Any = None

    class ChatRequest(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="allow")
        model: str | None = None
        messages: list[ChatMessage]
        max_tokens: int | None = None
        max_completion_tokens: int | None = None
        temperature: float | None = None
        seed: int | None = None
        stream: bool = False

    app = fastapi.FastAPI(title="musicllm OpenAI-compatible server", version="1")

    def error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> Any:
        return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind,
                                                                    "param": None, "code": code}})

    @app.exception_handler(fastapi.exceptions.RequestValidationError)
    def _invalid(_request: Any, exc: Any) -> Any:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return error(400, f"invalid request: {where}: {first.get('msg', 'bad value')}")

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": created,
                                            "owned_by": "musicllm"}]}

    @app.post("/v1/chat/completions")
    def chat_completions(req: ChatRequest) -> Any:  # sync: FastAPI runs it in a worker thread
        if req.model and req.model != name:
            return error(404, f"the model {req.model!r} does not exist; this server has {name!r}",
                         code="model_not_found")
        if req.stream:
            return error(400, "streaming is not supported; send stream=false")
        try:
            messages = [{"role": m.role, "content": _text(m.content)} for m in req.messages]
        except ValueError as exc:
            return error(400, str(exc))
        max_tokens = req.max_completion_tokens or req.max_tokens or DEFAULT_MAX_TOKENS
        try:
            text = backend.generate_text(messages, max_new_tokens=max_tokens,
                                         temperature=req.temperature or 0.0, seed=req.seed or 0,
                                         timeout_s=600.0)
        except BackendError as exc:
            return error(400, exc.problem)
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
                "created": int(time.time()), "model": name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}]}

    return app


@contextmanager
def running_server(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yield its base URL (``http://host:port``).

    ``port=0`` picks a free port. The server stops when the ``with`` block ends.
    """
    _, _, uvicorn = _web()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, name="musicllm-serve-openai", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise MusicLLMError(f"could not start the server on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m musicllm.language.serve_openai", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="local transformers checkpoint folder (with a chat template)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    parser.add_argument("--model-name", default=None, help="model id to serve (default: the folder name)")
    args = parser.parse_args(argv)
    try:
        backend = TransformersBackend(args.checkpoint, device=args.device)
        backend.check()
        app = create_app(backend, args.model_name)
        _, _, uvicorn = _web()
    except MusicLLMError as exc:
        print(f"musicllm: error: {exc}", file=sys.stderr)
        return 2
    print(f"serving {app.title} model {args.model_name or backend.model_id()!r} at "
          f"http://{args.host}:{args.port}/v1", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
