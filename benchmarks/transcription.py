"""Transcription benchmark: our pipeline vs raw basic-pitch, side by side, on the rendered dev set.

    python benchmarks/transcription.py [--devset devset] [--subset test|dev|all] [--limit N]
    python benchmarks/transcription.py --memory 10      # peak memory on a 10-minute recording

For every item both systems run on the same WAV in this process, each warmed up once first:
- raw: ``basic_pitch.inference.predict(path)`` with its defaults (its own loading, model and decoding);
- ours: ``musicllm.transcribe(path)`` and then writing every format (ABC, MIDI, MusicXML, SVG, JSON).
Printed: note onset F1 at 50 ms (mir_eval, 50 cents, onset only), onset+offset F1, tempo within 4 %,
meter exact, key (tonic and major/minor) exact, the ABC reward of our score (total, and its instrument
component with our recognised instruments and with unnamed parts "Part N" on program 0), and
real-time factors (processing seconds per second of audio) with their ratio ours/raw. Ground truth comes from the dev set's JSON files.
The dev set is built by ``make devset`` (``python -m musicllm.data.devset devset ...``) if missing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _load_items(devset: Path, subset: str, limit: int | None) -> list[dict]:
    manifest = devset / "manifest.jsonl"
    if not manifest.exists():
        print(f"building the dev set in {devset} (first run only)...", file=sys.stderr)
        from musicllm.data.devset import build_devset

        build_devset(devset, n_ensemble=60, n_solo=60, seed=0)
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    if subset != "all":
        rows = [r for r in rows if r.get("subset") == subset]
    return rows[:limit] if limit else rows


def _gt_score(devset: Path, row: dict):
    from musicllm.score.jsonio import score_from_dict

    return score_from_dict(json.loads((devset / f"{row['id']}.json").read_text()))


def _raw_score(path: Path):
    import contextlib
    import io

    from basic_pitch.inference import predict

    from musicllm.score.model import Note, Part, Score

    with contextlib.redirect_stdout(io.StringIO()):  # predict() prints "Predicting MIDI for ..."
        _, _, events = predict(str(path))
    notes = [Note(int(p), float(s), float(e), int(round(a * 127))) for s, e, p, a, *_ in events]
    return Score(parts=[Part("basic-pitch", 0, notes)])


def _key_match(a, b) -> bool:
    return a.tonic_pc == b.tonic_pc and a.major_or_minor == b.major_or_minor


def _key_mirex(est, ref) -> float:
    """MIREX weighted key score (mir_eval.key): 1 same, 0.5 fifth, 0.3 relative, 0.2 parallel."""
    import mir_eval

    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    return float(mir_eval.key.weighted_score(f"{names[ref.tonic_pc]} {ref.major_or_minor}",
                                             f"{names[est.tonic_pc]} {est.major_or_minor}"))


def _meter_structure(m) -> tuple[bool, str]:
    """What audio determines: simple or compound, duple or triple (4/4 = 2/4 = 2/2, 6/8 = 12/8)."""
    return m.is_compound, "triple" if m.beats_per_bar == 3 else "duple"


def _unnamed(score):
    """``score`` with its parts renamed "Part N" on program 0, as without instrument recognition."""
    import dataclasses

    return dataclasses.replace(score, parts=[dataclasses.replace(p, name=f"Part {i + 1}", program=0)
                                             for i, p in enumerate(score.parts)])


def run_accuracy(args) -> None:
    import logging
    import warnings

    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    from musicllm.analysis.transcribe import FORMATS, transcribe
    from musicllm.evaluation.abc_reward import score_reward
    from musicllm.evaluation.transcription import note_metrics

    devset = Path(args.devset)
    rows = _load_items(devset, args.subset, args.limit)
    if not rows:
        sys.exit(f"no items in {devset} for subset {args.subset!r}")
    first = devset / rows[0]["audio"]
    _raw_score(first)  # warm-up: load models, JIT, caches
    transcribe(first)
    res = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, row in enumerate(rows):
            wav = devset / row["audio"]
            gt = _gt_score(devset, row)
            t0 = time.perf_counter()
            raw = _raw_score(wav)
            t_raw = time.perf_counter() - t0
            t0 = time.perf_counter()
            tr = transcribe(wav)
            tr.write(tmp, row["id"], FORMATS)
            t_ours = time.perf_counter() - t0
            m_raw = note_metrics(gt, raw)
            m_ours = note_metrics(gt, tr.score)
            est = tr.score
            reward = score_reward(est, gt)
            res.append({
                "id": row["id"], "kind": row["kind"], "dur": row["duration_s"],
                "f1_raw": m_raw["onset_f1"], "f1_ours": m_ours["onset_f1"],
                "f1off_raw": m_raw["onset_offset_f1"], "f1off_ours": m_ours["onset_offset_f1"],
                "t_raw": t_raw, "t_ours": t_ours,
                "tempo_ok": abs(est.tempo_qpm - gt.tempo_qpm) / gt.tempo_qpm <= 0.04,
                "meter_ok": str(est.meter) == str(gt.meter),
                "key_ok": _key_match(est.key, gt.key),
                "key_mirex": _key_mirex(est.key, gt.key),
                "meter_structure_ok": _meter_structure(est.meter) == _meter_structure(gt.meter),
                "reward": reward.total, "reward_instr": reward.instrument,
                "reward_instr_unnamed": score_reward(_unnamed(est), gt).instrument,
                "tempo": (round(est.tempo_qpm, 1), round(gt.tempo_qpm, 1)),
                "meter": (str(est.meter), str(gt.meter)), "key": (str(est.key), str(gt.key)),
            })
            r = res[-1]
            print(f"[{i + 1}/{len(rows)}] {row['id']:<28} {row['kind']:<8} F1 raw {r['f1_raw']:.3f} ours "
                  f"{r['f1_ours']:.3f} | tempo {r['tempo'][0]}/{r['tempo'][1]} meter {r['meter'][0]}/"
                  f"{r['meter'][1]} key {r['key'][0]}/{r['key'][1]}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    _print_table(res, args.subset)


def _print_table(res: list[dict], subset: str) -> None:
    print(f"\nTranscription benchmark, dev set subset '{subset}' ({len(res)} items, "
          f"{sum(r['dur'] for r in res) / 60:.1f} min of audio)")
    print("note onset F1 @ 50 ms (mir_eval, onset only) | onset+offset F1 | tempo within 4% | meter exact |"
          " meter structure (simple/compound x duple/triple) | key exact | key MIREX weighted score |\n"
          "ABC reward total | its instrument component, recognised instruments | (none): parts unnamed")
    print(f"{'group':<10}{'n':>4}{'F1 raw':>9}{'F1 ours':>9}{'diff':>8}{'F1off raw':>11}{'F1off ours':>11}"
          f"{'tempo':>8}{'meter':>8}{'struct':>8}{'key':>8}{'mirex':>8}{'reward':>8}{'instr':>7}{'(none)':>8}")
    for kind in ("ensemble", "solo", "all"):
        g = [r for r in res if kind == "all" or r["kind"] == kind]
        if not g:
            continue

        def m(k, g=g):
            return float(np.mean([r[k] for r in g]))

        print(f"{kind:<10}{len(g):>4}{m('f1_raw'):>9.3f}{m('f1_ours'):>9.3f}{m('f1_ours') - m('f1_raw'):>+8.3f}"
              f"{m('f1off_raw'):>11.3f}{m('f1off_ours'):>11.3f}{m('tempo_ok'):>8.0%}{m('meter_ok'):>8.0%}"
              f"{m('meter_structure_ok'):>8.0%}{m('key_ok'):>8.0%}{m('key_mirex'):>8.3f}{m('reward'):>8.3f}"
              f"{m('reward_instr'):>7.3f}{m('reward_instr_unnamed'):>8.3f}")
    dur = sum(r["dur"] for r in res)
    t_raw = sum(r["t_raw"] for r in res)
    t_ours = sum(r["t_ours"] for r in res)
    print(f"\nreal-time factor (seconds of processing per second of audio, {os.cpu_count()} cores): "
          f"raw basic-pitch {t_raw / dur:.4f}, ours (all formats written) {t_ours / dur:.4f}, "
          f"ratio ours/raw {t_ours / t_raw:.2f}")


_CHILD = r"""
import os, resource, sys, time, tempfile, logging, warnings
logging.disable(logging.WARNING); warnings.filterwarnings("ignore")
which, path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
if which == "raw":
    from basic_pitch.inference import predict
    predict(path)
