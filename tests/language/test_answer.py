"""answer(facts, question): measured values, hedges, "can't tell", yes/no, times, grounding, determinism."""

from __future__ import annotations

import re
import time

import pytest
from musicfacts_samples import confident, empty, uncertain

from musicllm.analysis.facts import USABLE, format_time, readable_chord
from musicllm.errors import MusicLLMError
from musicllm.language.answer import Answer, answer

CANT = re.compile(r"can(?:'|no)t tell", re.IGNORECASE)
HEDGE = re.compile(r"\b(probably|likely|seems?|possibly|may|less certain|uncertain|not (fully )?sure)\b",
                   re.IGNORECASE)


def test_tempo_key_meter_stated_plainly_when_confident() -> None:
    f = confident()
    tempo = answer(f, "What's the tempo of this track?")
    assert tempo.intent.name == "tempo" and re.search(r"\b120 (BPM|beats per minute)", tempo.text)
    assert not HEDGE.search(tempo.text)
    assert tempo.grounded_on == ["tempo_qpm"]
    assert "G major" in answer(f, "Which key is it in?").text
    assert "3/4" in answer(f, "What's the time signature?").text


def test_hedged_and_unusable_values() -> None:
    f = uncertain()
    tempo = answer(f, "What's the tempo of this track?").text
    assert "88" in tempo and HEDGE.search(tempo)
    key = answer(f, "Which key is it in?").text
    assert "E minor" in key and HEDGE.search(key)
    meter = answer(f, "What's the time signature?").text  # confidence 0.1 < USABLE
    assert CANT.search(meter) and "4/4" not in meter
    genre = answer(f, "What genre is this?").text  # classical at 0.2 < USABLE
    assert CANT.search(genre) and "classical" not in genre


def test_nothing_measured_says_so() -> None:
    f = empty()
    for q in ("What's the tempo?", "What key is it in?", "Which instruments play?", "What chords are used?",
              "How loud is it?", "What is the pitch range?"):
        a = answer(f, q)
        assert CANT.search(a.text), (q, a.text)
    assert format_time(30.0) in answer(f, "How long is it?").text


def test_instruments_only_over_threshold_and_hedged() -> None:
    a = answer(confident(), "What instruments are playing?")
    assert "violin" in a.text and "acoustic guitar" in a.text
    assert "accordion" in a.text and HEDGE.search(a.text)  # 0.3: hedged
    assert "piano" not in a.text  # 0.1: never stated
    assert a.grounded_on == ["instruments"]


@pytest.mark.parametrize(("question", "lead"), [
    ("Is it in G major?", "yes"), ("Is it in D major?", "no"), ("Is it in a minor key?", "no"),
    ("Is it faster than 100 bpm?", "yes"), ("Is it slower than 100 bpm?", "no"), ("Is the tempo about 120 bpm?", "yes"),
    ("Is it in 3/4?", "yes"), ("Is it in 6/8?", "no"), ("Is there a violin?", "yes"), ("Is there a piano?", "no"),
    ("Is there an accordion?", "probably"), ("Is it folk?", "yes"), ("Is it jazz?", "no"), ("Is it happy?", "yes"),
    ("Does it get louder?", "yes"), ("Does it fade out?", "no"), ("Is it fast?", "yes"),
])
def test_yes_no(question: str, lead: str) -> None:
    a = answer(confident(), question)
    assert a.intent.name.startswith("check_"), a.intent
    low = a.text.lower()
    assert low.startswith(lead) and not (lead == "probably" and low.startswith("probably not")), a.text


def test_yes_no_cannot_tell_below_usable() -> None:
    a = answer(uncertain(), "Is it in 4/4?")
    assert a.intent.name == "check_meter" and CANT.search(a.text)
    assert answer(uncertain(), "Is it in E minor?").text.lower().startswith("probably")


