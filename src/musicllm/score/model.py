"""The symbolic score: `Note`, `Part`, `Score`, plus `Meter`, `Key` and `TimeMap`.

Conventions (every module in musicllm follows them):

- Pitch is a MIDI note number (60 = middle C = C4, 69 = A4 = 440 Hz).
- Every note carries two clocks:
  * ``onset_s`` / ``offset_s``: seconds from the start of the audio (or of the rendered MIDI);
  * ``onset_qn`` / ``offset_qn``: quarter notes from the start of the score, as exact ``Fraction``s, or
    ``None`` while a transcription has not been quantised yet. A "beat" in the sense of the musical
    meter is ``Meter.beat_qn`` quarter notes (1 in 4/4, 1.5 in 6/8, 0.5 in 2/8).
- Tempo is ``tempo_qpm``: quarter notes per minute, the MIDI convention, also in 6/8 (where the felt
  beat, a dotted quarter, runs at ``tempo_qpm / 1.5``).
- Velocity is the MIDI 1..127 scale.
- Parts carry a General MIDI program number (0..127, 0 = acoustic grand piano) and a display name.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction

PITCH_CLASS_NAMES_SHARP = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
PITCH_CLASS_NAMES_FLAT = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Mode name -> semitone offset of the mode's tonic above its relative major's tonic.
MODE_OFFSETS = {
    "major": 0, "ionian": 0, "dorian": 2, "phrygian": 4, "lydian": 5,
    "mixolydian": 7, "minor": 9, "aeolian": 9, "locrian": 11,
}
_MODE_ABBREV = {
    "": "major", "maj": "major", "ion": "ionian", "dor": "dorian", "phr": "phrygian", "lyd": "lydian",
    "mix": "mixolydian", "m": "minor", "min": "minor", "aeo": "aeolian", "loc": "locrian",
}
# Circle of fifths position of each major tonic spelling.
_MAJOR_FIFTHS = {
    "Cb": -7, "Gb": -6, "Db": -5, "Ab": -4, "Eb": -3, "Bb": -2, "F": -1, "C": 0, "G": 1, "D": 2,
    "A": 3, "E": 4, "B": 5, "F#": 6, "C#": 7,
}
_FIFTHS_MAJOR = {v: k for k, v in _MAJOR_FIFTHS.items()}


def pitch_class_of(name: str) -> int:
    """Pitch class (0..11) of a note name such as ``"F#"``, ``"Bb"``, ``"c"``."""
    name = name.strip()
    if not name or name[0].upper() not in _LETTER_PC:
        raise ValueError(f"not a note name: {name!r}")
    pc = _LETTER_PC[name[0].upper()]
    for ch in name[1:]:
        pc += {"#": 1, "b": -1}.get(ch, 0)
    return pc % 12


@dataclass(frozen=True)
class Meter:
    """A time signature such as 6/8. ``bar_qn`` and ``beat_qn`` are in quarter notes."""

    numerator: int = 4
    denominator: int = 4

    @classmethod
    def parse(cls, text: str) -> Meter:
        """Parse ``"3/4"``, ``"C"`` (4/4) or ``"C|"`` (2/2)."""
        t = text.strip()
        if t == "C":
            return cls(4, 4)
        if t == "C|":
            return cls(2, 2)
        m = re.fullmatch(r"(\d+)\s*/\s*(\d+)", t)
        if not m:
            raise ValueError(f"not a meter: {text!r}")
        num, den = int(m.group(1)), int(m.group(2))
        if num <= 0 or den <= 0:
            raise ValueError(f"not a meter: {text!r}")
        return cls(num, den)

    @property
    def is_compound(self) -> bool:
        """6/8, 9/8, 12/8 (and 6/16...): beats divide in three."""
        return self.numerator in (6, 9, 12) and self.denominator >= 8

    @property
    def bar_qn(self) -> Fraction:
        return Fraction(4 * self.numerator, self.denominator)

    @property
    def beat_qn(self) -> Fraction:
        """Length of the felt beat in quarter notes (a dotted quarter in 6/8)."""
        unit = Fraction(4, self.denominator)
        return unit * 3 if self.is_compound else unit

    @property
    def beats_per_bar(self) -> int:
        return self.numerator // 3 if self.is_compound else self.numerator

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


@dataclass(frozen=True)
class Key:
    """A key: tonic spelling (``"F#"``, ``"Bb"``) and mode (``"major"``, ``"minor"``, ``"dorian"``...)."""

    tonic: str = "C"
    mode: str = "major"

    @classmethod
    def parse(cls, text: str) -> Key:
        """Parse ``"G major"``, ``"E minor"``, ABC's ``"Em"``, ``"Ador"``, ``"Bbmix"``, ``"F# dorian"``."""
        t = text.strip()
        m = re.fullmatch(r"([A-Ga-g])([#b]?)\s*([A-Za-z]*)", t)
        if not m:
            raise ValueError(f"not a key: {text!r}")
        tonic = m.group(1).upper() + m.group(2)
        mode_word = m.group(3).lower()
        if mode_word in MODE_OFFSETS:
            mode = mode_word
        elif mode_word[:3] in _MODE_ABBREV and mode_word not in ("m",):
            mode = _MODE_ABBREV[mode_word[:3]]
        elif mode_word in _MODE_ABBREV:
            mode = _MODE_ABBREV[mode_word]
        else:
            raise ValueError(f"not a key: {text!r}")
        return cls(tonic, mode)

    @property
    def tonic_pc(self) -> int:
        return pitch_class_of(self.tonic)

    @property
    def fifths(self) -> int:
        """Key signature as a count of sharps (>0) or flats (<0), -7..7."""
        major_pc = (self.tonic_pc - MODE_OFFSETS[self.mode]) % 12
        # Choose the spelling of the relative major that matches the tonic's accidental style.
        candidates = [f for f, name in _FIFTHS_MAJOR.items() if pitch_class_of(name) == major_pc]
        if len(candidates) == 1:
            return candidates[0]
        flat_tonic = "b" in self.tonic
        sharp_tonic = "#" in self.tonic
        if flat_tonic:
            return min(candidates)
        if sharp_tonic:
            return max(candidates)
        return min(candidates, key=abs)

    @property
    def major_or_minor(self) -> str:
        """``"major"`` for major-third modes (ionian, lydian, mixolydian), else ``"minor"``."""
        return "major" if self.mode in ("major", "ionian", "lydian", "mixolydian") else "minor"

    def simplified(self) -> Key:
        """The same tonic as plain major or minor (A dorian -> A minor)."""
        return Key(self.tonic, self.major_or_minor)

    def __str__(self) -> str:
        return f"{self.tonic} {self.mode}"


