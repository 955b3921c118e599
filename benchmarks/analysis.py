"""Analysis benchmark: ``analyze()`` against its own transcription step, side by side, on the dev set.

    python benchmarks/analysis.py [--devset devset] [--subset test|dev|all] [--limit N] [--json OUT]

For every item, in this process (each path warmed up once first):
- peer: ``musicllm.transcribe(path)`` (decoding, notes, beats, tempo, meter, key);
- ours: ``musicllm.analysis.analyze.analyze(path)`` (all of the above plus chords, sections, loudness,
  instrument/genre/mood tags and the note summary).
Printed: real-time factors (processing seconds per second of audio, 2 cores here) and their ratio;
tempo within 4 % of the ground truth's quarter-note tempo; key (tonic and major/minor) exact; chord
weighted overlap (mir_eval ``majmin``, duration-weighted over the item) against chord labels derived
from the score's notes (``musicllm.data.chord_labels``; a derived reference, not human annotation), on
ensemble items (solo melodies have no harmony to label).
Targets (issue 3): RTF at most 0.1; tempo >= 95 %; key >= 90 %; chords >= 0.70.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _chord_overlap(est, gt: dict) -> float:
    import mir_eval

    from musicllm.data.chord_labels import chord_labels_from_notes

    notes = [n for p in gt["parts"] if not p.get("is_drum") for n in p["notes"]]
    end = float(gt.get("music_end_s") or gt["duration_s"])
    ref = chord_labels_from_notes(notes, gt["beats"], end_s=end)
    if not ref or not est:
        return float("nan")
    ref_iv = np.array([[a, b] for a, b, _ in ref])
    ref_lab = [lab for _, _, lab in ref]
    est_iv = np.array([[c.start_s, c.end_s] for c in est])
    est_lab = [c.label for c in est]
    est_iv, est_lab = mir_eval.util.adjust_intervals(est_iv, est_lab, ref_iv.min(), ref_iv.max(),
                                                     mir_eval.chord.NO_CHORD, mir_eval.chord.NO_CHORD)
    iv, r, e = mir_eval.util.merge_labeled_intervals(ref_iv, ref_lab, est_iv, est_lab)
    comp = mir_eval.chord.majmin(r, e)
    return float(mir_eval.chord.weighted_accuracy(comp, mir_eval.util.intervals_to_durations(iv)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devset", default="devset")
    ap.add_argument("--subset", default="test", choices=["dev", "test", "all"])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", default=None, help="write per-item results here")
    args = ap.parse_args()
    import logging
    import warnings

    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    from transcription import _load_items  # benchmarks/transcription.py: builds the dev set if missing

    from musicllm.analysis.analyze import analyze
    from musicllm.analysis.transcribe import transcribe
    from musicllm.score.model import Key

    devset = Path(args.devset)
    rows = _load_items(devset, args.subset, args.limit)
    first = devset / rows[0]["audio"]
    transcribe(first)
    analyze(first)  # warm-up: model sessions, tagger weights
    res = []
    for i, row in enumerate(rows):
        wav = devset / row["audio"]
        gt = json.loads((devset / f"{row['id']}.json").read_text())
        t0 = time.perf_counter()
        transcribe(wav)
        t_tr = time.perf_counter() - t0
        t0 = time.perf_counter()
        facts = analyze(wav)
        t_an = time.perf_counter() - t0
        gk, ek = Key.parse(gt["key"]), Key.parse(facts.key.value)
        r = {
            "id": row["id"], "kind": row["kind"], "dur": facts.duration_s, "t_transcribe": t_tr, "t_analyze": t_an,
            "tempo_ok": abs(facts.tempo_qpm.value - gt["tempo_qpm"]) / gt["tempo_qpm"] <= 0.04,
            "key_ok": gk.tonic_pc == ek.tonic_pc and gk.major_or_minor == ek.major_or_minor,
            "chords": _chord_overlap(facts.chords, gt) if row["kind"] == "ensemble" else float("nan"),
        }
        res.append(r)
        print(f"[{i + 1}/{len(rows)}] {row['id']:<10} {row['kind']:<8} tempo {facts.tempo_qpm.value}/{gt['tempo_qpm']} "
              f"key {facts.key.value}/{gt['key']} chords {r['chords']:.3f} rtf {t_an / facts.duration_s:.3f}",
              file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    dur = sum(r["dur"] for r in res)
    t_tr = sum(r["t_transcribe"] for r in res)
    t_an = sum(r["t_analyze"] for r in res)
    chords = [r["chords"] for r in res if not np.isnan(r["chords"])]
    print(f"\nAnalysis benchmark, dev set subset '{args.subset}' ({len(res)} items, {dur / 60:.1f} min of audio)")
    print(f"tempo within 4 %: {np.mean([r['tempo_ok'] for r in res]):.1%}   key exact: "
          f"{np.mean([r['key_ok'] for r in res]):.1%}   chords majmin weighted overlap (ensemble, "
          f"{len(chords)} items): {np.mean(chords) if chords else float('nan'):.3f}")
    print(f"real-time factor ({os.cpu_count()} cores): transcribe {t_tr / dur:.4f}, analyze {t_an / dur:.4f}, "
          f"ratio analyze/transcribe {t_an / t_tr:.2f}")


if __name__ == "__main__":
    main()
