"""Build rendered datasets from corpora: `build_dataset` (resumable, local or Ray) and `dataset_stats`.

``build_dataset("music21:oneills1850", "out/", renderings=4)`` renders every piece of the corpus
(`musicllm.data.corpora`) ``renderings`` times (`musicllm.data.rendering`: instruments, tempo,
transposition, SoundFont, loudness, reverb, noise) into this layout::

    OUT/build.json          the settings (`RenderSettings`); a rerun must use the same ones (corpus,
                            renderings, limit, workers and engine may change)
    OUT/items/<id>/         one folder per finished item: <id>.flac, .mid, .abc, .json (ground truth
                            and facts), .qa.jsonl, item.json (its manifest row)
    OUT/manifest.jsonl      one row per finished item, sorted by id; no timings, so two builds with the
    OUT/manifest.parquet    same settings give identical bytes. Both read by ``datasets.load_dataset(
                            "json" | "parquet", data_files=...)``; paths in rows are relative to OUT
    OUT/failures.jsonl      pieces and renderings the last run left out, with reason and detail
    OUT/report.json         the last run's report: items, hours of audio, failures by reason,
                            throughput and seconds per stage (summed over workers)

Resuming: an item is written into ``items/.tmp-<id>-<host>-<pid>/`` and renamed into place whole, so
a folder ``items/<id>/`` is always complete. A rerun skips finished items and removes temporary
folders left by an interrupted run; the manifest is rebuilt from the finished items (every 30 s and
at the end, also after an interruption), so it only ever lists complete items. One build per folder
at a time.

Bad input: a piece that cannot be parsed or rendered is recorded in the report (reason, detail) and
skipped. A write error (``ENOSPC``: the disk is full) stops the build cleanly: no new piece starts,
the manifest is written from the complete items, and `BuildStopped` (a `MusicLLMError`, one-line
message, ``.report`` attached) is raised.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicllm.data.corpora import Failure, PieceError, PieceRef, list_pieces, load_piece
from musicllm.data.engines import ENGINES, import_ray, run_tasks
from musicllm.data.rendering import (
    ITEMS_DIR,
    ROW_FILE,
    RenderedItem,
    RenderSettings,
    item_id,
    render_item,
    resolve_families,
)
from musicllm.errors import MissingDependencyError, MusicLLMError
from musicllm.files import atomic_write_text, atomic_write_with

SETTINGS_FILE = "build.json"
MANIFEST_JSONL = "manifest.jsonl"
MANIFEST_PARQUET = "manifest.parquet"
FAILURES_FILE = "failures.jsonl"
REPORT_FILE = "report.json"
LAYOUT = "musicllm.dataset/1"
SAVE_EVERY_S = 30.0
PYARROW_INSTALL = "pip install 'pyarrow==26.0.1'"
#: Imported once by the local workers' forkserver: what every item needs (scipy.signal alone takes seconds).
WORKER_PRELOAD = ("scipy.signal", "soundfile", "tinysoundfont", "musicllm.audio.effects", "musicllm.audio.render",
                  "musicllm.score.abc", "musicllm.score.midi", "musicllm.data.qa")

#: Manifest columns and their Arrow types (the rows of `musicllm.data.rendering.render_item`).
MANIFEST_COLUMNS: dict[str, str] = {
    "id": "string", "piece_id": "string", "rendering": "int32", "split": "string", "collection": "string",
    "title": "string", "composer": "string", "origin": "string", "tune_type": "string", "license": "string",
    "source_file": "string", "audio": "string", "midi": "string", "abc": "string", "facts": "string",
    "qa": "string", "duration_s": "float64", "sr": "int32", "tempo_qpm": "float64", "beat_bpm": "float64",
    "meter": "string", "key": "string", "transpose_semitones": "int32", "tempo_factor": "float64",
    "instruments": "list<string>", "programs": "list<int32>", "soundfont": "string",
    "reverb_rt60_s": "float64", "noise_snr_db": "float64", "loudness_dbfs": "float64", "n_notes": "int32",
    "n_qa": "int32", "audio_sha256": "string", "seed": "int64",
}


class BuildStopped(MusicLLMError):
    """A build stopped before its end (full disk, unwritable folder); ``report`` tells what was done."""

    def __init__(self, message: str, report: BuildReport):
        super().__init__(message)
        self.report = report


# ---------------------------------------------------------------------------------------------------
# The worker side: one piece, all its missing renderings

@dataclass(frozen=True)
class Job:
    """What every task needs besides its piece (sent once per worker on Ray)."""

    out_dir: str
    settings: RenderSettings
    soundfont_paths: dict[str, str]
    families: dict[str, tuple[int, ...]]


@dataclass
class PieceResult:
    """What a worker did with one piece: rows of the items it finished, failures, a fatal write error
    (the build must stop) and seconds per stage."""

    piece_id: str
    n_asked: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    fatal: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _where(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    return f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""


def _write_item(out: Path, item: RenderedItem) -> None:
    """Write an item's files into a temporary folder, then rename it to ``items/<id>`` (atomic)."""
    final = out / ITEMS_DIR / item.item_id
    if final.is_dir():
        return
    tmp = out / ITEMS_DIR / f".tmp-{item.item_id}-{socket.gethostname()}-{os.getpid()}"
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        for name, data in item.files.items():  # item.json, the row, comes last
            with open(tmp / name, "wb") as f:
                f.write(data)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # finished meanwhile by another worker
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _add(timings: dict[str, float], more: dict[str, float]) -> None:
    for k, v in more.items():
        timings[k] = timings.get(k, 0.0) + v


