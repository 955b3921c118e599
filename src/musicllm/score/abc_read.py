"""Read ABC 2.1 notation into a :class:`~musicllm.score.model.Score` (own parser, no music21).

Units and conventions:

- Pitches are MIDI numbers: ABC ``C`` is middle C (60), ``c`` is 72, ``C,`` is 48, ``c'`` is 84.
- Note times are quarter notes from the start of the tune, as exact ``Fraction``s (``onset_qn`` /
  ``offset_qn``); seconds (``onset_s`` / ``offset_s``) follow from the first tempo (``Q:``) of the tune,
  which is kept constant (default 120 quarter notes per minute).
- ABC lengths are multiples of the unit note length ``L:`` (a fraction of a whole note); one whole note
  is 4 quarter notes.

What is read: several tunes per file (``X:`` starts each; text outside tunes is skipped), header fields
``X T M L Q K V``, inline fields ``[K:..]`` ``[M:..]`` ``[L:..]`` ``[V:..]`` ``[Q:..]``, notes with
accidentals, octave marks and lengths, broken rhythm, chords, rests (``z x`` and multi-bar ``Z X``),
ties, tuplets ``(3`` / ``(p:q:r``, voice overlay ``&``, bar lines with repeats and endings (repeats are
expanded only with ``expand_repeats=True``), ``%%MIDI program`` / ``%%MIDI channel 10`` and ``name=`` on
``V:`` lines. Grace notes, decorations, slurs, chord symbols, annotations, lyrics and comments are
skipped. Accidentals last to the end of the bar for the same letter and octave (the ABC 2.1 rule); a
note tied over a bar line keeps its pitch. Ties join notes into one :class:`Note`.

Text that cannot be a tune (no ``K:`` field, nothing playable) raises
:class:`~musicllm.errors.NotationError`; every other oddity is skipped with a warning (see
:func:`read_abc_with_warnings`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from musicllm.errors import NotationError
from musicllm.score.model import Key, Meter, Note, Part, Score

__all__ = [
    "DEFAULT_TEMPO_QPM",
    "key_signature",
    "parse_key",
    "parse_meter",
    "read_abc",
    "read_abc_with_warnings",
    "split_tunes",
]

DEFAULT_TEMPO_QPM = 120.0
DEFAULT_VELOCITY = 80
MAX_TUNE_QN = Fraction(200_000)  # refuse tunes longer than this many quarter notes (absurd lengths)
_MAX_WARNINGS = 200

LETTERS = "CDEFGAB"
LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
MODE_INTERVALS = {
    "major": (0, 2, 4, 5, 7, 9, 11), "ionian": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10), "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11), "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "minor": (0, 2, 3, 5, 7, 8, 10), "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
}
_MODE_BY_PREFIX = {
    "maj": "major", "ion": "ionian", "dor": "dorian", "phr": "phrygian", "lyd": "lydian",
    "mix": "mixolydian", "min": "minor", "m": "minor", "aeo": "aeolian", "loc": "locrian",
}
_ACCIDENTAL_SEMITONES = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}

# ---------------------------------------------------------------------------------------------------
# Small field parsers (also used by the writer)
# ---------------------------------------------------------------------------------------------------


def _uncomment(text: str) -> str:
    """Drop a ``%`` comment (``\\%`` is a literal percent sign)."""
    return re.split(r"(?<!\\)%", text, maxsplit=1)[0].replace("\\%", "%")


def key_signature(tonic: str, mode: str) -> dict[str, int]:
    """Semitone alteration of each letter (``"C"``..``"B"``) under the key signature of ``tonic``/``mode``.

    Built from the spelled scale, so ``("F#", "major")`` gives E#, and a theoretical key such as
    ``("G#", "major")`` gives F double-sharp (+2). Unknown modes count as major.
    """
    letter = tonic[:1].upper()
    if letter not in LETTER_PC:
        return dict.fromkeys(LETTERS, 0)
    tonic_pc = LETTER_PC[letter] + sum({"#": 1, "b": -1}.get(ch, 0) for ch in tonic[1:])
    intervals = MODE_INTERVALS.get(mode, MODE_INTERVALS["major"])
    start = LETTERS.index(letter)
    alts = {}
    for i, step in enumerate(intervals):
        name = LETTERS[(start + i) % 7]
        alts[name] = (tonic_pc + step - LETTER_PC[name] + 6) % 12 - 6
    return alts


def parse_key(text: str) -> tuple[Key | None, dict[str, int] | None, list[str]]:
    """Parse the value of a ``K:`` field.

    Returns ``(key, alterations, warnings)``: ``key`` is ``None`` when the field names no tonic (e.g.
    ``K:clef=bass``: keep the current key); ``alterations`` maps letters to semitones and is ``None``
    with ``key``. ``K:none`` / ``K:HP`` give C major with no accidentals. Explicit accidentals after the
    key (``K:D =c``, ``K:C exp ^f``) modify (or with ``exp`` replace) the signature.
    """
    warnings: list[str] = []
    t = _uncomment(text).strip()
    key: Key | None = None
    alts: dict[str, int] | None = None
    rest = t
    m = re.match(r"(none|HP|Hp)\b", t)
    if m:
        key = Key("C", "major") if m.group(1) != "Hp" else Key("D", "major")
        alts = dict.fromkeys(LETTERS, 0)
        if m.group(1) == "Hp":
            alts.update(F=1, C=1)
        rest = t[m.end():]
    else:
        m = re.match(r"([A-Ga-g])([#b]?)(\s*)([A-Za-z]*)", t)
        if m:
            tonic = m.group(1).upper() + m.group(2)
            word = m.group(4).lower()
            after_tonic = t[len(m.group(1)) + len(m.group(2)):]
            if not word:
                mode, rest = "major", after_tonic
            elif word in MODE_INTERVALS:
                mode, rest = word, t[m.end():]
            elif word[:3] in _MODE_BY_PREFIX or word == "m":
                mode, rest = _MODE_BY_PREFIX[word[:3]], t[m.end():]
            else:
                # A clef or other word after a bare tonic ("G treble8", "D clef=bass"), or a bad mode.
                mode, rest = "major", after_tonic
                if not m.group(3) and t[m.end():m.end() + 1] != "=":
                    warnings.append(f"unknown mode in K:{text.strip()}; reading it as major")
            key = Key(tonic, mode)
        if key is not None:
            alts = key_signature(key.tonic, key.mode)
    # Explicit accidentals: "exp" starts from an empty signature.
    tokens = rest.split()
    if "exp" in (tok.lower() for tok in tokens):
        if key is None:
            key = Key("C", "major")
        alts = dict.fromkeys(LETTERS, 0)
    for acc, letter in re.findall(r"(?<![A-Za-z])(\^\^|__|\^|_|=)([A-Ga-g])(?![A-Za-z])", rest):
        if alts is None:
            continue
        alts[letter.upper()] = _ACCIDENTAL_SEMITONES[acc]
    if key is None and t and not re.match(r"\s*(clef|middle|transpose|octave|stafflines|[a-z]+=)", t) \
            and not re.match(r"(treble|bass|alto|tenor|perc|none)", t):
        warnings.append(f"no tonic in K:{text.strip()}")
    return key, alts, warnings


def parse_meter(text: str) -> Meter | None:
    """Parse the value of an ``M:`` field: ``6/8``, ``C``, ``C|``, ``2+3/8``, ``(2+2+3)/8``.

    Returns ``None`` for free meter (``M:none`` or empty). Raises ``ValueError`` when unreadable.
    """
    t = _uncomment(text).strip()
    if t.lower() in ("", "none"):
        return None
    if t in ("C", "c"):
        return Meter(4, 4)
    if t in ("C|", "c|"):
        return Meter(2, 2)
    m = re.fullmatch(r"\(?\s*(\d+(?:\s*\+\s*\d+)*)\s*\)?\s*/\s*(\d+)", t)
    if not m:
        # "4/4 3/4" alternatives or trailing junk: take the first meter.
        m = re.match(r"\(?\s*(\d+(?:\s*\+\s*\d+)*)\s*\)?\s*/\s*(\d+)", t)
    if not m:
        raise ValueError(f"not a meter: {text!r}")
    num = sum(int(x) for x in re.findall(r"\d+", m.group(1)))
    den = int(m.group(2))
    if not (0 < num <= 256 and 0 < den <= 256):
        raise ValueError(f"not a meter: {text!r}")
    return Meter(num, den)


def _parse_fraction(text: str) -> Fraction | None:
    m = re.fullmatch(r"\s*(\d{1,4})\s*(?:/\s*(\d{1,4}))?\s*", text)
    if not m:
        return None
    num, den = int(m.group(1)), int(m.group(2) or 1)
    if num == 0 or den == 0:
        return None
    return Fraction(num, den)


def _parse_tempo(text: str) -> tuple[Fraction | None, float] | None:
    """Parse a ``Q:`` value into ``(beat as a fraction of a whole note, beats per minute)``.

    The beat is ``None`` for the deprecated bare form ``Q:120`` (unit note lengths per minute) and for
    ``Q:C=120``. Returns ``None`` when there is no tempo in the field (``Q:"Allegro"``).
    """
    t = re.sub(r'"[^"]*"?', " ", _uncomment(text)).strip()
    if "=" in t:
        left, right = t.split("=", 1)
        m = re.match(r"\s*(\d+(?:\.\d+)?)", right)
        if not m:
            return None
        bpm = float(m.group(1))
        left = left.strip()
        if not left or re.fullmatch(r"[CL]\d*", left):
            beat = None
            if left[1:]:
                return (None, bpm * int(left[1:])) if int(left[1:]) > 0 else None
            return None, bpm
        total = Fraction(0)
        for part in left.split():
            f = _parse_fraction(part)
            if f is None:
                return None
            total += f
        beat = total if total > 0 else None
        return beat, bpm
    m = re.fullmatch(r"(\d+(?:\.\d+)?)", t)
    if m:
        return None, float(m.group(1))
    return None


def _parse_unit(text: str) -> Fraction | None:
    f = _parse_fraction(_uncomment(text))
    if f is None or f > 16 or f < Fraction(1, 1024):
        return None
    return f


def _default_unit(meter: Meter | None) -> Fraction:
    """ABC 2.1 default unit note length: 1/16 when the meter is below 3/4, else 1/8."""
    if meter is None:
        return Fraction(1, 8)
    return Fraction(1, 16) if Fraction(meter.numerator, meter.denominator) < Fraction(3, 4) else Fraction(1, 8)


# ---------------------------------------------------------------------------------------------------
# Splitting a file into tunes
# ---------------------------------------------------------------------------------------------------

_FIELD_LINE = re.compile(r"^([A-Za-z+]):(.*)$")
_MUSIC_CHARS = set("ABCDEFGabcdefgzxZXy0123456789/<>()[]-^_=,' \t|:.~{}&!+HLMOPSTuv\\`$*;#")


def _normalise(text: str) -> list[str]:
    text = text.replace("\ufeff", "").replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _looks_like_abc(line: str) -> bool:
    """True for field lines, comments and lines made of ABC music characters (not prose)."""
    s = line.strip()
    if not s:
        return False
    if s.startswith("%") or _FIELD_LINE.match(s) or s.startswith("[V:") or s.startswith("[K:"):
        return True
    bare = re.sub(r'"[^"]*"|![^!\s]*!|\+[^+\s]*\+|\{[^}]*\}|\[[A-Za-z]:[^\]]*\]', "", _uncomment(s))
    return all(ch in _MUSIC_CHARS for ch in bare)


def _tune_blocks(text: str) -> list[list[str]]:
    lines = _normalise(text)
    starts = [i for i, ln in enumerate(lines) if re.match(r"\s*X:", ln)]
    if not starts:
        return [lines]
    return [lines[a:b] for a, b in zip(starts, [*starts[1:], len(lines)], strict=True)]


def split_tunes(text: str) -> list[str]:
    """The tunes of an ABC file as separate texts (each starting with its ``X:`` line).

    A text with no ``X:`` line counts as one tune.
    """
    return ["\n".join(block) for block in _tune_blocks(text)]


# ---------------------------------------------------------------------------------------------------
# Parsed items (phase 1) and voices
# ---------------------------------------------------------------------------------------------------


@dataclass
class _Event:
    """A note, chord or rest: the cursor advances by ``dur`` quarter notes.

    ``notes`` holds ``[pitch, duration_qn, tied]`` lists (empty for a rest).
    """

    dur: Fraction
    notes: list[list]


@dataclass
class _Bar:
    """A bar line: its text (``|``, ``:|``, ``|:``...), ending numbers (``[2``) and the meter's bar."""

    text: str
    endings: tuple[int, ...]
    bar_qn: Fraction | None


@dataclass
class _Overlay:
    """The ``&`` voice overlay: go back to the start of the bar."""


@dataclass
class _Voice:
    vid: str
    name: str | None = None
    program: int | None = None
    is_drum: bool = False
    key: Key = field(default_factory=Key)
    alts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LETTERS, 0))
    meter: Meter | None = field(default_factory=Meter)
    unit: Fraction = Fraction(1, 8)
    items: list = field(default_factory=list)
    first_key: Key | None = None
    first_meter: Meter | None = None
    has_event: bool = False
    # Parsing state
    bar_accs: dict = field(default_factory=dict)      # (letter, octave) -> semitones, explicit in this bar
    tie_pitch: dict = field(default_factory=dict)     # (letter, octave) -> pitches of notes tied onwards
    tuplet_left: int = 0
    tuplet_factor: Fraction = Fraction(1)
    broken_next: Fraction = Fraction(1)
    last_event: _Event | None = None
    last_event_letters: list = field(default_factory=list)
    total_qn: Fraction = Fraction(0)


