"""The editing phrases of an instruction: intervals, relative tempo and length, simplify, relative keys.

:func:`scan_instruction` consumes these phrases from a :class:`~musicllm.generation.controls.TextScanner`
before the prompt parser reads the rest (keys, modes, meters, absolute tempos, instruments, moods).

Conventions: intervals are semitones; a bare "second", "third", "sixth" or "seventh" is major, a
bare "fourth", "fifth" or "octave" perfect; "a step" / "a tone" is 2 semitones. Tempo words change
the tempo by a factor: "faster" x :data:`RELATIVE_TEMPO_STEP`, "a bit faster" x
:data:`SMALL_TEMPO_STEP`, "much faster" x :data:`LARGE_TEMPO_STEP` (divided for "slower"), "20%
faster" x 1.2, "twice as fast" x 2; "10 bpm faster" adds felt beats per minute. Lengths: "twice as
long" (factor), "add 8 bars" (bars added), "the first 8 bars" (total bars), "longer" / "continue"
(x 2), "shorter" (x 0.5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from musicllm.generation.controls import TextScanner

__all__ = ["EditRequest", "LARGE_TEMPO_STEP", "RELATIVE_TEMPO_STEP", "SMALL_TEMPO_STEP", "scan_instruction"]

RELATIVE_TEMPO_STEP = 1.2   # "faster" / "slower" multiply / divide the tempo by this
SMALL_TEMPO_STEP = 1.1      # "a bit faster"
LARGE_TEMPO_STEP = 1.5      # "much faster"

_COUNT = (r"(?P<count>\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)")
_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_IV = (rf"(?:{_COUNT}\s+)?(?P<qual>perfect|major|minor|augmented|diminished)?\s*"
       r"(?P<iv>semitones?|half[\s-]?(?:steps?|tones?)|whole[\s-]?(?:tones?|steps?)|tones?|steps?|seconds?|"
       r"thirds?|fourths?|fifths?|sixths?|sevenths?|octaves?|tritones?|unison)")
_IV_SIZE = {"semitone": 1, "half step": 1, "half tone": 1, "whole tone": 2, "whole step": 2, "tone": 2,
            "step": 2, "second": 2, "third": 4, "fourth": 5, "fifth": 7, "sixth": 9, "seventh": 11,
            "octave": 12, "tritone": 6, "unison": 0}
_PERFECT = ("fourth", "fifth", "octave", "unison")
_N = r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|sixteen|twenty|thirty-two)"
_NUM = {**_COUNTS, "sixteen": 16, "twenty": 20, "thirty-two": 32}


def _interval(m: re.Match) -> int:
    name = re.sub(r"[\s-]+", " ", m.group("iv")).rstrip("s") if m.group("iv") != "semitones" else "semitone"
    name = {"half step": "half step", "halfstep": "half step", "halftone": "half tone"}.get(name, name)
    size = _IV_SIZE[name]
    qual = m.group("qual")
    if qual:
        perfect = name in _PERFECT
        size += {"minor": -1 if not perfect else 0, "major": 0, "perfect": 0,
                 "augmented": 1, "diminished": -1 if perfect else -2}[qual]
    count = m.group("count")
    return size * (_COUNTS.get(count, None) or (int(count) if count and count.isdigit() else 1))


def _num(text: str) -> int:
    return int(text) if text.isdigit() else _NUM[text]


@dataclass
class EditRequest:
    """What the editing phrases ask for; each entry keeps the phrase it came from."""

    semitones: list[tuple[int, str]] = field(default_factory=list)
    tempo_factors: list[tuple[float, str]] = field(default_factory=list)
    tempo_deltas: list[tuple[float, str, str]] = field(default_factory=list)   # (delta, unit, phrase)
    length: list[tuple[str, float, str]] = field(default_factory=list)        # ("factor"|"add"|"total", n, phrase)
    simplify: list[str] = field(default_factory=list)
    relative_key: list[tuple[str, str]] = field(default_factory=list)          # (mode, phrase)


def scan_instruction(sc: TextScanner, r: EditRequest) -> None:
    """Edit phrases (intervals, relative tempo and length, simplify, relative keys); each consumes
    its words before the controls parser sees the rest."""
    # Relative tempo
    for m in sc.finditer(r"(\d+(?:\.\d+)?)\s*%\s*(faster|quicker|slower)\b"):
        p = float(m.group(1)) / 100
        r.tempo_factors.append((1 + p if m.group(2) != "slower" else max(1 - p, 0.01), m.group(0)))
    for m in sc.finditer(r"\b(faster|quicker|slower|speed\s+(?:it\s+)?up|slow\s+(?:it\s+)?down)\s+by\s+"
                         r"(\d+(?:\.\d+)?)\s*%"):
        p = float(m.group(2)) / 100
        up = m.group(1).startswith(("faster", "quicker", "speed"))
        r.tempo_factors.append((1 + p if up else max(1 - p, 0.01), m.group(0)))
    for m in sc.finditer(r"(\d+(?:\.\d+)?)\s*(bpm|qpm)\s+(faster|quicker|slower)\b"):
        d = float(m.group(1)) * (1 if m.group(3) != "slower" else -1)
        r.tempo_deltas.append((d, m.group(2), m.group(0)))
    for m in sc.finditer(r"\b(twice|two\s+times|three\s+times|(\d+(?:\.\d+)?)\s*(?:x|times))\s+(?:as\s+)?"
                         r"(fast|quick|slow|faster|quicker|slower)\b"):
        n = {"twice": 2.0, "two times": 2.0, "three times": 3.0}.get(re.sub(r"\s+", " ", m.group(1)))
        n = n if n is not None else float(m.group(2))
        if n <= 0:
            continue
        r.tempo_factors.append((n if m.group(3).startswith(("fast", "quick")) else 1 / n, m.group(0)))
    for m in sc.finditer(r"\b(?:double|doubled)\s+(?:the\s+)?(?:speed|tempo)\b|\bdouble[\s-](?:time|speed)\b"):
        r.tempo_factors.append((2.0, m.group(0)))
    for m in sc.finditer(r"\bhalf(?:\s+the)?[\s-](?:speed|tempo|time)\b|\bhalf\s+as\s+fast\b|\bhalve\s+the\s+tempo\b"):
        r.tempo_factors.append((0.5, m.group(0)))
    small = r"(?:(?:a\s+)?(?:little|tad|touch)(?:\s+bit)?|a\s+bit|slightly|somewhat)"
    for m in sc.finditer(rf"\b{small}\s+(faster|quicker|slower)\b"):
        up = m.group(1) != "slower"
        r.tempo_factors.append((SMALL_TEMPO_STEP if up else 1 / SMALL_TEMPO_STEP, m.group(0)))
    for m in sc.finditer(rf"\b(speed\s+(?:it\s+)?up|slow\s+(?:it\s+)?down)\s+{small}"):
        up = m.group(1).startswith("speed")
        r.tempo_factors.append((SMALL_TEMPO_STEP if up else 1 / SMALL_TEMPO_STEP, m.group(0)))
    for m in sc.finditer(r"\b(?:much|a\s+lot|way|far|significantly|considerably)\s+(faster|quicker|slower)\b"):
        up = m.group(1) != "slower"
        r.tempo_factors.append((LARGE_TEMPO_STEP if up else 1 / LARGE_TEMPO_STEP, m.group(0)))
    for m in sc.finditer(r"\b(?:faster|quicker|speed\s+(?:it\s+)?up|more\s+quickly|hurry(?:\s+up)?|"
                         r"(?:up|increase|raise)\s+the\s+(?:tempo|speed)|pick\s+up\s+the\s+pace)\b"):
        r.tempo_factors.append((RELATIVE_TEMPO_STEP, m.group(0)))
    for m in sc.finditer(r"\b(?:slower|slow\s+(?:it\s+)?down|more\s+slowly|(?:reduce|decrease|lower|drop)\s+the\s+"
                         r"(?:tempo|speed)|take\s+it\s+slower)\b"):
        r.tempo_factors.append((1 / RELATIVE_TEMPO_STEP, m.group(0)))
    # Transposition
    for pattern in (
        rf"\b(?:(?:transpose|shift|move|put|take|bring|pitch)\s+(?:it\s+|this\s+|the\s+\w+\s+)?)?"
        rf"(?P<dir>up|down)\s+(?:by\s+)?{_IV}\b",
        rf"\b(?:(?:transpose|shift|move)\s+(?:it\s+)?)?(?:by\s+)?{_IV}\s+(?P<dir>up|down|higher|lower)\b",
        rf"\b(?P<dir>raise|lower)\s+(?:it\s+|the\s+pitch\s+|the\s+key\s+|the\s+melody\s+)?(?:by\s+)?{_IV}\b",
    ):
        for m in sc.finditer(pattern):
            n = _interval(m)
            r.semitones.append((n if m.group("dir") in ("up", "higher", "raise") else -n, m.group(0)))
    for m in sc.finditer(r"\btranspose\s+(?:it\s+)?(?:by\s+)?([+-]?\d+)(?:\s*(?:semitones?|half[\s-]?steps?))?"):
        r.semitones.append((int(m.group(1)), m.group(0)))
    # Relative / parallel keys
    for m in sc.finditer(r"\b(?:(?:to|in|into)\s+)?(?:the\s+|its\s+)?relative\s+(major|minor)\b"):
        r.relative_key.append((m.group(1), m.group(0)))
    for m in sc.finditer(r"\b(?:(?:to|in|into)\s+)?(?:the\s+|its\s+)?parallel\s+(major|minor)\b"):
        r.relative_key.append(("parallel " + m.group(1), m.group(0)))
    # Length
    for m in sc.finditer(rf"\b(twice|two\s+times|three\s+times|four\s+times|{_N}\s*(?:x|times))\s+(?:as\s+)?long(?:er)?\b"):
        n = {"twice": 2, "two times": 2, "three times": 3, "four times": 4}.get(re.sub(r"\s+", " ", m.group(1)))
        r.length.append(("factor", float(n if n is not None else _num(m.group(2))), m.group(0)))
    for m in sc.finditer(r"\b(double|triple)\s+(?:the\s+|its\s+)?length\b"):
        r.length.append(("factor", 2.0 if m.group(1) == "double" else 3.0, m.group(0)))
    for m in sc.finditer(r"\b(?:half\s+as\s+long|halve\s+(?:the\s+|its\s+)?length|cut\s+(?:it\s+)?in\s+half)\b"):
        r.length.append(("factor", 0.5, m.group(0)))
    for pattern in (rf"\b(?:add|append)\s+(?:another\s+)?{_N}\s+(?:more\s+)?(?:bars?|measures?)\b",
                    rf"\b(?:extend|lengthen|continue)\s+(?:it\s+|the\s+(?:tune|melody|piece)\s+)?(?:by|for)\s+"
                    rf"(?:another\s+)?{_N}\s+(?:more\s+)?(?:bars?|measures?)\b",
                    rf"\b{_N}\s+more\s+(?:bars?|measures?)\b", rf"\banother\s+{_N}\s+(?:bars?|measures?)\b"):
        for m in sc.finditer(pattern):
            r.length.append(("add", float(_num(m.group(1))), m.group(0)))
    for pattern in (rf"\b(?:shorten|cut|trim|truncate)\s+(?:it\s+)?(?:down\s+)?to\s+(?:the\s+first\s+)?{_N}\s+"
                    r"(?:bars?|measures?)\b",
                    rf"\b(?:only\s+|keep\s+)?(?:just\s+)?the\s+first\s+{_N}\s+(?:bars?|measures?)\b"):
        for m in sc.finditer(pattern):
            r.length.append(("total", float(_num(m.group(1))), m.group(0)))
    for m in sc.finditer(r"\b(?:make\s+it\s+)?longer\b|\blengthen(?:\s+it)?\b|\bextend(?:\s+it)?\b|"
                         r"\bcontinue(?:\s+it|\s+the\s+(?:tune|melody|piece))?\b|\bkeep\s+going\b"):
        r.length.append(("factor", 2.0, m.group(0)))
    for m in sc.finditer(r"\b(?:make\s+it\s+)?shorter\b|\bshorten(?:\s+it)?\b"):
        r.length.append(("factor", 0.5, m.group(0)))
    # Simplify
    for m in sc.finditer(r"\b(?:simpler|simplif(?:y|ied)|simple|easier|easy|less\s+busy|fewer\s+notes|"
                         r"(?:remove|drop|without|no)\s+(?:the\s+)?(?:ornaments|ornamentation|grace\s+notes|"
                         r"decorations)|for\s+(?:a\s+)?beginners?|beginner(?:'s)?(?:\s+version)?|plainer|sparser|"
                         r"strip(?:ped)?\s+(?:it\s+)?down|reduce\s+(?:the\s+)?chords)\b"):
        r.simplify.append(m.group(0))
