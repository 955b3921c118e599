"""Free text -> :class:`Controls` (key, mode, meter, tempo, instruments, tune type, mood, length, ...).

Two stages, both deterministic:

1. **Rules** (regular expressions, see :mod:`musicllm.generation.control_words` for the vocabulary):
   keys ("in D", "D minor", "F sharp major", "Bb", ABC "Em" / "K:Ador"), modes ("minor", "dorian"),
   meters ("in 6/8", "waltz time", "cut time", "M:3/4"), tempos ("120 bpm", "90 qpm", "Q:3/8=116",
   "allegro", "slowly", "fast"), lengths ("16 bars", "eight-bar", "short"), instruments (General MIDI
   names and aliases, "fiddle" -> violin, ensembles such as "string quartet"), tune types (jig, slip
   jig, reel, hornpipe, waltz, polka, march, strathspey, air, chorale...), moods (happy, sad, calm...)
   and styles (irish, baroque...). Each rule consumes the words it matched.
2. **Embeddings** for the words left over (:mod:`musicllm.generation.control_embeddings`): each one is
   embedded alone with the shipped all-MiniLM-L6-v2 and given the nearest prototype word of a mood,
   tempo word, tune type or instrument when it is close enough; otherwise the word is *ignored*
   (reported in ``ParsedControls.ignored``). Filler words ("a", "tune", "please"...) are skipped
   silently.

How the findings combine:

- Tempo units: "N bpm" and tempo words are *felt beats* per minute (the dotted quarter in 6/8, the
  half note in 2/2); "N qpm" and ``Q:1/4=N`` are quarter notes per minute. ``Controls.tempo_qpm`` is
  always quarter notes per minute (``qpm = bpm * meter.beat_qn``; 4/4 when no meter is known), rounded
  so that the felt beat is a whole number per minute.
- Precedence: an explicit value wins over what a tune type implies, which wins over what a mood
  implies. A tune type brings its meter, usual tempo and ABC unit length; English tempo words scale a
  tune type's tempo ("a slow reel" = 0.8 x a reel's tempo), Italian terms are absolute. A mood brings
  a mode (happy/lively -> major, sad/dark -> minor) and a tempo factor (sad x0.8, lively x1.2).
- A tonic without a mode ("in D") takes the mode of the prompt's mode word or mood, else major; so "a
  sad tune in D" is D minor, while "a sad jig in D major" keeps D major (the mood's minor is reported
  in ``overrides``).
- *Conflicts* (``ParsedControls.conflicts``) are contradictions: two different keys, modes, meters,
  tempos, lengths or tune types; a meter a tune type is never written in ("a jig in 3/4"); a tempo
  number against a tempo word ("slow, 180 bpm"); opposite moods ("happy and sad"). The first value
  is kept. ``parse_prompt(..., strict=True)`` raises on them.
- Impossible values raise :class:`~musicllm.errors.MusicLLMError` at once: a meter whose denominator
  is not 1, 2, 4, 8, 16 or 32 or whose numerator is over 16 ("in 7/5"), a tempo outside 20..400
  beats per minute, a length outside 1..512 bars.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from musicllm.errors import MusicLLMError
from musicllm.generation.control_words import (
    ENSEMBLES,
    FILLER,
    INSTRUMENT_EXTRAS,
    LENGTH_WORDS,
    METER_WORDS,
    MOOD_WORDS,
    MOODS,
    NUMBER_WORDS,
    STYLE_WORDS,
    TEMPO_WORDS,
    TUNE_PATTERNS,
    TUNE_TYPES,
    UNSUPPORTED,
    TempoWord,
)
from musicllm.score.model import Key, Meter, pitch_class_of

__all__ = ["Controls", "ParsedControls", "TextScanner", "parse_controls", "parse_prompt", "parse_scanned",
           "normalise_text"]

MAX_METER_NUMERATOR = 16
METER_DENOMINATORS = (1, 2, 4, 8, 16, 32)
TEMPO_RANGE_BPM = (20.0, 400.0)
LENGTH_RANGE_BARS = (1, 512)
MOOD_CLASH_FACTOR = 0.3  # two moods whose tempo factors differ this much contradict ("lively" vs "calm")

_MODE_RE = r"(major|minor|maj|min|dorian|phrygian|lydian|mixolydian|aeolian|ionian|locrian)"
_ABC_MODE = {"m": "minor", "min": "minor", "maj": "major", "dor": "dorian", "phr": "phrygian", "lyd": "lydian",
             "mix": "mixolydian", "aeo": "aeolian", "loc": "locrian", "ion": "ionian"}
_ACC_RE = r"(?:[\s-]?(?:sharp|flat)\b|#|b(?![a-zA-Z#]))"
_NUM_WORD_RE = "|".join(sorted((re.escape(w) for w in NUMBER_WORDS if len(w) > 2), key=len, reverse=True))


# ---------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Controls:
    """What a prompt asks for. Every field is None (or empty) when the prompt does not say.

    ``key``: tonic and mode (the mode is major when only a tonic was given and nothing suggests one);
    ``mode``: the mode asked for (explicitly or by a mood), also without a tonic ("something minor");
    ``meter``; ``tempo_qpm``: quarter notes per minute; ``programs`` / ``instruments``: General MIDI
    programs and their GM names, in the order named; ``tune_type``: a key of
    :data:`~musicllm.generation.control_words.TUNE_TYPES`; ``mood``: canonical moods joined by ", ";
    ``length_bars``: bars; ``unit_length``: the ABC ``L:`` unit (a fraction of a whole note);
    ``style``: style / origin words joined by spaces ("irish", "baroque").
    """

    key: Key | None = None
    mode: str | None = None
    meter: Meter | None = None
    tempo_qpm: float | None = None
    programs: tuple[int, ...] = ()
    instruments: tuple[str, ...] = ()
    tune_type: str | None = None
    mood: str | None = None
    length_bars: int | None = None
    unit_length: Fraction | None = None
    style: str | None = None

    @property
    def program(self) -> int | None:
        """The first instrument's GM program (None when no instrument was named)."""
        return self.programs[0] if self.programs else None

    @property
    def instrument(self) -> str | None:
        """The first instrument's GM name."""
        return self.instruments[0] if self.instruments else None

    @property
    def tempo_bpm(self) -> float | None:
        """Felt beats per minute (``tempo_qpm / meter.beat_qn``, 4/4 when no meter)."""
        if self.tempo_qpm is None:
            return None
        return self.tempo_qpm / float((self.meter or Meter(4, 4)).beat_qn)

    def is_empty(self) -> bool:
        return all(getattr(self, f) in (None, ()) for f in self.__dataclass_fields__)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": str(self.key) if self.key else None, "mode": self.mode,
            "meter": str(self.meter) if self.meter else None, "tempo_qpm": self.tempo_qpm,
            "tempo_bpm": round(self.tempo_bpm, 2) if self.tempo_bpm is not None else None,
            "programs": list(self.programs), "instruments": list(self.instruments),
            "tune_type": self.tune_type, "mood": self.mood, "length_bars": self.length_bars,
            "unit_length": str(self.unit_length) if self.unit_length else None, "style": self.style,
        }


