"""Loudness curve and a dynamics summary of a recording.

Conventions
-----------
- Loudness is ITU-R BS.1770-4 *momentary* loudness in LUFS (dB relative to digital full scale,
  K-weighted): the signal is K-weighted (a +4 dB high shelf above ~1.7 kHz and a ~38 Hz high-pass,
  with libebur128's sample-rate-independent analogue prototypes), squared, averaged over 400 ms
  windows and converted with ``-0.691 + 10 log10(mean square)``. A full-scale 997 Hz sine reads
  -3.01 LUFS; a sine of amplitude A about ``20 log10(A) - 3`` LUFS. Mono input (channel weight 1).
- ``loudness_curve`` samples it every ``hop_s`` seconds: value ``i`` is the window centred on
  ``times[i]``. Silent windows are floored at ``FLOOR_LUFS`` (-100).
- Absolute loudness says how loud the *recording* is (mastering level), not how loudly the music was
  played; the level word below is about the former, the trend and swells about the latter.
- pyloudnorm (BS.1770 on PyPI) computes integrated loudness only, not a momentary curve, and pulls
  scipy.signal (about 2-3 s to import); the K-weighting here is applied as |H(f)|^2 to each window's
  spectrum in numpy. Checked against pyloudnorm 0.2.0's integrated loudness on three dev-set
  recordings: within 0.1 LU (pyloudnorm's own filter design reads -3.05 LUFS for the full-scale
  997 Hz sine that BS.1770 specifies as -3.01).

Summary (:func:`dynamics_summary`), computed on *gated* windows as in BS.1770 integrated loudness
(absolute gate -70 LUFS, then a relative gate 20 LU below the power mean of what passed; the relative
gate is 20 LU like EBU R128's loudness range rather than BS.1770's 10 LU, so that soft passages
count in the range):
- ``mean_db``: power mean of the gated windows (close to BS.1770 integrated loudness), LUFS;
- ``range_db``: 95th minus 5th percentile of the gated windows, LU;
- ``level``: from ``mean_db``: very soft < -38, soft < -28, moderate < -18, loud < -10,
  very loud >= -10 LUFS (a pop master sits near -8 to -14, streaming services play at -14 to -16,
  classical recordings near -18 to -30);
- ``trend``: Theil-Sen slope of the 3 s median-smoothed curve: its change over the clip
  (slope x duration) of at least +``TREND_DB`` (6 dB) is a crescendo, -6 dB a decrescendo; otherwise
  "varied" when the smoothed curve's interquartile range exceeds ``VARIED_IQR_DB`` (6 dB), else steady;
- ``peaks``: times (s) of swells: maxima of the smoothed curve standing at least ``PEAK_PROMINENCE_DB``
  (6 dB) above their surroundings on both sides, at least 4 s apart (a climb to the very end is a
  crescendo, not a swell);
- ``confidence``: the share of windows that passed the gates (how much of the clip was measured).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

FLOOR_LUFS = -100.0
REFERENCE = "LUFS (ITU-R BS.1770-4 momentary loudness, K-weighted, 400 ms windows)"
WINDOW_S = 0.4
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = 20.0
LEVEL_WORDS = ((-38.0, "very soft"), (-28.0, "soft"), (-18.0, "moderate"), (-10.0, "loud"))
TREND_DB = 6.0
VARIED_IQR_DB = 6.0
PEAK_PROMINENCE_DB = 6.0
PEAK_DISTANCE_S = 4.0
SMOOTH_S = 3.0


@dataclass(frozen=True)
class DynamicsSummary:
    """See the module docstring; dB values in LUFS / LU."""

    mean_db: float
    range_db: float
    level: str
    trend: str
    trend_db: float                       # fitted change over the clip (dB)
    peaks_s: list[float] = field(default_factory=list)
    confidence: float = 1.0               # share of the clip above the gates (how much was measured)
    reference: str = REFERENCE            # what the dB values are

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("mean_db", "range_db", "trend_db", "confidence"):
            d[k] = round(d[k], 2)
        d["peaks_s"] = [round(t, 2) for t in self.peaks_s]
        return d


def k_weighting_sos(sr: int) -> np.ndarray:
    """BS.1770 K-weighting as second-order sections for sample rate ``sr`` (libebur128's design)."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sr)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sr)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass])


def k_weighting_power(freqs_hz: np.ndarray, sr: int) -> np.ndarray:
    """|H(f)|^2 of the K-weighting filter at ``freqs_hz`` for sample rate ``sr``."""
    z = np.exp(-1j * 2 * np.pi * np.asarray(freqs_hz, dtype=float) / sr)
    h = np.ones_like(z)
    for b0, b1, b2, _, a1, a2 in k_weighting_sos(sr):
        h *= (b0 + b1 * z + b2 * z * z) / (1.0 + a1 * z + a2 * z * z)
    return np.abs(h) ** 2


def loudness_curve(audio: np.ndarray, sr: int, hop_s: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(times in seconds, momentary loudness in LUFS) every ``hop_s`` seconds of mono ``audio``.

    ``audio``: mono float samples in [-1, 1] (a (samples, channels) array is averaged to mono).
    Each 400 ms window's K-weighted mean square is computed in the frequency domain (Parseval: the
    window's power spectrum times |H(f)|^2), which equals filtering in time up to the filter's
    transient at the window's edges (under 0.1 dB on music) and needs no scipy.signal (whose import
    costs seconds).
    """
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.size == 0 or sr <= 0:
        return np.zeros(0), np.zeros(0)
    win = max(2, int(round(WINDOW_S * sr)))
    duration = len(x) / sr
    times = np.arange(0.0, duration + 1e-9, hop_s) if duration > hop_s else np.array([duration / 2])
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    starts = np.clip(np.round(times * sr).astype(int) - win // 2, 0, len(x) - win)
    weight = k_weighting_power(np.fft.rfftfreq(win, 1.0 / sr), sr)
    weight[1:-1 if win % 2 == 0 else None] *= 2.0  # one-sided spectrum: count the negative frequencies
    ms = np.empty(len(starts))
    for k in range(0, len(starts), 256):  # bounded memory on long recordings
        frames = np.stack([x[a : a + win] for a in starts[k : k + 256]]).astype(np.float64)
        spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        ms[k : k + 256] = spec @ weight / (win * win)
    db = np.where(ms > 0, -0.691 + 10.0 * np.log10(np.maximum(ms, 1e-30)), FLOOR_LUFS)
    return times, np.maximum(db, FLOOR_LUFS)


def _power_mean(db: np.ndarray) -> float:
    return float(10.0 * np.log10(np.mean(10.0 ** (db / 10.0))))


def level_word(lufs: float) -> str:
    """"very soft" .. "very loud" for a loudness in LUFS (thresholds in ``LEVEL_WORDS``)."""
    for limit, word in LEVEL_WORDS:
        if lufs < limit:
            return word
    return "very loud"


def _smooth(db: np.ndarray, hop_s: float) -> np.ndarray:
    """Running median over ``SMOOTH_S`` seconds (edges padded with the end values)."""
    size = max(1, int(round(SMOOTH_S / hop_s)) | 1)
    if len(db) <= size:
        return db
    pad = np.pad(db, size // 2, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(pad, size), axis=1)


def find_swells(y: np.ndarray, prominence: float, distance: int) -> list[int]:
    """Indices of local maxima standing ``prominence`` above the higher of the lowest points between
    them and the nearest higher point on each side (scipy's topographic prominence), at least
    ``distance`` apart (higher peaks first)."""
    n = len(y)
    cand = [i for i in range(1, n - 1) if y[i] > y[i - 1] and y[i] >= y[i + 1]]
    keep: list[int] = []
    for i in sorted(cand, key=lambda k: -y[k]):
        left = y[:i][::-1]
        higher = np.nonzero(left > y[i])[0]
        lmin = left[: higher[0]].min() if len(higher) else left.min()
        right = y[i + 1 :]
        higher = np.nonzero(right > y[i])[0]
        rmin = right[: higher[0]].min() if len(higher) else right.min()
        if y[i] - max(lmin, rmin) >= prominence and all(abs(i - j) >= distance for j in keep):
            keep.append(i)
    return sorted(keep)


def theil_sen_slope(x: np.ndarray, y: np.ndarray, max_points: int = 400) -> float:
    """Median of the pairwise slopes (Theil-Sen), on at most ``max_points`` evenly spaced points."""
    if len(x) > max_points:
        idx = np.linspace(0, len(x) - 1, max_points).round().astype(int)
        x, y = x[idx], y[idx]
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    ok = dx > 0
    return float(np.median((y[j] - y[i])[ok] / dx[ok])) if ok.any() else 0.0


def dynamics_summary(times: np.ndarray, db: np.ndarray) -> DynamicsSummary:
    """Summarise a loudness curve from :func:`loudness_curve` (see the module docstring)."""
    t = np.asarray(times, dtype=float)
    d = np.asarray(db, dtype=float)
    gated = d > ABSOLUTE_GATE_LUFS
    if gated.sum() == 0:
        return DynamicsSummary(FLOOR_LUFS, 0.0, "very soft", "steady", 0.0, [], 0.0)
    gated &= d > _power_mean(d[gated]) - RELATIVE_GATE_LU
    g = d[gated]
    mean_db = _power_mean(g)
    range_db = float(np.percentile(g, 95) - np.percentile(g, 5)) if len(g) > 1 else 0.0
    hop = float(np.median(np.diff(t))) if len(t) > 1 else 0.5
    tg = t[gated]
    sm = _smooth(g, hop)
    trend_db = 0.0
    trend = "steady"
    if len(g) >= 4 and tg[-1] > tg[0]:
        slope = theil_sen_slope(tg, sm)
        trend_db = slope * (tg[-1] - tg[0])
        iqr = float(np.percentile(sm, 75) - np.percentile(sm, 25))
        if trend_db >= TREND_DB:
            trend = "crescendo"
        elif trend_db <= -TREND_DB:
            trend = "decrescendo"
        elif iqr > VARIED_IQR_DB:
            trend = "varied"
    peaks: list[float] = []
    if len(sm) >= 3:
        idx = find_swells(sm, PEAK_PROMINENCE_DB, max(1, int(PEAK_DISTANCE_S / hop)))
        peaks = [float(tg[i]) for i in idx]
    return DynamicsSummary(mean_db=mean_db, range_db=range_db, level=level_word(mean_db), trend=trend,
                           trend_db=float(trend_db), peaks_s=peaks, confidence=float(gated.mean()))


__all__ = ["loudness_curve", "dynamics_summary", "DynamicsSummary", "k_weighting_sos", "level_word"]
