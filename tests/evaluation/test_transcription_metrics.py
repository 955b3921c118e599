"""Note metrics against mir_eval, empty inputs, file pairs and folder pairing."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import mir_eval
import numpy as np
import pytest

from musicllm.errors import MusicLLMError, NotationError
from musicllm.evaluation.transcription import (
    METRIC_KEYS,
    NOTE_METRIC_KEYS,
    evaluate_pair,
    evaluate_paths,
    format_report,
    note_metrics,
    pair_paths,
)
from musicllm.score.model import Note, Part, Score

REF_NOTES = [  # (pitch, onset, offset) over two parts
    [(60, 0.00, 0.50), (62, 0.50, 1.00), (64, 1.00, 1.50), (65, 1.50, 2.50)],
    [(48, 0.00, 1.00), (55, 1.00, 2.00), (52, 2.00, 3.00)],
]
EST_NOTES = [
    [(60, 0.02, 0.48), (62, 0.58, 1.00), (64, 1.03, 1.90), (66, 1.50, 2.50),
     (48, 0.01, 1.02), (55, 0.99, 1.60), (52, 2.04, 3.01), (72, 2.5, 2.7)],
]


def make_score(groups, drum=None) -> Score:
    parts = [Part(name=f"P{i}", program=40 + i, notes=[Note(p, a, b) for p, a, b in g])
             for i, g in enumerate(groups)]
    if drum:
        parts.append(Part(name="Drums", program=0, is_drum=True, notes=[Note(p, a, b) for p, a, b in drum]))
    return Score(parts=parts)


def arrays(groups):
    flat = [n for g in groups for n in g]
    iv = np.array([[a, b] for _, a, b in flat], dtype=float)
    hz = mir_eval.util.midi_to_hz(np.array([p for p, _, _ in flat], dtype=float))
    return iv, hz


def test_note_metrics_match_direct_mir_eval_call():
    got = note_metrics(make_score(REF_NOTES), make_score(EST_NOTES, drum=[(36, 0.0, 0.1)]))
    ref_iv, ref_hz = arrays(REF_NOTES)
    est_iv, est_hz = arrays(EST_NOTES)
    on = mir_eval.transcription.precision_recall_f1_overlap(ref_iv, ref_hz, est_iv, est_hz, offset_ratio=None)
    onoff = mir_eval.transcription.precision_recall_f1_overlap(ref_iv, ref_hz, est_iv, est_hz)
    assert [got[k] for k in NOTE_METRIC_KEYS] == pytest.approx(list(on) + list(onoff))
    # Hand check: onsets found for 60, 62(? 80 ms late: no), 64, 48, 55, 52 -> 5 of 7 reference notes.
    assert got["onset_recall"] == pytest.approx(5 / 7)
    assert got["onset_precision"] == pytest.approx(5 / 8)
    assert got["n_ref_notes"] == 7 and got["n_est_notes"] == 8  # the drum note is left out


def test_note_metrics_tolerances_are_passed_on():
    ref_iv, ref_hz = arrays(REF_NOTES)
    est_iv, est_hz = arrays(EST_NOTES)
    got = note_metrics(make_score(REF_NOTES), make_score(EST_NOTES), onset_tolerance=0.1, offset_ratio=0.5,
                       offset_min_tolerance=0.1)
    onoff = mir_eval.transcription.precision_recall_f1_overlap(
        ref_iv, ref_hz, est_iv, est_hz, onset_tolerance=0.1, offset_ratio=0.5, offset_min_tolerance=0.1)
    assert got["onset_offset_f1"] == pytest.approx(onoff[2])
    assert got["onset_recall"] == pytest.approx(6 / 7)


def test_identical_and_empty_scores():
    s = make_score(REF_NOTES)
    assert all(note_metrics(s, s)[k] == 1.0 for k in NOTE_METRIC_KEYS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        both = note_metrics(Score(), Score(parts=[Part()]))
        assert all(both[k] == 1.0 for k in NOTE_METRIC_KEYS)
        assert all(note_metrics(s, Score())[k] == 0.0 for k in NOTE_METRIC_KEYS)
        assert all(note_metrics(Score(), s)[k] == 0.0 for k in NOTE_METRIC_KEYS)


def test_degenerate_notes_do_not_raise():
    ref = make_score([[(60, 0.0, 0.5), (62, 0.5, 0.5), (64, -0.01, 0.3)]])
    m = note_metrics(ref, ref)
    assert m["onset_f1"] == 1.0


# --- files and folders -----------------------------------------------------------------------------

ABC_REF = "X:1\nT:a\nM:4/4\nL:1/4\nQ:1/4=120\nK:C\nC D E F | G A B c |\n"
ABC_EST = "X:1\nT:a\nM:4/4\nL:1/4\nQ:1/4=120\nK:C\nC D E F | G A B d |\n"


def test_evaluate_pair_abc_vs_abc(tmp_path: Path):
    (tmp_path / "r.abc").write_text(ABC_REF)
    (tmp_path / "e.abc").write_text(ABC_EST)
    m = evaluate_pair(tmp_path / "r.abc", tmp_path / "e.abc")
    assert set(METRIC_KEYS) <= set(m)
    assert m["onset_f1"] == pytest.approx(7 / 8)  # seconds from the tempo: 0.5 s per quarter
    assert m["onset_offset_f1"] == pytest.approx(7 / 8)
    assert m["reward_pitch"] == pytest.approx(7 / 8)
    assert m["reward_total"] == pytest.approx(0.5 * 7 / 8 + 0.5)
    same = evaluate_pair(tmp_path / "r.abc", tmp_path / "r.abc")
    assert all(same[k] == 1.0 for k in METRIC_KEYS)


def test_evaluate_pair_midi_vs_abc(tmp_path: Path):
    midi = pytest.importorskip("musicllm.score.midi")
    from musicllm.score.abc import read_abc

    ref = read_abc(ABC_REF)
    midi.write_midi(ref, tmp_path / "x.mid")
    (tmp_path / "x.abc").write_text(ABC_REF)
    m = evaluate_pair(tmp_path / "x.mid", tmp_path / "x.abc")
    assert m["onset_offset_f1"] == pytest.approx(1.0)
    assert m["reward_pitch"] == pytest.approx(1.0)
    assert m["reward_tempo"] == pytest.approx(1.0)


def test_pairing_by_stem(tmp_path: Path):
    ref, est = tmp_path / "ref", tmp_path / "est"
    ref.mkdir()
    est.mkdir()
    for name in ("a.abc", "b.abc", "only_ref.abc", "notes.txt"):
        (ref / name).write_text(ABC_REF)
    for name in ("a.abc", "b.abc", "only_est.abc", "README.md"):
        (est / name).write_text(ABC_EST)
    pairs, un_ref, un_est = pair_paths(ref, est)
    assert [(n, r.name, e.name) for n, r, e in pairs] == [("a", "a.abc", "a.abc"), ("b", "b.abc", "b.abc")]
    assert [p.name for p in un_ref] == ["only_ref.abc"]
    assert [p.name for p in un_est] == ["only_est.abc"]
    # A reference file against an estimate folder picks the file with the same stem.
    assert [(n, e.name) for n, _, e in pair_paths(ref / "b.abc", est)[0]] == [("b", "b.abc")]
    with pytest.raises(MusicLLMError):
        pair_paths(ref, est / "a.abc")
    with pytest.raises(MusicLLMError):
        pair_paths(ref, tmp_path / "missing")
    (est / "a.mid").write_bytes(b"")
    with pytest.raises(MusicLLMError, match="a.abc, a.mid"):
        pair_paths(ref, est)


def test_pairing_needs_at_least_one_pair(tmp_path: Path):
    (tmp_path / "r").mkdir()
    (tmp_path / "e").mkdir()
    (tmp_path / "r" / "x.abc").write_text(ABC_REF)
    (tmp_path / "e" / "y.abc").write_text(ABC_REF)
    with pytest.raises(MusicLLMError, match="no files pair up"):
        pair_paths(tmp_path / "r", tmp_path / "e")


def test_evaluate_paths_folders_means_and_failures(tmp_path: Path):
    ref, est = tmp_path / "ref", tmp_path / "est"
    ref.mkdir()
    est.mkdir()
    for stem in ("a", "b", "c"):
        (ref / f"{stem}.abc").write_text(ABC_REF)
    (est / "a.abc").write_text(ABC_REF)
    (est / "b.abc").write_text(ABC_EST)
    (est / "c.abc").write_text("this is not ABC at all")  # unreadable estimate: a failed row scored 0
    (est / "extra.abc").write_text(ABC_REF)
    report = evaluate_paths(ref, est)
    json.dumps(report)  # JSON-ready as it is
    rows = report["rows"]
    assert [r["name"] for r in rows] == ["a", "b", "c"]
    assert rows[2]["error"] and report["n_failed"] == 1 and report["n_pairs"] == 3
    assert rows[0]["error"] is None and rows[0]["ref"] == str(ref / "a.abc")
    assert rows[2]["metrics"]["onset_f1"] == 0.0 and rows[2]["metrics"]["reward_total"] == 0.0
    assert report["means"]["onset_f1"] == pytest.approx((1.0 + 7 / 8 + 0.0) / 3)
    assert report["unmatched_est"] == [str(est / "extra.abc")] and report["unmatched_ref"] == []
    text = format_report(report)
    assert "mean" in text and "c !" in text and "extra.abc" in text and "failed" in text
    assert text.splitlines()[0].startswith("name")


def test_unreadable_reference_raises(tmp_path: Path):
    (tmp_path / "r.abc").write_text("not abc")
    (tmp_path / "e.abc").write_text(ABC_REF)
    with pytest.raises(NotationError):
        evaluate_paths(tmp_path / "r.abc", tmp_path / "e.abc")


def test_evaluate_paths_mixed_formats(tmp_path: Path):
    from musicllm.score.abc import read_abc
    from musicllm.score.jsonio import write_json
    from musicllm.score.midi import write_midi

    ref, est = tmp_path / "ref", tmp_path / "est"
    ref.mkdir()
    est.mkdir()
    two = ('X:1\nT:b\nM:3/4\nL:1/8\nQ:1/4=90\nK:G\nV:1 name="Violin"\n%%MIDI program 40\nd2 B2 G2 | A4 z2 |\n'
           'V:2 name="Cello"\n%%MIDI program 42\nG,4 D,2 | D,6 |\n')
    write_midi(read_abc(ABC_REF), ref / "x.mid")
    write_json(read_abc(two), ref / "y.json")
    (est / "x.abc").write_text(ABC_REF)
    # The estimate writes the voices the other way round and names no instruments but programs them.
    (est / "y.abc").write_text(
        'X:1\nT:b\nM:3/4\nL:1/8\nQ:1/4=90\nK:G\nV:1\n%%MIDI program 42\nG,4 D,2 | D,6 |\n'
        'V:2\n%%MIDI program 40\nd2 B2 G2 | A4 z2 |\n')
    report = evaluate_paths(ref, est)
    assert [r["name"] for r in report["rows"]] == ["x", "y"] and report["n_failed"] == 0
    for r in report["rows"]:
        for k in METRIC_KEYS:
            assert r["metrics"][k] == pytest.approx(1.0, abs=1e-3), (r["name"], k)  # JSON rounds times
