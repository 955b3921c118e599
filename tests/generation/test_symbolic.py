"""Constrained decoding with a tiny random model: every tune parses, every bar fills the meter."""

from __future__ import annotations

from fractions import Fraction

import pytest

from musicllm.errors import MusicLLMError
from musicllm.evaluation.generation import bar_lengths, body_tokens_of_abc
from musicllm.generation.abc_constraints import BarConstraint, TokenClasses
from musicllm.generation.controls import Controls
from musicllm.generation.symbolic import generate
from musicllm.models.abc_lm import debug_model
from musicllm.score.abc_read import read_abc
from musicllm.score.model import Key, Meter


@pytest.fixture(scope="module")
def lm():
    return debug_model(0)


def _check_bars(abc: str, meter: Meter, unit: Fraction, bars: int) -> None:
    lengths = bar_lengths(body_tokens_of_abc(abc))
    bar = Fraction(meter.numerator, meter.denominator) / unit
    assert 0 < lengths[0] <= bar
    assert all(x == bar for x in lengths[1:]), lengths
    assert sum(1 for x in lengths if x == bar) == bars


@pytest.mark.parametrize("meter,key,bars", [((6, 8), "D major", 4), ((3, 4), "A minor", 3), ((4, 4), "E dorian", 2),
                                            ((9, 8), "G mixolydian", 2), ((2, 2), "Bb major", 1)])
def test_random_model_output_is_valid_abc_with_full_bars(lm, meter, key, bars):
    m = Meter(*meter)
    out = generate(Controls(meter=m, key=Key.parse(key), length_bars=bars), n=2, seed=7, model=lm)
    assert len(out) == 2
    for g in out:
        score = read_abc(g.abc)
        assert score.parts and score.parts[0].notes
        assert score.meter == m
        assert score.key.tonic_pc == Key.parse(key).tonic_pc
        _check_bars(g.abc, m, Fraction(g.controls["unit"]), bars)
        assert g.abc.rstrip().endswith("|]")


def test_seeds_make_it_reproducible_and_variations_differ(lm):
    c = Controls(meter=Meter(2, 4), key=Key("G", "major"), length_bars=4)
    a = generate(c, n=2, seed=5, model=lm)
    b = generate(c, n=2, seed=5, model=lm)
    assert [g.abc for g in a] == [g.abc for g in b]
    assert a[0].abc != a[1].abc
    assert a[0].controls["header"] == a[1].controls["header"]  # variations share the header


def test_open_slots_are_sampled_from_the_vocabulary(lm):
    (g,) = generate(Controls(mode="minor"), seed=1, model=lm)
    assert g.controls["key"].endswith("min")
    assert f"<M:{g.controls['meter']}>" in lm.vocab.index


def test_greedy_and_top_p(lm):
    c = Controls(meter=Meter(3, 8), key=Key("F", "major"), length_bars=2)
    g0, g1 = generate(c, n=2, seed=1, temperature=0.0, model=lm)
    assert g0.tokens == g1.tokens  # greedy ignores the per-variation body seed
    g2 = generate(c, seed=3, top_p=0.1, model=lm)[0]
    _check_bars(g2.abc, Meter(3, 8), Fraction(g2.controls["unit"]), 2)


def test_continuation_keeps_the_opening(lm):
    opening = "X:1\nM:6/8\nL:1/8\nK:D\nA|dfa afd|B2c d2e|\n"
    (g,) = generate(Controls(length_bars=4), seed=0, opening=opening, model=lm)
    body = body_tokens_of_abc(g.abc)
    assert body[:16] == ["A", "|", "d", "f", "a", "a", "f", "d", "|", "B", "2", "c", "d", "2", "e", "|"]
    _check_bars(g.abc, Meter(6, 8), Fraction(1, 8), 4)
    with pytest.raises(MusicLLMError, match="contradicts"):
        generate(Controls(meter=Meter(3, 4)), opening=opening, model=lm)


def test_context_limit_closes_the_tune(lm):
    small = debug_model(0, max_len=60)
    (g,) = generate(Controls(meter=Meter(4, 4), key=Key("C", "major"), length_bars=40, unit_length=Fraction(1, 16)),
                    seed=0, model=small)
    lengths = bar_lengths(body_tokens_of_abc(g.abc))
    assert all(x == 16 for x in lengths[1:])
    assert read_abc(g.abc).parts[0].notes


@pytest.mark.parametrize("controls,match", [
    (Controls(meter=Meter(7, 8)), "never saw the meter 7/8"),
    (Controls(meter=Meter(6, 8), length_bars=500), "1 to 48 bars"),
])
def test_impossible_requests_are_user_errors(lm, controls, match):
    with pytest.raises(MusicLLMError, match=match):
        generate(controls, model=lm)


def test_bad_prompts_are_user_errors(lm):
    with pytest.raises(MusicLLMError, match="empty"):
        generate("  ", model=lm)
    with pytest.raises(MusicLLMError, match="contradictory"):
        generate("a jig in 3/4", model=lm)


def test_constraint_forces_bar_lines_and_end(lm):
    c = TokenClasses.of(lm.vocab.tokens)
    v = lm.vocab.index
    cons = BarConstraint(c, Fraction(3), target_bars=2, allow_pickup=False)
    for tok in ["A", "2", "B"]:
        assert v[tok] in cons.allowed()
        cons.advance(v[tok])
    assert v["|"] in cons.allowed() and v["|]"] not in cons.allowed()
    assert v["2"] not in cons.allowed()  # would overflow the bar
    cons.advance(v["|"])
    assert v["|"] not in cons.allowed()  # no second pickup
    for tok in ["(3", "A", "B", "c"]:  # a triplet of eighths lasts 2 units
        cons.advance(v[tok])
    assert v["2"] not in cons.allowed() and v["3"] not in cons.allowed()
    cons.advance(v["d"])
    # d may last 1 unit (filling the last bar: no tie, only the final bar line) or less
    assert sorted(cons.allowed()) == sorted(v[t] for t in ("/2", "/4", "3/4", "|]"))
    cons.advance(v["|]"])
    assert cons.allowed() == [c.eos]
