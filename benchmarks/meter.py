"""Meter and tempo accuracy on a rendered dev set: the trained meter model against the rules, same beats.

    python benchmarks/meter.py [--devset devset] [--subset dev|test|all] [--weights FILE] [-v]

For each item: basic-pitch activations (cached in ``.cache/activations/``), the shipped decoder and
clean-up, then `musicllm.analysis.rhythm.estimate_rhythm` four times: ``meter_method="rules"``;
the model restricted to the rules' tempo (``model_tempo_level=False``, "model@rules-tempo"); the model
choosing meter and tempo level without its tempo prior per meter (``meter_tempo_prior=False``,
"model-no-prior"); and the default, the model with it ("model"). Printed per split:
meter exact (numerator and denominator), tempo within 4 % of the true quarter notes per minute,
both, and the downbeats' F-measure (bar lines within 70 ms of the true ones, `mir_eval.onset.f_measure`,
mean over items). ``-v`` lists every item either method gets wrong and the model's confusion matrix.
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
    res: dict[str, dict[str, list[tuple[bool, bool, float]]]] = {}
    confusion: collections.Counter = collections.Counter()
    methods = {"rules": rhythm.RhythmConfig(meter_method="rules"),
               "model@rules-tempo": rhythm.RhythmConfig(model_tempo_level=False),
               "model-no-prior": rhythm.RhythmConfig(meter_tempo_prior=False),
               "model": rhythm.RhythmConfig()}
    seconds = dict.fromkeys(methods, 0.0)
    for r, act, gt in items:
        ns = transcribed_raw_notes(act)
        row = {}
        for method, cfg in methods.items():
            t0 = time.perf_counter()
            rh = rhythm.estimate_rhythm(act, ns, cfg)
            seconds[method] += time.perf_counter() - t0
            row[method] = (str(rh.meter) == gt["meter"], abs(rh.tempo_qpm / gt["tempo_qpm"] - 1) <= 0.04, rh)
        confusion[(gt["meter"], str(row["model"][2].meter))] += 1
        for sub in (r["subset"], "all"):
            for method, (m_ok, t_ok, rh) in row.items():
                res.setdefault(sub, {}).setdefault(method, []).append((m_ok, t_ok, _downbeat_f(gt, rh)))
        if args.verbose and not all(m_ok and t_ok for m_ok, t_ok, _ in row.values()):
            print(f"{r['id']:<8} {r['subset']:<5} {r.get('source', ''):<14} truth {gt['meter']:<5} {gt['tempo_qpm']:>6.1f}"
                  + "".join(f"  {m} {rh.meter!s:<5} {rh.tempo_qpm:>6.1f}" for m, (_, _, rh) in row.items()))
    print(f"\nmeter / tempo (within 4 %) / both, {args.devset}")
    print(f"{'':<11}" + "".join(f"{m:>30}" for m in methods))
    print(f"{'split':<6} {'n':>4}" + f"  {'meter':>7} {'tempo':>6} {'both':>6} {'down':>6}" * len(methods))
    for sub in ("dev", "test", "all"):
        if sub not in res:
            continue
        cols = []
        for method in methods:
            m_ok, t_ok, down = (np.array(v) for v in zip(*res[sub][method], strict=True))
            cols.append(f"{m_ok.mean():>7.3f} {t_ok.mean():>6.3f} {(m_ok & t_ok).mean():>6.3f} {down.mean():>6.3f}")
        print(f"{sub:<6} {len(res[sub]['rules']):>4}  " + "  ".join(cols))
    n = max(len(items), 1)
    print("time per item (whole estimate_rhythm): "
          + ", ".join(f"{m} {t / n * 1000:.1f} ms" for m, t in seconds.items())
          + f"; model / rules {seconds['model'] / max(seconds['rules'], 1e-9):.2f}")
    if args.verbose:
        print("model confusion (truth -> chosen):", dict(sorted(confusion.items())))


def _downbeat_f(gt: dict, rh) -> float:
    """F-measure of the estimated downbeats against the true ones inside the clip (70 ms window)."""
    import mir_eval

    ref = np.array([t for t in gt["downbeats"] if 0 <= t <= gt["duration_s"]])
    est = np.array([t for t in rh.downbeat_times_s if 0 <= t <= gt["duration_s"]])
    return float(mir_eval.onset.f_measure(ref, est, window=0.07)[0]) if len(ref) and len(est) else 0.0


if __name__ == "__main__":
    main()
