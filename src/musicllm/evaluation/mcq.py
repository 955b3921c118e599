"""Multiple-choice question scoring in MuChoMusic's format.

A model is shown a question and lettered options ``(A) ... (B) ... (C) ... (D) ...`` and answers in
free text; a *mapping* turns the text into an option index, or ``None`` ("unmapped"). Accuracy counts
unmapped outputs as wrong (MuChoMusic's convention); the unmapped rate is reported beside it. Both
mappings are always computed and reported, labelled:

- ``muchomusic``: a reproduction of MuChoMusic's ``extract_responses`` (``muchomusic_eval/scoring.py``):
  keep the text after the last ``"The correct answer is:"``; if exactly one of the option letters
  occurs *anywhere in it as a character* (so the capital A of "A piano ballad" counts), that letter;
  otherwise the first option (in shown order) whose lowercased, stripped text is a substring of the
  lowercased output; otherwise unmapped. Letters are the first ``len(options)`` of A, B, C, ... (A-D
  for MuChoMusic's four options). Use it to compare with published MuChoMusic numbers.
- ``strict``: a stricter reading meant for our own models: a leading label (``B``, ``(B)``, ``B)``,
  ``B.``, ``B:``, or ``B <option B's text>``) unless other letters appear as ``(X)`` (an echo of the
  options), else exactly one letter named as ``(B)`` or after "answer"/"option"/"choice" (capital
  letters only), else exactly one option text found on word
  boundaries (case and punctuation ignored; an option contained in another found option is dropped,
  so "hard rock" beats "rock"); otherwise unmapped.

Input files (JSONL, or one JSON array):

- questions: ``{"id", "question", "options": [...], "answer_index": int}`` (0-based; or ``"answer"``
  as a letter or as the exact text of an option). MuChoMusic's prepared-prompt records are read too:
  ``{"id", "prompt", "answers": [shown options], "answer_orders": [...], "model_output"?}`` where the
  correct option is the one at ``answer_orders.index(0)``. Optional ``knowledge`` / ``reasoning``
  (lists of category names) and ``genre`` give per-category accuracies.
- predictions: ``{"id", "prediction"}`` (or ``model_output`` / ``output`` / ``response`` / ``text``),
  paired with the questions as :func:`musicllm.evaluation.text.pair_records` says (by id, or by line
  order when the predictions have no ids). When no predictions file is given, each question record
  must carry its own ``model_output`` (MuChoMusic's evaluate.py input).
"""

from __future__ import annotations

import ast
import os
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from musicllm.evaluation.text import EvalInputError, Record, pair_records, read_records

LETTERS = string.ascii_uppercase
MUCHOMUSIC_PREFIX = "The correct answer is:"
PREDICTION_KEYS = ("prediction", "model_output", "output", "response", "text")
CATEGORY_KEYS = ("knowledge", "reasoning", "genre")

DEFINITIONS = {
    "muchomusic": "MuChoMusic's extract_responses: one option letter anywhere in the text, else first "
                  "option text contained in it",
    "strict": "leading label or '(B)' / 'answer B', else exactly one option text on word boundaries",
}


@dataclass(frozen=True)
class Question:
    """One multiple-choice question; ``options`` are in the order shown to the model (A, B, ...)."""

    id: str
    question: str
    options: tuple[str, ...]
    answer_index: int
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    model_output: str | None = None

    @property
    def answer_letter(self) -> str:
        return LETTERS[self.answer_index]


# --------------------------------------------------------------------------------------------------
# Mapping a free-text output to an option


def _after_prefix(output: str, prefix: str | None) -> str:
    return output.split(prefix)[-1].strip() if prefix else output.strip()


def map_muchomusic(output: str, options: Sequence[str], prefix: str | None = MUCHOMUSIC_PREFIX) -> int | None:
    """MuChoMusic's mapping (module docstring): option index, or ``None`` when unmapped."""
    text = _after_prefix(output, prefix)
    letters = LETTERS[:len(options)]
    found = set(letters).intersection(text)
    if len(found) == 1:
        return letters.index(found.pop())
    lowered = text.lower().strip()
    for i, option in enumerate(options):
        if option.lower().strip() in lowered:
            return i
    return None


