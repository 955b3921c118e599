"""Beats, tempo, meter and downbeats from note activations and note events.

Conventions: times in seconds; ``tactus_bpm`` is the felt beat per minute; ``tempo_qpm`` is quarter notes
per minute (the MIDI convention): equal to the tactus in simple meters (x/4) and 1.5 x the tactus in
compound meters (6/8, 9/8, 12/8, where the beat is a dotted quarter).

Method:
1. onset envelope: the sum over pitches of basic-pitch's onset activations plus the positive change of
   its frame activations (about 86 values per second);
2. tempo: a comb over the envelope's autocorrelation (beat period, twice it, and its halves and
   thirds), weighted by a log-normal prior on the tactus centred on ``prior_bpm``;
3. beats: Ellis's dynamic-programming beat tracker (as in librosa) at that tempo, written here in numpy
   because librosa's numba version costs about 8 s of compilation on every run;
4. subdivision (2 or 3 per beat): where note onsets fall inside beats;
5. meter, tempo level and downbeats: by default the trained meter model
   (`musicllm.analysis.meter_model`) chooses among the meters (2/2, 2/4, 3/4, 4/4, 6/8, 9/8) and the
   note values of the tracked beat (1/3 to 3 quarter notes) from note values, accents, how the music
   repeats at bar lags and the rules' reading of the tempo; ``RhythmConfig(meter_method="rules")`` (and the
   fallback without weights) uses the periodicity of a per-beat accent made of onset strength, bass
   notes, long notes and changes of harmony, then the meter as the corpora mostly write it
   (see `estimate_bar`). Output beats are at the meter's beat (half notes in 2/2, dotted quarters
   in 6/8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from musicllm.analysis import meter_model
from musicllm.analysis.accents import beat_accents
from musicllm.analysis.notes import Activations, RawNote
from musicllm.score.model import Meter


@dataclass
class RhythmEstimate:
    tempo_qpm: float
    tactus_bpm: float
    meter: Meter
    beat_times_s: list[float]
    downbeat_times_s: list[float]
    subdivision: int
    tempo_confidence: float = 0.0
    meter_confidence: float = 0.0
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RhythmConfig:
    prior_bpm: float = 110.0      # centre of the log-normal tactus prior
    prior_octaves: float = 0.7    # its standard deviation, in octaves
    min_bpm: float = 40.0
    max_bpm: float = 220.0
    tightness: float = 300.0      # beat tracker: how strictly beats keep the tempo
    comb_double: float = 0.25      # weight of the autocorrelation at twice the beat period
    comb_quad: float = 0.25       # ... at four times
    comb_sub: float = 0.5         # ... at half or a third of it (the beat's subdivision)
    alternation_ratio: float = 0.2   # halve the tempo when every other beat has less than this weight
    min_halved_bpm: float = 55.0     # ... and the halved tempo is at least this
    evenness_ratio: float = 0.75     # double when mid-beat weight reaches this share of the beats
    max_doubled_bpm: float = 175.0   # ... and the doubled tempo is at most this
    triple_margin: float = 0.28   # triple meter must beat duple by this accent contrast
    meter_method: str = "model"   # "model": the trained meter model (analysis/meter_model.py); "rules": estimate_bar
    model_tempo_level: bool = True  # the model may also change the rules' tempo level (else: meter at that tempo)
    meter_tempo_prior: bool = True  # the model's tempo prior per meter (analysis/meter_tempo_prior.py), if shipped


def onset_envelope(act: Activations) -> tuple[np.ndarray, np.ndarray]:
    """(envelope, frame times in seconds). The envelope is normalised to max 1."""
    if act.frames.shape[0] == 0:
        return np.zeros(0), np.zeros(0)
    flux = np.maximum(0.0, np.diff(act.frames, axis=0, prepend=act.frames[:1])).sum(axis=1)
    env = act.onsets.sum(axis=1) + 0.5 * flux
    env = env - np.convolve(env, np.ones(43) / 43, mode="same")  # remove slow trends (~0.5 s)
    env = np.maximum(env, 0.0)
    peak = env.max()
    return (env / peak if peak > 0 else env), act.frame_times()


def _autocorr(x: np.ndarray, max_lag: int) -> np.ndarray:
    x = x - x.mean()
    n = len(x)
    f = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(f * np.conj(f))[: max_lag + 1]
    return ac / ac[0] if ac[0] > 0 else ac


def tempo_candidates(env: np.ndarray, fps: float, cfg: RhythmConfig) -> tuple[np.ndarray, np.ndarray]:
    """Return (bpm grid, score) where score combines comb autocorrelation and the tactus prior."""
    bpms = np.arange(cfg.min_bpm, cfg.max_bpm, 0.5)
    max_lag = int(4 * 60.0 / cfg.min_bpm * fps)
    ac = _autocorr(env, min(max_lag, max(len(env) - 1, 1)))
    lags = np.arange(len(ac))

    def at(period_frames: np.ndarray) -> np.ndarray:
        return np.interp(period_frames, lags, ac, right=0.0)

    periods = 60.0 / bpms * fps
    comb = at(periods) + cfg.comb_double * at(2 * periods) + cfg.comb_quad * at(4 * periods) \
        + cfg.comb_sub * np.maximum(at(periods / 2), at(periods / 3))
    prior = np.exp(-0.5 * (np.log2(bpms / cfg.prior_bpm) / cfg.prior_octaves) ** 2)
    return bpms, np.maximum(comb, 0.0) * prior


def track_beats(env: np.ndarray, period: float, tightness: float) -> np.ndarray:
    """Beat frames by dynamic programming (Ellis 2007): maximise onset strength at beats minus
    ``tightness`` x (log of the ratio of each inter-beat interval to ``period``) squared.

    ``env``: onset envelope (frames); ``period``: beat period in frames. Returns frame indices.
    """
    n = len(env)
    if n == 0 or period < 2:
        return np.zeros(0, dtype=int)
    std = env.std()
    local = env / std if std > 0 else env.copy()
    half = int(round(period))
    win = np.exp(-0.5 * ((np.arange(-half, half + 1) * 32.0 / period) ** 2))
    local = np.convolve(local, win, mode="same")
    lo, hi = int(round(-2 * period)), int(round(-period / 2))
    offsets = np.arange(lo, hi + 1)
    txcost = -tightness * np.log(-offsets / period) ** 2
    score = np.zeros(n)
    back = np.full(n, -1, dtype=int)
    block = max(1, -hi)
    first_good = False
    thresh = 0.01 * local.max()
    for i0 in range(0, n, block):
        idx = np.arange(i0, min(i0 + block, n))
        cand = idx[:, None] + offsets[None, :]
        valid = cand >= 0
        vals = np.where(valid, score[np.clip(cand, 0, None)] + txcost[None, :], -np.inf)
        j = np.argmax(vals, axis=1)
        best = vals[np.arange(len(idx)), j]
        has = np.isfinite(best) & first_good
        score[idx] = local[idx] + np.where(has, best, 0.0)
        back[idx] = np.where(has, cand[np.arange(len(idx)), j], -1)
        if not first_good and (local[idx] > thresh).any():
            first_good = True
    # Last beat: the best-scoring local maximum within the final period.
    tail = max(0, n - half)
    last = tail + int(np.argmax(score[tail:]))
    beats = [last]
    while back[beats[-1]] >= 0:
        beats.append(int(back[beats[-1]]))
    beats = np.array(beats[::-1], dtype=int)
    # Drop weak beats at the very start and end (silence), as librosa's trim does.
    strong = local[beats] > 0.5 * np.sqrt(np.mean(local[beats] ** 2))
    if strong.any():
        k0, k1 = np.argmax(strong), len(strong) - np.argmax(strong[::-1])
        beats = beats[k0:k1]
    return beats


def _onset_phases(onsets: np.ndarray, beats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(phase in [0, 1) of each onset inside its beat, mask of onsets that fall between two beats)."""
    idx = np.searchsorted(beats, onsets, side="right") - 1
    ok = (idx >= 0) & (idx < len(beats) - 1)
    phase = np.zeros(len(onsets))
    i = idx[ok]
    phase[ok] = (onsets[ok] - beats[i]) / (beats[i + 1] - beats[i])
    return phase, ok


