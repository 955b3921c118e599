"""Instrument model: the shipped weights, the expected-score choice, part naming in transcribe()."""

from __future__ import annotations

import numpy as np
import pytest

from musicllm.analysis import instrument_model
from musicllm.analysis.instrument_model import (
    INSTRUMENTS,
    InstrumentGuess,
    InstrumentModel,
    expected_scores,
    guess,
)
from musicllm.analysis.timbre import FEATURES


def _fixed(probs: dict[str, float]) -> InstrumentModel:
    """A model whose output probabilities are ``probs`` whatever the features."""
    classes = sorted(INSTRUMENTS)
    b = np.array([np.log(probs.get(c, 1e-9)) for c in classes])
    return InstrumentModel(classes, np.zeros(len(FEATURES)), np.ones(len(FEATURES)),
                           [(np.zeros((len(FEATURES), len(classes))), b)], {})


def test_shipped_weights_load_and_give_probabilities():
    m = instrument_model.load_model()
    assert set(m.classes) <= set(INSTRUMENTS)
    x = np.full((3, len(FEATURES)), np.nan)  # nothing readable: the training means
    x[1] = m.mean
    p = m.probabilities(x)
    assert p.shape == (3, len(m.classes))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[0], p[1])
    assert m.meta["n_parts"] > 1000


def test_family_credit_can_overrule_the_most_probable_instrument():
    # flute 0.4 alone in its family; violin + viola 0.6 together: a string instrument scores more
    g = guess(np.zeros((1, len(FEATURES))), _fixed({"flute": 0.4, "violin": 0.3, "viola": 0.3}))[0]
    assert g.name in ("violin", "viola") and g.expected_score == pytest.approx(0.45)
    g = guess(np.zeros((1, len(FEATURES))), _fixed({"flute": 0.6, "violin": 0.2, "viola": 0.2}))[0]
    assert (g.name, g.program) == ("flute", 73) and g.probability == pytest.approx(0.6)
    e = expected_scores(np.array([[0.5, 0.5]]), ["oboe", "bassoon"])  # both reeds
    np.testing.assert_allclose(e, [[0.75, 0.75]])


def test_part_names_number_repeated_instruments():
    from musicllm.analysis.transcribe import _part_names

    g = [InstrumentGuess("violin", 40, 0.9, 0.9), InstrumentGuess("violin", 40, 0.8, 0.8),
         InstrumentGuess("cello", 42, 0.7, 0.8)]
    assert _part_names([[], [], []], [], g) == [("Violin I", 40), ("Violin II", 40), ("Cello", 42)]
    assert _part_names([[], []], [71], []) == [("Clarinet", 71), ("Part 2", 0)]
    assert _part_names([[]], [], []) == [("Melody", 0)]
