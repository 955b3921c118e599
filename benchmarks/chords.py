"""Chord recognition benchmark on the rendered dev set (ensemble items; solo reported apart).

    python benchmarks/chords.py [--devset devset] [--subset dev|test|both] [--oracle-beats] [--tune]
    python benchmarks/chords.py --check-reference   # derived labels vs the Nottingham chord symbols

Activations are cached in ``.cache/activations/`` exactly as ``benchmarks/tune_transcription.py``
caches them (same keys), so after one run of either script the model is not run again.

For every item: notes are decoded and cleaned with the settings ``transcribe()`` uses, beats come
from ``musicllm.analysis.rhythm.estimate_rhythm`` (``--oracle-beats``: the dev set's true beats), and
``musicllm.analysis.chords.estimate_chords`` labels the beats. The reference labels are *derived*
from the score notes by ``musicllm.data.chord_labels.chord_labels_from_notes`` (true beats), not
annotated by people.

Metric: mir_eval 0.8 ``chord.weighted_accuracy`` with the ``majmin`` comparison, weighted by interval
durations, after ``util.adjust_intervals`` (the estimate is cut / padded with "N" to the reference's
span, 0 .. last note off) and ``util.merge_labeled_intervals`` -- the MIREX "MajMin" WCSR per item.
Printed per split: the mean over items and the duration-weighted total, for ensemble and solo items,
and the seconds that chord estimation (profiles + HMM, given activations and beats) takes per minute
of audio. ``--tune`` runs a small grid of ``ChordConfig`` on the ``dev`` split only (about 2 minutes).

Measured alternative (not kept): librosa's ``chroma_cqt`` (treble, and a 2-octave bass chroma from
MIDI 28) through the same HMM, its parameters tuned on the dev split, scored 0.854 on dev ensembles
with true beats against 0.911 for the activation profiles at that stage (0.940 after the last round
of tuning), and costs about 1 s per minute of audio
(plus ~4 s of numba compilation per process) against 0.03 s.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tune_transcription import SHIPPED, load_items  # noqa: E402  (same cache of activations)

from musicllm.analysis import chords, cleanup, notes, rhythm  # noqa: E402
from musicllm.data.chord_labels import chord_labels_from_notes  # noqa: E402


def majmin_wcsr(ref: list[tuple[float, float, str]], est: list[chords.ChordSegment]) -> tuple[float, float]:
    """(weighted accuracy, reference duration in seconds) with mir_eval's majmin comparison."""
    import mir_eval

    ref = [r for r in ref if r[1] > r[0] + 1e-6]
    ri = np.array([[a, b] for a, b, _ in ref])
    rl = [lab for *_, lab in ref]
    ei = np.array([[s.start_s, s.end_s] for s in est if s.end_s > s.start_s])
    el = [s.label for s in est if s.end_s > s.start_s]
    ei, el = mir_eval.util.adjust_intervals(ei, el, ri.min(), ri.max(), mir_eval.chord.NO_CHORD,
                                            mir_eval.chord.NO_CHORD)
    iv, r2, e2 = mir_eval.util.merge_labeled_intervals(ri, rl, ei, el)
    dur = mir_eval.util.intervals_to_durations(iv)
    return float(mir_eval.chord.weighted_accuracy(mir_eval.chord.majmin(r2, e2), dur)), float(dur.sum())


def prepare(items, oracle_beats: bool) -> list[dict]:
    """Per item: activations, beats, the derived reference and the kind/subset."""
    out = []
    min_frames = max(1, int(round(SHIPPED.min_note_ms / 1000 * notes.FRAME_RATE)))
    for row, act, gt in items:
        if oracle_beats:
            beats = np.asarray(gt["beats"], dtype=float)
        else:
            raw = notes.decode_notes(act, onset_threshold=SHIPPED.onset_threshold,
                                     frame_threshold=SHIPPED.frame_threshold, min_note_frames=min_frames)
            est = cleanup.clean_notes(raw, act)
            beats = np.asarray(rhythm.estimate_rhythm(act, est).beat_times_s) if est else None
        ref_notes = [n for p in gt["parts"] if not p.get("is_drum") for n in p["notes"]]
        ref = chord_labels_from_notes(ref_notes, gt["beats"])
        out.append({"id": row["id"], "subset": row["subset"], "kind": row["kind"], "source": row["source"],
                    "act": act, "beats": beats,
                    "ref": ref, "minutes": act.duration_s / 60.0})
    return out


def evaluate(prepared: list[dict], cfg: chords.ChordConfig) -> tuple[dict, float]:
    """{(subset, kind, source or "all"): (mean, weighted, n)} and seconds of chord estimation per minute
    of audio."""
    res: dict[tuple[str, str], list[tuple[float, float]]] = {}
    spent = 0.0
    minutes = 0.0
    for it in prepared:
        t0 = time.perf_counter()
        est = chords.estimate_chords(it["act"], it["beats"], config=cfg)
        spent += time.perf_counter() - t0
        minutes += it["minutes"]
        score = majmin_wcsr(it["ref"], est)
        res.setdefault((it["subset"], it["kind"], "all"), []).append(score)
        if it["kind"] == "ensemble":
            res.setdefault((it["subset"], it["kind"], it["source"]), []).append(score)
    summary = {}
    for key, vals in res.items():
        acc = np.array([v[0] for v in vals])
        dur = np.array([v[1] for v in vals])
        summary[key] = (float(acc.mean()), float((acc * dur).sum() / dur.sum()), len(vals))
    return summary, spent / max(minutes, 1e-9)


