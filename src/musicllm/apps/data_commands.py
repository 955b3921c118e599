"""``musicllm data build`` and ``musicllm data stats``: rendered datasets from score corpora.

A thin shell over :func:`musicllm.data.build.build_dataset` and :func:`musicllm.data.build.dataset_stats`.
Wire it into the main CLI with ``register(app, eval_app)``. Progress goes to stderr, the report to
stdout. Exit codes: 0 all pieces built; 1 some pieces or renderings failed (the dataset is still
usable); 2 nothing built, a user error, or a build stopped by a write error (full disk), each with one
line ``musicllm: error: ...`` on stderr; 130 interrupted (rerun the same command to resume).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NoReturn

import typer

from musicllm.errors import MusicLLMError

data_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Build rendered datasets (audio + ABC + MIDI + facts + QA) from score corpora.")


def _fail(msg: str, code: int = 2) -> NoReturn:
    typer.echo(f"musicllm: error: {msg}", err=True)
    raise typer.Exit(code)


def _pair(text: str, what: str, cast=float) -> tuple:
    try:
        lo, hi = (cast(x) for x in text.split(","))
    except ValueError:
        _fail(f"{what} must be two numbers LOW,HIGH, got {text!r}")
    return lo, hi


@data_app.command("build")
def build(
    corpus: str = typer.Option(..., "--corpus", help="music21:COLLECTION (e.g. music21:oneills1850, "
                               "music21:bach-chorales), a folder of .abc/.mid/.musicxml/.mxl/.krn files, "
                               "or NAME=FOLDER to name its collection."),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder (created; an existing build resumes)."),
    renderings: int = typer.Option(1, "--renderings", "-n", help="Renderings per piece."),
    limit: int | None = typer.Option(None, "--limit", help="Use only the first N pieces of the corpus."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice (same seed, same bytes)."),
    workers: int = typer.Option(os.cpu_count() or 1, "--workers", "-w", help="Worker processes (or Ray CPUs)."),
    engine: str = typer.Option("local", "--engine", help="local (processes on this machine) or ray."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Ray cluster address (default: "
                                           "$RAY_ADDRESS, else a local Ray instance)."),
    max_seconds: float = typer.Option(20.0, "--max-seconds", help="Longest clip in seconds (cut at a bar line)."),
    soundfonts: list[str] | None = typer.Option(None, "--soundfont", help="SoundFont name, repeatable, or 'all' "
                                                 "(default TimGM6mb; FluidR3_GM, MuseScore_General... when installed)."),
    families: str | None = typer.Option(None, "--families", help="Instrument families to draw from, e.g. "
                                        "'strings,reed,pipe' (default: all of musicllm.data.rendering.DEFAULT_FAMILIES)."),
    transpose: str = typer.Option("-5,5", "--transpose", help="Transposition range in semitones, LOW,HIGH."),
    tempo_factor: str = typer.Option("0.85,1.2", "--tempo-factor", help="Tempo change range, LOW,HIGH."),
    reverb: float = typer.Option(0.5, "--reverb", help="Share of items with room reverb (0..1)."),
    noise: float = typer.Option(0.5, "--noise", help="Share of items with background noise (0..1)."),
    sr: int = typer.Option(22050, "--sr", help="Sample rate in Hz."),
    no_qa: bool = typer.Option(False, "--no-qa", help="Do not write question-answer pairs."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Render every piece of a corpus N times: FLAC, MIDI, normalised ABC, facts JSON and QA pairs."""
    from musicllm.data.build import BuildStopped, build_dataset
    from musicllm.data.rendering import DEFAULT_FAMILIES, RenderSettings

    if not 0 <= reverb <= 1 or not 0 <= noise <= 1:
        _fail("--reverb and --noise are shares between 0 and 1")
    fams = tuple(f.strip() for f in families.split(",") if f.strip()) if families else tuple(DEFAULT_FAMILIES)
    if soundfonts and "all" in soundfonts:
        from musicllm.audio.render import available_soundfonts

        soundfonts = list(available_soundfonts())  # recorded by name in build.json
    settings = RenderSettings(seed=seed, max_seconds=max_seconds, sr=sr,
                              soundfonts=tuple(soundfonts) if soundfonts else ("TimGM6mb",), families=fams,
                              transpose=_pair(transpose, "--transpose", int),
                              tempo_factor=_pair(tempo_factor, "--tempo-factor"), reverb_prob=reverb,
                              noise_prob=noise, qa=not no_qa)
    try:
        report = build_dataset(corpus, out, renderings=renderings, limit=limit, settings=settings, workers=workers,
                               engine=engine, address=ray_address, progress=not no_progress)
    except BuildStopped as exc:
        for line in exc.report.lines():
            typer.echo(line)
        _fail(str(exc))
    except KeyboardInterrupt:
        typer.echo(f"musicllm: interrupted; the manifest in {out} lists the complete items; "
                   "rerun the same command to resume", err=True)
        raise typer.Exit(130) from None
    except MusicLLMError as exc:
        _fail(str(exc))
    for line in report.lines():
        typer.echo(line)
    if report.items_total == 0:
        reasons = ", ".join(f"{r} {n}" for r, n in report.failures_by_reason().items())
        _fail("nothing was built" + (f" (failures: {reasons})" if reasons else ""))
    if report.failures:
        raise typer.Exit(1)


@data_app.command("stats")
def stats(
    dataset: Path = typer.Argument(..., help="A folder built by musicllm data build."),
    json_out: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    """Items, pieces, hours per split, collections, instruments, meters and keys of a built dataset."""
    from musicllm.data.build import dataset_stats, format_stats

    if not dataset.is_dir():
        _fail(f"{dataset}: no such folder")
    try:
        result = dataset_stats(dataset)
    except MusicLLMError as exc:
        _fail(str(exc))
    typer.echo(json.dumps(result, indent=1) if json_out else format_stats(result))


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add the ``data`` command group (build, stats) to the main app; ``eval_app`` gets nothing."""
    app.add_typer(data_app, name="data")
