"""Quantise note times (seconds) to a beat grid (quarter notes, exact fractions).

Given detected beats (seconds), the meter and the first downbeat, every onset and offset becomes a
position in quarter notes on a grid of the beat:

- simple meters (x/4, x/2): sixteenths (4 per quarter-note beat), or triplets (3 per beat) for beats
  whose onsets fit a triplet grid clearly better;
- compound meters (6/8, 9/8, 12/8): 6 per dotted-quarter beat (sixteenths).

Seconds between beats map linearly, so tempo drift is followed. The first beat at or just before the
first note becomes quarter note 0; when it is not a downbeat, ``Score.pickup_qn`` records the
anacrusis. Seconds (``onset_s``/``offset_s``) are kept unchanged: they are the measured times.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np

from musicllm.score.model import Note, Score


def _beat_positions(times_s: np.ndarray, beats_s: np.ndarray) -> np.ndarray:
    """Fractional beat index of each time (linear between beats, extrapolated at the ends)."""
    idx = np.arange(len(beats_s), dtype=float)
    u = np.interp(times_s, beats_s, idx)
    p0 = beats_s[1] - beats_s[0]
    p1 = beats_s[-1] - beats_s[-2]
    u = np.where(times_s < beats_s[0], (times_s - beats_s[0]) / p0, u)
    u = np.where(times_s > beats_s[-1], len(beats_s) - 1 + (times_s - beats_s[-1]) / p1, u)
    return u


def _grid_for_beats(onset_u: np.ndarray, n_beats: int, compound: bool, allow_triplets: bool) -> np.ndarray:
    """Subdivisions per beat (4, 3 or 6) for each beat index 0..n_beats-1."""
    if compound:
        return np.full(n_beats, 6, dtype=int)
    grid = np.full(n_beats, 4, dtype=int)
    if not allow_triplets or len(onset_u) == 0:
        return grid
    k = np.floor(onset_u + 1 / 24).astype(int)
    frac = onset_u - k
    for b in np.unique(k):
        if b < 0 or b >= n_beats:
            continue
        f = frac[k == b]
        inner = f[(f > 1 / 24) & (f < 1 - 1 / 24)]  # onsets strictly inside the beat
        if len(inner) < 2:
            continue
        e4 = np.abs(f * 4 - np.round(f * 4)).mean() / 4
        e3 = np.abs(f * 3 - np.round(f * 3)).mean() / 3
        if e3 < 0.4 * e4 and e4 > 0.03:
            grid[b] = 3
    return grid


def _snap(u: np.ndarray, grid: np.ndarray) -> list[Fraction]:
    """Snap fractional beat positions to the grid of their beat; returns beats as Fractions."""
    out = []
    n = len(grid)
    for x in u:
        k = int(np.floor(x + 1 / 48))
        g = int(grid[min(max(k, 0), n - 1)]) if n else 4
        out.append(Fraction(k) + Fraction(int(round((x - k) * g)), g))
    return out


def quantize_score(score: Score, *, allow_triplets: bool = True) -> Score:
    """Fill ``onset_qn``/``offset_qn`` of every note from its seconds and the score's beat grid.

    Uses ``score.beat_times_s`` (at least two beats; otherwise a grid from ``tempo_qpm``) and
    ``score.downbeat_times_s`` (first downbeat; otherwise the first beat). Returns a new Score with
    ``pickup_qn`` set.
    """
    notes = score.all_notes()
    if not notes:
        return replace(score, pickup_qn=Fraction(0))
    beats = np.asarray(score.beat_times_s, dtype=float)
    if len(beats) < 2:
        period = 60.0 / score.tempo_qpm * float(score.meter.beat_qn)
        end = max(n.offset_s for n in notes) + period
        beats = np.arange(0.0, end + period, period)
    beat_qn = score.meter.beat_qn
    per_bar = score.meter.beats_per_bar
    first_on = min(n.onset_s for n in notes)
    u_first = _beat_positions(np.array([first_on]), beats)[0]
    k0 = int(np.floor(u_first + 0.25))  # beat at (or a sixteenth after) the first note
    if score.downbeat_times_s:
        d = int(np.argmin(np.abs(beats - score.downbeat_times_s[0])))
    else:
        d = k0
    pickup_beats = (d - k0) % per_bar
    onsets_u = _beat_positions(np.array([n.onset_s for n in notes]), beats) - k0
    offsets_u = _beat_positions(np.array([n.offset_s for n in notes]), beats) - k0
    n_beats = int(np.ceil(max(offsets_u.max(), onsets_u.max()))) + 2
    grid = _grid_for_beats(onsets_u, n_beats, score.meter.is_compound, allow_triplets)
    on_q = _snap(onsets_u, grid)
    off_q = _snap(offsets_u, grid)
    mapping: dict[int, tuple[Fraction, Fraction]] = {}
    for n, a, b in zip(notes, on_q, off_q, strict=True):
        a = max(a, Fraction(0))
        ka = int(np.floor(float(a)))
        g = int(grid[min(max(ka, 0), len(grid) - 1)])
        if b <= a:
            b = a + Fraction(1, g)
        mapping[id(n)] = (a * beat_qn, b * beat_qn)
    parts = [
        replace(p, notes=[replace(n, onset_qn=mapping[id(n)][0], offset_qn=mapping[id(n)][1]) for n in p.notes])
        for p in score.parts
    ]
    return replace(score, parts=parts, pickup_qn=Fraction(pickup_beats) * beat_qn)


def make_voices_monophonic(notes: list[Note]) -> list[Note]:
    """Within one voice, cut each note's quantised offset at the next later onset (legato overlaps).

    Notes starting together (a chord) are kept together and end together at the earliest next onset.
    """
    out = sorted(notes, key=lambda n: (n.onset_qn, n.pitch))
    onsets = sorted({n.onset_qn for n in out})
    nxt = {a: b for a, b in zip(onsets, onsets[1:], strict=False)}
    res = []
    for n in out:
        following = nxt.get(n.onset_qn)
        if following is not None and n.offset_qn is not None and n.offset_qn > following:
            n = replace(n, offset_qn=following)
        res.append(n)
    return res
