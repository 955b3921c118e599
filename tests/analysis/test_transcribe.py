"""End to end on the bundled example: a Bach chorale (BWV 66.6, F# minor) rendered at 80 qpm."""

from __future__ import annotations

from pathlib import Path

import pytest

import musicllm

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chorale_quartet.flac"


@pytest.fixture(scope="module")
def result():
    return musicllm.transcribe(EXAMPLE)


def test_chorale_tempo_meter_key(result):
    s = result.score
    assert abs(s.tempo_qpm - 80.0) / 80.0 <= 0.04
    assert str(s.meter) == "4/4"
    assert str(s.key) == "F# minor"
    assert 2 <= len(s.parts) <= 4


def _reference():
    """The example's score: BWV 66.6 at 80 qpm on flute, clarinet, viola, cello (as rendered)."""
    import music21

    from musicllm.score.musicxml import music21_to_score

    ref = music21_to_score(music21.corpus.parse("bach/bwv66.6"))
    ref.tempo_qpm = 80.0
    ref = ref.with_seconds_from_qn()
    for p, prog, name in zip(ref.parts, (73, 71, 41, 42), ("Flute", "Clarinet", "Viola", "Cello"), strict=True):
        p.notes = [n for n in p.notes if n.onset_s < 23.4]
        p.program, p.name = prog, name
    return ref


def test_chorale_notes_against_the_score(result):
    from musicllm.evaluation.transcription import note_metrics

    m = note_metrics(_reference(), result.score)
    assert m["onset_f1"] > 0.6


def test_chorale_parts_are_named_by_their_recognised_instruments(result):
    import dataclasses

    from musicllm.evaluation.abc_reward import score_reward

    parts, guesses = result.score.parts, result.instrument_guesses
    assert len(guesses) == len(parts)
    assert [p.program for p in parts] == [g.program for g in guesses]
    assert [r["program"] for r in result.to_dict()["instrument_recognition"]] == [g.program for g in guesses]
    # the ABC reward's instrument component, against the true instruments, gains from the names
    unnamed = dataclasses.replace(result.score, parts=[dataclasses.replace(p, name=f"Part {i + 1}", program=0)
                                                       for i, p in enumerate(parts)])
    ref = _reference()
    assert score_reward(result.score, ref).instrument > score_reward(unnamed, ref).instrument + 0.3
    user = musicllm.transcribe(EXAMPLE, instruments=("oboe", "bassoon"), n_parts=2)
    assert [p.name for p in user.score.parts] == ["Oboe", "Bassoon"] and not user.instrument_guesses


def test_every_note_is_quantised_and_writers_work(result, tmp_path):
    assert all(n.onset_qn is not None and n.offset_qn > n.onset_qn for p in result.score.parts for n in p.notes)
    paths = result.write(tmp_path, "c")
    assert sorted(p.suffix for p in paths) == [".abc", ".json", ".mid", ".musicxml", ".svg"]
    from musicllm.score.abc import read_abc

    back = read_abc(result.to_abc())
    assert sum(len(p.notes) for p in back.parts) > 0.9 * sum(len(p.notes) for p in result.score.parts)
