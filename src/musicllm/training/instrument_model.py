"""Training recipe of the part instrument model (`musicllm.analysis.instrument_model`).

Data: the dev-set-style renderings the meter model trains on (``python -m musicllm.data.devset DIR
--seed S``, seeds 3 to 8, 300 items each: solo tunes and accompanied or chamber ensembles, 20
instruments, three SoundFonts, random EQ, reverb and noise; seed 9: 200 ensembles with chorale duets
and trios, see `musicllm.training.part_count`), held apart from the evaluation sets (seeds 0, 1, 2
and 10; pieces whose title is in them are dropped from training). Each item is transcribed as
``transcribe()`` does (cached basic-pitch activations -> decoded, cleaned notes -> part count
(`musicllm.analysis.part_count`) -> parts by register) and every transcribed part is labelled with
the instrument of the true part that holds most of its notes (same pitch, onset within 50 ms); a
part with fewer than 5 such notes, or less than 40 % of its notes, is left out. Features:
`musicllm.analysis.timbre.part_features` read from the item's audio.

    python -m musicllm.training.instrument_model features --sets .cache/meterdata/s{3,4,5} \
        --out .cache/instdata/train_a.npz                   # and s{6,7,8,9} -> train_b.npz
    python -m musicllm.training.instrument_model features --sets devset /tmp/ds2 /tmp/ds3 /tmp/ds4 \
        --out .cache/instdata/heldout.npz
    python -m musicllm.training.instrument_model train --data .cache/instdata/train_{a,b}.npz \
        --heldout .cache/instdata/heldout.npz --hidden 0 32 64 --alpha 0.3 1 \
        --out src/musicllm/analysis/instrument_model_weights.json

Measured 2026-11-22 (2,740 labelled parts of 1,004 tunes; 1,015 held-out parts of the four
evaluation sets): the chosen MLP (64 hidden units, alpha 0.3) names the exact instrument of 76.4 %
of parts in 5-fold CV grouped by tune (83.0 % right family), 62.8 % (70.9 %) when a whole SoundFont
is left out of training, against 27.2 % from register and chords alone; held out: 75.3 % (82.9 %)
of all parts, 92.3 % of solo parts, 70.5 % of ensemble parts. Logistic regression: 70.5 % CV. The
leave-one-SoundFont-out figure is the one to expect on instruments unlike the three SoundFonts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from musicllm.training.key_model import grouped_folds

MATCH_S = 0.05


def _activations(audio: Path, cache: Path):
    from musicllm.training.meter_model import _activations as act

    return act(audio, cache)


def _cache_path(d: Path, item_id: str, audio: Path) -> Path:
    """The item's cached activations: ``DIR/act/<id>.npz`` (the meter model's data), else the cache
    of ``benchmarks/tune_transcription.py`` (``.cache/activations/<id>-<crc>.npz``), shared with it."""
    import zlib

    own = d / "act" / f"{item_id}.npz"
    if own.exists():
        return own
    st = audio.stat()
    tag = zlib.crc32(f"{audio.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
    return Path(".cache/activations") / f"{item_id}-{tag:08x}.npz"


def label_parts(voices, truth: dict) -> list[tuple[str | None, float]]:
    """(instrument, share of the part's notes it holds) of each transcribed voice, from the true parts
    of a dev-set JSON (``parts`` with notes, ``instruments`` with each part's instrument name)."""
    inst_of = {i["part"]: i["instrument"] for i in truth["instruments"]}
    true = []
    for p in truth["parts"]:
        on = np.array([n["onset_s"] for n in p["notes"]])
        pi = np.array([n["pitch"] for n in p["notes"]])
        true.append((inst_of.get(p["name"]), on, pi))
    out = []
    for v in voices:
        counts: dict[str, int] = {}
        for n in v:
            for inst, on, pi in true:
                if inst and np.any((pi == n.pitch) & (np.abs(on - n.onset_s) <= MATCH_S)):
                    counts[inst] = counts.get(inst, 0) + 1
        if not counts:
            out.append((None, 0.0))
            continue
        best = max(counts, key=counts.__getitem__)
        share = counts[best] / max(len(v), 1)
        out.append((best if counts[best] >= 5 and share >= 0.4 else None, share))
    return out


def item_rows(audio: Path, cache: Path, truth: dict) -> list[dict]:
    """Features and labels of the transcribed parts of one item."""
    from musicllm.analysis import part_count, parts, timbre
    from musicllm.audio.load import load_audio
    from musicllm.training.key_model import transcribed_raw_notes

    act = _activations(audio, cache)
    ns = transcribed_raw_notes(act)
    if len(ns) < 5:
        return []
    voices = parts.separate_voices(ns, part_count.estimate_part_count(ns))
    y = load_audio(audio, target_sr=timbre.SAMPLE_RATE).samples
    spec = timbre.Spectrogram.from_array(y).db
    feats = timbre.parts_features(spec, voices)
    rows = []
    for k, (v, (inst, share)) in enumerate(zip(voices, label_parts(voices, truth), strict=True)):
        rows.append({"x": feats[k], "label": inst or "", "share": share, "voice": k, "n_voices": len(voices),
                     "n_notes": len(v)})
    return rows


def collect(sets: list[Path], out: Path) -> None:
    """Features of every transcribed part of every item of the dev-style sets, saved to ``out`` (npz)."""
    from rich.progress import track

    rows = []
    items = []
    for d in sets:
        for line in (d / "manifest.jsonl").read_text().splitlines():
            if line.strip():
                items.append((d, json.loads(line)))
    for d, r in track(items, description="parts", transient=True):
        truth = json.loads((d / r.get("json", r["id"] + ".json")).read_text())
        audio = d / r.get("audio", r["id"] + ".wav")
        for row in item_rows(audio, _cache_path(d, r["id"], audio), truth):
            rows.append({**row, "item": f"{d.name}-{r['id']}", "title": r.get("title") or r["id"],
                         "soundfont": r["soundfont"], "kind": r["kind"]})
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, x=np.array([r["x"] for r in rows]),
                        meta=np.array([json.dumps({k: v for k, v in r.items() if k != "x"}) for r in rows]))
    print(f"{len(rows)} parts of {len(items)} items -> {out}")


def load(path: Path) -> tuple[np.ndarray, list[dict]]:
    z = np.load(path)
    return z["x"], [json.loads(m) for m in z["meta"]]


def labelled(paths: list[Path]) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """(features, labels, meta) of the labelled parts of feature files."""
    xs, metas = [], []
    for p in paths:
        x, meta = load(p)
        keep = [i for i, m in enumerate(meta) if m["label"]]
        xs.append(x[keep])
        metas += [meta[i] for i in keep]
    return np.concatenate(xs), np.array([m["label"] for m in metas]), metas


def fit(x: np.ndarray, y: np.ndarray, hidden: int, alpha: float, seed: int = 0):
    """An `InstrumentModel` fitted on features ``x`` and instrument names ``y`` (see
    `musicllm.training.small_classifier.fit`)."""
    from musicllm.analysis.instrument_model import InstrumentModel
    from musicllm.training.small_classifier import fit as fit_classifier

    return fit_classifier(x, y, hidden, alpha, InstrumentModel, seed)


def _scores(pred, y) -> dict:
    """Exact and family accuracy of predicted names ``pred`` against names ``y``, and their mean
    instrument score (1 exact, 0.5 same GM family, else 0)."""
    from musicllm.analysis.instrument_model import INSTRUMENTS, family

    exact = np.array([a == b for a, b in zip(pred, y, strict=True)])
    fam = np.array([family(INSTRUMENTS[a]) == family(INSTRUMENTS[b]) for a, b in zip(pred, y, strict=True)])
    return {"n": len(y), "exact": float(exact.mean()), "family": float(fam.mean()),
            "score": float(np.where(exact, 1.0, np.where(fam, 0.5, 0.0)).mean())}


def scores(model, x: np.ndarray, y: np.ndarray) -> dict:
    """`_scores` of ``model``'s named instruments on features ``x``."""
    from musicllm.analysis.instrument_model import guess

    return _scores([g.name for g in guess(x, model)], y)


def cross_validate(x, y, folds: np.ndarray, hidden: int, alpha: float) -> dict:
    """`_scores` of out-of-fold predictions; ``folds`` holds each row's fold number."""
    from musicllm.analysis.instrument_model import guess

    pred = np.empty(len(y), dtype=object)
    for f in np.unique(folds):
        tr, te = folds != f, folds == f
        pred[te] = [g.name for g in guess(x[te], fit(x[tr], y[tr], hidden, alpha))]
    return _scores(pred, y)


def train(data: list[Path], heldout: list[Path], out: Path | None, hidden: list[int], alphas: list[float]) -> None:
    from musicllm.analysis.timbre import FEATURES
    from musicllm.training.key_model import norm_title

    x, y, meta = labelled(data)
    if heldout:  # pieces of the held-out sets stay out of training
        held_titles = {norm_title(m["title"]) for m in labelled(heldout)[2]}
        keep = np.array([norm_title(m["title"]) not in held_titles for m in meta])
        x, y, meta = x[keep], y[keep], [m for m, k in zip(meta, keep, strict=True) if k]
    titles = np.array([m["title"] for m in meta])
    fonts = np.array([m["soundfont"] for m in meta])
    print(f"{len(y)} labelled parts, {len(set(titles.tolist()))} tunes, {len(set(y.tolist()))} instruments")
    pitch_only = [FEATURES.index(f) for f in ("pitch_med", "pitch_lo", "pitch_hi", "chords", "dur")]
    by_tune = grouped_folds(titles, 5)
    by_font = np.unique(fonts, return_inverse=True)[1]
    best = None
    for h in hidden:
        for a in alphas:
            cv = cross_validate(x, y, by_tune, h, a)
            sf = cross_validate(x, y, by_font, h, a)
            print(f"hidden {h:>3} alpha {a:<7g} CV by tune: exact {cv['exact']:.3f} family {cv['family']:.3f} "
                  f"score {cv['score']:.3f} | leave one SoundFont out: exact {sf['exact']:.3f} "
                  f"family {sf['family']:.3f} score {sf['score']:.3f}", flush=True)
            if best is None or cv["score"] > best[0]["score"]:
                best = (cv, sf, h, a)
    cv, sf, h, a = best
    xr = np.full_like(x, np.nan)
    xr[:, pitch_only] = x[:, pitch_only]
    base = cross_validate(xr, y, by_tune, h, a)
    print(f"register and chords only (timbre features blanked), same settings: exact {base['exact']:.3f} "
          f"family {base['family']:.3f} score {base['score']:.3f}")
    model = fit(x, y, h, a)
    model.meta = {"hidden": h, "alpha": a, "n_parts": int(len(y)), "cv_by_tune": cv,
                  "leave_one_soundfont_out": sf, "register_only_cv": base, "trained_on": [str(p) for p in data]}
    if heldout:
        xh, yh, mh = labelled(heldout)
        for name, sel in (("all", np.ones(len(yh), bool)),
                          ("solo", np.array([m["kind"] == "solo" for m in mh])),
                          ("ensemble", np.array([m["kind"] != "solo" for m in mh]))):
            s = scores(model, xh[sel], yh[sel])
            print(f"held out ({name}, {s['n']} parts): exact {s['exact']:.3f} family {s['family']:.3f} "
                  f"score {s['score']:.3f}")
            model.meta[f"heldout_{name}"] = s
    if out is not None:
        out.write_text(json.dumps(model.to_dict(), separators=(",", ":")) + "\n")
        print(f"wrote {out} ({out.stat().st_size / 1024:.0f} kB): hidden {h}, alpha {a}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m musicllm.training.instrument_model", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("features")
    f.add_argument("--sets", type=Path, nargs="+", required=True)
    f.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", type=Path, nargs="+", required=True)
    t.add_argument("--heldout", type=Path, nargs="*", default=[])
    t.add_argument("--out", type=Path, default=None)
    t.add_argument("--hidden", type=int, nargs="+", default=[0, 32, 64])
    t.add_argument("--alpha", type=float, nargs="+", default=[0.3, 1.0])
    args = ap.parse_args(argv)
    if args.cmd == "features":
        collect(args.sets, args.out)
    else:
        train(args.data, args.heldout, args.out, args.hidden, args.alpha)
    return 0


if __name__ == "__main__":
    sys.exit(main())
