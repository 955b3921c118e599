"""``answer(facts, question) -> Answer``: a reply to a free-form question about a measured recording.

The built-in backend (the default, no LLM) recognises what is asked
(:mod:`musicllm.language.intents`: MiniLM sentence embeddings plus rules) and writes the reply from
the facts only (:mod:`musicllm.language.builtin`): measured values at usable confidence, hedged under
:data:`~musicllm.analysis.facts.CONFIDENT`, and a plain "I can't tell" for anything unmeasured or out
of scope (lyrics, artist, year...). The same question on the same facts always gets the same text.

``Answer.grounded_on`` lists the MusicFacts fields the text was written from (``"tempo_qpm"``,
``"key"``, ``"chords"``...); it is empty when nothing could be said.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from musicllm.analysis.facts import MusicFacts
from musicllm.errors import MusicLLMError
from musicllm.language.intents import Intent

MAX_QUESTION_CHARS = 1000


@dataclass
class Answer:
    """A reply: ``text``, the recognised ``intent`` and the fact fields it is ``grounded_on``."""

    text: str
    intent: Intent
    grounded_on: list[str] = field(default_factory=list)
    backend: str = "builtin"

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "intent": self.intent.to_dict(), "grounded_on": list(self.grounded_on),
                "backend": self.backend}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        return self.text


def answer(facts: MusicFacts, question: str, backend: Any = None) -> Answer:
    """Answer ``question`` about the recording described by ``facts``.

    ``backend``: ``None`` or ``"builtin"`` for the deterministic built-in answerer; an LLM
    :class:`~musicllm.language.backends.base.Backend` (or its spec string, ``"openai:http://..."``)
    writes the answer from the facts given as JSON (:func:`~musicllm.language.grounding.grounded_messages`);
    its failures raise :class:`~musicllm.language.backends.base.BackendError`, never a fallback.
    Raises :class:`~musicllm.errors.MusicLLMError` for an empty or over-long question.
    """
    q = " ".join(str(question or "").split())
    if not q:
        raise MusicLLMError("the question is empty")
    if len(q) > MAX_QUESTION_CHARS:
        raise MusicLLMError(f"the question is too long ({len(q)} characters, at most {MAX_QUESTION_CHARS})")
    from musicllm.language.intents import recognize

    intent = recognize(q, facts)
    if backend not in (None, "builtin"):
        from musicllm.language.backends import resolve_backend
        from musicllm.language.grounding import grounded_messages

        llm = resolve_backend(backend)
        text = llm.chat(grounded_messages(facts, "answer", q))
        return Answer(text=text, intent=intent, grounded_on=["facts (given to the LLM as JSON)"], backend=llm.name)
    from musicllm.language.builtin import answer_intent

    text, used = answer_intent(facts, intent, q)
    return Answer(text=text, intent=intent, grounded_on=used)
