"""``--llm`` spec parsing: cheap, strict, one-line errors."""

from __future__ import annotations

import pytest

from musicllm.errors import MusicLLMError
from musicllm.language.backends import get_backend, parse_llm_spec
from musicllm.language.backends.base import BackendError


def test_builtin_means_no_backend() -> None:
    assert parse_llm_spec(" Builtin ").kind == "builtin"
    assert get_backend("builtin") is None


def test_transformers_spec_keeps_the_path_and_device(tmp_path) -> None:
    spec = parse_llm_spec(f"transformers:{tmp_path}/ckpt#device=cuda:1")
    assert (spec.kind, spec.target, spec.options) == ("transformers", f"{tmp_path}/ckpt", {"device": "cuda:1"})
    assert spec.name == f"transformers:{tmp_path}/ckpt"


@pytest.mark.parametrize(("spec", "base", "model"), [
    ("openai:http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1", None),
    ("openai:http://127.0.0.1:8000/v1/#model=qwen2.5", "http://127.0.0.1:8000/v1", "qwen2.5"),
    ("openai:http://localhost:11434/v1?model=llama3:8b", "http://localhost:11434/v1", "llama3:8b"),
    ("OPENAI:https://api.example.org/v1?model=m&api-version=2024", "https://api.example.org/v1?api-version=2024", "m"),
])
def test_openai_spec_splits_base_and_model(spec: str, base: str, model: str | None) -> None:
    parsed = parse_llm_spec(spec)
    assert parsed.kind == "openai"
    assert parsed.target == base
    assert parsed.options.get("model") == model


def test_openai_backend_is_built_without_touching_the_network() -> None:
    backend = get_backend("openai:http://127.0.0.1:9/v1#model=x")
    assert backend is not None and backend.name == "openai:http://127.0.0.1:9/v1"


@pytest.mark.parametrize(("spec", "words"), [
    ("", "empty spec"),
    ("gpt4", "unknown LLM backend 'gpt4'"),
    ("llama:/models/x", "unknown LLM backend 'llama'"),
    ("transformers:", "missing checkpoint folder"),
    ("transformers:/m#dev=cuda", "unknown option 'dev'"),
    ("openai:localhost:8000", "http:// or https:// URL"),
    ("openai:ftp://host/v1", "http:// or https:// URL"),
    ("openai:http://host:99999/v1", "bad port"),
    ("openai:http://host/v1#model", "must be key=value"),
    ("openai:http://host/v1#device=cuda", "unknown option 'device' for openai"),
])
def test_bad_specs_give_one_line_errors(spec: str, words: str) -> None:
    with pytest.raises(MusicLLMError) as info:
        parse_llm_spec(spec)
    msg = str(info.value)
    assert words in msg and "\n" not in msg
    assert msg.startswith("--llm ") and "transformers:/path/to/checkpoint" in msg


def test_missing_checkpoint_folder_names_the_backend(tmp_path) -> None:
    with pytest.raises(BackendError, match=r"^LLM backend transformers:.*nope: no such checkpoint folder"):
        get_backend(f"transformers:{tmp_path}/nope")
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(BackendError, match="not a folder"):
        get_backend(f"transformers:{tmp_path}/weights.bin")
    with pytest.raises(BackendError, match=r"no config\.json"):
        get_backend(f"transformers:{tmp_path}")


def test_backend_error_is_one_line_and_picklable() -> None:
    import pickle

    exc = BackendError("openai:http://h/v1", "HTTP 500: boom\n  Traceback ...")
    assert str(exc) == "LLM backend openai:http://h/v1: HTTP 500: boom Traceback ..."
    again = pickle.loads(pickle.dumps(exc))
    assert (str(again), again.backend) == (str(exc), exc.backend)