@dataclass
class ParsedControls:
    """The result of :func:`parse_controls`.

    ``conflicts``: contradictions (one line each; the first value was kept); ``overrides``: where an
    explicit value beat what a mood or tune type implied; ``ignored``: words not understood;
    ``evidence``: field -> the words that set it; ``sources``: field -> ``"rule"``, ``"tune type"``,
    ``"mood"`` or ``"embedding"``; ``mood_factor``: the moods' tempo factor (1.0 without a mood);
    ``tempo_factor``: the English tempo word's factor (None without one); ``tempo_number``: the explicit
    tempo as written, ``(value, "bpm" | "qpm")``; ``tempo_word``: ``(phrase, TempoWord)`` of the first
    tempo word. The last three let an editor re-read a tempo against a score's own meter and tempo.
    """

    text: str
    controls: Controls
    conflicts: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    evidence: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    mood_factor: float = 1.0
    tempo_factor: float | None = None
    tempo_number: tuple[float, str] | None = None
    tempo_word: tuple[str, TempoWord] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "controls": self.controls.to_dict(), "conflicts": list(self.conflicts),
                "overrides": list(self.overrides), "ignored": list(self.ignored),
                "evidence": dict(self.evidence), "sources": dict(self.sources)}

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)


# ---------------------------------------------------------------------------------------------------
# Scanning
# ---------------------------------------------------------------------------------------------------


def normalise_text(text: str) -> str:
    """NFKC, sharp/flat/quarter-note signs as ASCII (#, b, q), dashes as "-", single spaces."""
    t = unicodedata.normalize("NFKC", str(text))
    t = t.replace("♯", "#").replace("♭", "b").replace("\u2013", "-").replace("\u2014", "-").replace("♩", "q")
    return " ".join(t.split())


