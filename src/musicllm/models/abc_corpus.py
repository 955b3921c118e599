"""ABC tunes -> token sequences for :mod:`musicllm.models.abc_lm` (corpus reading, split, cache).

Each tune is read with our ABC reader, its first voice written back with our ABC writer (the
canonical form, see :mod:`musicllm.models.abc_tokenizer`) and lexed. Tunes whose meter or key changes
inside the body, with no notes, with more than :data:`MAX_BARS` bars or whose bars do not add up to
the meter are skipped. The held-out split is 5% of tunes chosen by a hash of the canonical body (so
the same tune found twice lands on one side); exact duplicate bodies are kept once.

Transposition augmentation (training split only): each tune is also written transposed by a few
random semitone shifts in -5..+6 (pitches and key move together, key respelled with the fewest
accidentals), so every key token is seen with many tunes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from musicllm.models.abc_tokenizer import MODE_CODES, header_tokens, lex_body

__all__ = ["TuneTokens", "encode_tune", "corpus_files", "build_corpus", "load_corpus", "HELDOUT_FRACTION"]

HELDOUT_FRACTION = 0.05
MAX_BARS = 96


@dataclass
class TuneTokens:
    """One encoded tune: ``tokens`` (header + body, no bos/eos), its id, split and transposition."""

    tune_id: str
    split: str  # "train" or "heldout"
    shift: int
    tokens: list[str]

    def to_json(self) -> str:
        return json.dumps({"id": self.tune_id, "split": self.split, "shift": self.shift, "tokens": self.tokens})


def _transposed(score, semitones: int):
    from musicllm.data.corpora import transpose_key

    if semitones == 0:
        return score
    parts = [replace(p, notes=[replace(n, pitch=n.pitch + semitones) for n in p.notes]) for p in score.parts]
    return replace(score, parts=parts, key=transpose_key(score.key, semitones))


def _tune_type(tune: str) -> str | None:
    from musicllm.data.corpora import abc_header_fields, tune_type

    r = abc_header_fields(tune, "R")
    t = abc_header_fields(tune, "T")
    return tune_type(r[0] if r else None, t[0] if t else None)


def canonical_body(abc: str) -> tuple[dict[str, str], str]:
    """Header fields (M, L, K) and the first voice's body lines of a canonical ABC tune."""
    fields: dict[str, str] = {}
    body: list[str] = []
    voice = 0
    for line in abc.splitlines():
        m = re.match(r"([A-Za-z]):(.*)$", line)
        if m and m.group(1) == "V":
            voice += 1
            continue
        if m and voice == 0:
            fields.setdefault(m.group(1), m.group(2).strip())
            continue
        if line.startswith("%") or not line.strip():
            continue
        if voice <= 1:
            body.append(line)
    return fields, " ".join(body)


def encode_tune(text: str, *, origin: str | None = None, shift: int = 0) -> list[str] | None:
    """Header + body tokens of one ABC tune transposed by ``shift`` semitones; None when unusable."""
    from musicllm.score.abc_read import parse_key, read_abc_with_warnings
    from musicllm.score.abc_write import write_abc

    if len(re.findall(r"^\s*[MK]:", text, flags=re.M)) > 2:
        return None  # meter or key changes inside the body
    try:
        score = read_abc_with_warnings(text)[0]
    except Exception:  # noqa: BLE001 - a corpus tune our reader cannot read is skipped
        return None
    if not score.parts or not score.parts[0].notes:
        return None
    score = replace(score, parts=score.parts[:1])
    score = _transposed(score, shift)
    try:
        abc = write_abc(score)
    except Exception:  # noqa: BLE001
        return None
    fields, body = canonical_body(abc)
    try:
        body_tokens = lex_body(body)
    except ValueError:
        return None
    key, _, _ = parse_key(fields.get("K", "C"))
    if key is None or key.mode not in MODE_CODES:
        return None
    bars = body_tokens.count("|") + 1
    if score.pickup_qn:
        bars -= 1
    if bars < 1 or bars > MAX_BARS:
        return None
    head = header_tokens(origin=origin, tune_type=_tune_type(text), meter=fields.get("M", "4/4"),
                         unit=fields.get("L", "1/8"), tonic=key.tonic, mode=key.mode, bars=bars)
    return head + body_tokens


def corpus_files(extra_dirs: list[str] | None = None) -> list[tuple[str, Path]]:
    """``(origin, path)`` of music21's bundled ABC files plus ``*.abc`` under ``extra_dirs``."""
    from musicllm.data.corpora import music21_corpus_dir

    base = music21_corpus_dir()
    out = [(p.relative_to(base).parts[0], p) for p in sorted(base.rglob("*.abc"))]
    for d in extra_dirs or []:
        root = Path(d).expanduser()
        out += [(root.name, p) for p in sorted(root.rglob("*.abc"))]
    return out


def _iter_tunes(files: list[tuple[str, Path]]) -> Iterator[tuple[str, str, str]]:
    from musicllm.score.abc_read import split_tunes

    for origin, path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for i, tune in enumerate(split_tunes(text)):
            yield f"{origin}/{path.name}#{i}", origin, tune


def _split_of(body: list[str]) -> str:
    h = hashlib.sha1(" ".join(body).encode()).digest()
    return "heldout" if int.from_bytes(h[:4], "big") / 2 ** 32 < HELDOUT_FRACTION else "train"


def _encode_one(args: tuple[str, str, str, int, int]) -> list[TuneTokens]:
    tune_id, origin, tune, n_shifts, seed = args
    base = encode_tune(tune, origin=origin)
    if base is None:
        return []
    split = _split_of(base[6:])
    out = [TuneTokens(tune_id, split, 0, base)]
    if split == "train" and n_shifts > 0:
        rng = random.Random(f"{seed}:{tune_id}")
        for s in rng.sample([s for s in range(-5, 7) if s != 0], n_shifts):
            toks = encode_tune(tune, origin=origin, shift=s)
            if toks is not None:
                out.append(TuneTokens(tune_id, split, s, toks))
    return out


def build_corpus(out_path: str | os.PathLike, *, extra_dirs: list[str] | None = None, n_shifts: int = 2,
                 seed: int = 0, workers: int = 2, limit: int | None = None, progress: bool = True) -> Path:
    """Encode the corpus to a JSON-lines file (one :class:`TuneTokens` a line), atomically."""
    from multiprocessing import Pool

    from musicllm.files import atomic_write_text

    jobs = [(tid, origin, tune, n_shifts, seed) for tid, origin, tune in _iter_tunes(corpus_files(extra_dirs))]
    if limit is not None:
        jobs = jobs[:limit]
    seen: set[str] = set()
    lines: list[str] = []
    with Pool(max(1, workers)) as pool:
        for k, encoded in enumerate(pool.imap(_encode_one, jobs, chunksize=16)):
            if progress and k % 1000 == 0:
                print(f"encoded {k}/{len(jobs)} tunes", flush=True)
            if not encoded:
                continue
            body = " ".join(encoded[0].tokens[6:])
            if body in seen:
                continue
            seen.add(body)
            lines += [e.to_json() for e in encoded]
    return atomic_write_text(out_path, "\n".join(lines) + "\n")


def load_corpus(path: str | os.PathLike) -> list[TuneTokens]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                out.append(TuneTokens(d["id"], d["split"], d["shift"], d["tokens"]))
    return out


def bar_units(meter: str, unit: str) -> Fraction:
    """Length of one bar in units of ``L`` (``"6/8"``, ``"1/8"`` -> 6)."""
    num, den = (int(x) for x in meter.split("/"))
    return Fraction(num, den) / Fraction(unit)
