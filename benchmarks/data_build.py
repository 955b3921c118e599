"""Dataset build throughput: rendered items per minute, against rendering alone in this process.

    python benchmarks/data_build.py [--items 200] [--workers 2] [--renderings 2] [--max-seconds 20]
                                    [--corpus DIR|music21:COLLECTION] [--out DIR]

1. Builds about ``--items`` items (``musicllm.data.build.build_dataset``, local engine, ``--workers``
   processes, TimGM6mb, clips of at most ``--max-seconds`` s) into a fresh folder and reports items
   per minute of wall-clock time, worker start-up included (the target: 200 twenty-second items per
   minute on 2 cores), with the mean clip length and the seconds per item of each stage.
2. The in-process peer: the same items' ground-truth scores rendered again with
   ``musicllm.audio.render.render_parts`` alone (SoundFont synthesis, one process), as items per
   minute; printed with the ratio build / render-only (how much the rest of the pipeline costs, and
   what the workers give back).
The default corpus is the shared Nottingham folder (GPL-3.0 folk tunes) when present, else
``music21:ryansMammoth``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

NOTTINGHAM = "/work/shared/data/nottingham/ABC_cleaned"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--renderings", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=20.0)
    ap.add_argument("--corpus", default=NOTTINGHAM if Path(NOTTINGHAM).is_dir() else "music21:ryansMammoth")
    ap.add_argument("--out", default=None, help="dataset folder (default: a temporary one, removed after)")
    args = ap.parse_args(argv)

    from musicllm.data.build import build_dataset, read_manifest
    from musicllm.data.rendering import RenderSettings

    settings = RenderSettings(seed=0, max_seconds=args.max_seconds)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="musicllm-bench-")) / "ds"
    # Some pieces fail (meter or key changes); ask for a third more pieces than the items need.
    limit = math.ceil(args.items / args.renderings * 1.35)
    t0 = time.perf_counter()
    report = build_dataset(args.corpus, out, renderings=args.renderings, limit=limit, settings=settings,
                           workers=args.workers, engine="local")
    wall = time.perf_counter() - t0
    rows = read_manifest(out)
    n = report.items_built
    build_rate = 60.0 * n / wall
    mean_s = sum(r["duration_s"] for r in rows) / max(1, len(rows))
    print(f"corpus {args.corpus}: {report.pieces} pieces x {args.renderings} renderings -> {n} items "
          f"(mean {mean_s:.1f} s, {report.audio_hours_built * 60:.1f} min of audio), "
          f"{len(report.failures)} failed: {report.failures_by_reason()}")
    print(f"build ({args.workers} workers, wall clock incl. start-up): {wall:.1f} s = {build_rate:.0f} items/min "
          f"({build_rate / args.workers:.0f} per worker), {report.audio_hours_built * 3600 / wall:.0f}x real time")
    per_item = {k: 1000.0 * v / max(1, n) for k, v in sorted(report.stage_s.items())}
    print("ms per item and stage (summed over workers): "
          + ", ".join(f"{k.removesuffix('_s')} {v:.0f}" for k, v in per_item.items())
          + f"; total {sum(per_item.values()):.0f}")

    # The in-process peer: SoundFont synthesis of the same scores, nothing else.
    from musicllm.audio.render import available_soundfonts, render_parts
    from musicllm.score.jsonio import score_from_dict

    font = available_soundfonts()["TimGM6mb"]
    scores = []
    for r in rows:
        gt = json.loads((out / r["facts"]).read_text())
        score = score_from_dict(gt)
        score.duration_s = gt["rendering"]["music_end_s"]
        scores.append(score)
    render_parts(scores[0], soundfont=font, sr=settings.sr)  # load the SoundFont outside the timing
    t0 = time.perf_counter()
    for score in scores:
        render_parts(score, soundfont=font, sr=settings.sr, tail_s=1.0)
    render_wall = time.perf_counter() - t0
    render_rate = 60.0 * len(scores) / render_wall
    print(f"render only (1 process, in-process peer): {render_wall:.1f} s = {render_rate:.0f} items/min")
    print(f"ratio build / render-only: {build_rate / render_rate:.2f}")
    ok = build_rate >= 200.0 and mean_s >= 0.9 * args.max_seconds
    print(f"target >= 200 items/min of ~{args.max_seconds:g} s items: {'met' if ok else 'NOT met'}")
    if not args.out:
        shutil.rmtree(out.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
