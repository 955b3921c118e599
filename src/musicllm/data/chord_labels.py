"""Reference chord labels derived from a score's notes (for the rendered dev set).

This is a *derived* reference, computed from the score by a fixed rule; it is not a human
annotation. It exists so that chord recognition from audio can be scored on the rendered dev set,
whose ground truth is notes, not chord symbols (the Nottingham tunes' accompaniments realise their
chord symbols, so there the two agree closely; for Bach chorales it is one reasonable reading of the
four voices, beat by beat). Against the Nottingham tunes' own chord symbols, reduced to major/minor,
these labels agree 94.7 % of the time (mir_eval majmin, 30 ensemble items of the dev set,
``python benchmarks/chords.py --check-reference``); the rest is mostly a chord change heard one beat
late under an oom-pah accompaniment and seventh/diminished symbols. ``CHANGE_PENALTY`` and the bass
bonuses were chosen on that comparison (flat between 0.1 and 0.3).

Conventions
-----------
- Labels use mir_eval's syntax restricted to the 24 major/minor triads and no-chord:
  ``"C:maj"``, ``"F#:min"``, ``"N"``. Roots are spelled C C# D Eb E F F# G Ab A Bb B.
- Times are seconds. The labelling unit is the beat: spans ``[beats[i], beats[i + 1])``, plus a span
  from 0 to the first beat and one from the last beat to the end of the last note (or ``end_s``).
- Per span, every sounding note adds its overlap with the span (seconds) to its pitch class, so doubled
  and long notes count more; the lowest sounding note at each instant adds that time to the *bass*
  weight of its pitch class. Both are normalised to sum 1 within the span.
- Score of a triad = weight of its three pitch classes - weight of the other nine
  + ``ROOT_BASS_BONUS`` x bass weight of its root + ``TRIAD_BASS_BONUS`` x bass weight on its tones.
  Sevenths and non-chord tones thus count against a triad; ambiguous sonorities (C-E, a lone note)
  are settled by the bass.
- "N" only where nothing sounds (notes cover under ``min_coverage`` of the span).
- Smoothing: the label sequence maximises the sum of scores minus ``change_penalty`` per change of
  label (Viterbi), so a beat whose notes fit the previous chord nearly as well (a lone bass note in an
  oom-pah accompaniment, a passing tone) keeps it. Equal neighbours are merged.
- Diminished, augmented, suspended and seventh chords come out as their best-fitting major/minor
  triad; mir_eval's ``majmin`` comparison would skip such reference labels, this reference never has any.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

ROOT_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
NO_CHORD = "N"
ROOT_BASS_BONUS = 0.1
TRIAD_BASS_BONUS = 0.1
CHANGE_PENALTY = 0.2
MIN_COVERAGE = 0.05


def triad_labels() -> list[str]:
    """The 24 labels in state order: C:maj..B:maj, then C:min..B:min."""
    return [f"{r}:maj" for r in ROOT_NAMES] + [f"{r}:min" for r in ROOT_NAMES]


def triad_masks() -> np.ndarray:
    """(24, 12) 0/1 pitch-class masks in the order of :func:`triad_labels`."""
    m = np.zeros((24, 12))
    for r in range(12):
        m[r, [r, (r + 4) % 12, (r + 7) % 12]] = 1.0
        m[12 + r, [r, (r + 3) % 12, (r + 7) % 12]] = 1.0
    return m


def _note_triples(notes: Iterable[Any]) -> np.ndarray:
    """(n, 3) array of (pitch, onset_s, offset_s) from dicts or objects with those fields."""
    rows = []
    for n in notes:
        if isinstance(n, Mapping):
            rows.append((n["pitch"], n["onset_s"], n["offset_s"]))
        else:
            rows.append((n.pitch, n.onset_s, n.offset_s))
    arr = np.array(rows, dtype=float).reshape(-1, 3)
    return arr[arr[:, 2] > arr[:, 1]]


def _span_weights(notes: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(pitch-class weights, bass weights, covered fraction) of the span [a, b), in seconds."""
    pcw = np.zeros(12)
    bass = np.zeros(12)
    on = notes[(notes[:, 1] < b) & (notes[:, 2] > a)]
    if len(on) == 0 or b <= a:
        return pcw, bass, 0.0
    s = np.maximum(on[:, 1], a)
    e = np.minimum(on[:, 2], b)
    np.add.at(pcw, on[:, 0].astype(int) % 12, e - s)
    cuts = np.unique(np.concatenate([[a, b], s, e]))
    covered = 0.0
    for c0, c1 in zip(cuts[:-1], cuts[1:], strict=True):
        live = (s <= c0) & (e >= c1)
        if live.any():
            bass[int(on[live, 0].min()) % 12] += c1 - c0
            covered += c1 - c0
    return pcw, bass, covered / (b - a)