def estimate_subdivision(notes: Sequence[RawNote], beats: np.ndarray, min_offbeat: float = 0.12) -> tuple[int, float]:
    """2 (binary) or 3 (ternary) subdivisions per beat, with a confidence in [0, 1].

    Onset phases inside beats are first re-centred on the on-beat cluster (tracked beats and note
    onsets can disagree by a constant 10-30 ms). Binary evidence is the amplitude near 1/2 of the
    beat (and half of that near 1/4 and 3/4), ternary evidence near 1/3 and 2/3, each within
    0.06 beat. With little off-beat evidence (under ``min_offbeat`` of all onsets) the answer is binary.
    """
    if len(notes) == 0 or len(beats) < 3:
        return 2, 0.0
    on = np.array([n.onset_s for n in notes])
    w = np.array([n.amplitude for n in notes])
    phase, ok = _onset_phases(on, beats)
    phase, w = phase[ok], w[ok]
    if len(phase) == 0:
        return 2, 0.0
    centred = (phase + 0.5) % 1.0 - 0.5  # in [-0.5, 0.5)
    near0 = np.abs(centred) < 0.15
    shift = float(np.average(centred[near0], weights=w[near0])) if near0.any() else 0.0
    ph = (phase - shift) % 1.0

    def mass(x: float) -> float:
        d = np.abs((ph - x + 0.5) % 1.0 - 0.5)
        return float(w[d < 0.06].sum())

    binary = mass(0.5) + 0.5 * (mass(0.25) + mass(0.75))
    ternary = mass(1 / 3) + mass(2 / 3)
    total = w.sum()
    if binary + ternary < min_offbeat * total:
        return 2, 0.0
    sub = 3 if ternary > 1.1 * binary else 2
    return sub, float(abs(ternary - binary) / (binary + ternary))


