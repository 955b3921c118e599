"""Dataset builds (musicllm.data.build): files, ground truth, determinism, resume, full disk, splits,
Parquet read by `datasets`, and the Ray engine against the local one."""

from __future__ import annotations

import errno
import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from dataset_corpus import make_corpus

from musicllm.data import build as build_mod
from musicllm.data.build import (
    MANIFEST_COLUMNS,
    BuildStopped,
    build_dataset,
    dataset_stats,
    format_stats,
    read_manifest,
)
from musicllm.data.rendering import RenderSettings, split_of
from musicllm.errors import MusicLLMError
from musicllm.score.abc import read_abc
from musicllm.score.io import read_score
from musicllm.score.midi import read_midi

SETTINGS = RenderSettings(seed=7, max_seconds=5.0)
RENDERINGS = 2


def tree_hashes(out: Path) -> dict[str, str]:
    """SHA-256 of every file of the finished items (the bytes a build promises to reproduce)."""
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((out / "items").rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus") / "tunes")


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ds"
    report = build_dataset(str(corpus), out, renderings=RENDERINGS, settings=SETTINGS, workers=1)
    return out, report


def test_items_files_and_ground_truth(reference):
    out, report = reference
    rows = read_manifest(out)
    # 4 tunes x 2 renderings; the tune that changes meter is reported, not built.
    assert report.pieces == 4 and report.items_built == len(rows) == 6 and report.items_total == 6
    assert report.failures_by_reason() == {"meter changes": 1}
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert all(set(r) == set(MANIFEST_COLUMNS) for r in rows)
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert failures[0]["piece_id"].endswith("tunes.abc#2") and failures[0]["reason"] == "meter changes"
    for r in rows:
        audio, sr = sf.read(out / r["audio"], dtype="float32")
        assert sr == 22050 and audio.ndim == 1 and len(audio) / sr == pytest.approx(r["duration_s"], abs=1e-3)
        assert 2.0 < r["duration_s"] <= 5.0 and 0.01 < np.abs(audio).max() <= 0.9
        assert hashlib.sha256((out / r["audio"]).read_bytes()).hexdigest() == r["audio_sha256"]
        truth = read_score(out / r["facts"])
        gt = json.loads((out / r["facts"]).read_text())
        assert truth.tempo_qpm == r["tempo_qpm"] and str(truth.meter) == r["meter"] and str(truth.key) == r["key"]
        assert [p.program for p in truth.parts] == r["programs"] and len(gt["beats"]) >= 2
        assert gt["facts"]["tempo_qpm"] == {"value": r["tempo_qpm"], "confidence": 1.0}
        assert [t["name"] for t in gt["facts"]["instruments"]] == sorted(set(r["instruments"]), key=r["instruments"].index)
        # The normalised ABC states the ground truth: headers, one named voice per instrument, the notes.
        abc_text = (out / r["abc"]).read_text()
        heads = [line.split(":", 1)[0] for line in abc_text.splitlines()[:6]]
        assert heads == ["X", "T", "M", "L", "Q", "K"]
        voices = [line for line in abc_text.splitlines() if line.startswith("V:")]
        assert len(voices) == len(r["instruments"]) and all('name="' in v for v in voices)
        from_abc = read_abc(abc_text)
        assert from_abc.tempo_qpm == pytest.approx(r["tempo_qpm"]) and str(from_abc.meter) == r["meter"]
        assert [sorted((n.pitch, n.onset_qn) for n in p.notes) for p in from_abc.parts] == \
            [sorted((n.pitch, n.onset_qn) for n in p.notes) for p in truth.parts]
        midi = read_midi(out / r["midi"])
        assert sorted(n.pitch for p in midi.parts for n in p.notes) == sorted(n.pitch for p in truth.parts for n in p.notes)
        qa = [json.loads(line) for line in (out / r["qa"]).read_text().splitlines()]
        assert len(qa) == r["n_qa"] >= 5 and {q["audio"] for q in qa} == {r["audio"]}
        assert {q["meta"]["split"] for q in qa} == {r["split"]} and "meter" in {q["task"] for q in qa}
    # Per-piece metadata reaches the rows.
    jig = [r for r in rows if r["title"] == "Test Jig"]
    assert len(jig) == 2 and {(r["tune_type"], r["origin"], r["license"], r["meter"]) for r in jig} == \
        {("jig", "Ireland", "MIT", "6/8")}
    report_json = json.loads((out / "report.json").read_text())
    assert report_json["items_built"] == 6 and report_json["failures_by_reason"] == {"meter changes": 1}
    assert "wall_s" in report_json and "wall_s" not in rows[0]


def test_same_seed_same_bytes_with_two_workers(reference, corpus, tmp_path):
    out, _ = reference
    again = tmp_path / "ds2"
    report = build_dataset(str(corpus), again, renderings=RENDERINGS, settings=SETTINGS, workers=2)
    assert report.items_built == 6
    assert (again / "manifest.jsonl").read_bytes() == (out / "manifest.jsonl").read_bytes()
    assert (again / "manifest.parquet").read_bytes() == (out / "manifest.parquet").read_bytes()
    assert tree_hashes(again) == tree_hashes(out)
    other = tmp_path / "seed8"
    build_dataset(str(corpus), other, renderings=1, limit=1, settings=RenderSettings(seed=8, max_seconds=5.0))
    row8 = read_manifest(other)[0]
    row7 = next(r for r in read_manifest(out) if r["id"] == row8["id"])
    assert row8["audio_sha256"] != row7["audio_sha256"] and row8["split"] == row7["split"]


def test_splits_are_by_piece(reference):
    out, _ = reference
    by_piece: dict[str, set[str]] = {}
    for r in read_manifest(out):
        by_piece.setdefault(r["piece_id"], set()).add(r["split"])
        assert r["split"] == split_of(r["piece_id"], SETTINGS.split)
    assert all(len(s) == 1 for s in by_piece.values())
    counts = Counter(split_of(f"collection/piece{i}.abc#0") for i in range(3000))
    assert abs(counts["train"] / 3000 - 0.8) < 0.03 and abs(counts["test"] / 3000 - 0.1) < 0.02
    assert split_of("x", (0.0, 0.0, 1.0)) == "test"


def test_interrupted_build_resumes_to_the_same_dataset(reference, corpus, tmp_path, monkeypatch):
    out, _ = reference
    target = tmp_path / "ds"
    real_write = build_mod._write_item
    calls = []

    def interrupt_after_two(out_dir, item):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(item.item_id)
        real_write(out_dir, item)

    monkeypatch.setattr(build_mod, "_write_item", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(str(corpus), target, renderings=RENDERINGS, settings=SETTINGS, workers=1)
    assert [r["id"] for r in read_manifest(target)] == sorted(calls)
    assert sorted(p.name for p in (target / "items").iterdir()) == sorted(calls)  # no half-written item
    (target / "items" / ".tmp-crashed-host-1").mkdir()  # what a killed worker leaves behind
    monkeypatch.setattr(build_mod, "_write_item", real_write)
    report = build_dataset(str(corpus), target, renderings=RENDERINGS, settings=SETTINGS, workers=1)
    assert report.items_skipped == 2 and report.items_built == 4
    assert not (target / "items" / ".tmp-crashed-host-1").exists()
    assert (target / "manifest.jsonl").read_bytes() == (out / "manifest.jsonl").read_bytes()
    assert tree_hashes(target) == tree_hashes(out)
    rerun = build_dataset(str(corpus), target, renderings=RENDERINGS, settings=SETTINGS, workers=1)
    assert rerun.items_built == 0 and rerun.items_skipped == 6 and rerun.items_total == 6


def test_full_disk_stops_cleanly(corpus, tmp_path, monkeypatch):
    real_write = build_mod._write_item
    written = []

    def disk_fills_after_one(out_dir, item):
        if written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(item.item_id)
        real_write(out_dir, item)

    monkeypatch.setattr(build_mod, "_write_item", disk_fills_after_one)
    target = tmp_path / "ds"
    with pytest.raises(BuildStopped) as info:
        build_dataset(str(corpus), target, renderings=RENDERINGS, settings=SETTINGS, workers=1)
    msg = str(info.value)
    assert msg.startswith("disk full while writing items/") and "the 1 complete item;" in msg and "\n" not in msg
    assert info.value.report.items_built == 1 and info.value.report.pieces == 4
    assert [r["id"] for r in read_manifest(target)] == written
    assert [p.name for p in (target / "items").iterdir()] == written


def test_other_settings_are_refused(reference, corpus):
    out, _ = reference
    with pytest.raises(MusicLLMError, match="other settings.*seed: 7 -> 8"):
        build_dataset(str(corpus), out, settings=RenderSettings(seed=8, max_seconds=5.0))
    with pytest.raises(MusicLLMError, match="unknown SoundFont"):
        build_dataset(str(corpus), out, settings=RenderSettings(soundfonts=("NoSuchFont",)))
    with pytest.raises(MusicLLMError, match="unknown instrument family"):
        build_dataset(str(corpus), out, settings=RenderSettings(families=("kazoos",)))


def test_manifest_read_by_datasets_and_stats(reference, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    out, _ = reference
    rows = read_manifest(out)
    for kind, name in (("parquet", "manifest.parquet"), ("json", "manifest.jsonl")):
        ds = datasets.load_dataset(kind, data_files=str(out / name), split="train", cache_dir=str(tmp_path / kind))
        assert ds.num_rows == len(rows) and ds["id"] == [r["id"] for r in rows]
        assert ds[0]["instruments"] == rows[0]["instruments"] and ds[0]["duration_s"] == rows[0]["duration_s"]
    stats = dataset_stats(out)
    assert stats["items"] == 6 and stats["pieces"] == 3 and sum(s["items"] for s in stats["splits"].values()) == 6
    assert stats["hours"] == pytest.approx(sum(r["duration_s"] for r in rows) / 3600, abs=1e-4)
    assert stats["last_run_failures"] == {"meter changes": 1}
    assert "6 items from 3 pieces" in format_stats(stats)


@pytest.mark.slow  # starting a local Ray instance takes 10-25 s on two busy cores
def test_ray_engine_gives_the_same_items(reference, corpus, tmp_path):
    pytest.importorskip("ray")
    out, _ = reference
    target = tmp_path / "ray"
    report = build_dataset(str(corpus), target, renderings=RENDERINGS, settings=SETTINGS, workers=2, engine="ray")
    assert report.engine == "ray" and report.items_built == 6
    assert (target / "manifest.jsonl").read_bytes() == (out / "manifest.jsonl").read_bytes()
    assert tree_hashes(target) == tree_hashes(out)
