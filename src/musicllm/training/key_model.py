"""Training recipe of the data-trained key estimator (`musicllm.analysis.key_model`).

The model is a conditional logit over the 24 major/minor keys: score(key) = w . f(notes, key), with
f the rotation-invariant features of `musicllm.analysis.key_model.candidate_features` (computed from
the notes transcribed from audio, exactly as ``transcribe()`` computes them). It is trained on rendered
audio that is NOT the dev set, with L2 regularisation chosen by cross-validation grouped by piece.

Rebuild the data and retrain (2 CPU cores: ~45 min, most of it basic-pitch)::

    # 1. a training corpus without any dev-set piece (writes DIR/src/<collection>/... and DIR/selection.json)
    python -m musicllm.training.key_model select --out .cache/keydata --devset devset
    # 2. render it, two renderings per piece (one build per collection folder)
    for c in bach nottingham oneills1850 ryansMammoth airdsAirs; do
      musicllm data build --corpus $c=.cache/keydata/src/$c --out .cache/keydata/build/$c --renderings 2 \
        --workers 2 --soundfont all --no-qa --no-progress
    done
    # 3. features (basic-pitch activations cached in DIR/act/, features in DIR/features.npz),
    #    grouped cross-validation of the L2 strength, fit on everything, write the weights
    python -m musicllm.training.key_model train --data .cache/keydata \
        --out src/musicllm/analysis/key_model_weights.json
    # 4. compare with the profile method on the rendered dev set
    python benchmarks/key.py --subset dev

Exclusion: a piece is dropped when its source file and tune (index or ``X:`` number) is a dev-set
piece, when its normalised title is a dev-set title (any collection: the same tune appears in several
books), or, for Bach chorales, when its BWV file is in the dev set. With seed 0 that excluded 66 of
1034 Nottingham tunes, 14 of 2009 O'Neill's, 16 of 1059 Ryan's, 10 of 1180 Aird's and 30 of 410 Bach
chorales before 200 / 130 / 110 / 90 / 170 pieces were drawn (``DIR/selection.json``); rendering
dropped 30 (key or meter changes, too many parts). Labels: the key of the
rendered item reduced to major/minor on the same tonic (A dorian -> A minor, as the dev set does);
items whose key is not known from the source are dropped.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

import numpy as np

COLLECTIONS: dict[str, tuple[str, int]] = {  # name -> (corpus spec, pieces to draw)
    "nottingham": ("/work/shared/data/nottingham/ABC_cleaned", 200),
    "oneills1850": ("music21:oneills1850", 130),
    "ryansMammoth": ("music21:ryansMammoth", 110),
    "airdsAirs": ("music21:airdsAirs", 90),
    "bach": ("music21:bach-chorales", 170),
}


def norm_title(title: str | None) -> str:
    """Title key for matching the same tune across books: letters and digits only, no 'the', no '-- Reel' suffix."""
    t = (title or "").strip()
    t = re.sub(r"^T:\s*", "", t)
    t = t.split("--")[0]
    t = re.sub(r"\bthe\b", "", t.lower())
    return re.sub(r"[^a-z0-9]", "", t)


def _abc_field(tune: str, name: str) -> str | None:
    m = re.search(rf"^{name}:\s*(.*)$", tune, re.M)
    return m.group(1).strip() if m else None


def devset_exclusions(devset: Path) -> dict[str, set]:
    """What identifies a dev-set piece: (file, tune index), (file, X number), titles, Bach files."""
    ex: dict[str, set] = {"file_index": set(), "file_x": set(), "title": set(), "bach": set()}
    for line in (devset / "manifest.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        gt = json.loads((devset / f"{row['id']}.json").read_text())
        pid = gt.get("piece_id", "")
        if gt.get("title"):
            ex["title"].add(norm_title(gt["title"]))
        m = re.fullmatch(r"[^/]+/(.+)#X(\d+)@(\d+)", pid)
        if m:
            name = Path(m.group(1)).name
            ex["file_index"].add((name, int(m.group(3))))
            ex["file_x"].add((name, int(m.group(2))))
        elif pid.startswith("bach-chorales/"):
            ex["bach"].add(pid.split("/", 1)[1].removesuffix(".mxl"))
    ex["title"].discard("")
    return ex


def excluded_reason(ref, ex: dict[str, set]) -> str | None:
    """Why a corpus piece (`musicllm.data.corpora.PieceRef`) is excluded, or None."""
    name = Path(ref.rel_path).name
    if ref.fmt != "abc":
        stem = name.rsplit(".", 1)[0]
        return "bach file" if stem in ex["bach"] else None
    if (name, ref.tune_index) in ex["file_index"]:
        return "file+index"
    x = _abc_field(ref.text or "", "X")
    if x and x.strip().isdigit() and (name, int(x)) in ex["file_x"]:
        return "file+X"
    if norm_title(_abc_field(ref.text or "", "T")) in ex["title"]:
        return "title"
    return None


def select(out: Path, devset: Path, seed: int = 0) -> dict:
    """Write the training corpus folders ``out/src/<collection>/`` (dev-set pieces excluded)."""
    from musicllm.data.corpora import list_pieces

    ex = devset_exclusions(devset)
    rng = random.Random(seed)
    summary: dict = {"seed": seed, "collections": {}}
    for name, (spec, n) in COLLECTIONS.items():
        refs = list_pieces(spec)
        reasons: dict[str, int] = {}
        keep = []
        for r in refs:
            why = excluded_reason(r, ex)
            if why:
                reasons[why] = reasons.get(why, 0) + 1
            else:
                keep.append(r)
        chosen = sorted(rng.sample(keep, min(n, len(keep))), key=lambda r: (r.rel_path, r.tune_index))
        folder = out / "src" / name
        folder.mkdir(parents=True, exist_ok=True)
        by_file: dict[str, list[str]] = {}
        for r in chosen:
            if r.fmt == "abc":
                by_file.setdefault(Path(r.rel_path).name, []).append(r.text.strip() + "\n")
            else:
                link = folder / Path(r.rel_path).name
                if not link.exists():
                    link.symlink_to(r.path)
        for fname, tunes in by_file.items():
            (folder / fname).write_text("\n".join(tunes))
        summary["collections"][name] = {"pieces": len(refs), "excluded": reasons, "chosen": len(chosen),
                                        "chosen_ids": [r.piece_id for r in chosen]}
        print(f"{name}: {len(refs)} pieces, excluded {sum(reasons.values())} {reasons}, chose {len(chosen)}",
              file=sys.stderr)
    (out / "selection.json").write_text(json.dumps(summary, indent=1))
    return summary


# ---------------------------------------------------------------------------------------------------
# Features of the rendered items

def transcribed_raw_notes(act) -> list:
    """The `RawNote` list ``transcribe()`` passes to rhythm and key estimation: basic-pitch decoding
    with the shipped thresholds, then the shipped clean-up."""
    from musicllm.analysis import cleanup, notes
    from musicllm.analysis.transcribe import TranscribeOptions

    o = TranscribeOptions()
    raw = notes.decode_notes(act, onset_threshold=o.onset_threshold, frame_threshold=o.frame_threshold,
                             min_note_frames=max(1, int(round(o.min_note_ms / 1000 * notes.FRAME_RATE))))
    return cleanup.clean_notes(raw, act)


def transcribed_notes(act) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pitches, onsets_s, offsets_s, amplitudes) of `transcribed_raw_notes`."""
    ns = transcribed_raw_notes(act)
    return (np.array([n.pitch for n in ns], dtype=int), np.array([n.onset_s for n in ns]),
            np.array([n.offset_s for n in ns]), np.array([n.amplitude for n in ns]))


