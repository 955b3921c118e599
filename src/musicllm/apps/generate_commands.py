"""`musicllm generate` (own ABC language model) and `musicllm eval generation`.

Wired into the CLI by ``register(app, eval_app)``. Errors a user can cause (empty, contradictory or
impossible prompt, unreadable model or opening file) print one line ``musicllm: error: ...`` on
stderr and exit with code 2. ``generate`` builds every output in memory first and then writes each
file atomically, so a failed run leaves no half-written files.

Per tune ``OUTDIR/<slug>_<i>.abc``, ``.mid``, ``.wav`` (rendered with the requested instrument's
General MIDI program on the TimGM6mb SoundFont; piano when no instrument was named) and ``.svg``.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import typer

from musicllm.errors import MusicLLMError

__all__ = ["register", "generate_cmd", "eval_generation_cmd", "slugify", "DEFAULT_EVAL_PROMPTS"]

DEFAULT_EVAL_PROMPTS = (
    "a jig in D, 16 bars", "a reel in G major, 16 bars", "a waltz in A minor, 16 bars", "a polka in C, 8 bars",
    "a hornpipe in Bb, 16 bars", "a slip jig in E minor, 12 bars", "a march in F in 2/4, 16 bars",
    "a tune in D dorian in 3/4, 16 bars", "a tune in 6/8 in A mixolydian, 8 bars", "a reel in E minor, 32 bars",
    "a jig in G, 8 bars", "a tune in 3/8 in Eb, 16 bars",
)


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"musicllm: error: {msg}", err=True)
    raise typer.Exit(code)


def slugify(text: str, max_len: int = 40) -> str:
    """File-name stem from a prompt: lower-case ASCII words joined by ``-`` (``"tune"`` when empty)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:max_len].strip("-")
    return slug or "tune"


def _wav_bytes(score, sr: int = 22050) -> bytes:
    import numpy as np
    import soundfile as sf

    from musicllm.audio.render import available_soundfonts, render_score

    fonts = available_soundfonts()
    audio = render_score(score, soundfont=fonts.get("TimGM6mb"), sr=sr)
    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1.0, 1.0), sr, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def build_outputs(tunes, slug: str, *, wav: bool = True, svg: bool = True) -> dict[str, bytes]:
    """File name -> bytes for every generated tune (nothing is written here)."""
    from musicllm.score.midi import score_to_midi_bytes
    from musicllm.score.sheet import score_to_svg

    files: dict[str, bytes] = {}
    for i, g in enumerate(tunes, start=1):
        stem = f"{slug}_{i}"
        files[f"{stem}.abc"] = g.abc.encode()
        files[f"{stem}.mid"] = score_to_midi_bytes(g.score)
        if wav:
            files[f"{stem}.wav"] = _wav_bytes(g.score)
        if svg:
            files[f"{stem}.svg"] = score_to_svg(g.score).encode()
    return files


def generate_cmd(
    prompt: str = typer.Argument(..., help="What to write, e.g. 'a lively jig in D for fiddle'."),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for <slug>_<i>.abc/.mid/.wav/.svg."),
    n: int = typer.Option(1, "--n", help="Number of tunes (variations of one request)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (tune i uses seed + i - 1)."),
    temperature: float = typer.Option(1.0, "--temperature", help="Sampling temperature (0 = greedy)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling mass, in (0, 1]."),
    opening: Path | None = typer.Option(None, "--opening", help="ABC file whose tune the model continues."),
    model: Path | None = typer.Option(None, "--model", help="Checkpoint (default: the shipped one)."),
    no_wav: bool = typer.Option(False, "--no-wav", help="Skip the rendered WAV."),
    no_svg: bool = typer.Option(False, "--no-svg", help="Skip the SVG sheet."),
) -> None:
    """Compose tunes with the built-in ABC language model: ABC, MIDI, WAV and SVG per tune."""
    from musicllm.files import atomic_write_bytes
    from musicllm.generation.symbolic import generate

    if n < 1 or n > 100:
        _fail(f"--n must be between 1 and 100, not {n}")
    if out_dir.exists() and not out_dir.is_dir():
        _fail(f"{out_dir}: not a folder")
    opening_text = None
    if opening is not None:
        try:
            opening_text = opening.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            _fail(f"{opening}: cannot read: {exc.strerror or exc}")
    try:
        tunes = generate(prompt, n=n, seed=seed, temperature=temperature, top_p=top_p, opening=opening_text,
                         model=model)
        files = build_outputs(tunes, slugify(prompt), wav=not no_wav, svg=not no_svg)
    except MusicLLMError as exc:
        _fail(str(exc))
    try:
        for name, data in files.items():
            atomic_write_bytes(out_dir / name, data)
    except OSError as exc:
        _fail(f"{out_dir}: cannot write: {exc.strerror or exc}")
    for g in tunes:
        c = g.controls
        typer.echo(f"{c['key']} {c['meter']} L:{c['unit']} {c['bars']} bars, {len(g.tokens)} tokens "
                   f"({g.tokens_per_second:.0f} tokens/s)", err=True)
    typer.echo("\n".join(str(out_dir / name) for name in files))


