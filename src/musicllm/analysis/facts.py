"""``MusicFacts``: everything the program measured about one recording, each value with a confidence.

This is the hub that captions and answers are written from (``musicllm.language``): a statement about
a recording is only made when it can be traced to a field here. Conventions:

- times are seconds from the start of the input audio; durations in seconds;
- tempo is quarter notes per minute (``tempo_qpm``, also in 6/8), and ``beat_bpm`` is the felt beat
  (dotted quarter in compound meters, half note in cut time);
- pitches are MIDI numbers (60 = C4);
- loudness is in dB (see :mod:`musicllm.analysis.dynamics` for the reference level);
- chord labels use mir_eval's syntax restricted to major/minor triads and ``N`` (no chord): ``"C:maj"``,
  ``"A:min"``; ``readable_chord`` turns them into ``"C"``, ``"Am"``;
- every ``confidence`` is in [0, 1]; consumers treat values under :data:`CONFIDENT` as uncertain and say
  so, and values under :data:`USABLE` as unknown.

``MusicFacts.to_dict()`` is the JSON contract (``schema`` names its version); ``from_dict`` reads it back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA = "musicllm.facts/1"
CONFIDENT = 0.5  # at or above: stated plainly
USABLE = 0.25    # at or above: stated with a hedge ("probably"); below: not stated at all


@dataclass
class Measured:
    """One measured value and how sure the measurement is (0..1)."""

    value: Any
    confidence: float

    def usable(self) -> bool:
        return self.value is not None and self.confidence >= USABLE


@dataclass
class Span:
    """A labelled time span (a chord or a section): seconds, label, confidence 0..1."""

    start_s: float
    end_s: float
    label: str
    confidence: float


@dataclass
class Tag:
    """A tag from the tagger (instrument, genre, mood): the tag's probability as confidence."""

    name: str
    confidence: float


@dataclass
class NoteSummary:
    """Summary of the transcribed notes. Pitches are MIDI numbers; density in notes per second;
    polyphony = notes sounding at once (mean over time where anything sounds, and maximum);
    ``contour`` describes the top voice: "rising", "falling", "arch", "valley" or "level"."""

    n_notes: int
    lowest_pitch: int | None
    highest_pitch: int | None
    density_per_s: float
    mean_polyphony: float
    max_polyphony: int
    contour: str
    n_parts: int
    part_names: list[str] = field(default_factory=list)

    @property
    def range_semitones(self) -> int:
        if self.lowest_pitch is None or self.highest_pitch is None:
            return 0
        return self.highest_pitch - self.lowest_pitch


@dataclass
class Dynamics:
    """Loudness over time and its summary. ``curve_db`` is sampled every ``hop_s`` seconds from 0.
    ``level`` is one of very soft / soft / moderate / loud / very loud; ``trend`` one of
    crescendo / decrescendo / steady / varied."""

    mean_db: float
    range_db: float
    level: str
    trend: str
    hop_s: float
    curve_db: list[float]
    peaks_s: list[float] = field(default_factory=list)
    reference: str = "dBFS"
    confidence: float = 1.0


@dataclass
class MusicFacts:
    """What was measured about a recording. See the module docstring for units and conventions."""

    duration_s: float
    tempo_qpm: Measured
    beat_bpm: Measured
    meter: Measured
    key: Measured
    beats_s: list[float] = field(default_factory=list)
    downbeats_s: list[float] = field(default_factory=list)
    chords: list[Span] = field(default_factory=list)
    sections: list[Span] = field(default_factory=list)
    dynamics: Dynamics | None = None
    instruments: list[Tag] = field(default_factory=list)
    genres: list[Tag] = field(default_factory=list)
    moods: list[Tag] = field(default_factory=list)
    other_tags: list[Tag] = field(default_factory=list)
    notes: NoteSummary | None = None
    source: str | None = None
    analyzers: dict[str, str] = field(default_factory=dict)

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d = {"schema": SCHEMA, **d}
        if self.notes is not None:
            d["notes"]["range_semitones"] = self.notes.range_semitones
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d: dict) -> MusicFacts:
        d = dict(d)
        d.pop("schema", None)
        notes = d.pop("notes", None)
        if notes is not None:
            notes = dict(notes)
            notes.pop("range_semitones", None)
        dyn = d.pop("dynamics", None)
        return cls(
            duration_s=d["duration_s"],
            tempo_qpm=Measured(**d["tempo_qpm"]),
            beat_bpm=Measured(**d["beat_bpm"]),
            meter=Measured(**d["meter"]),
            key=Measured(**d["key"]),
            beats_s=list(d.get("beats_s", [])),
            downbeats_s=list(d.get("downbeats_s", [])),
            chords=[Span(**c) for c in d.get("chords", [])],
            sections=[Span(**s) for s in d.get("sections", [])],
            dynamics=Dynamics(**dyn) if dyn else None,
            instruments=[Tag(**t) for t in d.get("instruments", [])],
            genres=[Tag(**t) for t in d.get("genres", [])],
            moods=[Tag(**t) for t in d.get("moods", [])],
            other_tags=[Tag(**t) for t in d.get("other_tags", [])],
            notes=NoteSummary(**notes) if notes else None,
            source=d.get("source"),
            analyzers=dict(d.get("analyzers", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> MusicFacts:
        return cls.from_dict(json.loads(text))

    # -- convenient views ----------------------------------------------------------------------
    def chord_at(self, t_s: float) -> Span | None:
        for c in self.chords:
            if c.start_s <= t_s < c.end_s:
                return c
        return None

    def section_at(self, t_s: float) -> Span | None:
        for s in self.sections:
            if s.start_s <= t_s < s.end_s:
                return s
        return None


def readable_chord(label: str) -> str:
    """``"C:maj"`` -> ``"C"``, ``"A:min"`` -> ``"Am"``, ``"N"`` -> ``"no chord"``."""
    if label in ("N", "X", ""):
        return "no chord"
    root, _, quality = label.partition(":")
    return root + ("m" if quality.startswith("min") else "")


def pitch_name(midi: int) -> str:
    """MIDI number -> scientific pitch name with sharps (60 -> "C4")."""
    names = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]
    return f"{names[midi % 12]}{midi // 12 - 1}"


def format_time(t_s: float) -> str:
    """Seconds -> "m:ss" (or "h:mm:ss")."""
    t = int(round(t_s))
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_span(start_s: float, end_s: float) -> str:
    """A time span for prose: seconds with one decimal when it is shorter than 10 s ("4.8–5.3 s"),
    else m:ss–m:ss."""
    if end_s - start_s < 10.0:
        return f"{start_s:.1f}–{end_s:.1f} s"
    return f"{format_time(start_s)}–{format_time(end_s)}"
