"""``describe(facts) -> Caption``: a one-paragraph, MusicCaps-style caption and a short tag line.

The built-in captioner (:func:`musicllm.language.builtin.caption`) writes only measured facts at usable
confidence (hedging the uncertain ones) and no claims about use, audience or recording quality.
Wording varies between recordings (templates chosen by a hash of the facts) and is identical for the
same facts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from musicllm.analysis.facts import MusicFacts


@dataclass
class Caption:
    """``text``: one paragraph; ``tags``: short tags ("folk", "violin", "fast tempo", "D major", "6/8");
    ``grounded_on``: the MusicFacts fields used."""

    text: str
    tags: list[str] = field(default_factory=list)
    grounded_on: list[str] = field(default_factory=list)
    backend: str = "builtin"

    @property
    def tagline(self) -> str:
        return ", ".join(self.tags)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "tags": list(self.tags), "tagline": self.tagline,
                "grounded_on": list(self.grounded_on), "backend": self.backend}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        return f"{self.text}\n{self.tagline}" if self.tags else self.text


def describe(facts: MusicFacts, backend: Any = None) -> Caption:
    """Caption a recording from its facts.

    ``backend``: ``None`` or ``"builtin"`` for the built-in captioner; an LLM
    :class:`~musicllm.language.backends.base.Backend` (or its spec string) writes the paragraph from the
    facts as JSON (:func:`~musicllm.language.grounding.grounded_messages`), and the tag line stays the
    built-in one (measured values only). Backend failures raise ``BackendError``, never a fallback.
    """
    from musicllm.language.builtin import caption

    text, tags, used = caption(facts)
    if backend not in (None, "builtin"):
        from musicllm.language.backends import resolve_backend
        from musicllm.language.grounding import grounded_messages

        llm = resolve_backend(backend)
        return Caption(text=llm.chat(grounded_messages(facts, "describe")), tags=tags,
                       grounded_on=["facts (given to the LLM as JSON)"], backend=llm.name)
    return Caption(text=text, tags=tags, grounded_on=used)
