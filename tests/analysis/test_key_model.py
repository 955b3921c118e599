"""The trained key estimator: weights load, scoring is deterministic and transposes with the notes,
synthetic scales and cadences come out right; the training helpers (fit, folds, dev-set exclusion)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from musicllm.analysis import key_model, tonality
from musicllm.training import key_model as recipe


def _chords(chords: list[list[int]], dur: float = 1.0, start: float = 6.0) -> list[tuple[int, float, float]]:
    return [(p, start + i * dur, start + (i + 1) * dur - 0.05) for i, ch in enumerate(chords) for p in ch]


def _melody(pitches: list[int], dur: float = 0.4, start: float = 0.0) -> list[tuple[int, float, float]]:
    return [(p, start + i * dur, start + (i + 1) * dur - 0.02) for i, p in enumerate(pitches)]


# C major: scale (6 s), then I-IV-V7-I with a bass; A harmonic minor: scale, then i-iv-V7-i.
C_MAJOR = _melody([60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60]) + _chords(
    [[48, 64, 67, 72], [53, 65, 69, 72], [55, 65, 67, 71], [48, 64, 67, 72]], 1.0)
A_MINOR = _melody([57, 59, 60, 62, 64, 65, 68, 69, 68, 65, 64, 62, 60, 59, 57]) + _chords(
    [[45, 64, 69, 72], [50, 65, 69, 74], [52, 64, 68, 71, 74], [45, 64, 69, 72]], 1.0)


def _split(events, shift: int = 0):
    """(pitches, onsets_s, offsets_s, amplitudes) of (pitch, onset, offset) events, transposed by ``shift``."""
    return [e[0] + shift for e in events], [e[1] for e in events], [e[2] for e in events], [0.7] * len(events)


def test_weights_file_loads_and_matches_features():
    m = key_model.load_model()
    assert m.weights.shape == m.mean.shape == m.scale.shape == (key_model.N_FEATURES,)
    assert np.all(m.scale > 0) and np.all(np.isfinite(m.weights))
    d = json.loads(key_model.WEIGHTS_FILE.read_text())
    assert d["features"] == key_model.feature_names()
    assert d["meta"]["items"] > 100 and 0 < d["meta"]["l2"]
    bad = dict(d, features=d["features"][:-1])
    with pytest.raises(ValueError):
        key_model.KeyModel.from_dict(bad)


def test_scoring_is_deterministic():
    args = _split(C_MAJOR)
    a = key_model.key_probabilities(*args)
    b = key_model.key_probabilities(*args)
    assert np.array_equal(a, b)
    assert a.shape == (24,) and abs(a.sum() - 1) < 1e-9


@pytest.mark.parametrize("events,mode", [(C_MAJOR, 0), (A_MINOR, 1)])
def test_transposing_the_notes_transposes_the_key(events, mode):
    base = key_model.key_probabilities(*_split(events))
    for k in range(1, 12):
        moved = key_model.key_probabilities(*_split(events, k))
        # probabilities of key (mode, tonic) move to (mode, tonic + k)
        expect = np.concatenate([np.roll(base[:12], k), np.roll(base[12:], k)])
        assert np.allclose(moved, expect, atol=1e-9)
        assert int(np.argmax(moved)) == 12 * mode + (int(np.argmax(base)) % 12 + k) % 12


@pytest.mark.parametrize("shift", [0, 2, 5, 7, 10])
def test_synthetic_scales_and_cadences(shift):
    major = tonality.estimate_key(*_split(C_MAJOR, shift)).key
    assert (major.tonic_pc, major.major_or_minor) == (shift % 12, "major")
    minor = tonality.estimate_key(*_split(A_MINOR, shift)).key
    assert (minor.tonic_pc, minor.major_or_minor) == ((9 + shift) % 12, "minor")


def test_estimate_key_methods():
    args = _split(C_MAJOR)
    new = tonality.estimate_key(*args, method="model")
    old = tonality.estimate_key(*args, method="profiles")
    assert str(new.key) == str(old.key) == "C major"
    assert 0 <= new.confidence <= 1 and len(new.correlations) == 5
    assert list(new.correlations)[0] == "C major"
    with pytest.raises(ValueError):
        tonality.estimate_key(*args, method="nope")
    assert tonality.estimate_key([], [], []).confidence == 0.0


def test_bass_histogram_takes_the_lowest_sounding_note():
    h = key_model.bass_histogram(np.array([72, 48, 76]), np.array([0.0, 0.0, 1.0]), np.array([2.0, 1.0, 2.0]))
    assert h[0] == pytest.approx(1.0)  # C3 below for 1 s, then C5 below E5 for 1 s


def test_fit_learns_from_synthetic_items_and_folds_keep_groups():
    rng = np.random.default_rng(0)
    xs, ys = [], []
    scale = {0: [0, 2, 4, 5, 7, 9, 11], 1: [0, 2, 3, 5, 7, 8, 11]}
    for _ in range(60):
        mode, tonic = int(rng.integers(2)), int(rng.integers(12))
        degrees = rng.choice(scale[mode], size=40, p=[0.3, 0.08, 0.18, 0.08, 0.2, 0.08, 0.08])
        p = 60 + (tonic + degrees) % 12
        on = np.arange(40) * 0.3
        xs.append(key_model.candidate_features(p, on, on + 0.25))
        ys.append(12 * mode + tonic)
    x, y = np.array(xs), np.array(ys)
    m = recipe.fit(x[:45], y[:45], l2=0.01)
    assert np.mean(m.scores(x[45:]).argmax(axis=1) == y[45:]) >= 0.8
    groups = np.array([f"g{i // 3}" for i in range(60)])
    folds = recipe.grouped_folds(groups, 5)
    for g in set(groups.tolist()):
        assert len(set(folds[groups == g].tolist())) == 1
    assert set(folds.tolist()) == set(range(5))


def test_devset_pieces_are_excluded(tmp_path):
    (tmp_path / "manifest.jsonl").write_text(json.dumps({"id": "a"}) + "\n" + json.dumps({"id": "b"}) + "\n")
    (tmp_path / "a.json").write_text(json.dumps({"piece_id": "nottingham/jigs.abc#X35@34", "title": "The Burdett"}))
    (tmp_path / "b.json").write_text(json.dumps({"piece_id": "bach-chorales/bwv306", "title": "Chorale BWV 306"}))
    ex = recipe.devset_exclusions(tmp_path)

    def ref(rel, idx, text, fmt="abc"):
        return SimpleNamespace(rel_path=rel, tune_index=idx, text=text, fmt=fmt)

    assert recipe.excluded_reason(ref("jigs.abc", 34, "X:99\nT:Other\n"), ex) == "file+index"
    assert recipe.excluded_reason(ref("jigs.abc", 3, "X:35\nT:Other\n"), ex) == "file+X"
    assert recipe.excluded_reason(ref("book1.abc", 3, "X:1\nT:Burdett, The\n"), ex) == "title"
    assert recipe.excluded_reason(ref("bwv306.mxl", 0, None, "musicxml"), ex) == "bach file"
    assert recipe.excluded_reason(ref("jigs.abc", 3, "X:4\nT:Another Jig\n"), ex) is None
    assert recipe.key_index("A dorian") == 12 + 9 and recipe.key_index("G mixolydian") == 7
