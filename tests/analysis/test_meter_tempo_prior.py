"""The meter model's tempo prior: tables, weights, the shipped prior, and its recipe's fit."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from musicllm.analysis import meter_model as mm
from musicllm.analysis.meter_tempo_prior import TempoPrior, felt_beat_bpm
from musicllm.score.model import Meter
from musicllm.training import meter_tempo_prior as tp


def test_felt_beat_is_the_meters_beat():
    assert felt_beat_bpm(Meter(4, 4), 120.0) == 120.0
    assert felt_beat_bpm(Meter(2, 2), 150.0) == 75.0
    assert felt_beat_bpm(Meter(6, 8), 150.0) == 100.0


def test_tables_peak_where_the_training_tempos_are_and_round_trip():
    data = [("2/2", q) for q in np.linspace(130, 170, 30)] + [("4/4", q) for q in np.linspace(90, 130, 60)]
    grid, tables = tp.prior_tables(data, 0.06)
    prior = TempoPrior(grid, tables, 0.8, 1.0)
    # 2/2 at 150 qpm is 75 half notes a minute: usual; at 300 (150 a minute) never seen by any meter;
    # at 200 (100 a minute) only by 4/4, which a rare meter leans on (shrunk towards all meters)
    assert prior.log_prior(Meter(2, 2), 150.0) > prior.log_prior(Meter(2, 2), 300.0) + 2.0
    assert prior.log_prior(Meter(2, 2), 150.0) > prior.log_prior(Meter(2, 2), 200.0) > prior.log_prior(Meter(2, 2), 300.0)
    assert prior.log_prior(Meter(4, 4), 110.0) > prior.log_prior(Meter(4, 4), 180.0) + 2.0
    # a meter with no items falls back to all meters pooled, and never below the floor
    assert prior.log_prior(Meter(9, 8), 150.0) > np.log(tp.FLOOR)
    assert min(t.min() for t in tables.values()) >= np.log(tp.FLOOR) - 1e-9
    again = TempoPrior.from_dict(prior.to_dict())
    assert again.log_prior(Meter(2, 2), 150.0) == pytest.approx(prior.log_prior(Meter(2, 2), 150.0), abs=1e-3)
    assert again.log_prior(Meter(5, 4), 150.0) == 0.0  # a meter the prior does not know
    s = again.combine([Meter(2, 2), Meter(4, 4)], [150.0, 150.0], np.array([1.0, 2.0]))
    assert s[0] == pytest.approx(0.8 * 1.0 + again.log_prior(Meter(2, 2), 150.0))
    with pytest.raises(ValueError):
        TempoPrior.from_dict({**prior.to_dict(), "format": "other"})


def test_the_shipped_model_has_a_prior_that_knows_the_usual_tempos():
    model = mm.load_model()
    prior = model.tempo_prior
    assert prior is not None and prior.weight > 0 and prior.base_weight > 0
    assert prior.meta["items"] > 500
    assert prior.log_prior(Meter(2, 2), 150.0) > prior.log_prior(Meter(2, 2), 200.0)
    assert prior.log_prior(Meter(4, 4), 110.0) > prior.log_prior(Meter(4, 4), 181.0)
    again = mm.MeterModel.from_dict(model.to_dict())
    assert again.tempo_prior is not None and again.tempo_prior.weight == pytest.approx(prior.weight)


def test_candidate_scores_add_the_prior_to_the_base_scores():
    model = mm.load_model()
    cands = [mm.Candidate(Meter(2, 2), Fraction(2), 200.0, 0.0), mm.Candidate(Meter(2, 4), Fraction(1), 100.0, 0.0)]
    x = np.zeros((2, mm.N_FEATURES))
    base = model.scores(x)
    assert base[0] == base[1]
    s = model.candidate_scores(cands, x)
    p = model.tempo_prior
    assert s[1] - s[0] == pytest.approx(p.weight * (p.log_prior(Meter(2, 4), 100.0) - p.log_prior(Meter(2, 2), 200.0)))
    plain = mm.MeterModel(model.weights, model.mean, model.scale, model.meta)
    assert np.allclose(plain.candidate_scores(cands, x), base)


def test_the_recipe_learns_a_positive_weight_when_the_prior_marks_the_right_reading():
    model = mm.load_model()
    plain = mm.MeterModel(model.weights, model.mean, model.scale, model.meta)
    data = [("2/2", q) for q in np.linspace(130, 170, 30)] + [("2/4", q) for q in np.linspace(80, 120, 30)]
    grid, tables = tp.prior_tables(data, 0.06)
    prior = TempoPrior(grid, tables, 1.0, 0.0)
    rng = np.random.default_rng(0)
    items = []
    for _ in range(60):
        q = float(rng.uniform(85, 115))  # 2/4 at q or 2/2 at 2q: the prior says 2/4
        cands = [mm.Candidate(Meter(2, 4), Fraction(1), q, 0.0), mm.Candidate(Meter(2, 2), Fraction(2), 2 * q, 0.0)]
        items.append({"x": rng.normal(size=(2, mm.N_FEATURES)) * 0.01, "cands": cands, "y": [0]})
    base_weight, weight = tp.fit_weights(items, plain, prior)
    assert weight > 0.5
    fitted = mm.MeterModel(model.weights, model.mean, model.scale, model.meta, TempoPrior(grid, tables, base_weight, weight))
    assert tp.accuracy(items, fitted) == 1.0
