"""Deterministic acoustic degradations: room reverb, background noise, equalisation, levels.

Every random choice comes from the ``numpy.random.Generator`` passed in, so the same seed gives the
same audio. All functions take and return mono float32 arrays of the same length (the reverb tail
past the end is dropped), and none of them delays the signal: the direct sound stays at sample 0,
so note onsets in a ground truth remain valid after the effects.

Units: times in seconds, levels and gains in dB, frequencies in Hz, ``sr`` in samples per second.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import fftconvolve

_EPS = 1e-12


def _as_float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected mono audio (1-D array), got shape {x.shape}")
    return x


def db_to_gain(db: float) -> float:
    """Amplitude factor of a level change in dB (``-6.02`` -> ``0.5``)."""
    return 10.0 ** (db / 20.0)


def power_db(x: np.ndarray) -> float:
    """Mean power of ``x`` in dB relative to a full-scale square wave (``10*log10(mean(x**2))``)."""
    x = np.asarray(x, dtype=np.float64)
    return 10.0 * math.log10(float(np.mean(x ** 2)) + _EPS) if len(x) else -120.0


def normalize_peak(x: np.ndarray, peak_db: float = -1.0) -> np.ndarray:
    """Scale ``x`` so its largest absolute sample is ``peak_db`` dB full scale; silence is returned as is."""
    x = _as_float(x)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= 0:
        return x.copy()
    return (x * np.float32(db_to_gain(peak_db) / peak)).astype(np.float32)


def fade_out(x: np.ndarray, sr: int, seconds: float = 0.05) -> np.ndarray:
    """Apply a raised-cosine fade over the last ``seconds`` seconds (avoids a click at a cut)."""
    x = _as_float(x).copy()
    n = min(len(x), int(round(seconds * sr)))
    if n > 1:
        x[-n:] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)
    return x


def _bandlimited_decay(n: int, sr: int, rt60_s: float, rng: np.random.Generator,
                       damping: float) -> np.ndarray:
    """Noise with an exponential decay reaching -60 dB at ``rt60_s``; highs decay ``damping`` x faster."""
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    spec = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    split = 2000.0
    low = np.fft.irfft(spec * (freqs < split), n)
    high = np.fft.irfft(spec * (freqs >= split), n)
    k = 3.0 * math.log(10.0) / rt60_s  # amplitude exp(-k t) is -60 dB at t = rt60
    return low * np.exp(-k * t) + high * np.exp(-k * damping * t)


def synthetic_rir(sr: int, rt60_s: float, rng: np.random.Generator, *, predelay_s: float | None = None,
                  n_early: int | None = None, damping: float | None = None) -> np.ndarray:
    """A synthetic room impulse response without the direct sound (the reverberant part only).

    ``rt60_s``: reverberation time in seconds (time for a 60 dB decay). The response has a few early
    reflections (``n_early`` impulses between the pre-delay and 80 ms), then exponentially decaying
    noise whose high frequencies (above 2 kHz) decay ``damping`` times faster (air and wall
    absorption). ``predelay_s``: seconds before the first reflection (default: random 5-20 ms).
    The response is scaled to unit energy (sum of squares = 1) and lasts ``1.2 * rt60_s`` seconds.
    """
    if rt60_s <= 0:
        raise ValueError("rt60_s must be positive (seconds)")
    predelay_s = float(rng.uniform(0.005, 0.02)) if predelay_s is None else predelay_s
    n_early = int(rng.integers(3, 8)) if n_early is None else n_early
    damping = float(rng.uniform(1.3, 2.5)) if damping is None else damping
    n = max(int(1.2 * rt60_s * sr), int(0.1 * sr))
    h = np.zeros(n)
    start = int(predelay_s * sr)
    # Diffuse tail, fading in over ~20 ms after the pre-delay.
    tail = _bandlimited_decay(n - start, sr, rt60_s, rng, damping)
    ramp = np.minimum(1.0, np.arange(n - start) / max(1, int(0.02 * sr)))
    h[start:] += 0.5 * tail * ramp
    # Early reflections: sparse impulses, quieter the later they arrive.
    k = 3.0 * math.log(10.0) / rt60_s
    for _ in range(n_early):
        t = float(rng.uniform(predelay_s, 0.08))
        i = min(n - 1, int(t * sr))
        h[i] += float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.4, 1.0)) * math.exp(-k * t) * 2.0
    energy = float(np.sum(h ** 2))
    return (h / math.sqrt(energy)).astype(np.float32) if energy > 0 else h.astype(np.float32)


def add_reverb(x: np.ndarray, sr: int, rt60_s: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Add room reverberation: ``(1 - wet) * x + wet * (x convolved with a synthetic RIR)``.

    ``rt60_s``: reverberation time in seconds (0.3 = small room, 1.5 = hall). ``wet``: 0..1, the
    share of the reverberant sound (the RIR has unit energy, so ``wet = 0.5`` gives roughly equal
    direct and reverberant energy). The direct sound is not delayed; the output has ``len(x)``
    samples (the reverb tail beyond the end is cut).
    """
    x = _as_float(x)
    if not 0.0 <= wet <= 1.0:
        raise ValueError("wet must be within 0..1")
    if wet == 0 or len(x) == 0:
        return x.copy()
    h = synthetic_rir(sr, rt60_s, rng)
    rev = fftconvolve(x.astype(np.float64), h.astype(np.float64))[: len(x)]
    return ((1.0 - wet) * x + wet * rev).astype(np.float32)


