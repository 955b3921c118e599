"""Tuning recipe for the transcription clean-up and rhythm settings (dev split only).

    python benchmarks/tune_transcription.py [--devset devset] [--subset dev]

Caches basic-pitch activations of every item in ``.cache/activations/`` (the model is the slow part),
then evaluates settings of the decoder thresholds, the clean-up and the onset shift in seconds each,
printing note onset F1 @ 50 ms (ensemble / solo) against raw basic-pitch, and tempo / meter / key
accuracy. The defaults in ``musicllm.analysis.cleanup.CleanupConfig`` and
``musicllm.analysis.transcribe.TranscribeOptions`` were chosen with this script on the ``dev`` split;
``benchmarks/transcription.py --subset test`` reports the held-out numbers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from musicllm.analysis import cleanup, notes, rhythm, tonality
from musicllm.analysis.notes import Activations
from musicllm.analysis.transcribe import TranscribeOptions

CACHE = Path(".cache/activations")
SHIPPED = TranscribeOptions()  # the decoder settings transcribe() uses


def load_items(devset: Path, subset: str) -> list[tuple[dict, Activations, dict]]:
    from musicllm.audio.load import iter_audio_blocks

    rows = [json.loads(x) for x in (devset / "manifest.jsonl").read_text().splitlines() if x.strip()]
    rows = [r for r in rows if subset == "all" or r["subset"] == subset]
    CACHE.mkdir(parents=True, exist_ok=True)
    out = []
    for i, r in enumerate(rows):
        wav = devset / r.get("audio", r["id"] + ".wav")
        tag = zlib.crc32(f"{wav.resolve()}:{wav.stat().st_size}:{wav.stat().st_mtime_ns}".encode())
        c = CACHE / f"{r['id']}-{tag:08x}.npz"
        if c.exists():
            z = np.load(c)
            act = Activations(z["frames"], z["onsets"], int(z["n"]))
        else:
            act = notes.compute_activations(iter_audio_blocks(wav, 22050))
            np.savez_compressed(c, frames=act.frames, onsets=act.onsets, n=act.n_samples)
        gt = json.loads((devset / f"{r['id']}.json").read_text())
        out.append((r, act, gt))
        print(f"\r{i + 1}/{len(rows)} activations", end="", file=sys.stderr)
    print(file=sys.stderr)
    return out


def _ref(gt: dict) -> tuple[np.ndarray, np.ndarray]:
    ns = [n for p in gt["parts"] for n in p["notes"]]
    iv = np.array([[n["onset_s"], max(n["offset_s"], n["onset_s"] + 1e-3)] for n in ns])
    hz = 440.0 * 2 ** ((np.array([n["pitch"] for n in ns]) - 69) / 12)
    return iv, hz


def onset_f1(gt: dict, est: list[notes.RawNote]) -> float:
    import mir_eval

    if not est:
        return 0.0
    riv, rhz = _ref(gt)
    eiv = np.array([[max(n.onset_s, 0.0), max(n.offset_s, max(n.onset_s, 0.0) + 1e-3)] for n in est])
    ehz = 440.0 * 2 ** ((np.array([n.pitch for n in est]) - 69) / 12)
    return float(mir_eval.transcription.precision_recall_f1_overlap(riv, rhz, eiv, ehz, offset_ratio=None)[2])


def run_notes(act: Activations, onset_t: float, frame_t: float, min_frames: int, cfg: cleanup.CleanupConfig,
              melodia: bool) -> list[notes.RawNote]:
    raw = notes.decode_notes(act, onset_threshold=onset_t, frame_threshold=frame_t, min_note_frames=min_frames,
                             melodia_trick=melodia)
    return cleanup.clean_notes(raw, act, cfg)


def grid_notes(items) -> None:
    raw = {r["id"]: onset_f1(gt, notes.decode_notes(act)) for r, act, gt in items}
    kinds = {r["id"]: r["kind"] for r, _, _ in items}
    base = cleanup.CleanupConfig()
    results = []
    grid = itertools.product([0.5, 0.6, 0.7], [0.3], [7, 11], [0.0, 0.02, 0.03], [True, False])
    for onset_t, frame_t, mf, shift, melodia in grid:
        cfg = replace(base, onset_shift_s=shift)
        f1 = {r["id"]: onset_f1(gt, run_notes(act, onset_t, frame_t, mf, cfg, melodia)) for r, act, gt in items}
        ens = np.mean([f1[k] - raw[k] for k in f1 if kinds[k] == "ensemble"])
        solo = np.mean([f1[k] - raw[k] for k in f1 if kinds[k] == "solo"])
        results.append((ens, solo, onset_t, frame_t, mf, shift, melodia))
        print(f"onset {onset_t} frame {frame_t} min {mf} shift {shift} melodia {melodia}: "
              f"ensemble {ens:+.3f} solo {solo:+.3f}", flush=True)
    print("raw: ensemble {:.3f} solo {:.3f}".format(
        np.mean([v for k, v in raw.items() if kinds[k] == "ensemble"]),
        np.mean([v for k, v in raw.items() if kinds[k] == "solo"])))
    best = max(results, key=lambda x: x[0] + min(x[1], 0.0) * 4)
    print("best (ensemble gain, solo gain not negative):", best)


def eval_rhythm(items, cfg: rhythm.RhythmConfig | None = None, verbose: bool = False) -> dict:
    ok = {"tempo": [], "meter": [], "key": []}
    for r, act, gt in items:
        est = run_notes(act, SHIPPED.onset_threshold, SHIPPED.frame_threshold,
                        max(1, int(round(SHIPPED.min_note_ms / 1000 * notes.FRAME_RATE))), cleanup.CleanupConfig(), True)
        rh = rhythm.estimate_rhythm(act, est, cfg)
        k = tonality.estimate_key([n.pitch for n in est], [n.onset_s for n in est], [n.offset_s for n in est],
                                  [n.amplitude for n in est], downbeats_s=rh.downbeat_times_s).key
        from musicllm.score.model import Key

        gk = Key.parse(gt["key"])
        t_ok = abs(rh.tempo_qpm - gt["tempo_qpm"]) / gt["tempo_qpm"] <= 0.04
        ok["tempo"].append(t_ok)
        ok["meter"].append(str(rh.meter) == gt["meter"])
        ok["key"].append(k.tonic_pc == gk.tonic_pc and k.major_or_minor == gk.major_or_minor)
        if verbose and not (ok["tempo"][-1] and ok["meter"][-1] and ok["key"][-1]):
            print(f"{r['id']:<10} {r.get('style', gt.get('style', '')):<10} tempo {rh.tempo_qpm:6.1f}/{gt['tempo_qpm']:<6} "
                  f"meter {rh.meter}/{gt['meter']:<5} sub {rh.subdivision} key {k}/{gt['key']}")
    return {k: float(np.mean(v)) for k, v in ok.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devset", default="devset")
    ap.add_argument("--subset", default="dev")
    ap.add_argument("what", nargs="?", default="all", choices=["notes", "rhythm", "all"])
    args = ap.parse_args()
    items = load_items(Path(args.devset), args.subset)
    if args.what in ("rhythm", "all"):
        print(eval_rhythm(items, verbose=True))
    if args.what in ("notes", "all"):
        grid_notes(items)


if __name__ == "__main__":
    main()
