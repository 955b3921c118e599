"""Synthetic audio helpers for analysis tests (no files needed)."""

from __future__ import annotations

import numpy as np

SR = 22050


def tone(pitch: int, dur_s: float, sr: int = SR, amp: float = 0.25) -> np.ndarray:
    """A harmonic tone (3 partials) with a fast attack and exponential decay."""
    t = np.arange(int(dur_s * sr)) / sr
    f = 440.0 * 2 ** ((pitch - 69) / 12)
    x = sum(a * np.sin(2 * np.pi * f * k * t) for k, a in ((1, 1.0), (2, 0.4), (3, 0.2)))
    env = np.minimum(1.0, t / 0.005) * np.exp(-t * 2.5)
    return (amp * x * env).astype(np.float32)


def sequence(events: list[tuple[float, float, int]], total_s: float, sr: int = SR) -> np.ndarray:
    """Mix (onset_s, duration_s, pitch) tones into one signal."""
    out = np.zeros(int(total_s * sr), dtype=np.float32)
    for on, dur, p in events:
        x = tone(p, dur, sr)
        i = int(on * sr)
        out[i : i + len(x)] += x[: len(out) - i]
    return out