def _viterbi(scores: np.ndarray, penalty: float) -> np.ndarray:
    """argmax over label paths of sum(scores[t, path[t]]) - penalty x (number of changes)."""
    n, k = scores.shape
    acc = scores[0].copy()
    back = np.zeros((n, k), dtype=int)
    for t in range(1, n):
        best = int(np.argmax(acc))
        switch = acc[best] - penalty
        stay = acc >= switch
        back[t] = np.where(stay, np.arange(k), best)
        acc = np.where(stay, acc, switch) + scores[t]
    path = np.zeros(n, dtype=int)
    path[-1] = int(np.argmax(acc))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def chord_labels_from_notes(
    notes: Iterable[Any],
    beats_s: Sequence[float],
    *,
    end_s: float | None = None,
    change_penalty: float = CHANGE_PENALTY,
    min_coverage: float = MIN_COVERAGE,
) -> list[tuple[float, float, str]]:
    """Beat-level major/minor chord labels of a set of notes (see the module docstring).

    ``notes``: dicts or objects with ``pitch`` (MIDI), ``onset_s``, ``offset_s`` (seconds), all parts
    pooled (leave drum parts out). ``beats_s``: beat times in seconds. ``end_s``: end of the last
    segment (default: the last note's offset). Returns merged ``(start_s, end_s, label)`` segments
    covering ``[0, end)``.
    """
    arr = _note_triples(notes)
    end = float(end_s) if end_s is not None else (float(arr[:, 2].max()) if len(arr) else 0.0)
    beats = np.unique(np.asarray([b for b in beats_s if 0.0 < b < end], dtype=float))
    grid = np.concatenate([[0.0], beats, [end]]) if end > 0 else np.zeros(0)
    if len(grid) < 2:
        return []
    labels = triad_labels() + [NO_CHORD]
    masks = triad_masks()
    scores = np.zeros((len(grid) - 1, 25))
    for i, (a, b) in enumerate(zip(grid[:-1], grid[1:], strict=True)):
        pcw, bass, covered = _span_weights(arr, a, b)
        if covered < min_coverage or pcw.sum() <= 0:
            scores[i, :24] = -1.0
            scores[i, 24] = 1.0
            continue
        pcw = pcw / pcw.sum()
        bass = bass / bass.sum() if bass.sum() > 0 else bass
        inside = masks @ pcw
        root_bass = np.concatenate([bass, bass])
        scores[i, :24] = inside - (1.0 - inside) + ROOT_BASS_BONUS * root_bass + TRIAD_BASS_BONUS * (masks @ bass)
        scores[i, 24] = -2.0
    path = _viterbi(scores, change_penalty)
    out: list[tuple[float, float, str]] = []
    for i, s in enumerate(path):
        a, b, lab = float(grid[i]), float(grid[i + 1]), labels[s]
        if out and out[-1][2] == lab:
            out[-1] = (out[-1][0], b, lab)
        else:
            out.append((a, b, lab))
    return out


__all__ = ["chord_labels_from_notes", "triad_labels", "triad_masks", "NO_CHORD", "ROOT_NAMES"]
