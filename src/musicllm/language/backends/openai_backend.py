"""A chat backend for any OpenAI-compatible HTTP server (vLLM, llama.cpp's server, Ollama, ...).

It sends ``POST {base}/chat/completions`` (non-streaming) and reads ``choices[0].message.content``.
With no model name it asks ``GET {base}/models`` once and uses the first model listed.

Why httpx and not the ``openai`` package: the request is one POST, and httpx lets every failure be
mapped to one plain line (the ``openai`` client retries twice with back-off by default, which turns an
unreachable server into a long wait, and wraps errors in its own classes). httpx is already installed
with the ``openai`` package and FastAPI's test client, and imports in a fraction of the time.

Errors (all :class:`BackendError`, named ``openai:{base}``): ``unreachable (connection refused)``,
``timed out after Ns``, ``HTTP 404: <short body>``, ``unexpected response (...)``, ``returned empty
text``. No retries and no fallback to another backend.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from musicllm.errors import MissingDependencyError
from musicllm.language.backends.base import (
    Backend,
    BackendError,
    Message,
    nonempty,
    one_line,
    validate_messages,
    validate_options,
)


def _httpx():
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx comes with openai/fastapi
        raise MissingDependencyError("the openai LLM backend needs httpx: pip install httpx") from None
    return httpx


class OpenAIBackend(Backend):
    """Chat completions from an OpenAI-compatible server at ``base_url`` (e.g. ``http://127.0.0.1:8000/v1``)."""

    def __init__(self, base_url: str, model: str | None = None, api_key: str | None = None) -> None:
        url = urlsplit(base_url.strip())
        self.base_url = urlunsplit((url.scheme, url.netloc, url.path.rstrip("/"), "", ""))
        self._params = dict(parse_qsl(url.query))  # e.g. Azure-style ?api-version=..., sent on every call
        self.name = f"openai:{self.base_url}"
        self.model = model
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}

    def _request(self, method: str, path: str, timeout_s: float, body: dict[str, Any] | None = None) -> Any:
        httpx = _httpx()
        url = f"{self.base_url}/{path}"
        try:
            resp = httpx.request(method, url, json=body, params=self._params or None, headers=self._headers,
                                 timeout=timeout_s, follow_redirects=True)
        except httpx.TimeoutException:
            raise BackendError(self.name, f"timed out after {timeout_s:g}s") from None
        except httpx.ConnectError as exc:
            raise BackendError(self.name, f"unreachable ({_connect_reason(exc)})") from None
        except httpx.HTTPError as exc:
            raise BackendError(self.name, f"request failed ({type(exc).__name__}: {exc})") from None
        if resp.status_code >= 400:
            raise BackendError(self.name, f"HTTP {resp.status_code} from {method} /{path}: {_short_body(resp)}")
        try:
            return resp.json()
        except ValueError:
            raise BackendError(self.name, f"unexpected response from /{path} (not JSON: "
                                          f"{one_line(resp.text, 80)!r})") from None

    def list_models(self, timeout_s: float = 10.0) -> list[str]:
        """Model ids the server lists at ``GET /models`` (in its order)."""
        data = self._request("GET", "models", timeout_s)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise BackendError(self.name, "unexpected response from /models (no 'data' list)")
        return [str(m["id"]) for m in items if isinstance(m, dict) and m.get("id")]

    def resolve_model(self, timeout_s: float = 10.0) -> str:
        """The model name to send: the one given, else the first one the server lists."""
        if not self.model:
            models = self.list_models(timeout_s)
            if not models:
                raise BackendError(self.name, "the server lists no models; give one with #model=NAME")
            self.model = models[0]
        return self.model

    def check(self, timeout_s: float = 10.0) -> None:
        """Reach the server (``GET /models``) and settle the model name."""
        models = self.list_models(timeout_s)
        if not self.model:
            if not models:
                raise BackendError(self.name, "the server lists no models; give one with #model=NAME")
            self.model = models[0]
        elif models and self.model not in models and f"{self.model}:latest" not in models:  # Ollama tags
            raise BackendError(self.name, f"model {self.model!r} is not served (the server lists "
                                          f"{one_line(', '.join(models), 120)})")

    def chat(self, messages: Sequence[Message], *, max_new_tokens: int = 256, temperature: float = 0.0,
             seed: int = 0, timeout_s: float = 60.0) -> str:
        msgs = validate_messages(messages, self.name)
        validate_options(self.name, max_new_tokens, temperature, timeout_s)
        body = {"model": self.resolve_model(min(timeout_s, 30.0)), "messages": msgs,
                "max_tokens": max_new_tokens, "temperature": temperature, "seed": seed, "stream": False}
        data = self._request("POST", "chat/completions", timeout_s, body)
        try:
            content = data["choices"][0]["message"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise BackendError(self.name, "unexpected response from /chat/completions (no "
                                          "choices[0].message)") from None
        if content is not None and not isinstance(content, str):
            raise BackendError(self.name, "unexpected response from /chat/completions (content is "
                                          f"{type(content).__name__}, not text)")
        return nonempty(content, self.name)


def _connect_reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "cannot resolve host"
    if "unreachable" in text:
        return "network unreachable"
    return one_line(str(exc), 120) or type(exc).__name__


def _short_body(resp: Any) -> str:
    """The server's error message (OpenAI ``{"error": {"message": ...}}`` or FastAPI ``detail``)."""
    try:
        data = resp.json()
    except ValueError:
        return one_line(resp.text, 200) or resp.reason_phrase or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return one_line(str(err["message"]), 200)
        if isinstance(err, str) and err:
            return one_line(err, 200)
        if data.get("detail"):
            return one_line(str(data["detail"]), 200)
    return one_line(resp.text, 200)
