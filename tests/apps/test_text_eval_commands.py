"""`eval text` and `eval mcq` through typer's CliRunner on a local app built by ``register()``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from musicllm.apps.text_eval_commands import register
from musicllm.evaluation.text import METRIC_KEYS
from musicllm.evaluation.wordnet_data import is_available


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    root = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    eval_app = typer.Typer(add_completion=False)
    root.add_typer(eval_app, name="eval")
    register(root, eval_app)
    return root


def run(app, *args):
    return CliRunner().invoke(app, ["eval", *map(str, args)])


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


@pytest.fixture
def text_files(tmp_path):
    refs = write_jsonl(tmp_path / "refs.jsonl", [
        {"id": "a", "text": "a calm piano piece in c major"},
        {"id": "b", "references": ["loud rock drums", "a heavy rock song"]},
    ])
    hyps = write_jsonl(tmp_path / "hyps.jsonl", [
        {"id": "b", "prediction": "heavy rock drums"},
        {"id": "a", "prediction": "a gentle piano piece in c major"},
    ])
    return refs, hyps


def test_eval_text_prints_every_variant_labelled(app, text_files, tmp_path):
    pytest.importorskip("bert_score")
    refs, hyps = text_files
    out = tmp_path / "report.json"
    meteor = [] if is_available() else ["--no-meteor"]
    result = run(app, "text", "--refs", refs, "--hyps", hyps, "-o", out, *meteor)
    assert result.exit_code == 0, result.output
    shown = set(METRIC_KEYS) - (set() if is_available() else {"meteor_nltk"})
    for key in shown:
        assert key in result.stdout
    assert "sentence-transformers/all-MiniLM-L6-v2" in result.stdout and "paired by id" in result.stdout
    saved = json.loads(out.read_text())
    assert set(saved["metrics"]) == shown and saved["bertscore"]["layer"] == 6


def test_eval_text_json_without_bertscore(app, text_files):
    refs, hyps = text_files
    result = run(app, "text", "--refs", refs, "--hyps", hyps, "--json", "--no-bertscore", "--no-meteor")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_items"] == 2 and report["n_references"] == 3 and report["bertscore"] is None
    assert "bertscore_f1" not in report["metrics"] and 0 < report["metrics"]["rouge_l_f"] <= 1


@pytest.mark.parametrize("hyp_lines, message", [
    (None, "hypotheses file not found"),
    (['{"id": "a", "prediction": "x"}', "{oops"], "hyps.jsonl:2: invalid JSON"),
    ([{"id": "a", "prediction": "x"}, {"id": "zz", "prediction": "y"}], "do not match"),
    ([], "no records"),
])
def test_eval_text_bad_input_is_one_line_exit_2(app, text_files, hyp_lines, message):
    refs, hyps = text_files
    if hyp_lines is None:
        hyps.unlink()
    else:
        write_jsonl(hyps, hyp_lines)
    result = run(app, "text", "--refs", refs, "--hyps", hyps, "--no-bertscore", "--no-meteor")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musicllm: error: ") and message in lines[0]
    assert "Traceback" not in result.output and result.stdout == ""


def test_eval_mcq_text_and_json(app, tmp_path):
    qs = write_jsonl(tmp_path / "q.jsonl", [
        {"id": 1, "question": "Genre?", "options": ["rock", "jazz", "pop", "folk"], "answer_index": 1},
        {"id": 2, "question": "Tempo?", "options": ["slow", "fast", "medium", "varying"], "answer_index": 0},
    ])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": 1, "prediction": "(B) jazz"},
                                               {"id": 2, "prediction": "A medium tempo"}])
    result = run(app, "mcq", "--questions", qs, "--predictions", preds)
    assert result.exit_code == 0, result.output
    assert "muchomusic" in result.stdout and "strict" in result.stdout
    result = run(app, "mcq", "--questions", qs, "--predictions", preds, "--json")
    report = json.loads(result.stdout)
    # "A medium tempo": MuChoMusic reads the article as letter A (correct by luck); strict finds "medium"
    assert report["metrics"]["accuracy_muchomusic"] == 1.0 and report["metrics"]["accuracy_strict"] == 0.5


def test_eval_mcq_bad_input_is_one_line_exit_2(app, tmp_path):
    qs = write_jsonl(tmp_path / "q.jsonl", [{"id": 1, "options": ["a", "b"], "answer_index": 5}])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": 1, "prediction": "A"}])
    for args in (["--questions", qs, "--predictions", preds], ["--questions", tmp_path / "none.jsonl"]):
        result = run(app, "mcq", *args)
        assert result.exit_code == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("musicllm: error: ")
    out_dir = tmp_path / "folder"
    out_dir.mkdir()
    good = write_jsonl(tmp_path / "q2.jsonl", [{"id": 1, "options": ["a", "b"], "answer_index": 0}])
    result = run(app, "mcq", "--questions", good, "--predictions", preds, "-o", out_dir)
    assert result.exit_code == 2 and "is a folder" in result.stderr