def _norm(text: str) -> str:
    table = str.maketrans({c: " " for c in string.punctuation})
    return " ".join(text.lower().translate(table).split())


_WHOLE = re.compile(r"^[(\[]?([A-Z])[)\]]?[.:]?$")
_BRACKETED_START = re.compile(r"^[(\[]([A-Z])[)\]]")
_LABEL_START = re.compile(r"^([A-Z])[).:](?:\s|$)")
_LETTER_SPACE = re.compile(r"^([A-Z])\s+(.+)$", re.S)
_BRACKETED = re.compile(r"[(\[]([A-Z])[)\]]")
_NAMED = re.compile(r"\b(?:[Aa]nswer|[Oo]ption|[Cc]hoice)(?:\s+(?:is|would\s+be))?\s*:?\s*[(\[]?([A-Z])(?![A-Za-z0-9])")


def map_strict(output: str, options: Sequence[str], prefix: str | None = MUCHOMUSIC_PREFIX) -> int | None:
    """The stricter mapping (module docstring): option index, or ``None`` when unmapped."""
    text = _after_prefix(output, prefix)
    n = len(options)

    def index(letter: str) -> int | None:
        i = LETTERS.index(letter)
        return i if i < n else None

    bracketed = set(_BRACKETED.findall(text))  # several "(X)" labels: an echo of the options, no answer
    for pattern in (_WHOLE, _BRACKETED_START, _LABEL_START):
        m = pattern.match(text)
        if m and index(m.group(1)) is not None and bracketed <= {m.group(1)}:
            return index(m.group(1))
    m = _LETTER_SPACE.match(text)
    if m and bracketed <= {m.group(1)}:
        i = index(m.group(1))
        if i is not None and _norm(m.group(2)).startswith(_norm(options[i])):
            return i
    named = {index(x) for x in [*bracketed, *_NAMED.findall(text)]} - {None}
    if len(named) == 1:
        return named.pop()
    padded = f" {_norm(text)} "
    hits = [i for i, o in enumerate(options) if _norm(o) and f" {_norm(o)} " in padded]
    hits = [i for i in hits if not any(j != i and _norm(options[i]) in _norm(options[j]) for j in hits)]
    return hits[0] if len(hits) == 1 else None


MAPPINGS: dict[str, Callable[..., int | None]] = {"muchomusic": map_muchomusic, "strict": map_strict}


# --------------------------------------------------------------------------------------------------
# Reading questions and predictions


def _categories(rec: Record, path: str | os.PathLike) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for key in CATEGORY_KEYS:
        value = rec.data.get(key)
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                value = ast.literal_eval(value)  # MuChoMusic's CSV stores lists as Python literals
            except (ValueError, SyntaxError):
                pass
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise EvalInputError(f"{path}:{rec.line}: \"{key}\" must be a string or a list of strings")
        if value:
            out[key] = tuple(value)
    return out


def question_from_record(rec: Record, path: str | os.PathLike, number: int) -> Question:
    """Build a :class:`Question` from one record of a questions file (module docstring formats)."""
    d = rec.data
    where = f"{path}:{rec.line}"
    if "options" in d:
        options = d["options"]
    elif "answers" in d:
        options = d["answers"]
    else:
        raise EvalInputError(f"{where}: question has no \"options\" (or MuChoMusic \"answers\") list")
    if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) and o.strip() for o in options):
        raise EvalInputError(f"{where}: options must be a list of at least 2 non-empty strings")
    if len(options) > len(LETTERS):
        raise EvalInputError(f"{where}: {len(options)} options; at most {len(LETTERS)} (A-Z) are supported")
    if "answer_index" in d:
        idx = d["answer_index"]
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < len(options):
            raise EvalInputError(f"{where}: answer_index must be an integer from 0 to {len(options) - 1}, got {idx!r}")
    elif "answer_orders" in d:
        orders = d["answer_orders"]
        if not isinstance(orders, list) or sorted(orders) != list(range(len(options))):
            raise EvalInputError(f"{where}: answer_orders must be a permutation of 0..{len(options) - 1}")
        idx = orders.index(0)
    elif isinstance(d.get("answer"), str):
        ans = d["answer"].strip()
        letters = LETTERS[:len(options)]
        m = re.fullmatch(r"[(\[]?([A-Z])[)\]]?", ans)
        if m and m.group(1) in letters:
            idx = letters.index(m.group(1))
        elif ans in options:
            idx = options.index(ans)
        else:
            raise EvalInputError(f"{where}: answer {ans!r} is neither a letter {letters[0]}-{letters[-1]} "
                                 "nor the text of an option")
    else:
        raise EvalInputError(f"{where}: question has no answer_index (or answer, or MuChoMusic answer_orders)")
    question = d.get("question", d.get("prompt", ""))
    output = d.get("model_output")
    if output is not None and not isinstance(output, str):
        raise EvalInputError(f"{where}: model_output must be a string")
    qid = d.get("id")
    return Question(id=str(qid) if qid is not None else str(number), question=str(question),
                    options=tuple(options), answer_index=idx, categories=_categories(rec, path),
                    model_output=output)