def _grid_strength(notes: Sequence[RawNote], grid: np.ndarray, tol: float) -> np.ndarray:
    """Onset weight (amplitude x duration, capped at 1 s) of the notes starting within ``tol``
    seconds of each grid point, each note counted at its nearest point."""
    on = np.array([n.onset_s for n in notes])
    w = np.array([n.amplitude * min(n.offset_s - n.onset_s, 1.0) for n in notes])
    k = np.clip(np.searchsorted(grid, on), 1, len(grid) - 1)
    nearest = np.where(np.abs(grid[k] - on) < np.abs(grid[k - 1] - on), k, k - 1)
    close = np.abs(grid[nearest] - on) < tol
    return np.bincount(nearest[close], weights=w[close], minlength=len(grid))


def halve_if_alternating(notes: Sequence[RawNote], beats: np.ndarray, tactus: float,
                         cfg: RhythmConfig) -> tuple[np.ndarray, float]:
    """Halve the tempo when every other beat is weak (the tracker followed the subdivision).

    A tactus at twice the true tempo puts every second beat on passing notes only: the weaker
    phase then carries less than ``cfg.alternation_ratio`` of the stronger phase's onset weight
    (amplitude x duration of notes starting on the beat). Only when the halved tempo stays at or
    above ``cfg.min_halved_bpm`` (slow 4/4 tunes otherwise halve to an implausible 47-50 qpm).
    Keeps the strong phase.
    """
    if len(beats) < 8 or not notes or tactus / 2 < cfg.min_halved_bpm:
        return beats, tactus
    strength = _grid_strength(notes, beats, 0.06)
    even, odd = strength[0::2].mean(), strength[1::2].mean()
    strong, weak = max(even, odd), min(even, odd)
    if strong > 0 and weak < cfg.alternation_ratio * strong:
        return beats[0::2] if even >= odd else beats[1::2], tactus / 2
    return beats, tactus


def double_if_even(notes: Sequence[RawNote], beats: np.ndarray, tactus: float,
                   cfg: RhythmConfig) -> tuple[np.ndarray, float]:
    """Double the tempo when the points halfway between beats carry nearly as much weight as the
    beats (the tracker followed every other beat), while the doubled tempo stays at or below
    ``cfg.max_doubled_bpm``. Weight: amplitude x duration of notes starting there."""
    if cfg.evenness_ratio <= 0 or len(beats) < 4 or not notes or tactus * 2 > cfg.max_doubled_bpm:
        return beats, tactus
    grid = np.empty(2 * len(beats) - 1)
    grid[0::2] = beats
    grid[1::2] = (beats[:-1] + beats[1:]) / 2
    strength = _grid_strength(notes, grid, 0.05)
    on_beat, mid = strength[0::2].mean(), strength[1::2].mean()
    if on_beat > 0 and mid >= cfg.evenness_ratio * on_beat:
        return grid, tactus * 2
    return beats, tactus


