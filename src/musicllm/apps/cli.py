"""The `musicllm` command line: a thin shell over the library's functions.

Errors a user can cause print one line ``musicllm: error: ...`` on stderr and exit with code 2
(1 when a batch partly failed). Progress goes to stderr; results go to files and stdout.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import typer  # noqa: E402

from musicllm.apps.batch import check_out_dir, err, fail, run_batch  # noqa: E402
from musicllm.errors import MusicLLMError  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="musicllm: transcribe, understand and generate music, offline.")
eval_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Evaluate outputs against references.")
app.add_typer(eval_app, name="eval")

_err = err
_fail = fail


@app.command()
def transcribe(
    audio: list[Path] = typer.Argument(..., help="Audio files or folders of audio files."),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for the outputs (<stem>.<ext>)."),
    formats: str = typer.Option("abc,mid,musicxml,svg,json", "--format", "-f",
                                help="Comma-separated: abc, mid, musicxml, svg, json."),
    parts: int | None = typer.Option(None, "--parts", help="Number of parts (default: estimated)."),
    instruments: str | None = typer.Option(None, "--instruments",
                                           help="Instrument per part, highest first: 'violin,cello' "
                                                "(default: recognised from the audio)."),
    no_instrument_id: bool = typer.Option(False, "--no-instrument-id",
                                          help="Do not recognise instruments: parts 'Part 1'.. on piano."),
    no_cleanup: bool = typer.Option(False, "--no-cleanup", help="Keep basic-pitch's raw notes."),
) -> None:
    """Transcribe recordings into scores (ABC, MIDI, MusicXML, SVG sheet, JSON)."""
    from musicllm.analysis.transcribe import FORMATS
    from musicllm.analysis.transcribe import transcribe as run

    fmts = [f.strip().lower() for f in formats.split(",") if f.strip()]
    fmts = ["mid" if f == "midi" else f for f in fmts]
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        _fail(f"unknown format(s) {', '.join(bad) or '(none)'}; choose from {', '.join(FORMATS)}")
    if parts is not None and not 1 <= parts <= 16:
        _fail(f"--parts must be between 1 and 16, got {parts}")
    from musicllm.score.instruments import program_for

    for name in (x.strip() for x in (instruments or "").split(",")):
        if name and program_for(name) is None:  # once here, not once per input file
            _fail(f"unknown instrument {name!r} (use a General MIDI name such as violin, cello, flute)")
    check_out_dir(out_dir)

    def work(f: Path) -> str:
        result = run(f, n_parts=parts, instruments=instruments or (), cleanup=not no_cleanup,
                     identify_instruments=not no_instrument_id)
        written = result.write(out_dir, f.stem, fmts)
        return f"{f.name}: {result.summary()} -> {', '.join(str(p) for p in written)}"

    run_batch(audio, "transcribing", work)


@eval_app.command("transcription")
def eval_transcription(
    ref: Path = typer.Option(..., "--ref", help="Reference file or folder (MIDI, ABC or JSON)."),
    est: Path = typer.Option(..., "--est", help="Estimated file or folder (paired with --ref by file stem)."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Note precision/recall/F1 (mir_eval) and the ABC reward, for files or folders of pairs."""
    import json

    from musicllm.evaluation.transcription import evaluate_paths, format_report

    for p in (ref, est):
        if not p.exists():
            _fail(f"{p}: no such file or folder")
    report = evaluate_paths(ref, est)
    typer.echo(json.dumps(report, indent=1, default=str) if json_out else format_report(report))


def _register_command_modules() -> None:
    """Commands that live in their own modules (one topic each)."""
    from musicllm.apps import (
        data_commands,
        edit_commands,
        generate_commands,
        llm_commands,
        qa_commands,
        text_eval_commands,
        understand_commands,
    )

    for module in (understand_commands, generate_commands, edit_commands, data_commands, qa_commands,
                   llm_commands, text_eval_commands):
        module.register(app, eval_app)


_register_command_modules()


def main() -> None:
    try:
        app()
    except MusicLLMError as exc:
        _err(str(exc))
        sys.exit(2)


if __name__ == "__main__":
    main()
