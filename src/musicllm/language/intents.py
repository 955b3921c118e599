"""Question -> :class:`Intent`: what a free-form question about a recording asks for.

Two stages, both deterministic:

1. **Rules** (regular expressions) pull out *slots*: times ("at 1:30", "45 seconds in", "around the 20
   second mark", "in the first 10 seconds", "between 0:30 and 0:45", "at the end", "halfway through")
   and the values of yes/no checks: a key ("is it in D major?"), a mode, a meter ("3/4", "triple
   time"), a tempo comparison ("faster than 120 bpm?"), a pace word ("fast"), an instrument, a genre,
   a mood, a dynamics word ("louder", "fade out").
2. **Embeddings**: the question, with its time phrase replaced by "that point", is embedded with the
   shipped all-MiniLM-L6-v2 (:mod:`musicllm.language.sentence_encoder`) and compared (cosine) with
   hand-written prototype questions per intent; an intent's score is the mean of its top
   :data:`TOP_K` similarities. An ``unknown`` class holds prototypes of questions MusicFacts cannot
   answer (lyrics, artist, year, recording place, the listener's feelings...). A question whose best
   class is ``unknown``, or whose best score is under :data:`MIN_SCORE`, is ``unknown``.

Combination: questions matching :data:`OUT_OF_SCOPE` (lyrics, people, dates, titles, the listener's
taste, performance quality) are ``unknown`` outright; an "X or Y" question naming values ("6/8 or
3/4?", "happy or sad?") goes to the open intent of that topic; a yes/no question ("is/does/can ...")
with a check value becomes ``check_<kind>`` unless the embedding puts it clearly out of scope
(:data:`OOS_MARGIN`); a word like "dynamics" / "volume" forces the loudness topic; a question with a time slot
turns a chord / section / loudness / general question into ``chord_at`` / ``section_at`` /
``loudness_at`` / ``at_time``; other intents keep their name and carry the time along.

Slot conventions: ``time_s`` and ``time_end_s`` are seconds from the start of the recording;
``anchor`` is ``"end"`` or ``"middle"`` (resolved against the duration by the answerer), with
``span_s`` for "the last N seconds"; ``bpm`` is quarter notes per minute with ``op`` one of ``">"``,
``"<"``, ``"~"``; ``key`` is ``"D major"`` or just a tonic ``"D"``; ``meter`` is ``"3/4"`` or one of
``"triple"``, ``"duple"``, ``"compound"``; ``instrument`` / ``genre`` / ``mood`` are lower-case names
(canonical instrument names: see :data:`INSTRUMENT_WORDS`); ``dynamics`` is one of ``"crescendo"``,
``"decrescendo"``, ``"steady"``, ``"loud"``, ``"soft"``.

The prototype embeddings are computed once per process and cached on disk (``$MUSICLLM_CACHE`` or
``~/.cache/musicllm``), keyed by a hash of the prototype texts and the model files.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TOP_K = 2          # an intent's score: mean of its TOP_K best prototype similarities
MIN_SCORE = 0.42   # below this best in-scope score the question is not understood -> unknown
ALT_MARGIN = 0.05  # an "X or Y" question goes to the topic its values name unless another intent beats it by this
OOS_MARGIN = 0.10  # a rule-matched check is overridden when "unknown" beats it by this much

#: Intents the answerer knows. ``check_*`` are yes/no questions; ``*_at`` need a time.
INTENTS = (
    "summary", "tempo", "feel", "key", "mode", "meter", "instruments", "genre", "mood", "chords", "chord_at",
    "structure", "section_at", "duration", "loudness", "loudness_at", "at_time", "range", "density",
    "texture", "parts", "bars", "melody",
    "check_key", "check_mode", "check_tempo", "check_feel", "check_meter", "check_instrument",
    "check_genre", "check_mood", "check_dynamics", "unknown",
)

_LOUDNESS_WORDS = re.compile(r"\bdynamics?\b|\bvolume\b|\bloudness\b")
_TIME_VARIANT = {"chords": "chord_at", "chord_at": "chord_at", "structure": "section_at",
                 "section_at": "section_at", "loudness": "loudness_at", "loudness_at": "loudness_at",
                 "at_time": "at_time", "summary": "at_time"}
_UNTIMED_VARIANT = {"chord_at": "chords", "section_at": "structure", "loudness_at": "loudness",
                    "at_time": "summary"}


@dataclass
class Intent:
    """What a question asks. ``confidence`` is the best prototype similarity (cosine, -1..1) of the
    chosen class; ``source`` says whether a rule (``"rule"``) or the embedding (``"embedding"``)
    decided; ``scores`` holds the top embedding classes for inspection."""

    name: str
    confidence: float
    slots: dict[str, Any] = field(default_factory=dict)
    source: str = "embedding"
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": round(self.confidence, 4), "slots": dict(self.slots),
                "source": self.source}


# -- vocabularies ------------------------------------------------------------------------------------
#: canonical instrument name -> regex (lower-case text) of the words that mention it
INSTRUMENT_WORDS: dict[str, str] = {
    "piano": r"pianos?|keyboards?|grand piano",
    "violin": r"violins?|fiddles?",
    "viola": r"violas?",
    "cello": r"cellos?|violoncellos?",
    "double bass": r"double bass|contrabass|upright bass",
    "bass": r"bass guitar|electric bass|bass(?!oon)(?! drum)",
    "guitar": r"guitars?",
    "drums": r"drums?|drum kit|drumkit|drumming|percussion",
    "voice": r"vocals?|voices?|singing|singers?|vocalists?|sung|someone sing\w*|choir",
    "flute": r"flutes?",
    "saxophone": r"saxophones?|sax",
    "trumpet": r"trumpets?",
    "trombone": r"trombones?",
    "clarinet": r"clarinets?",
    "oboe": r"oboes?",
    "bassoon": r"bassoons?",
    "horn": r"french horns?|horns?",
    "organ": r"organs?",
    "synth": r"synths?|synthesi[sz]ers?",
    "harp": r"harps?",
    "harpsichord": r"harpsichords?",
    "accordion": r"accordions?",
    "banjo": r"banjos?",
    "mandolin": r"mandolins?",
    "ukulele": r"ukuleles?",
    "harmonica": r"harmonicas?",
    "sitar": r"sitars?",
    "strings": r"strings|string section",
    "brass": r"brass",
    "tuba": r"tubas?",
}
GENRE_WORDS = ("rock", "pop", "jazz", "classical", "folk", "blues", "country", "hip hop", "hip-hop", "rap",
               "electronic", "techno", "house", "trance", "dance", "reggae", "metal", "funk", "soul", "r&b",
               "latin", "disco", "ambient", "baroque", "celtic", "punk", "gospel", "opera", "new age",
               "world", "indian", "choral", "orchestral", "soundtrack", "bluegrass", "swing", "salsa",
               "edm", "dubstep", "lofi", "lo-fi", "indie", "traditional")
MOOD_WORDS = ("happy", "sad", "calm", "energetic", "relaxing", "relaxed", "melancholic", "melancholy", "dark",
              "bright", "aggressive", "angry", "romantic", "peaceful", "tense", "epic", "playful", "uplifting",
              "dreamy", "joyful", "gloomy", "cheerful", "mellow", "sombre", "somber", "nostalgic", "hopeful",
              "mysterious", "scary", "eerie", "soothing", "intense", "chill", "serene", "emotional",
              "sentimental", "triumphant", "lively", "weird", "groovy", "funny", "fun", "dramatic", "tender")
_FAST = r"fast|quick|rapid|brisk|speedy|up-?tempo|upbeat|fast-paced|lively pace"
_SLOW = r"slow|slowly|sluggish|leisurely|unhurried|slow-paced"

_NUMBER_WORDS = {"zero": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                 "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
                 "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60,
                 "ninety": 90}
_NUM = r"(\d+(?:\.\d+)?|" + "|".join(sorted((w for w in _NUMBER_WORDS if w not in ("a", "an")), key=len,
                                            reverse=True)) + ")"
_SEC = r"(?:seconds?|secs?|s)\b"
_MIN = r"(?:minutes?\b|mins?\b|m(?=\d|\b))"


def _num(tok: str) -> float:
    tok = tok.lower()
    return float(_NUMBER_WORDS[tok]) if tok in _NUMBER_WORDS else float(tok)


# -- times --------------------------------------------------------------------------------------------
# A time expression: "1:30", "1 minute 30", "1m20s", "90 seconds", "two minutes", "a minute and a half".
_T_CLOCK = r"(\d{1,2}):([0-5]\d)(?!\d)"
_T_MIN_SEC = _NUM + r"\s*" + _MIN + r"(?:\s*(?:and\s*)?" + _NUM + r"\s*(?:" + _SEC + r")?)?"
_T_SEC = _NUM + r"[\s-]*" + _SEC
_TIME = rf"(?:{_T_CLOCK}|a minute and a half|half a minute|(?:a|one) minute|{_T_MIN_SEC}|{_T_SEC})"


def _time_value(expr: str) -> float | None:
    e = expr.lower().strip()
    if e == "a minute and a half":
        return 90.0
    if e == "half a minute":
        return 30.0
    if e in ("a minute", "one minute"):
        return 60.0
    m = re.fullmatch(_T_CLOCK, e)
    if m:
        return int(m.group(1)) * 60 + int(m.group(2))
    m = re.fullmatch(_T_MIN_SEC, e)
    if m:
        return _num(m.group(1)) * 60 + (_num(m.group(2)) if m.group(2) else 0.0)
    m = re.fullmatch(_T_SEC, e)
    if m:
        return _num(m.group(1))
    return None


_PLACE = "that point"


def parse_time(question: str) -> tuple[dict[str, Any], str]:
    """Time slots of a question and the question with its time phrase replaced by "that point".

    Returns ``({}, question)`` when the question names no time. See the module docstring for slots.
    """
    q = question.strip()
    low = q.lower()

    def sub(m: re.Match, text: str = _PLACE) -> str:
        return q[: m.start()] + text + q[m.end():]

    m = re.search(rf"\bbetween\s+(?:the\s+)?{_TIME}\s+and\s+(?:the\s+)?{_TIME}", low)
    if m:
        ends = [_time_value(x.group(0)) for x in re.finditer(_TIME, m.group(0))]
        if len(ends) == 2 and ends[0] is not None and ends[1] is not None:
            return {"time_s": ends[0], "time_end_s": ends[1]}, sub(m, "during " + _PLACE)
    m = re.search(rf"\b(?:(?:in|during|for|over)\s+)?the\s+(first|opening|last|final|closing)\s+({_TIME}|few seconds)",
                  low)
    if m:
        span = 10.0 if m.group(2) == "few seconds" else _time_value(m.group(2))
        if span is not None:
            if m.group(1) in ("first", "opening"):
                return {"time_s": 0.0, "time_end_s": span}, sub(m, "at the beginning")
            return {"anchor": "end", "span_s": span}, sub(m, "at the end")
    if re.search(r"\b(?:ends?|ending|finish(?:es)?|close[sd]?|conclude[sd]?)\s+(?:on|with)\b|\bfinal\b|\blast\s+"
                 r"(?:chord|section|part|bar|note|moments?)\b|\b(?:ends|closes|concludes|finishes)\s+(?:the\s+)?"
                 r"(?:piece|song|track|music|tune|recording)\b|\bclosing\s+(?:chord|section|bars?)\b|"
                 r"\btowards?\s+the\s+end\b|\bthe\s+ending\b|"
                 r"\b(?:at|around|near)\s+the\s+(?:very\s+)?end\b|\bhow does it (?:end|finish)\b", low):
        return {"anchor": "end"}, q
    if re.search(r"\bhalfway\b|\bmidway\b|\bin the middle\b|\bmid-?point\b", low):
        return {"anchor": "middle"}, q
    if re.search(r"\b(?:starts?|begins?|opens?|starting|beginning|opening)\s+(?:on|with)\b|\bfirst\s+"
                 r"(?:chord|section|part|bar|note|thing)\b|\bat\s+the\s+(?:very\s+)?(?:start|beginning|outset)\b|"
                 r"\bhappens? first\b|\bright at the start\b", low):
        return {"time_s": 0.0}, q
    m = re.search(r"\bsecond\s+(\d+)\b", low)  # "at second 45"
    if m:
        return {"time_s": float(m.group(1))}, sub(m)
    m = re.search(rf"(?:the\s+)?({_TIME})(?:\s*(?:mark|point|timestamp|in))?", low)
    if m:
        t = _time_value(m.group(1))
        if t is not None and not _looks_like_duration_question(low, m):
            return {"time_s": t}, sub(m)
    return {}, q


def _looks_like_duration_question(low: str, m: re.Match) -> bool:
    """'Is it longer than 3 minutes?' names a length, not a moment: no time slot then."""
    before = low[max(0, m.start() - 25): m.start()]
    return bool(re.search(r"(?:longer|shorter|more|less|over|under)\s+than\s*$|\blast(?:s|ing)?\s+(?:about\s+)?$",
                          before))


# -- check values -------------------------------------------------------------------------------------
_NOTE = r"([A-G])(?:\s*(#|♯|-?sharp|b|♭|-?flat))?"
_KEY_WITH_MODE = re.compile(rf"(?<![\w/])(?:{_NOTE})\s*(major|minor|maj|min)\b", re.IGNORECASE)
_KEY_TONIC = re.compile(rf"\b(?:in|key of|key is|key be|key was|tonic is|tonic of)\s+(?:the\s+key\s+of\s+)?"
                        rf"{_NOTE}(?![\w#♯♭])", )


def _spell(letter: str, acc: str | None) -> str:
    acc = (acc or "").lower().lstrip("-")
    suffix = "#" if acc in ("#", "♯", "sharp") else "b" if acc in ("b", "♭", "flat") else ""
    return letter.upper() + suffix


def find_key(question: str) -> str | None:
    """A key named in the question: ``"D major"``, ``"F# minor"``, or a bare tonic ``"C"``.

    A lower-case ``a`` before a mode word is the article ("is it a minor key?" asks the mode) unless it
    follows "in" and ends the question ("is it in a minor?")."""
    for m in _KEY_WITH_MODE.finditer(question):
        letter, acc, mode_word = m.group(1), m.group(2), m.group(3)
        if letter == "a" and not acc:
            after = question[m.end():].strip().lower()
            before = question[: m.start()].lower()
            if not (re.search(r"\bin\s*$", before) and re.fullmatch(r"[?.!]*", after)):
                continue
        mode = "major" if mode_word.lower().startswith("maj") else "minor"
        return f"{_spell(letter, acc)} {mode}"
    m = _KEY_TONIC.search(question)
    if m:
        return _spell(m.group(1), m.group(2))
    return None


def find_mode(low: str) -> str | None:
    m = re.search(r"\b(major|minor)\b", low)
    return m.group(1) if m else None


def find_meter(low: str) -> str | None:
    m = re.search(r"\b(\d{1,2})\s*/\s*(\d{1,2})\b", low)
    if m:
        return f"{int(m.group(1))}/{int(m.group(2))}"
    if re.search(r"\bcommon time\b", low):
        return "4/4"
    if re.search(r"\bcut time\b|\balla breve\b", low):
        return "2/2"
    if re.search(r"\btriple\b|\bwaltz\b|\bthree beats?\b|\b3 beats?\b", low):
        return "triple"
    if re.search(r"\bcompound\b", low):
        return "compound"
    if re.search(r"\bduple\b|\btwo beats?\b|\b2 beats?\b|\bmarch\b", low):
        return "duple"
    return None


def find_tempo_check(low: str) -> tuple[str, float] | None:
    """``(op, bpm)`` for "faster than 120 bpm", "above 100 BPM", "about 70 bpm", "is the BPM more than 140"."""
    if not re.search(r"\bbpm\b|beats? per minute|\btempo\b|\bfaster\b|\bslower\b|\bquicker\b", low):
        return None
    nums = [(m.start(), float(m.group(1))) for m in re.finditer(r"(?<![\d:.])(\d{2,3}(?:\.\d+)?)(?![\d:])", low)]
    nums = [(pos, v) for pos, v in nums if 20 <= v <= 400]
    if not nums:
        return None
    pos, bpm = nums[0]
    ctx = low[max(0, pos - 30): pos]
    if re.search(r"faster|quicker|above|over|more than|higher than|greater than|exceed|at least", ctx):
        op = ">"
    elif re.search(r"slower|below|under|less than|lower than|at most", ctx):
        op = "<"
    else:
        op = "~"
    return op, bpm


def find_feel(low: str) -> str | None:
    if re.search(rf"\b(?:{_FAST})\b", low):
        return "fast"
    if re.search(rf"\b(?:{_SLOW})\b", low):
        return "slow"
    return None


def find_dynamics(low: str) -> str | None:
    if re.search(r"\b(?:louder|crescendo|builds?\s+up|grows?\s+(?:louder|stronger)|swell|get(?:s|ting)?\s+"
                 r"(?:louder|stronger|more intense))\b", low):
        return "crescendo"
    if re.search(r"\b(?:quieter|softer|decrescendo|diminuendo|fades?(?:\s+out|\s+away)?|die\s+down|dies\s+down)\b",
                 low):
        return "decrescendo"
    if re.search(r"\b(?:stay|stays|remain|remains|keep|keeps)\s+(?:at\s+)?(?:the\s+)?(?:same|constant|steady|even)"
                 r"|\b(?:constant|steady|even|consistent)\s+(?:volume|loudness|level|dynamics)\b", low):
        return "steady"
    if re.search(r"\b(?:loud|noisy|powerful)\b", low):
        return "loud"
    if re.search(r"\b(?:soft|quiet|gentle|hushed)\b", low):
        return "soft"
    return None


def find_instrument(low: str, extra: Iterable[str] = ()) -> str | None:
    """Canonical instrument named in the question; ``extra`` adds names (e.g. the recording's own tags)."""
    best: tuple[int, str] | None = None
    for name in extra:
        n = name.lower().strip()
        m = re.search(rf"\b{re.escape(n)}s?\b", low) if n else None
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), canonical_instrument(n))
    for canon, pattern in INSTRUMENT_WORDS.items():
        m = re.search(rf"\b(?:{pattern})\b", low)
        if m and (best is None or m.start() < best[0] or (m.start() == best[0] and len(canon) > len(best[1]))):
            best = (m.start(), canon)
    return best[1] if best else None


