"""musicllm: listen to music and talk about it, and write music from words.

Public API (imported lazily so that ``import musicllm`` stays fast):

- :func:`transcribe`: audio -> :class:`~musicllm.analysis.transcribe.Transcription` (a ``Score`` plus writers).
- :func:`analyze`: audio -> :class:`~musicllm.analysis.facts.MusicFacts` (tempo, beats, meter, key, chords,
  sections, loudness, tags, note summary; each with a confidence).
- :func:`describe`: MusicFacts -> :class:`~musicllm.language.describe.Caption` (built-in or an LLM backend).
- :func:`ask`: MusicFacts + question -> :class:`~musicllm.language.answer.Answer`.
- :func:`edit`: Score + instruction ("slower and in G minor") -> :class:`~musicllm.generation.edit.EditResult`.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["transcribe", "analyze", "describe", "ask", "edit", "__version__"]

_LAZY = {
    "transcribe": ("musicllm.analysis.transcribe", "transcribe"),
    "analyze": ("musicllm.analysis.analyze", "analyze"),
    "describe": ("musicllm.language.describe", "describe"),
    "ask": ("musicllm.language.answer", "answer"),
    "edit": ("musicllm.generation.edit", "apply_instruction"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(name)
