"""`musicllm generate` and `musicllm eval generation` with a tiny random checkpoint."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from musicllm.apps.generate_commands import register, slugify
from musicllm.models.abc_lm import debug_model, save_checkpoint


@pytest.fixture(scope="module")
def cli():
    app = typer.Typer()
    eval_app = typer.Typer()
    app.add_typer(eval_app, name="eval")
    register(app, eval_app)
    return app


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    lm = debug_model(0)
    return save_checkpoint(tmp_path_factory.mktemp("m") / "tiny.pt", lm.module, lm.vocab, half=True)


def test_slugify():
    assert slugify("A lively jig in D, for fiddle!") == "a-lively-jig-in-d-for-fiddle"
    assert slugify("***") == "tune"


def test_generate_writes_four_files_per_tune(cli, ckpt, tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["generate", "a jig in D for fiddle, 2 bars", "-o", str(out), "--n", "2",
                                 "--seed", "1", "--model", str(ckpt)])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.iterdir())
    stem = "a-jig-in-d-for-fiddle-2-bars"
    assert names == sorted(f"{stem}_{i}.{ext}" for i in (1, 2) for ext in ("abc", "mid", "svg", "wav"))
    abc = (out / f"{stem}_1.abc").read_text()
    assert "M:6/8" in abc and "K:D" in abc and "%%MIDI program 40" in abc
    assert (out / f"{stem}_1.svg").read_text().lstrip().startswith(("<svg", "<?xml"))
    assert (out / f"{stem}_1.wav").read_bytes()[:4] == b"RIFF"


@pytest.mark.parametrize("prompt,needle", [("", "empty"), ("a jig in 3/4", "contradictory"),
                                           ("a tune in 7/8", "never saw the meter 7/8")])
def test_bad_prompts_exit_2_without_files(cli, ckpt, tmp_path, prompt, needle):
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["generate", prompt, "-o", str(out), "--model", str(ckpt)])
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("musicllm: error:") and needle in lines[0]
    assert not out.exists() or not any(out.iterdir())


def test_missing_model_is_a_user_error(cli, tmp_path):
    r = CliRunner().invoke(cli, ["generate", "a jig in D", "-o", str(tmp_path), "--model", str(tmp_path / "no.pt")])
    assert r.exit_code == 2 and "no ABC language model checkpoint" in r.output


def test_eval_generation_json(cli, ckpt, tmp_path):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a jig in D, 2 bars\na waltz in A minor, 2 bars\n")
    out = tmp_path / "report.json"
    r = CliRunner().invoke(cli, ["eval", "generation", "--prompts", str(prompts), "--n", "2", "--model", str(ckpt),
                                 "--json", "--no-music21", "-o", str(out)])
    assert r.exit_code == 0, r.output
    report = json.loads(out.read_text())
    assert report["n_tunes"] == 4 and report["parse_rate"] == 1.0
    assert report["meter_accuracy"] == 1.0 and report["key_accuracy"] == 1.0 and report["length_accuracy"] == 1.0
    r = CliRunner().invoke(cli, ["eval", "generation", "--prompts", str(tmp_path / "none.txt"), "--model", str(ckpt)])
    assert r.exit_code == 2
