"""CLI commands ``musicllm edit`` (score + instruction -> score files) and ``musicllm controls``
(prompt -> parsed controls as JSON, for debugging prompts).

Wired into the CLI by ``register(app, eval_app)``. Errors a user can cause (an unreadable input, an
empty, contradictory or impossible instruction) print one line ``musicllm: error: ...`` on stderr and
exit with code 2. ``edit`` writes every output into a staging folder inside OUTDIR first and moves
them into place only when all were written, so a failed run leaves no half-written files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import typer

from musicllm.apps.batch import check_out_dir, fail
from musicllm.errors import MusicLLMError

EDIT_FORMATS = ("abc", "mid", "musicxml", "json", "svg")
DEFAULT_FORMATS = "abc,mid,musicxml,json"


def read_edit_input(path: Path):
    """The :class:`~musicllm.score.model.Score` of a score file (ABC, MIDI, MusicXML, JSON), or of a
    recording (transcribed first)."""
    from musicllm.audio.load import SUPPORTED_AUDIO_EXTENSIONS
    from musicllm.score.io import READ_EXTENSIONS, read_score

    ext = path.suffix.lower()
    if ext in READ_EXTENSIONS:
        return read_score(path)
    if ext in SUPPORTED_AUDIO_EXTENSIONS:
        from musicllm.analysis.transcribe import transcribe
        from musicllm.audio.load import check_audio_path

        check_audio_path(path)
        return transcribe(path).score
    if not path.exists():
        raise MusicLLMError(f"{path}: no such file")
    shown = f"'{ext}'" if ext else "no extension"
    raise MusicLLMError(f"{path}: cannot edit files with {shown}; give a score ({', '.join(READ_EXTENSIONS)}) "
                        "or a recording (.wav, .flac, .mp3, ...)")


def _formats(text: str) -> list[str]:
    fmts = [f.strip().lower().lstrip(".") for f in text.split(",") if f.strip()]
    fmts = ["mid" if f in ("midi",) else "musicxml" if f in ("xml", "mxl") else f for f in fmts]
    bad = [f for f in fmts if f not in EDIT_FORMATS]
    if bad or not fmts:
        fail(f"unknown format(s) {', '.join(bad) or '(none)'}; choose from {', '.join(EDIT_FORMATS)}")
    return list(dict.fromkeys(fmts))


def write_staged(score, out_dir: Path, stem: str, fmts: list[str], protect: Path | None = None) -> list[Path]:
    """Write ``score`` as ``out_dir/<stem>.<fmt>`` for each format: all into a staging folder first,
    then moved into place; on failure nothing is left behind (nor ``out_dir`` when it was created)."""
    from musicllm.score.io import write_score

    targets = [out_dir / f"{stem}.{fmt}" for fmt in fmts]
    for t in targets:
        if protect is not None and t.exists() and t.resolve() == protect.resolve():
            raise MusicLLMError(f"{t}: would overwrite the input; choose another output folder")
        if t.is_dir():
            raise MusicLLMError(f"{t}: is a folder")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".musicllm-edit-", dir=out_dir))
    try:
        staged = [Path(write_score(score, staging / t.name)) for t in targets]
        for src, dst in zip(staged, targets, strict=True):
            os.replace(src, dst)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return targets


def edit(
    input_path: Path = typer.Argument(..., metavar="INPUT",
                                      help="A score (ABC, MIDI, MusicXML, JSON) or a recording (transcribed first)."),
    instruction: str = typer.Argument(..., help="What to change, e.g. \"slower and in G minor\"."),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for the outputs (<stem>.<ext>)."),
    formats: str = typer.Option(DEFAULT_FORMATS, "--format", "-f",
                                help="Comma-separated: abc, mid, musicxml, json, svg."),
) -> None:
    """Edit a score: transpose, change key or mode, tempo, instrument, meter, length, simplify."""
    from musicllm.generation.edit import apply_instruction

    fmts = _formats(formats)
    if not instruction.strip():
        fail("the edit instruction is empty: say what to change, e.g. 'slower and in G minor'")
    check_out_dir(out_dir)
    try:
        score = read_edit_input(input_path)
        result = apply_instruction(score, instruction)
        written = write_staged(result.score, out_dir, input_path.stem, fmts, protect=input_path)
    except MusicLLMError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{out_dir}: cannot write: {exc.strerror or exc}")
    for note in result.notes:
        typer.echo(f"musicllm: note: {note}", err=True)
    if result.ignored:
        typer.echo(f"musicllm: ignored: {', '.join(result.ignored)}", err=True)
    typer.echo(f"{input_path.name}: {result.summary()} -> {', '.join(str(p) for p in written)}")


def controls(
    prompt: str = typer.Argument(..., help="A generation prompt, e.g. \"a lively jig in D for fiddle\"."),
    no_embeddings: bool = typer.Option(False, "--no-embeddings", help="Rules only (no MiniLM fallback)."),
) -> None:
    """Print the controls parsed from a prompt as JSON (exit 2 when the prompt is empty or contradictory)."""
    from musicllm.generation.controls import parse_prompt

    try:
        parsed = parse_prompt(prompt, use_embeddings=not no_embeddings)
    except MusicLLMError as exc:
        fail(str(exc))
    typer.echo(parsed.to_json())
    if parsed.conflicts:
        fail(f"contradictory prompt: {'; '.join(parsed.conflicts)}")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:  # noqa: ARG001 - same signature for all
    """Add ``edit`` and ``controls`` to ``app`` (``eval_app`` is unused, kept for the interface)."""
    app.command("edit")(edit)
    app.command("controls")(controls)


__all__ = ["DEFAULT_FORMATS", "EDIT_FORMATS", "read_edit_input", "register", "write_staged"]