# ---------------------------------------------------------------------------------------------------
# The tune parser
# ---------------------------------------------------------------------------------------------------

_NOTE_RE = re.compile(r"(\^\^|__|\^|_|=)?([A-Ga-g])([,']*)")
_LEN_RE = re.compile(r"(\d*)(/*)(\d*)")
_BAR_RE = re.compile(r"(?:\[\||:*\|[\]|]*:*|:{2,})")
_BROKEN_RE = re.compile(r">{1,3}|<{1,3}")
_MULTIBAR_RE = re.compile(r"\d{0,5}")
_ENDING_RE = re.compile(r"\s*\[?(\d+(?:\s*[,-]\s*\d+)*)")
_INLINE_FIELD_RE = re.compile(r"\[([A-Za-z]):([^\]\n]*)\]")
_TUPLET_RE = re.compile(r"\((\d+)(?::(\d*))?(?::(\d*))?")
_DECORATION_LETTERS = set(".~HLMOPSTuvJRKNQUVWYIhijklmnopqrstw")


class _TuneParser:
    """Parses one tune's lines into per-voice items, then lays them out as notes."""

    def __init__(self, lines: list[str], *, expand_repeats: bool):
        self.lines = lines
        self.expand_repeats = expand_repeats
        self.warnings: list[str] = []
        self.title = ""
        self.tempo: tuple[Fraction | None, float, Fraction] | None = None  # (beat, bpm, unit then)
        self.voices: dict[str, _Voice] = {}
        self.header_program: int | None = None
        self.header_drum = False
        # Tune-wide defaults (header state).
        self.key = Key("C", "major")
        self.alts = dict.fromkeys(LETTERS, 0)
        self.meter: Meter | None = Meter(4, 4)
        self.unit: Fraction | None = None
        self.current: _Voice | None = None
        self.body_voice_seen = False
        self.line_no = 0

    # -- helpers -----------------------------------------------------------------------------------

    def warn(self, msg: str) -> None:
        if len(self.warnings) < _MAX_WARNINGS:
            self.warnings.append(f"line {self.line_no}: {msg}")

    def _new_voice(self, vid: str) -> _Voice:
        v = _Voice(vid=vid, key=self.key, alts=dict(self.alts), meter=self.meter,
                   unit=self.unit or _default_unit(self.meter), program=self.header_program,
                   is_drum=self.header_drum)
        self.voices[vid] = v
        return v

    def _voice(self) -> _Voice:
        if self.current is None:
            vid = next(iter(self.voices), "1")
            self.current = self.voices.get(vid) or self._new_voice(vid)
        return self.current

    # -- fields ------------------------------------------------------------------------------------

    def _voice_field(self, value: str, in_header: bool) -> None:
        value = _uncomment(value).strip()
        m = re.match(r"(\S+)(.*)$", value)
        if not m:
            self.warn("empty V: field")
            return
        vid, props = m.group(1), m.group(2)
        v = self.voices.get(vid) or self._new_voice(vid)
        nm = re.search(r'\b(?:name|nm)\s*=\s*(?:"([^"]*)"|(\S+))', props)
        if nm:
            v.name = (nm.group(1) if nm.group(1) is not None else nm.group(2)).strip() or v.name
        elif v.name is None:
            snm = re.search(r'\b(?:subname|snm)\s*=\s*(?:"([^"]*)"|(\S+))', props)
            if snm:
                v.name = (snm.group(1) if snm.group(1) is not None else snm.group(2)).strip() or None
        prog = re.search(r"\bmidi\s+program\s+(?:\d+\s+)?(\d+)", props, re.IGNORECASE)
        if prog:
            v.program = min(int(prog.group(1)), 127)
        if not in_header:
            self.body_voice_seen = True
        self.current = v

    def _midi_directive(self, text: str) -> None:
        """``%%MIDI program [channel] N`` and ``%%MIDI channel 10`` (also as ``I:MIDI ...``)."""
        m = re.match(r"\s*MIDI\s*=?\s*(\w+)\s*(.*)$", text, re.IGNORECASE)
        if not m:
            return
        cmd, args = m.group(1).lower(), re.findall(r"-?\d+", m.group(2))
        target = self.current
        if cmd == "program" and args:
            prog = int(args[-1])
            if not 0 <= prog <= 127:
                self.warn(f"MIDI program {prog} out of range")
                return
            if target is None:
                self.header_program = prog
                for v in self.voices.values():
                    if v.program is None:
                        v.program = prog
            else:
                target.program = prog
        elif cmd == "channel" and args:
            drum = int(args[0]) == 10
            if target is None:
                self.header_drum = drum
            else:
                target.is_drum = drum

    def _apply_field(self, letter: str, value: str, *, in_header: bool) -> None:
        """A field in the header, on its own body line or inline (``[K:G]``)."""
        if letter == "T":
            if not self.title and in_header:
                self.title = _uncomment(value).strip()
        elif letter == "K":
            key, alts, warns = parse_key(value)
            for w in warns:
                self.warn(w)
            if key is not None and alts is not None:
                if in_header or not self.body_voice_seen:
                    self.key, self.alts = key, dict(alts)
                if not in_header:
                    v = self._voice()
                    v.key, v.alts = key, dict(alts)
            clef_midi = re.search(r"\bclef\s*=\s*perc", value)
            if clef_midi and not in_header:
                self._voice().is_drum = True
        elif letter == "M":
            try:
                meter = parse_meter(value)
            except ValueError:
                self.warn(f"unreadable meter M:{value.strip()}")
                return
            if in_header or not self.body_voice_seen:
                self.meter = meter
            if not in_header:
                self._voice().meter = meter
        elif letter == "L":
            unit = _parse_unit(value)
            if unit is None:
                self.warn(f"unreadable unit note length L:{value.strip()}")
                return
            if in_header or not self.body_voice_seen:
                self.unit = unit
            if not in_header:
                self._voice().unit = unit
        elif letter == "Q":
            tempo = _parse_tempo(value)
            if tempo is not None and self.tempo is None:
                unit = self.unit if (in_header or self.current is None) else self._voice().unit
                self.tempo = (tempo[0], tempo[1], unit or Fraction(0))
        elif letter == "V":
            self._voice_field(value, in_header)
        elif letter == "I":
            self._midi_directive(value)

    # -- parsing -----------------------------------------------------------------------------------

    def parse(self) -> None:
        lines = self.lines
        i = 0
        # Header: up to and including the first K: line.
        found_key = False
        while i < len(lines):
            self.line_no = i + 1
            raw = lines[i]
            i += 1
            s = raw.strip()
            if s.startswith("%%"):
                self._midi_directive(s[2:])
                continue
            m = _FIELD_LINE.match(s)
            if not m:
                continue
            letter, value = m.group(1), m.group(2)
            self._apply_field(letter, value, in_header=True)
            if letter == "K":
                found_key = True
                break
        if not found_key:
            raise NotationError("ABC tune has no K: (key) field, so it has no music body")
        if self.unit is None:
            self.unit = _default_unit(self.meter)
        for v in self.voices.values():  # voices defined in the header take the final header state
            v.key, v.alts, v.meter = self.key, dict(self.alts), self.meter
            v.unit = self.unit
        self.current = None
        if self.tempo is not None and self.tempo[2] == 0:
            self.tempo = (self.tempo[0], self.tempo[1], self.unit)
        # Body.
        blank = False
        while i < len(lines):
            self.line_no = i + 1
            raw = lines[i]
            i += 1
            s = raw.strip()
            if not s or s.startswith("```"):
                blank = True
                continue
            if blank and not _looks_like_abc(s):
                break  # prose after the tune
            blank = False
            if s.startswith("%%"):
                self._midi_directive(s[2:])
                continue
            if s.startswith("%"):
                continue
            m = _FIELD_LINE.match(s)
            if m and not (m.group(1) in "abcdefg" or (m.group(1) in "ABCDEFG" and m.group(2)[:1] in "|:")):
                self._apply_field(m.group(1), m.group(2), in_header=False)
                continue
            self._music_line(raw)
        if self.tempo is not None and self.tempo[2] == 0:
            self.tempo = (self.tempo[0], self.tempo[1], self.unit)

    def _music_line(self, line: str) -> None:
        v = self._voice()
        s = line
        n = len(s)
        i = 0
        while i < n:
            c = s[i]
            if c in " \t`\\*$;":
                i += 1
            elif c == "%":
                break
            elif c == '"':
                j = s.find('"', i + 1)
                i = n if j < 0 else j + 1
            elif c in "!+":
                j = s.find(c, i + 1)
                if j > i and re.fullmatch(r"[^\s!+\"|]{0,40}", s[i + 1:j]):
                    i = j + 1
                else:
                    i += 1  # old-style line break "!" or a stray "+"
            elif c == "{":
                j = s.find("}", i + 1)
                i = n if j < 0 else j + 1
            elif c == "[":
                i = self._bracket(v, s, i)
                v = self._voice()
            elif c in "|:":
                i = self._bar(v, s, i)
            elif c == "]":
                i += 1
            elif c == "(":
                m = _TUPLET_RE.match(s, i)
                if m:
                    self._tuplet(v, m)
                    i = m.end()
                else:
                    i += 1  # slur
            elif c == ")":
                i += 1
            elif c == "-":
                self._tie_last(v)
                i += 1
            elif c in "<>":
                i += 1  # broken rhythm without a preceding note
            elif c == "&":
                v.items.append(_Overlay())
                v.tie_pitch = {}
                i += 1
            elif c in "^_=" or c in "ABCDEFGabcdefg":
                i = self._note(v, s, i)
            elif c in "zx":
                i = self._rest(v, s, i)
            elif c in "ZX":
                i = self._multibar_rest(v, s, i)
            elif c == "y":
                m = _LEN_RE.match(s, i + 1)
                i = m.end()
            elif c in _DECORATION_LETTERS:
                i += 1
            elif c.isdigit() or c in "/.,'#":
                i += 1
            else:
                self.warn(f"skipped unexpected character {c!r}")
                i += 1

    # -- tokens ------------------------------------------------------------------------------------

    def _length(self, s: str, i: int) -> tuple[Fraction, int]:
        """Parse a length multiplier at ``s[i:]``: ``2``, ``/2``, ``/``, ``//``, ``3/2``, ``3/``."""
        m = _LEN_RE.match(s, i)
        d1, slashes, d2 = m.groups()
        if len(d1) > 5 or len(d2) > 5 or len(slashes) > 6:
            self.warn(f"absurd note length {m.group(0)!r}; using 1")
            return Fraction(1), m.end()
        num = int(d1) if d1 else 1
        if slashes:
            den = int(d2) * 2 ** (len(slashes) - 1) if d2 else 2 ** len(slashes)
        else:
            den = 1
        if num == 0 or den == 0:
            if num == 0 and den != 0:
                return Fraction(0), m.end()
            self.warn(f"bad note length {m.group(0)!r}; using 1")
            return Fraction(1), m.end()
        return Fraction(num, den), m.end()

    def _pitch(self, v: _Voice, acc: str | None, letter: str, marks: str) -> tuple[int, tuple]:
        up = letter.upper()
        octave = (5 if letter.islower() else 4) + marks.count("'") - marks.count(",")
        slot = (up, octave)
        if acc:
            alt = _ACCIDENTAL_SEMITONES[acc]
            v.bar_accs[slot] = alt
        elif slot in v.bar_accs:
            alt = v.bar_accs[slot]
        else:
            alt = v.alts.get(up, 0)
        pitch = 12 * (octave + 1) + LETTER_PC[up] + alt
        tied = v.tie_pitch.get(slot)
        if not acc and slot not in v.bar_accs and tied and pitch not in tied and len(tied) == 1:
            pitch = next(iter(tied))  # a note tied over the bar line keeps its accidental
        return pitch, slot

    def _note(self, v: _Voice, s: str, i: int) -> int:
        m = _NOTE_RE.match(s, i)
        if not m:  # an accidental not followed by a letter
            self.warn(f"accidental {s[i]!r} without a note")
            return i + 1
        pitch, slot = self._pitch(v, m.group(1), m.group(2), m.group(3))
        length, j = self._length(s, m.end())
        tie = False
        if j < len(s) and s[j] == "-":
            tie, j = True, j + 1
        note = [pitch, length, tie, slot]
        return self._event(v, [note], length, s, j)

    def _rest(self, v: _Voice, s: str, i: int) -> int:
        length, j = self._length(s, i + 1)
        return self._event(v, [], length, s, j)

    def _multibar_rest(self, v: _Voice, s: str, i: int) -> int:
        m = _MULTIBAR_RE.match(s, i + 1)
        bars = int(m.group(0)) if m.group(0) else 1
        bar_qn = v.meter.bar_qn if v.meter is not None else Fraction(4)
        dur = bar_qn * bars
        self._commit(v, _Event(dur, []), [])
        return m.end()

    def _chord(self, v: _Voice, s: str, i: int) -> int:
        """``[CEG]2``, ``[C2E2G2]``, ``[C-E-G-]``: ``s[i]`` is the ``[``."""
        n = len(s)
        j = i + 1
        notes: list[list] = []
        while j < n and s[j] != "]":
            c = s[j]
            if c == '"':
                k = s.find('"', j + 1)
                j = n if k < 0 else k + 1
            elif c == "!" or c == "+":
                k = s.find(c, j + 1)
                j = k + 1 if k > j and "]" not in s[j:k] else j + 1
            elif c in "^_=" or c in "ABCDEFGabcdefg":
                m = _NOTE_RE.match(s, j)
                if not m:
                    j += 1
                    continue
                pitch, slot = self._pitch(v, m.group(1), m.group(2), m.group(3))
                length, j = self._length(s, m.end())
                tie = False
                if j < n and s[j] == "-":
                    tie, j = True, j + 1
                notes.append([pitch, length, tie, slot])
            elif c in "|[%":
                break
            else:
                j += 1
        if j < n and s[j] == "]":
            j += 1
        else:
            self.warn("chord without a closing ]")
        outer, j = self._length(s, j)
        if j < n and s[j] == "-":
            for nt in notes:
                nt[2] = True
            j += 1
        if not notes:
            return j
        for nt in notes:
            nt[1] = nt[1] * outer
        return self._event(v, notes, notes[0][1], s, j)

    def _event(self, v: _Voice, notes: list[list], length: Fraction, s: str, j: int) -> int:
        """Finish a note/chord/rest of ``length`` units: tuplets, broken rhythm, then commit."""
        factor = v.broken_next
        v.broken_next = Fraction(1)
        if v.tuplet_left > 0:
            factor *= v.tuplet_factor
            v.tuplet_left -= 1
        k = j
        while k < len(s) and s[k] in " \t()" and not (s[k] == "(" and s[k + 1:k + 2].isdigit()):
            k += 1  # "a (<f": slurs between a note and its broken-rhythm sign
        m = _BROKEN_RE.match(s, k)
        if m:
            depth = len(m.group(0))
            short = Fraction(1, 2 ** depth)
            if m.group(0)[0] == ">":
                factor *= 2 - short
                v.broken_next = short
            else:
                factor *= short
                v.broken_next = 2 - short
            j = m.end()
        scale = v.unit * 4 * factor  # units -> quarter notes
        for nt in notes:
            nt[1] = nt[1] * scale
        self._commit(v, _Event(length * scale, [nt[:3] for nt in notes]), notes)
        return j

    def _commit(self, v: _Voice, ev: _Event, notes: list[list]) -> None:
        if not v.has_event:
            v.has_event = True
            v.first_key, v.first_meter = v.key, v.meter
        v.total_qn += ev.dur
        if v.total_qn > MAX_TUNE_QN:
            raise NotationError(f"ABC tune is absurdly long (over {MAX_TUNE_QN} quarter notes)")
        v.items.append(ev)
        v.last_event = ev
        v.last_event_letters = [nt[3] for nt in notes]
        v.tie_pitch = {}
        for nt in notes:
            if nt[2]:
                v.tie_pitch.setdefault(nt[3], set()).add(nt[0])

    def _tie_last(self, v: _Voice) -> None:
        ev = v.last_event
        if ev is None or not ev.notes:
            return
        for nt, slot in zip(ev.notes, v.last_event_letters, strict=False):
            nt[2] = True
            v.tie_pitch.setdefault(slot, set()).add(nt[0])

    def _tuplet(self, v: _Voice, m: re.Match) -> None:
        p = int(m.group(1)[:3])
        if p < 2:
            self.warn(f"ignored tuplet ({m.group(1)}")
            return
        q_txt, r_txt = m.group(2), m.group(3)
        if q_txt:
            q = int(q_txt[:3])
        elif p in (2, 4, 8):
            q = 3
        elif p in (3, 6):
            q = 2
        else:  # 5, 7, 9...: 3 in compound time, else 2
            q = 3 if (v.meter is not None and v.meter.is_compound) else 2
        r = int(r_txt[:3]) if r_txt else p
        if q <= 0 or r <= 0:
            self.warn("ignored malformed tuplet")
            return
        v.tuplet_factor = Fraction(q, p)
        v.tuplet_left = r

    def _bracket(self, v: _Voice, s: str, i: int) -> int:
        """``[`` starts an inline field, an ending (``[1``), a bar line (``[|``) or a chord."""
        m = _INLINE_FIELD_RE.match(s, i)
        if m:
            self._apply_field(m.group(1), m.group(2), in_header=False)
            return m.end()
        if s.startswith("[|", i):
            return self._bar(v, s, i)
        m = _ENDING_RE.match(s, i + 1)
        if i + 1 < len(s) and s[i + 1].isdigit() and m:
            self._ending(v, m.group(1))
            return m.end()
        return self._chord(v, s, i)

    def _ending(self, v: _Voice, text: str) -> None:
        nums: list[int] = []
        for part in re.split(r"\s*,\s*", text):
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                nums.extend(range(a, min(b, a + 10) + 1))
            elif part.strip():
                nums.append(int(part))
        # Attach to the bar line just before, or add a marker.
        if v.items and isinstance(v.items[-1], _Bar) and not v.items[-1].endings:
            v.items[-1].endings = tuple(nums)
        else:
            v.items.append(_Bar("", tuple(nums), v.meter.bar_qn if v.meter else None))

    def _bar(self, v: _Voice, s: str, i: int) -> int:
        m = _BAR_RE.match(s, i)
        if not m or not m.group(0):
            return i + 1
        text = m.group(0)
        j = m.end()
        endings: tuple[int, ...] = ()
        e = re.compile(r"\[?(\d+(?:[,-]\d+)*)").match(s, j)
        if e and (text.endswith("|") or e.group(0).startswith("[")):
            v.items.append(_Bar(text, (), v.meter.bar_qn if v.meter else None))
            self._ending(v, e.group(1))
            j = e.end()
        else:
            v.items.append(_Bar(text, endings, v.meter.bar_qn if v.meter else None))
        v.bar_accs = {}
        return j

    # -- layout ------------------------------------------------------------------------------------

    def _expand(self, items: list) -> list:
        """Play ``|: ... :|`` sections twice, taking first/second endings on each pass.

        A ``:|`` with no ``|:`` before it repeats from the start (or from the previous ``:|``).
        """
        out: list = []
        i, start, pass_no, skipping = 0, 0, 1, False
        jumped: set[int] = set()
        limit = 4 * len(items) + 1000
        while i < len(items):
            if len(out) > limit:
                self.warn("repeat expansion stopped (too many repeats)")
                break
            it = items[i]
            if not isinstance(it, _Bar):
                if not skipping:
                    out.append(it)
                i += 1
                continue
            ends = it.text.startswith(":")
            starts = it.text.endswith(":")
            if ends and i not in jumped:
                jumped.add(i)
                out.append(it)
                i, pass_no, skipping = start, 2, False
                continue
            if ends and not skipping:
                pass_no = 1  # a finished repeat without endings
            if it.endings:
                skipping = pass_no not in it.endings
            elif ends or starts or it.text in ("||", "|]", "[|"):
                skipping = False
            if starts:
                start, pass_no = i + 1, 1
            elif ends:
                start = i + 1
            if not skipping:
                out.append(it)
            i += 1
        return out

    def layout(self) -> Score:
        tempo_qpm = DEFAULT_TEMPO_QPM
        if self.tempo is not None:
            beat, bpm, unit = self.tempo
            whole = beat if beat is not None else (unit or self.unit or Fraction(1, 8))
            qpm = bpm * float(whole) * 4
            if 1 <= qpm <= 2000:
                tempo_qpm = qpm
            else:
                self.warn(f"ignored implausible tempo ({qpm:g} quarter notes per minute)")
        sec_per_qn = 60.0 / tempo_qpm
        voices = [v for v in self.voices.values() if any(isinstance(it, _Event) for it in v.items)]
        if not voices:
            raise NotationError("ABC tune has no notes or rests after its K: field")
        parts: list[Part] = []
        pickup = Fraction(0)
        for idx, v in enumerate(voices):
            items = self._expand(v.items) if self.expand_repeats else v.items
            notes, bars = self._lay_voice(v, items)
            for nt in notes:
                nt.onset_s = float(nt.onset_qn) * sec_per_qn
                nt.offset_s = float(nt.offset_qn) * sec_per_qn
            if v.name:
                name = v.name
            elif len(voices) == 1:
                name = self.title or "Melody"
            else:
                name = f"Voice {v.vid}"
            parts.append(Part(name=name, program=v.program if v.program is not None else 0,
                              notes=notes, is_drum=v.is_drum))
            if idx == 0:
                meter = v.first_meter
                if meter is not None and len(bars) > 1 and bars[0][0] == 0:
                    first = bars[0][1] - bars[0][0]
                    if 0 < first < meter.bar_qn:
                        pickup = first
        first = voices[0]
        meter = first.first_meter if first.has_event else self.meter
        key = first.first_key if first.has_event and first.first_key else self.key
        return Score(parts=parts, tempo_qpm=tempo_qpm, meter=meter or Meter(4, 4), key=key,
                     title=self.title, pickup_qn=pickup)

    def _lay_voice(self, v: _Voice, items: list) -> tuple[list[Note], list[tuple[Fraction, Fraction]]]:
        """Give the voice's items times; returns its notes and its bars as (start, end) in qn."""
        t = Fraction(0)
        bar_start = Fraction(0)
        overlay_return: Fraction | None = None
        pending: dict[int, Note] = {}
        notes: list[Note] = []
        bars: list[tuple[Fraction, Fraction]] = []
        bar_info: list[tuple[str, str, Fraction | None]] = []  # (open text, close text, bar_qn)
        open_text = "|"
        for it in items:
            if isinstance(it, _Event):
                if not it.notes:
                    pending = {}
                else:
                    new_pending: dict[int, Note] = {}
                    chord: dict[int, tuple[Fraction, bool]] = {}  # "[A2A2]": one note per pitch
                    for pitch, dur, tie in it.notes:
                        old = chord.get(pitch)
                        chord[pitch] = (max(dur, old[0]), tie or old[1]) if old else (dur, tie)
                    for pitch, (dur, tie) in chord.items():
                        if dur <= 0 or not 0 <= pitch <= 127:
                            if not 0 <= pitch <= 127:
                                self.warn(f"pitch {pitch} out of MIDI range skipped")
                            continue
                        nt = pending.get(pitch)
                        if nt is not None and nt.offset_qn == t:
                            nt.offset_qn = t + dur
                        else:
                            nt = Note(pitch=pitch, onset_s=0.0, offset_s=0.0, velocity=DEFAULT_VELOCITY,
                                      onset_qn=t, offset_qn=t + dur)
                            notes.append(nt)
                        if tie:
                            new_pending[pitch] = nt
                    pending = new_pending
                t += it.dur
            elif isinstance(it, _Bar):
                if not it.text:
                    continue  # an ending mark ("[2") with no bar line of its own
                if overlay_return is not None:
                    t, overlay_return = overlay_return, None
                if t > bar_start:
                    bars.append((bar_start, t))
                    bar_info.append((open_text, it.text, it.bar_qn))
                bar_start = t
                open_text = it.text + ("e" if it.endings else "")
            elif isinstance(it, _Overlay):
                overlay_return = t if overlay_return is None else overlay_return
                t = bar_start
                pending = {}
        if overlay_return is not None:
            t = overlay_return
        if t > bar_start:
            bars.append((bar_start, t))
            bar_info.append((open_text, "|]", v.meter.bar_qn if v.meter else None))
        # Bar length warnings for plain inner bars.
        for k in range(1, len(bars) - 1):
            start, end = bars[k]
            opened, closed, want = bar_info[k]
            if want is None or end - start == want:
                continue
            if opened != "|" or closed != "|":
                continue  # bars at repeats and endings are often partial
            self.warn(f"voice {v.vid} bar {k + 1} lasts {end - start} quarter notes, the meter wants {want}")
        notes.sort(key=lambda n: (n.onset_qn, n.pitch))
        return notes, bars


