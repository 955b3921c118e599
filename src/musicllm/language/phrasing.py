"""Varied but deterministic wording: choose among templates with a hash of a seed text.

The same seed (a question, or a recording's facts) always gives the same choices, so answers are
reproducible; different seeds spread over the templates, so answers do not all read alike.
``sha256`` (not Python's salted ``hash``) keeps choices stable across processes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

#: Words that mark a hedged statement (a confidence between USABLE and CONFIDENT).
HEDGE_WORDS = ("probably", "likely", "seems", "appears", "possibly")


class Phraser:
    """Deterministic template choice. Each :meth:`pick` call draws the next choice for this seed."""

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self._n = 0

    def pick(self, options: Sequence[str]) -> str:
        if not options:
            raise ValueError("no options to pick from")
        digest = hashlib.sha256(f"{self.seed}\x00{self._n}".encode()).digest()
        self._n += 1
        return options[int.from_bytes(digest[:8], "big") % len(options)]

    def cant_tell(self, what: str, why: str | None = None) -> str:
        """A plain "I can't tell the <what> ..." sentence (every variant contains "can't tell" or
        "cannot tell", which tests and the benchmark look for)."""
        reason = why or self.pick((
            "the analysis wasn't confident enough",
            "it wasn't measured reliably",
            "the measurement is too uncertain",
        ))
        return self.pick((
            f"I can't tell the {what} from this recording: {reason}.",
            f"I cannot tell the {what} here, because {reason}.",
            f"Sorry, I can't tell the {what}: {reason}.",
        ))


def join_list(items: Sequence[str], conj: str = "and") -> str:
    """``["a"]`` -> ``"a"``; ``["a", "b"]`` -> ``"a and b"``; ``["a", "b", "c"]`` -> ``"a, b and c"``."""
    items = [str(x) for x in items]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


def article(word: str) -> str:
    """``"a"`` or ``"an"`` for ``word`` (by its first letter; "an 8th" style exceptions are ignored)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def capitalize_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text
