"""answer() and describe() through a real LLM backend (a tiny random checkpoint): the chat is grounded
on the facts, the backend's reply is returned as is, and a failing backend is an error, not a fallback."""

from __future__ import annotations

import pytest
from musicfacts_samples import confident as _confident

from musicllm.language.answer import answer
from musicllm.language.backends import BackendError, get_backend
from musicllm.language.backends.transformers_backend import TransformersBackend
from musicllm.language.describe import describe
from musicllm.language.grounding import grounded_messages


def confident():
    """The confident sample with 8 chords: the tiny test model's byte-level tokenizer spends a token per
    character or two, and its context is 4,096 tokens."""
    f = _confident()
    f.chords = f.chords[:8]
    return f


class Recording(TransformersBackend):
    """The real transformers backend, keeping the messages it was sent (to check the grounding)."""

    sent: list

    def chat(self, messages, **kw):
        self.sent = list(messages)
        return super().chat(messages, **kw)


def test_answer_through_transformers_backend_is_grounded(tiny_chat_model):
    facts = confident()
    llm = Recording(str(tiny_chat_model))
    a = answer(facts, "What key is it in?", backend=llm)
    assert a.text.strip() and a.backend == llm.name
    assert llm.sent == grounded_messages(facts, "answer", "What key is it in?")
    assert facts.key.value in llm.sent[0]["content"] and "What key" in llm.sent[-1]["content"]
    again = answer(facts, "What key is it in?", backend=get_backend(f"transformers:{tiny_chat_model}"))
    assert again.text == a.text  # greedy decoding: deterministic


def test_describe_through_backend_keeps_measured_tagline(tiny_chat_model):
    facts = confident()
    builtin = describe(facts)
    cap = describe(facts, backend=f"transformers:{tiny_chat_model}")
    assert cap.text.strip() and cap.text != builtin.text
    assert cap.tags == builtin.tags


def test_failing_backend_raises_instead_of_falling_back():
    with pytest.raises(BackendError, match="openai:http://127.0.0.1:9/v1"):
        answer(confident(), "What is the tempo?", backend="openai:http://127.0.0.1:9/v1")
