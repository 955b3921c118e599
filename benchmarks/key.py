"""Key accuracy on the rendered dev set: the trained model against the profile method, same notes.

    python benchmarks/key.py [--devset devset] [--subset dev|test|all] [--weights FILE] [-v]

Notes are what ``transcribe()`` passes to ``tonality.estimate_key`` (cached basic-pitch activations
in ``.cache/activations/``, shipped decoder thresholds and clean-up). A key is right when tonic pitch
class and major/minor match the ground truth (modal keys reduced as in the dev set). ``--subset all``
prints dev, test and all; the ``test`` split is held out: look at it once, after choosing on ``dev``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from tune_transcription import load_items  # noqa: E402

from musicllm.analysis import key_model, tonality  # noqa: E402
from musicllm.score.model import Key  # noqa: E402
from musicllm.training.key_model import transcribed_notes  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devset", default="devset")
    ap.add_argument("--subset", default="dev", choices=["dev", "test", "all"])
    ap.add_argument("--weights", default=None, help="weights file (default: the shipped one)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the items either method gets wrong")
    args = ap.parse_args()
    model = key_model.load_model(args.weights)
    items = load_items(Path(args.devset), args.subset)
    hits: dict[str, dict[str, list[bool]]] = {}
    for r, act, gt in items:
        p, on, off, amp = transcribed_notes(act)
        truth = Key.parse(gt["key"])
        old = tonality.estimate_key(p, on, off, amp, method="profiles").key
        prob = key_model.key_probabilities(p, on, off, amp, model=model)
        new = tonality._spelled(int(np.argmax(prob)))
        row = {name: k.tonic_pc == truth.tonic_pc and k.major_or_minor == truth.major_or_minor
               for name, k in (("profiles", old), ("model", new))}
        for sub in (r["subset"], "all"):
            for name, ok in row.items():
                hits.setdefault(sub, {}).setdefault(name, []).append(ok)
        if args.verbose and not all(row.values()):
            print(f"{r['id']:<8} {r['subset']:<5} truth {gt['key']:<10} profiles {old!s:<10} model {new}")
    for sub in ("dev", "test", "all"):
        if sub in hits and (sub != "all" or args.subset == "all"):
            h = hits[sub]
            print(f"{sub:<5} n={len(h['model']):<4} profiles {np.mean(h['profiles']):.3f}  model {np.mean(h['model']):.3f}"
                  f"  (model right & profiles wrong {sum(m and not o for m, o in zip(h['model'], h['profiles'], strict=True))},"
                  f" model wrong & profiles right {sum(o and not m for m, o in zip(h['model'], h['profiles'], strict=True))})")


if __name__ == "__main__":
    main()
