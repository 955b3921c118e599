"""ABC-aware tokens for :mod:`musicllm.models.abc_lm`.

A tune is a sequence ``<bos> <origin:..> <T:..> <M:..> <L:..> <K:..> <bars:..> body... <eos>``.

Header (control) tokens, one per slot, in that order; ``?`` is the "not said" value of a slot:

- ``<origin:ryansMammoth>``: the collection (music21 corpus folder) or ``?``;
- ``<T:jig>``: tune type from the ``R:`` field or title, else inferred from the meter (6/8 jig, 9/8
  slip jig, 12/8 slide), else ``?``;
- ``<M:6/8>``: meter; ``<L:1/8>``: ABC unit note length (a fraction of a whole note);
- ``<K:Dmaj>``: tonic spelled as our ABC writer spells it, mode normalised to ``maj`` (major, ionian),
  ``min`` (minor, aeolian), ``dor``, ``phr``, ``lyd``, ``mix``, ``loc``;
- ``<bars:16>``: number of full bars (a pickup not counted), bucketed (see :data:`BAR_BUCKETS`).

Body tokens come from the *canonical* ABC of the tune, ``write_abc(read_abc(tune))`` restricted to its
first voice, which already removed decorations, grace notes, slurs, chord symbols, repeats (written out
once, not expanded), broken rhythms and line breaks:

- pitch: accidental + letter + octave marks, e.g. ``^f'``, ``=B,``, ``c``;
- ``z``: rest; ``[`` / ``]``: chord brackets; ``-``: tie; ``(3``: a triplet (other tuplets keep their
  ABC text, e.g. ``(5:4:5``); ``|``: bar line; ``|]``: final bar line;
- duration suffixes in units of ``L`` (``2``, ``3/2``, ``/2``, ``/4``...); a note without one lasts
  one unit (as in ABC), so most eighth notes in jigs and reels need no duration token.

Guitar chord symbols (``"Am"``) are dropped: our :class:`~musicllm.score.model.Score` does not carry
them (so the canonical form has none), they would lengthen sequences by a fifth, and rendering them
would need an accompaniment model. Spaces are dropped and re-inserted at beat boundaries on output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["SPECIALS", "HEADER_SLOTS", "BAR_BUCKETS", "MODE_CODES", "AbcVocab", "lex_body", "duration_text",
           "duration_value", "bars_bucket", "key_token", "header_tokens", "is_pitch", "pitch_midi"]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
HEADER_SLOTS = ("origin", "T", "M", "L", "K", "bars")
BAR_BUCKETS = (4, 8, 12, 16, 24, 32, 48, 64)
BODY_FIXED = ("z", "[", "]", "-", "|", "|]", "(3")
MODE_CODES = {"major": "maj", "ionian": "maj", "minor": "min", "aeolian": "min", "dorian": "dor",
              "phrygian": "phr", "lydian": "lyd", "mixolydian": "mix", "locrian": "loc"}
CODE_MODES = {"maj": "major", "min": "minor", "dor": "dorian", "phr": "phrygian", "lyd": "lydian",
              "mix": "mixolydian", "loc": "locrian"}
_METER_TYPES = {"6/8": "jig", "9/8": "slip jig", "12/8": "slide"}

_PITCH_RE = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])([,']*)")
_DUR_RE = re.compile(r"\d+/\d+|\d+|/+\d*")
_TUPLET_RE = re.compile(r"\(\d+(?::\d*(?::\d*)?)?")
_ACC = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def duration_value(text: str) -> Fraction:
    """Length in units of ``L`` of an ABC length suffix (``""`` -> 1, ``"/"`` -> 1/2, ``"3/2"``)."""
    if not text:
        return Fraction(1)
    if "/" not in text:
        return Fraction(int(text))
    num, _, den = text.partition("/")
    slashes = text.count("/")
    n = int(num) if num else 1
    if slashes > 1:
        return Fraction(n, 2 ** slashes)
    den = den.lstrip("/")
    return Fraction(n, int(den) if den else 2)


def duration_text(value: Fraction) -> str:
    """The canonical suffix for a length in units of ``L`` (``1`` -> ``""``, ``1/2`` -> ``"/2"``)."""
    value = Fraction(value)
    if value == 1:
        return ""
    if value.denominator == 1:
        return str(value.numerator)
    if value.numerator == 1:
        return f"/{value.denominator}"
    return f"{value.numerator}/{value.denominator}"


def is_pitch(token: str) -> bool:
    return bool(token) and _PITCH_RE.fullmatch(token) is not None


def pitch_midi(token: str, alts: dict[str, int]) -> int:
    """MIDI pitch of a pitch token under a key signature ``alts`` (letter -> semitones); explicit
    accidentals win (the canonical writer repeats them within a bar, so no carrying is needed)."""
    m = _PITCH_RE.fullmatch(token)
    if m is None:
        raise ValueError(f"not a pitch token: {token!r}")
    acc, letter, marks = m.groups()
    octave = 6 if letter.islower() else 5  # C = middle C = MIDI 60
    octave += marks.count("'") - marks.count(",")
    alt = _ACC[acc] if acc is not None else alts.get(letter.upper(), 0)
    return 12 * octave + _LETTER_PC[letter.upper()] + alt


def lex_body(body: str) -> list[str]:
    """Tokens of a canonical ABC body (one voice; spaces and newlines ignored).

    Raises ``ValueError`` on text outside the canonical vocabulary (decorations, chord symbols...).
    """
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c.isspace():
            i += 1
        elif body.startswith("|]", i):
            out.append("|]")
            i += 2
        elif c in "|:":
            while i < n and body[i] in "|:":
                i += 1
            out.append("|")
        elif c == "(":
            m = _TUPLET_RE.match(body, i)
            if not m:
                raise ValueError(f"unexpected '(' at {i}")
            text = m.group(0)
            out.append("(3" if text in ("(3", "(3:2:3", "(3:2") else text)
            i = m.end()
        elif c in "[]-":
            out.append(c)
            i += 1
        elif c in "zx":
            out.append("z")
            i += 1
            i = _duration(body, i, out)
        else:
            m = _PITCH_RE.match(body, i)
            if not m:
                raise ValueError(f"unexpected {c!r} at {i}")
            out.append(m.group(0))
            i = m.end()
            i = _duration(body, i, out)
        if out and out[-1] == "]":
            i = _duration(body, i, out)
    return out


def _duration(body: str, i: int, out: list[str]) -> int:
    m = _DUR_RE.match(body, i)
    if m:
        value = duration_value(m.group(0))
        if value != 1:
            out.append(duration_text(value))
        return m.end()
    return i


def bars_bucket(bars: int) -> int:
    """The smallest bucket of :data:`BAR_BUCKETS` holding ``bars`` (the largest one beyond)."""
    for b in BAR_BUCKETS:
        if bars <= b:
            return b
    return BAR_BUCKETS[-1]


def key_token(tonic: str, mode: str) -> str:
    return f"<K:{tonic}{MODE_CODES.get(mode, 'maj')}>"


def header_tokens(*, origin: str | None, tune_type: str | None, meter: str, unit: str, tonic: str, mode: str,
                  bars: int) -> list[str]:
    """The six control tokens of a tune (``None`` -> ``?``)."""
    ttype = tune_type or _METER_TYPES.get(meter)
    return [f"<origin:{origin or '?'}>", f"<T:{ttype or '?'}>", f"<M:{meter}>", f"<L:{unit}>",
            key_token(tonic, mode), f"<bars:{bars_bucket(bars)}>"]


@dataclass
class AbcVocab:
    """Token <-> id. Ids 0..3 are :data:`SPECIALS`."""

    tokens: list[str]

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, sequences: list[list[str]], min_count: int = 1) -> AbcVocab:
        from collections import Counter

        counts = Counter(t for seq in sequences for t in seq)
        extra = [f"<{slot}:?>" for slot in HEADER_SLOTS if slot not in ("M", "L", "K")]
        rest = sorted((t for t, c in counts.items() if c >= min_count and t not in SPECIALS), key=str)
        tokens = list(SPECIALS) + [t for t in BODY_FIXED if t not in SPECIALS]
        for t in extra + rest:
            if t not in tokens:
                tokens.append(t)
        return cls(tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: list[str]) -> list[int]:
        unk = self.index[UNK]
        return [self.index.get(t, unk) for t in tokens]

    def decode(self, ids: list[int]) -> list[str]:
        return [self.tokens[i] for i in ids]

    def slot_tokens(self, slot: str) -> list[str]:
        """All tokens of a header slot (``"M"`` -> ``["<M:2/4>", "<M:3/4>", ...]``)."""
        prefix = f"<{slot}:"
        return [t for t in self.tokens if t.startswith(prefix)]
