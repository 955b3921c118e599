"""Tempo, meter and key on synthetic performances with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import sequence

from musicllm.analysis import cleanup, notes, rhythm, tonality
from musicllm.analysis.notes import RawNote

C_MAJOR_TUNE = [60, 64, 67, 72, 71, 67, 65, 62, 64, 65, 67, 69, 67, 65, 64, 62, 60, 64, 62, 60]


def _perform(pitches, qpm, pattern_qn, bass_every_qn=None, bass=48):
    """Events for a melody whose notes last pattern_qn (cycled) quarter notes; optional bass line."""
    ev, t, q = [], 0.3, 0.0
    spq = 60.0 / qpm
    for i, p in enumerate(pitches * 2):
        d = pattern_qn[i % len(pattern_qn)]
        ev.append((t, d * spq * 0.9, p))
        t += d * spq
        q += d
    if bass_every_qn:
        for k in range(int(q / bass_every_qn)):
            ev.append((0.3 + k * bass_every_qn * spq, bass_every_qn * spq * 0.9, bass))
    return ev, t + 0.5


def _analyse(ev, total):
    act = notes.compute_activations([sequence(ev, total)])
    raw = notes.decode_notes(act, onset_threshold=0.6, min_note_frames=7)
    est = cleanup.clean_notes(raw, act)
    return act, est


KNOWN_HALF_TEMPO = pytest.mark.xfail(
    reason="known weakness: a fast tune whose rhythm repeats every half note is tracked at half tempo "
    "(autocorrelation 0.72 at the half note vs 0.45 at the quarter); 2 of 37 held-out items fail so",
    strict=True,
)


@pytest.mark.parametrize("qpm,bass_qn", [(90.0, 2.0), (110.0, 1.0), pytest.param(132.0, 1.0, marks=KNOWN_HALF_TEMPO)])
def test_simple_meter_tempo(qpm, bass_qn):
    ev, total = _perform(C_MAJOR_TUNE, qpm, [0.5, 0.5, 1.0], bass_every_qn=bass_qn)
    act, est = _analyse(ev, total)
    rh = rhythm.estimate_rhythm(act, est)
    assert abs(rh.tempo_qpm - qpm) / qpm <= 0.04
    assert rh.meter.denominator == 4 and not rh.meter.is_compound


def test_compound_meter_is_six_eight():
    # Jig rhythm: quarter + eighth, three eighths; dotted quarter = 110 per minute -> 165 qpm.
    ev, total = _perform(C_MAJOR_TUNE, 165.0, [1.0, 0.5, 0.5, 0.5, 0.5], bass_every_qn=3.0)
    act, est = _analyse(ev, total)
    rh = rhythm.estimate_rhythm(act, est)
    assert str(rh.meter) == "6/8"
    assert abs(rh.tempo_qpm - 165.0) / 165.0 <= 0.04


def test_beat_tracker_follows_a_steady_pulse():
    fps = 86.13
    env = np.zeros(int(20 * fps))
    period = fps * 0.5
    for k in range(1, 39):
        env[int(k * period)] = 1.0
    beats = rhythm.track_beats(env, period, 300.0)
    gaps = np.diff(beats)
    assert len(beats) >= 35 and np.all(np.abs(gaps - period) <= 1.5)


@pytest.mark.parametrize("tonic,mode,expected", [(0, "major", "C major"), (7, "major", "G major"),
                                                  (9, "minor", "A minor"), (2, "minor", "D minor"),
                                                  (3, "major", "Eb major"), (6, "minor", "F# minor")])
def test_key_of_scales_and_cadences(tonic, mode, expected):
    steps = [0, 2, 4, 5, 7, 9, 11] if mode == "major" else [0, 2, 3, 5, 7, 8, 11]
    seq = [steps[i] for i in (0, 2, 4, 2, 1, 3, 5, 4, 2, 0, 1, 6, 0, 4, 3, 1, 6, 0)]
    pitches = [60 + tonic + s for s in seq]
    on = np.arange(len(pitches)) * 0.4
    k = tonality.estimate_key(pitches, on, on + 0.35)
    assert str(k.key) == expected


def test_ghost_octave_is_removed_and_fragments_join():
    cfg = cleanup.CleanupConfig()
    fund = RawNote(1.0, 2.0, 60, 0.8)
    ghost = RawNote(1.01, 1.9, 72, 0.3)
    other = RawNote(1.0, 2.0, 64, 0.7)  # a third is no harmonic: kept
    kept = cleanup.drop_ghosts([fund, ghost, other], cfg)
    assert ghost not in kept and fund in kept and other in kept
    merged = cleanup.merge_fragments([RawNote(0.0, 0.5, 62, 0.5), RawNote(0.53, 1.0, 62, 0.5)], None, cfg)
    assert len(merged) == 1 and merged[0].offset_s == 1.0