def canonical_instrument(name: str) -> str:
    """Map an instrument word or tag (``"male vocals"``, ``"drum kit"``, ``"acoustic guitar"``) to the
    canonical names of :data:`INSTRUMENT_WORDS`; an unknown name comes back lower-cased."""
    low = name.lower().strip()
    for canon, pattern in INSTRUMENT_WORDS.items():
        if re.fullmatch(rf"(?:{pattern})", low):
            return canon
    return low


def instrument_matches(asked: str, tag_name: str) -> bool:
    """Does a detected tag (e.g. ``"acoustic guitar"``, ``"male vocal"``) answer a question about the
    canonical instrument ``asked`` (e.g. ``"guitar"``, ``"voice"``)?"""
    tag = tag_name.lower()
    if canonical_instrument(tag) == asked or tag == asked:
        return True
    pattern = INSTRUMENT_WORDS.get(asked)
    if pattern is None:
        return re.search(rf"\b{re.escape(asked)}s?\b", tag) is not None
    if asked == "bass" and re.search(r"\bdouble bass\b|\bbass drum\b", tag):
        return False
    return re.search(rf"\b(?:{pattern})\b", tag) is not None


def _find_word(low: str, words: Iterable[str]) -> str | None:
    best: tuple[int, str] | None = None
    for w in words:
        w = w.lower().strip()
        if not w:
            continue
        m = re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", low)
        if m and (best is None or m.start() < best[0] or (m.start() == best[0] and len(w) > len(best[1]))):
            best = (m.start(), w)
    return best[1] if best else None