def read_abc_with_warnings(text: str, *, tune_index: int = 0,
                           expand_repeats: bool = False) -> tuple[Score, list[str]]:
    """Like :func:`read_abc`, also returning the list of things skipped or doubted (one line each)."""
    if not isinstance(text, str):
        raise NotationError("ABC input must be text")
    blocks = _tune_blocks(text)
    if not -len(blocks) <= tune_index < len(blocks):
        raise NotationError(f"ABC text has {len(blocks)} tune(s); there is no tune number {tune_index}")
    parser = _TuneParser(blocks[tune_index], expand_repeats=expand_repeats)
    try:
        parser.parse()
        score = parser.layout()
    except NotationError:
        raise
    except Exception as exc:  # defensive: bad text must only ever give NotationError
        raise NotationError(f"unreadable ABC ({type(exc).__name__}: {exc})".splitlines()[0]) from exc
    return score, parser.warnings


def read_abc(text: str, *, tune_index: int = 0, expand_repeats: bool = False) -> Score:
    """Parse ABC text into a Score (tune number ``tune_index`` of the text, counting from 0).

    Notes get exact ``onset_qn``/``offset_qn`` Fractions and seconds from the tune's first tempo.
    Repeats are kept as written unless ``expand_repeats`` is true. Raises
    :class:`~musicllm.errors.NotationError` for text that holds no readable tune.
    """
    return read_abc_with_warnings(text, tune_index=tune_index, expand_repeats=expand_repeats)[0]
