"""The rendered transcription dev set (musicllm.data.devset)."""

from __future__ import annotations

import json
import statistics
from fractions import Fraction

import pytest
import soundfile as sf

from musicllm.data.devset import (
    build_devset,
    ground_truth_score,
    key_from_fifths,
    read_manifest,
    transpose_key,
)
from musicllm.score.model import Key, Meter

GT_FIELDS = {
    # the score JSON contract of musicllm.score.jsonio
    "title", "duration_s", "tempo_bpm", "tempo_qpm", "beat_unit", "meter", "key", "key_mode", "pickup_qn",
    "beats", "downbeats", "parts",
    # the dev set's own
    "id", "subset", "kind", "source", "source_file", "license", "style", "arrangement", "audio", "sr",
    "key_simple", "key_tonic", "key_fifths", "transpose_semitones", "instruments", "soundfont", "effects",
    "performance", "seed",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("devset")
    items = build_devset(out, n_ensemble=2, n_solo=2, seed=3, max_seconds=8, soundfonts=["TimGM6mb"],
                         progress=False)
    return out, items


def test_tiny_devset_items_and_files(tiny):
    out, items = tiny
    assert [it.kind for it in items] == ["ensemble", "ensemble", "solo", "solo"]
    rows = read_manifest(out)
    assert [r["id"] for r in rows] == [it.id for it in items]
    assert {r["subset"] for r in rows} <= {"dev", "test"}
    for it in items:
        audio, sr = sf.read(out / f"{it.id}.wav", dtype="float32")
        assert sr == 22050 and audio.ndim == 1
        assert 0 < len(audio) / sr <= 8.0
        assert 0.05 < abs(audio).max() <= 1.0


def test_tiny_devset_ground_truth_fields(tiny):
    out, items = tiny
    for it in items:
        gt = json.loads((out / f"{it.id}.json").read_text())
        assert GT_FIELDS <= set(gt), GT_FIELDS - set(gt)
        assert gt["soundfont"] == "TimGM6mb"
        assert Key.parse(gt["key_mode"]).simplified() == Key.parse(gt["key"]) == Key.parse(gt["key_simple"])
        assert Key.parse(gt["key"]).mode in ("major", "minor")
        assert Key.parse(gt["key_mode"]).fifths == gt["key_fifths"]
        assert gt["tempo_qpm"] > 30
        assert len(gt["parts"]) == len(gt["instruments"]) >= (2 if it.kind == "ensemble" else 1)
        if it.kind == "solo":
            assert len(gt["parts"]) == 1
        for part, inst in zip(gt["parts"], gt["instruments"], strict=True):
            assert part["program"] == inst["program"]
            assert part["notes"]
            for n in part["notes"]:
                assert 0 <= n["onset_s"] < n["offset_s"] <= gt["duration_s"]
                assert 21 <= n["pitch"] <= 108 and 1 <= n["velocity"] <= 127
                assert n["onset_qn"] < n["offset_qn"]
        assert gt["downbeats"] and set(gt["downbeats"]) <= set(gt["beats"])
        assert gt["audio"] == f"{it.id}.wav" and gt["subset"] == it.subset
        for key in ("reverb", "noise", "eq", "peak_dbfs", "mix_gains_db"):
            assert key in gt["effects"]
        # Notes sit on the notated grid: onset_s ~ lead-in + onset_qn * 60 / tempo (+- 10 ms jitter, strums).
        lead = gt["performance"]["lead_in_s"]
        for n in gt["parts"][0]["notes"]:
            nominal = lead + n["onset_qn"] * 60.0 / gt["tempo_qpm"]
            assert abs(n["onset_s"] - nominal) <= 0.0101


def test_ground_truth_score_roundtrip(tiny):
    out, items = tiny
    score = ground_truth_score(out / f"{items[0].id}.json")
    gt = json.loads((out / f"{items[0].id}.json").read_text())
    assert len(score.parts) == len(gt["parts"])
    assert sum(len(p.notes) for p in score.parts) == items[0].n_notes
    assert str(score.meter) == gt["meter"] and str(score.key) == gt["key_mode"]
    assert score.beat_times_s == gt["beats"] and score.pickup_qn == Fraction(gt["pickup_qn"])


def test_same_seed_same_files(tiny, tmp_path):
    out, _ = tiny
    build_devset(tmp_path, n_ensemble=2, n_solo=2, seed=3, max_seconds=8, soundfonts=["TimGM6mb"], progress=False)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    for name in names:
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_chamber_subsets_keep_two_or_three_chorale_voices(tmp_path):
    items = build_devset(tmp_path, n_ensemble=1, n_solo=0, seed=3, max_seconds=8, soundfonts=["TimGM6mb"],
                         progress=False, chamber_subsets=1.0)
    assert items[0].source == "bach-chorales"
    gt = json.loads((tmp_path / f"{items[0].id}.json").read_text())
    assert 2 <= len(gt["parts"]) == len(gt["instruments"]) <= 3
    assert ("duet" if len(gt["parts"]) == 2 else "trio") in gt["arrangement"]


def test_key_helpers():
    assert key_from_fifths(-1, "dorian") == Key("G", "dorian")
    assert key_from_fifths(3, "minor") == Key("F#", "minor")
    assert key_from_fifths(-6, "major") == Key("Gb", "major")
    assert transpose_key(Key("D", "major"), 2) == Key("E", "major")
    assert transpose_key(Key("A", "dorian"), -2) == Key("G", "dorian")
    assert transpose_key(Key("E", "minor"), 1) == Key("F", "minor")
    assert transpose_key(Key("G", "major"), 0) == Key("G", "major")
    for k in (Key("D", "mixolydian"), Key("B", "minor"), Key("F", "major")):
        for t in range(-5, 6):
            moved = transpose_key(k, t)
            assert moved.mode == k.mode and (moved.tonic_pc - k.tonic_pc) % 12 == t % 12
            assert abs(moved.fifths) <= 6


def test_expressive_timing_bends_the_beats_and_keeps_the_pieces(tiny, tmp_path):
    out, items = tiny
    expressive = build_devset(tmp_path, n_ensemble=2, n_solo=2, seed=3, max_seconds=8, soundfonts=["TimGM6mb"],
                              progress=False, expressive=1.0)
    assert [it.title for it in expressive] == [it.title for it in items]  # same pieces, other timing
    for it in expressive:
        gt = json.loads((tmp_path / it.json).read_text())
        steady = json.loads((out / it.json).read_text())
        timing = gt["performance"]["timing"]
        assert 0.02 <= timing["drift_sd"] <= 0.06 and "timing" not in steady["performance"]
        ibi = [b - a for a, b in zip(gt["beats"], gt["beats"][1:], strict=False)]
        steady_ibi = [b - a for a, b in zip(steady["beats"], steady["beats"][1:], strict=False)]
        assert max(steady_ibi) / min(steady_ibi) < 1.001 < 1.005 < max(ibi) / min(ibi)  # the tempo moves
        assert gt["instruments"] == steady["instruments"] and gt["soundfont"] == steady["soundfont"]
        # the ground-truth tempo is that of the median beat as performed
        beat_qn = float(Meter.parse(gt["meter"]).beat_qn)
        assert abs(60 * beat_qn / statistics.median(ibi) / it.tempo_qpm - 1) < 0.01
        assert gt["duration_s"] <= 8.0 + 1e-6
