"""`musicllm eval text` and `musicllm eval mcq`: text metrics and multiple-choice scoring.

Wired into the CLI by ``register(app, eval_app)``. Errors a user can cause print one line
``musicllm: error: ...`` on stderr and exit with code 2; reports go to stdout (text, or JSON with
``--json``) and, with ``--out``, to a JSON file written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from musicllm.errors import MusicLLMError


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"musicllm: error: {msg}", err=True)
    raise typer.Exit(code)


def _emit(report: dict[str, Any], text: str, json_out: bool, out: Path | None) -> None:
    dumped = json.dumps(report, indent=1, default=str)
    if out is not None:
        from musicllm.files import atomic_write_text

        if out.exists() and out.is_dir():
            _fail(f"{out}: output path is a folder")
        try:
            atomic_write_text(out, dumped + "\n")
        except OSError as exc:
            _fail(f"{out}: cannot write: {exc.strerror or exc}")
    typer.echo(dumped if json_out else text)


def eval_text(
    refs: Path = typer.Option(..., "--refs", help="References JSONL: {id, text | references: [...]} per line."),
    hyps: Path = typer.Option(..., "--hyps", help="Hypotheses JSONL: {id, text | prediction} per line."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    no_bertscore: bool = typer.Option(False, "--no-bertscore", help="Skip BERTScore (no model loading)."),
    no_meteor: bool = typer.Option(False, "--no-meteor", help="Skip METEOR (no WordNet needed)."),
    out: Path | None = typer.Option(None, "-o", "--out", help="Also write the JSON report to this file."),
) -> None:
    """BLEU (word corpus / MU-LLaMA char sentence), METEOR, ROUGE-L, BERTScore, each labelled."""
    from musicllm.evaluation.text import evaluate_files, format_report

    try:
        report = evaluate_files(refs, hyps, use_bertscore=not no_bertscore, use_meteor=not no_meteor)
    except MusicLLMError as exc:
        _fail(str(exc))
    _emit(report, format_report(report), json_out, out)


def eval_mcq(
    questions: Path = typer.Option(..., "--questions",
                                   help="Questions JSONL: {id, question, options: [...], answer_index}."),
    predictions: Path | None = typer.Option(
        None, "--predictions", help="Predictions JSONL: {id, prediction}. Omit when the questions carry "
                                    "MuChoMusic's model_output."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON (with per-item letters)."),
    out: Path | None = typer.Option(None, "-o", "--out", help="Also write the JSON report to this file."),
) -> None:
    """Multiple-choice accuracy and unmapped rate (MuChoMusic's mapping and a strict one)."""
    from musicllm.evaluation.mcq import evaluate_files, format_report

    try:
        report = evaluate_files(questions, predictions)
    except MusicLLMError as exc:
        _fail(str(exc))
    _emit(report, format_report(report), json_out, out)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add ``eval text`` and ``eval mcq`` to ``eval_app`` (``app`` is unused, kept for the interface)."""
    eval_app.command("text")(eval_text)
    eval_app.command("mcq")(eval_mcq)
