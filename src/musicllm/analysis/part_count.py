"""How many parts a transcription has: texture features of the notes and a small trained classifier.

Counting the notes that start together is not enough: a chorale's four voices seldom all move at
once (passing notes), so three is the usual group size, while a tune with a block-chord accompaniment
has four-note groups but two parts (melody and chords). The features describe the texture:

- ``g2`` / ``g3`` / ``g4``: share of onset groups (notes starting within 40 ms) of at least 2, 3, 4 notes;
- ``gp50`` / ``gp90``: median and 90th percentile of the group sizes;
- ``s_mean`` / ``s_p50`` / ``s_p90``: notes sounding 30 ms after each group's onset (held notes included);
- ``block``: share of the groups of 3 or more notes whose notes, the highest left out, also end together
  (within 60 ms): block chords, as an accompaniment plays them under a melody;
- ``top_alone``: share of the groups of one note that are the highest sounding note (a melody moving
  over held chords);
- ``held``: share of onsets made while at least 2 other notes are held;
- ``range``: 5th to 95th percentile of the pitches, in octaves; ``rate``: log2 notes per second;
- ``dur_ratio``: log2 of the median duration of the notes in groups of 3 or more over that of the
  single notes (chords that last longer than the melody's notes).

Times in seconds, pitches MIDI numbers. The classifier (`musicllm.analysis.small_classifier`, weights in
``part_count_weights.json``, trained by ``python -m musicllm.training.part_count`` on dev-set-style
renderings of non-dev-set tunes) gives probabilities of 1 to `MAX_PARTS` parts.

Known limit: it learned the textures of its training renderings (solo tunes, a melody over a chord
accompaniment with or without a bass line, chorales in 2 to 4 voices). Four voices that always move
together in equal notes look like a melody over block chords and are counted as 2; pass ``n_parts``
(``--parts``) when you know the count.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from musicllm.analysis.notes import RawNote
from musicllm.analysis.small_classifier import SmallClassifier

FEATURES: tuple[str, ...] = ("g2", "g3", "g4", "gp50", "gp90", "s_mean", "s_p50", "s_p90", "block", "top_alone",
                             "held", "range", "rate", "dur_ratio")
WEIGHTS_FILE = Path(__file__).with_name("part_count_weights.json")
FORMAT = "musicllm.part_count/1"
MAX_PARTS = 4
GROUP_S = 0.04
END_S = 0.06


def texture_features(notes: Sequence[RawNote]) -> np.ndarray:
    """`FEATURES` of a set of notes (len(FEATURES),); NaN where undefined (no groups of that kind)."""
    x = np.full(len(FEATURES), np.nan)
    if len(notes) < 2:
        return x
    order = np.argsort([n.onset_s for n in notes], kind="stable")
    on = np.array([notes[i].onset_s for i in order])
    off = np.array([notes[i].offset_s for i in order])
    pitch = np.array([notes[i].pitch for i in order])
    start = np.concatenate([[True], np.diff(on) > GROUP_S])  # a new group where the gap exceeds 40 ms
    gid = np.cumsum(start) - 1
    sizes = np.bincount(gid)
    g_on = on[start]
    off_sorted = np.sort(off)
    probe = g_on + 0.03
    # notes sounding at a time t: started by t and not yet ended (no note is shorter than the window)
    sounding = np.searchsorted(on, probe, side="right") - np.searchsorted(off_sorted, probe, side="right")
    chord = sizes >= 3
    block = []
    for g in np.flatnonzero(chord):
        idx = np.flatnonzero(gid == g)
        under = idx[np.argsort(pitch[idx])[:-1]]  # the group without its highest note
        block.append(float(np.ptp(off[under]) <= END_S))
    first = np.flatnonzero(start)
    before = np.searchsorted(on, g_on - GROUP_S, side="left")  # notes that started before the group
    held = before - np.searchsorted(off_sorted, probe, side="right")  # ... and are still sounding
    top_alone = []
    for g in np.flatnonzero(sizes == 1):
        lo = np.searchsorted(on, g_on[g] - 10.0)  # held notes: started at most 10 s before
        h = slice(lo, before[g])
        top_alone.append(float(not np.any((off[h] > probe[g]) & (pitch[h] > pitch[first[g]]))))
    dur = off - on
    in_chord = chord[gid]
    x[:] = [np.mean(sizes >= 2), np.mean(sizes >= 3), np.mean(sizes >= 4), np.percentile(sizes, 50),
            np.percentile(sizes, 90), sounding.mean(), np.percentile(sounding, 50), np.percentile(sounding, 90),
            np.mean(block) if block else np.nan, np.mean(top_alone) if top_alone else np.nan, np.mean(held >= 2),
            (np.percentile(pitch, 95) - np.percentile(pitch, 5)) / 12.0,
            np.log2(len(on) / max(off.max() - on.min(), 1.0)),
            np.log2(np.median(dur[in_chord]) / np.median(dur[~in_chord])) if in_chord.any() and (~in_chord).any()
            else np.nan]
    return x


class PartCountModel(SmallClassifier):
    """Probabilities of 1 to `MAX_PARTS` parts (classes are part counts) from `texture_features`."""

    FORMAT = FORMAT
    FEATURES = FEATURES


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> PartCountModel:
    return PartCountModel.load(Path(path or WEIGHTS_FILE))


def part_count_probabilities(notes: Sequence[RawNote], model: PartCountModel | None = None) -> dict[int, float]:
    """Probability of each number of parts (1 to `MAX_PARTS`) for these notes."""
    m = model or load_model()
    p = m.probabilities(texture_features(notes)[None, :])[0]
    return {int(c): float(v) for c, v in zip(m.classes, p, strict=True)}


def estimate_part_count(notes: Sequence[RawNote], model: PartCountModel | None = None) -> int:
    """The most probable number of parts (1 for fewer than 2 notes)."""
    if len(notes) < 2:
        return 1
    p = part_count_probabilities(notes, model)
    return max(p, key=p.__getitem__)
