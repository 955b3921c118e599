"""The local transformers backend, on a tiny random Llama built from its config (no hub, no mocks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from musicllm.language.backends import get_backend
from musicllm.language.backends.base import BackendError
from musicllm.language.backends.transformers_backend import TransformersBackend
from musicllm.language.grounding import grounded_messages

MESSAGES = [{"role": "system", "content": "Answer only from the facts."},
            {"role": "user", "content": "What is the tempo?"}]
FACTS = {"tempo": {"bpm": 120.0, "confidence": 0.9}, "key": {"value": "A minor", "confidence": 0.4}}


@pytest.fixture(scope="module")
def backend(tiny_chat_model: Path) -> TransformersBackend:
    b = get_backend(f"transformers:{tiny_chat_model}")
    assert isinstance(b, TransformersBackend)
    return b


def test_greedy_reply_is_nonempty_and_deterministic(backend: TransformersBackend, tiny_chat_model: Path) -> None:
    first = backend.chat(MESSAGES, max_new_tokens=12)
    assert first and first == first.strip()
    assert backend.chat(MESSAGES, max_new_tokens=12) == first
    assert backend.name == f"transformers:{tiny_chat_model}"
    # a second, independently loaded copy of the checkpoint says the same
    assert TransformersBackend(tiny_chat_model).chat(MESSAGES, max_new_tokens=12) == first


def test_sampling_is_seeded(backend: TransformersBackend) -> None:
    a = backend.chat(MESSAGES, max_new_tokens=12, temperature=1.0, seed=1)
    assert a == backend.chat(MESSAGES, max_new_tokens=12, temperature=1.0, seed=1)
    assert a != backend.chat(MESSAGES, max_new_tokens=12, temperature=1.0, seed=2)


def test_grounded_prompt_goes_through(backend: TransformersBackend) -> None:
    for task, question in (("describe", None), ("answer", "Is it in a minor key?")):
        assert backend.chat(grounded_messages(FACTS, task, question), max_new_tokens=8)


def test_empty_reply_is_an_error(mute_chat_model: Path) -> None:
    mute = TransformersBackend(mute_chat_model)
    assert mute.generate_text(MESSAGES, max_new_tokens=6) == ""
    with pytest.raises(BackendError, match=r"^LLM backend transformers:.*: returned empty text$"):
        mute.chat(MESSAGES, max_new_tokens=6)


def test_timeout_is_an_error_not_a_truncated_reply(backend: TransformersBackend) -> None:
    with pytest.raises(BackendError, match=r"timed out after 0\.001s"):
        backend.chat(MESSAGES, max_new_tokens=400, timeout_s=0.001)


def test_prompt_longer_than_the_context_is_an_error(backend: TransformersBackend) -> None:
    long = [{"role": "user", "content": "tempo " * 5000}]
    with pytest.raises(BackendError, match=r"the prompt is \d+ tokens but the model's context is 4096"):
        backend.chat(long)


@pytest.mark.parametrize(("messages", "words"), [
    ([], "no messages"),
    ([{"role": "robot", "content": "hi"}], "message 0 must be"),
    ([{"role": "user", "content": None}], "message 0 must be"),
])
def test_bad_messages(backend: TransformersBackend, messages: list, words: str) -> None:
    with pytest.raises(BackendError, match=words):
        backend.chat(messages)


def test_bad_options(backend: TransformersBackend) -> None:
    with pytest.raises(BackendError, match="max_new_tokens"):
        backend.chat(MESSAGES, max_new_tokens=0)
    with pytest.raises(BackendError, match="temperature"):
        backend.chat(MESSAGES, temperature=-1)


def test_checkpoint_without_chat_template_is_rejected(tiny_chat_model: Path, tmp_path: Path) -> None:
    plain = shutil.copytree(tiny_chat_model, tmp_path / "base_model")
    (plain / "chat_template.jinja").unlink()
    with pytest.raises(BackendError, match="has no chat template"):
        TransformersBackend(plain)


def test_template_without_system_role_gets_it_folded_in(tiny_chat_model: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny_chat_model, tmp_path / "no_system")
    template = (copy / "chat_template.jinja").read_text()
    (copy / "chat_template.jinja").write_text(
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
        "{% endif %}" + template)
    b = TransformersBackend(copy)
    prompt = b.tokenizer.decode(b._encode(MESSAGES)["input_ids"][0])
    assert "<|system|>" not in prompt and "Answer only from the facts.\n\nWhat is the tempo?" in prompt
    assert b.chat(MESSAGES, max_new_tokens=4)


def test_broken_weights_are_a_one_line_error(tiny_chat_model: Path, tmp_path: Path) -> None:
    broken = shutil.copytree(tiny_chat_model, tmp_path / "broken")
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    b = TransformersBackend(broken)  # the tokenizer is fine; the weights load on check()/first use
    with pytest.raises(BackendError) as info:
        b.check()
    assert str(info.value).startswith(f"LLM backend transformers:{broken}: cannot load the model (")
    assert "\n" not in str(info.value)


def test_bad_device(tiny_chat_model: Path) -> None:
    import torch

    with pytest.raises(BackendError, match="bad device 'tpu'"):
        TransformersBackend(tiny_chat_model, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(BackendError, match="CUDA is not available"):
            get_backend(f"transformers:{tiny_chat_model}#device=cuda")
