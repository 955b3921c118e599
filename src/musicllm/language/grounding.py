"""Chat prompts that ground an LLM in the measured facts about one recording.

LLark built its instruction data by prompting a language model with a track's metadata and telling
it to use nothing else; here the "metadata" is what musicllm measured (``MusicFacts.to_json()``), passed
as compact JSON, and the model is told to answer only from it.

Conventions
-----------
- ``facts`` is ``MusicFacts.to_dict()`` (or its ``to_json()`` string, or the ``MusicFacts`` itself),
  treated as an opaque JSON object. To save tokens, floats are rounded to ``float_digits`` decimals
  (times in seconds to the millisecond by default) and lists longer than ``max_list_items`` (beat times,
  loudness curves) keep their first items followed by a ``"... (N more)"`` marker; NaN/inf become
  ``null``; anything else not JSON-able is written with ``str()``.
- Confidences (0..1, in a ``confidence`` field next to the value) follow the facts' contract
  (:data:`musicllm.analysis.facts.CONFIDENT`, :data:`~musicllm.analysis.facts.USABLE`): below
  ``low_confidence`` (0.5) the model must hedge ("probably"), below ``unusable`` (0.25) it must treat
  the value as unknown.
- When the facts do not contain the answer the model must reply with :data:`CANT_TELL` exactly.
- Tasks: ``describe`` (one MusicCaps-style paragraph) and ``answer`` (a reply to ``question``).
- Messages are ``system`` + ``user``; backends whose chat template refuses a system role fold it into
  the user message.
"""

from __future__ import annotations

import json
import math
from typing import Any

from musicllm.analysis.facts import CONFIDENT, USABLE
from musicllm.errors import MusicLLMError

CANT_TELL = "I can't tell from the recording."
TASKS = ("describe", "answer")

_SYSTEM = """You are a music expert who writes about one recording. You cannot hear it: all you know \
is the JSON of facts below, measured from the audio by analysis software.

Rules:
1. Use ONLY these facts. Never add instruments, genres, moods, lyrics, artists, places, eras or any \
other detail that the facts do not contain.
2. If the facts do not say what is asked, reply exactly: "{cant_tell}"
3. A value whose confidence is below {low:g} is uncertain: hedge it ("possibly", "seems to", \
"probably"), never state it as certain. A value whose confidence is below {unusable:g} is unknown: do \
not mention it.
4. Write plain prose for a listener: do not mention JSON, field names, confidence numbers or the \
analysis software.

Reading the facts: names ending in _s are seconds, _db decibels, _qpm quarter notes per minute, _bpm \
beats per minute; pitches are MIDI numbers (60 = middle C); a chord such as "A:min" is A minor and "N" \
is no chord.

Facts:
{facts}"""

_DESCRIBE = """Describe this recording in one paragraph of two to four sentences, like a MusicCaps \
caption: what it sounds like (instruments, texture), its tempo and feel, key or harmony, metre and \
structure, as far as the facts tell. Do not use lists or headings."""

_ANSWER = """Question about the recording: {question}

Answer in one to three sentences, from the facts only. If they do not answer the question, reply \
exactly: "{cant_tell}\""""


def _as_dict(facts: Any) -> dict[str, Any]:
    if isinstance(facts, str):
        try:
            facts = json.loads(facts)
        except ValueError as exc:
            raise MusicLLMError(f"the facts are not valid JSON ({exc})") from None
    elif hasattr(facts, "to_dict") and callable(facts.to_dict):
        facts = facts.to_dict()
    if not isinstance(facts, dict):
        raise TypeError(f"facts must be a dict (MusicFacts.to_dict()), got {type(facts).__name__}")
    return facts


LLM_CURVE_POINTS = 24  # the loudness curve is resampled to at most this many points for an LLM


def llm_view(facts: dict[str, Any]) -> dict[str, Any]:
    """A MusicFacts dict without the long raw series an LLM cannot use well: beat and bar times become
    counts and the mean beat period; the loudness curve is resampled to at most
    :data:`LLM_CURVE_POINTS` points (``hop_s`` adjusted); the analysers' timings are dropped.
    Other dicts pass unchanged."""
    if not str(facts.get("schema", "")).startswith("musicllm.facts"):
        return facts
    d = dict(facts)
    beats = d.pop("beats_s", None) or []
    bars = d.pop("downbeats_s", None) or []
    d["n_beats"] = len(beats)
    d["n_bars"] = len(bars)
    if len(beats) > 1:
        d["mean_beat_period_s"] = (beats[-1] - beats[0]) / (len(beats) - 1)
    dyn = d.get("dynamics")
    if isinstance(dyn, dict) and len(dyn.get("curve_db") or []) > LLM_CURVE_POINTS:
        curve = dyn["curve_db"]
        step = math.ceil(len(curve) / LLM_CURVE_POINTS)
        d["dynamics"] = {**dyn, "curve_db": [max(curve[i:i + step]) for i in range(0, len(curve), step)],
                         "hop_s": dyn.get("hop_s", 0.0) * step}
    if isinstance(d.get("analyzers"), dict):
        d["analyzers"] = {k: v for k, v in d["analyzers"].items() if k != "timings_s"}
    return d


def compact_facts_json(facts: Any, float_digits: int = 3, max_list_items: int | None = 64) -> str:
    """``facts`` as one-line JSON (:func:`llm_view`), floats rounded and long lists cut (see the module
    docstring)."""
    tidy = _tidy(llm_view(_as_dict(facts)), float_digits, max_list_items)
    return json.dumps(tidy, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _tidy(value: Any, digits: int, max_items: int | None) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return round(value, digits) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _tidy(v, digits, max_items) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_tidy(v, digits, max_items) for v in value[:max_items]]
        if max_items is not None and len(value) > max_items:
            items.append(f"... ({len(value) - max_items} more)")
        return items
    tolist = getattr(value, "tolist", None)  # numpy / torch arrays and scalars
    if callable(tolist):
        return _tidy(tolist(), digits, max_items)
    return str(value)


def grounded_messages(facts: Any, task: str = "describe", question: str | None = None, *,
                      low_confidence: float = CONFIDENT, unusable: float = USABLE, float_digits: int = 3,
                      max_list_items: int | None = 64) -> list[dict[str, str]]:
    """System + user messages asking for a caption (``describe``) or an answer (``answer``) from ``facts``.

    ``question`` is required for ``answer`` (a :class:`MusicLLMError` if missing or blank) and ignored
    for ``describe``.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    facts_json = compact_facts_json(facts, float_digits, max_list_items)
    system = _SYSTEM.format(cant_tell=CANT_TELL, low=low_confidence, unusable=unusable, facts=facts_json)
    if task == "describe":
        user = _DESCRIBE
    else:
        q = " ".join((question or "").split())
        if not q:
            raise MusicLLMError("empty question: ask something about the recording")
        user = _ANSWER.format(question=q, cant_tell=CANT_TELL)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