class TextScanner:
    """Regex matching over a text where each match consumes its characters (no overlaps)."""

    def __init__(self, text: str) -> None:
        self.text = text
        low = text.lower()
        self.low = low if len(low) == len(text) else text
        self.used = [False] * len(text)

    def finditer(self, pattern: str | re.Pattern, *, case: bool = False):
        """Matches of ``pattern`` (on the lower-case text unless ``case``) over unconsumed characters;
        each yielded match is consumed."""
        src = self.text if case else self.low
        for m in re.finditer(pattern, src):
            if m.end() > m.start() and not any(self.used[m.start():m.end()]):
                self.used[m.start():m.end()] = [True] * (m.end() - m.start())
                yield m

    def leftover_tokens(self) -> list[str]:
        out = []
        for m in re.finditer(r"[\w#'/.:=+-]+", self.low):
            if any(self.used[m.start():m.end()]):
                continue
            tok = m.group(0).strip(".'-:")
            if tok:
                out.append(tok)
        return out


@dataclass
class _Found:
    tonics: list[tuple[str, str]] = field(default_factory=list)          # (tonic, phrase)
    modes: list[tuple[str, str]] = field(default_factory=list)           # (mode, phrase)
    meters: list[tuple[Meter, str]] = field(default_factory=list)
    tempos: list[tuple[float, str, str]] = field(default_factory=list)   # (value, "bpm"|"qpm", phrase)
    tempo_words: list[tuple[TempoWord, str, str]] = field(default_factory=list)  # (word, phrase, source)
    lengths: list[tuple[int, str]] = field(default_factory=list)
    length_words: list[tuple[int, str]] = field(default_factory=list)
    programs: list[tuple[int, str, str]] = field(default_factory=list)  # (program, phrase, source)
    tunes: list[tuple[str, str, str]] = field(default_factory=list)     # (tune type, phrase, source)
    moods: list[tuple[str, str, str]] = field(default_factory=list)     # (mood, phrase, source)
    styles: list[str] = field(default_factory=list)
    units: list[tuple[Fraction, str]] = field(default_factory=list)


def _tonic(letter: str, acc: str | None) -> str:
    a = (acc or "").strip(" -").lower()
    return letter.upper() + {"sharp": "#", "#": "#", "flat": "b", "b": "b"}.get(a, "")


def _mode_name(word: str) -> str:
    w = word.lower()
    return {"maj": "major", "min": "minor"}.get(w, w)


def _check_meter(num: int, den: int, phrase: str) -> Meter:
    if den not in METER_DENOMINATORS or not 1 <= num <= MAX_METER_NUMERATOR:
        raise MusicLLMError(
            f"cannot use the meter {num}/{den} ({phrase!r}): the lower number must be 1, 2, 4, 8, 16 or 32 "
            f"and the upper one 1 to {MAX_METER_NUMERATOR}")
    return Meter(num, den)


def _check_tempo(value: float, unit: str, phrase: str) -> float:
    lo, hi = TEMPO_RANGE_BPM
    if not lo <= value <= hi:
        raise MusicLLMError(f"tempo {value:g} {unit} ({phrase!r}) is not playable: use {lo:g} to {hi:g}")
    return value


def _number(text: str) -> int:
    t = text.strip().lower()
    return int(t) if t.isdigit() else NUMBER_WORDS[t]


@functools.cache
def _instrument_vocab() -> dict[str, int]:
    """Lower-case name -> GM program: aliases, extras and General MIDI names (synth leads, pads,
    effects and sound effects left out)."""
    from musicllm.score.instruments import ALIASES, name_for

    vocab: dict[str, int] = {}
    for name, prog in {**ALIASES, **INSTRUMENT_EXTRAS}.items():
        vocab.setdefault(name, prog)
    for prog in list(range(0, 80)) + list(range(104, 120)):
        name = re.sub(r"\s*\(.*?\)|\s+\d$", "", name_for(prog).lower()).strip()
        vocab.setdefault(name, prog)
    return vocab


@functools.cache
def _alternation(phrases: tuple[str, ...], suffix: str = "") -> re.Pattern:
    """One compiled pattern matching any of ``phrases`` as whole words (longest first), the phrase
    itself in group ``w``; ``suffix`` (e.g. a plural ending) may follow it."""
    alts = "|".join(re.escape(p) for p in sorted(phrases, key=lambda p: (-len(p), p)))
    return re.compile(rf"\b(?P<w>{alts}){suffix}\b")


