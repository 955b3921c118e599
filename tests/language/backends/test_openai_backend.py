"""The OpenAI-compatible HTTP backend against real uvicorn servers on 127.0.0.1 (no mocked client).

One server serves the tiny random chat model with ``musicllm.language.serve_openai``; another serves
the "mute" model (its replies are empty); a third is a deliberately misbehaving FastAPI app (slow,
broken, malformed). The unreachable case uses a port that was just freed.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from musicllm.language.backends import get_backend
from musicllm.language.backends.base import BackendError
from musicllm.language.backends.openai_backend import OpenAIBackend
from musicllm.language.backends.transformers_backend import TransformersBackend
from musicllm.language.serve_openai import create_app, running_server

MESSAGES = [{"role": "system", "content": "Answer only from the facts."},
            {"role": "user", "content": "What is the key?"}]


@pytest.fixture(scope="module")
def local(tiny_chat_model: Path) -> TransformersBackend:
    return TransformersBackend(tiny_chat_model)


@pytest.fixture(scope="module")
def served(local: TransformersBackend) -> Iterator[str]:
    with running_server(create_app(local, "tiny-llama")) as url:
        yield url + "/v1"


@pytest.fixture(scope="module")
def misbehaving() -> Iterator[str]:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, PlainTextResponse

    app = FastAPI()

    @app.get("/{kind}/v1/models")
    async def models(kind: str) -> dict:
        return {"object": "list", "data": [{"id": f"{kind}-model", "object": "model"}]}

    @app.post("/slow/v1/chat/completions")
    async def slow() -> dict:
        await asyncio.sleep(1.0)
        return {"choices": [{"message": {"role": "assistant", "content": "too late"}}]}

    @app.post("/broken/v1/chat/completions")
    async def broken() -> PlainTextResponse:
        return PlainTextResponse("Internal error\nTraceback (most recent call last): ...", status_code=500)

    @app.post("/nochoices/v1/chat/completions")
    async def nochoices() -> JSONResponse:
        return JSONResponse({"object": "chat.completion", "choices": []})

    @app.post("/blank/v1/chat/completions")
    async def blank() -> dict:
        return {"choices": [{"message": {"role": "assistant", "content": " \n "}}]}

    with running_server(app) as url:
        yield url


def test_served_reply_matches_the_local_model(served: str, local: TransformersBackend) -> None:
    backend = get_backend(f"openai:{served}")
    assert isinstance(backend, OpenAIBackend) and backend.name == f"openai:{served}"
    reply = backend.chat(MESSAGES, max_new_tokens=10)
    assert backend.model == "tiny-llama"  # resolved from GET /models
    assert reply == local.chat(MESSAGES, max_new_tokens=10)  # the HTTP path changes nothing
    assert backend.chat(MESSAGES, max_new_tokens=10) == reply
    sampled = backend.chat(MESSAGES, max_new_tokens=10, temperature=1.0, seed=5)
    assert sampled == local.chat(MESSAGES, max_new_tokens=10, temperature=1.0, seed=5)


def test_named_model_and_check(served: str) -> None:
    ok = get_backend(f"openai:{served}#model=tiny-llama")
    assert ok is not None
    ok.check()
    assert ok.chat(MESSAGES, max_new_tokens=3)
    wrong = get_backend(f"openai:{served}?model=gpt-4o")
    assert wrong is not None
    with pytest.raises(BackendError, match="model 'gpt-4o' is not served"):
        wrong.check()
    with pytest.raises(BackendError, match=r"HTTP 404 from POST /chat/completions: the model 'gpt-4o' does not exist"):
        wrong.chat(MESSAGES)


def test_server_rejects_bad_requests_in_openai_format(served: str) -> None:
    r = httpx.post(f"{served}/chat/completions", json={"messages": [{"role": "user"}], "stream": True}, timeout=60)
    assert r.status_code == 400 and r.json()["error"]["message"] == "streaming is not supported; send stream=false"
    r = httpx.post(f"{served}/chat/completions", json={"model": "tiny-llama"}, timeout=60)
    assert r.status_code == 400 and "messages" in r.json()["error"]["message"]


def test_unreachable_server(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = get_backend(f"openai:http://127.0.0.1:{port}/v1#model=m")
    assert backend is not None
    expected = rf"^LLM backend openai:http://127\.0\.0\.1:{port}/v1: unreachable \(connection refused\)$"
    with pytest.raises(BackendError, match=expected):
        backend.chat(MESSAGES)
    with pytest.raises(BackendError, match=expected):
        backend.check()


def test_timeout(misbehaving: str) -> None:
    backend = OpenAIBackend(f"{misbehaving}/slow/v1")
    with pytest.raises(BackendError, match=rf"^LLM backend openai:{misbehaving}/slow/v1: timed out after 0\.2s$"):
        backend.chat(MESSAGES, timeout_s=0.2)
    assert backend.model == "slow-model"  # /models answered; only the completion was too slow


def test_http_error_status_is_short_and_one_line(misbehaving: str) -> None:
    with pytest.raises(BackendError) as info:
        OpenAIBackend(f"{misbehaving}/broken/v1").chat(MESSAGES)
    assert str(info.value) == (f"LLM backend openai:{misbehaving}/broken/v1: HTTP 500 from POST "
                               "/chat/completions: Internal error Traceback (most recent call last): ...")


def test_malformed_and_blank_replies(misbehaving: str) -> None:
    with pytest.raises(BackendError, match=r"unexpected response from /chat/completions \(no choices"):
        OpenAIBackend(f"{misbehaving}/nochoices/v1").chat(MESSAGES)
    with pytest.raises(BackendError, match=r"/blank/v1: returned empty text$"):
        OpenAIBackend(f"{misbehaving}/blank/v1").chat(MESSAGES)


def test_empty_text_from_a_real_model(mute_chat_model: Path) -> None:
    with running_server(create_app(TransformersBackend(mute_chat_model))) as url:
        raw = httpx.post(f"{url}/v1/chat/completions", json={"messages": MESSAGES, "max_tokens": 5},
                         timeout=60)
        assert raw.status_code == 200 and raw.json()["choices"][0]["message"]["content"] == ""
        backend = get_backend(f"openai:{url}/v1")
        assert backend is not None
        with pytest.raises(BackendError, match=rf"^LLM backend openai:{url}/v1: returned empty text$"):
            backend.chat(MESSAGES, max_new_tokens=5)
        assert backend.model == mute_chat_model.name  # the server's default id is the folder name


def test_official_openai_client_understands_the_server(served: str, local: TransformersBackend) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=served, api_key="unused", max_retries=0, timeout=30)
    assert [m.id for m in client.models.list()] == ["tiny-llama"]
    done = client.chat.completions.create(model="tiny-llama", messages=MESSAGES, max_tokens=7, temperature=0)
    assert done.choices[0].message.content == local.chat(MESSAGES, max_new_tokens=7)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="other", messages=MESSAGES)
