"""The trained meter model: candidates, features, beat grids, and choices on clear synthetic patterns."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from musicllm.analysis import meter_model as mm
from musicllm.score.model import Meter


def _pattern(bar: list[tuple[float, float, int, float]], bar_qn: float, qpm: float, bars: int = 16,
             melody: list[int] | None = None) -> mm.NoteArrays:
    """Notes of a repeated bar pattern: (onset qn, duration qn, pitch, amplitude); melody pitches
    (one per note of the first voice) vary per bar so that bars are not all identical."""
    spq = 60.0 / qpm
    on, off, p, a = [], [], [], []
    for b in range(bars):
        for j, (q, d, pitch, amp) in enumerate(bar):
            shift = (melody[(b + j) % len(melody)] if melody and pitch >= 60 else 0)
            on.append((b * bar_qn + q) * spq + 1.0)
            off.append((b * bar_qn + q + d) * spq * 0.98 + 1.0)
            p.append(pitch + shift)
            a.append(amp)
    return mm.NoteArrays(np.array(on), np.array(off), np.array(p), np.array(a))


def _envelope(n: mm.NoteArrays, duration: float) -> tuple[np.ndarray, np.ndarray]:
    times = np.arange(0, duration, 1 / 86.13)
    env = np.zeros(len(times))
    for t, amp in zip(n.onset, n.amp, strict=True):
        env[np.argmin(np.abs(times - t))] += amp
    return env / env.max(), times


def _choose(n: mm.NoteArrays, tracked_period: float, qpm: float):
    duration = float(n.offset.max()) + 1.0
    beats = np.arange(1.0 - tracked_period, duration + tracked_period, tracked_period)
    env, times = _envelope(n, duration)
    return mm.choose(n, beats, env, times, duration, near_qpm=qpm)


def test_feature_names_match_the_weights():
    model = mm.load_model()
    assert len(mm.feature_names()) == mm.N_FEATURES == len(model.weights) == len(model.mean)
    assert model.meta["items"] > 1000


def test_candidates_are_restricted_to_the_tempo():
    all_c = mm.candidates(120.0)
    assert {str(m) for m, _, _ in all_c} == set(mm.METERS)
    near = mm.candidates(120.0, near_qpm=180.0)
    assert near and all(abs(q / 180 - 1) <= 0.04 for _, _, q in near)
    assert all(f == Fraction(3, 2) for _, f, _ in near)


def test_beat_index_round_trip():
    bi = mm.BeatIndex(np.array([0.5, 1.0, 1.5, 2.1, 2.6]))
    t = np.array([0.0, 0.7, 2.3, 3.5])
    assert np.allclose(bi.to_time(bi.to_index(t)), t)


def test_beat_grid_cut_time_has_half_note_beats():
    beats = np.arange(0.0, 10.0, 0.5)  # tracked quarter notes at 120 qpm
    c = mm.Candidate(Meter(2, 2), Fraction(1), 120.0, 1.0)  # bars start one quarter after tracked beat 0
    b, d = mm.beat_grid(c, beats, 9.0)
    assert np.allclose(np.diff(b), 1.0)
    assert np.allclose(np.diff(d), 2.0)
    assert np.isclose(d[np.argmin(np.abs(d - 0.5))], 0.5)


def test_waltz_is_read_in_three():
    # bass on one, chords on two and three, melody on one: clear triple meter at 150 qpm
    bar = [(0, 1, 43, 1.0), (0, 3, 72, 0.8), (1, 1, 60, 0.4), (1, 1, 64, 0.4), (2, 1, 60, 0.4), (2, 1, 64, 0.4)]
    n = _pattern(bar, 3.0, 150.0, melody=[0, 2, 4, 5, 7, 5, 4, 2])
    choice = _choose(n, 60 / 150, 150.0)
    assert str(choice.candidate.meter) == "3/4"
    assert 0 < choice.meter_probability <= 1


def test_jig_is_read_in_six_eight():
    # running eighths in groups of three, long note and bass on each dotted-quarter beat, at 120 qpm
    bar = [(0, 1.5, 43, 1.0), (0, 0.5, 72, 0.9), (0.5, 0.5, 71, 0.5), (1.0, 0.5, 69, 0.5),
           (1.5, 1.5, 50, 0.8), (1.5, 0.5, 67, 0.8), (2.0, 0.5, 69, 0.5), (2.5, 0.5, 71, 0.5)]
    n = _pattern(bar, 3.0, 120.0, melody=[0, 2, -1, 3, 0, 5])
    choice = _choose(n, 60 / 80, 120.0)  # tracked dotted quarters
    assert choice.candidate.meter.is_compound


@pytest.mark.parametrize(("method", "prior"), [("rules", True), ("model", True), ("model", False)])
def test_estimate_rhythm_methods(method, prior):
    from musicllm.analysis import notes, rhythm

    n = _pattern([(0, 1, 43, 1.0), (0, 3, 72, 0.8), (1, 1, 60, 0.4), (2, 1, 64, 0.4)], 3.0, 150.0,
                 melody=[0, 2, 4, 5, 7, 5, 4, 2])
    raw = [notes.RawNote(float(a), float(b), int(c), float(d))
           for a, b, c, d in zip(n.onset, n.offset, n.pitch, n.amp, strict=True)]
    frames = int((n.offset.max() + 1) * 86.13)
    act = notes.Activations(np.zeros((frames, 88), np.float32), np.zeros((frames, 88), np.float32),
                            int(frames / 86.13 * 22050))
    env, _ = _envelope(n, frames / 86.13)
    act.onsets[: len(env), 40] = env[:frames]
    rh = rhythm.estimate_rhythm(act, raw, rhythm.RhythmConfig(meter_method=method, meter_tempo_prior=prior))
    assert rh.details["meter_method"] in ("rules", "model")
    assert len(rh.downbeat_times_s) >= 2
    assert np.all(np.diff(rh.beat_times_s) > 0)


def _features(n: mm.NoteArrays, tracked_period: float, tracked_qpm: float | None = None):
    duration = float(n.offset.max()) + 1.0
    beats = np.arange(1.0 - tracked_period, duration + tracked_period, tracked_period)
    env, times = _envelope(n, duration)
    cands, x = mm.analyse_candidates(n, beats, env, times, duration, tracked_qpm=tracked_qpm)
    names = mm.feature_names()
    return cands, {c: x[i] for i, c in enumerate(cands)}, names.index


REEL = [(q * 0.5, 0.5, p, 1.0 if q % 4 == 0 else 0.6) for q, p in enumerate([67, 71, 74, 71, 69, 72, 76, 72])]


def test_tracker_features_mark_the_rules_tempo():
    n = _pattern(REEL, 4.0, 120.0, melody=[0, 2, 4, 5])
    cands, x, col = _features(n, 0.5, tracked_qpm=180.0)  # the rules read the beats as dotted quarters
    for c in cands:
        agree = x[c][col("tracker.agree")]
        assert agree == float(abs(c.qpm / 180.0 - 1) <= 0.04)
        assert x[c][col("tracker.pulse")] == float(c.factor == 1)
        assert np.isclose(x[c][col("tracker.dlog")], np.log2(c.qpm / 180.0))
    assert any(x[c][col("tracker.agree")] == 1 for c in cands) and any(x[c][col("tracker.agree")] == 0 for c in cands)


def test_long_notes_at_bar_starts():
    # a long held note at every bar start, quarter notes elsewhere: long_bar is 1 in 3/4 at the true tempo
    bar = [(0, 2.5, 48, 1.0), (0, 1, 72, 0.8), (1, 1, 74, 0.5), (2, 1, 76, 0.5)]
    n = _pattern(bar, 3.0, 120.0, melody=[0, 2, 4, 5])
    cands, x, col = _features(n, 0.5)
    waltz = [c for c in cands if str(c.meter) == "3/4" and c.factor == 1]
    assert len(waltz) == 3  # one candidate per downbeat phase
    assert max(x[c][col("3/4.long_bar")] for c in waltz) > 0.99
    common = [c for c in cands if str(c.meter) == "4/4" and c.factor == 1]
    assert common and max(x[c][col("4/4.long_bar")] for c in common) < 0.5


def test_the_model_can_overrule_the_rules_tempo_level():
    # straight eighths over a bass on beats 1 and 3 at 120 qpm, which the rules misread as triplets
    # (tracked_qpm 180: dotted-quarter beats)
    n = _pattern(REEL + [(0, 1, 43, 1.0), (2, 1, 50, 0.8)], 4.0, 120.0, melody=[0, 2, 4, 5, 7, 5])
    duration = float(n.offset.max()) + 1.0
    beats = np.arange(0.5, duration + 0.5, 0.5)
    env, times = _envelope(n, duration)
    free = mm.choose(n, beats, env, times, duration, tracked_qpm=180.0)
    fixed = mm.choose(n, beats, env, times, duration, near_qpm=180.0, tracked_qpm=180.0)
    assert abs(free.candidate.qpm / 120.0 - 1) <= 0.04 and not free.candidate.meter.is_compound
    assert abs(fixed.candidate.qpm / 180.0 - 1) <= 0.04


def test_every_phase_is_a_candidate_and_the_bar_lines_follow_the_accents():
    # 3/4 at 150 qpm; the music starts at 1.0 s (bar starts there), tracked beats from 0.6 s
    bar = [(0, 1, 43, 1.0), (0, 3, 72, 0.8), (1, 1, 60, 0.4), (1, 1, 64, 0.4), (2, 1, 60, 0.4), (2, 1, 64, 0.4)]
    n = _pattern(bar, 3.0, 150.0, melody=[0, 2, 4, 5, 7, 5, 4, 2])
    cands, x, col = _features(n, 0.4)
    waltz = [c for c in cands if str(c.meter) == "3/4" and c.factor == 1]
    assert sorted(c.phase_qn for c in waltz) == [0.0, 1.0, 2.0]
    gaps = {c.phase_qn: x[c][col("3/4.contrast_gap")] for c in waltz}
    assert max(gaps.values()) == 0.0 and min(gaps.values()) < 0  # 0 for the most accented phase
    assert sum(x[c][col("3/4.first_bar")] for c in waltz) == 1.0
    choice = _choose(n, 0.4, 150.0)
    duration = float(n.offset.max()) + 1.0
    beats = np.arange(1.0 - 0.4, duration + 0.4, 0.4)
    _, downbeats = mm.beat_grid(choice.candidate, beats, duration)
    assert str(choice.candidate.meter) == "3/4"
    assert np.min(np.abs(downbeats - 1.0)) < 0.01 and np.min(np.abs(downbeats - 2.2)) < 0.01


def test_pick_sums_the_phases_of_a_reading():
    c = [mm.Candidate(Meter(4, 4), Fraction(1), 120.0, ph) for ph in (0.0, 1.0, 2.0, 3.0)] \
        + [mm.Candidate(Meter(3, 4), Fraction(1), 120.0, 0.0)]
    p = np.array([0.2, 0.2, 0.15, 0.05, 0.4])  # 3/4 is the best single candidate, 4/4 the best reading
    assert mm.pick(c, p) == 0


def test_training_labels_the_phase_and_fits_sets_of_right_candidates():
    from musicllm.training import meter_model as tm

    beats = np.arange(0.0, 20.0, 0.5)
    cands = [mm.Candidate(Meter(4, 4), Fraction(1), 120.0, ph) for ph in (0.0, 1.0, 2.0, 3.0)]
    true_down = np.arange(1.0, 19.0, 2.0)  # bars start one quarter after tracked beat 0
    assert tm.right_phase(cands, [0, 1, 2, 3], beats, 19.5, true_down) == [2]
    assert tm.right_phase(cands, [0, 1, 2, 3], beats, 19.5, None) == [0, 1, 2, 3]
    assert tm.right_phase(cands, [0, 1, 2, 3], beats, 19.5, true_down + 0.25) == [0, 1, 2, 3]  # no phase fits
    rng = np.random.default_rng(0)
    items = []
    for _ in range(40):
        x = rng.normal(size=(4, mm.N_FEATURES))
        right = int(rng.integers(4))
        x[right, 0] += 3.0  # feature 0 marks the right candidate
        items.append({"x": x, "cands": cands, "y": [right, (right + 1) % 4], "y_phase": [right]})
    model = tm.fit(items, 1e-3)
    assert model.weights[0] > 0
    acc, acc_phase = tm.accuracy(model, items, ("y", "y_phase"))
    assert acc_phase > 0.9 and acc >= acc_phase