def test_chord_and_section_at_a_time() -> None:
    f = confident()
    for t_s, q in ((30.0, "What chord is playing at 0:30?"), (75.0, "Which chord is at 1:15?")):
        expected = readable_chord(f.chord_at(t_s).label)
        a = answer(f, q)
        assert a.intent.name == "chord_at" and re.search(rf"\b{expected}\b", a.text), a.text
    s = answer(f, "What section are we in at 0:50?")
    assert s.intent.name == "section_at" and "section B" in s.text
    late = answer(f, "What chord is at 5:00?")
    assert "2:00" in late.text and not re.search(r"\b[A-G]m?\b(?! )", late.text.replace("2:00", ""))
    # hedged chord (0.4) and unusable chord (0.1) in the uncertain facts
    assert HEDGE.search(answer(uncertain(), "What chord is at 0:45?").text)
    assert CANT.search(answer(uncertain(), "What chord is at 0:10?").text)


def test_what_happens_at_a_time() -> None:
    a = answer(confident(), "What happens at 1:30?")
    assert a.intent.name == "at_time"
    assert "section A" in a.text and readable_chord(confident().chord_at(90).label) in a.text
    assert "LUFS" in a.text and set(a.grounded_on) >= {"sections", "chords", "dynamics"}


@pytest.mark.parametrize("question", [
    "What are the lyrics?", "Who is the singer?", "What year was this recorded?", "Who composed this?",
    "What is the title of this song?", "Will I like this?", "What's the capital of Peru?",
])
def test_out_of_scope_is_honest(question: str) -> None:
    a = answer(confident(), question)
    assert a.intent.name == "unknown" and CANT.search(a.text) and a.grounded_on == []
    assert not re.search(r"\d", a.text)  # no measured value slips in


def _numbers(text: str) -> set[float]:
    text = re.sub(r"\b\d{1,2}:\d{2}\b|\b\d+/\d+\b|\b[A-G][#b]?-?\d\b", " ", text)
    return {abs(float(x)) for x in re.findall(r"\d+(?:\.\d+)?", text)}


@pytest.mark.parametrize("question", [
    "What's the tempo?", "How busy is it?", "How loud is it?", "How many bars are there?", "Describe this piece.",
    "What is the pitch range?", "Is it faster than 150 bpm?", "What is the texture like?",
])
def test_grounding_numbers_come_from_facts_or_question(question: str) -> None:
    f = confident()
    d = f.dynamics
    n = f.notes
    allowed = {120.0, round(f.duration_s), len(f.beats_s), len(f.downbeats_s), abs(round(d.mean_db)), round(d.range_db),
               n.n_notes, n.density_per_s, n.mean_polyphony, n.max_polyphony, n.range_semitones, n.n_parts, 3.0}
    allowed |= {abs(round(v)) for v in d.curve_db}
    allowed |= {float(x) for x in re.findall(r"\d+", question)}
    stated = _numbers(answer(f, question).text)
    assert stated <= allowed, stated - allowed


def test_tags_below_usable_never_appear() -> None:
    f = confident()
    low = {t.name for t in [*f.instruments, *f.genres, *f.moods] if t.confidence < USABLE}
    for q in ("Describe this piece.", "What instruments are playing?", "What genre is this?", "What's the mood?"):
        text = answer(f, q).text.lower()
        assert not any(re.search(rf"\b{w}\b", text) for w in low), text


def test_deterministic_and_varied() -> None:
    f = confident()
    assert answer(f, "What is the tempo?").text == answer(f, "What is the tempo?").text
    texts = {answer(f, q).text for q in ("What is the tempo?", "What's the BPM?", "How many beats per minute?",
                                         "Tempo?", "Tell me the tempo please.", "What tempo is it played at?")}
    assert len(texts) >= 2 and all("120" in t for t in texts)


def test_bad_input_and_backend_hook() -> None:
    with pytest.raises(MusicLLMError):
        answer(confident(), "   ")
    with pytest.raises(MusicLLMError):
        answer(confident(), "x" * 5000)
    with pytest.raises(MusicLLMError, match="not a language backend"):
        answer(confident(), "What is the tempo?", backend=object())


def test_answer_json_and_latency() -> None:
    f = confident()
    answer(f, "warm up")  # model + prototypes loaded once per process
    t0 = time.perf_counter()
    a = answer(f, "What key is it in?")
    assert time.perf_counter() - t0 < 1.0
    assert isinstance(a, Answer)
    d = a.to_dict()
    assert d["intent"]["name"] == "key" and d["grounded_on"] == ["key"] and d["backend"] == "builtin"
    assert "G major" in a.to_json()