def best_beat_phase(notes: Sequence[RawNote], beats: np.ndarray, subdivision: int, tol: float = 0.06) -> np.ndarray:
    """Shift the beat grid by the fraction of a beat (0, 1/sub, 2/sub...) where beats fall on the
    loudest and longest notes. The tracker locks onto a regular onset phase, which in a stream of
    eighth notes can be the second eighth of the beat instead of the first."""
    if len(beats) < 4 or not notes:
        return beats
    period = float(np.median(np.diff(beats)))
    sub_len = period / subdivision
    on = np.array([n.onset_s for n in notes])
    weight = np.array([n.amplitude * min((n.offset_s - n.onset_s) / sub_len, 3.0) for n in notes])
    best, best_score = 0, -1.0
    for j in range(subdivision):
        grid = beats + j * sub_len
        k = np.clip(np.searchsorted(grid, on), 1, len(grid) - 1)
        d = np.minimum(np.abs(grid[k] - on), np.abs(grid[k - 1] - on))
        score = float(weight[d <= tol].sum())
        if score > best_score * 1.05:  # keep the tracked phase unless another is clearly better
            best, best_score = j, score
    return beats + best * sub_len


def _beat_accents(notes: Sequence[RawNote], beats: np.ndarray, env: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Accent of each beat (`musicllm.analysis.accents.beat_accents`) for a list of notes."""
    n = meter_model.NoteArrays.from_notes(notes)
    return beat_accents(n.onset, n.offset, n.pitch, n.amp, beats, env, times)


def _bar_scores(accents: np.ndarray) -> dict[int, tuple[float, int]]:
    """For 2, 3 and 4 beats per bar: (best accent contrast over phases, that phase)."""
    out: dict[int, tuple[float, int]] = {}
    for b in (2, 3, 4):
        best = (-1e9, 0)
        for ph in range(b):
            on = accents[ph::b]
            off = np.delete(accents, np.arange(ph, len(accents), b))
            if len(on) and len(off):
                best = max(best, (float(on.mean() - off.mean()), ph))
        out[b] = best
    return out


def estimate_bar(accents: np.ndarray, subdivision: int, cfg: RhythmConfig) -> tuple[Meter, int, float]:
    """Meter, phase of the first downbeat among the beats, and a confidence.

    Triple or duple comes from the accent contrast at a period of 3 beats against 2 or 4 beats
    (triple must win by ``cfg.triple_margin``). Duple meters are written the way the corpora mostly
    write them: 6/8 in compound time, else 4/4. 2/4, 2/2 and 12/8 are never chosen: from audio they
    are notational variants (on the dev split, onset density did not separate 2/4 from 4/4).
    """
    if len(accents) < 6:
        return (Meter(6, 8) if subdivision == 3 else Meter(4, 4)), 0, 0.0
    sc = _bar_scores(accents)
    duple_b = 4 if sc[4][0] >= sc[2][0] else 2
    duple, triple = sc[duple_b][0], sc[3][0]
    conf = float(np.clip(abs(triple - duple) * 4, 0, 1))
    if triple > duple + cfg.triple_margin:
        return (Meter(9, 8) if subdivision == 3 else Meter(3, 4)), sc[3][1], conf
    if subdivision == 3:
        return Meter(6, 8), sc[2][1], conf
    return Meter(4, 4), sc[4][1], conf


def estimate_rhythm(act: Activations, notes: Sequence[RawNote], cfg: RhythmConfig | None = None) -> RhythmEstimate:
    """Tempo, beats, meter and downbeats of a recording (see the module docstring)."""
    cfg = cfg or RhythmConfig()
    env, times = onset_envelope(act)
    duration = act.duration_s
    if len(env) < 16 or not notes:
        tempo = 120.0
        beats = np.arange(0.0, max(duration, 0.5), 0.5)
        return RhythmEstimate(tempo, tempo, Meter(4, 4), beats.tolist(), beats[::4].tolist(), 2)
    fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 86.13
    bpms, score = tempo_candidates(env, fps, cfg)
    tactus = float(bpms[int(np.argmax(score))])
    # Confidence: how far the best tempo stands above the best one outside +-10 % of it.
    rival = score[np.abs(bpms / tactus - 1) > 0.1]
    tempo_conf = float(np.clip(1 - rival.max() / (score.max() + 1e-9), 0, 1)) if len(rival) else 0.0
    beat_frames = track_beats(env, 60.0 / tactus * fps, cfg.tightness)
    beats = times[np.clip(beat_frames, 0, len(times) - 1)] if len(beat_frames) else np.array([])
    if len(beats) >= 4:
        tactus = 60.0 / float(np.median(np.diff(beats)))
    beats = _extend_beats(beats, 60.0 / tactus, duration)
    beats, tactus = halve_if_alternating(notes, beats, tactus, cfg)
    beats, tactus = double_if_even(notes, beats, tactus, cfg)
    sub, sub_conf = estimate_subdivision(notes, beats)
    beats = _extend_beats(best_beat_phase(notes, beats, sub), 60.0 / tactus, duration)
    qpm = tactus * 1.5 if sub == 3 else tactus
    details = {"subdivision_confidence": sub_conf, "meter_method": "model", "tracked_beats_s": beats.tolist()}
    choice = None
    if cfg.meter_method == "model" and len(beats) >= 8:
        choice = _model_choice(notes, beats, env, times, duration, qpm, cfg.model_tempo_level, cfg.meter_tempo_prior)
    if choice is not None:
        c = choice.candidate
        out_beats, downbeats = meter_model.beat_grid(c, beats, duration)
        meter, qpm, meter_conf = c.meter, c.qpm, choice.meter_probability
        tactus = qpm / float(meter.beat_qn)
        sub = 3 if meter.is_compound else 2
    else:
        accents = _beat_accents(notes, beats, env, times)
        meter, phase, bar_conf = estimate_bar(accents, sub, cfg)
        out_beats, downbeats = beats, beats[phase::meter.beats_per_bar]
        meter_conf = float(min(bar_conf, 1.0) * 0.5 + sub_conf * 0.5)
        details.update(meter_method="rules", bar_confidence=bar_conf)
    return RhythmEstimate(
        tempo_qpm=float(qpm), tactus_bpm=float(tactus), meter=meter, beat_times_s=out_beats.tolist(),
        downbeat_times_s=downbeats.tolist(), subdivision=sub, tempo_confidence=tempo_conf,
        meter_confidence=meter_conf, details=details,
    )


def _model_choice(notes: Sequence[RawNote], beats: np.ndarray, env: np.ndarray, times: np.ndarray,
                  duration: float, qpm: float, tempo_level: bool,
                  tempo_prior: bool = True) -> meter_model.MeterChoice | None:
    """The meter model's interpretation of the tracked beats (``qpm``: the rules' reading of them;
    with ``tempo_level`` False only interpretations at that tempo; with ``tempo_prior`` False the base
    model without its tempo prior), or None without shipped weights."""
    try:
        model = meter_model.load_model()
    except (OSError, ValueError):
        return None
    if not tempo_prior:
        model = replace(model, tempo_prior=None)
    return meter_model.choose(meter_model.NoteArrays.from_notes(notes), beats, env, times, duration,
                              near_qpm=None if tempo_level else qpm, model=model, tracked_qpm=qpm)


def _extend_beats(beats: np.ndarray, period: float, duration: float) -> np.ndarray:
    """Extend a beat list backwards to time 0 and forwards to the end with the given period."""
    if len(beats) == 0:
        return np.arange(0.0, max(duration, period), period)
    head = []
    t = beats[0] - period
    while t > -0.5 * period:
        head.append(t)
        t -= period
    tail = []
    t = beats[-1] + period
    while t < duration + 0.5 * period:
        tail.append(t)
        t += period
    return np.concatenate([np.array(head[::-1]), beats, np.array(tail)])