def colored_noise(n: int, rng: np.random.Generator, color: str = "pink") -> np.ndarray:
    """Unit-variance noise: ``"white"`` (flat), ``"pink"`` (-3 dB/octave) or ``"brown"`` (-6 dB/octave)."""
    white = rng.standard_normal(n)
    if color == "white" or n < 2:
        out = white
    elif color in ("pink", "brown"):
        spec = np.fft.rfft(white)
        f = np.fft.rfftfreq(n)
        f[0] = f[1]
        spec /= np.sqrt(f) if color == "pink" else f
        spec[0] = 0.0
        out = np.fft.irfft(spec, n)
    else:
        raise ValueError(f"unknown noise color {color!r} (white, pink, brown)")
    std = float(np.std(out))
    return (out / std if std > 0 else out).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator, color: str = "pink") -> np.ndarray:
    """Add background noise at a signal-to-noise ratio of ``snr_db`` dB.

    The ratio is between the mean power of ``x`` over its whole length and the mean power of the
    noise. ``color``: ``"pink"`` (default, like room and tape hiss mixtures), ``"white"`` or
    ``"brown"``. A silent ``x`` is returned unchanged.
    """
    x = _as_float(x)
    p_sig = float(np.mean(x.astype(np.float64) ** 2)) if len(x) else 0.0
    if p_sig <= 0:
        return x.copy()
    noise = colored_noise(len(x), rng, color).astype(np.float64)
    noise *= math.sqrt(p_sig / (10.0 ** (snr_db / 10.0)) / (float(np.mean(noise ** 2)) + _EPS))
    return (x + noise).astype(np.float32)


def random_eq_params(rng: np.random.Generator) -> dict[str, float]:
    """Draw a gentle random equaliser (see `apply_eq`): tilt, one bell, high-pass, maybe a low-pass.

    Keys: ``tilt_db_per_oct`` (-2..2 dB per octave around 1 kHz), ``bell_hz`` (200-4000 Hz),
    ``bell_db`` (-6..6 dB), ``bell_q`` (0.7-2), ``highpass_hz`` (30-150 Hz), ``lowpass_hz``
    (4-10 kHz, or 0 for none, half of the time).
    """
    return {
        "tilt_db_per_oct": float(rng.uniform(-2.0, 2.0)),
        "bell_hz": float(np.exp(rng.uniform(np.log(200.0), np.log(4000.0)))),
        "bell_db": float(rng.uniform(-6.0, 6.0)),
        "bell_q": float(rng.uniform(0.7, 2.0)),
        "highpass_hz": float(rng.uniform(30.0, 150.0)),
        "lowpass_hz": float(rng.uniform(4000.0, 10000.0)) if rng.random() < 0.5 else 0.0,
    }


def eq_response_db(freqs: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """Magnitude response in dB of the equaliser ``params`` at ``freqs`` (Hz)."""
    f = np.maximum(np.asarray(freqs, dtype=np.float64), 1.0)
    octaves = np.log2(f / 1000.0)
    resp = params.get("tilt_db_per_oct", 0.0) * np.clip(octaves, -4.0, 3.5)
    fc, q = params.get("bell_hz", 1000.0), params.get("bell_q", 1.0)
    # Gaussian bell on a log-frequency axis, bandwidth ~ 1/q octaves.
    resp = resp + params.get("bell_db", 0.0) * np.exp(-0.5 * (np.log2(f / fc) * q * 2.0) ** 2)
    hp = params.get("highpass_hz", 0.0)
    if hp > 0:  # 2nd-order Butterworth-like magnitude
        resp = resp - 10.0 * np.log10(1.0 + (hp / f) ** 4)
    lp = params.get("lowpass_hz", 0.0)
    if lp > 0:
        resp = resp - 10.0 * np.log10(1.0 + (f / lp) ** 4)
    return resp


def apply_eq(x: np.ndarray, sr: int, params: dict[str, float]) -> np.ndarray:
    """Filter ``x`` with the zero-phase equaliser ``params`` (see `random_eq_params`); no delay."""
    x = _as_float(x)
    if len(x) == 0:
        return x.copy()
    n_fft = 1 << int(math.ceil(math.log2(len(x) + int(0.1 * sr))))
    spec = np.fft.rfft(x.astype(np.float64), n_fft)
    gain = 10.0 ** (eq_response_db(np.fft.rfftfreq(n_fft, 1.0 / sr), params) / 20.0)
    return np.fft.irfft(spec * gain, n_fft)[: len(x)].astype(np.float32)


def random_eq(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Apply a gentle random equaliser drawn with `random_eq_params` (a few dB of colouring)."""
    return apply_eq(x, sr, random_eq_params(rng))