def _scan_rules(sc: TextScanner, f: _Found) -> None:
    """Apply every rule in order (specific before general); fills ``f``."""
    # ABC fields
    for m in sc.finditer(r"\bk:\s*([a-g])([#b]?)\s*([a-z]*)"):
        try:
            key = Key.parse(m.group(1) + m.group(2) + m.group(3))
        except ValueError:
            continue
        f.tonics.append((key.tonic, m.group(0)))
        if m.group(3):
            f.modes.append((key.mode, m.group(0)))
    for m in sc.finditer(r"\bm:\s*(c\||c\b|\d+\s*/\s*\d+)"):
        val = m.group(1).upper() if m.group(1).startswith("c") else m.group(1)
        if "/" in val:
            num, den = (int(x) for x in val.split("/"))
            f.meters.append((_check_meter(num, den, m.group(0)), m.group(0)))
        else:
            f.meters.append((Meter.parse(val), m.group(0)))
    for m in sc.finditer(r"\bl:\s*(1/\d+)"):
        f.units.append((Fraction(m.group(1)), m.group(0)))
    for m in sc.finditer(r"\bq:\s*(\d+)/(\d+)\s*=\s*(\d+(?:\.\d+)?)"):
        beat_qn = Fraction(4 * int(m.group(1)), int(m.group(2)))
        qpm = float(m.group(3)) * float(beat_qn)
        f.tempos.append((_check_tempo(qpm, "qpm", m.group(0)), "qpm", m.group(0)))
    for m in sc.finditer(r"\b(?:q:|q\s*=)\s*(\d+(?:\.\d+)?)"):
        f.tempos.append((_check_tempo(float(m.group(1)), "qpm", m.group(0)), "qpm", m.group(0)))
    # Meters named by words ("waltz time" before the tune type "waltz")
    for m in sc.finditer(_alternation(tuple(METER_WORDS))):
        f.meters.append((Meter.parse(METER_WORDS[m.group("w")]), m.group(0)))
    _scan_keys(sc, f)
    # Meters as fractions: "6/8", "in 3/4 time"; an impossible one in a meter context is an error
    for m in sc.finditer(r"(?:\b(?:in|to|into)\s+)?(?<![\w/.])(\d{1,2})\s*/\s*(\d{1,2})(?![\w/.])"
                         r"(?:\s+(?:time|meter|metre|signature)\b)?"):
        num, den = int(m.group(1)), int(m.group(2))
        context = m.group(0) != f"{m.group(1)}/{m.group(2)}"
        if context or den in METER_DENOMINATORS:
            f.meters.append((_check_meter(num, den, m.group(0).strip()), m.group(0).strip()))
        else:  # a bare fraction that cannot be a meter: leave it to the ignored words
            sc.used[m.start():m.end()] = [False] * (m.end() - m.start())
    # Tempos as numbers
    for m in sc.finditer(r"(\d{1,4}(?:\.\d+)?)\s*(?:bpm|b\.p\.m\.?|beats\s+(?:per|a)\s+minute)"):
        f.tempos.append((_check_tempo(float(m.group(1)), "bpm", m.group(0)), "bpm", m.group(0)))
    for m in sc.finditer(r"(\d{1,4}(?:\.\d+)?)\s*(?:qpm|quarter[\s-]notes?\s+(?:per|a)\s+minute|crotchets?\s+per\s+minute)"):
        f.tempos.append((_check_tempo(float(m.group(1)), "qpm", m.group(0)), "qpm", m.group(0)))
    for m in sc.finditer(r"\b(?:tempo|speed|metronome|mm|m\.m\.)\s*(?:of|=|:|at|to)?\s*(\d{1,4}(?:\.\d+)?)\b"
                         r"(?!\s*(?:bars?|measures?|%))"):
        f.tempos.append((_check_tempo(float(m.group(1)), "bpm", m.group(0)), "bpm", m.group(0)))
    for m in sc.finditer(r"\bat\s+(\d{2,3})\b(?!\s*(?:bars?|measures?|%|/|[a-z]))"):
        f.tempos.append((_check_tempo(float(m.group(1)), "bpm", m.group(0)), "bpm", m.group(0)))
    # Lengths
    for m in sc.finditer(rf"\b(\d{{1,4}}|{_NUM_WORD_RE})[\s-]*(?:bars?|measures?)\b(?:\s+long\b)?"):
        n = _number(m.group(1))
        lo, hi = LENGTH_RANGE_BARS
        if not lo <= n <= hi:
            raise MusicLLMError(f"a length of {n} bars ({m.group(0)!r}) is not possible: use {lo} to {hi} bars")
        f.lengths.append((n, m.group(0)))
    # "in the style of Bach", "romantic era"
    for m in sc.finditer(r"\bin\s+the\s+style\s+of\s+([a-z][\w.'-]*)"):
        f.styles.append(m.group(1))
    for m in sc.finditer(r"\b(romantic|classical|baroque)\s+(?:era|period)\b"):
        f.styles.append(m.group(1))
    # Tune types, ensembles, instruments
    for pattern, name in TUNE_PATTERNS:
        for m in sc.finditer(rf"\b{pattern}\b"):
            f.tunes.append((name, m.group(0), "rule"))
    for name, progs in ENSEMBLES.items():
        for m in sc.finditer(rf"\b{re.escape(name)}s?\b"):
            f.programs.extend((p, m.group(0), "rule") for p in progs)
    vocab = _instrument_vocab()
    for m in sc.finditer(_alternation(tuple(vocab), r"(?:s|es)?")):
        f.programs.append((vocab[m.group("w")], m.group(0), "rule"))
    # Tempo words, length words, moods, styles, then bare modes
    for m in sc.finditer(_alternation(tuple(TEMPO_WORDS))):
        f.tempo_words.append((TEMPO_WORDS[m.group("w")], m.group(0), "rule"))
    for m in sc.finditer(_alternation(tuple(LENGTH_WORDS))):
        f.length_words.append((LENGTH_WORDS[m.group("w")], m.group(0)))
    for m in sc.finditer(_alternation(tuple(MOOD_WORDS))):
        f.moods.append((MOOD_WORDS[m.group("w")], m.group(0), "rule"))
    for m in sc.finditer(_alternation(tuple(sorted(STYLE_WORDS)))):
        f.styles.append(m.group("w"))
    for m in sc.finditer(r"\b(major|minor|dorian|phrygian|lydian|mixolydian|aeolian|ionian|locrian)\b"):
        f.modes.append((m.group(1), m.group(0)))