def load_questions(path: str | os.PathLike) -> list[Question]:
    """Read a questions file (JSONL or JSON array); see the module docstring for the fields."""
    return [question_from_record(r, path, n) for n, r in enumerate(read_records(path, "questions"), start=1)]


def load_pairs(questions_path: str | os.PathLike, predictions_path: str | os.PathLike | None = None,
               ) -> tuple[list[Question], list[str], str]:
    """``(questions, predictions, pairing)`` from the files; see the module docstring."""
    q_records = read_records(questions_path, "questions")
    if predictions_path is None:
        embedded = [question_from_record(r, questions_path, n) for n, r in enumerate(q_records, start=1)]
        lacking = [q_records[i] for i, q in enumerate(embedded) if q.model_output is None]
        if lacking:
            raise EvalInputError(f"{questions_path}:{lacking[0].line}: no \"model_output\" in {len(lacking)} "
                                 "question(s); give a predictions file")
        return embedded, [q.model_output or "" for q in embedded], "embedded model_output"
    p_records = read_records(predictions_path, "predictions")
    pairs, pairing = pair_records(q_records, p_records, questions_path, predictions_path,
                                   "question", "prediction")
    questions: list[Question] = []
    predictions: list[str] = []
    for n, (qr, pr) in enumerate(pairs, start=1):
        questions.append(question_from_record(qr, questions_path, n))
        key = next((k for k in PREDICTION_KEYS if k in pr.data), None)
        if key is None:
            raise EvalInputError(f"{predictions_path}:{pr.line}: prediction record has no text field "
                                 f"(expected one of {', '.join(PREDICTION_KEYS)})")
        if not isinstance(pr.data[key], str):
            raise EvalInputError(f"{predictions_path}:{pr.line}: \"{key}\" must be a string")
        predictions.append(pr.data[key])
    return questions, predictions, pairing


# --------------------------------------------------------------------------------------------------
# Scoring


def _summary(correct: list[bool], mapped: list[bool]) -> dict[str, float | int]:
    n = len(correct)
    n_mapped = sum(mapped)
    n_correct = sum(correct)
    return {"accuracy": n_correct / n if n else 0.0, "unmapped_rate": (n - n_mapped) / n if n else 0.0,
            "accuracy_of_mapped": n_correct / n_mapped if n_mapped else 0.0,
            "n_correct": n_correct, "n_unmapped": n - n_mapped, "n_questions": n}


