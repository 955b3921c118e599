"""Voice separation and quantisation to the beat grid."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from musicllm.analysis.notes import RawNote
from musicllm.analysis.parts import assign, estimate_n_parts, separate_voices
from musicllm.score.model import Meter, Note, Part, Score
from musicllm.score.quantize import make_voices_monophonic, quantize_score


def test_assignment_is_optimal():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(0)
    for _ in range(100):
        r, c = rng.integers(1, 7, 2)
        m = rng.random((r, c))
        a = assign(m)
        rows, cols = linear_sum_assignment(m)
        assert abs(sum(m[k, v] for k, v in a.items()) - m[rows, cols].sum()) < 1e-9


def test_two_lines_are_separated_by_register():
    upper = [RawNote(i * 0.5, i * 0.5 + 0.45, 72 + (i % 3), 0.6) for i in range(16)]
    lower = [RawNote(i * 1.0, i * 1.0 + 0.95, 48 + (i % 2) * 2, 0.6) for i in range(8)]
    assert estimate_n_parts(upper) == 1
    assert estimate_n_parts(upper + lower) == 2
    voices = separate_voices(upper + lower, 2)
    assert {n.pitch for n in voices[0]} == {n.pitch for n in upper}
    assert {n.pitch for n in voices[1]} == {n.pitch for n in lower}


def test_quantize_straight_and_triplet_beats_with_pickup():
    spq = 0.5  # 120 qpm
    beats = [0.1 + k * spq for k in range(12)]
    # Pickup of one beat (bar of 4/4 starts at beat 1), jittered eighths, then a triplet beat.
    times = [(beats[0], 1), (beats[1], 0.5), (beats[1] + 0.25 + 0.01, 0.5), (beats[2] - 0.008, 1)]
    times += [(beats[3] + k * spq / 3, 1 / 3) for k in range(3)]
    ns = [Note(60 + i, t, t + d * spq * 0.95) for i, (t, d) in enumerate(times)]
    score = Score(parts=[Part("p", 0, ns)], tempo_qpm=120, meter=Meter(4, 4), beat_times_s=beats,
                  downbeat_times_s=beats[1::4])
    q = quantize_score(score)
    got = [(n.onset_qn, n.offset_qn) for n in sorted(q.parts[0].notes, key=lambda n: n.onset_s)]
    assert q.pickup_qn == Fraction(1)
    assert [g[0] for g in got] == [0, 1, Fraction(3, 2), 2, 3, Fraction(10, 3), Fraction(11, 3)]
    mono = make_voices_monophonic(q.parts[0].notes)
    assert all(a.offset_qn <= b.onset_qn for a, b in zip(mono, mono[1:], strict=False))
