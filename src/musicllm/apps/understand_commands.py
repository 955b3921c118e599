"""CLI commands that listen and speak: ``analyze``, ``describe``, ``ask``, ``chat``.

``describe``, ``ask`` and ``chat`` take an audio file, or a facts JSON written by ``analyze`` (then no
audio is analysed again). ``--llm SPEC`` picks a language backend: ``builtin`` (default, no LLM),
``transformers:/path/to/checkpoint`` or ``openai:http://HOST:PORT/v1``; a backend that fails is an error
(exit 2), never a silent fallback to another one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from musicllm.apps.batch import check_out_dir, fail, run_batch

LLM_HELP = "Language backend: builtin (default), transformers:/path/to/checkpoint, openai:http://HOST:PORT/v1."


def _facts_for(path: Path):
    """MusicFacts of an audio file (analysed now) or of a facts JSON file (read)."""
    from musicllm.analysis.facts import MusicFacts
    from musicllm.errors import MusicLLMError

    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise MusicLLMError(f"{path}: no such file")
        try:
            return MusicFacts.from_json(path.read_text())
        except (ValueError, KeyError, TypeError) as exc:
            raise MusicLLMError(f"{path}: not a musicllm facts JSON ({type(exc).__name__}: {exc})") from None
    from musicllm.analysis.analyze import analyze
    from musicllm.audio.load import check_audio_path

    check_audio_path(path)
    return analyze(path)


def _backend(spec: str | None):
    if not spec or spec == "builtin":
        return None
    from musicllm.language.backends import get_backend

    backend = get_backend(spec)
    if backend is not None:
        backend.check()  # fail before the long analysis, not after it
    return backend


def register(app: typer.Typer, eval_app: typer.Typer) -> None:  # noqa: ARG001 - same signature for all
    @app.command()
    def analyze(
        audio: list[Path] = typer.Argument(..., help="Audio files or folders of audio files."),
        out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for <stem>.json and <stem>.md."),
        no_tags: bool = typer.Option(False, "--no-tags", help="Skip the instrument/genre/mood tagger."),
    ) -> None:
        """Measure recordings: tempo, beats, meter, key, chords, sections, loudness, tags, notes."""
        from musicllm.analysis.analyze import analyze as run
        from musicllm.analysis.facts_report import facts_to_markdown
        from musicllm.files import atomic_write_text

        check_out_dir(out_dir)

        def work(f: Path) -> str:
            facts = run(f, tags=not no_tags)
            out_dir.mkdir(parents=True, exist_ok=True)
            js, md = out_dir / f"{f.stem}.json", out_dir / f"{f.stem}.md"
            atomic_write_text(js, facts.to_json())
            atomic_write_text(md, facts_to_markdown(facts))
            inst = ", ".join(t.name for t in facts.instruments[:3]) or "-"
            return (f"{f.name}: {facts.duration_s:.1f} s, {facts.tempo_qpm.value:.0f} qpm, {facts.meter.value}, "
                    f"{facts.key.value}, {len(facts.chords)} chords, {len(facts.sections)} sections, "
                    f"instruments {inst} -> {js}, {md}")

        run_batch(audio, "analysing", work)

    @app.command()
    def describe(
        audio: Path = typer.Argument(..., help="An audio file, or a facts JSON from `musicllm analyze`."),
        llm: str = typer.Option("builtin", "--llm", help=LLM_HELP),
    ) -> None:
        """A one-paragraph caption and a tag line, written from what was measured."""
        from musicllm.language.describe import describe as run

        backend = _backend(llm)
        facts = _facts_for(audio)
        cap = run(facts, backend=backend)
        typer.echo(cap.text)
        if cap.tags:
            typer.echo("Tags: " + ", ".join(cap.tags))

    @app.command()
    def ask(
        audio: Path = typer.Argument(..., help="An audio file, or a facts JSON from `musicllm analyze`."),
        question: str = typer.Argument(..., help="A question about the recording."),
        llm: str = typer.Option("builtin", "--llm", help=LLM_HELP),
    ) -> None:
        """Answer a question about a recording (the answer goes to stdout)."""
        from musicllm.language.answer import answer as run

        if not question.strip():
            fail("the question is empty")
        backend = _backend(llm)
        facts = _facts_for(audio)
        typer.echo(run(facts, question, backend=backend).text)

    @app.command()
    def chat(
        audio: Path = typer.Argument(..., help="An audio file, or a facts JSON from `musicllm analyze`."),
        llm: str = typer.Option("builtin", "--llm", help=LLM_HELP),
    ) -> None:
        """Ask questions one after another (the recording is analysed once). 'quit' or end of input ends."""
        from musicllm.language.answer import answer as run

        backend = _backend(llm)
        facts = _facts_for(audio)
        interactive = sys.stdin.isatty()
        if interactive:
            typer.echo(f"Analysed {audio.name}. Ask about tempo, key, chords, instruments... ('quit' to end)",
                       err=True)
        while True:
            if interactive:
                typer.echo("> ", nl=False, err=True)
            line = sys.stdin.readline()
            if not line:  # end of input
                break
            q = line.strip()
            if not q:
                continue
            if q.lower() in ("quit", "exit", "q"):
                break
            typer.echo(run(facts, q, backend=backend).text)