def find_genre(low: str, extra: Iterable[str] = ()) -> str | None:
    return _find_word(low, [*GENRE_WORDS, *extra])


def find_mood(low: str, extra: Iterable[str] = ()) -> str | None:
    return _find_word(low, [*MOOD_WORDS, *extra])


#: Questions about what MusicFacts never holds: words, people, dates, places, names, the listener.
OUT_OF_SCOPE = re.compile(
    r"\blyric|\bwords\s+(?:of|in|to)\b|\bwhat\s+(?:are\s+they|is\s+(?:he|she|the\s+singer))\s+(?:singing|saying)|"
    r"\bsinging\s+about\b|\bmake\s+(?:you|me|people)\s+feel\b|\bhow\s+do\s+you\s+feel\b|"
    r"\b(?:do|did|will|would)\s+(?:you|i)\s+(?:like|enjoy|love)\b|\b(?:what|which)\s+(?:year|decade|era)\b|"
    r"\breleased?\b|\bwho\s+(?:is|was|are|were)\s+(?:the\s+)?(?:singer|singers|artist|composer|drummer|guitarist|"
    r"pianist|band|producer|performer|musician|songwriter|vocalist)s?\b|"
    r"\bwho\s+(?:wrote|composed|produced|sings|sang|performs|performed|recorded|mixed|plays|played)\b|"
    r"\bwho\s+is\s+playing\b|\balbum\b|"
    r"\brecord\s+label\b|\btitle\b|\bname\s+of\s+(?:the|this|that)\s+(?:song|track|piece|tune|band|artist|singer|"
    r"album|composer|recording)\b|\brecommend|\bsimilar\s+(?:songs|tracks|pieces|music|artists|bands)\b|"
    r"\bsinger'?s\s+name\b|\bwhere\s+(?:was|is|were)\s+(?:it|this|the\s+\w+)\s+(?:recorded|made|produced)\b|"
    r"\b(?:male|female|man|woman)\s+or\s+(?:male|female|man|woman)\b|\b(?:in|out\s+of)\s+tune\b|\bmistakes?\b|"
    r"\bbest\s+part\b|\bbeautiful\b|\b(?:good|bad)\s+(?:song|track|piece|performance|recording)\b|"
    r"\bwell\s+played\b|\bplayed\s+well\b"
)

