"""`musicllm edit` and `musicllm controls` through typer's CliRunner on a local app built by ``register()``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from musicllm.apps.edit_commands import register
from musicllm.score.abc import read_abc_file, read_abc_with_warnings
from musicllm.score.io import read_score
from musicllm.score.model import Key, Meter

TUNE = """X:1
T:Scale
M:4/4
L:1/8
Q:1/4=120
K:D
DEFG ABcd | d2 c2 B2 A2 | FAdA FAdA | d8 |]
"""


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    root = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    eval_app = typer.Typer(add_completion=False)
    root.add_typer(eval_app, name="eval")
    register(root, eval_app)
    return root


def run(app, *args):
    return CliRunner().invoke(app, [str(a) for a in args])


def error_lines(result) -> list[str]:
    return [ln for ln in result.stderr.splitlines() if ln.startswith("musicllm: error:")]


@pytest.fixture
def tune(tmp_path) -> Path:
    p = tmp_path / "scale.abc"
    p.write_text(TUNE)
    return p


def test_edit_abc_to_abc_with_key_and_tempo(app, tune, tmp_path):
    out = tmp_path / "out"
    result = run(app, "edit", tune, "slower and in G minor", "-o", out, "--format", "abc,mid,json")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["scale.abc", "scale.json", "scale.mid"]
    edited = read_abc_file(out / "scale.abc")
    assert edited.key == Key("G", "minor") and edited.tempo_qpm == 100
    assert [n.pitch for n in edited.parts[0].notes][:8] == [67, 69, 70, 72, 74, 75, 77, 79]
    assert "K:Gm" in (out / "scale.abc").read_text() and "Q:1/4=100" in (out / "scale.abc").read_text()
    midi = read_score(out / "scale.mid")
    assert round(midi.tempo_qpm) == 100 and midi.parts[0].notes[-1].offset_s == pytest.approx(16 * 0.6, abs=0.01)
    assert json.loads((out / "scale.json").read_text())["key"] == "G minor"
    assert "key D major -> G minor" in result.stdout and "tempo 120 -> 100 qpm" in result.stdout


def test_edit_meter_writes_bars_that_add_up(app, tune, tmp_path):
    out = tmp_path / "out"
    result = run(app, "edit", tune, "in 2/4 and twice as long", "-o", out, "-f", "abc")
    assert result.exit_code == 0, result.output
    score, warnings = read_abc_with_warnings((out / "scale.abc").read_text())
    assert score.meter == Meter(2, 4) and warnings == []
    assert len(score.parts[0].notes) == 42


def test_edit_audio_is_transcribed_first(app, tmp_path):
    sf = pytest.importorskip("soundfile")
    sr = 22050
    t = np.arange(int(0.4 * sr)) / sr
    env = np.minimum(1, (0.4 - t) * 20) * np.minimum(1, t * 100)
    melody = [62, 66, 69, 74, 69, 66, 62, 62]
    audio = np.concatenate([0.3 * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) * env for p in melody])
    wav = tmp_path / "melody.wav"
    sf.write(wav, audio, sr)
    out = tmp_path / "out"
    result = run(app, "edit", wav, "up two semitones, on flute", "-o", out, "-f", "abc,json")
    assert result.exit_code == 0, result.output
    edited = read_score(out / "melody.json")
    assert [n.pitch for n in edited.all_notes()] == [p + 2 for p in melody]
    assert edited.parts[0].program == 73


@pytest.mark.parametrize("setup,args,message", [
    ("missing", ["nothing to do"], "no such file"),
    ("garbage_abc", ["faster"], "garbage.abc"),
    ("text", ["faster"], "cannot edit files with '.txt'"),
    ("tune", [""], "empty"),
    ("tune", ["purple elephant"], "nothing to edit"),
    ("tune", ["faster and slower"], "contradictory"),
    ("tune", ["in 3/4"], "cannot change 4/4 to 3/4 without rewriting rhythm"),
    ("tune", ["in 7/5"], "cannot use the meter 7/5"),
    ("tune", ["faster", "--format", "abc,pdf"], "unknown format"),
])
def test_bad_input_exits_2_and_writes_nothing(app, tune, tmp_path, setup, args, message):
    inputs = {"missing": tmp_path / "missing.abc", "tune": tune, "garbage_abc": tmp_path / "garbage.abc",
              "text": tmp_path / "notes.txt"}
    (tmp_path / "garbage.abc").write_text("this is not ABC at all\n")
    (tmp_path / "notes.txt").write_text("hello\n")
    out = tmp_path / "out"
    result = run(app, "edit", inputs[setup], args[0], "-o", out, *args[1:])
    assert result.exit_code == 2, result.output
    errs = error_lines(result)
    assert len(errs) == 1 and message in errs[0], result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_edit_refuses_to_overwrite_its_input(app, tune):
    before = tune.read_text()
    result = run(app, "edit", tune, "faster", "-o", tune.parent, "-f", "abc")
    assert result.exit_code == 2 and "overwrite the input" in result.stderr
    assert tune.read_text() == before
    assert sorted(p.name for p in tune.parent.iterdir()) == ["scale.abc"]  # no staging folder left


def test_a_failing_writer_leaves_no_file(app, tune, tmp_path, monkeypatch):
    import musicllm.score.io as score_io

    real = score_io.write_score

    def flaky(score, path):
        if str(path).endswith(".json"):
            raise OSError(28, "No space left on device")
        return real(score, path)

    monkeypatch.setattr(score_io, "write_score", flaky)
    out = tmp_path / "existing"
    out.mkdir()
    result = run(app, "edit", tune, "faster", "-o", out, "-f", "abc,json")
    assert result.exit_code == 2 and "No space left" in result.stderr
    assert list(out.iterdir()) == []  # the ABC written before the failure was staged, not kept


def test_controls_prints_json(app):
    result = run(app, "controls", "a lively jig in D for fiddle, 16 bars", "--no-embeddings")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["controls"]["key"] == "D major" and d["controls"]["meter"] == "6/8"
    assert d["controls"]["instruments"] == ["Violin"] and d["controls"]["length_bars"] == 16
    assert d["conflicts"] == [] and d["sources"]["meter"] == "tune type"


@pytest.mark.parametrize("prompt,message", [
    ("", "empty"),
    ("zxqv", "no musical controls"),
    ("a jig in 3/4", "contradictory prompt"),
    ("in 5/7", "cannot use the meter"),
])
def test_controls_bad_prompts_exit_2(app, prompt, message):
    result = run(app, "controls", prompt, "--no-embeddings")
    assert result.exit_code == 2
    errs = error_lines(result)
    assert len(errs) == 1 and message in errs[0]
