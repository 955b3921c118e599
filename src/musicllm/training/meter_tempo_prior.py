"""Training recipe of the meter model's tempo prior (`musicllm.analysis.meter_tempo_prior`).

The base meter model (`musicllm.training.meter_model`) is fitted first. This recipe then learns, on
dev-set-style renderings the base model did not see (`PRIOR_SETS`, a third of them played with
expressive timing: tempo drift, ritardando, held fermatas, as real performers play), how usual each
felt-beat tempo is for each meter (a Gaussian kernel density of log2 tempo per meter, rare meters shrunk
towards all meters pooled with `PSEUDO_COUNT` pseudo-items), and the two weights that combine that
log-density with the base score (a conditional logit over each item's candidates with the base score as
one feature and the log-density as the other). The kernel bandwidth is chosen by 5-fold cross-validation
grouped by tune title, on the share of items whose chosen reading has the true meter and tempo.

Data::

    for s in 17 18 19 22; do
        python -m musicllm.data.devset .cache/meterdata/s$s --n-ensemble 150 --n-solo 150 --seed $s
    done
    for s in 20 23; do
        python -m musicllm.data.devset .cache/meterdata/x$s --n-ensemble 150 --n-solo 150 --seed $s --expressive 1
    done
    python -m musicllm.training.meter_tempo_prior --devset devset /tmp/ds2 /tmp/ds3
    python benchmarks/meter.py --devset devset       # and /tmp/ds2, /tmp/ds3 (held out)

(about 5 minutes per set to render and 5 for the basic-pitch activations on 2 cores; the evaluation
sets as in `musicllm.training.meter_model`). Pieces whose normalised title is in an evaluation set are
left out. The tunes of these seeds overlap the base model's training tunes in other renderings, so
the base scores are a little more confident on them than on new music.

Shipped (2026-12-07): 1,417 items of 1,800 (the rest share a title with an evaluation set), bandwidth
0.1 octave chosen from 0.04 / 0.06 / 0.1 / 0.15 (grouped CV 0.857 / 0.860 / 0.860 / 0.860 meter and
tempo right, against 0.859 for the base model alone), base_weight 0.84, weight 0.72. Held out
(``benchmarks/meter.py``, its ``model-no-prior`` and ``model`` columns, the 440 items of the seed 0, 1
and 2 sets): meter 88.6 -> 90.7 %, tempo 96.4 -> 97.7 % (seed 0: meter 87.5 -> 88.3 %, tempo 95.0 ->
96.7 %). Played expressively: seed 0 with ``--expressive 1`` meter 86.7 -> 85.8 %, tempo 94.2 -> 93.3 %;
a seed-21 set with ``--expressive 0.7`` (160) unchanged at 90.6 % and 91.2 %. Earlier fits, same held-out
sets: on s17-s19 only (712 steady items, weight 0.93) 89.8 % / 97.5 %, seed 21 expressive 89.4 %; with
x20 added (944 items) 90.2 % / 97.7 %, seed 21 expressive 90.0 %: the expressive sets make the prior
cost less on expressive playing. A per-meter bias beside the prior cross-validated no better.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from musicllm.training.key_model import grouped_folds, norm_title

PRIOR_SETS = ("s17", "s18", "s19", "x20", "s22", "x23")
"""This recipe's dev-style sets, folders under ``.cache/meterdata``: ``sN`` played steadily with seed N,
``xN`` with expressive timing (none of these seeds is among `musicllm.training.meter_model.DEVSTYLE_SEEDS`)."""
GRID_LOG2_BPM = (np.log2(20.0), np.log2(400.0), 433)  # 0.01 octave steps from 20 to 400 beats a minute
PSEUDO_COUNT = 20.0
FLOOR = 1e-3  # lowest density per octave (log -6.9): tempos never seen are unusual, not impossible


def kde_log_density(values: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian kernel density (per octave) of ``values`` (log2 tempos) on ``grid``; zeros without values."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return np.zeros(len(grid))
    k = np.exp(-0.5 * ((grid[:, None] - v[None, :]) / bandwidth) ** 2)
    return k.sum(axis=1) / (len(v) * bandwidth * np.sqrt(2 * np.pi))


def prior_tables(meter_tempos: list[tuple[str, float]], bandwidth: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(grid of log2 felt-beat bpm, per meter of the model the log-density on it) from the true
    ``(meter, quarter notes per minute)`` of training items; a meter's density is shrunk towards
    all meters' with `PSEUDO_COUNT` pseudo-items and floored at `FLOOR`."""
    from musicllm.analysis.meter_model import METERS
    from musicllm.analysis.meter_tempo_prior import felt_beat_bpm
    from musicllm.score.model import Meter

    grid = np.linspace(*GRID_LOG2_BPM)
    obs: dict[str, list[float]] = {m: [] for m in METERS}
    for meter, qpm in meter_tempos:
        if meter in obs:
            obs[meter].append(float(np.log2(felt_beat_bpm(Meter.parse(meter), qpm))))
    pooled = kde_log_density(np.concatenate([np.array(v) for v in obs.values()]), grid, bandwidth)
    tables = {}
    for m, v in obs.items():
        d = (len(v) * kde_log_density(np.array(v), grid, bandwidth) + PSEUDO_COUNT * pooled) / (len(v) + PSEUDO_COUNT)
        tables[m] = np.log(np.maximum(d, FLOOR))
    return grid, tables


