"""Expressive timing of rendered performances (musicllm.data.expressive_timing)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from musicllm.data.expressive_timing import TimeMap, TimingStyle


def test_steady_style_is_the_metronome():
    style = TimingStyle(drift_sd=0.0, drift_corr=0.5, ritardando=0.0, fermata_stretch=1.0)
    tm = TimeMap(120.0, 0.5, Fraction(32), Fraction(4), Fraction(1), style, np.random.default_rng(0))
    for q in (0, Fraction(1, 3), 7, 31.5, 32, 40):
        assert abs(tm(q) - (0.5 + float(q) * 0.5)) < 1e-9


def test_fermatas_are_held_and_the_end_slows_down():
    style = TimingStyle(drift_sd=0.0, drift_corr=0.5, ritardando=0.2, fermata_stretch=2.0)
    tm = TimeMap(60.0, 0.0, Fraction(16), Fraction(4), Fraction(0), style, np.random.default_rng(0),
                 fermatas=[(Fraction(7), Fraction(8))])
    assert abs(tm(7) - 7.0) < 1e-9
    assert abs(tm(8) - tm(7) - 2.0) < 1e-6          # the fermata quarter lasts two seconds
    assert abs(tm(12) - 13.0) < 1e-6                # everything after it one second later
    last_bar = tm(16) - tm(12)
    assert 4.0 * 1.09 < last_bar < 4.0 * 1.11       # a linear ritardando to +20 % adds 10 %


def test_drift_is_reproducible_and_keeps_the_tempo_on_average():
    style = TimingStyle(drift_sd=0.05, drift_corr=0.7, ritardando=0.0, fermata_stretch=1.0)
    maps = [TimeMap(100.0, 0.2, Fraction(400), Fraction(4), Fraction(0), style, np.random.default_rng(s))
            for s in (1, 1, 2)]
    assert maps[0](123) == maps[1](123) != maps[2](123)
    q = np.arange(0, 400, 1.0)
    t = np.array([maps[0](x) for x in q])
    local = np.diff(t) / 0.6                        # seconds per quarter note / nominal
    assert np.all(np.diff(t) > 0) and 0.02 < np.std(np.log(local)) < 0.08
    assert abs(np.median(local) - 1) < 0.05
