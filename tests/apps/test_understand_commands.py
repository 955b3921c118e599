"""`musicllm analyze / describe / ask / chat` end to end, as real subprocesses (offline).

One analysis of a bundled example is shared by the module; the language commands then read its facts
JSON, so they run without analysing again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "jig_violin.flac"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": "200"}


def run_cli(*args, stdin: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "musicllm", *map(str, args)], env=ENV, capture_output=True,
                          text=True, timeout=timeout, input=stdin)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    return proc


def error_lines(proc) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("musicllm: error:")]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("analyze")
    bad = d / "text.wav"
    bad.write_text("this is not audio\n" * 20)
    out = d / "out"
    proc = run_cli("analyze", EXAMPLE, bad, "-o", out)
    return {"proc": proc, "out": out, "bad": bad, "facts": out / "jig_violin.json", "dir": d}


def test_analyze_writes_json_and_report_and_names_bad_inputs(analysed):
    proc, out = analysed["proc"], analysed["out"]
    assert proc.returncode == 1, proc.stderr  # one input failed, one worked
    errs = error_lines(proc)
    assert len(errs) == 1 and str(analysed["bad"]) in errs[0]
    assert sorted(p.name for p in out.iterdir()) == ["jig_violin.json", "jig_violin.md"]
    facts = json.loads(analysed["facts"].read_text())
    assert facts["schema"] == "musicllm.facts/1"
    assert abs(facts["duration_s"] - 18.3) < 0.5
    assert facts["meter"]["value"] in ("6/8", "3/4", "4/4", "2/4", "9/8", "3/8", "12/8")
    assert facts["chords"] and all(c["end_s"] > c["start_s"] for c in facts["chords"])
    assert facts["dynamics"]["curve_db"] and facts["notes"]["n_notes"] > 20
    md = (out / "jig_violin.md").read_text()
    assert md.startswith("# Analysis of jig_violin.flac") and "| tempo |" in md
    assert "jig_violin.flac:" in proc.stdout + proc.stderr  # the summary line


def test_ask_answers_from_the_facts_json(analysed):
    facts = json.loads(analysed["facts"].read_text())
    proc = run_cli("ask", analysed["facts"], "How fast is this piece?")
    assert proc.returncode == 0, proc.stderr
    tempo = round(facts["tempo_qpm"]["value"])
    beat = round(facts["beat_bpm"]["value"])
    text = proc.stdout.strip()
    assert text and (str(tempo) in text or str(beat) in text), text


def test_ask_out_of_scope_says_it_cannot_tell(analysed):
    proc = run_cli("ask", analysed["facts"], "Who is the composer of this tune?")
    assert proc.returncode == 0
    assert "can't tell" in proc.stdout.lower() or "cannot tell" in proc.stdout.lower(), proc.stdout


def test_describe_writes_a_caption_and_tags(analysed):
    proc = run_cli("describe", analysed["facts"])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip().splitlines()
    assert len(out[0]) > 40
    assert out[-1].startswith("Tags: ")


def test_chat_answers_each_line_until_end_of_input(analysed):
    proc = run_cli("chat", analysed["facts"], stdin="What key is it in?\n\nHow long is it?\nquit\nignored?\n")
    assert proc.returncode == 0, proc.stderr
    answers = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert len(answers) == 2
    facts = json.loads(analysed["facts"].read_text())
    assert facts["key"]["value"].split()[0] in answers[0] or "can't tell" in answers[0].lower()


def test_unreachable_llm_backend_is_one_line_exit_2(analysed):
    proc = run_cli("ask", analysed["facts"], "What is the tempo?", "--llm", "openai:http://127.0.0.1:9/v1",
                   timeout=60)
    assert proc.returncode == 2
    errs = error_lines(proc)
    assert len(errs) == 1 and "openai:http://127.0.0.1:9/v1" in errs[0], proc.stderr
    assert proc.stdout.strip() == ""  # no silent fallback to the built-in answer


@pytest.mark.parametrize("args, needle", [
    (("ask", "missing.wav", "What key?"), "missing.wav"),
    (("describe", "notes.txt"), "notes.txt"),
    (("ask", "bad.json", "What key?"), "bad.json"),
    (("ask", "{facts}", "   "), "empty"),
    (("describe", "{facts}", "--llm", "nonsense:xyz"), "nonsense"),
])
def test_bad_inputs_are_one_line_exit_2(analysed, args, needle):
    d = analysed["dir"]
    (d / "notes.txt").write_text("hello\n")
    (d / "bad.json").write_text("{not json")
    args = [str(analysed["facts"]) if a == "{facts}" else (str(d / a) if a.endswith((".wav", ".txt", ".json"))
            else a) for a in args]
    proc = run_cli(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    errs = error_lines(proc)
    assert len(errs) == 1 and needle in errs[0], proc.stderr