def fit_weights(items: list[dict], model, prior, ridge: float = 1e-3) -> tuple[float, float]:
    """(base_weight, weight) maximising the mean log of the summed probability of each item's right
    candidates (true meter and tempo, any phase), with ``ridge`` x weight^2; ``model``'s base scores and
    ``prior``'s log-densities are the two features."""
    from scipy.optimize import minimize

    from musicllm.training.meter_model import candidate_groups, group_nll

    items, starts, group, right = candidate_groups(items)
    s = np.concatenate([model.scores(np.asarray(it["x"], dtype=float)) for it in items])
    g = np.array([prior.log_prior(c.meter, c.qpm) for it in items for c in it["cands"]], dtype=float)

    def loss(w: np.ndarray) -> float:
        return group_nll(w[0] * s + w[1] * g, starts, group, right)[0] + ridge * float(w[1] ** 2)

    res = minimize(loss, np.array([1.0, 0.0]), method="Powell", options={"xtol": 1e-4, "ftol": 1e-9})
    return float(res.x[0]), float(res.x[1])


def accuracy(items: list[dict], model) -> float:
    """Share of items whose chosen reading (`musicllm.analysis.meter_model.pick` on ``model``'s scores,
    the tempo prior included) has the true meter and tempo; items with no candidate count as misses."""
    from musicllm.analysis.meter_model import pick, softmax

    hits = [bool(len(it["x"])) and pick(it["cands"], softmax(model.candidate_scores(it["cands"], it["x"]))) in it["y"]
            for it in items]
    return float(np.mean(hits)) if hits else 0.0


def train(devstyle: list[Path], devsets: list[Path], weights: Path, bandwidths: list[float], folds: int = 5,
          cache: Path | None = None) -> dict:
    """Grouped CV over ``bandwidths``, final fit, and the tempo prior written into ``weights`` (the
    base model's weights file, whose base weights stay as they are)."""
    from musicllm.analysis.meter_model import MeterModel
    from musicllm.analysis.meter_tempo_prior import TempoPrior
    from musicllm.files import atomic_write_text
    from musicllm.training.meter_model import held_out_titles, item_features, list_items

    dev_titles = held_out_titles(devsets)
    base = replace(MeterModel.from_dict(json.loads(weights.read_text())), tempo_prior=None)  # the base model alone
    rows = [r for r in list_items(None, devstyle) if norm_title(r["title"]) not in dev_titles]
    items = item_features(rows, cache)
    groups = np.array([norm_title(it["row"]["title"]) or it["row"]["id"] for it in items])
    fold = grouped_folds(groups, folds)

    def fitted(train_items: list[dict], bw: float):
        grid, tables = prior_tables([(it["row"]["meter"], it["row"]["tempo_qpm"]) for it in train_items], bw)
        base_weight, w = fit_weights(train_items, base, TempoPrior(grid, tables, 1.0, 0.0))
        return replace(base, tempo_prior=TempoPrior(grid, tables, base_weight, w, {"bandwidth_octaves": bw}))

    cv = {}
    for bw in bandwidths:
        hits = 0.0
        for k in range(folds):
            test = [it for it, f in zip(items, fold, strict=True) if f == k]
            m = fitted([it for it, f in zip(items, fold, strict=True) if f != k], bw)
            hits += accuracy(test, m) * len(test)
        cv[bw] = hits / len(items)
        print(f"bandwidth {bw:g} octave: grouped {folds}-fold accuracy (meter and tempo right) {cv[bw]:.4f}",
              file=sys.stderr)
    best = max(cv, key=lambda v: (cv[v], -v))
    model = fitted(items, best)
    meta = {"bandwidth_octaves": best, "items": len(items), "trained_on": sum(bool(it["y"]) for it in items),
            "pieces": len(set(groups.tolist())), "cv_folds": folds,
            "cv_accuracy": {str(k): round(v, 4) for k, v in cv.items()},
            "base_accuracy": round(accuracy(items, base), 4),
            "meters": {m: int(sum(it["row"]["meter"] == m for it in items)) for m in
                       sorted({it["row"]["meter"] for it in items})},
            "recipe": "python -m musicllm.training.meter_tempo_prior (see its docstring)"}
    model.tempo_prior.meta = meta
    atomic_write_text(weights, json.dumps(model.to_dict(), separators=(",", ":")) + "\n")
    print(json.dumps({**meta, "base_weight": model.tempo_prior.base_weight, "weight": model.tempo_prior.weight},
                     indent=1))
    return meta


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devstyle", type=Path, nargs="*", default=[Path(".cache/meterdata") / d for d in PRIOR_SETS],
                    help="dev-set-style folders (manifest.jsonl) the base model did not see")
    ap.add_argument("--devset", type=Path, nargs="+", default=[Path("devset")],
                    help="evaluation sets whose titles are excluded from the data")
    ap.add_argument("--weights", type=Path, default=Path("src/musicllm/analysis/meter_model_weights.json"),
                    help="the base model's weights file; the prior is written into it")
    ap.add_argument("--bandwidths", default="0.04,0.06,0.1,0.15", help="kernel bandwidths (octaves) to cross-validate")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--features-cache", type=Path, default=Path(".cache/meterdata/prior_features.pkl"),
                    help="pickle of computed features, reused by item id and feature version")
    args = ap.parse_args(argv)
    train(args.devstyle, args.devset, args.weights, [float(v) for v in args.bandwidths.split(",")], args.folds,
          args.features_cache)


if __name__ == "__main__":
    main()
