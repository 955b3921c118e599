"""MusicQA-style question-answer pairs about recordings, for instruction tuning and evaluation.

MU-LLaMA built its MusicQA set by asking MPT-7B to write question-answer pairs from MusicCaps captions
and MagnaTagATune tags. This module writes such pairs from three sources, by templates or through an
injected LLM:

- :func:`pairs_from_facts`: from a measured :class:`~musicllm.analysis.facts.MusicFacts`. A value is
  only stated when its confidence is at least :data:`~musicllm.analysis.facts.USABLE`, and hedged
  ("probably") below :data:`~musicllm.analysis.facts.CONFIDENT`. Tempo is given in beats per minute of
  the felt beat (with the quarter-note tempo where the two differ), times as m:ss of the input audio.
  The transcribed-note summary carries no confidence, so no answer is made from it.
- :func:`pairs_from_caption`: from a MusicCaps caption (the "describe" answer, verbatim) and its aspect
  list, sorted into instruments / genre / mood / tempo / vocals / recording / dynamics by
  :mod:`musicllm.data.qa_vocab`; the aspects in no class answer "characteristics".
- :func:`pairs_from_tags`: from a MagnaTagATune-style tag list, through the same classes.
- :func:`pairs_from_llm`: any of the three through ``generate(messages) -> str`` (a chat LLM); the
  reply is parsed as JSON objects, one pair each; pairs that cannot be used are counted, never raised.

Question wordings are drawn from a few per task with a ``random.Random``, so the same seed gives the
same pairs. Records are ``{audio, question, answer, task, source, meta}`` (:class:`QARecord`); ``audio``
is a path or a reference such as ``youtube:<id>#t=30,40`` (W3C media-fragment times in seconds, for
MusicCaps whose audio is not distributed). :func:`dedupe` drops repeated pairs and near-repeated
questions per recording; :func:`split_by_recording` puts every record of one recording (``audio``
without its ``#`` fragment, or ``meta["recording"]``) in the same split, chosen by a hash, so the split
of a recording does not depend on what else is in the set; :func:`write_jsonl` writes atomically.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicllm.analysis.facts import CONFIDENT, USABLE, MusicFacts, Tag, format_time, readable_chord
from musicllm.data.qa_vocab import classify_aspect, readable_aspect, says_no_vocals
from musicllm.errors import MusicLLMError
from musicllm.files import atomic_write_text

TASKS = ("describe", "tempo", "key", "meter", "instruments", "genre", "mood", "chords", "structure",
         "dynamics", "length", "vocals", "recording", "characteristics", "tags", "other")
SOURCES = ("facts", "caption", "tags", "llm")
SPLITS = ("train", "valid", "test")

Generate = Callable[[list[dict[str, str]]], str]


@dataclass
class QARecord:
    """One question about one recording and its answer. ``task`` is one of :data:`TASKS` (open set),
    ``source`` one of :data:`SOURCES`; ``meta`` holds provenance (confidences, caption ids...)."""

    audio: str
    question: str
    answer: str
    task: str
    source: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown QA source {self.source!r}; expected one of {SOURCES}")
        if not self.task:
            raise ValueError("QA record without a task")

    def to_dict(self) -> dict[str, Any]:
        return {"audio": self.audio, "question": self.question, "answer": self.answer, "task": self.task,
                "source": self.source, "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QARecord:
        return cls(audio=d["audio"], question=d["question"], answer=d["answer"], task=d["task"],
                   source=d["source"], meta=dict(d.get("meta") or {}))


# ------------------------------------------------------------------------------------------ wording

QUESTIONS: dict[str, tuple[str, ...]] = {
    "describe": ("Describe the music.", "Can you describe this piece of music?",
                 "What does this music sound like?", "Give a detailed description of this audio clip.",
                 "How would you describe this song?"),
    "instruments": ("What instruments can be heard in this music?", "Which instruments are playing?",
                    "What instruments are used in this piece?", "Which instruments do you hear in this clip?"),
    "genre": ("What genre is this music?", "Which genre does this piece belong to?",
              "What style of music is this?", "How would you classify the genre of this track?"),
    "mood": ("What is the mood of this music?", "How does this music feel?",
             "What emotions does this piece convey?", "What kind of atmosphere does this track create?"),
    "tempo": ("What is the tempo of this music?", "How fast is this piece?", "Is this music fast or slow?",
              "How would you describe the tempo?"),
    "vocals": ("Are there any vocals in this music?", "What kind of vocals can be heard?",
               "Does this piece have singing?", "Is anyone singing in this track?"),
    "recording": ("What is the recording quality like?",
                  "How would you describe the sound quality of this recording?",
                  "What can you tell about how this was recorded?"),
    "dynamics": ("How loud is this music?", "What are the dynamics like?", "Is the music loud or soft?",
                 "How does the loudness change over the piece?"),
    "characteristics": ("What are the characteristics of this music?", "What else stands out in this clip?",
                        "What notable features does this music have?"),
    "tags": ("Which tags describe this music?", "List some keywords that describe this clip.",
             "What words would you use to tag this music?"),
    "key": ("What key is this piece in?", "What is the key of this music?",
            "Which key is the music played in?", "What is the tonal centre of this piece?"),
    "meter": ("What is the time signature?", "What meter is this music in?",
              "How many beats are there in each bar?", "What is the meter of this piece?"),
    "chords": ("What chords are used in this music?", "What is the chord progression?",
               "Which chords can you hear?", "What harmony does this piece use?"),
    "structure": ("What is the structure of this piece?", "How is this music organised into sections?",
                  "What form does this piece have?", "Can you outline the sections of this music?"),
    "length": ("How long is this recording?", "What is the duration of this clip?",
               "How long does this piece last?"),
}
HEDGES = ("probably", "likely", "most likely")
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                 "eleven", "twelve")


def join_words(items: Sequence[str]) -> str:
    """``["a"]`` -> ``"a"``, ``["a", "b"]`` -> ``"a and b"``, ``["a", "b", "c"]`` -> ``"a, b and c"``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _unique(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for x in items:
        k = x.lower()
        if x and k not in seen:
            seen.add(k)
            out.append(x)
    return out


def _record(audio: str, rng: random.Random, task: str, answer: str, source: str, **meta: Any) -> QARecord:
    return QARecord(audio=audio, question=rng.choice(QUESTIONS[task]), answer=_sentence(answer), task=task,
                    source=source, meta=meta)


# ------------------------------------------------------------------------------------------ facts

@dataclass
class _Fact:
    """One statable fact: its task, the value as a phrase, the answer sentence, and the confidence."""

    task: str
    phrase: str
    answer: str
    confidence: float

    @property
    def hedged(self) -> bool:
        return self.confidence < CONFIDENT


def _tempo_word(bpm: float) -> str:
    if bpm < 60:
        return "very slow"
    if bpm < 80:
        return "slow"
    if bpm < 126:
        return "medium"
    if bpm < 168:
        return "fast"
    return "very fast"


def _key_text(value: Any) -> str | None:
    from musicllm.score.model import Key

    if isinstance(value, dict) and "tonic" in value:
        return f"{value['tonic']} {value.get('mode', 'major')}"
    if isinstance(value, str) and value.strip():
        try:
            k = Key.parse(value)
        except ValueError:
            return value.strip()
        return f"{k.tonic} {k.mode}"
    if hasattr(value, "tonic") and hasattr(value, "mode"):
        return f"{value.tonic} {value.mode}"
    return None


def _meter_parts(value: Any) -> tuple[int, int] | None:
    from musicllm.score.model import Meter

    try:
        if isinstance(value, str):
            m = Meter.parse(value)
            return m.numerator, m.denominator
        if isinstance(value, dict):
            return int(value["numerator"]), int(value["denominator"])
        if isinstance(value, list | tuple) and len(value) == 2:
            return int(value[0]), int(value[1])
        if hasattr(value, "numerator") and hasattr(value, "denominator"):
            return int(value.numerator), int(value.denominator)
    except (ValueError, KeyError, TypeError):
        return None
    return None


def _num(n: int) -> str:
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else str(n)


def _tag_fact(task: str, tags: Sequence[Tag], rng: random.Random, lead: str, lead_hedged: str) -> _Fact | None:
    usable = sorted((t for t in tags if t.confidence >= USABLE and t.name), key=lambda t: -t.confidence)
    if not usable:
        return None
    sure = _unique(t.name for t in usable if t.confidence >= CONFIDENT)
    maybe = [n for n in _unique(t.name for t in usable if t.confidence < CONFIDENT) if n.lower() not in
             {s.lower() for s in sure}]
    if sure:
        answer = f"{lead} {join_words(sure)}"
        if maybe:
            answer += f"{',' if len(sure) > 1 else ''} and possibly {join_words(maybe)}"
    else:
        answer = f"{lead_hedged.format(hedge=rng.choice(HEDGES))} {join_words(maybe)}"
    phrase = join_words(sure + [f"possibly {m}" for m in maybe])
    return _Fact(task, phrase, answer, usable[0].confidence)


def _facts_statements(facts: MusicFacts, rng: random.Random) -> list[_Fact]:
    """Everything statable about ``facts`` (confidence >= USABLE), each as one :class:`_Fact`."""
    out: list[_Fact] = []

    def hedge() -> str:
        return rng.choice(HEDGES)

    # tempo: felt beat in BPM, quarter-note tempo added where it differs by more than 5 %
    beat, qpm = facts.beat_bpm, facts.tempo_qpm
    src = beat if beat.usable() else qpm
    if src.usable():
        bpm = float(src.value)
        phrase = f"about {bpm:.0f} beats per minute"
        if qpm.usable() and src is beat and abs(float(qpm.value) - bpm) > 0.05 * bpm:
            phrase += f" ({float(qpm.value):.0f} quarter notes per minute)"
        word = _tempo_word(bpm)
        conf = float(src.confidence)
        answer = (f"The tempo is {word}, {phrase}" if conf >= CONFIDENT
                  else f"The tempo is {hedge()} {word}, {phrase}")
        out.append(_Fact("tempo", f"{word}, {phrase}", answer, conf))

    if facts.key.usable() and (key := _key_text(facts.key.value)):
        conf = float(facts.key.confidence)
        answer = f"It is in {key}" if conf >= CONFIDENT else f"It is {hedge()} in {key}"
        out.append(_Fact("key", key, answer, conf))

    if facts.meter.usable() and (nd := _meter_parts(facts.meter.value)):
        num, den = nd
        compound = num in (6, 9, 12) and den >= 8
        beats = (f"{_num(num // 3)} beats per bar, each divided in three" if compound
                 else f"{_num(num)} beat{'s' if num != 1 else ''} per bar")
        conf = float(facts.meter.confidence)
        phrase = f"{num}/{den} time, with {beats}"
        answer = f"It is in {phrase}" if conf >= CONFIDENT else f"It is {hedge()} in {phrase}"
        out.append(_Fact("meter", f"{num}/{den} ({beats})", answer, conf))

    chords = [c for c in facts.chords if c.confidence >= USABLE and readable_chord(c.label) != "no chord"]
    if len(chords) >= 2:
        dur: Counter = Counter()
        for c in chords:
            dur[readable_chord(c.label)] += max(c.end_s - c.start_s, 0.0)
        main = [name for name, _ in dur.most_common(4)]
        opening: list[str] = []
        for c in chords:
            name = readable_chord(c.label)
            if not opening or opening[-1] != name:
                opening.append(name)
            if len(opening) == 4:
                break
        total = sum(max(c.end_s - c.start_s, 1e-6) for c in chords)
        conf = sum(c.confidence * max(c.end_s - c.start_s, 1e-6) for c in chords) / total
        phrase = f"mainly {join_words(main)}; it opens with {' - '.join(opening)}"
        answer = (f"The main chords are {join_words(main)}" if conf >= CONFIDENT
                  else f"The main chords are {hedge()} {join_words(main)}")
        if len(opening) >= 2:
            answer += f"; it opens with {' - '.join(opening)}"
        out.append(_Fact("chords", phrase, answer, conf))

    sections = [s for s in facts.sections if s.confidence >= USABLE]
    if len(sections) >= 2:
        parts = [f"{s.label} ({format_time(s.start_s)}-{format_time(s.end_s)})" for s in sections]
        labels = [s.label for s in sections]
        form = "".join(labels) if all(len(x) == 1 for x in labels) else "-".join(labels)
        conf = sum(s.confidence for s in sections) / len(sections)
        phrase = f"{_num(len(sections))} sections: {join_words(parts)}, so the form is {form}"
        answer = (f"It has {phrase}" if conf >= CONFIDENT else f"It {hedge()} has {phrase}")
        out.append(_Fact("structure", phrase, answer, conf))

    dyn = facts.dynamics
    if dyn is not None and dyn.confidence >= USABLE and dyn.level:
        trends = {"crescendo": "getting louder over time", "decrescendo": "getting softer over time",
                  "steady": "staying at about the same level", "varied": "with clear changes in loudness"}
        phrase = f"{dyn.level} overall, {trends.get(dyn.trend, dyn.trend)}" if dyn.trend else dyn.level
        answer = (f"It is {phrase}" if dyn.confidence >= CONFIDENT else f"It is {hedge()} {phrase}")
        out.append(_Fact("dynamics", phrase, answer, float(dyn.confidence)))

    for task, tags, lead, lead_h in (
        ("instruments", facts.instruments, "It features", "It {hedge} features"),
        ("genre", facts.genres, "The genre is", "The genre is {hedge}"),
        ("mood", facts.moods, "The mood is", "The mood is {hedge}"),
        ("characteristics", facts.other_tags, "It can be described as", "It can {hedge} be described as"),
    ):
        f = _tag_fact(task, tags, rng, lead, lead_h)
        if f is not None:
            out.append(f)

    if facts.duration_s and facts.duration_s > 0:
        d = facts.duration_s
        phrase = (f"{format_time(d)} ({d:.0f} seconds)" if d >= 60 else f"{d:.0f} seconds")
        out.append(_Fact("length", phrase, f"It lasts about {phrase}", 1.0))
    return out


def _describe_from(statements: Sequence[_Fact]) -> str | None:
    """One descriptive paragraph from the statable facts (each clause keeps its hedge)."""
    by = {f.task: f for f in statements}
    if not any(t in by for t in ("tempo", "key", "meter", "instruments", "genre", "mood")):
        return None
    sentences = [f.answer for t in ("genre", "instruments", "tempo", "meter", "key", "mood", "dynamics",
                                    "structure", "length") if (f := by.get(t))]
    return " ".join(_sentence(s) for s in sentences)


def pairs_from_facts(facts: MusicFacts, audio_ref: str, rng: random.Random | None = None) -> list[QARecord]:
    """Templated pairs from measured facts: one per statable fact plus a "describe" pair.

    Only values with confidence >= USABLE are stated; below CONFIDENT the answer is hedged. ``meta``
    holds the confidence and whether the answer is hedged.
    """
    rng = rng or random.Random(0)
    statements = _facts_statements(facts, rng)
    out = [_record(audio_ref, rng, f.task, f.answer, "facts", confidence=round(f.confidence, 3),
                   hedged=f.hedged) for f in statements]
    desc = _describe_from(statements)
    if desc:
        conf = min(f.confidence for f in statements)
        out.append(_record(audio_ref, rng, "describe", desc, "facts", confidence=round(conf, 3),
                           hedged=any(f.hedged for f in statements)))
    return out


def facts_to_text(facts: MusicFacts) -> str:
    """The statable facts as lines ``task: value`` for an LLM prompt; uncertain ones are marked."""
    lines = [f"- {f.task}: {f.phrase}" + (" (uncertain)" if f.hedged else "")
             for f in _facts_statements(facts, random.Random(0))]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ captions and tags

def _aspect_answers(aspects: Sequence[str], *, tags: bool) -> list[tuple[str, str]]:
    """(task, answer) pairs from classified aspects or tags."""
    classes: dict[str, list[str]] = {}
    no_vocals = False
    for a in _unique(readable_aspect(x) for x in aspects if x and x.strip()):
        cls = classify_aspect(a)
        if cls == "vocals" and says_no_vocals(a):
            no_vocals = True
            continue
        classes.setdefault(cls, []).append(a)
    out: list[tuple[str, str]] = []
    if classes.get("instruments"):
        out.append(("instruments", f"The music features {join_words(classes['instruments'])}"))
    if classes.get("genre"):
        out.append(("genre", f"The genre can be described as {join_words(classes['genre'])}"))
    if classes.get("mood"):
        out.append(("mood", f"The mood is {join_words(classes['mood'])}"))
    if classes.get("tempo"):
        t = classes["tempo"]
        out.append(("tempo", f"It has a {t[0]}" if len(t) == 1 and "tempo" in t[0].split()
                    else f"The tempo can be described as {join_words(t)}"))
    if classes.get("vocals"):
        out.append(("vocals", f"It has vocals: {join_words(classes['vocals'])}"))
    elif no_vocals:
        out.append(("vocals", "There are no vocals; it is instrumental"))
    if classes.get("recording"):
        out.append(("recording", f"The recording can be described as {join_words(classes['recording'])}"))
    if classes.get("dynamics"):
        out.append(("dynamics", f"The dynamics can be described as {join_words(classes['dynamics'])}"))
    if classes.get("other") and not tags:
        out.append(("characteristics", f"It can be characterised as {join_words(classes['other'])}"))
    return out


def pairs_from_caption(caption: str, aspects: Sequence[str], audio_ref: str,
                       rng: random.Random | None = None, **meta: Any) -> list[QARecord]:
    """Templated pairs from a MusicCaps-style caption and aspect list.

    "describe" is answered by the caption verbatim; each aspect class with members answers its task
    (instruments, genre, mood, tempo, vocals, recording, dynamics), the unclassified aspects answer
    "characteristics". ``meta`` is copied into every record.
    """
    rng = rng or random.Random(0)
    out = []
    if caption and caption.strip():
        out.append(_record(audio_ref, rng, "describe", " ".join(caption.split()), "caption", **meta))
    for task, answer in _aspect_answers(aspects, tags=False):
        out.append(_record(audio_ref, rng, task, answer, "caption", **meta))
    return out


def pairs_from_tags(tags: Sequence[str], audio_ref: str, rng: random.Random | None = None,
                    **meta: Any) -> list[QARecord]:
    """Templated pairs from a tag list (MagnaTagATune style: ``["guitar", "slow", "no vocals"]``):
    one "tags" pair listing them all, and one pair per tag class as for captions."""
    rng = rng or random.Random(0)
    names = _unique(readable_aspect(t) for t in tags if t and t.strip())
    if not names:
        return []
    out = [_record(audio_ref, rng, "tags", ", ".join(names), "tags", **meta)]
    for task, answer in _aspect_answers(names, tags=True):
        out.append(_record(audio_ref, rng, task, answer, "tags", **meta))
    return out


# ------------------------------------------------------------------------------------------ LLM

LLM_SYSTEM = (
    "You write question-answer pairs for training a music question-answering model. Each question is "
    "one a listener could ask about the music; each answer is one or two complete sentences. Use only "
    "information given to you; never invent details, and ask nothing the information does not answer. "
    "Values marked (uncertain) must be hedged with 'probably'. Output one JSON object per line, with the "
    'keys "question", "answer" and "task", where task is one of: ' + ", ".join(TASKS) + ". "
    'For example: {"question": "What is the tempo of this song?", "answer": "It has a slow tempo.", '
    '"task": "tempo"}. Output nothing else.'
)
_REFUSALS = re.compile(r"\b(not (mentioned|specified|stated|given|provided|clear from)|no information|"
                       r"cannot be determined|can't be determined|does not (say|mention|specify)|unknown)\b",
                       re.IGNORECASE)
_TASK_SYNONYMS = {"instrument": "instruments", "instrumentation": "instruments", "style": "genre",
                  "emotion": "mood", "feeling": "mood", "atmosphere": "mood", "speed": "tempo", "bpm": "tempo",
                  "time signature": "meter", "rhythm": "meter", "harmony": "chords", "chord": "chords",
                  "form": "structure", "sections": "structure", "loudness": "dynamics", "voice": "vocals",
                  "vocal": "vocals", "singing": "vocals", "quality": "recording", "production": "recording",
                  "description": "describe", "duration": "length", "tonality": "key"}


def llm_messages(text_or_facts: str | MusicFacts | Sequence[str], n_pairs: int = 5) -> list[dict[str, str]]:
    """The chat messages asking for ``n_pairs`` pairs about a caption (str), facts, or a tag list."""
    aspects = "for example instruments, genre, mood, tempo, vocals"
    if isinstance(text_or_facts, MusicFacts):
        info = "Measured facts about the recording:\n" + (facts_to_text(text_or_facts) or "- (none)")
        tasks = [f.task for f in _facts_statements(text_or_facts, random.Random(0))]
        aspects = "from: " + ", ".join(tasks) if tasks else aspects
    elif isinstance(text_or_facts, str):
        info = "Description of the music:\n" + " ".join(text_or_facts.split())
    else:
        info = "Tags of the music: " + ", ".join(t.strip() for t in text_or_facts if t and t.strip())
    user = (f"{info}\n\nWrite {n_pairs} question-answer pairs about this music, each about a different "
            f"aspect ({aspects}). One JSON object per line.")
    return [{"role": "system", "content": LLM_SYSTEM}, {"role": "user", "content": user}]


def _json_objects(text: str) -> tuple[list[Any], int]:
    """Every JSON value that starts with ``{`` or ``[`` in ``text`` (code fences and prose around them
    ignored), and the number of ``{``-led lines that could not be decoded."""
    dec = json.JSONDecoder()
    found: list[Any] = []
    bad = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "{[":
            try:
                obj, end = dec.raw_decode(text, i)
            except json.JSONDecodeError:
                line_start = text.rfind("\n", 0, i) + 1
                if ch == "{" and not text[line_start:i].strip(" \t-*0123456789.,`"):
                    bad += 1
                    nxt = text.find("\n", i)
                    i = len(text) if nxt < 0 else nxt
                else:
                    i += 1
                continue
            if isinstance(obj, list):
                found.extend(obj)
            else:
                found.append(obj)
            i = end
        else:
            i += 1
    return found, bad


_QA_LINES = re.compile(r"^\s*(?:\d+[.)]\s*)?(?:Q(?:uestion)?\s*\d*\s*[:.-])\s*(?P<q>.+?)\s*\n\s*"
                       r"(?:A(?:nswer)?\s*\d*\s*[:.-])\s*(?P<a>.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def parse_llm_pairs(text: str) -> tuple[list[dict[str, str]], int]:
    """Parse an LLM reply into ``[{"question", "answer", "task"}]`` and a count of unusable items.

    Accepted: JSON objects one per line, a JSON array, objects inside code fences or prose, and as a
    fallback ``Q: ... / A: ...`` line pairs. An item is unusable when it is not an object with string
    ``question`` and ``answer`` (keys matched case-insensitively, ``q``/``a`` allowed), the question has
    fewer than 5 or more than 300 characters, the answer is empty or over 1,500 characters, or the answer
    says the information is missing ("not mentioned", "unknown"...). A reply with nothing usable in it
    counts as one unusable item. Unknown tasks become "other".
    """
    items, bad = _json_objects(text or "")
    if not items:
        items = [{"question": m["q"], "answer": m["a"]} for m in _QA_LINES.finditer(text or "")]
    unwrapped: list[Any] = []
    for it in items:  # {"pairs": [{...}, ...]} and the like
        nested = [v for v in it.values() if isinstance(v, list)] if isinstance(it, dict) else []
        if nested and not {"question", "q"} & {str(k).strip().lower() for k in it}:
            unwrapped.extend(x for v in nested for x in v)
        else:
            unwrapped.append(it)
    pairs: list[dict[str, str]] = []
    for it in unwrapped:
        if not isinstance(it, dict):
            bad += 1
            continue
        low = {str(k).strip().lower(): v for k, v in it.items()}
        q = low.get("question", low.get("q"))
        a = low.get("answer", low.get("a"))
        if not isinstance(q, str) or not isinstance(a, str):
            bad += 1
            continue
        q, a = " ".join(q.split()), " ".join(a.split())
        if not 5 <= len(q) <= 300 or not re.search(r"[A-Za-z]", q) or not 1 <= len(a) <= 1500 \
                or _REFUSALS.search(a):
            bad += 1
            continue
        task = str(low.get("task") or "other").strip().lower()
        task = task if task in TASKS else _TASK_SYNONYMS.get(task, "other")
        pairs.append({"question": q, "answer": a, "task": task})
    if not pairs and bad == 0:
        bad = 1
    return pairs, bad


@dataclass
class LLMPairs:
    """What one LLM call gave: the usable records and how many items of the reply were skipped."""

    records: list[QARecord]
    skipped: int


def pairs_from_llm(text_or_facts: str | MusicFacts | Sequence[str], audio_ref: str, generate: Generate,
                   *, n_pairs: int = 5, **meta: Any) -> LLMPairs:
    """Ask ``generate`` (a chat LLM: messages -> reply text) for pairs about a caption, facts or tags.

    Invalid output is skipped and counted (:func:`parse_llm_pairs`), never raised; pairs past
    ``n_pairs`` are dropped. Errors raised by ``generate`` itself propagate. Records have source "llm"
    and ``meta["input"]`` naming what the LLM was shown.
    """
    kind = ("facts" if isinstance(text_or_facts, MusicFacts)
            else "caption" if isinstance(text_or_facts, str) else "tags")
    reply = generate(llm_messages(text_or_facts, n_pairs))
    pairs, skipped = parse_llm_pairs(reply if isinstance(reply, str) else "")
    records = [QARecord(audio=audio_ref, question=p["question"], answer=p["answer"], task=p["task"],
                        source="llm", meta={"input": kind, **meta}) for p in pairs[:n_pairs]]
    return LLMPairs(dedupe(records), skipped)


# ------------------------------------------------------------------------------------------ dedupe and split

_STOP = frozenset(
    "what which who whom how is are was were the a an this that these those of in on to do does did you "
    "can could would there any be it its it's music piece song track clip audio tell me please used "
    "heard hear playing played".split())


_NON_WORD = re.compile(r"[^\w&#/]+")


def _norm(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def _content(question: str) -> frozenset[str]:
    return frozenset(w for w in _norm(question).split() if w not in _STOP)


def dedupe(records: Iterable[QARecord], near: float = 0.8) -> list[QARecord]:
    """Drop repeats, keeping the first of each, per recording (``audio``):

    - the same question and answer after normalisation (case, punctuation, spaces);
    - a question whose content words (question words, articles and "music/song/piece..." removed)
      overlap an earlier question's by Jaccard >= ``near`` ("Which instruments are playing?" after
      "What instruments are playing in this song?"); questions of only such words compare whole.
    """
    seen: set[tuple[str, str, str]] = set()
    asked: dict[str, list[tuple[frozenset[str], str]]] = {}
    out = []
    for r in records:
        q = _norm(r.question)
        key = (r.audio, q, _norm(r.answer))
        if key in seen:
            continue
        words = _content(r.question)
        prior = asked.setdefault(r.audio, [])
        dup = False
        for w, pq in prior:
            if not words or not w:
                dup = q == pq
            else:
                dup = len(words & w) / len(words | w) >= near
            if dup:
                break
        if dup:
            continue
        seen.add(key)
        prior.append((words, q))
        out.append(r)
    return out


def recording_id(record: QARecord) -> str:
    """The recording a record belongs to: ``meta["recording"]`` if set, else ``audio`` without ``#...``."""
    rec = record.meta.get("recording")
    return str(rec) if rec else record.audio.split("#", 1)[0]


def split_by_recording(records: Iterable[QARecord], fractions: Sequence[float] = (0.8, 0.1, 0.1),
                       seed: int = 0) -> dict[str, list[QARecord]]:
    """Split into train / valid / test by recording: SHA-256 of ``seed`` and :func:`recording_id` gives a
    number in [0, 1) that picks the split by the cumulative ``fractions``. Deterministic, independent of
    record order and of the other recordings; the sizes follow ``fractions`` only on average."""
    fr = [float(f) for f in fractions]
    if len(fr) != len(SPLITS) or any(f < 0 for f in fr) or abs(sum(fr) - 1.0) > 1e-6:
        raise MusicLLMError(f"split fractions must be {len(SPLITS)} non-negative numbers summing to 1, "
                            f"got {', '.join(str(f) for f in fractions)}")
    bounds = [sum(fr[:i + 1]) for i in range(len(fr))]
    out: dict[str, list[QARecord]] = {s: [] for s in SPLITS}
    for r in records:
        h = hashlib.sha256(f"{seed}:{recording_id(r)}".encode()).digest()
        u = int.from_bytes(h[:8], "big") / 2**64
        idx = next((i for i, b in enumerate(bounds) if u < b), len(SPLITS) - 1)
        while fr[idx] == 0:  # u at a bound of an empty split: the next non-empty one below
            idx -= 1
        out[SPLITS[idx]].append(r)
    return out


def write_jsonl(path: str | Path, records: Iterable[QARecord]) -> Path:
    """Write one JSON object per line (UTF-8), atomically."""
    lines = [json.dumps(r.to_dict(), ensure_ascii=False) for r in records]
    return atomic_write_text(path, "".join(line + "\n" for line in lines))


def read_jsonl(path: str | Path) -> list[QARecord]:
    """Read records written by :func:`write_jsonl`."""
    return [QARecord.from_dict(json.loads(line)) for line in Path(path).read_text("utf-8").splitlines()
            if line.strip()]


# ------------------------------------------------------------------------------------------ inputs

@dataclass
class CaptionItem:
    """One MusicCaps row: audio reference, caption, aspect list and provenance."""

    audio: str
    caption: str
    aspects: list[str]
    meta: dict[str, Any]


MUSICCAPS_COLUMNS = ("ytid", "start_s", "end_s", "aspect_list", "caption")


def musiccaps_audio_ref(ytid: str, start_s: float, end_s: float) -> str:
    """``youtube:<id>#t=<start>,<end>`` (seconds): MusicCaps audio is a 10 s cut of a YouTube video."""
    return f"youtube:{ytid}#t={start_s:g},{end_s:g}"


def _parse_aspects(text: str) -> list[str]:
    text = (text or "").strip()
    if not text:
        return []
    try:
        val = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        val = [x.strip(" '\"[]") for x in text.split(",")]
    if isinstance(val, str):
        val = [val]
    if not isinstance(val, list | tuple):
        return []
    return [str(x).strip() for x in val if str(x).strip()]


def read_musiccaps(path: str | Path) -> list[CaptionItem]:
    """Rows of a MusicCaps CSV (``ytid, start_s, end_s, aspect_list, caption``, other columns ignored)."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in MUSICCAPS_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise MusicLLMError(f"{p}: not a MusicCaps CSV (missing column(s) {', '.join(missing)})")
            items = []
            for n, row in enumerate(reader, start=2):
                try:
                    start, end = float(row["start_s"]), float(row["end_s"])
                except (TypeError, ValueError):
                    raise MusicLLMError(f"{p}:{n}: start_s/end_s are not numbers") from None
                ytid = (row["ytid"] or "").strip()
                if not ytid:
                    raise MusicLLMError(f"{p}:{n}: empty ytid")
                items.append(CaptionItem(audio=musiccaps_audio_ref(ytid, start, end), caption=row["caption"] or "",
                                         aspects=_parse_aspects(row["aspect_list"]),
                                         meta={"ytid": ytid, "start_s": start, "end_s": end}))
    except UnicodeDecodeError:
        raise MusicLLMError(f"{p}: not a UTF-8 text file") from None
    except csv.Error as exc:
        raise MusicLLMError(f"{p}: unreadable CSV ({exc})") from None
    return items


@dataclass
class TagItem:
    """One tagged clip: audio reference, tags, and provenance (``recording`` groups clips for splits)."""

    audio: str
    tags: list[str]
    meta: dict[str, Any]


_MTAT_CLIP = re.compile(r"-\d+-\d+\.mp3$")


def read_tag_items(path: str | Path) -> list[TagItem]:
    """Tagged clips from JSONL (``{"audio": ..., "tags": [...], "recording"?: ...}`` per line) or from
    MagnaTagATune's ``annotations_final.csv`` (tab-separated 0/1 columns, ``clip_id`` ... ``mp3_path``;
    clips of one track share a recording: the path without its ``-<n>-<m>.mp3`` segment suffix)."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except UnicodeDecodeError:
        raise MusicLLMError(f"{p}: not a UTF-8 text file") from None
    first = text.lstrip()[:1]
    items: list[TagItem] = []
    if first == "{":
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                raise MusicLLMError(f"{p}:{n}: not a JSON object") from None
            tags = d.get("tags") if isinstance(d, dict) else None
            audio = d.get("audio") if isinstance(d, dict) else None
            if not isinstance(audio, str) or not audio or not isinstance(tags, list):
                raise MusicLLMError(f'{p}:{n}: expected {{"audio": "...", "tags": [...]}}')
            meta = {"recording": str(d["recording"])} if d.get("recording") else {}
            items.append(TagItem(audio, [str(t) for t in tags], meta))
        return items
    rows = list(csv.reader(text.splitlines(), delimiter="\t"))
    if not rows or "mp3_path" not in rows[0] or "clip_id" not in rows[0]:
        raise MusicLLMError(f"{p}: expected JSONL lines with audio and tags, or MagnaTagATune's "
                            "tab-separated annotations_final.csv")
    head = rows[0]
    i_path, i_clip = head.index("mp3_path"), head.index("clip_id")
    tag_cols = [(i, name) for i, name in enumerate(head) if i not in (i_path, i_clip)]
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(head):
            raise MusicLLMError(f"{p}:{n}: {len(row)} columns, the header has {len(head)}")
        audio = row[i_path].strip()
        tags = [name for i, name in tag_cols if row[i].strip() == "1"]
        items.append(TagItem(audio, tags, {"clip_id": row[i_clip], "recording": _MTAT_CLIP.sub("", audio)}))
    return items


def read_facts_dir(path: str | Path) -> list[tuple[str, MusicFacts, Path]]:
    """``(audio_ref, facts, json_path)`` for every ``*.json`` under ``path`` (sorted) that is a
    MusicFacts file (its ``schema`` starts with ``musicllm.facts/``); other JSON files are skipped.
    The audio reference is the facts' ``source``, or the JSON path when that is empty."""
    root = Path(path)
    files = [root] if root.is_file() else sorted(root.rglob("*.json"))
    out = []
    for f in files:
        try:
            d = json.loads(f.read_text("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise MusicLLMError(f"{f}: not a JSON file") from None
        if not isinstance(d, dict) or not str(d.get("schema", "")).startswith("musicllm.facts/"):
            continue
        try:
            facts = MusicFacts.from_dict(d)
        except (KeyError, TypeError) as exc:
            raise MusicLLMError(f"{f}: not a valid MusicFacts file ({exc})") from None
        out.append((facts.source or str(f), facts, f))
    return out


# ------------------------------------------------------------------------------------------ the whole build

@dataclass
class QABuild:
    """The result of :func:`build_qa`: deduplicated records and what happened on the way."""

    records: list[QARecord]
    n_items: int = 0
    n_generated: int = 0
    llm_skipped: int = 0
    llm_failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def n_duplicates(self) -> int:
        return self.n_generated - len(self.records)

    def by_task(self) -> Counter:
        return Counter(r.task for r in self.records)


def build_qa(*, captions: str | Path | None = None, facts: str | Path | None = None,
             tags: str | Path | None = None, seed: int = 0, generate: Generate | None = None,
             n_pairs: int = 5, limit: int | None = None,
             on_item: Callable[[int, int], None] | None = None) -> QABuild:
    """Pairs from any of a MusicCaps CSV, a folder of MusicFacts JSON, and a tag file; deduplicated.

    Without ``generate`` the templates write the pairs; with it, the LLM does (``n_pairs`` asked per
    item). Each item's random wording depends only on ``seed`` and its audio reference. ``limit`` takes
    the first items of each input. A ``MusicLLMError`` from ``generate`` (an unreachable backend) is
    counted in ``llm_failed`` and kept in ``errors``; if the first three calls all fail, it is raised.
    ``on_item(done, total)`` is called after each item (for a progress bar).
    """
    jobs: list[tuple[str, Any, Any, dict[str, Any]]] = []  # (kind, audio, payload, meta)
    if captions is not None:
        for it in read_musiccaps(captions)[:limit]:
            jobs.append(("caption", it.audio, it, it.meta))
    if facts is not None:
        found = read_facts_dir(facts)
        if not found:
            raise MusicLLMError(f"{facts}: no MusicFacts JSON files found")
        for audio, fa, path in found[:limit]:
            jobs.append(("facts", audio, fa, {"facts_file": str(path)}))
    if tags is not None:
        for t in read_tag_items(tags)[:limit]:
            jobs.append(("tags", t.audio, t, t.meta))
    result = QABuild(records=[], n_items=len(jobs))
    generated: list[QARecord] = []
    for i, (kind, audio, payload, meta) in enumerate(jobs):
        rng = random.Random(f"{seed}:{kind}:{audio}")
        if generate is None:
            if kind == "caption":
                generated += pairs_from_caption(payload.caption, payload.aspects, audio, rng, **meta)
            elif kind == "facts":
                generated += [_with_meta(r, meta) for r in pairs_from_facts(payload, audio, rng)]
            else:
                generated += pairs_from_tags(payload.tags, audio, rng, **meta)
        else:
            what = (payload if kind == "facts" else payload.tags if kind == "tags"
                    else _caption_with_aspects(payload))
            try:
                got = pairs_from_llm(what, audio, generate, n_pairs=n_pairs, **meta)
            except MusicLLMError as exc:
                result.llm_failed += 1
                result.errors.append(f"{audio}: {exc}")
                if result.llm_failed == i + 1 == 3:
                    raise
            else:
                generated += got.records
                result.llm_skipped += got.skipped
        if on_item is not None:
            on_item(i + 1, len(jobs))
    result.n_generated = len(generated)
    result.records = dedupe(generated)
    return result


def _with_meta(r: QARecord, meta: dict[str, Any]) -> QARecord:
    r.meta = {**r.meta, **meta}
    return r


def _caption_with_aspects(item: CaptionItem) -> str:
    text = " ".join(item.caption.split())
    if item.aspects:
        text += "\nAspects: " + ", ".join(item.aspects)
    return text


def write_splits(out_dir: str | Path, splits: dict[str, list[QARecord]]) -> dict[str, Path]:
    """Write ``<split>.jsonl`` for every split into ``out_dir`` (atomically, each file)."""
    out = Path(out_dir)
    return {name: write_jsonl(out / f"{name}.jsonl", recs) for name, recs in splits.items()}