def _scan_keys(sc: TextScanner, f: _Found) -> None:
    """Keys with and without modes (see the module docstring); a lower-case letter is a tonic only
    after "in", "to", "into" or "key of" (so the article in "a minor jig" is not A)."""
    def add(m: re.Match, letter: str, acc: str | None, mode: str | None) -> None:
        f.tonics.append((_tonic(letter, acc), m.group(0).strip()))
        if mode:
            f.modes.append((_mode_name(mode), m.group(0).strip()))

    lead = r"(?:\b(?:in|to|into|of)\s+(?:the\s+key\s+of\s+)?)"
    # "in a minor key" is a mode, not A minor
    for m in sc.finditer(rf"\bin\s+an?\s+{_MODE_RE}\s+(?:key|mode|tonality|scale)\b"):
        f.modes.append((_mode_name(m.group(1)), m.group(0)))
    # Capital tonic (+ accidental) + mode word: "D major", "F sharp minor", "Bb-major", "E dorian"
    for m in sc.finditer(rf"(?<![\w#])([A-G])({_ACC_RE})?[\s-]*(?i:{_MODE_RE})\b", case=True):
        add(m, m.group(1), m.group(2), m.group(3))
    # Lower-case tonic after a lead word: "in g minor", "to b flat major"
    for m in sc.finditer(rf"{lead}([a-g])({_ACC_RE})?[\s-]*{_MODE_RE}\b(?!\s+(?:key|mode|tonality|scale)\b)"):
        add(m, m.group(1), m.group(2), m.group(3))
    # ABC style: "Em", "F#m", "Bbmix", "Ador"
    for m in sc.finditer(r"(?<![\w/#])([A-G])([#b]?)(m|min|maj|dor|phr|lyd|mix|aeo|loc|ion)(?![\w/#])", case=True):
        add(m, m.group(1), m.group(2), _ABC_MODE[m.group(3)])
    # Tonic only after a lead word: "in D", "to Bb", "in the key of F#", "in d"
    for m in sc.finditer(rf"{lead}([A-Ga-g])({_ACC_RE})?(?![\w#/])", case=True):
        letter = m.group(1)
        if letter.islower():
            rest = sc.low[m.end():]
            if letter == "a" and not re.match(r"\s*(?:$|[,.;!?)]|and\b|with\b|at\b|for\b|please\b)", rest):
                for i in range(m.start(), m.end()):  # the article "a": give the characters back
                    sc.used[i] = False
                continue
        add(m, letter, m.group(2), None)
    # Tonic with an accidental on its own: "Bb", "F#", "F sharp"
    for m in sc.finditer(r"(?<![\w/#])([A-G])(#|b|[\s-](?:sharp|flat))(?![\w#/])", case=True):
        add(m, m.group(1), m.group(2), None)


