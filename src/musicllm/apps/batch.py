"""Shared CLI plumbing: one-line errors, the stderr console, and a batch loop over audio inputs.

The batch loop's exit codes: 0 when every input worked, 1 when some failed, 2 when none did.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import typer

from musicllm.errors import MusicLLMError


def err(msg: str) -> None:
    typer.echo(f"musicllm: error: {msg}", err=True)


def fail(msg: str, code: int = 2) -> None:
    err(msg)
    raise typer.Exit(code)


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        fail(f"{out_dir}: output path exists and is not a folder")


def run_batch(inputs: list[Path], verb: str, work: Callable[[Path], str]) -> None:
    """Expand ``inputs`` (files or folders) to audio files and call ``work(file) -> summary line`` on
    each, with a progress bar over several files; user errors name the file, one line each."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from musicllm.audio.load import find_audio_files

    files: list[Path] = []
    errors: list[str] = []
    for a in inputs:
        try:
            files.extend(find_audio_files([a]))
        except MusicLLMError as exc:
            errors.append(str(exc))
            err(str(exc))
    if not files:
        raise typer.Exit(2)
    done = 0
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TimeElapsedColumn(), transient=True, console=stderr_console(),
                        disable=len(files) < 2 and not sys.stderr.isatty())
    with progress:
        task = progress.add_task(verb, total=len(files))
        for f in files:
            progress.update(task, description=f"{verb} {f.name}")
            try:
                line = work(f)
                done += 1
                progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
            except (MusicLLMError, OSError) as exc:
                msg = str(exc) if str(exc).startswith(f"{f}:") else f"{f}: {exc}"  # name the file once
                errors.append(msg)
                progress.console.print(f"musicllm: error: {msg}", markup=False, highlight=False, soft_wrap=True)
            progress.advance(task)
    if done == 0:
        raise typer.Exit(2)
    if errors:
        raise typer.Exit(1)
