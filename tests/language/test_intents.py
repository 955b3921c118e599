"""Intent recognition: the time / value rules (no model), then the MiniLM embedding classifier."""

from __future__ import annotations

import numpy as np
import pytest

from musicllm.language import intents
from musicllm.language.intents import (
    canonical_instrument,
    find_dynamics,
    find_key,
    find_meter,
    find_tempo_check,
    instrument_matches,
    is_yes_no,
    parse_time,
)


@pytest.mark.parametrize(("question", "slots"), [
    ("What chord is at 1:30?", {"time_s": 90}),
    ("what happens 45 seconds in", {"time_s": 45}),
    ("What do we hear around the 20 second mark?", {"time_s": 20}),
    ("What happens at 2 minutes?", {"time_s": 120}),
    ("What's playing a minute and a half in?", {"time_s": 90}),
    ("chord at 1m20s?", {"time_s": 80}),
    ("What is at second 7?", {"time_s": 7}),
    ("Which chords are in the first 10 seconds?", {"time_s": 0, "time_end_s": 10}),
    ("What happens between 0:30 and 1:00?", {"time_s": 30, "time_end_s": 60}),
    ("What happens in the last 15 seconds?", {"anchor": "end", "span_s": 15}),
    ("What is the final chord?", {"anchor": "end"}),
    ("How does it end?", {"anchor": "end"}),
    ("What happens halfway through?", {"anchor": "middle"}),
    ("What chord does it start on?", {"time_s": 0}),
])
def test_parse_time_finds_the_moment(question: str, slots: dict) -> None:
    got, text = parse_time(question)
    assert set(got) == set(slots)
    for k, v in slots.items():
        assert got[k] == pytest.approx(v)
    if "time_s" in slots and slots["time_s"] and "end" not in slots:
        assert "that point" in text or "beginning" in text


@pytest.mark.parametrize("question", [
    "How long does the song last?", "Is it faster than 120 bpm?", "What is the tempo?", "Is it in 3/4?",
    "How many seconds long is it?",
])
def test_parse_time_ignores_non_moments(question: str) -> None:
    assert parse_time(question)[0] == {}


@pytest.mark.parametrize(("question", "key"), [
    ("Is it in D major?", "D major"), ("Is this in B flat major?", "Bb major"), ("is it in F# minor", "F# minor"),
    ("Is the piece in the key of C?", "C"), ("Am I right that it's in C major?", "C major"),
    ("is it in a minor?", "A minor"), ("Is it in a minor key?", None), ("Is this a major piece?", None),
])
def test_find_key(question: str, key: str | None) -> None:
    assert find_key(question) == key


def test_value_rules() -> None:
    assert find_meter("is it in 6/8?") == "6/8"
    assert find_meter("is it a waltz?") == "triple"
    assert find_meter("is it in common time") == "4/4"
    assert find_tempo_check("is it faster than 120 bpm?") == (">", 120.0)
    assert find_tempo_check("is the tempo under 80 beats per minute") == ("<", 80.0)
    assert find_tempo_check("is it about 70 bpm") == ("~", 70.0)
    assert find_tempo_check("is it in 3/4") is None
    assert find_dynamics("does it fade out?") == "decrescendo"
    assert find_dynamics("does it get louder") == "crescendo"
    assert find_dynamics("is it loud?") == "loud"
    assert canonical_instrument("drum kit") == "drums"
    assert instrument_matches("voice", "male vocals") and instrument_matches("guitar", "acoustic guitar")
    assert not instrument_matches("bass", "double bass") and not instrument_matches("piano", "violin")
    assert is_yes_no("is there a piano?") and is_yes_no("does it fade out?")
    assert not is_yes_no("is it fast or slow?") and not is_yes_no("what is the key?")


# -- with the shipped MiniLM ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recognizer() -> intents.IntentRecognizer:
    return intents.get_recognizer()


def test_encoder_matches_sentence_transformers(recognizer: intents.IntentRecognizer) -> None:
    # reference: sentence-transformers 6.2 encode(..., normalize_embeddings=True), first 6 dimensions
    ref = np.array([[-0.061357, 0.085635, -0.064273, -0.019575, -0.035908, 0.014727],
                    [-0.002108, -0.039447, 0.022982, -0.009134, -0.142705, 0.087132]])
    e = recognizer.encoder.encode(["What key is this piece in?", "Is there a piano?"])
    assert e.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(e[:, :6], ref, atol=1e-5)
    assert float(e[0] @ e[1]) == pytest.approx(0.3019, abs=1e-3)


# Fresh wordings (not in benchmarks/qa_questions.jsonl).
@pytest.mark.parametrize(("question", "name", "slots"), [
    ("How many BPM is this tune?", "tempo", {}),
    ("What key signature would you write for it?", "key", {}),
    ("Which instruments are being played here?", "instruments", {}),
    ("What sort of style is this?", "genre", {}),
    ("How long is the recording in minutes?", "duration", {}),
    ("What chord sounds at 0:42?", "chord_at", {"time_s": 42}),
    ("Which section is playing at 1:10?", "section_at", {"time_s": 70}),
    ("How loud is it at 0:20?", "loudness_at", {"time_s": 20}),
    ("What goes on at 1:00 in the music?", "at_time", {"time_s": 60}),
    ("Is it in E minor?", "check_key", {"key": "E minor"}),
    ("Is the tempo above 140 BPM?", "check_tempo", {"op": ">", "bpm": 140}),
    ("Is there an accordion in it?", "check_instrument", {"instrument": "accordion"}),
    ("Is the song folk?", "check_genre", {"genre": "folk"}),
    ("Does it fade out at the end?", "check_dynamics", {"dynamics": "decrescendo"}),
    ("Is it in 3/4 or 4/4?", "meter", {}),
    ("Who is the violinist?", "unknown", {}),
    ("What are they singing about?", "unknown", {}),
    ("In which year was this made?", "unknown", {}),
    ("zzzz", "unknown", {}),
])
def test_recognize(recognizer: intents.IntentRecognizer, question: str, name: str, slots: dict) -> None:
    it = recognizer.recognize(question)
    assert it.name == name, (question, it)
    for k, v in slots.items():
        assert it.slots[k] == (pytest.approx(v) if isinstance(v, int | float) else v)


def test_recognize_is_deterministic_and_uses_facts_tags(recognizer: intents.IntentRecognizer) -> None:
    from musicfacts_samples import confident

    a = recognizer.recognize("Is there a hurdy-gurdy?")
    b = recognizer.recognize("Is there a hurdy-gurdy?")
    assert a.to_dict() == b.to_dict()
    facts = confident()
    facts.instruments.append(type(facts.instruments[0])("hurdy-gurdy", 0.7))
    it = recognizer.recognize("Is there a hurdy-gurdy?", facts)
    assert (it.name, it.slots) == ("check_instrument", {"instrument": "hurdy-gurdy"})
