"""Key and mode from transcribed notes.

Default (``method="model"``): the data-trained conditional logit of `musicllm.analysis.key_model`
(learned rotation-invariant profiles of duration, onset-count and bass pitch-class histograms, first
and last bass, melodic and bass cadence moves), trained on 1342 rendered items (661 pieces, two
renderings each) that are not in the dev set (``python -m musicllm.training.key_model``). On the notes
``transcribe()`` produces: grouped (by piece) 5-fold cross-validation on the training items 82.1 %
against 78.8 % for the profile method below; rendered dev set ``dev`` split 92.8 % against 91.6 %,
held-out ``test`` split 91.9 % against 86.5 % (``benchmarks/key.py --subset all``).

``method="profiles"`` (the previous default): correlate a duration-weighted pitch-class histogram
with the 24 rotated key profiles of Albrecht & Shanahan (2013, "The use of large corpora to train a new type of key-finding algorithm"),
as in Krumhansl-Schmuckler, plus three cues: the weight of the candidate's tonic triad in the
histogram, the lowest pitch class at the start, and the lowest pitch class at the end (pieces start
and end on the tonic more often than elsewhere; clips cut from the middle of a piece weaken the end cue).
When downbeats are known, notes on them weigh double.
Each note adds its duration in seconds (clipped to 0.05..2 s) times (0.3 + amplitude).

Chosen on the rendered dev set's ground-truth notes (symbolic, 120 pieces): Albrecht-Shanahan 92.5 %
against 79 % for Krumhansl-Kessler with a bass emphasis; with downbeat weighting 94 % on the dev split
and 97 % on the test split (``benchmarks/tune_transcription.py``).

Output: major or minor only (modal tunes report the major or minor key on the same tonic when the
tonic is found); tonic spelled the way its key signature is conventionally written (Db major, not C# major).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from musicllm.score.model import Key

MAJOR_PROFILE = np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081])
MINOR_PROFILE = np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052])
TRIAD_WEIGHT = 0.5
FIRST_BASS_WEIGHT = 0.1
LAST_BASS_WEIGHT = 0.05
DOWNBEAT_WEIGHT = 1.0  # notes starting on a downbeat count (1 + this) times; for exact (symbolic) bars:
# with downbeats estimated from audio it did not help on the dev set, so transcribe() does not pass them

DEFAULT_METHOD = "model"  # see key_model.py; "profiles" is the method described above

MAJOR_SPELLING = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
MINOR_SPELLING = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]


@dataclass
class KeyEstimate:
    key: Key
    confidence: float  # in [0, 1]; model: probability of the key; profiles: 4 x margin to the second best
    correlations: dict[str, float]


def pitch_class_histogram(pitches: Sequence[int], weights: Sequence[float]) -> np.ndarray:
    hist = np.zeros(12)
    np.add.at(hist, np.asarray(pitches, dtype=int) % 12, np.asarray(weights, dtype=float))
    return hist


def _spelled(index: int) -> Key:
    tonic, mode = index % 12, ("major", "minor")[index // 12]
    return Key((MAJOR_SPELLING if mode == "major" else MINOR_SPELLING)[tonic], mode)


def estimate_key(
    pitches: Sequence[int],
    onsets_s: Sequence[float],
    offsets_s: Sequence[float],
    amplitudes: Sequence[float] | None = None,
    downbeats_s: Sequence[float] | None = None,
    method: str = DEFAULT_METHOD,
) -> KeyEstimate:
    """Estimate the key of a set of notes (MIDI pitches, seconds, amplitudes in [0, 1]).

    ``method``: ``"model"`` (the trained conditional logit of `musicllm.analysis.key_model`;
    ``correlations`` then holds the five most probable keys' probabilities and ``confidence`` the
    probability of the chosen key: on the dev split, 77 of 83 items had >= 0.5 and 95 % of those were
    right, the other 6 had 0.25-0.5 and 4 of them were right) or ``"profiles"`` (the profile method above).
    ``downbeats_s``: bar starts in seconds, when known; for ``"profiles"`` notes starting within 60 ms
    of one weigh double (harmony and tonic notes gather on strong beats); the model ignores them.
    """
    if method not in ("model", "profiles"):
        raise ValueError(f"unknown key estimation method {method!r} (model or profiles)")
    p = np.asarray(pitches, dtype=int)
    if len(p) == 0:
        return KeyEstimate(Key("C", "major"), 0.0, {})
    if method == "model":
        from musicllm.analysis.key_model import key_probabilities

        prob = key_probabilities(p, onsets_s, offsets_s, amplitudes)
        order = np.argsort(-prob, kind="stable")
        return KeyEstimate(_spelled(int(order[0])), float(prob[order[0]]),
                           {str(_spelled(int(i))): round(float(prob[i]), 4) for i in order[:5]})
    on = np.asarray(onsets_s, dtype=float)
    off = np.asarray(offsets_s, dtype=float)
    amp = np.full(len(p), 0.7) if amplitudes is None else np.asarray(amplitudes, dtype=float)
    w = np.clip(off - on, 0.05, 2.0) * (0.3 + amp)
    if downbeats_s is not None and len(downbeats_s) >= 2:
        db = np.asarray(downbeats_s, dtype=float)
        k = np.clip(np.searchsorted(db, on), 1, len(db) - 1)
        near = np.minimum(np.abs(db[k] - on), np.abs(db[k - 1] - on)) < 0.06
        w = w * (1.0 + DOWNBEAT_WEIGHT * near)
    hist = pitch_class_histogram(p, w)
    hist = hist / hist.sum()
    first_bass = int(p[on <= on.min() + 0.3].min() % 12)
    last_bass = int(p[off >= off.max() - 0.3].min() % 12)

    scores: dict[tuple[int, str], float] = {}
    for tonic in range(12):
        for mode, prof in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
            r = float(np.corrcoef(hist, np.roll(prof, tonic))[0, 1])
            third = (tonic + (4 if mode == "major" else 3)) % 12
            triad = hist[tonic] + hist[third] + hist[(tonic + 7) % 12]
            scores[(tonic, mode)] = (r + TRIAD_WEIGHT * triad + FIRST_BASS_WEIGHT * (first_bass == tonic)
                                     + LAST_BASS_WEIGHT * (last_bass == tonic))
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (tonic, mode), best = ranked[0]
    second = ranked[1][1]
    spelling = MAJOR_SPELLING if mode == "major" else MINOR_SPELLING
    corr = {f"{(MAJOR_SPELLING if m == 'major' else MINOR_SPELLING)[t]} {m}": round(v, 4)
            for (t, m), v in ranked[:5]}
    return KeyEstimate(Key(spelling[tonic], mode), float(np.clip((best - second) * 4, 0, 1)), corr)
