"""Read and write scores by file extension: ABC, MIDI, MusicXML, JSON (and SVG sheets, write only)."""

from __future__ import annotations

import os
from pathlib import Path

from musicllm.errors import NotationError
from musicllm.score.model import Score

_ABC = (".abc",)
_MIDI = (".mid", ".midi")
_MUSICXML = (".musicxml", ".xml", ".mxl")
_JSON = (".json",)
_SVG = (".svg",)

#: Extensions :func:`read_score` understands.
READ_EXTENSIONS = _ABC + _MIDI + _MUSICXML + _JSON
#: Extensions :func:`write_score` understands.
WRITE_EXTENSIONS = READ_EXTENSIONS + _SVG


def _unsupported(path: Path, supported: tuple[str, ...], verb: str) -> NotationError:
    ext = f"'{path.suffix}'" if path.suffix else "no extension"
    return NotationError(f"{path}: cannot {verb} scores with {ext}; supported: {', '.join(supported)}")


def read_score(path: str | os.PathLike) -> Score:
    """Read a score file, choosing the reader by extension (.abc, .mid/.midi, .musicxml/.xml/.mxl, .json)."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in READ_EXTENSIONS:
        raise _unsupported(p, READ_EXTENSIONS, "read")
    if not p.exists():
        raise NotationError(f"{p}: no such file")
    if p.is_dir():
        raise NotationError(f"{p}: is a folder, not a score file")
    if ext in _ABC:
        from musicllm.score.abc import read_abc_file

        return read_abc_file(p)
    if ext in _MIDI:
        from musicllm.score.midi import read_midi

        return read_midi(p)
    if ext in _MUSICXML:
        from musicllm.score.musicxml import read_musicxml

        return read_musicxml(p)
    from musicllm.score.jsonio import read_json

    return read_json(p)


def write_score(score: Score, path: str | os.PathLike) -> Path:
    """Write ``score`` atomically in the format its extension names (.abc, .mid/.midi,
    .musicxml/.xml/.mxl, .json, .svg) and return the path."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in WRITE_EXTENSIONS:
        raise _unsupported(p, WRITE_EXTENSIONS, "write")
    if p.is_dir():
        raise NotationError(f"{p}: is a folder")
    if ext in _ABC:
        from musicllm.score.abc import write_abc_file

        return Path(write_abc_file(score, p) or p)
    if ext in _MIDI:
        from musicllm.score.midi import write_midi

        return write_midi(score, p)
    if ext in _MUSICXML:
        from musicllm.score.musicxml import write_musicxml

        return write_musicxml(score, p)
    if ext in _SVG:
        from musicllm.score.sheet import write_svg

        return write_svg(score, p)
    from musicllm.score.jsonio import write_json

    return write_json(score, p)
