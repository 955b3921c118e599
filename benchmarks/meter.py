"""Meter and tempo accuracy on a rendered dev set: the trained meter model against the rules, same beats.

    python benchmarks/meter.py [--devset devset] [--subset dev|test|all] [--weights FILE] [-v]

For each item: basic-pitch activations (cached in ``.cache/activations/``), the shipped decoder and
clean-up, then `musicllm.analysis.rhythm.estimate_rhythm` twice, with ``meter_method="rules"`` and
``"model"`` (the model chooses among the meters at the tracked tempo, so the tempo column is the
same for both unless the model reads a compound meter as simple or back). Printed per split:
meter exact (numerator and denominator), tempo within 4 % of the true quarter notes per minute, and
both. ``-v`` lists every item either method gets wrong and the model's confusion matrix.
The seed-0 dev set's pieces are excluded from the model's training data (see
`musicllm.training.meter_model`); dev sets built with other seeds share some tunes with it.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from tune_transcription import load_items  # noqa: E402

from musicllm.analysis import meter_model, rhythm  # noqa: E402
from musicllm.training.key_model import transcribed_raw_notes  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devset", default="devset")
    ap.add_argument("--subset", default="all", choices=["dev", "test", "all"])
    ap.add_argument("--weights", default=None, help="weights file (default: the shipped one)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.weights:
        meter_model.load_model.cache_clear()
        meter_model.WEIGHTS_FILE = Path(args.weights)
    items = load_items(Path(args.devset), args.subset)
    res: dict[str, dict[str, list[tuple[bool, bool]]]] = {}
    confusion: collections.Counter = collections.Counter()
    seconds = {"rules": 0.0, "model": 0.0}
    for r, act, gt in items:
        ns = transcribed_raw_notes(act)
        row = {}
        for method in ("rules", "model"):
            t0 = time.perf_counter()
            rh = rhythm.estimate_rhythm(act, ns, rhythm.RhythmConfig(meter_method=method))
            seconds[method] += time.perf_counter() - t0
            row[method] = (str(rh.meter) == gt["meter"], abs(rh.tempo_qpm / gt["tempo_qpm"] - 1) <= 0.04, rh)
        confusion[(gt["meter"], str(row["model"][2].meter))] += 1
        for sub in (r["subset"], "all"):
            for method, (m_ok, t_ok, _) in row.items():
                res.setdefault(sub, {}).setdefault(method, []).append((m_ok, t_ok))
        if args.verbose and not (row["rules"][0] and row["model"][0]):
            print(f"{r['id']:<8} {r['subset']:<5} {r.get('source', ''):<14} truth {gt['meter']:<5} {gt['tempo_qpm']:>6.1f}"
                  f"  rules {row['rules'][2].meter!s:<5} {row['rules'][2].tempo_qpm:>6.1f}"
                  f"  model {row['model'][2].meter!s:<5} {row['model'][2].tempo_qpm:>6.1f}")
    print(f"\nmeter / tempo (within 4 %) / both, {args.devset}")
    print(f"{'split':<6} {'n':>4}  {'rules meter':>11} {'tempo':>6} {'both':>6}  {'model meter':>11} {'tempo':>6} {'both':>6}")
    for sub in ("dev", "test", "all"):
        if sub not in res:
            continue
        cols = []
        for method in ("rules", "model"):
            a = np.array(res[sub][method])
            cols.append(f"{a[:, 0].mean():>11.3f} {a[:, 1].mean():>6.3f} {(a[:, 0] & a[:, 1]).mean():>6.3f}")
        print(f"{sub:<6} {len(res[sub]['rules']):>4}  {cols[0]}  {cols[1]}")
    n = max(len(items), 1)
    print(f"meter decision time per item: rules {seconds['rules'] / n * 1000:.1f} ms, model {seconds['model'] / n * 1000:.1f} ms"
          f" (whole estimate_rhythm; ratio {seconds['model'] / max(seconds['rules'], 1e-9):.2f})")
    if args.verbose:
        print("model confusion (truth -> chosen):", dict(sorted(confusion.items())))


if __name__ == "__main__":
    main()
