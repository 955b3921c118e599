"""Timbre of transcribed parts: a streamed magnitude spectrogram and per-part timbre features.

`Spectrogram` is filled block by block from the same 22,050 Hz mono stream that basic-pitch reads
(``transcribe()`` tees the blocks into it), so memory grows only with its frames: 744 bins up to
8 kHz x 43 frames/s x 2 bytes (float16), about 3.8 MB per minute.

`part_features` describes one part (a voice of `musicllm.analysis.parts`) by what its notes sound
like in the mixture, reading each note's harmonics at multiples of its fundamental:

- ``harm_1`` .. ``harm_10``: level of harmonic h in dB relative to the note's strongest harmonic
  (clipped at -60 dB), median over the part's notes (a clarinet's even harmonics are weak, a flute's upper ones fall away,
  a trumpet's are strong). A harmonic that lies within a quarter tone of a partial of another note
  sounding at the same time (any part) is not read: it belongs to both;
- ``odd_even``: mean level of harmonics 3, 5, 7 minus that of 2, 4, 6 (dB);
- ``centroid``: amplitude-weighted mean harmonic number (brightness, in harmonics);
- ``noise``: level between harmonics 1-4 (at h + 1/2) minus the level at them (dB; breath, bow noise);
- ``attack``: level 12 ms after the onset minus the note's peak in its first 150 ms (dB; 0 for a
  plucked or struck note, negative for a slow bow or breath attack);
- ``decay``: slope of the level over the note's sustain, 100 to 800 ms after the onset (dB per
  second; a piano or guitar note dies away, a bowed or blown one holds), notes of 250 ms or more;
- ``vibrato``: standard deviation of the strongest harmonic's frequency over the sustain, in cents
  (parabolic interpolation between bins), notes of 300 ms or more;
- ``pitch_med`` / ``pitch_lo`` / ``pitch_hi``: median, 10th and 90th percentile of the MIDI pitches;
- ``chords``: share of notes that start within 50 ms of another note of the same part (piano, guitar);
- ``dur``: log2 of the median note duration in seconds; ``valid_harm`` / ``valid_env``: share of
  notes whose harmonics / envelope could be read.

Missing values (no note could be read) are NaN; the instrument model replaces them with its training
means. Times in seconds, pitches MIDI numbers, levels in dB of the magnitude spectrum.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache

import numpy as np

SAMPLE_RATE = 22050
N_FFT = 2048
HOP = 512
FMAX_HZ = 8000.0
N_BINS = int(FMAX_HZ / SAMPLE_RATE * N_FFT) + 1  # 744
BIN_HZ = SAMPLE_RATE / N_FFT
FRAME_S = HOP / SAMPLE_RATE
N_HARM = 10
QUARTER_TONE = 2 ** (1 / 24)
FLOOR_DB = -60.0  # relative harmonic levels are clipped here (below it: noise floor, not timbre)

FEATURES: tuple[str, ...] = tuple(f"harm_{h}" for h in range(1, N_HARM + 1)) + (
    "odd_even", "centroid", "noise", "attack", "decay", "vibrato", "pitch_med", "pitch_lo", "pitch_hi",
    "chords", "dur", "valid_harm", "valid_env")


class Spectrogram:
    """Magnitude spectrogram in dB (float16), frames ``HOP`` samples apart, frame ``k`` centred at
    ``k * HOP / SAMPLE_RATE`` seconds; filled from a stream of mono blocks with `feed` or `tee`."""

    def __init__(self) -> None:
        self._buf = np.zeros(N_FFT // 2, dtype=np.float32)  # centred frames: half a window of silence first
        self._parts: list[np.ndarray] = []
        self._window = np.hanning(N_FFT).astype(np.float32)
        self._db: np.ndarray | None = None

    def feed(self, block: np.ndarray) -> None:
        import scipy.fft

        buf = np.concatenate([self._buf, np.asarray(block, dtype=np.float32)])
        n = (len(buf) - N_FFT) // HOP + 1 if len(buf) >= N_FFT else 0
        if n > 0:
            frames = np.lib.stride_tricks.sliding_window_view(buf, N_FFT)[: n * HOP: HOP]
            spec = scipy.fft.rfft(frames * self._window, axis=1)[:, :N_BINS]
            power = spec.real ** 2 + spec.imag ** 2
            self._parts.append((10 * np.log10(power + 1e-10)).astype(np.float16))
            buf = buf[n * HOP:]
        self._buf = buf
        self._db = None

    def tee(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Yield ``blocks`` unchanged, feeding each one in on the way."""
        for b in blocks:
            self.feed(b)
            yield b

    def finish(self) -> None:
        """Feed the last half window of silence so the final samples get their frames."""
        self.feed(np.zeros(N_FFT // 2, dtype=np.float32))

    @property
    def db(self) -> np.ndarray:
        """(n_frames, N_BINS) float16 levels in dB."""
        if self._db is None:
            self._db = np.concatenate(self._parts) if self._parts else np.zeros((0, N_BINS), np.float16)
            self._parts = [self._db]
        return self._db

    @classmethod
    def from_array(cls, y: np.ndarray) -> Spectrogram:
        s = cls()
        s.feed(y)
        s.finish()
        return s


def midi_hz(pitch: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(pitch, dtype=float) - 69) / 12)


def _bands(freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bins within a quarter tone of each frequency (at least the nearest bin and one either side),
    as an index array (..., W) padded by repeating the top bin, and each band's true width."""
    b = freqs / BIN_HZ
    w = np.maximum(1.0, b * (QUARTER_TONE - 1))
    lo = np.clip(np.floor(b - w), 0, N_BINS - 1).astype(int)
    hi = np.clip(np.ceil(b + w), 0, N_BINS - 1).astype(int)
    width = hi - lo + 1
    idx = np.minimum(lo[..., None] + np.arange(int(width.max()) if width.size else 1), hi[..., None])
    return idx, width


@lru_cache(maxsize=1)
def _shared_partials() -> np.ndarray:
    """(N_HARM, 2 * 127 + 1) table: whether harmonic h of a note lies within a quarter tone of a
    partial (1..N_HARM) of a note ``d`` semitones away (column ``d + 127``)."""
    c = 12 * np.log2(np.arange(1, N_HARM + 1))
    d = np.arange(-127, 128)
    gap = c[:, None, None] - c[None, :, None] - d[None, None, :]  # (h, k, d)
    return (np.abs(gap) < 0.5).any(axis=1)


def _nan_stat(fn, x: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(x, axis=axis)


def part_features(spec: np.ndarray, onset: np.ndarray, offset: np.ndarray, pitch: np.ndarray,
                  all_onset: np.ndarray, all_offset: np.ndarray, all_pitch: np.ndarray,
                  max_notes: int = 150) -> np.ndarray:
    """`FEATURES` of one part, shape (len(FEATURES),), NaN where nothing could be read.

    ``spec``: `Spectrogram.db`; ``onset``/``offset``/``pitch``: the part's notes (seconds, MIDI);
    ``all_*``: every note of the transcription (the part's own included), to find harmonics shared
    with other sounding notes. At most ``max_notes`` notes are read (the longest ones), so the cost
    does not grow with the recording's length beyond that. Vectorised over notes, harmonics and frames.
    """
    out = np.full(len(FEATURES), np.nan)
    n = len(onset)
    if n == 0:
        return out
    pitch = np.asarray(pitch, dtype=int)
    all_pitch = np.asarray(all_pitch, dtype=int)
    dur_all = offset - onset
    out[FEATURES.index("pitch_med")] = float(np.median(pitch))
    out[FEATURES.index("pitch_lo")] = float(np.percentile(pitch, 10))
    out[FEATURES.index("pitch_hi")] = float(np.percentile(pitch, 90))
    out[FEATURES.index("dur")] = float(np.log2(max(np.median(dur_all), 1e-3)))
    o_s = np.sort(onset)
    close = np.diff(o_s) <= 0.05
    together = np.concatenate([close, [False]]) | np.concatenate([[False], close])
    out[FEATURES.index("chords")] = float(together.mean())

    n_frames = spec.shape[0]
    pick = np.argsort(-dur_all, kind="stable")[:max_notes]
    t0, t1, p = onset[pick].astype(float), offset[pick].astype(float), pitch[pick]
    k0 = np.round(t0 / FRAME_S).astype(int)
    k_end = np.round(t1 / FRAME_S).astype(int)
    ok_note = (k0 < n_frames) & (k_end > k0)
    if not ok_note.any():
        out[FEATURES.index("valid_harm")] = out[FEATURES.index("valid_env")] = 0.0
        return out
    t0, t1, p, k0, k_end = t0[ok_note], t1[ok_note], p[ok_note], k0[ok_note], k_end[ok_note]
    r_n = len(t0)
    f0 = midi_hz(p)
    hs = np.arange(1, N_HARM + 1)
    fh = f0[:, None] * hs[None, :]  # (R, H)

    # Harmonics shared with another note sounding at the same time are not read.
    overlap = (all_onset[None, :] < t1[:, None] - 0.03) & (all_offset[None, :] > t0[:, None] + 0.03) \
        & ~((all_onset[None, :] == t0[:, None]) & (all_pitch[None, :] == p[:, None]))
    sounding = np.zeros((r_n, 128), dtype=bool)
    rows, cols = np.nonzero(overlap)
    sounding[rows, np.clip(all_pitch[cols], 0, 127)] = True
    rel = np.zeros((r_n, 255), dtype=bool)  # column d + 127: a note d semitones away sounds
    for r in range(r_n):
        rel[r, 127 - p[r]: 255 - p[r]] = sounding[r]
    clean = (fh < FMAX_HZ) & ~((rel.astype(np.float32) @ _shared_partials().T.astype(np.float32)) > 0)

    # Sustain: 30 to 400 ms after the onset (at least one frame), within the note.
    s0 = np.minimum(k0 + max(1, int(round(0.03 / FRAME_S))), n_frames - 1)
    s1 = np.minimum(np.maximum(s0 + 1, np.minimum(k_end, k0 + int(round(0.4 / FRAME_S)))), n_frames)
    n_sus = int((s1 - s0).max())
    sus_f = s0[:, None] + np.arange(n_sus)[None, :]
    sus_ok = sus_f < s1[:, None]
    sus_f = np.minimum(sus_f, n_frames - 1)
    idx, width = _bands(fh)  # (R, H, W)
    lev = spec[sus_f[:, :, None, None], idx[:, None, :, :]].astype(np.float32).max(axis=3)  # (R, F, H)
    lev = np.where(sus_ok[:, :, None], lev, np.nan)
    lv_all = _nan_stat(np.nanmedian, lev, axis=1)  # (R, H)
    lv = np.where(clean, lv_all, np.nan)
    has = np.isfinite(lv).any(axis=1)
    top = np.where(has, _nan_stat(np.nanmax, np.where(has[:, None], lv, 0.0), axis=1), 0.0)
    harm = np.where(has[:, None], np.maximum(lv - top[:, None], FLOOR_DB), np.nan)
    mids = f0[:, None] * (np.arange(1, 5) + 0.5)[None, :]
    midx, _ = _bands(mids)
    between = spec[sus_f[:, :, None, None], midx[:, None, :, :]].astype(np.float32).max(axis=3)
    between = _nan_stat(np.nanmedian, np.where(sus_ok[:, :, None], between, np.nan), axis=1)  # (R, 4)
    mid_ok = clean[:, :4] & clean[:, 1:5]
    gap = np.where(mid_ok, between - lv[:, :4], np.nan)
    noise = np.where(mid_ok.any(axis=1), _nan_stat(np.nanmean, gap, axis=1), np.nan)

    # Envelope from the onset (up to 800 ms): the strongest clean one of the first three harmonics.
    n_env = int(round(0.8 / FRAME_S)) + 1
    env_f = k0[:, None] + np.arange(n_env)[None, :]
    env_ok = env_f < np.minimum(k_end, n_frames)[:, None]
    env_f = np.minimum(env_f, n_frames - 1)
    e3 = spec[env_f[:, :, None, None], idx[:, None, :3, :]].astype(np.float32).max(axis=3)  # (R, T, 3)
    e3 = np.where(env_ok[:, :, None], e3, -np.inf)
    cand = clean[:, :3].copy()
    cand[~cand.any(axis=1), 0] = True
    peak_of = np.where(cand, e3.max(axis=1), -np.inf)
    h_env = np.argmax(peak_of, axis=1)
    env = e3[np.arange(r_n), :, h_env]  # (R, T), -inf past the note
    n_ok = env_ok.sum(axis=1)
    head_n = max(2, int(round(0.15 / FRAME_S)) + 1)
    attack = np.where(n_ok >= 2, env[:, 1] - env[:, :head_n].max(axis=1), np.nan)
    a = int(round(0.1 / FRAME_S))
    seg, seg_ok = env[:, a:], env_ok[:, a:]
    tt = np.arange(seg.shape[1]) * FRAME_S
    cnt = seg_ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tm = (seg_ok * tt).sum(axis=1) / np.maximum(cnt, 1)
        segv = np.where(seg_ok, seg, 0.0)
        ym = segv.sum(axis=1) / np.maximum(cnt, 1)
        dt = np.where(seg_ok, tt[None, :] - tm[:, None], 0.0)
        slope = (dt * (segv - ym[:, None])).sum(axis=1) / (dt * dt).sum(axis=1)
    decay = np.where((t1 - t0 >= 0.25) & (n_ok >= 2) & (cnt >= 4), slope, np.nan)

    # Vibrato: the frequency of the strongest clean one of the first three harmonics over the sustain.
    h_vib = np.argmax(np.where(cand, lv_all[:, :3], -np.inf), axis=1)
    rr = np.arange(r_n)
    band = spec[sus_f[:, :, None], idx[rr, h_vib][:, None, :]].astype(np.float32)  # (R, F, W)
    w_true = width[rr, h_vib]
    wpos = np.arange(band.shape[2])
    band = np.where(wpos[None, None, :] < w_true[:, None, None], band, -np.inf)
    j = np.argmax(band, axis=2)  # (R, F)
    inner = (j > 0) & (j < w_true[:, None] - 1) & sus_ok
    jl, jr = np.maximum(j - 1, 0), np.minimum(j + 1, band.shape[2] - 1)
    a_ = np.take_along_axis(band, jl[:, :, None], 2)[:, :, 0]
    b_ = np.take_along_axis(band, j[:, :, None], 2)[:, :, 0]
    c_ = np.take_along_axis(band, jr[:, :, None], 2)[:, :, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        den = a_ - 2 * b_ + c_
        delta = np.where(inner & (np.abs(den) > 1e-6), 0.5 * (a_ - c_) / np.where(den == 0, 1, den), 0.0)
        freq = (idx[rr, h_vib, 0][:, None] + j + np.clip(delta, -0.5, 0.5)) * BIN_HZ
        cents = np.where(inner, 1200 * np.log2(np.maximum(freq, 1e-3) / (f0 * (h_vib + 1))[:, None]), np.nan)
    vib = np.where((t1 - t0 >= 0.3) & (sus_ok.sum(axis=1) >= 5) & (inner.sum(axis=1) >= 4),
                   _nan_stat(np.nanstd, cents, axis=1), np.nan)

    med = _nan_stat(np.nanmedian, harm, axis=0)
    out[:N_HARM] = med
    out[FEATURES.index("odd_even")] = float(_nan_stat(np.nanmean, med[[2, 4, 6]], 0) - _nan_stat(np.nanmean, med[[1, 3, 5]], 0))
    lin = 10 ** (np.nan_to_num(med, nan=FLOOR_DB) / 20)
    out[FEATURES.index("centroid")] = float((lin * hs).sum() / lin.sum()) if np.isfinite(med).any() else np.nan
    for name, v in (("noise", noise), ("attack", attack), ("decay", decay), ("vibrato", vib)):
        out[FEATURES.index(name)] = float(_nan_stat(np.nanmedian, v, 0))
    out[FEATURES.index("valid_harm")] = float(has.sum() / len(pick))
    out[FEATURES.index("valid_env")] = float(np.isfinite(attack).sum() / len(pick))
    return out


def parts_features(spec: np.ndarray, voices: Sequence[Sequence]) -> np.ndarray:
    """`part_features` of each voice (a list of notes with ``onset_s``, ``offset_s``, ``pitch``),
    shape (n_voices, len(FEATURES))."""
    arrays = [(np.array([n.onset_s for n in v], dtype=float), np.array([n.offset_s for n in v], dtype=float),
               np.array([n.pitch for n in v], dtype=int)) for v in voices]
    all_on = np.concatenate([a[0] for a in arrays]) if arrays else np.zeros(0)
    all_off = np.concatenate([a[1] for a in arrays]) if arrays else np.zeros(0)
    all_p = np.concatenate([a[2] for a in arrays]) if arrays else np.zeros(0, dtype=int)
    return np.array([part_features(spec, on, off, p, all_on, all_off, all_p) for on, off, p in arrays]) \
        if arrays else np.zeros((0, len(FEATURES)))
