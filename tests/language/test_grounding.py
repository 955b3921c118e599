"""Grounded prompts: the facts travel as compact JSON with the answer-only-from-facts rules."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from musicllm.errors import MusicLLMError
from musicllm.language.grounding import CANT_TELL, compact_facts_json, grounded_messages

FACTS = {
    "duration_s": 12.3456789,
    "tempo": {"bpm": 96.04999, "confidence": 0.91},
    "key": {"value": "G major", "confidence": 0.31},
    "instruments": [{"name": "piano", "confidence": 0.8}],
    "loudness_db": float("nan"),
    "beats": np.array([0.5, 1.125]),
    "n_notes": np.int64(42),
}


def _facts_in(system: str) -> dict:
    return json.loads(system.split("Facts:\n", 1)[1])


def test_facts_are_compact_rounded_json() -> None:
    text = compact_facts_json(FACTS)
    assert "\n" not in text and ": " not in text
    data = json.loads(text)
    assert data["duration_s"] == 12.346 and data["tempo"]["bpm"] == 96.05
    assert data["loudness_db"] is None  # NaN is not JSON
    assert data["beats"] == [0.5, 1.125] and data["n_notes"] == 42
    assert json.loads(compact_facts_json(FACTS, float_digits=1))["duration_s"] == 12.3


def test_long_lists_are_cut_with_a_marker() -> None:
    facts = {"beats_s": [i * 0.5 for i in range(100)], "chords": [{"label": "C:maj"}] * 3}
    data = json.loads(compact_facts_json(facts, max_list_items=4))
    assert data["beats_s"] == [0.0, 0.5, 1.0, 1.5, "... (96 more)"]
    assert data["chords"] == facts["chords"]
    assert len(json.loads(compact_facts_json(facts, max_list_items=None))["beats_s"]) == 100


def test_facts_may_be_musicfacts_or_its_json() -> None:
    from musicllm.analysis.facts import Measured, MusicFacts

    facts = MusicFacts(duration_s=30.0, tempo_qpm=Measured(120.0, 0.9), beat_bpm=Measured(120.0, 0.9),
                       meter=Measured("4/4", 0.7), key=Measured("A minor", 0.3), beats_s=[0.5, 1.0])
    as_dict = json.loads(compact_facts_json(facts.to_dict()))
    assert json.loads(compact_facts_json(facts)) == as_dict == json.loads(compact_facts_json(facts.to_json()))
    assert as_dict["key"] == {"value": "A minor", "confidence": 0.3}
    with pytest.raises(MusicLLMError, match="not valid JSON"):
        compact_facts_json("{tempo")


def test_describe_prompt_carries_facts_and_rules() -> None:
    messages = grounded_messages(FACTS, "describe")
    assert [m["role"] for m in messages] == ["system", "user"]
    system, user = messages[0]["content"], messages[1]["content"]
    assert _facts_in(system) == json.loads(compact_facts_json(FACTS))
    assert "ONLY" in system and CANT_TELL in system and "below 0.5" in system and "below 0.25" in system
    assert "one paragraph" in user and "MusicCaps" in user


def test_answer_prompt_carries_the_question() -> None:
    messages = grounded_messages(FACTS, "answer", "  What   key is it in?\n", low_confidence=0.7)
    assert "below 0.7" in messages[0]["content"]
    assert "Question about the recording: What key is it in?" in messages[1]["content"]
    assert CANT_TELL in messages[1]["content"]


@pytest.mark.parametrize("question", [None, "", "   "])
def test_answer_needs_a_question(question: str | None) -> None:
    with pytest.raises(MusicLLMError, match="empty question"):
        grounded_messages(FACTS, "answer", question)


def test_bad_task_and_bad_facts_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="unknown task"):
        grounded_messages(FACTS, "summarise")
    with pytest.raises(TypeError, match="must be a dict"):
        compact_facts_json([1, 2])  # type: ignore[arg-type]
    assert math.isnan(FACTS["loudness_db"])  # the input is not modified