# ---------------------------------------------------------------------------------------------------
# Embedding fallback
# ---------------------------------------------------------------------------------------------------

def _embed_leftovers(sc: TextScanner, f: _Found, use_embeddings: bool) -> list[str]:
    """Give leftover words to the embedding fallback; returns the words still not understood."""
    ignored: list[str] = []
    candidates: list[str] = []
    for tok in sc.leftover_tokens():
        if tok in FILLER or tok in ignored or tok in candidates:
            continue
        if tok in UNSUPPORTED:
            ignored.append(tok)
            continue
        if re.fullmatch(r"[a-z][a-z'-]{2,}", tok) and use_embeddings:
            candidates.append(tok)
        elif not re.fullmatch(r"[a-z]{1,2}", tok):
            ignored.append(tok)
    from musicllm.generation.control_embeddings import nearest_labels

    for word, (label, sim) in zip(candidates, nearest_labels(candidates), strict=True):
        if label is None:
            ignored.append(word)
            continue
        cat, value = label
        src = f"embedding {sim:.2f}"
        if cat == "mood":
            f.moods.append((value, word, src))
        elif cat == "tempo":
            f.tempo_words.append((TEMPO_WORDS[value], word, src))
        elif cat == "tune_type":
            f.tunes.append((value, word, src))
        else:
            f.programs.append((int(value), word, src))
    return ignored


# ---------------------------------------------------------------------------------------------------
# Combining the findings
# ---------------------------------------------------------------------------------------------------


def _first_distinct(items: list, key, what: str, conflicts: list[str], show=lambda x: repr(x)) -> Any:
    """The first item; a conflict line for every later item whose ``key`` differs."""
    if not items:
        return None
    first = items[0]
    seen = {key(first)}
    for it in items[1:]:
        if key(it) not in seen:
            seen.add(key(it))
            conflicts.append(f"two {what}: {show(first)} and {show(it)}")
    return first


def _plain_mode(mode: str) -> str:
    return {"ionian": "major", "aeolian": "minor"}.get(mode, mode)


def _round_tempo(qpm: float, meter: Meter) -> float:
    beat = float(meter.beat_qn)
    return round(max(1, round(qpm / beat)) * beat, 3)


