"""``musicllm make-qa``: MusicQA-style question-answer pairs from captions, facts or tags.

A thin shell over :func:`musicllm.data.qa.build_qa`. Wire it into the main CLI with
``register(app, eval_app)``. User errors print one line ``musicllm: error: ...`` on stderr and exit 2;
when some LLM calls failed but pairs were written the exit code is 1.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import typer

from musicllm.errors import MusicLLMError


def _fail(msg: str, code: int = 2) -> NoReturn:
    typer.echo(f"musicllm: error: {msg}", err=True)
    raise typer.Exit(code)


def _parse_fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-6:
        _fail(f"--split must be three non-negative fractions summing to 1 (train,valid,test), got {text!r}")
    return parts  # type: ignore[return-value]


def _llm_generate(spec: str) -> Callable[[list[dict[str, str]]], str]:
    """The chat function of the LLM backend named by ``spec`` (imported only when asked for)."""
    try:
        from musicllm.language.backends import get_backend
    except ImportError:
        _fail("LLM backends not available")
    backend = get_backend(spec)
    chat = getattr(backend, "chat", None)
    if chat is None:
        _fail(f"--llm {spec} cannot write question-answer pairs; leave out --llm to use the templates")

    def generate(messages: list[dict[str, str]]) -> str:
        return chat(messages, max_new_tokens=512)

    return generate


def make_qa(
    captions: Path | None = typer.Option(None, "--captions", help="MusicCaps CSV (ytid, start_s, end_s, "
                                         "aspect_list, caption)."),
    facts: Path | None = typer.Option(None, "--facts", help="Folder of MusicFacts JSON files (or one file)."),
    tags: Path | None = typer.Option(None, "--tags", help="Tags: JSONL {audio, tags} per line, or "
                                     "MagnaTagATune's annotations_final.csv."),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for train.jsonl, valid.jsonl, test.jsonl."),
    seed: int = typer.Option(0, "--seed", help="Seed for question wordings and the split."),
    llm: str | None = typer.Option(None, "--llm", help="LLM backend spec (transformers:/path, "
                                   "openai:http://host:port/v1); default: templates."),
    n_pairs: int = typer.Option(5, "--pairs", help="Pairs to ask the LLM for, per item."),
    limit: int | None = typer.Option(None, "--limit", help="Use only the first N items of each input."),
    split: str = typer.Option("0.8,0.1,0.1", "--split", help="Train,valid,test fractions (by recording)."),
) -> None:
    """Write MusicQA-style question-answer pairs (JSONL), deduplicated and split by recording."""
    from musicllm.data.qa import SPLITS, build_qa, recording_id, split_by_recording, write_splits

    inputs = {"--captions": captions, "--facts": facts, "--tags": tags}
    if not any(inputs.values()):
        _fail("give at least one of --captions, --facts, --tags")
    for opt, p in inputs.items():
        if p is not None and not p.exists():
            _fail(f"{p}: no such file or folder ({opt})")
        if p is not None and opt != "--facts" and not p.is_file():
            _fail(f"{p}: not a file ({opt})")
    if out_dir.exists() and not out_dir.is_dir():
        _fail(f"{out_dir}: output path exists and is not a folder")
    if limit is not None and limit < 1:
        _fail(f"--limit must be at least 1, got {limit}")
    if not 1 <= n_pairs <= 20:
        _fail(f"--pairs must be between 1 and 20, got {n_pairs}")
    fractions = _parse_fractions(split)
    try:
        generate = _llm_generate(llm) if llm else None
        if generate is None:
            build = build_qa(captions=captions, facts=facts, tags=tags, seed=seed, limit=limit)
        else:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(TextColumn("asking the LLM"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                          TimeElapsedColumn(), transient=True, console=Console(stderr=True)) as progress:
                task = progress.add_task("llm", total=None)
                build = build_qa(captions=captions, facts=facts, tags=tags, seed=seed, generate=generate,
                                 n_pairs=n_pairs, limit=limit,
                                 on_item=lambda done, total: progress.update(task, completed=done, total=total))
        if not build.records:
            why = (build.errors[0] if build.errors
                   else f"no usable pair in the LLM's replies; {build.llm_skipped} unusable items skipped" if generate
                   else "")
            _fail("no question-answer pairs were produced" + (f" ({why})" if why else ""))
        splits = split_by_recording(build.records, fractions, seed=seed)
        written = write_splits(out_dir, splits)
    except MusicLLMError as exc:
        _fail(str(exc))
    typer.echo(f"{build.n_items} items -> {build.n_generated} pairs, {build.n_duplicates} duplicates dropped, "
               f"{len(build.records)} kept")
    for name in SPLITS:
        recs = splits[name]
        typer.echo(f"{name}: {len(recs)} records, {len({recording_id(r) for r in recs})} recordings "
                   f"-> {written[name]}")
    typer.echo("tasks: " + ", ".join(f"{t} {n}" for t, n in build.by_task().most_common()))
    if generate is not None:
        typer.echo(f"LLM: {build.llm_skipped} unusable items skipped, {build.llm_failed} calls failed")
    if build.errors:
        typer.echo(f"musicllm: error: {build.errors[0]}"
                   + (f" (and {len(build.errors) - 1} more)" if len(build.errors) > 1 else ""), err=True)
        raise typer.Exit(1)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add ``make-qa`` to the main app (``eval_app`` gets nothing from this module)."""
    app.command("make-qa")(make_qa)
