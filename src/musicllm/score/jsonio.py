"""`Score` <-> JSON. The JSON layout is a contract read by outside evaluation code; keep its keys.

Top level::

    {
      "title": "...",
      "duration_s": 12.3456,          # seconds of the input audio (or of the score)
      "tempo_bpm": 120.0,             # quarter notes per minute (same value as "tempo_qpm")
      "tempo_qpm": 120.0,
      "beat_unit": "quarter",         # the unit of tempo_bpm
      "meter": "3/4",
      "key": "G major",               # always "<tonic> major" or "<tonic> minor"
      "key_mode": "G mixolydian",     # the key with its church mode, when the score has one
      "pickup_qn": 0.0,               # anacrusis before the first full bar, in quarter notes
      "beats": [0.0, 0.5, ...],       # seconds of the felt beats
      "downbeats": [0.0, 1.5, ...],   # seconds of the first beat of each bar
      "parts": [
        {"name": "Piano", "program": 0, "is_drum": false,
         "notes": [{"onset_s": 0.0, "offset_s": 0.5, "pitch": 60, "velocity": 80,
                    "onset_qn": 0.0, "offset_qn": 1.0}, ...]}
      ]
    }

Times in seconds are rounded to 4 decimals; ``onset_qn`` / ``offset_qn`` are floats (``null`` for an
unquantised note). When a score has no beat grid, ``beats`` / ``downbeats`` are implied by its tempo,
meter and pickup.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from musicllm.errors import NotationError
from musicllm.files import atomic_write_text
from musicllm.score.model import Key, Meter, Note, Part, Score

_CORE_KEYS = ("title", "duration_s", "tempo_bpm", "tempo_qpm", "beat_unit", "meter", "key", "key_mode",
              "pickup_qn", "beats", "downbeats", "parts")


def implied_beat_grid(score: Score, *, end_qn: Fraction | float | None = None,
                      qn_to_s: Callable[[Fraction], float] | None = None) -> tuple[list[float], list[float]]:
    """Beat and downbeat times (seconds) implied by the meter and pickup, up to ``end_qn``.

    Beats fall every ``meter.beat_qn`` quarter notes, aligned so that the first downbeat sits at
    ``score.pickup_qn``; downbeats every bar from there. ``qn_to_s`` maps quarter notes to seconds
    (default: the constant tempo ``score.tempo_qpm``); ``end_qn`` defaults to ``score.end_s`` in
    quarter notes at that tempo. Grid points at or after ``end_qn`` are left out.
    """
    sec_per_qn = 60.0 / float(score.tempo_qpm)
    if qn_to_s is None:
        def qn_to_s(qn: Fraction) -> float:
            return float(qn) * sec_per_qn
    if end_qn is None:
        end_qn = score.end_s / sec_per_qn
    end = Fraction(end_qn).limit_denominator(10**6) if not isinstance(end_qn, Fraction) else end_qn
    beat, bar = score.meter.beat_qn, score.meter.bar_qn
    pickup = Fraction(score.pickup_qn) % bar
    beats: list[float] = []
    qn = pickup - (pickup // beat) * beat
    while qn < end:
        beats.append(qn_to_s(qn))
        qn += beat
    downbeats: list[float] = []
    qn = pickup
    while qn < end:
        downbeats.append(qn_to_s(qn))
        qn += bar
    return beats, downbeats


def _r4(x: float) -> float:
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"not a finite time: {x!r}")
    return round(x, 4) + 0.0  # + 0.0 turns -0.0 into 0.0


def _qn_out(q: Fraction | None) -> float | None:
    return None if q is None else float(q)


def _qn_in(x: Any) -> Fraction | None:
    if x is None:
        return None
    if isinstance(x, str):
        return Fraction(x)
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"not a finite quarter-note position: {x!r}")
    f = Fraction(x).limit_denominator(960)
    if abs(float(f) - x) < 1e-7:
        return f
    return Fraction(x).limit_denominator(10**6)


def score_to_dict(score: Score, *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON-ready dict of ``score`` (see the module docstring); ``extra`` keys are added at the top
    level (they may not replace the contract's keys)."""
    if score.beat_times_s:
        beats, downbeats = list(score.beat_times_s), list(score.downbeat_times_s)
    else:
        beats, downbeats = implied_beat_grid(score)
    tempo = float(score.tempo_qpm)
    d: dict[str, Any] = {
        "title": score.title,
        "duration_s": _r4(score.end_s),
        "tempo_bpm": round(tempo, 4),
        "tempo_qpm": round(tempo, 4),
        "beat_unit": "quarter",
        "meter": str(score.meter),
        "key": str(score.key.simplified()),
        "key_mode": str(score.key),
        "pickup_qn": float(score.pickup_qn),
        "beats": [_r4(t) for t in beats],
        "downbeats": [_r4(t) for t in downbeats],
        "parts": [
            {
                "name": p.name,
                "program": int(p.program),
                "is_drum": bool(p.is_drum),
                "notes": [
                    {"onset_s": _r4(n.onset_s), "offset_s": _r4(n.offset_s), "pitch": int(n.pitch),
                     "velocity": int(n.velocity), "onset_qn": _qn_out(n.onset_qn),
                     "offset_qn": _qn_out(n.offset_qn)}
                    for n in p.sorted_notes()
                ],
            }
            for p in score.parts
        ],
    }
    for k, v in (extra or {}).items():
        if k in _CORE_KEYS:
            raise ValueError(f"extra key {k!r} would replace a key of the score JSON")
        d[k] = v
    return d


