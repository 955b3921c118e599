"""``musicllm data build`` / ``data stats`` through typer's CliRunner on a local app built with ``register()``."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from musicllm.apps.data_commands import register

GOOD = """X:1
T:Little Jig
R:jig
M:6/8
L:1/8
Q:3/8=96
K:D
|:DFA dAF|GBd gdB|AFD EFG|FDD D3:|

X:2
T:Little Reel
M:4/4
L:1/8
K:Em
|:EBBA B2 EB|B2 AB dBAG|FAAG A2 FA|dAFA dEED:|
"""
BAD = """X:3
T:Changing Meter
M:2/4
L:1/8
K:C
CDEF|GABc|
M:3/4
cBAGFE|
"""


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    eval_app = typer.Typer()
    app.add_typer(eval_app, name="eval")
    register(app, eval_app)
    return app


def run(app: typer.Typer, *args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def corpus(tmp_path: Path, *texts: str) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i, text in enumerate(texts):
        (folder / f"tunes{i}.abc").write_text(text)
    return folder


def build_args(folder: Path, out: Path, *extra: str) -> list[str]:
    return ["data", "build", "--corpus", str(folder), "--out", str(out), "--workers", "1", "--max-seconds", "5",
            "--no-progress", "--seed", "3", *extra]


def one_error_line(res) -> str:
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musicllm: error: "), res.stderr
    return lines[0]


def test_build_report_stats_and_rerun(app, tmp_path):
    folder, out = corpus(tmp_path, GOOD, BAD), tmp_path / "ds"
    res = run(app, *build_args(folder, out, "--renderings", "2"))
    assert res.exit_code == 1, res.output  # one piece failed, the dataset is still built
    assert "4 items built, 0 already there, 1 failed (3 pieces" in res.stdout
    assert "failures: meter changes 1" in res.stdout and "items/min" in res.stdout
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and {r["title"] for r in rows} == {"Little Jig", "Little Reel"}
    stats = run(app, "data", "stats", str(out))
    assert stats.exit_code == 0 and "4 items from 2 pieces" in stats.stdout
    assert "last run's failures: meter changes 1" in stats.stdout
    as_json = json.loads(run(app, "data", "stats", str(out), "--json").stdout)
    assert as_json["items"] == 4 and as_json["qa_pairs"] == sum(r["n_qa"] for r in rows)
    again = run(app, *build_args(folder, out, "--renderings", "2"))
    assert again.exit_code == 1 and "0 items built, 4 already there" in again.stdout
    assert (out / "manifest.jsonl").read_text().splitlines() == [json.dumps(r, ensure_ascii=False) for r in rows]


def test_clean_build_exits_0(app, tmp_path):
    folder, out = corpus(tmp_path, GOOD), tmp_path / "ds"
    res = run(app, *build_args(folder, out, "--limit", "1", "--families", "strings,reed", "--no-qa"))
    assert res.exit_code == 0, res.output
    row = json.loads((out / "manifest.jsonl").read_text())
    assert row["title"] == "Little Jig" and row["n_qa"] == 0
    assert all(p in (40, 41, 42, 43, 46, 48) or 64 <= p <= 71 for p in row["programs"])


def test_user_errors_are_one_line_with_exit_2(app, tmp_path):
    out = tmp_path / "ds"
    res = run(app, "data", "build", "--corpus", "music21:nope", "--out", str(out), "--no-progress")
    assert res.exit_code == 2 and "unknown music21 collection 'nope'" in one_error_line(res)
    folder = corpus(tmp_path, GOOD)
    res = run(app, *build_args(folder, out, "--engine", "spark"))
    assert res.exit_code == 2 and "unknown engine 'spark'" in one_error_line(res)
    res = run(app, *build_args(folder, out, "--transpose", "up"))
    assert res.exit_code == 2 and "--transpose" in one_error_line(res)
    res = run(app, "data", "stats", str(tmp_path / "missing"))
    assert res.exit_code == 2 and "no such folder" in one_error_line(res)
    res = run(app, "data", "stats", str(folder))
    assert res.exit_code == 2 and "no manifest.jsonl" in one_error_line(res)


def test_nothing_built_exits_2(app, tmp_path):
    folder = corpus(tmp_path, BAD)
    res = run(app, *build_args(folder, tmp_path / "ds"))
    assert res.exit_code == 2
    assert one_error_line(res) == "musicllm: error: nothing was built (failures: meter changes 1)"


def test_full_disk_exits_2_with_a_clear_message(app, tmp_path, monkeypatch):
    from musicllm.data import build as build_mod

    def full(out_dir, item):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(build_mod, "_write_item", full)
    out = tmp_path / "ds"
    res = run(app, *build_args(corpus(tmp_path, GOOD), out))
    assert res.exit_code == 2
    line = one_error_line(res)
    assert "disk full while writing items/" in line and "rerun the same command to resume" in line
    assert (out / "manifest.jsonl").read_text() == ""


def test_ray_engine_without_ray_names_the_install_command(app, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    res = run(app, *build_args(corpus(tmp_path, GOOD), tmp_path / "ds", "--engine", "ray"))
    assert res.exit_code == 2 and "pip install 'ray==2.60.0'" in one_error_line(res)