def evaluate(questions: Sequence[Question], predictions: Sequence[str],
             prefix: str | None = MUCHOMUSIC_PREFIX) -> dict[str, Any]:
    """Score predictions against questions with every mapping. Returns a JSON-ready dict::

        {"n_questions": int, "chance_accuracy": float,      # mean of 1/len(options)
         "metrics": {"accuracy_muchomusic", "unmapped_rate_muchomusic", "accuracy_strict", ...},
         "by_mapping": {name: {"accuracy", "unmapped_rate", "accuracy_of_mapped", "n_correct",
                               "n_unmapped", "n_questions"}},
         "by_category": {name: {"knowledge: <cat>" | "reasoning: <cat>" | "genre: <g>": summary}},
         "definitions": {name: str},
         "items": [{"id", "answer": letter, "<mapping>": letter | None}, ...]}
    """
    if len(questions) != len(predictions):
        raise EvalInputError(f"{len(questions)} question(s) but {len(predictions)} prediction(s)")
    if not questions:
        raise EvalInputError("nothing to evaluate: no questions")
    mapped_idx = {name: [fn(p, q.options, prefix) for q, p in zip(questions, predictions, strict=True)]
                  for name, fn in MAPPINGS.items()}
    by_mapping: dict[str, Any] = {}
    by_category: dict[str, Any] = {}
    for name, idxs in mapped_idx.items():
        correct = [i == q.answer_index for q, i in zip(questions, idxs, strict=True)]
        mapped = [i is not None for i in idxs]
        by_mapping[name] = _summary(correct, mapped)
        groups: dict[str, list[int]] = {}
        for k, q in enumerate(questions):
            for key, cats in q.categories.items():
                for c in dict.fromkeys(cats):
                    groups.setdefault(f"{key}: {c}", []).append(k)
        if groups:
            by_category[name] = {g: _summary([correct[k] for k in ks], [mapped[k] for k in ks])
                                 for g, ks in sorted(groups.items())}
    metrics: dict[str, float] = {}
    for name, s in by_mapping.items():
        metrics[f"accuracy_{name}"] = float(s["accuracy"])
        metrics[f"unmapped_rate_{name}"] = float(s["unmapped_rate"])
    items = [{"id": q.id, "answer": q.answer_letter,
              **{name: (LETTERS[idxs[k]] if idxs[k] is not None else None) for name, idxs in mapped_idx.items()}}
             for k, q in enumerate(questions)]
    return {
        "n_questions": len(questions),
        "chance_accuracy": sum(1.0 / len(q.options) for q in questions) / len(questions),
        "metrics": metrics,
        "by_mapping": by_mapping,
        "by_category": by_category,
        "definitions": dict(DEFINITIONS),
        "items": items,
    }


def evaluate_files(questions_path: str | os.PathLike, predictions_path: str | os.PathLike | None = None,
                   ) -> dict[str, Any]:
    """:func:`evaluate` on files (:func:`load_pairs`); adds ``pairing`` and ``files``."""
    questions, predictions, pairing = load_pairs(questions_path, predictions_path)
    report = evaluate(questions, predictions)
    report["pairing"] = pairing
    report["files"] = {"questions": str(questions_path),
                       "predictions": str(predictions_path) if predictions_path is not None else None}
    return report


def format_report(report: dict[str, Any]) -> str:
    """Plain-text report: accuracy and unmapped rate per mapping, then per-category accuracies."""
    head = f"{report['n_questions']} question(s), chance accuracy {report['chance_accuracy']:.3f}"
    if report.get("pairing"):
        head += f", paired by {report['pairing']}"
    lines = [head, f"{'mapping':<11} {'accuracy':>8} {'unmapped':>8}  definition"]
    for name, s in report["by_mapping"].items():
        lines.append(f"{name:<11} {s['accuracy']:>8.4f} {s['unmapped_rate']:>8.4f}  "
                     f"{report['definitions'].get(name, '')}")
    cats = report.get("by_category") or {}
    if cats:
        names = list(cats)
        groups = list(next(iter(cats.values())))
        width = max(len(g) for g in groups)
        lines.append("accuracy by category: " + " / ".join(names))
        for g in groups:
            n = cats[names[0]][g]["n_questions"]
            vals = "  ".join(f"{cats[m][g]['accuracy']:.4f}" for m in names)
            lines.append(f"  {g:<{width}}  {vals}  (n={n})")
    return "\n".join(lines)


__all__ = [
    "DEFINITIONS", "LETTERS", "MAPPINGS", "MUCHOMUSIC_PREFIX", "Question", "evaluate", "evaluate_files",
    "format_report", "load_pairs", "load_questions", "map_muchomusic", "map_strict", "question_from_record",
]
