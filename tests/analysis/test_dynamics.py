"""Loudness curve (BS.1770 momentary) and the dynamics summary on signals of known level."""

from __future__ import annotations

import numpy as np
import pytest

from musicllm.analysis.dynamics import dynamics_summary, k_weighting_sos, level_word, loudness_curve

SR = 22050


def _sine(amp_db: np.ndarray | float, seconds: float, sr: int = SR, freq: float = 997.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    amp = 10.0 ** (np.broadcast_to(amp_db, t.shape) / 20.0) if np.ndim(amp_db) else 10.0 ** (amp_db / 20.0)
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_k_weighting_matches_the_bs1770_coefficients_at_48k():
    sos = k_weighting_sos(48000)
    # ITU-R BS.1770-4, tables 1 and 2 (stage 1 high shelf, stage 2 high-pass), at 48 kHz.
    np.testing.assert_allclose(sos[0, :3], [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-6)
    np.testing.assert_allclose(sos[0, 4:], [-1.69065929318241, 0.73248077421585], atol=1e-6)
    np.testing.assert_allclose(sos[1, 4:], [-1.99004745483398, 0.99007225036621], atol=1e-6)


def _biquad_cascade(x: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """Direct-form filtering, sample by sample (the time-domain definition of the K-weighting)."""
    y = x.astype(np.float64)
    for b0, b1, b2, _, a1, a2 in sos:
        out = np.zeros_like(y)
        x1 = x2 = y1 = y2 = 0.0
        for n, v in enumerate(y):
            o = b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x2, x1, y2, y1 = x1, v, y1, o
            out[n] = o
        y = out
    return y


def test_frequency_domain_windows_match_time_domain_filtering():
    rng = np.random.default_rng(0)
    sr = 8000  # keeps the sample-by-sample reference fast
    t = np.arange(3 * sr) / sr
    x = 0.1 * rng.standard_normal(len(t)) + 0.3 * np.sin(2 * np.pi * 60 * t) * (t > 1.2) \
        + 0.2 * np.sin(2 * np.pi * 3000 * t) * np.exp(-t)
    times, db = loudness_curve(x, sr, hop_s=0.25)
    y = _biquad_cascade(x, k_weighting_sos(sr))
    win = int(0.4 * sr)
    starts = np.clip(np.round(times * sr).astype(int) - win // 2, 0, len(x) - win)
    ref = [-0.691 + 10 * np.log10(np.mean(y[a : a + win] ** 2)) for a in starts]
    np.testing.assert_allclose(db, ref, atol=0.15)


@pytest.mark.parametrize("amp_db", [0.0, -20.0, -40.0])
def test_sine_level(amp_db):
    # BS.1770: a 997 Hz sine at full scale reads -3.01 LUFS.
    times, db = loudness_curve(_sine(amp_db, 4.0), SR, hop_s=0.5)
    inner = db[(times > 0.5) & (times < 3.5)]
    assert np.all(np.abs(inner - (amp_db - 3.01)) < 0.1)
    assert np.all(np.diff(times) == pytest.approx(0.5))


def test_crescendo_and_decrescendo_from_a_ramp():
    ramp = np.linspace(-40.0, -10.0, int(30 * SR))  # +30 dB over 30 s
    for signal, word, sign in ((ramp, "crescendo", 1), (ramp[::-1], "decrescendo", -1)):
        s = dynamics_summary(*loudness_curve(_sine(signal, 30.0), SR))
        assert s.trend == word
        assert s.trend_db == pytest.approx(sign * 30.0, abs=2.0)
        # Power mean of a linear dB ramp from -43 to -13 LUFS: about -21.4 LUFS.
        expected = 10 * np.log10(np.mean(10 ** ((np.linspace(-40, -10, 1000) - 3.01) / 10)))
        assert s.mean_db == pytest.approx(expected, abs=0.6)
        # Windows within 20 LU of the mean count; p95 - p5 spans 90 % of the ramp above that gate.
        assert s.range_db == pytest.approx(0.9 * (-13.01 - (expected - 20.0)), abs=1.0)


def test_steady_level_and_a_swell():
    steady = dynamics_summary(*loudness_curve(_sine(-20.0, 20.0), SR))
    assert steady.trend == "steady" and steady.range_db < 0.5 and steady.peaks_s == []
    assert steady.level == "moderate"  # -23 LUFS
    # A 12 dB swell centred on 10 s of a 20 s note.
    t = np.arange(int(20 * SR)) / SR
    swell = -30.0 + 12.0 * np.exp(-0.5 * ((t - 10.0) / 1.5) ** 2)
    s = dynamics_summary(*loudness_curve(_sine(swell, 20.0), SR))
    assert len(s.peaks_s) == 1 and s.peaks_s[0] == pytest.approx(10.0, abs=1.0)
    assert s.trend in ("steady", "varied")


def test_level_words_and_silence():
    assert [level_word(x) for x in (-50, -30, -20, -12, -5)] == ["very soft", "soft", "moderate", "loud",
                                                                 "very loud"]
    s = dynamics_summary(*loudness_curve(np.zeros(SR * 3, dtype=np.float32), SR))
    assert s.level == "very soft" and s.confidence == 0.0
    assert set(s.to_dict()) >= {"mean_db", "range_db", "level", "trend", "peaks_s", "confidence"}
