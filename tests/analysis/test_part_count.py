"""Part count: texture features on textures with known answers, and the shipped classifier."""

from __future__ import annotations

import numpy as np
import pytest

from musicllm.analysis.notes import RawNote
from musicllm.analysis.part_count import (
    FEATURES,
    MAX_PARTS,
    estimate_part_count,
    load_model,
    texture_features,
)


def _melody(n=32, step=0.25, base=72):
    return [RawNote(i * step, i * step + step * 0.9, base + (0, 2, 4, 5, 7, 5, 4, 2)[i % 8], 0.6) for i in range(n)]


def _block_chords(n_bars=4, bar=2.0, root=48):
    """Sustained three-note chords, one per bar (an accompaniment)."""
    return [RawNote(b * bar, b * bar + bar * 0.95, root + d, 0.5) for b in range(n_bars) for d in (0, 4, 7)]


def _voices(k, n=16, step=0.5):
    """``k`` independent lines over ``n`` beats; the lower ones sometimes hold a note over two beats
    (a chorale-like texture: every line always sounding, not always moving together)."""
    out = []
    for v in range(k):
        base = 76 - 8 * v
        i = 0
        while i < n:
            length = 2 if v > 0 and (i + v) % 6 == 5 else 1
            out.append(RawNote(i * step, (i + length) * step - 0.03, base + (i * (v + 1)) % 5, 0.6))
            i += length
    return out


def _f(notes):
    return dict(zip(FEATURES, texture_features(notes), strict=True))


def test_texture_features_describe_chords_and_lines():
    solo = _f(_melody())
    assert solo["g2"] == 0 and solo["s_p50"] == 1 and np.isnan(solo["block"]) and solo["top_alone"] == 1
    acc = _f(_melody() + _block_chords())
    assert acc["block"] == 1.0                  # the chords (the notes under the melody) end together
    assert acc["s_p50"] == 4                    # a melody note over a held triad
    assert acc["top_alone"] == 1.0 and acc["held"] > 0.5
    assert acc["dur_ratio"] > 2                 # chords last much longer than the melody's notes
    assert np.isnan(texture_features([RawNote(0, 1, 60, 0.5)])).all()


def test_shipped_model_counts_parts():
    m = load_model()
    assert sorted(m.classes) == list(range(1, MAX_PARTS + 1))
    assert m.meta["cv_by_tune_exact"] > m.meta["rule_exact"]
    assert estimate_part_count(_melody()) == 1
    assert estimate_part_count(_melody() + _block_chords()) == 2
    assert estimate_part_count([RawNote(0, 1, 60, 0.5)]) == 1


@pytest.mark.parametrize("k", [2, 3])
def test_shipped_model_counts_independent_lines(k):
    # (four lines that always move together read as a melody over block chords: 2; see the note in
    # musicllm.analysis.part_count)
    assert estimate_part_count(_voices(k)) == k
    assert estimate_part_count(_voices(k, 32)) == k
