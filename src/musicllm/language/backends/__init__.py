"""LLM backends chosen with ``--llm SPEC``.

Specs
-----
- ``builtin``: no LLM; :func:`get_backend` returns ``None`` and the caller uses the built-in writer.
- ``transformers:/path/to/checkpoint``: a local causal LM with a chat template, loaded with
  ``local_files_only=True`` (never the hub). Option: ``#device=cpu|cuda|cuda:1|auto`` (default cpu).
- ``openai:http://HOST:PORT/v1``: any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama,
  ``python -m musicllm.language.serve_openai``). Options: ``#model=NAME`` or ``?model=NAME`` (default:
  the first model the server lists at ``GET /models``). ``OPENAI_API_KEY``, if set, is sent as a bearer
  token.

Options after ``#`` are ``key=value`` pairs joined by ``&``. A bad spec raises a one-line
:class:`~musicllm.errors.MusicLLMError`; parsing is cheap (no model loading, no network), so a CLI can
check ``--llm`` before it starts long work. Nothing here falls back from one backend to another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from musicllm.errors import MusicLLMError
from musicllm.language.backends.base import Backend, BackendError

__all__ = ["Backend", "BackendError", "LLMSpec", "parse_llm_spec", "get_backend", "resolve_backend", "KINDS"]

KINDS = ("builtin", "transformers", "openai")
_OPTIONS = {"builtin": (), "transformers": ("device",), "openai": ("model",)}
_USAGE = "use builtin, transformers:/path/to/checkpoint or openai:http://HOST:PORT/v1[#model=NAME]"


@dataclass(frozen=True)
class LLMSpec:
    """A parsed ``--llm`` value. ``target`` is a checkpoint folder or an API base URL ('' for builtin)."""

    kind: str
    target: str = ""
    options: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """How errors name the backend: ``kind:target`` (options and query left out)."""
        return f"{self.kind}:{self.target}" if self.target else self.kind


def _bad(spec: str, why: str) -> MusicLLMError:
    return MusicLLMError(f"--llm {spec!r}: {why}; {_USAGE}")


def _options(spec: str, kind: str, fragment: str) -> dict[str, str]:
    opts: dict[str, str] = {}
    for part in filter(None, fragment.split("&")):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise _bad(spec, f"option {part!r} must be key=value")
        if key not in _OPTIONS[kind]:
            allowed = ", ".join(_OPTIONS[kind]) or "none"
            raise _bad(spec, f"unknown option {key!r} for {kind} (allowed: {allowed})")
        opts[key] = value
    return opts


def parse_llm_spec(spec: str) -> LLMSpec:
    """Parse and validate an ``--llm`` spec without loading anything (see the module docstring)."""
    raw = (spec or "").strip()
    if raw.lower() == "builtin":
        return LLMSpec("builtin")
    kind, sep, rest = raw.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in KINDS or kind == "builtin":
        raise _bad(spec, f"unknown LLM backend {kind or raw!r}" if raw else "empty spec")
    if kind == "transformers":
        path, _, fragment = rest.partition("#")
        path = path.strip()
        if not path:
            raise _bad(spec, "missing checkpoint folder after 'transformers:'")
        return LLMSpec(kind, str(Path(path).expanduser()), _options(spec, kind, fragment))
    url = urlsplit(rest.strip())
    if url.scheme not in ("http", "https") or not url.hostname:
        raise _bad(spec, "the server address must be an http:// or https:// URL with a host")
    try:
        url.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise _bad(spec, "bad port in the server address") from None
    opts = _options(spec, kind, url.fragment)
    query = parse_qsl(url.query, keep_blank_values=True)
    for key, value in query:
        if key == "model":
            if not value.strip():
                raise _bad(spec, "empty ?model=")
            opts.setdefault("model", value.strip())
    query = [(k, v) for k, v in query if k != "model"]
    base = urlunsplit((url.scheme, url.netloc, url.path.rstrip("/"), urlencode(query), ""))
    return LLMSpec(kind, base, opts)


def get_backend(spec: str | LLMSpec, *, device: str | None = None) -> Backend | None:
    """Build the backend for ``spec``; ``None`` for ``builtin``.

    ``device`` (transformers only) overrides a ``#device=`` option. A transformers checkpoint folder is
    checked and its tokenizer loaded here (cheap); the model weights load on the first call or on
    :meth:`Backend.check`. An HTTP backend does not touch the network until it is used or checked.
    """
    parsed = parse_llm_spec(spec) if isinstance(spec, str) else spec
    if parsed.kind == "builtin":
        return None
    if parsed.kind == "transformers":
        from musicllm.language.backends.transformers_backend import TransformersBackend

        return TransformersBackend(parsed.target, device=device or parsed.options.get("device", "cpu"))
    if parsed.kind == "openai":
        from musicllm.language.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(parsed.target, model=parsed.options.get("model"))
    raise MusicLLMError(f"unknown LLM backend {parsed.kind!r}; {_USAGE}")


def resolve_backend(backend: Backend | str | LLMSpec) -> Backend:
    """A ready :class:`Backend` from a backend object or a spec (``"builtin"`` is not an LLM: error)."""
    if isinstance(backend, Backend):
        return backend
    if not isinstance(backend, str | LLMSpec):
        raise MusicLLMError(f"{type(backend).__name__} is not a language backend (give a Backend or a spec)")
    built = get_backend(backend)
    if built is None:
        raise MusicLLMError("the built-in backend is not an LLM backend")
    return built
