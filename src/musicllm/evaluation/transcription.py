"""Note-level transcription metrics (mir_eval) and file/folder evaluation with the ABC reward.

Conventions
-----------
- :func:`note_metrics` is a thin, documented wrapper around
  ``mir_eval.transcription.precision_recall_f1_overlap`` (mir_eval 0.8), the MIREX "Multi-F0 note
  tracking" definitions. All notes of all non-drum parts are pooled into one multi-pitch note list per
  score: a note counts as found whatever part/voice/instrument it was written in (voice assignment is
  judged by the ABC reward's instrument and per-voice pitch components instead). Drum parts are left out
  (their "pitches" are drum sounds, not frequencies).
- Pitches are converted from MIDI numbers to Hz with ``mir_eval.util.midi_to_hz`` (A4 = 69 = 440 Hz);
  the pitch tolerance is mir_eval's 50 cents, so with integer MIDI pitches a note must have the exact
  pitch to match.
- Times are seconds (``Note.onset_s`` / ``offset_s``). Onset tolerance: +-50 ms. Onset+offset matching
  additionally requires the estimated offset within ``max(offset_ratio * ref_duration,
  offset_min_tolerance)`` = max(20 % of the reference duration, 50 ms) of the reference offset.
  Comparisons are ``<=`` (mir_eval's ``strict=False``). Notes are matched one-to-one by maximum bipartite
  matching (mir_eval), so a doubled note counts once.
- Average overlap ratio: mean over matched pairs of ``|intersection| / |union span|`` of the two time
  intervals (mir_eval's definition); ``onset_overlap_ratio`` uses the onset-only matching,
  ``onset_offset_overlap_ratio`` the onset+offset matching (mir_eval's ``Average_Overlap_Ratio``).
- Notes that mir_eval would reject are repaired rather than raising: negative onsets are clipped to 0
  and notes with ``offset <= onset`` (grace notes, zero-length MIDI notes) get a 1 ms duration.
- Empty inputs (mir_eval returns 0 and warns): when *both* scores have no notes every metric is 1.0 (the
  estimate agrees perfectly with an empty reference); when exactly one is empty every metric is 0.0.
  No warning is emitted.
- ABC files carry no performance timing, so their note seconds are recomputed from quarter notes at the
  score's tempo (``Score.with_seconds_from_qn``). An ABC estimate against a MIDI reference is therefore
  only fair when the MIDI is itself metronomic (e.g. URMP-style scores rendered at a fixed tempo).

How this differs from other definitions: unlike mir_eval's ``evaluate`` it pools parts and never raises
on empty input; unlike "frame-level" multi-pitch metrics it counts notes, not 10 ms frames; unlike the
ABC reward's pitch component it uses timing and ignores voices. Velocity is not evaluated.

:func:`evaluate_pair` adds the ABC reward components (:mod:`musicllm.evaluation.abc_reward`), computed
on the parsed scores whatever their file format, as ``reward_total``, ``reward_pitch``, ``reward_metre``,
``reward_tempo`` and ``reward_instrument``.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from musicllm.errors import MusicLLMError, NotationError
from musicllm.score.model import Score

#: File types paired in folders (what :func:`musicllm.score.io.read_score` reads).
SCORE_EXTENSIONS = (".mid", ".midi", ".abc", ".json", ".musicxml", ".xml", ".mxl")
MIN_DURATION_S = 1e-3

NOTE_METRIC_KEYS = (
    "onset_precision", "onset_recall", "onset_f1", "onset_overlap_ratio",
    "onset_offset_precision", "onset_offset_recall", "onset_offset_f1", "onset_offset_overlap_ratio",
)
REWARD_KEYS = ("reward_total", "reward_pitch", "reward_metre", "reward_tempo", "reward_instrument")
METRIC_KEYS = NOTE_METRIC_KEYS + REWARD_KEYS


def score_to_intervals(score: Score) -> tuple[np.ndarray, np.ndarray]:
    """Pooled ``(intervals [n, 2] seconds, pitches [n] Hz)`` of all non-drum notes, mir_eval-ready."""
    import mir_eval

    notes = [n for p in score.parts if not p.is_drum for n in p.notes]
    if not notes:
        return np.zeros((0, 2), dtype=float), np.zeros(0, dtype=float)
    on = np.maximum(np.array([float(n.onset_s) for n in notes]), 0.0)
    off = np.array([float(n.offset_s) for n in notes])
    off = np.maximum(off, on + MIN_DURATION_S)
    pitches = mir_eval.util.midi_to_hz(np.array([float(n.pitch) for n in notes]))
    return np.stack([on, off], axis=1), pitches


def note_metrics(
    ref: Score,
    est: Score,
    *,
    onset_tolerance: float = 0.05,
    offset_ratio: float = 0.2,
    offset_min_tolerance: float = 0.05,
    pitch_tolerance: float = 50.0,
) -> dict[str, float]:
    """Note precision/recall/F1 and average overlap ratio, onset-only and onset+offset.

    Keys: ``onset_precision``, ``onset_recall``, ``onset_f1``, ``onset_overlap_ratio``,
    ``onset_offset_precision``, ``onset_offset_recall``, ``onset_offset_f1``,
    ``onset_offset_overlap_ratio``, plus ``n_ref_notes`` and ``n_est_notes`` (as floats). See the module
    docstring for conventions and the empty-input policy.
    """
    import mir_eval

    ref_iv, ref_hz = score_to_intervals(ref)
    est_iv, est_hz = score_to_intervals(est)
    out: dict[str, float] = {}
    if len(ref_hz) == 0 or len(est_hz) == 0:
        value = 1.0 if len(ref_hz) == len(est_hz) else 0.0
        out = dict.fromkeys(NOTE_METRIC_KEYS, value)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for prefix, ratio in (("onset", None), ("onset_offset", offset_ratio)):
                p, r, f, o = mir_eval.transcription.precision_recall_f1_overlap(
                    ref_iv, ref_hz, est_iv, est_hz,
                    onset_tolerance=onset_tolerance, pitch_tolerance=pitch_tolerance,
                    offset_ratio=ratio, offset_min_tolerance=offset_min_tolerance,
                )
                out[f"{prefix}_precision"] = float(p)
                out[f"{prefix}_recall"] = float(r)
                out[f"{prefix}_f1"] = float(f)
                out[f"{prefix}_overlap_ratio"] = float(o)
    out = {k: out[k] for k in NOTE_METRIC_KEYS}
    out["n_ref_notes"] = float(len(ref_hz))
    out["n_est_notes"] = float(len(est_hz))
    return out


# --------------------------------------------------------------------------------------------------
# Files


def _is_abc(path: Path) -> bool:
    return path.suffix.lower() == ".abc"


def _read(path: Path) -> Score:
    from musicllm.score.io import read_score

    score = read_score(path)
    if _is_abc(path) and all(n.onset_qn is not None and n.offset_qn is not None
                             for p in score.parts for n in p.notes):
        score = score.with_seconds_from_qn()
    return score


def _abc_text(path: Path) -> str | None:
    if not _is_abc(path):
        return None
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _reward_metrics(ref: Score, est: Score, ref_path: Path, est_path: Path) -> dict[str, float]:
    from musicllm.evaluation.abc_reward import has_abc_field, score_reward

    if not any(p.notes for p in ref.parts):
        # Nothing to compare voices against: only an equally empty estimate agrees.
        value = 0.0 if any(p.notes for p in est.parts) else 1.0
        return dict.fromkeys(REWARD_KEYS, value)
    ref_text, est_text = _abc_text(ref_path), _abc_text(est_path)
    # Fields can only be "missing" in ABC; MIDI/JSON always carry a tempo and a meter.
    tempo_missing = est_text is not None and not has_abc_field(est_text, "Q") and (
        ref_text is None or has_abc_field(ref_text, "Q"))
    metre_missing = est_text is not None and not has_abc_field(est_text, "M") and (
        ref_text is None or has_abc_field(ref_text, "M"))
    r = score_reward(est, ref, pred_tempo_missing=tempo_missing, pred_metre_missing=metre_missing)
    return {"reward_total": r.total, "reward_pitch": r.pitch, "reward_metre": r.metre,
            "reward_tempo": r.tempo, "reward_instrument": r.instrument}


def evaluate_pair(
    ref_path: str | os.PathLike,
    est_path: str | os.PathLike,
    *,
    onset_tolerance: float = 0.05,
    offset_ratio: float = 0.2,
    offset_min_tolerance: float = 0.05,
) -> dict[str, float]:
    """Note metrics and ABC reward components for one reference/estimate file pair.

    Files are MIDI (``.mid``/``.midi``), ABC (``.abc``), JSON (``.json``) or MusicXML, read with
    :func:`musicllm.score.io.read_score`. Returns :func:`note_metrics`'s keys plus ``reward_total``,
    ``reward_pitch``, ``reward_metre``, ``reward_tempo``, ``reward_instrument``. Raises
    :class:`NotationError` (from the readers) for a file that cannot be read.
    """
    ref_p, est_p = Path(ref_path), Path(est_path)
    ref = _read(ref_p)
    est = _read(est_p)
    return _pair_metrics(ref, est, ref_p, est_p, onset_tolerance=onset_tolerance, offset_ratio=offset_ratio,
                         offset_min_tolerance=offset_min_tolerance)


def _pair_metrics(ref: Score, est: Score, ref_p: Path, est_p: Path, **tolerances: float) -> dict[str, float]:
    out = note_metrics(ref, est, **tolerances)
    out.update(_reward_metrics(ref, est, ref_p, est_p))
    return _ordered(out)


def _score_files(folder: Path) -> dict[str, Path]:
    by_stem: dict[str, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in SCORE_EXTENSIONS and not p.name.startswith("."):
            by_stem.setdefault(p.stem, []).append(p)
    clashes = {s: ps for s, ps in by_stem.items() if len(ps) > 1}
    if clashes:
        stem, ps = next(iter(sorted(clashes.items())))
        raise MusicLLMError(
            f"{folder}: {len(clashes)} name(s) have several score files, e.g. "
            f"{', '.join(p.name for p in ps)}; keep one file per name so pairs by stem are unambiguous")
    return {s: ps[0] for s, ps in by_stem.items()}


def pair_paths(ref: str | os.PathLike, est: str | os.PathLike) -> tuple[list[tuple[str, Path, Path]], list[Path], list[Path]]:
    """``(pairs [(name, ref_file, est_file)], unmatched_ref, unmatched_est)`` for files or folders.

    file + file: one pair. folder + folder: files with a score extension (``.mid .midi .abc .json
    .musicxml .xml .mxl``, top level only, hidden files skipped) paired by stem, e.g. ``ref/x.mid`` with ``est/x.abc``. file + folder: the folder's file
    with the reference's stem. folder + file: an error.
    """
    ref_p, est_p = Path(ref), Path(est)
    for p, what in ((ref_p, "reference"), (est_p, "estimate")):
        if not p.exists():
            raise MusicLLMError(f"{what} path not found: {p}")
    if ref_p.is_file() and est_p.is_file():
        return [(ref_p.stem, ref_p, est_p)], [], []
    if ref_p.is_dir() and est_p.is_file():
        raise MusicLLMError(f"reference {ref_p} is a folder but estimate {est_p} is a file; give two folders")
    est_files = _score_files(est_p)
    if ref_p.is_file():
        if ref_p.stem not in est_files:
            raise MusicLLMError(f"no file named {ref_p.stem}.* ({'/'.join(SCORE_EXTENSIONS)}) in {est_p}")
        return [(ref_p.stem, ref_p, est_files[ref_p.stem])], [], []
    ref_files = _score_files(ref_p)
    pairs = [(s, ref_files[s], est_files[s]) for s in sorted(ref_files) if s in est_files]
    unmatched_ref = [ref_files[s] for s in sorted(ref_files) if s not in est_files]
    unmatched_est = [est_files[s] for s in sorted(est_files) if s not in ref_files]
    if not pairs:
        raise MusicLLMError(
            f"no files pair up by name between {ref_p} ({len(ref_files)} score files) and {est_p} "
            f"({len(est_files)} score files)")
    return pairs, unmatched_ref, unmatched_est


def evaluate_paths(
    ref: str | os.PathLike,
    est: str | os.PathLike,
    *,
    onset_tolerance: float = 0.05,
    offset_ratio: float = 0.2,
    offset_min_tolerance: float = 0.05,
) -> dict[str, Any]:
    """Evaluate a file pair or two folders paired by stem (see :func:`pair_paths`).

    Returns a JSON-ready dict::

        {"rows": [{"name", "ref", "est", "metrics": {metric: float}, "error": str | None}, ...],
         "means": {metric: float}, "n_pairs": int, "n_failed": int,
         "unmatched_ref": [path, ...], "unmatched_est": [path, ...]}

    Paths are strings. A reference that cannot be read raises :class:`NotationError`. An estimate that
    cannot be read is a failed transcription: its row has ``error`` set and the worst value (0.0) for
    every metric, and it counts in the means. ``means`` averages each metric over all rows.
    """
    pairs, unmatched_ref, unmatched_est = pair_paths(ref, est)
    rows: list[dict[str, Any]] = []
    for name, rp, ep in pairs:
        try:
            ref_score = _read(rp)
        except NotationError:
            raise
        except Exception as exc:
            raise NotationError(f"cannot read reference {rp}: {type(exc).__name__}: {exc}") from exc
        error = None
        try:
            est_score = _read(ep)
        except Exception as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            error = msg.removeprefix(f"{ep}: ")  # readers name the file; the row already does
            metrics = dict.fromkeys(METRIC_KEYS, 0.0)
            metrics["n_ref_notes"] = float(sum(len(p.notes) for p in ref_score.parts if not p.is_drum))
            metrics["n_est_notes"] = 0.0
            metrics = _ordered(metrics)
        else:
            metrics = _pair_metrics(ref_score, est_score, rp, ep, onset_tolerance=onset_tolerance,
                                    offset_ratio=offset_ratio, offset_min_tolerance=offset_min_tolerance)
        rows.append({"name": name, "ref": str(rp), "est": str(ep), "metrics": metrics, "error": error})
    means = {k: float(np.mean([r["metrics"][k] for r in rows])) for k in rows[0]["metrics"]} if rows else {}
    return {
        "rows": rows,
        "means": means,
        "n_pairs": len(rows),
        "n_failed": sum(1 for r in rows if r["error"]),
        "unmatched_ref": [str(p) for p in unmatched_ref],
        "unmatched_est": [str(p) for p in unmatched_est],
    }


def _ordered(metrics: dict[str, float]) -> dict[str, float]:
    keys = list(METRIC_KEYS) + ["n_ref_notes", "n_est_notes"]
    return {k: metrics[k] for k in keys if k in metrics}


_TABLE_COLUMNS = (
    ("onset_f1", "On F1"), ("onset_offset_f1", "OnOff F1"), ("onset_offset_overlap_ratio", "Overlap"),
    ("reward_total", "Reward"), ("reward_pitch", "Pitch"), ("reward_metre", "Metre"),
    ("reward_tempo", "Tempo"), ("reward_instrument", "Instr"),
)


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of :func:`evaluate_paths`'s report: one row per pair (``!`` marks a failed
    estimate), a mean row, then failures and unmatched files."""
    def fmt(v: float | None) -> str:
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"

    rows = report.get("rows", [])
    means = report.get("means", {})
    names = [r["name"] + (" !" if r.get("error") else "") for r in rows]
    name_w = max([len("name")] + [len(n) for n in names])
    header = "name".ljust(name_w) + "".join(f"  {title:>8}" for _, title in _TABLE_COLUMNS)
    lines = [header, "-" * len(header)]
    for n, r in zip(names, rows, strict=True):
        lines.append(n.ljust(name_w) + "".join(f"  {fmt(r['metrics'].get(k)):>8}" for k, _ in _TABLE_COLUMNS))
    lines.append("-" * len(header))
    lines.append("mean".ljust(name_w) + "".join(f"  {fmt(means.get(k)):>8}" for k, _ in _TABLE_COLUMNS))
    n_failed = sum(1 for r in rows if r.get("error"))
    lines.append(f"{len(rows)} pair(s)" + (f", {n_failed} failed (!, scored 0)" if n_failed else ""))
    for r in rows:
        if r.get("error"):
            lines.append(f"  failed {r['est']}: {r['error']}")
    for key, what in (("unmatched_ref", "reference files without an estimate"),
                      ("unmatched_est", "estimate files without a reference")):
        files = report.get(key) or []
        if files:
            lines.append(f"{what} ({len(files)}): " + ", ".join(Path(p).name for p in files))
    return "\n".join(lines)


__all__ = [
    "METRIC_KEYS", "NOTE_METRIC_KEYS", "REWARD_KEYS", "SCORE_EXTENSIONS",
    "evaluate_pair", "evaluate_paths", "format_report", "note_metrics", "pair_paths", "score_to_intervals",
]