def score_to_json(score: Score, *, extra: dict[str, Any] | None = None, indent: int | None = 1) -> str:
    """The score as JSON text (see the module docstring)."""
    return json.dumps(score_to_dict(score, extra=extra), indent=indent, ensure_ascii=False, allow_nan=False)


def score_from_dict(d: dict[str, Any]) -> Score:
    """Rebuild a `Score` from :func:`score_to_dict`'s layout. Raises ``ValueError`` on a bad layout."""
    if not isinstance(d, dict):
        raise ValueError("the JSON top level is not an object")
    try:
        tempo = float(d.get("tempo_qpm", d.get("tempo_bpm", 120.0)))
        if not (math.isfinite(tempo) and tempo > 0):
            raise ValueError(f"bad tempo {tempo!r}")
        meter = Meter.parse(str(d.get("meter", "4/4")))
        key_text = d.get("key_mode") or d.get("key") or "C major"
        key = Key.parse(str(key_text))
        parts = []
        for i, pd in enumerate(d.get("parts", [])):
            notes = []
            for nd in pd.get("notes", []):
                notes.append(Note(
                    pitch=int(nd["pitch"]), onset_s=float(nd["onset_s"]), offset_s=float(nd["offset_s"]),
                    velocity=int(nd.get("velocity", 80)), onset_qn=_qn_in(nd.get("onset_qn")),
                    offset_qn=_qn_in(nd.get("offset_qn"))))
            parts.append(Part(name=str(pd.get("name", f"Part {i + 1}")), program=int(pd.get("program", 0)),
                              notes=notes, is_drum=bool(pd.get("is_drum", False))))
        duration = d.get("duration_s")
        return Score(
            parts=parts, tempo_qpm=tempo, meter=meter, key=key, title=str(d.get("title") or ""),
            beat_times_s=[float(t) for t in d.get("beats", [])],
            downbeat_times_s=[float(t) for t in d.get("downbeats", [])],
            pickup_qn=_qn_in(d.get("pickup_qn", 0)) or Fraction(0),
            duration_s=None if duration is None else float(duration),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"bad score layout ({type(exc).__name__}: {exc})") from None


def read_json(path: str | os.PathLike) -> Score:
    """Read a score JSON file written by :func:`write_json`."""
    path = Path(path)
    if not path.exists():
        raise NotationError(f"{path}: no such JSON file")
    if path.is_dir():
        raise NotationError(f"{path}: is a folder, not a JSON file")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotationError(f"{path}: not valid JSON ({exc})") from None
    try:
        return score_from_dict(d)
    except ValueError as exc:
        raise NotationError(f"{path}: not a score JSON file ({exc})") from None


def write_json(score: Score, path: str | os.PathLike, *, extra: dict[str, Any] | None = None) -> Path:
    """Write the score JSON (atomically) and return the path."""
    return atomic_write_text(path, score_to_json(score, extra=extra) + "\n")
