"""ABC 2.1 notation: the small public facade over :mod:`abc_read` and :mod:`abc_write`.

Times in the scores are quarter notes (exact ``Fraction``s) and seconds; see those modules.
"""

from __future__ import annotations

import os
from pathlib import Path

from musicllm.errors import NotationError
from musicllm.files import atomic_write_text
from musicllm.score.abc_read import read_abc, read_abc_with_warnings, split_tunes
from musicllm.score.abc_write import write_abc
from musicllm.score.model import Score

__all__ = ["read_abc", "read_abc_file", "read_abc_with_warnings", "split_tunes", "write_abc",
           "write_abc_file"]


def read_abc_file(path: str | os.PathLike, *, tune_index: int = 0, expand_repeats: bool = False) -> Score:
    """Read tune number ``tune_index`` (from 0) of an ABC file; errors name the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise NotationError(f"cannot read ABC file {p}: {exc.strerror or exc}") from exc
    try:
        return read_abc(text, tune_index=tune_index, expand_repeats=expand_repeats)
    except NotationError as exc:
        raise NotationError(f"{p}: {exc}") from exc


def write_abc_file(score: Score, path: str | os.PathLike, **options) -> Path:
    """Write the score as ABC to ``path`` atomically (options as for :func:`write_abc`)."""
    return atomic_write_text(path, write_abc(score, **options))