def key_index(key_text: str) -> int:
    """Candidate index ``12 * mode + tonic`` of a key label, reduced to major/minor (dorian -> minor)."""
    from musicllm.score.model import Key

    k = Key.parse(key_text)
    return 12 * (k.major_or_minor == "minor") + k.tonic_pc


def item_features(data: Path, cached_only: bool = False) -> dict[str, np.ndarray]:
    """Features, labels, groups and the profile method's answers of every rendered item with a known
    key; basic-pitch activations are cached in ``data/act/<id>.npz`` and features in ``data/features.npz``."""
    from musicllm.analysis import key_model, notes, tonality
    from musicllm.audio.load import iter_audio_blocks

    cache = data / "features.npz"
    old = dict(np.load(cache, allow_pickle=False)) if cache.exists() else {}
    if int(old.get("version", -1)) != key_model.FEATURE_VERSION:
        old = {}
    done = {str(i): j for j, i in enumerate(old.get("ids", []))}
    rows = []
    for ij in sorted(data.glob("build/*/items/*/item.json")):
        r = json.loads(ij.read_text())
        if r.get("key"):
            rows.append((ij.parent, r))
    xs, ys, groups, ids, prof = [], [], [], [], []
    for n, (folder, r) in enumerate(rows):
        if r["id"] in done:
            j = done[r["id"]]
            xs.append(old["x"][j])
            prof.append(int(old["profile"][j]))
        else:
            c = data / "act" / f"{r['id']}.npz"
            if not c.exists() and cached_only:
                continue
            if c.exists():
                z = np.load(c)
                act = notes.Activations(z["frames"].astype(np.float32), z["onsets"].astype(np.float32), int(z["n"]))
            else:
                act = notes.compute_activations(iter_audio_blocks(folder / Path(r["audio"]).name, notes.SAMPLE_RATE))
                c.parent.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(c, frames=act.frames.astype(np.float16), onsets=act.onsets.astype(np.float16),
                                    n=act.n_samples)
            p, on, off, amp = transcribed_notes(act)
            if len(p) < 4:
                continue
            xs.append(key_model.candidate_features(p, on, off, amp))
            k = tonality.estimate_key(p, on, off, amp, method="profiles").key
            prof.append(12 * (k.major_or_minor == "minor") + k.tonic_pc)
        ys.append(key_index(r["key"]))
        groups.append(norm_title(r.get("title")) or r["piece_id"])
        ids.append(r["id"])
        if n % 25 == 0:
            print(f"\r{n + 1}/{len(rows)} items", end="", file=sys.stderr)
    print(file=sys.stderr)
    out = {"x": np.array(xs), "y": np.array(ys), "groups": np.array(groups), "ids": np.array(ids),
           "profile": np.array(prof), "version": np.array(key_model.FEATURE_VERSION)}
    np.savez_compressed(cache, **out)
    return out


