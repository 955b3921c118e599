"""Metrical accent of beats: how strongly each beat of a grid sounds like the start of a bar.

Times in seconds. Used by the rule-based bar estimate in `musicllm.analysis.rhythm` and by the
candidates of `musicllm.analysis.meter_model`.
"""

from __future__ import annotations

import numpy as np

TOL_S = 0.07


def envelope_peaks(beats: np.ndarray, env: np.ndarray, times: np.ndarray, tol: float = TOL_S) -> np.ndarray:
    """Maximum of the onset envelope within ``tol`` seconds of each beat (0 where no frame is near)."""
    out = np.zeros(len(beats))
    if len(env) == 0 or len(beats) == 0:
        return out
    lo = np.searchsorted(times, beats - tol, side="left")
    hi = np.searchsorted(times, beats + tol, side="right")
    for j in np.nonzero(hi > lo)[0]:
        out[j] = env[lo[j]:hi[j]].max()
    return out


CUES = ("onset", "bass", "long", "harmony")


def beat_accents(onset: np.ndarray, offset: np.ndarray, pitch: np.ndarray, amp: np.ndarray,
                 beats: np.ndarray, env: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Accent of each beat: the sum of the four cues of `beat_accent_cues`. Equal weights: on the dev
    split each cue alone separates triple from duple meter about as well as any weighting of them.
    """
    return beat_accent_cues(onset, offset, pitch, amp, beats, env, times).sum(axis=0)


def beat_accent_cues(onset: np.ndarray, offset: np.ndarray, pitch: np.ndarray, amp: np.ndarray,
                     beats: np.ndarray, env: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The cues of `CUES` at each beat, shape (4, n_beats), each normalised to a maximum of 1: onset
    strength, bass onsets (lowest 30 % of pitches), onsets of long notes, and change of harmony
    (pitch-class content of the beat against the previous one).

    Notes as arrays (onset/offset seconds, MIDI pitch, amplitude 0..1); ``beats`` ascending seconds.
    """
    nb = len(beats)
    cues = np.zeros((4, nb))
    if nb == 0:
        return cues
    tol = TOL_S
    cues[0] = envelope_peaks(beats, env, times, tol)
    if len(onset):
        low_cut = np.percentile(pitch, 30)
        dur = offset - onset
        k = np.searchsorted(beats, onset - tol)
        near = (k < nb) & (np.abs(beats[np.minimum(k, nb - 1)] - onset) <= tol)
        span = np.median(np.diff(beats)) if nb > 1 else 0.5
        idx = np.where(near)[0]
        np.add.at(cues[1], k[idx], amp[idx] * (pitch[idx] <= low_cut))
        np.add.at(cues[2], k[idx], amp[idx] * np.minimum(dur[idx] / span, 2.0))
        pcs = np.zeros((nb, 12))
        bi = np.searchsorted(beats, onset + 1e-3, side="right") - 1
        ok = bi >= 0
        np.add.at(pcs, (bi[ok], pitch[ok] % 12), amp[ok] * np.minimum(dur[ok], span))
        norms = np.linalg.norm(pcs, axis=1) + 1e-9
        cues[3, 1:] = 1.0 - (pcs[1:] * pcs[:-1]).sum(axis=1) / (norms[1:] * norms[:-1])
    return cues / (cues.max(axis=1, keepdims=True) + 1e-9)