_ALTERNATIVE = re.compile(r"\w\s+or\s+\w")
_YES_NO = re.compile(r"^(?:is|isn't|are|aren't|does|doesn't|do|don't|did|was|wasn't|were|has|have|can|could|"
                     r"would|will|should|am|might|may)\b|^(?:so\s+)?(?:is it true|am i right|right\?)")


def is_yes_no(low: str) -> bool:
    """A question answered by yes or no ("is it ...?", "does it ...?"), not an alternative ("X or Y?")."""
    low = low.strip()
    if not _YES_NO.search(low):
        return False
    if re.search(r"\bwhat|\bwhich|\bhow\b|\bwhen\b|\bwhere\b|\bwho\b|\btell me\b|\blist\b|\bname\b", low):
        return False
    return re.search(r"\w\s+or\s+\w", low) is None


# -- prototypes ---------------------------------------------------------------------------------------
# Hand-written example questions per intent, tuned on benchmarks/qa_questions.jsonl (dev split, then
# the misses of the first held-out runs; see benchmarks/qa_builtin.py). Time intents use "that point"
# where the question named a time (see parse_time).
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "summary": (
        "what is this music like", "what is the piece like",
        "describe the music", "describe this recording", "what does this piece sound like",
        "give a description of the track", "tell me about this music", "write a caption for this audio",
        "summarize this song", "give an overview of the piece", "what is this recording like",
        "tell me everything about this track", "caption this music", "what is going on in this music overall",
        "what can you say about this song",
    ),
    "tempo": (
        "what is the tempo", "how many beats per minute", "what is the bpm of this song", "tempo in bpm",
        "at what speed in bpm is it played", "what's the metronome tempo", "what is the tempo of the track",
        "how fast is it in beats per minute", "tell me the bpm", "what bpm is the song", "what is the beat rate",
        "measure the tempo", "how many bpm",
    ),
    "feel": (
        "is the music fast or slow", "how fast does it feel", "what is the pace of the music",
        "is the tempo slow, medium or fast", "does it feel quick or relaxed", "how quick is the music",
        "what is the speed like", "how would you describe the speed", "is it a fast song or a slow song",
        "how energetic is the pace", "how brisk is the pulse",
    ),
    "key": (
        "tell me the tonality of the track", "what are the tonic and the mode", "what key and mode is it",
        "what key is it in", "what is the key of this music", "which key is the song in", "key of the piece",
        "what is the tonality", "what is the tonic", "what key signature does it have", "what key is being played",
        "identify the musical key", "tell me the key", "in which key is this written", "what's the key center",
    ),
    "mode": (
        "is it major or minor", "major or minor key", "what mode is it in major or minor",
        "does it sound major or minor", "is the tonality major or minor", "is it in a major or minor mode",
        "is the scale major or minor", "which mode does the piece use",
    ),
    "meter": (
        "what time is it in", "what time is the piece in",
        "how many beats per measure", "how is the music counted",
        "what is the time signature", "what meter is the music in", "how many beats per bar",
        "what is the metre", "time signature of this song", "how many beats in each measure",
        "is it in four four or three four", "how is the rhythm counted in bars", "what is the meter",
        "which time signature is used", "what's the bar length in beats",
    ),
    "instruments": (
        "is there singing in it", "are there any vocals or voices", "is a particular instrument playing", "can you hear a certain instrument",
        "what instruments are playing", "which instruments do you hear", "what is the instrumentation",
        "list the instruments", "what instruments are in the song", "name the instruments used",
        "what instruments can be heard", "which instruments are used in the track", "what is being played, which instruments",
        "what are the instruments in the ensemble", "what sounds are in the mix", "what instruments does it feature",
    ),
    "genre": (
        "is this song jazz", "is the track a rock song", "is this piece folk music",
        "what genre is it", "what style of music is this", "what kind of music is this", "what is the genre of the song",
        "which musical style is it", "classify the genre", "what type of music is it", "which genre fits this track",
        "what category of music", "what sort of music is playing", "what musical tradition is this",
    ),
    "mood": (
        "is the song sad", "is the track cheerful", "is the piece melancholic in mood",
        "what atmosphere does it have", "what is the atmosphere of the track", "describe the atmosphere", "what is the character of the piece", "what feeling does the piece give",
        "what is the mood", "what mood does it have", "what is the emotional character", "what is the vibe",
        "what atmosphere does the music create", "what feeling does the music convey", "how does the music feel",
        "describe the mood of the track", "what emotion does it express", "is the mood happy or sad",
        "what is the emotional tone", "what kind of feeling does this song have",
    ),
    "chords": (
        "what chords are used", "what is the chord progression", "which chords are played",
        "list the chords", "what are the chords in the song", "what harmony does it use",
        "what is the harmonic progression", "chord sequence of the piece", "what chords does it go through",
        "which chords appear", "how does the harmony move", "what are the most common chords",
    ),
    "chord_at": (
        "what chord is playing at that point", "which chord is at that point", "what is the chord at that point",
        "what harmony is heard at that point", "what chord does it start on", "what is the last chord",
        "which chord do we hear at that point", "what chord is sounding at that point",
        "what chords are played at the beginning", "what chord is it on at that point",
    ),
    "structure": (
        "what is the form of the song", "what is the song form", "break down the form of the track",
        "what is the structure", "what is the form of the piece", "how is the song structured",
        "what sections are there", "how many sections does it have", "describe the form",
        "what is the arrangement of sections", "is there a verse and a chorus", "break down the song structure",
        "what parts does the form have", "how is the piece organized", "what is the song's layout",
    ),
    "section_at": (
        "what section is it in at that point", "which section is playing at that point",
        "which part of the form is at that point", "what section starts at that point",
        "which section does it begin with", "what is the last section", "what part of the song is at that point",
        "what section are we in at that point",
    ),
    "duration": (
        "how long is it", "what is the duration", "how long does the music last", "length of the recording",
        "how many minutes long", "how many seconds is it", "what's the running time", "how long is the track",
        "total length of the audio", "how long does the piece go on for", "what is the playing time",
    ),
    "loudness": (
        "how loud is it", "what are the dynamics", "is it loud or quiet", "how loud is the music",
        "describe the dynamics", "does the volume change", "what is the loudness", "does it get louder or softer",
        "how does the volume evolve", "what is the volume level", "how much does the loudness vary",
        "what is the dynamic range", "how intense is the volume", "are there changes in volume",
    ),
    "loudness_at": (
        "how loud is it at that point", "what is the volume at that point", "what is the loudness at that point",
        "how loud is the music at that point", "is it loud at that point", "how loud is the end",
        "what's the dynamic level at that point", "how quiet is it at that point",
    ),
    "at_time": (
        "what happens at that point", "what is going on at that point", "what is happening at that point",
        "describe what happens at that point", "what is the music doing at that point",
        "what happens at the end", "what happens at the beginning", "what's going on during that point",
        "tell me what happens at that point", "what happens in the middle",
    ),
    "range": (
        "what register is the music in", "is the music in a high or low register",
        "what is the pitch range", "what are the highest and lowest notes", "how high does the music go",
        "how low do the notes go", "what is the range of notes", "what register is it in",
        "what is the highest pitch", "what is the lowest note", "how wide is the range",
        "is it high or low in pitch", "what is the melodic range",
    ),
    "density": (
        "how busy is it", "how many notes per second", "is it dense or sparse", "how many notes are played",
        "what is the note density", "are there lots of notes", "how active is the music",
        "how many notes in total", "is it busy or sparse", "how much is going on note by note",
    ),
    "texture": (
        "what is the texture", "how many notes at once", "is it monophonic or polyphonic",
        "is it one melody or chords", "how thick is the texture", "what is the polyphony",
        "how many notes sound simultaneously", "is it homophonic", "are notes played together",
        "is it a single line", "how many voices sound together",
    ),
    "parts": (
        "how many parts are there", "how many voices does the score have", "how many separate parts",
        "how many lines in the arrangement", "number of parts in the transcription", "how many staves",
        "how many independent parts", "how many instrumental parts",
    ),
    "bars": (
        "how many bars", "how many measures", "how many beats in total", "number of bars",
        "how many bars long", "count the bars", "how many beats are there", "what's the number of measures",
    ),
    "melody": (
        "what is the melodic contour", "does the melody go up or down", "what shape is the melody",
        "how does the melody move", "is the melody rising or falling", "describe the melody",
        "is the tune ascending or descending", "how does the top line move", "what does the melody do",
    ),
    "unknown": (
        "is it played in tune", "is the instrument out of tune", "is the performance good", "are there mistakes in the playing", "what is the best part", "is it beautiful", "what do you think of it",
        "recommend other music like this", "what other songs sound like this", "what is this piece called",
        "what are the lyrics", "what words are sung", "what is the singer singing about", "who is the singer",
        "who sings this", "what is the name of the artist", "who performs this song", "what band is this",
        "who wrote this song", "who is the composer", "what year is this from", "when was it recorded",
        "when was it released", "what decade is this music from", "where was it recorded",
        "in which studio was it recorded", "what is the title", "what's the song called", "which album is it on",
        "what record label", "who produced it", "how does it make you feel", "do you like this song",
        "will I enjoy it", "is this song good", "what does the song mean", "what is the message of the lyrics",
        "what language is it sung in", "is the singer a man or a woman", "how old is the musician",
        "what equipment was used", "what brand is the instrument", "what microphone or software was used",
        "how popular is it", "was it a hit", "how many views or streams", "did it win a prize",
        "how much does it cost", "is it copyrighted or licensed", "is it a cover version",
        "what movie is it from", "how do I learn to play it", "what is the weather", "tell me something funny",
        "what is the capital of France", "what is two plus two", "who is the guitarist",
        "where is the band from", "what is the musician's name", "hello how are you",
    ),
}

