"""A short numeric summary of a transcribed score: range, density, polyphony, contour.

Conventions: pitches are MIDI numbers; times in seconds of the input audio; polyphony is sampled every
50 ms and averaged over the instants where at least one note sounds. The contour is that of the top
voice (highest note sounding at each instant), described by the medians of its four quarters:
"rising" / "falling" when the last quarter is at least :data:`CONTOUR_SEMITONES` above / below the first
and the quarters move that way, "arch" / "valley" when a middle quarter is that far above / below both
ends, else "level".
"""

from __future__ import annotations

import numpy as np

from musicllm.analysis.facts import NoteSummary
from musicllm.score.model import Score

POLYPHONY_HOP_S = 0.05
CONTOUR_SEMITONES = 3.0


def _top_line(onsets: np.ndarray, offsets: np.ndarray, pitches: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Highest sounding pitch at each grid time (NaN where silent)."""
    top = np.full(grid.size, np.nan)
    for on, off, p in zip(onsets, offsets, pitches, strict=True):
        i0, i1 = np.searchsorted(grid, [on, off])
        seg = top[i0:i1]
        np.fmax(seg, p, out=seg)
    return top


def describe_contour(top: np.ndarray) -> str:
    """Contour word for a top-line pitch series (MIDI numbers, NaN where silent)."""
    vals = top[np.isfinite(top)]
    if vals.size < 8:
        return "level"
    q = [float(np.median(c)) for c in np.array_split(vals, 4)]
    first, last = q[0], q[-1]
    mid_hi, mid_lo = max(q[1], q[2]), min(q[1], q[2])
    d = CONTOUR_SEMITONES
    if mid_hi - max(first, last) >= d:
        return "arch"
    if min(first, last) - mid_lo >= d:
        return "valley"
    if last - first >= d and all(b >= a - 1 for a, b in zip(q, q[1:], strict=False)):
        return "rising"
    if first - last >= d and all(b <= a + 1 for a, b in zip(q, q[1:], strict=False)):
        return "falling"
    return "level"


def summarize_notes(score: Score, duration_s: float | None = None) -> NoteSummary:
    """Summarise the notes of ``score`` (all parts, drums excluded)."""
    notes = [n for p in score.parts if not p.is_drum for n in p.notes]
    names = [p.name for p in score.parts]
    if not notes:
        return NoteSummary(0, None, None, 0.0, 0.0, 0, "level", len(score.parts), names)
    on = np.array([n.onset_s for n in notes], dtype=float)
    off = np.array([max(n.offset_s, n.onset_s + 1e-3) for n in notes], dtype=float)
    pitch = np.array([n.pitch for n in notes], dtype=float)
    dur = float(duration_s or score.duration_s or off.max())
    grid = np.arange(0.0, max(dur, off.max()), POLYPHONY_HOP_S)
    count = np.zeros(grid.size)
    for a, b in zip(on, off, strict=True):
        i0, i1 = np.searchsorted(grid, [a, b])
        count[i0:i1] += 1
    sounding = count[count > 0]
    return NoteSummary(
        n_notes=len(notes),
        lowest_pitch=int(pitch.min()),
        highest_pitch=int(pitch.max()),
        density_per_s=round(len(notes) / max(dur, 1e-6), 2),
        mean_polyphony=round(float(sounding.mean()) if sounding.size else 0.0, 2),
        max_polyphony=int(count.max()) if count.size else 0,
        contour=describe_contour(_top_line(on, off, pitch, grid)),
        n_parts=len(score.parts),
        part_names=names,
    )
