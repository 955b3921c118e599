"""The ABC reward: hand-computed values, failure policy, GRPO wrapper, ABC extraction."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from musicllm.errors import NotationError
from musicllm.evaluation import abc_reward as ar
from musicllm.evaluation.abc_reward import (
    RewardResult,
    abc_reward,
    completion_text,
    extract_abc,
    grpo_reward_fn,
    instrument_score,
    metre_score,
    normalise_instrument_name,
    score_reward,
    sequence_similarity,
    tempo_score,
)
from musicllm.score.model import Meter, Note, Part, Score


@pytest.fixture(autouse=True)
def _fresh_reference_cache():
    ar._parse_reference.cache_clear()
    yield
    ar._parse_reference.cache_clear()


def tune(body: str, *, meter: str | None = "4/4", tempo: str | None = "1/4=120", extra: str = "") -> str:
    head = ["X:1", "T:Test"]
    if meter is not None:
        head.append(f"M:{meter}")
    head.append("L:1/4")
    if tempo is not None:
        head.append(f"Q:{tempo}")
    head.append("K:C")
    return "\n".join(head) + "\n" + extra + body + "\n"


TEN = "C D E F | G A B c | d e |"
TEN_ONE_WRONG = "C D E F | G A B c | d f |"
TWO_VOICES = 'V:1 name="Violin"\nc d e f | g2 g2 |\nV:2 name="Cello"\nC, D, E, F, | G,2 G,2 |'
TWO_VOICES_SWAPPED = 'V:1 name="Cello"\nC, D, E, F, | G,2 G,2 |\nV:2 name="Violin"\nc d e f | g2 g2 |'


def part(pitches, name="Violin", program=40, step=0.5):
    notes = [Note(p, i * step, i * step + step * 0.9, onset_qn=Fraction(i), offset_qn=Fraction(i) + 1)
             for i, p in enumerate(pitches)]
    return Part(name=name, program=program, notes=notes)


# --- components -----------------------------------------------------------------------------------


def test_tempo_score_curve():
    assert tempo_score(120, 120) == 1.0
    assert tempo_score(125, 120) == pytest.approx(0.75)
    assert tempo_score(115, 120) == pytest.approx(0.75)
    assert tempo_score(130, 120) == pytest.approx(0.5)
    assert tempo_score(140, 120) == pytest.approx(0.5 * math.exp(-1))
    assert tempo_score(400, 120) == pytest.approx(0.5 * math.exp(-27))
    assert tempo_score(None, 120) == 0.0
    assert tempo_score(float("nan"), 120) == 0.0
    assert tempo_score(-5, 120) == 0.0


@pytest.mark.parametrize(("pred", "ref", "expected"), [
    ((4, 4), (4, 4), 1.0),
    ((2, 4), (4, 4), 1 / 3),   # same denominator only
    ((4, 8), (2, 4), 1 / 3),   # same ratio only
    ((2, 2), (4, 4), 1 / 3),   # same ratio only
    ((3, 4), (6, 8), 1 / 3),   # same bar length (ratio), different grouping
    ((3, 4), (2, 2), 0.0),
    ((6, 4), (6, 8), 1 / 3),   # same numerator only
    ((3, 8), (3, 4), 1 / 3),
])
def test_metre_score(pred, ref, expected):
    assert metre_score(*pred, *ref) == pytest.approx(expected)


def test_sequence_similarity():
    assert sequence_similarity([], []) == 1.0
    assert sequence_similarity([60], []) == 0.0
    assert sequence_similarity([60, 62, 64, 65], [60, 62, 64, 65]) == 1.0
    assert sequence_similarity([60, 62, 64, 65], [60, 64, 65]) == pytest.approx(0.75)


def test_instrument_score_levels():
    violin, violin2 = Part("Violin", 40), Part("Violin II", 0)
    cello, flute = Part("Cello", 42), Part("Flute", 73)
    assert instrument_score(violin, Part("Violino", 40)) == 1.0          # same program
    assert instrument_score(violin2, Part("violin 1", 73)) == 1.0       # same normalised name
    assert instrument_score(cello, violin) == 0.5                        # GM strings family
    from rapidfuzz import fuzz
    assert instrument_score(flute, violin) == pytest.approx(0.4 * fuzz.ratio("flute", "violin") / 100)
    assert instrument_score(flute, violin) <= 0.4
    assert instrument_score(Part("", 73), Part("", 40)) == 0.0
    # Program 0 (the GM default) gives way to the instrument the name implies.
    assert instrument_score(Part("Viola", 0), Part("Cello", 0)) == 0.5
    assert instrument_score(Part("Viola", 0), Part("Cello", 42)) == 0.5
    assert instrument_score(Part("Flute", 0), Part("Violin", 0)) < 0.4
    assert instrument_score(Part("P1", 0), Part("P2", 0)) == 1.0  # both unspecified: they agree
    assert normalise_instrument_name("  Violin II. ") == "violin"


# --- score_reward on Score objects ---------------------------------------------------------------


def test_score_reward_one_wrong_pitch_and_voice_order():
    ref = Score(parts=[part([72, 74, 76, 77]), part([48, 50, 52, 53], "Cello", 42)])
    pred = Score(parts=[part([48, 50, 52, 53], "Cello", 42), part([72, 74, 76, 78])])
    r = score_reward(pred, ref)
    assert r.pitch == pytest.approx((1.0 + 0.75) / 2)
    assert r.instrument == 1.0
    assert r.metre == 1.0 and r.tempo == 1.0
    assert r.total == pytest.approx(0.5 * 0.875 + 0.5)
    assert r.n_ref_voices == 2 and r.n_pred_voices == 2


def test_score_reward_instrument_family_and_missing_voice():
    ref = Score(parts=[part([72, 74, 76, 77]), part([48, 50, 52, 53], "Cello", 42)])
    pred = Score(parts=[part([72, 74, 76, 77], "Viola", 41)])  # strings family, cello voice missing
    r = score_reward(pred, ref)
    assert r.pitch == pytest.approx(0.5)
    assert r.instrument == pytest.approx(0.25)


def test_score_reward_surplus_voice_is_penalised():
    ref = Score(parts=[part([60, 62, 64, 65])])
    pred = Score(parts=[part([60, 62, 64, 65]), part([40, 41, 42])])
    r = score_reward(pred, ref)
    assert r.pitch == pytest.approx(0.5) and r.instrument == pytest.approx(0.5)


def test_score_reward_chords_are_ordered_by_onset_then_pitch():
    chord = [Note(67, 0, 1, onset_qn=Fraction(0), offset_qn=Fraction(1)),
             Note(60, 0, 1, onset_qn=Fraction(0), offset_qn=Fraction(1)),
             Note(64, 0, 1, onset_qn=Fraction(0), offset_qn=Fraction(1)),
             Note(72, 1, 2, onset_qn=Fraction(1), offset_qn=Fraction(2))]
    assert ar.pitch_sequence(Part(notes=chord)) == [60, 64, 67, 72]


def test_score_reward_weights_and_flags():
    ref = Score(parts=[part([60, 62, 64, 65])], tempo_qpm=100, meter=Meter(3, 4))
    pred = Score(parts=[part([60, 62, 64, 66])], tempo_qpm=105, meter=Meter(3, 4))
    assert score_reward(pred, ref, weights=(1, 0, 0, 0)).total == pytest.approx(0.75)
    assert score_reward(pred, ref, weights=(0, 0, 2, 0)).total == pytest.approx(0.75)
    r = score_reward(pred, ref, pred_tempo_missing=True, pred_metre_missing=True)
    assert r.tempo == 0.0 and r.metre == 0.0
    with pytest.raises(ValueError):
        score_reward(pred, ref, weights=(1, 1, 1))
    with pytest.raises(ValueError):
        score_reward(pred, ref, weights=(0, 0, 0, 0))
    with pytest.raises(NotationError):
        score_reward(pred, Score())
    worst = score_reward(Score(parts=[Part()]), ref)
    assert worst.total == 0.0 and not worst.parsed


# --- abc_reward on ABC text ----------------------------------------------------------------------


def test_identical_abc_scores_one():
    r = abc_reward(tune(TEN), tune(TEN))
    assert isinstance(r, RewardResult)
    assert r.to_dict() == {"total": 1.0, "pitch": 1.0, "metre": 1.0, "tempo": 1.0, "instrument": 1.0,
                           "parsed": True, "error": None, "n_ref_voices": 1, "n_pred_voices": 1}


def test_one_wrong_pitch_in_ten_notes():
    r = abc_reward(tune(TEN_ONE_WRONG), tune(TEN))
    assert r.pitch == pytest.approx(0.9)
    assert r.total == pytest.approx(0.5 * 0.9 + 0.15 + 0.15 + 0.2)


def test_voices_swapped_in_order_still_match():
    r = abc_reward(tune(TWO_VOICES_SWAPPED), tune(TWO_VOICES))
    assert r.pitch == pytest.approx(1.0)
    assert r.instrument == pytest.approx(1.0)
    assert r.total == pytest.approx(1.0)


def test_tempo_five_off_and_missing():
    assert abc_reward(tune(TEN, tempo="1/4=125"), tune(TEN)).tempo == pytest.approx(0.75)
    missing = abc_reward(tune(TEN, tempo=None), tune(TEN))
    assert missing.tempo == 0.0 and missing.pitch == 1.0
    # Neither declares a tempo: both sit at the parser's default and agree.
    assert abc_reward(tune(TEN, tempo=None), tune(TEN, tempo=None)).tempo == 1.0


def test_metre_two_four_vs_four_four():
    r = abc_reward(tune(TEN, meter="2/4"), tune(TEN, meter="4/4"))
    assert r.metre == pytest.approx(1 / 3)
    assert abc_reward(tune(TEN, meter="C"), tune(TEN, meter="4/4")).metre == 1.0
    assert abc_reward(tune(TEN, meter=None), tune(TEN, meter="4/4")).metre == 0.0


@pytest.mark.parametrize("bad", [
    "", "   ", "hello, I cannot transcribe this", "X:1\nT:empty\nK:C\n", "```abc\n```", "\x00\x01\x02",
    "X:1\nK:C\n[[[[", None, 42,
])
def test_unusable_prediction_scores_zero_without_raising(bad):
    r = abc_reward(bad, tune(TEN))
    assert r.total == 0.0 and r.pitch == r.metre == r.tempo == r.instrument == 0.0
    assert r.parsed is False and r.error


def test_garbage_predictions_never_raise():
    rng = random.Random(1234)
    alphabet = "ABCDEFGabcdefgz^_=,'/0123456789|[]:()<>-~.!+\"{}%XKLMQTVw \n"
    ref = tune(TEN)
    for _ in range(150):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        for text in (body, "X:1\nK:C\n" + body, tune(body)):
            r = abc_reward(text, ref)
            assert 0.0 <= r.total <= 1.0
            for c in (r.pitch, r.metre, r.tempo, r.instrument):
                assert 0.0 <= c <= 1.0


def test_unparsable_reference_is_a_notation_error():
    with pytest.raises(NotationError):
        abc_reward(tune(TEN), "")
    with pytest.raises(NotationError):
        abc_reward(tune(TEN), "X:1\nT:no notes\nK:C\n")


# --- extraction and the GRPO reward --------------------------------------------------------------


def test_extract_abc_from_fences_and_prose():
    abc = tune(TEN).strip()
    assert extract_abc(abc) == abc
    assert extract_abc(f"Here is the transcription:\n\n```abc\n{abc}\n```\nEnjoy!") == abc
    assert extract_abc(f"Sure.\n```\n{abc}\n```") == abc
    assert extract_abc(f"```text\nnot it\n```\n```\n{abc}\n```") == abc
    assert extract_abc(f"```abc\n{abc}") == abc  # truncated output, unclosed fence
    assert extract_abc(f"The tune is:\n{abc}\n\nThis is a lively piece in C.") == abc
    assert extract_abc(f"<think>maybe X:2 ...</think>\n{abc}") == abc
    two = tune(TWO_VOICES).strip()
    spaced = two.replace("\nV:2", "\n\nV:2")
    assert extract_abc("Answer:\n" + spaced + "\n\nDone.") == two


def test_completion_text_formats():
    assert completion_text("abc") == "abc"
    assert completion_text([{"role": "assistant", "content": "x"}]) == "x"
    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "y"}]) == "y"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "a"},
                                                               {"type": "text", "text": "b"}]}]) == "ab"
    assert completion_text({"role": "assistant", "content": "z"}) == "z"
    assert completion_text(None) == ""


def test_grpo_reward_fn():
    ref = tune(TEN)
    completions = [
        ref,
        [{"role": "assistant", "content": f"Here you go:\n```abc\n{tune(TEN_ONE_WRONG)}```"}],
        "I don't know.",
        [{"role": "assistant", "content": tune(TEN, tempo="1/4=125")}],
    ]
    rewards = grpo_reward_fn(completions, reference_abc=[ref] * 4, prompts=["p"] * 4)
    assert rewards == pytest.approx([1.0, 0.95, 0.0, 1.0 - 0.15 * 0.25])
    assert all(isinstance(x, float) for x in rewards)
    assert grpo_reward_fn([ref], reference_abc=ref) == [1.0]
    with pytest.raises(KeyError):
        grpo_reward_fn([ref])
    with pytest.raises(ValueError):
        grpo_reward_fn([ref, ref], reference_abc=[ref])
