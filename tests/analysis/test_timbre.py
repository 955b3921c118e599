"""Streamed spectrogram and per-part timbre features on synthetic tones with known spectra."""

from __future__ import annotations

import numpy as np

from musicllm.analysis import timbre
from musicllm.analysis.timbre import FEATURES, Spectrogram, part_features

SR = timbre.SAMPLE_RATE


def _tone(pitch: int, dur: float, harmonics: dict[int, float], decay_per_s: float = 0.0,
          vibrato_cents: float = 0.0) -> np.ndarray:
    t = np.arange(int(dur * SR)) / SR
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    dev = 2 ** (vibrato_cents / 1200 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0 * dev) / SR
    x = sum(a * np.sin(h * phase) for h, a in harmonics.items())
    env = np.minimum(1.0, t / 0.01) * np.exp(-decay_per_s * t)
    return (0.2 * x * env).astype(np.float32)


def _melody(harmonics, decay=0.0, vibrato=0.0, pitches=(60, 62, 64, 65, 67, 69, 67, 64), dur=0.6):
    y = np.concatenate([_tone(p, dur, harmonics, decay, vibrato) for p in pitches])
    on = np.arange(len(pitches)) * dur
    return y, on, on + dur - 0.02, np.array(pitches)


def _features(y, on, off, p):
    spec = Spectrogram.from_array(y).db
    return dict(zip(FEATURES, part_features(spec, on, off, p, on, off, p), strict=True))


def test_streamed_spectrogram_equals_one_shot():
    rng = np.random.default_rng(0)
    y = rng.normal(0, 0.1, SR * 3).astype(np.float32)
    s = Spectrogram()
    i = 0
    for n in (1000, 5000, 17, 30000, 4096):
        s.feed(y[i:i + n])
        i += n
    s.feed(y[i:])
    s.finish()
    one = Spectrogram.from_array(y).db
    assert s.db.shape == one.shape == (len(y) // timbre.HOP + 1, timbre.N_BINS)
    np.testing.assert_array_equal(s.db, one)


def test_frames_are_centred_in_time():
    y = np.concatenate([np.zeros(SR), _tone(69, 1.0, {1: 1.0})])  # A4 from 1.0 s
    db = Spectrogram.from_array(y).db.astype(float)
    k = int(round(1.5 / timbre.FRAME_S))
    assert abs(np.argmax(db[k]) - 440 / timbre.BIN_HZ) <= 1
    assert db[int(round(0.8 / timbre.FRAME_S))].max() < db[k].max() - 60


def test_odd_harmonics_decay_and_vibrato_are_measured():
    clar = _features(*_melody({1: 1.0, 3: 0.5, 5: 0.3, 7: 0.2, 2: 0.02, 4: 0.02, 6: 0.02}))
    saw = _features(*_melody({h: 1.0 / h for h in range(1, 11)}))
    assert clar["odd_even"] > 15 and abs(saw["odd_even"]) < 8
    assert abs(saw["harm_2"] - (-6.0)) < 2.5 and abs(saw["harm_4"] - (-12.0)) < 2.5  # 1/h amplitudes
    assert saw["centroid"] > clar["centroid"]
    plucked = _features(*_melody({1: 1.0, 2: 0.5}, decay=6.0))
    held = _features(*_melody({1: 1.0, 2: 0.5}))
    assert plucked["decay"] < -30 and abs(held["decay"]) < 5
    vib = _features(*_melody({1: 1.0, 2: 0.5}, vibrato=40.0))
    assert vib["vibrato"] > held["vibrato"] + 10
    assert held["pitch_med"] == 64.5 and held["chords"] == 0.0 and held["valid_harm"] == 1.0


def test_harmonics_shared_with_another_sounding_note_are_not_read():
    up = _tone(72, 1.0, {1: 1.0, 2: 0.5})
    low = _tone(60, 1.0, {1: 1.0, 2: 0.5, 3: 0.3, 4: 0.2})
    spec = Spectrogram.from_array(up + low).db
    on, off = np.array([0.0, 0.0]), np.array([0.98, 0.98])
    p = np.array([72, 60])
    f_up = part_features(spec, on[:1], off[:1], p[:1], on, off, p)
    # C5's harmonics 1-5 are C4's 2, 4, .. 10: not read; 6-10 are above C4's ten partials
    assert np.isnan(f_up[[FEATURES.index(f"harm_{h}") for h in range(1, 6)]]).all()
    assert np.isfinite(f_up[[FEATURES.index(f"harm_{h}") for h in range(6, 11)]]).all()
    f_low = part_features(spec, on[1:], off[1:], p[1:], on, off, p)
    assert f_low[FEATURES.index("valid_harm")] == 1.0  # C4's third harmonic (G5) is clear


def test_empty_part_gives_nan_features():
    spec = Spectrogram.from_array(np.zeros(SR, np.float32)).db
    e = np.zeros(0)
    assert np.isnan(part_features(spec, e, e, e.astype(int), e, e, e.astype(int))).all()
