"""Data-trained key estimator: a conditional logit over the 24 major/minor keys.

Conventions
-----------
- Input: notes as MIDI pitches, onsets/offsets in seconds, amplitudes in [0, 1] (transcribed notes,
  as ``transcribe()`` passes them to `musicllm.analysis.tonality.estimate_key`).
- Candidates are indexed ``k = 12 * mode + tonic`` (mode 0 major, 1 minor; tonic pitch class, C = 0).
- Every feature is rotation invariant: each histogram is rotated so that index 0 is the candidate's
  tonic, so transposing all notes by ``s`` semitones moves the best key by ``s`` exactly.

Features of one candidate (one block for major candidates, a separate block for minor ones, so each
mode learns its own profiles; the other mode's block is zero):

- ``dur``: pitch-class histogram weighted by duration (clipped 0.05..2 s) x (0.3 + amplitude), sum 1;
- ``logdur``: log(0.01 + dur);
- ``count``: pitch-class histogram of note onsets (each note counts 1), sum 1;
- ``bass``: pitch class of the lowest sounding note on a 0.1 s grid, sum 1;
- ``first`` / ``last``: one-hot of the lowest pitch class among the notes starting within 0.3 s of
  the first onset / ending within 0.3 s of the last offset;
- ``melody_up1``: pitch classes reached by a rising semitone in the melody (the highest note of
  each onset cluster, 50 ms), sum 1 (the leading tone resolving; fa after mi);
- ``bass_fourth``: pitch classes reached in the bass (lowest sounding note on the 0.1 s grid, repeats
  merged) by a rising fourth or falling fifth, sum 1 (V -> I, I -> IV);
- ``bass_start``: the ``bass`` histogram over the first 2 s after the first onset;
- ``melody_first``: one-hot of the pitch class of the first melody note;
- ``corr_dur`` / ``corr_bass``: Pearson correlation of ``dur`` / ``bass`` with the Albrecht-Shanahan
  profile of the candidate's mode;
- ``bias``: 1 (a prior for the mode).

Score of a candidate: ``w . ((f - mean) / scale)``; probabilities: softmax over the 24 candidates.
The weights, the feature spec and the standardisation live in ``key_model_weights.json`` next to this
module (trained by ``python -m musicllm.training.key_model``; see that module for the data recipe).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS_FILE = Path(__file__).with_name("key_model_weights.json")
FEATURE_VERSION = 3
BLOCKS: tuple[tuple[str, int], ...] = (
    ("dur", 12), ("logdur", 12), ("count", 12), ("bass", 12), ("first", 12), ("last", 12),
    ("melody_up1", 12), ("bass_fourth", 12), ("bass_start", 12), ("melody_first", 12),
    ("corr_dur", 1), ("corr_bass", 1), ("bias", 1),
)
BLOCK_SIZE = sum(n for _, n in BLOCKS)
N_FEATURES = 2 * BLOCK_SIZE
BASS_GRID_S = 0.1

# Albrecht & Shanahan (2013) profiles (the same as musicllm.analysis.tonality).
AS_MAJOR = np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081])
AS_MINOR = np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052])


def feature_names() -> list[str]:
    """Names of the ``N_FEATURES`` columns, e.g. ``major.dur.7`` (weight of the fifth above the tonic)."""
    out = []
    for mode in ("major", "minor"):
        for name, n in BLOCKS:
            out += [f"{mode}.{name}.{i}" for i in range(n)] if n > 1 else [f"{mode}.{name}"]
    return out


def _norm(h: np.ndarray) -> np.ndarray:
    s = h.sum()
    return h / s if s > 0 else np.full(12, 1 / 12)


def _hist(pcs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    h = np.zeros(12)
    np.add.at(h, pcs, np.broadcast_to(weights, np.shape(pcs)))
    return _norm(h)


def bass_line(pitches: np.ndarray, onsets_s: np.ndarray, offsets_s: np.ndarray,
              grid_s: float = BASS_GRID_S) -> np.ndarray:
    """MIDI pitch of the lowest sounding note every ``grid_s`` seconds (silent grid points left out)."""
    order = np.argsort(pitches, kind="stable")
    p, on, off = pitches[order], onsets_s[order], np.maximum(offsets_s[order], onsets_s[order] + 1e-3)
    times = np.arange(on.min(), off.max(), grid_s)
    out = []
    for i in range(0, len(times), 512):
        t = times[i : i + 512, None]
        sounding = (on[None, :] <= t) & (t < off[None, :])
        any_ = sounding.any(axis=1)
        out.append(p[np.argmax(sounding, axis=1)[any_]])  # first True = lowest pitch (sorted ascending)
    return np.concatenate(out) if out else np.zeros(0, dtype=int)


def bass_histogram(pitches: np.ndarray, onsets_s: np.ndarray, offsets_s: np.ndarray,
                   grid_s: float = BASS_GRID_S) -> np.ndarray:
    """Pitch-class histogram of the lowest sounding note, sampled every ``grid_s`` seconds (sum 1)."""
    return _hist(bass_line(pitches, onsets_s, offsets_s, grid_s) % 12, np.ones(1))


def melody_line(pitches: np.ndarray, onsets_s: np.ndarray, cluster_s: float = 0.05) -> np.ndarray:
    """The highest pitch of each cluster of onsets (a new cluster starts ``cluster_s`` after the last)."""
    order = np.lexsort((pitches, onsets_s))
    p, on = pitches[order], onsets_s[order]
    new = np.concatenate([[True], np.diff(on) > cluster_s])
    starts = np.flatnonzero(new)
    return np.maximum.reduceat(p, starts)


def arrivals(line: np.ndarray, interval: int) -> np.ndarray:
    """Pitch-class histogram (sum 1) of the notes of ``line`` reached by a move of ``interval``
    semitones modulo 12 from the previous different note."""
    line = line[np.concatenate([[True], np.diff(line) != 0])] if len(line) else line
    if len(line) < 2:
        return np.full(12, 1 / 12)
    step = (line[1:] - line[:-1]) % 12
    hit = line[1:][step == interval] % 12
    return _hist(hit, np.ones(1)) if len(hit) else np.full(12, 1 / 12)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 0 else 0.0


def candidate_features(
    pitches: Sequence[int],
    onsets_s: Sequence[float],
    offsets_s: Sequence[float],
    amplitudes: Sequence[float] | None = None,
) -> np.ndarray:
    """The (24, N_FEATURES) feature matrix of the 24 candidate keys (row ``12 * mode + tonic``)."""
    p = np.asarray(pitches, dtype=int)
    if len(p) == 0:
        raise ValueError("no notes")
    on = np.asarray(onsets_s, dtype=float)
    off = np.asarray(offsets_s, dtype=float)
    amp = np.full(len(p), 0.7) if amplitudes is None else np.asarray(amplitudes, dtype=float)
    pcs = p % 12
    dur = _hist(pcs, np.clip(off - on, 0.05, 2.0) * (0.3 + amp))
    count = _hist(pcs, np.ones(len(p)))
    bline = bass_line(p, on, off)
    bass = _hist(bline % 12, np.ones(1))
    mline = melody_line(p, on)
    melody_up1 = arrivals(mline, 1)
    melody_first = np.zeros(12)
    melody_first[mline[0] % 12] = 1.0
    bass_start = _hist(bline[: int(round(2.0 / BASS_GRID_S))] % 12, np.ones(1))
    bass_fourth = arrivals(bline, 5)
    first = np.zeros(12)
    first[p[on <= on.min() + 0.3].min() % 12] = 1.0
    last = np.zeros(12)
    last[p[off >= off.max() - 0.3].min() % 12] = 1.0
    logdur = np.log(0.01 + dur)
    x = np.zeros((24, N_FEATURES))
    for mode, prof in ((0, AS_MAJOR), (1, AS_MINOR)):
        for tonic in range(12):
            def rot(h: np.ndarray, t: int = tonic) -> np.ndarray:
                return np.roll(h, -t)  # index 0 = the candidate's tonic
            block = np.concatenate([
                rot(dur), rot(logdur), rot(count), rot(bass), rot(first), rot(last), rot(melody_up1), rot(bass_fourth),
                rot(bass_start), rot(melody_first),
                [_corr(dur, np.roll(prof, tonic)), _corr(bass, np.roll(prof, tonic)), 1.0],
            ])
            x[12 * mode + tonic, mode * BLOCK_SIZE : (mode + 1) * BLOCK_SIZE] = block
    return x


@dataclass(frozen=True)
class KeyModel:
    """Weights of the conditional logit and the standardisation of the features."""

    weights: np.ndarray  # (N_FEATURES,)
    mean: np.ndarray     # (N_FEATURES,)
    scale: np.ndarray    # (N_FEATURES,), > 0
    meta: dict

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Scores (logits) of the candidates, x: (..., 24, N_FEATURES) -> (..., 24)."""
        return ((x - self.mean) / self.scale) @ self.weights

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        s = self.scores(x)
        s = s - s.max(axis=-1, keepdims=True)
        e = np.exp(s)
        return e / e.sum(axis=-1, keepdims=True)

    def to_dict(self) -> dict:
        return {"format": "musicllm.key_model/1", "feature_version": FEATURE_VERSION,
                "features": feature_names(), "weights": [round(float(v), 6) for v in self.weights],
                "mean": [round(float(v), 6) for v in self.mean], "scale": [round(float(v), 6) for v in self.scale],
                "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict) -> KeyModel:
        if d.get("feature_version") != FEATURE_VERSION or d.get("features") != feature_names():
            raise ValueError("key model weights do not match this version's features; retrain them")
        w, m, s = (np.asarray(d[k], dtype=float) for k in ("weights", "mean", "scale"))
        if not (w.shape == m.shape == s.shape == (N_FEATURES,)) or np.any(s <= 0):
            raise ValueError("malformed key model weights")
        return cls(w, m, s, d.get("meta", {}))


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> KeyModel:
    """The shipped model (``key_model_weights.json``), or the one at ``path``."""
    return KeyModel.from_dict(json.loads(Path(path or WEIGHTS_FILE).read_text()))


def key_probabilities(
    pitches: Sequence[int],
    onsets_s: Sequence[float],
    offsets_s: Sequence[float],
    amplitudes: Sequence[float] | None = None,
    model: KeyModel | None = None,
) -> np.ndarray:
    """Probabilities of the 24 keys (index ``12 * mode + tonic``, mode 0 major / 1 minor)."""
    m = model or load_model()
    return m.probabilities(candidate_features(pitches, onsets_s, offsets_s, amplitudes))