@dataclass
class Note:
    """One note. Times in seconds and in quarter notes (see the module docstring)."""

    pitch: int
    onset_s: float
    offset_s: float
    velocity: int = 80
    onset_qn: Fraction | None = None
    offset_qn: Fraction | None = None

    @property
    def duration_s(self) -> float:
        return self.offset_s - self.onset_s

    @property
    def duration_qn(self) -> Fraction | None:
        if self.onset_qn is None or self.offset_qn is None:
            return None
        return self.offset_qn - self.onset_qn


@dataclass
class Part:
    """One voice / instrument: a name, a General MIDI program (0..127) and its notes."""

    name: str = "Part"
    program: int = 0
    notes: list[Note] = field(default_factory=list)
    is_drum: bool = False

    def sorted_notes(self) -> list[Note]:
        return sorted(self.notes, key=lambda n: (n.onset_s, n.pitch))


class TimeMap:
    """Piecewise-linear map between seconds and quarter notes, anchored at beat positions.

    ``anchors_s[i]`` is the time in seconds of quarter-note position ``anchors_qn[i]``. Outside the
    anchors it extrapolates with the tempo of the nearest segment.
    """

    def __init__(self, anchors_s: list[float], anchors_qn: list[float]):
        if len(anchors_s) != len(anchors_qn) or len(anchors_s) < 2:
            raise ValueError("a TimeMap needs at least two (seconds, quarter-note) anchors")
        self.anchors_s = [float(x) for x in anchors_s]
        self.anchors_qn = [float(x) for x in anchors_qn]

    @classmethod
    def constant(cls, tempo_qpm: float, start_s: float = 0.0) -> TimeMap:
        return cls([start_s, start_s + 60.0 / tempo_qpm], [0.0, 1.0])

    @staticmethod
    def _interp(x: float, xs: list[float], ys: list[float]) -> float:
        i = bisect.bisect_right(xs, x) - 1
        i = min(max(i, 0), len(xs) - 2)
        x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
        return y0 + (x - x0) * (y1 - y0) / (x1 - x0)

    def to_qn(self, t_s: float) -> float:
        return self._interp(t_s, self.anchors_s, self.anchors_qn)

    def to_s(self, qn: float) -> float:
        return self._interp(float(qn), self.anchors_qn, self.anchors_s)


@dataclass
class Score:
    """A piece: parts, tempo (quarter notes per minute), meter, key, title and a beat grid.

    ``beat_times_s`` are the felt beats (``meter.beat_qn`` apart) in seconds, as found in audio or
    implied by the tempo; ``downbeat_times_s`` the first beat of each bar. ``pickup_qn`` is the length
    of an anacrusis before the first full bar (0 when the piece starts on a downbeat).
    """

    parts: list[Part] = field(default_factory=list)
    tempo_qpm: float = 120.0
    meter: Meter = field(default_factory=Meter)
    key: Key = field(default_factory=Key)
    title: str = ""
    beat_times_s: list[float] = field(default_factory=list)
    downbeat_times_s: list[float] = field(default_factory=list)
    pickup_qn: Fraction = Fraction(0)
    duration_s: float | None = None

    def all_notes(self) -> list[Note]:
        return sorted((n for p in self.parts for n in p.notes), key=lambda n: (n.onset_s, n.pitch))

    @property
    def end_s(self) -> float:
        ends = [n.offset_s for p in self.parts for n in p.notes]
        return max(ends, default=0.0) if self.duration_s is None else self.duration_s

    def time_map(self) -> TimeMap:
        """Seconds <-> quarter notes, from the beat grid when there is one, else from the tempo."""
        if len(self.beat_times_s) >= 2:
            beat = float(self.meter.beat_qn)
            first_qn = 0.0
            if self.downbeat_times_s:
                # The first downbeat sits at quarter note `pickup_qn`.
                d0 = self.downbeat_times_s[0]
                idx = min(range(len(self.beat_times_s)), key=lambda i: abs(self.beat_times_s[i] - d0))
                first_qn = float(self.pickup_qn) - idx * beat
            qns = [first_qn + i * beat for i in range(len(self.beat_times_s))]
            return TimeMap(self.beat_times_s, qns)
        return TimeMap.constant(self.tempo_qpm)

    def with_seconds_from_qn(self) -> Score:
        """A copy whose note seconds are recomputed from quarter notes at the constant tempo."""
        sec_per_qn = 60.0 / self.tempo_qpm
        parts = [
            replace(p, notes=[
                replace(n, onset_s=float(n.onset_qn) * sec_per_qn, offset_s=float(n.offset_qn) * sec_per_qn)
                if n.onset_qn is not None and n.offset_qn is not None else replace(n)
                for n in p.notes
            ])
            for p in self.parts
        ]
        return replace(self, parts=parts)