# ---------------------------------------------------------------------------------------------------
# Conditional logit

def fit(x: np.ndarray, y: np.ndarray, l2: float, mean: np.ndarray | None = None,
        scale: np.ndarray | None = None):
    """Fit the conditional logit: minimise mean NLL + ``l2`` * ||w||^2 on standardised features.

    x: (n, 24, d) candidate features; y: (n,) index of the true key. Returns a `KeyModel`.
    """
    from scipy.optimize import minimize

    from musicllm.analysis.key_model import KeyModel

    flat = x.reshape(-1, x.shape[-1])
    if mean is None:
        mean = flat.mean(axis=0)
    if scale is None:
        scale = flat.std(axis=0)
        scale[scale < 1e-8] = 1.0
    z = (x - mean) / scale
    n = len(y)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = z @ w
        s = s - s.max(axis=1, keepdims=True)
        lse = np.log(np.exp(s).sum(axis=1))
        p = np.exp(s - lse[:, None])
        nll = float((lse - s[np.arange(n), y]).mean())
        g = np.einsum("nk,nkd->d", p, z) - z[np.arange(n), y].sum(axis=0)
        return nll + l2 * float(w @ w), g / n + 2 * l2 * w

    res = minimize(loss, np.zeros(x.shape[-1]), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    return KeyModel(res.x, mean, scale, {"l2": l2})


def grouped_folds(groups: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Fold number of every item; all items of a group (piece) share one fold."""
    uniq = sorted(set(groups.tolist()))
    random.Random(seed).shuffle(uniq)
    fold_of = {g: i % k for i, g in enumerate(uniq)}
    return np.array([fold_of[g] for g in groups.tolist()])


def cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, l2s: list[float], k: int = 5) -> dict:
    """Grouped k-fold accuracy of each L2 strength (and of the profile method is reported by the caller)."""
    folds = grouped_folds(groups, k)
    out = {}
    for l2 in l2s:
        hit = np.zeros(len(y), dtype=bool)
        for f in range(k):
            tr, te = folds != f, folds == f
            m = fit(x[tr], y[tr], l2)
            hit[te] = m.scores(x[te]).argmax(axis=1) == y[te]
        out[l2] = float(hit.mean())
        print(f"l2 {l2:g}: grouped {k}-fold accuracy {hit.mean():.4f}", file=sys.stderr)
    return out


def train(data: Path, out: Path, l2s: list[float], folds: int = 5, cached_only: bool = False) -> dict:
    from musicllm.files import atomic_write_text

    d = item_features(data, cached_only)
    x, y, g = d["x"], d["y"], d["groups"]
    cv = cross_validate(x, y, g, l2s, folds)
    best = max(cv, key=lambda v: (cv[v], v))  # ties -> the stronger regularisation
    model = fit(x, y, best)
    profile_acc = float((d["profile"] == y).mean())
    by_collection: dict[str, list[int]] = {}
    for i, hit in zip(d["ids"].tolist(), (model.scores(x).argmax(axis=1) == y).tolist(), strict=True):
        by_collection.setdefault(i.split("-")[0], []).append(int(hit))
    meta = {"l2": best, "items": int(len(y)), "pieces": int(len(set(g.tolist()))),
            "cv_folds": folds, "cv_accuracy": {str(k): round(v, 4) for k, v in cv.items()},
            "cv_accuracy_profiles": round(profile_acc, 4),
            "minor_share": round(float((y >= 12).mean()), 3),
            "recipe": "python -m musicllm.training.key_model train (see its docstring)"}
    model = type(model)(model.weights, model.mean, model.scale, meta)
    atomic_write_text(out, json.dumps(model.to_dict(), indent=None, separators=(",", ":")) + "\n")
    print(json.dumps(meta, indent=1))
    return meta


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("select", help="write the training corpus without dev-set pieces")
    s.add_argument("--out", type=Path, default=Path(".cache/keydata"))
    s.add_argument("--devset", type=Path, default=Path("devset"))
    s.add_argument("--seed", type=int, default=0)
    t = sub.add_parser("train", help="features, grouped cross-validation, fit, write the weights")
    t.add_argument("--data", type=Path, default=Path(".cache/keydata"))
    t.add_argument("--out", type=Path, default=Path("src/musicllm/analysis/key_model_weights.json"))
    t.add_argument("--l2", default="0.003,0.01,0.03,0.1,0.3,1", help="L2 strengths to cross-validate")
    t.add_argument("--folds", type=int, default=5)
    t.add_argument("--cached-only", action="store_true", help="use only items whose activations are cached")
    args = ap.parse_args(argv)
    if args.cmd == "select":
        select(args.out, args.devset, args.seed)
    else:
        train(args.data, args.out, [float(v) for v in args.l2.split(",")], args.folds, args.cached_only)


if __name__ == "__main__":
    main()
