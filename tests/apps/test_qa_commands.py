"""``make-qa`` through typer's CliRunner on a local app built with ``register()``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from musicllm.analysis.facts import Measured, MusicFacts, Tag
from musicllm.apps.qa_commands import register
from musicllm.data.qa import SPLITS, read_musiccaps

MUSICCAPS = Path(__file__).parents[1] / "data" / "fixtures" / "musiccaps_sample.csv"


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    eval_app = typer.Typer()
    app.add_typer(eval_app, name="eval")
    register(app, eval_app)
    return app


def run(app: typer.Typer, *args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def read_split(out: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]


def test_make_qa_from_captions(app, tmp_path):
    out = tmp_path / "qa"
    res = run(app, "make-qa", "--captions", str(MUSICCAPS), "-o", str(out), "--seed", "0")
    assert res.exit_code == 0, res.output
    records = {name: read_split(out, name) for name in SPLITS}
    all_recs = [r for rs in records.values() for r in rs]
    assert {r["audio"] for r in all_recs} == {it.audio for it in read_musiccaps(MUSICCAPS)}
    for name, rs in records.items():
        assert f"{name}: {len(rs)} records" in res.stdout
    homes = {r["audio"]: name for name, rs in records.items() for r in rs}
    assert all(homes[r["audio"]] == name for name, rs in records.items() for r in rs)
    assert f"-> {len(all_recs)} pairs" in res.stdout and "describe 5" in res.stdout
    again = tmp_path / "again"
    run(app, "make-qa", "--captions", str(MUSICCAPS), "-o", str(again), "--seed", "0")
    assert all((out / f"{n}.jsonl").read_bytes() == (again / f"{n}.jsonl").read_bytes() for n in SPLITS)


def test_make_qa_from_facts_and_tags(app, tmp_path):
    facts = MusicFacts(duration_s=30.0, tempo_qpm=Measured(90.0, 0.9), beat_bpm=Measured(90.0, 0.9),
                       meter=Measured("4/4", 0.8), key=Measured("D minor", 0.7),
                       instruments=[Tag("cello", 0.8)], source="cello.wav")
    (tmp_path / "facts").mkdir()
    (tmp_path / "facts" / "cello.json").write_text(facts.to_json())
    tags = tmp_path / "tags.jsonl"
    tags.write_text(json.dumps({"audio": "clip.mp3", "tags": ["violin", "slow"]}) + "\n")
    out = tmp_path / "qa"
    res = run(app, "make-qa", "--facts", str(tmp_path / "facts"), "--tags", str(tags), "-o", str(out),
              "--split", "0,0,1")
    assert res.exit_code == 0, res.output
    test = read_split(out, "test")
    assert read_split(out, "train") == [] and read_split(out, "valid") == []
    assert {r["source"] for r in test} == {"facts", "tags"}
    assert any(r["task"] == "key" and "D minor" in r["answer"] for r in test)


@pytest.mark.parametrize("args, message", [
    ([], "give at least one of"),
    (["--captions", "missing.csv"], "missing.csv: no such file"),
    (["--captions", str(MUSICCAPS), "--split", "0.5,0.5"], "--split"),
    (["--captions", str(MUSICCAPS), "--limit", "0"], "--limit"),
    (["--tags", str(MUSICCAPS)], "expected JSONL"),
    (["--captions", str(MUSICCAPS), "--llm", "no-such-backend:"], ""),
    (["--captions", str(MUSICCAPS), "--llm", "builtin"], ""),  # no LLM, or no backends at all
])
def test_user_errors_are_one_line_exit_2(app, tmp_path, args, message):
    out = tmp_path / "qa"
    res = run(app, "make-qa", *args, "-o", str(out))
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musicllm: error: ") and message in lines[0]
    assert not out.exists()


def test_output_path_that_is_a_file(app, tmp_path):
    target = tmp_path / "taken"
    target.write_text("x")
    res = run(app, "make-qa", "--captions", str(MUSICCAPS), "-o", str(target))
    assert res.exit_code == 2 and "not a folder" in res.stderr and target.read_text() == "x"