def _combine(text: str, f: _Found, ignored: list[str]) -> ParsedControls:
    from musicllm.score.instruments import name_for

    conflicts: list[str] = []
    overrides: list[str] = []
    evidence: dict[str, str] = {}
    sources: dict[str, str] = {}

    def q(s: str) -> str:
        return f"'{s}'"

    # Moods
    mood_names: list[str] = []
    for mood, phrase, src in f.moods:
        if mood not in mood_names:
            mood_names.append(mood)
            evidence.setdefault("mood", "")
            evidence["mood"] = (evidence["mood"] + ", " if evidence["mood"] else "") + q(phrase)
            sources.setdefault("mood", "embedding" if src.startswith("embedding") else "rule")
    mood_clash = False
    for i, a in enumerate(mood_names):
        for b in mood_names[i + 1:]:
            ma, mb = MOODS[a], MOODS[b]
            if (ma.mode and mb.mode and ma.mode != mb.mode) or abs(ma.factor - mb.factor) >= MOOD_CLASH_FACTOR:
                conflicts.append(f"moods {q(a)} and {q(b)} contradict each other")
                mood_clash = True
    mood_factor = 1.0
    for name in mood_names[:1] if mood_clash else mood_names:
        mood_factor *= MOODS[name].factor
    mood_factor = min(max(mood_factor, 0.6), 1.5)
    mood_mode = next((MOODS[m].mode for m in mood_names if MOODS[m].mode), None)
    mood_label = mood_names[0] if mood_names else None

    # Key and mode
    tonic_hit = _first_distinct(f.tonics, lambda t: pitch_class_of(t[0]), "keys", conflicts, lambda t: q(t[1]))
    mode_hit = _first_distinct(f.modes, lambda t: _plain_mode(t[0]), "modes", conflicts, lambda t: q(t[1]))
    mode = None
    if mode_hit:
        mode = mode_hit[0]
        evidence["mode"], sources["mode"] = q(mode_hit[1]), "rule"
        if mood_mode and Key("C", mode).major_or_minor != mood_mode:
            overrides.append(f"the mood {q(mood_label)} suggests {mood_mode}; the explicit {q(mode_hit[1])} wins")
    elif mood_mode:
        mode = mood_mode
        evidence["mode"], sources["mode"] = f"mood {q(mood_label)}", "mood"
    key = None
    if tonic_hit:
        key = Key(tonic_hit[0], mode or "major")
        evidence["key"], sources["key"] = q(tonic_hit[1]), "rule"
        if mode and sources.get("mode") == "mood":
            evidence["key"] += f" + mode from mood {q(mood_label)}"

    # Tune type and meter
    tune_hit = _first_distinct(f.tunes, lambda t: t[0], "tune types", conflicts, lambda t: q(t[1]))
    tune = TUNE_TYPES[tune_hit[0]] if tune_hit else None
    if tune_hit:
        evidence["tune_type"] = q(tune_hit[1])
        sources["tune_type"] = "embedding" if tune_hit[2].startswith("embedding") else "rule"
    meter_hit = _first_distinct(f.meters, lambda t: t[0], "meters", conflicts, lambda t: q(t[1]))
    meter = None
    if meter_hit:
        meter = meter_hit[0]
        evidence["meter"], sources["meter"] = q(meter_hit[1]), "rule"
        if tune and tune.meters and str(meter) not in tune.meters:
            conflicts.append(f"the meter {meter} ({q(meter_hit[1])}) does not fit a {tune_hit[0]} "
                             f"({' or '.join(tune.meters)})")
    elif tune and tune.meters:
        meter = Meter.parse(tune.meters[0])
        evidence["meter"], sources["meter"] = f"tune type {q(tune_hit[1])}", "tune type"

    # Tempo
    beat = float((meter or Meter(4, 4)).beat_qn)
    tune_qpm = None
    if tune:  # the tune's tempo is in felt beats of its first meter; a compound <-> simple change counts
        home = Meter.parse(tune.meters[0]) if tune.meters else (meter or Meter(4, 4))
        used = meter if meter is not None and meter.is_compound != home.is_compound else home
        tune_qpm = tune.bpm * float(used.beat_qn)
    num_hit = _first_distinct(f.tempos, lambda t: round(t[0] * (beat if t[1] == "bpm" else 1.0)), "tempos",
                              conflicts, lambda t: q(t[2]))
    word_hit = None
    if f.tempo_words:
        word_hit = f.tempo_words[0]
        for w, phrase, _ in f.tempo_words[1:]:
            if (w.default_bpm - 100) * (word_hit[0].default_bpm - 100) < 0:
                conflicts.append(f"two tempos: {q(word_hit[1])} and {q(phrase)}")
    tempo_qpm = None
    tempo_factor = word_hit[0].factor if word_hit else None
    if num_hit:
        value, unit, phrase = num_hit
        tempo_qpm = value * beat if unit == "bpm" else value
        evidence["tempo_qpm"], sources["tempo_qpm"] = q(phrase), "rule"
        if word_hit:
            w, wphrase, _ = word_hit
            bpm = tempo_qpm / beat
            if tune_qpm is not None and w.factor is not None:
                wrong = (w.factor < 1 and tempo_qpm > tune_qpm) or (w.factor > 1 and tempo_qpm < tune_qpm)
            else:
                wrong = not w.low_bpm * 0.9 <= bpm <= w.high_bpm * 1.1
            if wrong:
                conflicts.append(f"the tempo {q(phrase)} is not {q(wphrase)}")
        if mood_names and abs(mood_factor - 1) > 0.01:
            overrides.append(f"the explicit tempo {q(phrase)} wins over the mood {q(mood_label)}")
    elif word_hit:
        w, wphrase, src = word_hit
        if tune_qpm is not None and w.factor is not None:
            tempo_qpm = tune_qpm * w.factor
            evidence["tempo_qpm"] = f"{q(wphrase)} x tune type {q(tune_hit[1])}"
        else:
            tempo_qpm = w.default_bpm * beat
            evidence["tempo_qpm"] = q(wphrase)
        sources["tempo_qpm"] = "embedding" if src.startswith("embedding") else "rule"
        if mood_names and (mood_factor - 1) * (w.default_bpm - 100) < 0:
            overrides.append(f"the tempo word {q(wphrase)} wins over the mood {q(mood_label)}")
    elif tune_qpm is not None:
        tempo_qpm = tune_qpm * mood_factor
        evidence["tempo_qpm"] = f"tune type {q(tune_hit[1])}" + (
            f" x mood {q(mood_label)}" if abs(mood_factor - 1) > 0.01 else "")
        sources["tempo_qpm"] = "tune type"
    elif mood_names:
        tempo_qpm = MOODS[mood_names[0]].default_bpm * beat
        evidence["tempo_qpm"], sources["tempo_qpm"] = f"mood {q(mood_label)}", "mood"
    if tempo_qpm is not None:
        tempo_qpm = _round_tempo(tempo_qpm, meter or Meter(4, 4))

    # Length
    len_hit = _first_distinct(f.lengths, lambda t: t[0], "lengths", conflicts, lambda t: q(t[1]))
    length = None
    if len_hit:
        length = len_hit[0]
        evidence["length_bars"], sources["length_bars"] = q(len_hit[1]), "rule"
        for n, phrase in f.length_words:
            if n != length:
                overrides.append(f"the explicit length {q(len_hit[1])} wins over {q(phrase)}")
    elif f.length_words:
        length, phrase = f.length_words[0]
        evidence["length_bars"], sources["length_bars"] = q(phrase), "rule"

    # Unit length
    unit = None
    if f.units:
        unit = f.units[0][0]
        evidence["unit_length"], sources["unit_length"] = q(f.units[0][1]), "rule"
    elif tune:
        unit = tune.unit
        evidence["unit_length"], sources["unit_length"] = f"tune type {q(tune_hit[1])}", "tune type"

    # Instruments
    programs: list[int] = []
    seen_phrases: set[str] = set()
    for prog, phrase, src in f.programs:
        if src.startswith("embedding") and phrase in seen_phrases:
            continue
        seen_phrases.add(phrase)
        programs.append(prog)
    if programs:
        evidence["instruments"] = ", ".join(dict.fromkeys(q(p[1]) for p in f.programs))
        sources["instruments"] = "embedding" if all(p[2].startswith("embedding") for p in f.programs) else "rule"

    styles = list(dict.fromkeys(f.styles))
    if styles:
        evidence["style"], sources["style"] = ", ".join(q(s) for s in styles), "rule"

    controls = Controls(
        key=key, mode=mode, meter=meter, tempo_qpm=tempo_qpm, programs=tuple(programs),
        instruments=tuple(name_for(p) for p in programs), tune_type=tune_hit[0] if tune_hit else None,
        mood=", ".join(mood_names) or None, length_bars=length, unit_length=unit, style=" ".join(styles) or None)
    return ParsedControls(text=text, controls=controls, conflicts=conflicts, overrides=overrides,
                          ignored=ignored, evidence=evidence, sources=sources, mood_factor=mood_factor,
                          tempo_factor=tempo_factor, tempo_number=(num_hit[0], num_hit[1]) if num_hit else None,
                          tempo_word=(word_hit[1], word_hit[0]) if word_hit else None)