else:
    from musicllm.analysis.transcribe import FORMATS, transcribe
    tr = transcribe(path)
    with tempfile.TemporaryDirectory() as d:
        tr.write(d, "long", FORMATS)
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def run_memory(args) -> None:
    """Peak RSS of each system on an N-minute recording made by concatenating dev-set items."""
    import soundfile as sf

    devset = Path(args.devset)
    rows = _load_items(devset, "all", None)
    minutes = args.memory
    with tempfile.TemporaryDirectory() as tmp:
        long_wav = Path(tmp) / "long.wav"
        target = int(minutes * 60 * 22050)
        chunks, n = [], 0
        i = 0
        while n < target:
            x, sr = sf.read(devset / rows[i % len(rows)]["audio"], dtype="float32")
            chunks.append(x)
            n += len(x)
            i += 1
        sf.write(long_wav, np.concatenate(chunks)[:target], 22050)
        out = {}
        for which in ("raw", "ours"):
            p = subprocess.run([sys.executable, "-c", _CHILD, which, str(long_wav)], capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(p.stderr[-2000:])
            secs, mb = map(float, p.stdout.split()[-2:])
            out[which] = (secs, mb)
    print(f"\n{minutes:g}-minute recording: peak memory (max RSS) raw basic-pitch {out['raw'][1]:.0f} MB, "
          f"ours (all formats) {out['ours'][1]:.0f} MB, ratio {out['ours'][1] / out['raw'][1]:.2f}; "
          f"time raw {out['raw'][0]:.1f} s, ours {out['ours'][0]:.1f} s (RTF ours {out['ours'][0] / (minutes * 60):.4f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devset", default="devset")
    ap.add_argument("--subset", default="test", choices=["dev", "test", "all"])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", default=None, help="also write per-item results to this JSON file")
    ap.add_argument("--memory", type=float, default=None, metavar="MINUTES",
                    help="measure peak memory and time on a recording of this many minutes instead")
    args = ap.parse_args()
    if args.memory:
        run_memory(args)
    else:
        run_accuracy(args)


if __name__ == "__main__":
    _ = resource  # used in the child
    main()
