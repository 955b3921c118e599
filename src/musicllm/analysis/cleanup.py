"""Clean-up of raw note events where basic-pitch is weak on ensembles.

Raw basic-pitch output on several instruments at once has four typical faults, each handled here:

1. harmonic and octave ghosts: a note at +12, +19, +24, +28 or +31 semitones (harmonics 2..6) above
   a louder note sounding at the same time, with an amplitude well below it (`drop_ghosts`);
2. long notes broken into fragments: the same pitch restarting within a few frames with no real onset
   in the model's onset activations (`merge_fragments`);
3. spurious short notes: very short, quiet events (`drop_short`);
4. late onsets: moved to the local maximum of the pitch's onset activation (`refine_onsets`), then
   all a little earlier (`shift_onsets`), because the onset head peaks late on slow attacks.

All times in seconds, pitches MIDI numbers, amplitudes in [0, 1] as decoded by basic-pitch.
The thresholds were tuned on the rendered dev set (``benchmarks/transcription.py``), on its ``dev``
split only; the ``test`` split is held out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from musicllm.analysis.notes import FRAME_RATE, MIDI_OFFSET, Activations, RawNote

GHOST_INTERVALS = (12, 19, 24, 28, 31)


@dataclass(frozen=True)
class CleanupConfig:
    """Thresholds of the clean-up (tuned on the dev split of the dev set)."""

    ghost_amp_ratio: float = 0.8       # a ghost is at most this fraction of its fundamental's amplitude
    ghost_overlap: float = 0.6         # ... and overlaps it for at least this fraction of its length
    ghost_onset_window_s: float = 0.08  # ... and starts within this of the fundamental's onset (or after)
    fragment_gap_s: float = 0.05       # same-pitch gap below which two notes may be one
    fragment_onset_max: float = 0.5    # ... unless the onset activation there exceeds this
    short_s: float = 0.09              # notes shorter than this ...
    short_amp: float = 0.35            # ... and quieter than this are dropped
    refine_frames: int = 2             # search radius for onset refinement
    onset_shift_s: float = 0.03        # every onset moves this much earlier (late onset head)


def _overlap(a: RawNote, b: RawNote) -> float:
    return max(0.0, min(a.offset_s, b.offset_s) - max(a.onset_s, b.onset_s))


def drop_ghosts(notes: list[RawNote], cfg: CleanupConfig) -> list[RawNote]:
    """Remove notes that are most likely harmonics of a louder lower note sounding with them."""
    by_pitch: dict[int, list[RawNote]] = {}
    for n in notes:
        by_pitch.setdefault(n.pitch, []).append(n)
    keep: list[RawNote] = []
    for n in notes:
        dur = max(n.offset_s - n.onset_s, 1e-6)
        ghost = False
        for iv in GHOST_INTERVALS:
            for f in by_pitch.get(n.pitch - iv, ()):
                if f.amplitude * cfg.ghost_amp_ratio < n.amplitude:
                    continue
                if f.onset_s > n.onset_s + cfg.ghost_onset_window_s:
                    continue
                if _overlap(n, f) >= cfg.ghost_overlap * dur:
                    ghost = True
                    break
            if ghost:
                break
        if not ghost:
            keep.append(n)
    return keep


def merge_fragments(notes: list[RawNote], act: Activations | None, cfg: CleanupConfig) -> list[RawNote]:
    """Join same-pitch notes separated by a tiny gap when the model saw no new onset there."""
    by_pitch: dict[int, list[RawNote]] = {}
    for n in sorted(notes, key=lambda n: n.onset_s):
        by_pitch.setdefault(n.pitch, []).append(n)
    out: list[RawNote] = []
    for pitch, seq in by_pitch.items():
        cur = seq[0]
        for nxt in seq[1:]:
            gap = nxt.onset_s - cur.offset_s
            strong_onset = False
            if act is not None:
                fi = int(round(nxt.onset_s * FRAME_RATE))
                lo, hi = max(0, fi - 2), min(act.onsets.shape[0], fi + 3)
                col = pitch - MIDI_OFFSET
                if 0 <= col < act.onsets.shape[1] and hi > lo:
                    strong_onset = float(act.onsets[lo:hi, col].max()) > cfg.fragment_onset_max
            if gap <= cfg.fragment_gap_s and not strong_onset:
                cur = replace(cur, offset_s=max(cur.offset_s, nxt.offset_s),
                              amplitude=max(cur.amplitude, nxt.amplitude))
            else:
                out.append(cur)
                cur = nxt
        out.append(cur)
    out.sort(key=lambda n: (n.onset_s, n.pitch))
    return out


def drop_short(notes: list[RawNote], cfg: CleanupConfig) -> list[RawNote]:
    return [n for n in notes if not (n.offset_s - n.onset_s < cfg.short_s and n.amplitude < cfg.short_amp)]


def refine_onsets(notes: list[RawNote], act: Activations, cfg: CleanupConfig) -> list[RawNote]:
    """Move each onset to the strongest onset activation of its pitch within +-refine_frames."""
    if cfg.refine_frames <= 0 or act.onsets.shape[0] == 0:
        return notes
    times = act.frame_times()
    out = []
    for n in notes:
        col = n.pitch - MIDI_OFFSET
        fi = int(np.searchsorted(times, n.onset_s))
        lo, hi = max(0, fi - cfg.refine_frames), min(len(times), fi + cfg.refine_frames + 1)
        if not (0 <= col < act.onsets.shape[1]) or hi <= lo:
            out.append(n)
            continue
        best = lo + int(np.argmax(act.onsets[lo:hi, col]))
        t = float(times[best])
        out.append(replace(n, onset_s=t) if t < n.offset_s - 0.02 else n)
    return out


def shift_onsets(notes: list[RawNote], cfg: CleanupConfig) -> list[RawNote]:
    """Move every onset ``onset_shift_s`` earlier (never before 0 s).

    basic-pitch's onset head peaks late on slow attacks (bowed strings, winds: a median 20-40 ms
    after the true onset on our renderings, 5-10 ms on piano); a constant correction, tuned on the
    dev split, moves most of them inside the 50 ms tolerance without pushing fast attacks out of it.
    """
    if cfg.onset_shift_s == 0:
        return notes
    return [replace(n, onset_s=max(0.0, n.onset_s - cfg.onset_shift_s)) for n in notes]


def clean_notes(notes: list[RawNote], act: Activations | None, cfg: CleanupConfig | None = None) -> list[RawNote]:
    """The full clean-up chain: ghosts, fragments, short notes, onset refinement."""
    cfg = cfg or CleanupConfig()
    notes = drop_ghosts(notes, cfg)
    notes = merge_fragments(notes, act, cfg)
    notes = drop_short(notes, cfg)
    if act is not None:
        notes = refine_onsets(notes, act, cfg)
    notes = shift_onsets(notes, cfg)
    return sorted(notes, key=lambda n: (n.onset_s, n.pitch))
