"""musicllm: listen to music and talk about it, and write music from words.

Public API (imported lazily so that ``import musicllm`` stays fast):

- :func:`transcribe`: audio -> :class:`~musicllm.analysis.transcribe.Transcription` (a ``Score`` plus writers).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["transcribe", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "transcribe":
        from musicllm.analysis.transcribe import transcribe

        return transcribe
    raise AttributeError(name)
