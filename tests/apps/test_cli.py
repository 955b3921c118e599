"""End-to-end tests of the `musicllm` command line, run as a real subprocess (offline, no network).

Every unusable input gives one line ``musicllm: error: <file>: ...`` on stderr, never a traceback and
never an output file; the other inputs of a batch are still transcribed. Exit codes: 0 all done,
1 some inputs failed, 2 nothing done (or a bad option).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import musicllm
from musicllm.errors import AudioError

FORMATS = ("abc", "mid", "musicxml", "svg", "json")
MELODY = (60, 64, 67, 72, 67, 64, 62, 65, 69, 65)  # MIDI pitches, one per beat
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": "200"}


# ------------------------------------------------------------------------------------------ helpers


def tones(seconds: float = 4.0, sr: int = 22050, bpm: float = 120.0, channels: int = 1,
          amp: float = 0.3) -> np.ndarray:
    """Harmonic tones (3 partials, decaying envelope), one note of MELODY per beat."""
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    x = np.zeros(n)
    beat = 60.0 / bpm
    for k, on in enumerate(np.arange(0.0, seconds - 0.05, beat)):
        f0 = 440.0 * 2 ** ((MELODY[k % len(MELODY)] - 69) / 12)
        i0 = int(round(on * sr))
        seg = t[i0:] - t[i0]
        env = np.exp(-4.0 * seg) * (seg < 0.95 * beat)
        x[i0:] += env * sum(np.sin(2 * np.pi * f0 * h * seg) / h for h in (1, 2, 3))
    x = (amp * x / np.abs(x).max()).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def run_cli(*args: str | os.PathLike, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "musicllm", *map(str, args)], env=ENV, capture_output=True,
                          text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    return proc


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in lines(proc.stderr) if ln.startswith("musicllm: error:")]


def assert_no_partials(out: Path) -> None:
    if out.exists():
        leftovers = [p.name for p in out.iterdir() if p.name.startswith(".") or ".part" in p.name]
        assert not leftovers, leftovers


def assert_no_outputs(out: Path, stem: str) -> None:
    if out.exists():
        assert not [p.name for p in out.iterdir() if p.name.startswith(stem + ".")]
    assert_no_partials(out)


def zero_channel_wav(path: Path) -> Path:
    fmt = struct.pack("<HHIIHH", 1, 0, 22050, 0, 0, 16)  # PCM, 0 channels
    data = b"\x00" * 100
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    return path


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """Good and bad inputs. Keys of bad inputs start with "bad_"."""
    d = tmp_path_factory.mktemp("media")
    sr = 22050
    m: dict[str, Path] = {}

    def write(name: str, data, rate: int = sr, **kw) -> Path:
        sf.write(str(d / name), data, rate, **kw)
        return d / name

    m["good"] = write("good.wav", tones())
    m["good_flac"] = write("other [live].flac", tones(seconds=3.0, bpm=100))  # brackets: not rich markup
    m["sr8k"] = write("rate8k.wav", tones(sr=8000), 8000)
    m["sr192k"] = write("rate192k.wav", tones(seconds=3.0, sr=192000), 192000)
    m["ch8"] = write("eight_channels.wav", tones(seconds=3.0, channels=8))

    m["bad_missing"] = d / "missing.wav"
    no_audio = d / "no_audio_folder"
    no_audio.mkdir()
    (no_audio / "readme.txt").write_text("no audio here\n")
    (no_audio / ".hidden.wav").write_bytes(b"")
    m["bad_folder"] = no_audio
    good = m["good"].read_bytes()
    (d / "cut_header.wav").write_bytes(good[:30])
    m["bad_cut_header"] = d / "cut_header.wav"
    flac = write("whole.flac", tones()).read_bytes()
    (d / "whole.flac").unlink()
    (d / "cut_data.flac").write_bytes(flac[: len(flac) // 2])
    m["bad_cut_data"] = d / "cut_data.flac"
    (d / "text.wav").write_text("this is not audio\n" * 20)
    m["bad_text"] = d / "text.wav"
    (d / "take[bold].wav").write_text("not audio either\n")
    m["bad_brackets"] = d / "take[bold].wav"
    (d / "empty.wav").write_bytes(b"")
    m["bad_empty"] = d / "empty.wav"
    (d / "notes.txt").write_text("C D E F G\n")
    m["bad_ext"] = d / "notes.txt"
    m["bad_silence"] = write("silence.wav", np.zeros(3 * sr, np.float32))
    m["bad_quiet"] = write("quiet.wav", tones(seconds=3.0, amp=1e-5))
    m["bad_short"] = write("short.wav", tones(seconds=0.3))  # shorter than one beat at any tempo <= 200 bpm
    m["bad_zero_ch"] = zero_channel_wav(d / "zero_channels.wav")
    x = tones(seconds=3.0)
    x[5000] = np.nan
    m["bad_nan"] = write("nan.wav", x, subtype="FLOAT")
    ultra = 0.3 * np.sin(2 * np.pi * 10000 * np.arange(3 * sr) / sr)
    m["bad_no_notes"] = write("ultrasonic.wav", ultra.astype(np.float32))  # above the piano's range

    mixed = d / "mixed_folder"  # a folder: its audio files are transcribed, its other files skipped
    mixed.mkdir()
    sf.write(str(mixed / "inside.wav"), tones(seconds=3.0), sr)
    (mixed / "broken.wav").write_text("RIFF but not really")
    (mixed / "info.txt").write_text("skipped\n")
    m["mixed_folder"] = mixed
    return m


BAD = ("bad_missing", "bad_folder", "bad_cut_header", "bad_cut_data", "bad_text", "bad_brackets", "bad_empty",
       "bad_ext",
       "bad_silence", "bad_quiet", "bad_short", "bad_zero_ch", "bad_nan", "bad_no_notes")


def stem_of(path: Path) -> str:
    return path.stem if path.suffix else path.name


# ------------------------------------------------------------------------------------------ success


def test_transcribe_writes_every_format(media, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("transcribe", media["good"], "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert not error_lines(proc)
    summary = [ln for ln in lines(proc.stdout + proc.stderr) if ln.startswith("good.wav:")]
    assert len(summary) == 1 and "qpm" in summary[0] and "notes" in summary[0]
    for ext in FORMATS:
        f = out / f"good.{ext}"
        assert f.is_file() and f.stat().st_size > 0, ext
    assert sorted(p.name for p in out.iterdir()) == sorted(f"good.{ext}" for ext in FORMATS)

    data = json.loads((out / "good.json").read_text())
    for key in ("duration_s", "tempo_bpm", "meter", "key", "beats", "parts"):
        assert key in data, key
    assert data["duration_s"] == pytest.approx(4.0, abs=0.1)
    assert 100 <= data["tempo_bpm"] <= 145 or 50 <= data["tempo_bpm"] <= 72  # 120 bpm, or half of it
    assert len(data["beats"]) >= 3 and data["parts"]
    n_notes = 0
    for part in data["parts"]:
        assert {"name", "program", "notes"} <= set(part)
        for note in part["notes"]:
            assert {"onset_s", "offset_s", "pitch", "velocity"} <= set(note)
            assert 0 <= note["onset_s"] < note["offset_s"] <= data["duration_s"] + 0.1
            assert 0 <= note["pitch"] <= 127 and 1 <= note["velocity"] <= 127
            n_notes += 1
    assert n_notes >= 4
    pitches = {n["pitch"] for p in data["parts"] for n in p["notes"]}
    assert len(pitches & set(MELODY)) >= 3, pitches

    from musicllm.score.abc import read_abc

    abc = (out / "good.abc").read_text()
    assert abc.startswith("X:")
    score = read_abc(abc)
    assert sum(len(p.notes) for p in score.parts) >= 4

    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(out / "good.mid"))
    assert sum(len(i.notes) for i in pm.instruments) == n_notes
    assert "<score-partwise" in (out / "good.musicxml").read_text()
    assert "<svg" in (out / "good.svg").read_text()


def test_unusual_but_valid_audio_is_transcribed(media, tmp_path):
    """8 kHz, 192 kHz and 8-channel files are valid; also --parts / --instruments / --no-cleanup."""
    out = tmp_path / "out"
    inputs = [media["sr8k"], media["sr192k"], media["ch8"]]
    proc = run_cli("transcribe", *inputs, "-o", out, "--format", "json,midi", "--parts", "1",
                   "--instruments", "violin", "--no-cleanup")
    assert proc.returncode == 0, proc.stderr
    assert not error_lines(proc)
    for f in inputs:
        assert (out / f"{f.stem}.mid").stat().st_size > 0
        data = json.loads((out / f"{f.stem}.json").read_text())
        assert data["duration_s"] == pytest.approx(sf.info(str(f)).duration, abs=0.1)
        assert len(data["parts"]) == 1
        assert data["parts"][0]["program"] == 40 and data["parts"][0]["name"].lower() == "violin"
        assert len(data["parts"][0]["notes"]) >= 3
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{f.stem}.{e}" for f in inputs for e in ("json", "mid"))


# ------------------------------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize("case", BAD)
def test_single_bad_input(media, tmp_path, case):
    out = tmp_path / "out"
    path = media[case]
    proc = run_cli("transcribe", path, "-o", out)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    err = lines(proc.stderr)
    assert len(err) == 1, proc.stderr
    assert err[0].startswith("musicllm: error:") and str(path) in err[0], err[0]
    assert err[0].count(str(path)) == 1, err[0]  # named once, not "f: f: ..."
    assert proc.stdout.strip() == ""
    assert not out.exists() or not any(out.iterdir())


def test_batch_of_only_bad_inputs_exits_2(media, tmp_path):
    out = tmp_path / "out"
    inputs = [media[c] for c in BAD]
    proc = run_cli("transcribe", *inputs, "-o", out)
    assert proc.returncode == 2, proc.stderr
    assert len(lines(proc.stderr)) == len(inputs), proc.stderr
    for path in inputs:
        assert len([ln for ln in error_lines(proc) if str(path) in ln]) == 1, (path, proc.stderr)
    assert not out.exists() or not any(out.iterdir())


def test_batch_with_good_and_bad_inputs_exits_1(media, tmp_path):
    out = tmp_path / "out"
    good = [media["good"], media["good_flac"]]
    bad = [media[c] for c in BAD]
    mixed = media["mixed_folder"]
    # Bad inputs around the good ones: a failure must not stop the rest of the batch.
    proc = run_cli("transcribe", bad[0], good[0], *bad[1:], mixed, good[1], "-o", out, "-f", "abc,mid,json")
    assert proc.returncode == 1, proc.stderr
    errs = error_lines(proc)
    for path in [*bad, mixed / "broken.wav"]:
        mine = [ln for ln in errs if str(path) in ln]
        assert len(mine) == 1, (path, proc.stderr)
        assert_no_outputs(out, stem_of(path))
    assert len(errs) == len(bad) + 1
    assert not [ln for ln in errs if "info.txt" in ln]  # non-audio files in a folder are skipped
    for path in [*good, mixed / "inside.wav"]:
        for ext in ("abc", "mid", "json"):
            assert (out / f"{path.stem}.{ext}").stat().st_size > 0, (path, ext)
        assert len([ln for ln in lines(proc.stdout + proc.stderr) if ln.startswith(f"{path.name}:")]) == 1
    assert len(list(out.iterdir())) == 3 * 3
    assert_no_partials(out)


# ------------------------------------------------------------------------------------------ bad options


@pytest.mark.parametrize("option, words", [
    (["--format", "abc,pdf"], "pdf"),
    (["--parts", "0"], "--parts"),
    (["--instruments", "violin,kazoooo"], "kazoooo"),
])
def test_bad_option(media, tmp_path, option, words):
    out = tmp_path / "out"
    proc = run_cli("transcribe", media["good"], media["good_flac"], "-o", out, *option)
    assert proc.returncode == 2, proc.stderr
    err = lines(proc.stderr)
    assert len(err) == 1 and err[0].startswith("musicllm: error:") and words in err[0], proc.stderr
    assert not out.exists()


def test_output_path_that_is_a_file(media, tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("keep me\n")
    proc = run_cli("transcribe", media["good"], "-o", out)
    assert proc.returncode == 2, proc.stderr
    err = lines(proc.stderr)
    assert len(err) == 1 and err[0].startswith("musicllm: error:") and str(out) in err[0], proc.stderr
    assert out.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


# ------------------------------------------------------------------------------------------ eval


def test_eval_transcription_folders(media, tmp_path):
    from musicllm.score.midi import write_midi
    from musicllm.score.model import Note, Part, Score

    ref, est = tmp_path / "ref", tmp_path / "est"
    ref.mkdir()
    notes = [Note(pitch=MELODY[k], onset_s=0.5 * k, offset_s=0.5 * k + 0.45, velocity=90) for k in range(8)]
    write_midi(Score(parts=[Part(name="Piano", program=0, notes=notes)], tempo_qpm=120.0), ref / "good.mid")
    musicllm.transcribe(media["good"]).write(est, "good", ["mid"])

    proc = run_cli("eval", "transcription", "--ref", ref, "--est", est)
    assert proc.returncode == 0, proc.stderr
    out = lines(proc.stdout)
    assert out[0].split()[0] == "name" and "On F1" in out[0]
    assert any(ln.startswith("good ") for ln in out) and any(ln.startswith("mean ") for ln in out)
    assert "1 pair(s)" in proc.stdout and "failed" not in proc.stdout

    proc = run_cli("eval", "transcription", "--ref", ref, "--est", est, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["n_pairs"] == 1 and report["n_failed"] == 0
    row = report["rows"][0]
    assert row["name"] == "good" and row["error"] is None
    assert row["metrics"]["n_ref_notes"] == 8
    assert row["metrics"]["onset_f1"] >= 0.6, row["metrics"]
    assert 0.0 <= report["means"]["reward_total"] <= 1.0


# ------------------------------------------------------------------------------------------ Python API


def test_python_api_on_arrays(media):
    stereo = tones(seconds=3.0, sr=44100, channels=2)
    t = musicllm.transcribe(stereo, sr=44100)
    assert t.duration_s == pytest.approx(3.0, abs=0.1)
    assert sum(len(p.notes) for p in t.score.parts) >= 3
    assert t.to_abc().startswith("X:")
    assert set(json.loads(t.to_json())) >= {"duration_s", "tempo_bpm", "meter", "key", "beats", "parts"}

    with pytest.raises(AudioError, match="silent"):
        musicllm.transcribe(np.zeros(3 * 44100, np.float32), sr=44100)
    x = tones(seconds=3.0, sr=44100)
    x[1234] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        musicllm.transcribe(x, sr=44100)
    with pytest.raises(AudioError, match="sample rate"):
        musicllm.transcribe(x)
    # Errors for files name the file, once.
    for case in ("bad_silence", "bad_no_notes"):
        with pytest.raises(AudioError) as info:
            musicllm.transcribe(media[case])
        assert str(info.value).count(str(media[case])) == 1, str(info.value)