# ---------------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------------


def parse_scanned(sc: TextScanner, *, use_embeddings: bool = True) -> ParsedControls:
    """Parse what is left of a :class:`TextScanner` (callers such as :mod:`~musicllm.generation.edit`
    consume their own phrases first)."""
    found = _Found()
    _scan_rules(sc, found)
    ignored = _embed_leftovers(sc, found, use_embeddings)
    return _combine(sc.text, found, ignored)


def parse_controls(text: str, *, use_embeddings: bool = True) -> ParsedControls:
    """Parse ``text`` into controls without judging it: an empty result, conflicts and ignored words
    are reported, not raised. Impossible values (a meter like 7/5, a tempo of 900 bpm) still raise
    :class:`~musicllm.errors.MusicLLMError`. ``use_embeddings=False`` skips the MiniLM fallback."""
    return parse_scanned(TextScanner(normalise_text(text)), use_embeddings=use_embeddings)


def parse_prompt(text: str, *, strict: bool = False, use_embeddings: bool = True) -> ParsedControls:
    """Parse a generation prompt (see the module docstring).

    Raises :class:`~musicllm.errors.MusicLLMError` (one line) for an empty prompt, a prompt in which
    nothing was understood, an impossible value, and with ``strict=True`` for a contradictory prompt.
    """
    if not str(text or "").strip():
        raise MusicLLMError("the prompt is empty: say what to write, e.g. 'a lively jig in D for fiddle'")
    parsed = parse_controls(text, use_embeddings=use_embeddings)
    if parsed.controls.is_empty():
        extra = f" (not understood: {', '.join(parsed.ignored)})" if parsed.ignored else ""
        raise MusicLLMError(f"no musical controls found in the prompt {parsed.text!r}{extra}; name a key, "
                            "meter, tempo, instrument, tune type or mood")
    if strict and parsed.conflicts:
        raise MusicLLMError(f"contradictory prompt: {'; '.join(parsed.conflicts)}")
    return parsed