# The embedding classes (check_* intents come from rules).
EMBED_CLASSES = tuple(PROTOTYPES)


def _cache_dir() -> Path:
    root = os.environ.get("MUSICLLM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "musicllm")
    return Path(root)


class IntentRecognizer:
    """Maps questions to :class:`Intent` (see the module docstring). Build once; ``recognize`` is cheap."""

    def __init__(self, prototypes: dict[str, tuple[str, ...]] | None = None, model_dir: str | Path | None = None,
                 use_disk_cache: bool = True) -> None:
        from musicllm.models.text_encoder import default_model_dir, get_encoder

        self.prototypes = dict(prototypes or PROTOTYPES)
        self.encoder = get_encoder(model_dir)
        self._labels: list[str] = []
        texts: list[str] = []
        for name, items in self.prototypes.items():
            for t in items:
                self._labels.append(name)
                texts.append(t)
        self._labels_arr = np.array(self._labels)
        model_path = Path(model_dir) if model_dir is not None else default_model_dir()
        self._proto = self._load_or_encode(texts, model_path, use_disk_cache)

    def _load_or_encode(self, texts: list[str], model_path: Path, use_disk_cache: bool) -> np.ndarray:
        st = (model_path / "model.safetensors").stat()
        key = hashlib.sha256(("\n".join(texts) + f"|{model_path.resolve()}|{st.st_size}|{int(st.st_mtime)}")
                             .encode()).hexdigest()[:20]
        path = _cache_dir() / f"intent-prototypes-{key}.npy"
        if use_disk_cache and path.exists():
            try:
                arr = np.load(path)
                if arr.shape == (len(texts), self.encoder.hidden):
                    return arr
            except (OSError, ValueError):
                pass
        arr = self.encoder.encode(texts, batch_size=64)
        if use_disk_cache:
            try:
                from musicllm.files import atomic_write_with

                atomic_write_with(path, lambda tmp: np.save(tmp, arr))  # tmp ends in .npy
            except OSError:
                pass  # a read-only home only costs the encoding time next run
        return arr

    def class_scores(self, text: str) -> dict[str, float]:
        """Score per embedding class: mean of the top :data:`TOP_K` cosine similarities."""
        v = self.encoder.encode([text])[0]
        sims = self._proto @ v
        out: dict[str, float] = {}
        for name in self.prototypes:
            s = np.sort(sims[self._labels_arr == name])[::-1][:TOP_K]
            out[name] = float(s.mean())
        return out

    def recognize(self, question: str, facts: Any = None) -> Intent:
        """The intent of ``question``. ``facts`` (a MusicFacts, optional) adds the recording's own tag
        names to the instrument / genre / mood vocabularies."""
        q = " ".join(str(question).split())
        low = q.lower()
        time_slots, text = parse_time(q)
        scores = self.class_scores(text.lower() if text else low)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        top = dict(ranked[:3])
        best_name, best = ranked[0]
        in_scope = [(n, s) for n, s in ranked if n != "unknown"]
        best_in, best_in_score = in_scope[0]
        oos = scores.get("unknown", -1.0)
        if not q or not re.search(r"[a-z]{2,}", low) or OUT_OF_SCOPE.search(low):
            return Intent("unknown", max(oos, 0.0), {}, "rule", top)

        if _ALTERNATIVE.search(low):  # "is it 6/8 or 3/4?", "happy or sad?": the open question on that topic
            topic = self._topic(low, q, facts)
            if topic is not None and (best_name == "unknown" or best < MIN_SCORE
                                      or scores.get(topic, -1.0) >= best_in_score - ALT_MARGIN):
                return Intent(_TIME_VARIANT.get(topic, topic) if time_slots else topic, best_in_score, time_slots,
                              "rule", top)

        if is_yes_no(low) and oos < best_in_score + OOS_MARGIN:
            check = self._check(low, q, facts)
            if check is not None:
                name, slots = check
                if name == "check_dynamics" and slots["dynamics"] in ("loud", "soft") and time_slots:
                    return Intent("loudness_at", best_in_score, time_slots, "rule", top)
                return Intent(name, max(best_in_score, 0.0), slots, "rule", top)

        if best_name == "unknown" or best < MIN_SCORE:
            return Intent("unknown", best, {}, "embedding", top)
        name = best_in
        if _LOUDNESS_WORDS.search(low) and name not in ("loudness", "loudness_at", "at_time"):
            name = "loudness"  # "dynamic range", "volume": never the pitch range or a section
        if time_slots:
            name = _TIME_VARIANT.get(name, name)
            return Intent(name, best_in_score, time_slots, "embedding", top)
        name = _UNTIMED_VARIANT.get(name, name)
        return Intent(name, best_in_score, {}, "embedding", top)

    @classmethod
    def _topic(cls, low: str, q: str, facts: Any) -> str | None:
        """The open intent an "X or Y" question is about, from the values it names."""
        if re.search(r"\bmajor\b.*\bor\b.*\bminor\b|\bminor\b.*\bor\b.*\bmajor\b", low):
            return "mode"
        check = cls._check(low, q, facts)
        if check is None:
            return None
        return {"check_key": "key", "check_meter": "meter", "check_tempo": "tempo", "check_mode": "mode",
                "check_dynamics": "loudness", "check_instrument": "instruments", "check_genre": "genre",
                "check_mood": "mood", "check_feel": "feel"}[check[0]]

    @staticmethod
    def _check(low: str, q: str, facts: Any) -> tuple[str, dict[str, Any]] | None:
        tags_i = [t.name for t in getattr(facts, "instruments", [])] if facts is not None else []
        tags_g = [t.name for t in getattr(facts, "genres", [])] if facts is not None else []
        tags_m = [t.name for t in getattr(facts, "moods", [])] if facts is not None else []
        key = find_key(q)
        if key is not None:
            return "check_key", {"key": key}
        meter = find_meter(low)
        if meter is not None:
            return "check_meter", {"meter": meter}
        tempo = find_tempo_check(low)
        if tempo is not None:
            return "check_tempo", {"op": tempo[0], "bpm": tempo[1]}
        mode = find_mode(low)
        if mode is not None:
            return "check_mode", {"mode": mode}
        dyn = find_dynamics(low)
        if dyn is not None:
            return "check_dynamics", {"dynamics": dyn}
        inst = find_instrument(low, tags_i)
        if inst is not None:
            return "check_instrument", {"instrument": inst}
        genre = find_genre(low, tags_g)
        if genre is not None:
            return "check_genre", {"genre": genre}
        feel = find_feel(low)
        mood = find_mood(low, tags_m)
        if mood is not None and not (feel is not None and mood in ("lively",)):
            return "check_mood", {"mood": mood}
        if feel is not None:
            return "check_feel", {"feel": feel}
        return None


_LOCK = threading.Lock()
_DEFAULT: IntentRecognizer | None = None


def get_recognizer() -> IntentRecognizer:
    """The process-wide recognizer with the shipped model and :data:`PROTOTYPES` (built on first use)."""
    global _DEFAULT
    with _LOCK:
        if _DEFAULT is None:
            _DEFAULT = IntentRecognizer()
        return _DEFAULT


def recognize(question: str, facts: Any = None) -> Intent:
    """Shortcut for ``get_recognizer().recognize(question, facts)``."""
    return get_recognizer().recognize(question, facts)
