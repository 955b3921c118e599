"""Key and mode from transcribed notes.

Method: correlate a pitch-class histogram with the 24 rotated key profiles (Krumhansl & Kessler's probe
tone ratings, averaged with Temperley's corpus profile), as in Krumhansl-Schmuckler. Each note adds its
duration (seconds, capped at 2 s) times its amplitude; notes in the lowest part of the texture count
extra (bass lines outline the tonic), and the pitch classes sounding at the very end get a bonus,
because pieces in the corpora we target end on the tonic.

Output: major or minor only (modal tunes report the relative major or minor whose tonic fits best);
tonic spelled the way its key signature is conventionally written (Db major, not C# major).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from musicllm.score.model import Key

_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_T_MAJOR = np.array([5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0])
_T_MINOR = np.array([5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0])
MAJOR_PROFILE = _KK_MAJOR / _KK_MAJOR.sum() + _T_MAJOR / _T_MAJOR.sum()
MINOR_PROFILE = _KK_MINOR / _KK_MINOR.sum() + _T_MINOR / _T_MINOR.sum()

MAJOR_SPELLING = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
MINOR_SPELLING = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]


@dataclass
class KeyEstimate:
    key: Key
    confidence: float  # margin between the best and second-best correlation, in [0, 1]
    correlations: dict[str, float]


def pitch_class_histogram(pitches: Sequence[int], weights: Sequence[float]) -> np.ndarray:
    hist = np.zeros(12)
    np.add.at(hist, np.asarray(pitches, dtype=int) % 12, np.asarray(weights, dtype=float))
    return hist


def estimate_key(
    pitches: Sequence[int],
    onsets_s: Sequence[float],
    offsets_s: Sequence[float],
    amplitudes: Sequence[float] | None = None,
    *,
    final_weight: float = 0.25,
) -> KeyEstimate:
    """Estimate the key of a set of notes (MIDI pitches, seconds, amplitudes in [0, 1])."""
    p = np.asarray(pitches, dtype=int)
    if len(p) == 0:
        return KeyEstimate(Key("C", "major"), 0.0, {})
    on = np.asarray(onsets_s, dtype=float)
    off = np.asarray(offsets_s, dtype=float)
    amp = np.ones(len(p)) if amplitudes is None else np.asarray(amplitudes, dtype=float)
    w = np.clip(off - on, 0.05, 2.0) * (0.3 + amp)
    # Bass emphasis: notes in the lowest quarter of the sounding range weigh double.
    low = p <= np.percentile(p, 25)
    w = w * np.where(low, 2.0, 1.0)
    hist = pitch_class_histogram(p, w)
    hist = hist / hist.sum()
    # Ending: pitch classes sounding during the last 1.5 s of the notes (and the lowest one most).
    end = off.max()
    tail = off >= end - 1.5
    tail_hist = pitch_class_histogram(p[tail], w[tail])
    lowest_tail = p[tail].min() % 12
    tail_hist[lowest_tail] += tail_hist.sum()
    tail_hist = tail_hist / max(tail_hist.sum(), 1e-9)

    scores: dict[tuple[int, str], float] = {}
    for tonic in range(12):
        for mode, prof in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
            rotated = np.roll(prof, tonic)
            r = float(np.corrcoef(hist, rotated)[0, 1])
            # Bonus when the ending is on the tonic (or its triad, less).
            third = (tonic + (4 if mode == "major" else 3)) % 12
            fifth = (tonic + 7) % 12
            end_fit = tail_hist[tonic] + 0.3 * tail_hist[third] + 0.2 * tail_hist[fifth]
            scores[(tonic, mode)] = r + final_weight * end_fit
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (tonic, mode), best = ranked[0]
    second = ranked[1][1]
    spelling = MAJOR_SPELLING if mode == "major" else MINOR_SPELLING
    corr = {f"{(MAJOR_SPELLING if m == 'major' else MINOR_SPELLING)[t]} {m}": round(v, 4)
            for (t, m), v in ranked[:5]}
    return KeyEstimate(Key(spelling[tonic], mode), float(np.clip((best - second) * 4, 0, 1)), corr)
