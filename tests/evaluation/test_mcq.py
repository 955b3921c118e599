"""Multiple-choice scoring: both mappings on hand-labelled outputs, MuChoMusic's file format, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from musicllm.evaluation import mcq
from musicllm.evaluation.text import EvalInputError

OPTS = ["rock", "hard rock", "jazz", "classical"]

QUESTIONS = [
    {"id": "q1", "question": "Which instrument leads?", "options": ["piano", "violin", "flute", "drums"],
     "answer_index": 1, "knowledge": ["instrumentation"]},
    {"id": "q2", "question": "What is the tempo?", "options": ["slow", "fast", "medium", "varying"],
     "answer": "A", "knowledge": ["tempo"]},
    {"id": "q3", "question": "Which genre?", "options": OPTS, "answer": "hard rock", "reasoning": ["genre"]},
    {"id": "q4", "question": "What is the mood?", "options": ["happy", "sad", "angry", "calm"],
     "answer_index": 3, "reasoning": ["mood"]},
    {"id": "q5", "question": "Which key?", "options": ["C major", "A minor", "G major", "D minor"],
     "answer_index": 2, "knowledge": ["tonality"]},
    {"id": "q6", "question": "Which metre?", "options": ["3/4", "4/4", "6/8", "5/4"], "answer_index": 1,
     "knowledge": ["tempo"]},
]
# Hand-labelled: (output, MuChoMusic's mapping, strict mapping) as letters, None = unmapped.
PREDICTIONS = [
    ("B", "B", "B"),
    ("The correct answer is: (A) slow", "A", "A"),
    ("hard rock", "A", "B"),                   # MuChoMusic takes the first contained option ("rock")
    ("A calm, peaceful mood", "A", "D"),       # MuChoMusic reads the article "A" as a letter
    ("I think it is in G major or maybe D minor", "D", None),  # strict: two options named
    ("Answer: B", None, "B"),                  # MuChoMusic sees the letters A and B
]


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def letter(i):
    return None if i is None else mcq.LETTERS[i]


@pytest.mark.parametrize("q, p", list(zip(QUESTIONS, PREDICTIONS, strict=True)))
def test_both_mappings_on_hand_labelled_outputs(q, p):
    output, expected_mucho, expected_strict = p
    assert letter(mcq.map_muchomusic(output, q["options"])) == expected_mucho
    assert letter(mcq.map_strict(output, q["options"])) == expected_strict


@pytest.mark.parametrize("output, expected", [
    ("(C)", "C"), ("C.", "C"), ("C) jazz", "C"), ("[C]", "C"), ("C: jazz", "C"), ("C jazz", "C"),
    ("Option C", "C"), ("The answer is C.", "C"), ("I would pick (C) here", "C"),
    ("The correct answer is: C", "C"), ("It is classical music.", "D"),
    ("C is wrong", None), ("(A) rock (B) hard rock (C) jazz (D) classical", None), ("", None),
    ("(E)", None), ("rock or jazz", None),
])
def test_strict_mapping(output, expected):
    assert letter(mcq.map_strict(output, OPTS)) == expected


def test_muchomusic_mapping_rules():
    assert mcq.map_muchomusic("Question echo... The correct answer is: (D)", OPTS) == 3  # after the prefix
    assert mcq.map_muchomusic("jazz, definitely", OPTS) == 2
    assert mcq.map_muchomusic("Jazz", OPTS) == 2                      # case-insensitive text fallback
    assert mcq.map_muchomusic("JAZZ", OPTS) == 0                      # ...but the capital A is a letter
    assert mcq.map_muchomusic("no idea", OPTS) is None
    assert mcq.map_muchomusic("B", ["yes", "no"]) == 1                 # letters follow the option count
    assert mcq.map_muchomusic("C", ["yes", "no"]) is None


def test_evaluate_files_counts_by_hand(tmp_path):
    qs = write_jsonl(tmp_path / "q.jsonl", QUESTIONS)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": q["id"], "prediction": p[0]}
                                                for q, p in reversed(list(zip(QUESTIONS, PREDICTIONS, strict=True)))])
    report = mcq.evaluate_files(qs, preds)
    assert report["pairing"] == "id" and report["n_questions"] == 6
    assert report["chance_accuracy"] == pytest.approx(0.25)
    m = report["metrics"]
    assert m["accuracy_muchomusic"] == pytest.approx(2 / 6) and m["unmapped_rate_muchomusic"] == pytest.approx(1 / 6)
    assert m["accuracy_strict"] == pytest.approx(5 / 6) and m["unmapped_rate_strict"] == pytest.approx(1 / 6)
    assert report["by_mapping"]["strict"]["accuracy_of_mapped"] == pytest.approx(5 / 5)
    assert [it["strict"] for it in report["items"]] == [p[2] for p in PREDICTIONS]
    assert [it["answer"] for it in report["items"]] == ["B", "A", "B", "D", "C", "B"]
    tempo = report["by_category"]["strict"]["knowledge: tempo"]
    assert tempo["n_questions"] == 2 and tempo["accuracy"] == pytest.approx(1.0)
    assert report["by_category"]["muchomusic"]["knowledge: tempo"]["accuracy"] == pytest.approx(0.5)
    text = mcq.format_report(report)
    assert "muchomusic" in text and "strict" in text and "knowledge: tempo" in text
    json.dumps(report)


def test_muchomusic_prepared_prompt_file_with_embedded_outputs(tmp_path):
    # MuChoMusic's prepare_prompts.py output: shuffled options in "answers"; the correct answer is the
    # one whose original index (answer_orders) is 0; evaluate.py reads model_output from the same file.
    records = [
        {"id": "abc", "prompt": "Question: Which genre?\n Options: (A) jazz (B) rock (C) pop (D) folk \n "
                                "The correct answer is: ",
         "answers": ["jazz", "rock", "pop", "folk"], "answer_orders": [2, 0, 1, 3], "model_output": "(B) rock",
         "dataset": "sdd", "genre": "Rock", "reasoning": [], "knowledge": ["genre"]},
        {"id": "abc", "prompt": "...", "answers": ["slow", "fast"], "answer_orders": [1, 0],
         "model_output": "slow", "genre": "Rock", "reasoning": ["tempo"], "knowledge": []},
    ]
    path = tmp_path / "example_file.json"
    path.write_text(json.dumps(records))
    report = mcq.evaluate_files(path)
    assert report["pairing"] == "embedded model_output"
    assert [it["answer"] for it in report["items"]] == ["B", "B"]
    assert report["metrics"]["accuracy_muchomusic"] == pytest.approx(0.5)
    assert report["by_category"]["muchomusic"]["genre: Rock"]["n_questions"] == 2
    assert "reasoning: tempo" in report["by_category"]["strict"]


def test_predictions_by_line_order(tmp_path):
    qs = write_jsonl(tmp_path / "q.jsonl", QUESTIONS[:2])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"output": "B"}, {"output": "fast"}])
    report = mcq.evaluate_files(qs, preds)
    assert report["pairing"] == "line order"
    assert report["metrics"]["accuracy_strict"] == pytest.approx(0.5)


@pytest.mark.parametrize("question, message", [
    ({"id": 1, "options": ["a", "b"], "answer_index": 2}, "answer_index must be an integer from 0 to 1"),
    ({"id": 1, "options": ["a", "b"], "answer_index": True}, "answer_index must be an integer"),
    ({"id": 1, "options": ["a"], "answer_index": 0}, "at least 2 non-empty strings"),
    ({"id": 1, "options": "a b", "answer_index": 0}, "at least 2 non-empty strings"),
    ({"id": 1, "question": "?", "answer_index": 0}, "no \"options\""),
    ({"id": 1, "options": ["a", "b"]}, "no answer_index"),
    ({"id": 1, "options": ["a", "b"], "answer": "E"}, "neither a letter A-B nor the text of an option"),
    ({"id": 1, "answers": ["a", "b"], "answer_orders": [0, 0]}, "permutation"),
    ({"id": 1, "options": ["a", "b"], "answer_index": 0, "knowledge": 3}, "\"knowledge\" must be"),
])
def test_bad_questions(tmp_path, question, message):
    qs = write_jsonl(tmp_path / "q.jsonl", [question])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": 1, "prediction": "A"}])
    with pytest.raises(EvalInputError) as info:
        mcq.evaluate_files(qs, preds)
    assert message in str(info.value) and "q.jsonl:1" in str(info.value)


def test_bad_predictions_and_pairing(tmp_path):
    qs = write_jsonl(tmp_path / "q.jsonl", QUESTIONS[:2])
    with pytest.raises(EvalInputError, match="no \"model_output\" in 2 question"):
        mcq.evaluate_files(qs)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "q1", "prediction": "A"}])
    with pytest.raises(EvalInputError, match="1 question id\\(s\\) have no prediction"):
        mcq.evaluate_files(qs, preds)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "q1", "answer_text": "A"}, {"id": "q2", "prediction": "A"}])
    with pytest.raises(EvalInputError, match="p.jsonl:1: prediction record has no text field"):
        mcq.evaluate_files(qs, preds)
    with pytest.raises(EvalInputError, match="predictions file not found"):
        mcq.evaluate_files(qs, tmp_path / "missing.jsonl")
    with pytest.raises(EvalInputError, match="no questions"):
        mcq.evaluate([], [])
