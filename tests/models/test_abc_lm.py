"""ABC tokens, corpus encoding, the transformer (KV cache = full pass), checkpoints and the recipe."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
import torch

from musicllm.errors import MusicLLMError
from musicllm.models.abc_corpus import bar_units, encode_tune
from musicllm.models.abc_lm import (
    IncrementalDecoder,
    debug_model,
    heldout_perplexity,
    load_checkpoint,
    save_checkpoint,
    shipped_checkpoint,
)
from musicllm.models.abc_tokenizer import AbcVocab, duration_text, duration_value, lex_body, pitch_midi

JIG = """X:1
T:Test Jig
R:jig
M:6/8
L:1/8
K:D
A|dfa afd|B2c d2e|fed cBA|B3 A2:|
"""


def _bar_sums(tokens: list[str]) -> list[Fraction]:
    from musicllm.evaluation.generation import bar_lengths

    return bar_lengths(tokens)


def test_durations_round_trip():
    for text, value in [("", 1), ("2", 2), ("/", Fraction(1, 2)), ("/2", Fraction(1, 2)), ("//", Fraction(1, 4)),
                        ("3/2", Fraction(3, 2)), ("/4", Fraction(1, 4))]:
        assert duration_value(text) == value
        assert duration_value(duration_text(Fraction(value))) == value


def test_lex_body_tokens():
    toks = lex_body("(3ABc [CEG]2 ^f'/2=g,/2- g | z3 |]")
    assert toks == ["(3", "A", "B", "c", "[", "C", "E", "G", "]", "2", "^f'", "/2", "=g,", "/2", "-", "g", "|",
                    "z", "3", "|]"]
    with pytest.raises(ValueError):
        lex_body('"Am" A B')


def test_pitch_midi_uses_key_signature_and_explicit_accidentals():
    d_major = {"F": 1, "C": 1}
    assert pitch_midi("f", d_major) == 78       # F#5
    assert pitch_midi("=f", d_major) == 77
    assert pitch_midi("C,", {}) == 48
    assert pitch_midi("C", {}) == 60
    assert pitch_midi("c'", {}) == 84


def test_encode_tune_header_and_bars():
    toks = encode_tune(JIG, origin="test")
    assert toks[:6] == ["<origin:test>", "<T:jig>", "<M:6/8>", "<L:1/8>", "<K:Dmaj>", "<bars:4>"]
    sums = _bar_sums(toks[6:])
    bar = bar_units("6/8", "1/8")
    assert sums[0] == 1  # the pickup
    assert all(s == bar for s in sums[1:])


def test_encode_tune_transposed_moves_key_and_pitches():
    base = encode_tune(JIG)
    up = encode_tune(JIG, shift=2)
    assert up[4] == "<K:Emaj>"
    from musicllm.score.abc_read import key_signature

    first = next(t for t in base[6:] if t[0].isalpha())
    first_up = next(t for t in up[6:] if t[0].isalpha())
    assert pitch_midi(first_up, key_signature("E", "major")) - pitch_midi(first, key_signature("D", "major")) == 2


def test_kv_cache_matches_full_forward():
    lm = debug_model(1)
    ids = torch.tensor([lm.vocab.encode(["<bos>", "<origin:?>", "<T:jig>", "<M:6/8>", "<L:1/8>", "<K:Dmaj>",
                                         "<bars:8>", "A", "B", "c", "|", "d", "2"])])
    with torch.no_grad():
        full = lm.module(ids)
        logits, cache = lm.module.step(ids[:, :5], None)
        parts = [logits]
        for k in range(5, ids.shape[1]):
            logits, cache = lm.module.step(ids[:, k:k + 1], cache)
            parts.append(logits)
        chunked = lm.module.step(ids[:, 9:], lm.module.step(ids[:, :9], None)[1])[0]
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)
    assert torch.allclose(chunked, full[:, 9:], atol=1e-5)
    dec = IncrementalDecoder(lm)
    assert torch.allclose(dec.feed(ids[0, :6].tolist()), full[0, 5], atol=1e-5)
    for k in range(6, ids.shape[1]):
        assert torch.allclose(dec.feed([int(ids[0, k])]), full[0, k], atol=1e-5)


def test_checkpoint_round_trip_fp16(tmp_path):
    lm = debug_model(2)
    path = save_checkpoint(tmp_path / "m.pt", lm.module, lm.vocab, half=True, extra={"training": {"x": 1}})
    back = load_checkpoint(path)
    assert back.vocab.tokens == lm.vocab.tokens
    assert back.meta["training"] == {"x": 1}
    ids = torch.tensor([lm.vocab.encode(["<bos>", "<M:6/8>", "A", "B"])])
    with torch.no_grad():
        assert torch.allclose(back.module(ids), lm.module(ids), atol=2e-2)


def test_bad_checkpoints_are_user_errors(tmp_path):
    with pytest.raises(MusicLLMError, match="no ABC language model"):
        load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(MusicLLMError, match="cannot read"):
        load_checkpoint(bad)


def test_recipe_trains_resumes_and_exports(tmp_path):
    from musicllm.training.abc_lm import train

    tunes = [encode_tune(JIG, shift=s) for s in range(-3, 4)]
    lines = [json.dumps({"id": f"t{i}", "split": "heldout" if i == 0 else "train", "shift": 0, "tokens": t})
             for i, t in enumerate(tunes)]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(lines) + "\n")
    cfg = {"seed": 0, "out_dir": str(tmp_path / "run"), "corpus_path": str(corpus), "ship_path": str(tmp_path / "s.pt"),
           "model": {"d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64, "max_len": 128, "dropout": 0.0},
           "seq_len": 64, "batch_size": 4, "lr": 0.01, "warmup_steps": 2, "max_steps": 6, "eval_every": 3,
           "threads": 1}
    first = train(cfg)
    assert first["steps"] == 6 and (tmp_path / "run" / "last.pt").is_file()
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["perplexity"] < log[0]["perplexity"] * 1.5
    again = train({**cfg, "max_steps": 8})  # resumes at step 6 with the saved schedule length
    assert again["steps"] == 6
    lm = load_checkpoint(tmp_path / "s.pt")
    assert lm.meta["training"]["heldout_tunes"] == 1
    ppl = heldout_perplexity(lm.module, lm.vocab, [tunes[0]])
    assert ppl["perplexity"] < len(lm.vocab)  # better than uniform after a few steps on the same tune


def test_vocab_slots():
    vocab = AbcVocab.build([encode_tune(JIG)])
    assert vocab.slot_tokens("M") == ["<M:6/8>"]
    assert "<T:?>" in vocab.index and "<origin:?>" in vocab.index


@pytest.mark.skipif(not shipped_checkpoint().is_file(), reason="shipped checkpoint not trained yet")
def test_shipped_checkpoint_generates_a_short_tune():
    from musicllm.generation.controls import Controls
    from musicllm.generation.symbolic import generate
    from musicllm.score.model import Key, Meter

    assert shipped_checkpoint().stat().st_size <= 20 * 1024 * 1024
    lm = load_checkpoint()
    (g,) = generate(Controls(meter=Meter(6, 8), key=Key("D", "major"), length_bars=4), seed=3, model=lm)
    assert "M:6/8" in g.abc and "K:D" in g.abc
    assert g.score.parts[0].notes
