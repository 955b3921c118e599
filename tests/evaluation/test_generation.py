"""Generation metrics: parse rate, bars, control accuracy, novelty against a training index."""

from __future__ import annotations

import pytest

from musicllm.errors import MusicLLMError
from musicllm.evaluation.generation import TrainingIndex, bar_signatures, evaluate
from musicllm.models.abc_corpus import encode_tune

GOOD = "X:1\nT:a\nM:6/8\nL:1/8\nK:D\nA | cec ece | B2B c2c | AFA DFD | E3 E3 |]\n"
SHORT_BAR = "X:1\nT:b\nM:6/8\nL:1/8\nK:D\nA | cec ece | B2B c2 | AFA DFD | E3 E3 |]\n"
NO_NOTES = "X:1\nT:c\nM:6/8\nL:1/8\nK:D\n"
TRAIN = ("X:1\nT:t\nM:6/8\nL:1/8\nK:G\nD | GBd gdB | E2F G2A | BAG FED | E3 D3 | GBd gdB | c2B A2G | FGA DEF | G3 G2 |]\n")


def test_parse_rate_and_bars():
    r = evaluate([GOOD, SHORT_BAR, NO_NOTES], use_music21=False)
    assert r["n_tunes"] == 3
    assert r["parse_rate"] == pytest.approx(2 / 3)
    assert r["bars_add_up_rate"] == pytest.approx(1 / 3)


def test_control_accuracy_against_requests():
    reqs = [{"meter": "6/8", "key": "D major", "bars": 4}, {"meter": "3/4", "key": "E minor", "bars": 3}]
    r = evaluate([GOOD, GOOD], reqs, use_music21=True)
    assert r["meter_accuracy"] == 0.5 and r["key_accuracy"] == 0.5 and r["length_accuracy"] == 0.5
    assert r["music21_parse_rate"] == 1.0 and r["music21_full_measures_rate"] == 1.0
    assert r["key_estimate_accuracy"] is not None


def test_novelty_is_transposition_invariant():
    train = encode_tune(TRAIN)
    index = TrainingIndex.from_token_lists([train])
    copied = encode_tune(TRAIN, shift=2)  # the same tune in A: a full copy
    body = copied[6:]
    tonic, mode = "A", "major"
    assert index.longest_copied_run(bar_signatures(body, tonic, mode)) == 9  # pickup + 8 bars
    r = evaluate([GOOD], index=index, use_music21=False)
    assert r["max_copied_run"] < 2 and r["copies_8_bars"] == 0
    assert 0.0 <= r["ngram_overlap"] < 0.5
    from musicllm.generation.symbolic import body_to_abc

    copy_abc = body_to_abc(["<bos>", *copied[:6]], body, title="copy", tempo_qpm=None, program=0)
    r2 = evaluate([copy_abc], index=index, use_music21=False)
    assert r2["copies_8_bars"] == 1 and r2["ngram_overlap"] == 1.0


def test_validate():
    with pytest.raises(MusicLLMError):
        evaluate([])
    with pytest.raises(MusicLLMError):
        evaluate(["not abc"])
    with pytest.raises(MusicLLMError, match="requests"):
        evaluate([GOOD], [{}, {}])