def build_piece(task: tuple[PieceRef, tuple[int, ...]], job: Job) -> PieceResult:
    """Parse one piece and render its missing renderings (the task every engine runs)."""
    ref, renderings = task
    res = PieceResult(ref.piece_id, len(renderings))
    t0 = time.perf_counter()
    try:
        piece = load_piece(ref)
    except PieceError as exc:
        res.failures.append(Failure(ref.piece_id, exc.reason, exc.detail))
        return res
    except Exception as exc:  # noqa: BLE001 - one bad piece never stops a build
        res.failures.append(Failure(ref.piece_id, "internal error", f"{type(exc).__name__}: {exc}{_where(exc)}"))
        return res
    res.timings["parse_s"] = time.perf_counter() - t0
    out = Path(job.out_dir)
    for k in renderings:
        iid = item_id(ref.piece_id, k)
        try:
            item = render_item(piece, k, job.settings, job.soundfont_paths, job.families)
        except PieceError as exc:
            res.failures.append(Failure(ref.piece_id, exc.reason, exc.detail, iid))
            continue
        except Exception as exc:  # noqa: BLE001
            res.failures.append(Failure(ref.piece_id, "internal error",
                                        f"{type(exc).__name__}: {exc}{_where(exc)}", iid))
            continue
        t1 = time.perf_counter()
        try:
            _write_item(out, item)
        except OSError as exc:
            target = f"{ITEMS_DIR}/{iid}"
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                res.fatal = f"disk full while writing {target} in {out}"
            else:
                res.fatal = f"cannot write {target} in {out}: {exc.strerror or exc}"
            break
        item.timings["write_s"] = time.perf_counter() - t1
        _add(res.timings, item.timings)
        res.rows.append(item.row)
    return res


# ---------------------------------------------------------------------------------------------------
# Manifest

def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingDependencyError(f"the Parquet manifest needs pyarrow: {PYARROW_INSTALL}") from exc
    return pa, pq


def manifest_schema():
    """The Arrow schema of ``manifest.parquet``."""
    pa, _ = _pyarrow()
    types = {"string": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "float64": pa.float64(),
             "list<string>": pa.list_(pa.string()), "list<int32>": pa.list_(pa.int32())}
    return pa.schema([(name, types[t]) for name, t in MANIFEST_COLUMNS.items()])


