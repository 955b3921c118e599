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


def test_chorale_notes_against_the_score(result):
    import music21

    from musicllm.evaluation.transcription import note_metrics
    from musicllm.score.musicxml import music21_to_score

    ref = music21_to_score(music21.corpus.parse("bach/bwv66.6"))
    ref.tempo_qpm = 80.0
    ref = ref.with_seconds_from_qn()
    for p in ref.parts:
        p.notes = [n for n in p.notes if n.onset_s < 23.4]
    m = note_metrics(ref, result.score)
    assert m["onset_f1"] > 0.6


def test_every_note_is_quantised_and_writers_work(result, tmp_path):
    assert all(n.onset_qn is not None and n.offset_qn > n.onset_qn for p in result.score.parts for n in p.notes)
    paths = result.write(tmp_path, "c")
    assert sorted(p.suffix for p in paths) == [".abc", ".json", ".mid", ".musicxml", ".svg"]
    from musicllm.score.abc import read_abc

    back = read_abc(result.to_abc())
    assert sum(len(p.notes) for p in back.parts) > 0.9 * sum(len(p.notes) for p in result.score.parts)