def _requests_for(prompts: list[str]) -> list[dict[str, Any]]:
    from musicllm.generation.controls import parse_prompt

    out = []
    for p in prompts:
        c = parse_prompt(p, strict=True).controls
        out.append({"prompt": p, "meter": str(c.meter) if c.meter else None, "key": c.key,
                    "bars": c.length_bars})
    return out


def eval_generation_cmd(
    prompts_file: Path | None = typer.Option(None, "--prompts", help="Text file, one prompt a line "
                                             "(default: a built-in set of 12 meters/keys/lengths)."),
    n: int = typer.Option(4, "--n", help="Tunes per prompt."),
    seed: int = typer.Option(0, "--seed"),
    model: Path | None = typer.Option(None, "--model", help="Checkpoint (default: the shipped one)."),
    corpus: Path | None = typer.Option(None, "--corpus", help="Corpus cache (JSON lines from the training "
                                       "recipe) for novelty and held-out perplexity; skipped when absent."),
    no_music21: bool = typer.Option(False, "--no-music21", help="Skip the music21 checks."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    out: Path | None = typer.Option(None, "-o", "--out", help="Also write the JSON report here."),
) -> None:
    """Parse rate, control accuracy, novelty and held-out perplexity of generated tunes."""
    import time

    from musicllm.evaluation.generation import TrainingIndex, evaluate
    from musicllm.files import atomic_write_text
    from musicllm.generation.symbolic import generate
    from musicllm.models.abc_lm import heldout_perplexity, load_checkpoint

    if n < 1:
        _fail(f"--n must be at least 1, not {n}")
    try:
        if prompts_file is not None:
            if not prompts_file.is_file():
                _fail(f"{prompts_file}: no such file")
            prompts = [ln.strip() for ln in prompts_file.read_text().splitlines() if ln.strip()]
            if not prompts:
                _fail(f"{prompts_file}: no prompts")
        else:
            prompts = list(DEFAULT_EVAL_PROMPTS)
        if corpus is not None and not corpus.is_file():
            _fail(f"{corpus}: no such corpus file")
        lm = load_checkpoint(model)
        reqs = _requests_for(prompts)
        abcs, per_tune, tokens, secs = [], [], 0, 0.0
        for k, req in enumerate(reqs):
            for g in generate(req["prompt"], n=n, seed=seed + 1000 * k, model=lm):
                abcs.append(g.abc)
                per_tune.append(req)
                tokens += len(g.tokens)
                secs += g.seconds
        index = None
        report: dict[str, Any] = {}
        if corpus is not None:
            from musicllm.models.abc_corpus import load_corpus

            t0 = time.perf_counter()
            tunes = load_corpus(corpus)
            index = TrainingIndex.from_token_lists(t.tokens for t in tunes if t.split == "train" and t.shift == 0)
            held = [t.tokens for t in tunes if t.split == "heldout" and t.shift == 0]
            ppl = heldout_perplexity(lm.module, lm.vocab, held, seq_len=lm.config.max_len - 1)
            report["heldout_perplexity"] = ppl["perplexity"]
            report["heldout_nll_per_token"] = ppl["nll_per_token"]
            report["heldout_tunes"] = ppl["tunes"]
            report["index_seconds"] = time.perf_counter() - t0
        report.update(evaluate(abcs, per_tune, index=index, use_music21=not no_music21))
        report["tokens_per_second"] = tokens / secs if secs else None
        report["prompts"] = len(prompts)
    except MusicLLMError as exc:
        _fail(str(exc))
    dumped = json.dumps(report, indent=1, default=str)
    if out is not None:
        try:
            atomic_write_text(out, dumped + "\n")
        except OSError as exc:
            _fail(f"{out}: cannot write: {exc.strerror or exc}")
    if json_out:
        typer.echo(dumped)
    else:
        typer.echo("\n".join(f"{k}: {round(v, 4) if isinstance(v, float) else v}" for k, v in report.items()))


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add ``generate`` to ``app`` and ``generation`` to ``eval_app``."""
    app.command("generate")(generate_cmd)
    eval_app.command("generation")(eval_generation_cmd)