def write_manifest(out_dir: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    """Write ``manifest.parquet`` and ``manifest.jsonl`` (rows sorted by id), each atomically."""
    out = Path(out_dir)
    ordered = sorted(rows, key=lambda r: r["id"])
    _, pq = _pyarrow()
    import pyarrow as pa

    table = pa.Table.from_pylist([{k: r.get(k) for k in MANIFEST_COLUMNS} for r in ordered], schema=manifest_schema())
    atomic_write_with(out / MANIFEST_PARQUET, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    atomic_write_text(out / MANIFEST_JSONL, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered))


def read_manifest(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of ``manifest.jsonl`` of a built dataset."""
    path = Path(out_dir) / MANIFEST_JSONL
    if not path.is_file():
        raise MusicLLMError(f"{out_dir}: no {MANIFEST_JSONL} (not a dataset built by musicllm data build)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def finished_rows(out_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Rows of the finished items (folders ``items/<id>``), by id; the manifest serves as a cache."""
    out = Path(out_dir)
    items = out / ITEMS_DIR
    if not items.is_dir():
        return {}
    cached: dict[str, dict] = {}
    if (out / MANIFEST_JSONL).is_file():
        try:
            cached = {r["id"]: r for r in read_manifest(out)}
        except (ValueError, KeyError):
            cached = {}
    rows: dict[str, dict[str, Any]] = {}
    for entry in os.scandir(items):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        if entry.name in cached:
            rows[entry.name] = cached[entry.name]
            continue
        try:
            rows[entry.name] = json.loads((Path(entry.path) / ROW_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not an item folder of ours
    return rows


def _prepare(out: Path, settings: RenderSettings) -> None:
    """Create OUT or check that it holds a build with the same settings; drop stale temp folders."""
    stored_path = out / SETTINGS_FILE
    if out.exists() and not out.is_dir():
        raise MusicLLMError(f"{out}: exists and is not a folder")
    if stored_path.is_file():
        try:
            stored = json.loads(stored_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise MusicLLMError(f"{stored_path}: unreadable ({exc})") from None
        old = stored.get("settings", {})
        new = settings.to_dict()
        diff = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        if diff:
            what = ", ".join(f"{k}: {old.get(k)} -> {new.get(k)}" for k in diff[:3])
            raise MusicLLMError(f"{out} holds a build with other settings ({what}); use another --out "
                                "or the same settings to resume")
    elif out.is_dir() and any(out.iterdir()):
        raise MusicLLMError(f"{out}: folder is not empty and holds no {SETTINGS_FILE}; choose a new or empty folder")
    else:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(stored_path, json.dumps({"layout": LAYOUT, "settings": settings.to_dict()}, indent=1) + "\n")
    items = out / ITEMS_DIR
    items.mkdir(exist_ok=True)
    for entry in os.scandir(items):
        if entry.name.startswith(".tmp-"):
            shutil.rmtree(entry.path, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------
# Report

@dataclass
class BuildReport:
    """What a build run did. Times in seconds (wall clock; ``stage_s`` summed over workers), audio in
    hours. ``items_total`` and ``audio_hours`` count the whole manifest, ``*_built`` this run only."""

    out_dir: str
    corpus: str
    engine: str
    workers: int
    pieces: int = 0
    items_planned: int = 0
    items_built: int = 0
    items_skipped: int = 0
    items_total: int = 0
    audio_hours: float = 0.0
    audio_hours_built: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    wall_s: float = 0.0
    stage_s: dict[str, float] = field(default_factory=dict)
    stopped: str | None = None

    def failures_by_reason(self) -> dict[str, int]:
        return dict(Counter(f.reason for f in self.failures).most_common())

    @property
    def items_per_min(self) -> float:
        return 60.0 * self.items_built / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": self.out_dir, "corpus": self.corpus, "engine": self.engine, "workers": self.workers,
            "pieces": self.pieces, "items_planned": self.items_planned, "items_built": self.items_built,
            "items_skipped": self.items_skipped, "items_total": self.items_total,
            "audio_hours": round(self.audio_hours, 4), "audio_hours_built": round(self.audio_hours_built, 4),
            "failures_by_reason": self.failures_by_reason(), "n_failures": len(self.failures),
            "wall_s": round(self.wall_s, 3), "items_per_min": round(self.items_per_min, 1),
            "audio_x_realtime": round(3600 * self.audio_hours_built / self.wall_s, 1) if self.wall_s > 0 else 0.0,
            "stage_s": {k: round(v, 3) for k, v in sorted(self.stage_s.items())}, "stopped": self.stopped,
        }

    def lines(self) -> list[str]:
        """The report as short lines of text."""
        d = self.to_dict()
        out = [f"{self.items_built} items built, {self.items_skipped} already there, {len(self.failures)} failed "
               f"({self.pieces} pieces, {self.engine} engine, {self.workers} workers)",
               f"dataset: {self.items_total} items, {self.audio_hours:.3f} h of audio in {self.out_dir}",
               f"throughput: {d['items_per_min']:.1f} items/min, {d['audio_x_realtime']:.1f}x real time "
               f"({self.wall_s:.1f} s)"]
        if self.failures:
            out.append("failures: " + ", ".join(f"{r} {n}" for r, n in self.failures_by_reason().items())
                       + f" (see {FAILURES_FILE})")
        if self.stopped:
            out.append(f"stopped: {self.stopped}")
        return out


def _save(out: Path, rows: dict[str, dict], report: BuildReport | None) -> str | None:
    """Write the manifest (and the report and failures); return an error text instead of raising."""
    try:
        write_manifest(out, list(rows.values()))
        if report is not None:
            atomic_write_text(out / FAILURES_FILE, "".join(json.dumps(f.to_dict(), ensure_ascii=False) + "\n"
                                                         for f in sorted(report.failures,
                                                                         key=lambda f: (f.piece_id, f.item_id or ""))))
            atomic_write_text(out / REPORT_FILE, json.dumps(report.to_dict(), indent=1) + "\n")
    except OSError as exc:
        return f"could not update the manifest in {out}: {exc.strerror or exc}"
    return None


# ---------------------------------------------------------------------------------------------------
# The driver

def _soundfont_paths(names: tuple[str, ...]) -> dict[str, str]:
    from musicllm.audio.render import available_soundfonts

    fonts = available_soundfonts()
    missing = [n for n in names if n not in fonts]
    if missing:
        raise MusicLLMError(f"unknown SoundFont(s) {', '.join(missing)}; available: {', '.join(fonts) or 'none'}")
    return {n: fonts[n] for n in names}


def build_dataset(corpus: str, out_dir: str | os.PathLike, *, renderings: int = 1, limit: int | None = None,
                  settings: RenderSettings | None = None, workers: int = 1, engine: str = "local",
                  address: str | None = None, progress: bool = False) -> BuildReport:
    """Render ``renderings`` items per piece of ``corpus`` (first ``limit`` pieces) into ``out_dir``.

    ``corpus``: ``music21:COLLECTION`` or a folder (see `musicllm.data.corpora`). ``settings``: what
    decides the items' bytes (`RenderSettings`; default seed 0, 20 s clips, TimGM6mb). ``engine``:
    ``"local"`` (``workers`` processes) or ``"ray"`` (``address`` of a cluster, else a local Ray
    instance with ``workers`` CPUs). ``progress``: a progress bar on stderr. Returns the report (also
    in ``report.json``); raises `MusicLLMError` for bad arguments and `BuildStopped` when a write
    error stopped the build. A KeyboardInterrupt leaves a manifest of the complete items; rerun to resume.
    """
    settings = settings or RenderSettings()
    settings.validate()
    if renderings < 1:
        raise MusicLLMError(f"renderings must be at least 1, got {renderings}")
    if limit is not None and limit < 1:
        raise MusicLLMError(f"limit must be at least 1, got {limit}")
    if engine not in ENGINES:
        raise MusicLLMError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if workers < 1:
        raise MusicLLMError(f"workers must be at least 1, got {workers}")
    if engine == "ray":
        import_ray()
    _pyarrow()
    job_fonts = _soundfont_paths(settings.soundfonts)
    families = resolve_families(settings.families)
    refs = list_pieces(corpus, limit=limit)
    out = Path(out_dir)
    _prepare(out, settings)
    rows = finished_rows(out)
    tasks = []
    skipped = 0
    for ref in refs:
        todo = tuple(k for k in range(renderings) if item_id(ref.piece_id, k) not in rows)
        skipped += renderings - len(todo)
        if todo:
            tasks.append((ref, todo))
    report = BuildReport(str(out), corpus, engine, workers, pieces=len(refs), items_planned=len(refs) * renderings,
                         items_skipped=skipped)
    job = Job(str(out.resolve()), settings, job_fonts, families)
    t_start = time.perf_counter()
    last_save = [t_start]

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True), disable=not progress,
                   transient=False)
    bar_task = bar.add_task("build", total=sum(len(t[1]) for t in tasks), info="")

    def on_result(res: PieceResult) -> bool:
        for row in res.rows:
            rows[row["id"]] = row
            report.items_built += 1
            report.audio_hours_built += float(row["duration_s"]) / 3600.0
        report.failures.extend(res.failures)
        _add(report.stage_s, res.timings)
        bar.update(bar_task, advance=res.n_asked, info=f"{len(report.failures)} failed" if report.failures else "")
        if res.fatal and not report.stopped:
            report.stopped = res.fatal
        now = time.perf_counter()
        if now - last_save[0] > SAVE_EVERY_S:
            last_save[0] = now
            _save(out, rows, None)
        return res.fatal is None

    def on_error(task: tuple[PieceRef, tuple[int, ...]], exc: BaseException) -> PieceResult:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return PieceResult(task[0].piece_id, len(task[1]),
                           failures=[Failure(task[0].piece_id, "worker crashed", detail[:200])])

    try:
        with bar:
            run_tasks(build_piece, tasks, job, on_result, engine=engine, workers=workers, address=address,
                      preload=WORKER_PRELOAD, on_error=on_error)
    except KeyboardInterrupt:
        report.stopped = "interrupted"
        raise
    finally:
        report.wall_s = time.perf_counter() - t_start
        report.items_total = len(rows)
        report.audio_hours = sum(float(r["duration_s"]) for r in rows.values()) / 3600.0
        save_error = _save(out, rows, report)
        if save_error and not report.stopped:
            report.stopped = save_error
    if report.stopped:
        listed = "the manifest lists" if not save_error else "the previous manifest lists at most"
        n = report.items_total
        raise BuildStopped(f"{report.stopped}: the build stopped; {listed} the {n} complete item{'s' * (n != 1)}; "
                           "free some space (or fix the folder) and rerun the same command to resume", report)
    return report


# ---------------------------------------------------------------------------------------------------
# Stats

def dataset_stats(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Counts over a built dataset's manifest: items, pieces, hours per split, collections,
    SoundFonts, instruments, meters, keys, QA pairs; the last run's failures by reason."""
    rows = read_manifest(out_dir)
    splits: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = splits.setdefault(r["split"], {"items": 0, "pieces": set(), "hours": 0.0})
        s["items"] += 1
        s["pieces"].add(r["piece_id"])
        s["hours"] += r["duration_s"] / 3600.0
    n = len(rows)
    stats: dict[str, Any] = {
        "items": n, "pieces": len({r["piece_id"] for r in rows}),
        "hours": round(sum(r["duration_s"] for r in rows) / 3600.0, 4),
        "mean_duration_s": round(sum(r["duration_s"] for r in rows) / n, 2) if n else 0.0,
        "splits": {k: {"items": v["items"], "pieces": len(v["pieces"]), "hours": round(v["hours"], 4)}
                   for k, v in sorted(splits.items())},
        "collections": dict(Counter(r["collection"] for r in rows).most_common()),
        "soundfonts": dict(Counter(r["soundfont"] for r in rows).most_common()),
        "instruments": dict(Counter(i for r in rows for i in r["instruments"]).most_common(15)),
        "meters": dict(Counter(r["meter"] for r in rows).most_common(10)),
        "keys": dict(Counter(r["key"] or "unknown" for r in rows).most_common(10)),
        "qa_pairs": sum(r["n_qa"] for r in rows),
        "with_reverb": sum(r["reverb_rt60_s"] is not None for r in rows),
        "with_noise": sum(r["noise_snr_db"] is not None for r in rows),
    }
    report_path = Path(out_dir) / REPORT_FILE
    if report_path.is_file():
        try:
            stats["last_run_failures"] = json.loads(report_path.read_text(encoding="utf-8")).get("failures_by_reason", {})
        except ValueError:
            pass
    return stats


def format_stats(stats: dict[str, Any]) -> str:
    """`dataset_stats` as readable text."""
    def counts(d: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in d.items()) or "none"

    lines = [f"{stats['items']} items from {stats['pieces']} pieces, {stats['hours']:.3f} h of audio "
             f"(mean {stats['mean_duration_s']:.1f} s), {stats['qa_pairs']} QA pairs"]
    for name, s in stats["splits"].items():
        lines.append(f"{name}: {s['items']} items, {s['pieces']} pieces, {s['hours']:.3f} h")
    lines += [f"collections: {counts(stats['collections'])}", f"soundfonts: {counts(stats['soundfonts'])}",
              f"instruments: {counts(stats['instruments'])}", f"meters: {counts(stats['meters'])}",
              f"keys: {counts(stats['keys'])}",
              f"effects: reverb on {stats['with_reverb']}, noise on {stats['with_noise']} items"]
    if stats.get("last_run_failures"):
        lines.append(f"last run's failures: {counts(stats['last_run_failures'])}")
    return "\n".join(lines)
