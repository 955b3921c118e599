"""The interface every LLM backend implements, and the error it raises.

A backend turns a chat (a list of ``{"role": ..., "content": ...}`` messages, roles ``system``, ``user``
and ``assistant``) into the assistant's reply text. Conventions shared by all backends:

- ``max_new_tokens`` counts generated tokens (the model's tokenizer), not characters or words.
- ``temperature == 0`` means greedy decoding (deterministic); ``temperature > 0`` samples, seeded with
  ``seed`` where the backend can seed (a local model always; an HTTP server only if it honours the
  OpenAI ``seed`` field).
- ``timeout_s`` is wall-clock seconds for the whole request.
- The reply is stripped of surrounding whitespace. A reply that is empty after stripping is an error
  (:class:`BackendError` "returned empty text"), never silently replaced by another backend's answer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from musicllm.errors import MusicLLMError

ROLES = ("system", "user", "assistant")
Message = dict[str, str]


class BackendError(MusicLLMError):
    """An LLM backend that cannot answer: unreachable, timed out, HTTP error, empty text, bad checkpoint.

    The message is one line naming the backend: ``LLM backend openai:http://...: unreachable (...)``.
    """

    def __init__(self, backend: str, problem: str) -> None:
        self.backend = backend
        self.problem = one_line(problem)
        super().__init__(f"LLM backend {backend}: {self.problem}")

    def __reduce__(self):  # picklable across processes despite the two-argument constructor
        return (type(self), (self.backend, self.problem))


class Backend(ABC):
    """A chat model. ``name`` is the spec that selects it, e.g. ``transformers:/models/qwen``."""

    name: str

    @abstractmethod
    def chat(self, messages: Sequence[Message], *, max_new_tokens: int = 256, temperature: float = 0.0,
             seed: int = 0, timeout_s: float = 60.0) -> str:
        """Return the assistant's reply to ``messages`` (stripped, non-empty) or raise :class:`BackendError`."""

    def check(self, timeout_s: float = 10.0) -> None:  # noqa: B027 - optional hook, no-op by default
        """Fail early (before long analysis work) if the backend cannot be used; may load the model."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace to single spaces and cut to ``limit`` characters (with an ellipsis)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def validate_messages(messages: Sequence[Message], backend: str) -> list[Message]:
    """Check the chat shape (non-empty list of role/content string dicts); return plain dict copies."""
    if not messages:
        raise BackendError(backend, "no messages to send")
    out: list[Message] = []
    for i, m in enumerate(messages):
        role, content = (m.get("role"), m.get("content")) if isinstance(m, dict) else (None, None)
        if role not in ROLES or not isinstance(content, str):
            raise BackendError(backend, f"message {i} must be {{'role': one of {', '.join(ROLES)}, "
                                        f"'content': str}}, got {one_line(repr(m), 80)}")
        out.append({"role": role, "content": content})
    return out


def validate_options(backend: str, max_new_tokens: int, temperature: float, timeout_s: float) -> None:
    """Reject generation options no backend can honour."""
    if max_new_tokens < 1:
        raise BackendError(backend, f"max_new_tokens must be at least 1, got {max_new_tokens}")
    if not temperature >= 0:
        raise BackendError(backend, f"temperature must be >= 0, got {temperature}")
    if not timeout_s > 0:
        raise BackendError(backend, f"timeout must be > 0 seconds, got {timeout_s}")


def merge_system(messages: Sequence[Message]) -> list[Message]:
    """Fold system messages into the first user message, for chat templates without a system role."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if not system:
        return rest
    for m in rest:
        if m["role"] == "user":
            m["content"] = f"{system}\n\n{m['content']}"
            return rest
    return [{"role": "user", "content": system}, *rest]


def nonempty(text: str | None, backend: str) -> str:
    """Strip ``text``; raise :class:`BackendError` "returned empty text" if nothing is left."""
    out = (text or "").strip()
    if not out:
        raise BackendError(backend, "returned empty text")
    return out