def tune(prepared: list[dict]) -> None:
    dev = [it for it in prepared if it["subset"] == "dev" and it["kind"] == "ensemble"]
    base = chords.ChordConfig()
    grid = {  # the final round of the search that chose the ChordConfig defaults
        "floor": [0.1, 0.2, 0.3],
        "bass_root": [0.1, 0.3],
        "bass_triad": [0.0, 0.1],
        "temperature": [0.03, 0.05, 0.1],
        "silence_level": [0.1, 0.3, 0.5],
    }
    results = []
    for values in itertools.product(*grid.values()):
        cfg = replace(base, **dict(zip(grid, values, strict=True)))
        summary, _ = evaluate(dev, cfg)
        score = summary[("dev", "ensemble", "all")][0]
        results.append((score, values))
        print(f"{dict(zip(grid, values, strict=True))}: {score:.4f}", flush=True)
    results.sort(reverse=True)
    print("best:", results[:5])


def nottingham_symbols(gt: dict) -> list[tuple[float, float, str]]:
    """The chord symbols of a Nottingham dev-set item's source tune, reduced to maj/min (others as
    ``root:dim``, which majmin skips), in seconds of the rendering. Re-parses the tune with the dev
    set builder's own (private) readers, so it follows that module's internals."""
    from fractions import Fraction

    from musicllm.data import devset as ds

    index = int(gt["piece_id"].rsplit("@", 1)[1])
    path = Path(ds.NOTTINGHAM_DIR_DEFAULT) / gt["source_file"]
    _, source_file, tune = ds._abc_pool([path], "nottingham")[index]
    piece = ds._load_abc_tune(gt["piece_id"], "nottingham", source_file, tune, need_chords=True)
    ns = [n for p in gt["parts"] for n in p["notes"]]
    q = np.array([float(Fraction(str(n["onset_qn"]))) for n in ns])
    t = np.array([n["onset_s"] for n in ns])
    uq = np.unique(q)
    ut = np.array([np.median(t[q == x]) for x in uq])
    cut = float(Fraction(gt["cut_qn"]))
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    out = []
    for t0, t1, root, _bass, pcs in piece.chords:
        if float(t0) >= cut:
            break
        iv = {(p - root) % 12 for p in pcs}
        r = names[(root + gt["transpose_semitones"]) % 12]
        lab = f"{r}:maj" if 4 in iv else (f"{r}:min" if {3, 7} <= iv else f"{r}:dim")
        a, b = np.interp([float(t0), min(float(t1), cut)], uq, ut)
        if b > a:
            out.append((float(a), float(b), lab))
    return out


def check_reference(items) -> None:
    """Agreement of the derived reference with the Nottingham tunes' own chord symbols."""
    accs = []
    for row, _act, gt in items:
        if row["kind"] != "ensemble" or row["source"] != "nottingham":
            continue
        derived = chord_labels_from_notes([n for p in gt["parts"] for n in p["notes"]], gt["beats"])
        segs = [chords.ChordSegment(a, b, lab, 1.0) for a, b, lab in derived]
        accs.append(majmin_wcsr(nottingham_symbols(gt), segs)[0])
    print(f"derived reference vs the tunes' chord symbols (majmin): mean {np.mean(accs):.3f} over {len(accs)} items")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devset", default="devset")
    ap.add_argument("--subset", default="both", choices=["dev", "test", "both"])
    ap.add_argument("--oracle-beats", action="store_true", help="use the dev set's true beats")
    ap.add_argument("--tune", action="store_true", help="grid search on the dev split")
    ap.add_argument("--check-reference", action="store_true",
                    help="compare the derived reference with the Nottingham tunes' chord symbols")
    args = ap.parse_args()
    items = load_items(Path(args.devset), "all" if args.subset == "both" else args.subset)
    if args.check_reference:
        check_reference(items)
        return
    prepared = prepare(items, args.oracle_beats)
    if args.tune:
        tune(prepared)
        return
    summary, s_per_min = evaluate(prepared, chords.ChordConfig())
    beats = "true beats" if args.oracle_beats else "estimated beats"
    print(f"chords: mir_eval majmin weighted overlap vs labels derived from the score ({beats})")
    for key in sorted(summary):
        mean, weighted, n = summary[key]
        print(f"  {key[0]:<4} {key[1]:<8} {key[2]:<13} n={n:<3} mean {mean:.3f}  duration-weighted {weighted:.3f}")
    print(f"  time: {s_per_min:.3f} s per minute of audio (chord estimation given activations and beats)")


if __name__ == "__main__":
    main()
