"""Symbolic generation with our ABC language model: prompt or controls -> ABC tunes -> :class:`Score`.

``generate("a lively jig in D for fiddle", n=4, seed=1)`` parses the prompt
(:func:`musicllm.generation.controls.parse_prompt`, strict: contradictions are errors), turns the
controls into header tokens (see :mod:`musicllm.models.abc_tokenizer`), samples the header slots the
prompt left open from the model, then decodes the body with a key/value cache, temperature and
nucleus (top-p) sampling under :class:`~musicllm.generation.abc_constraints.BarConstraint`, so every
bar adds up to the meter and the tune has exactly the requested number of bars (when the prompt gives
no length, the sampled ``<bars:..>`` bucket, at most 32). Each tune is read back with our ABC reader.

Controls -> tokens: meter ``<M:n/d>`` (a meter the model never saw is an error), key by tonic pitch
class and mode (likewise), unit length when given and known, tune type when known (else ``?``),
origin from style words (irish -> O'Neill's, scottish -> Aird's, american -> Ryan's). ``length_bars``
is the exact bar count (pickup not counted), at most :data:`MAX_BARS`.

Seeds: the header is sampled once with ``seed``; variation ``i`` decodes its body with ``seed + i``.
``opening``: an ABC tune (or just a body in the header's meter and key) to continue; its header fixes
meter, unit length and key, and it is rewritten through our ABC reader/writer first (so a partial last
bar is padded with rests).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from musicllm.errors import MusicLLMError
from musicllm.score.model import Key, Meter, Score

__all__ = ["Generated", "GenerationRequest", "generate", "request_from_controls", "sample_tune", "MAX_BARS",
           "SAMPLED_MAX_BARS"]

MAX_BARS = 48          # longest request; beyond ~40 bars of eighths the 512-token context may run out
SAMPLED_MAX_BARS = 32  # longest length bucket sampled when the request gives none
_STYLE_ORIGINS = {"irish": "oneills1850", "celtic": "oneills1850", "scottish": "airdsAirs", "scots": "airdsAirs",
                  "american": "ryansMammoth"}
_CLOSE_MARGIN = 24  # tokens before the context limit at which the tune is closed with rests


@dataclass
class Generated:
    """One generated tune: ``score`` (parsed back from ``abc``), ``abc`` text, the ``controls`` used
    (header tokens and their readable values), the body ``tokens``, decoding ``seconds`` and speed."""

    score: Score
    abc: str
    controls: dict[str, Any]
    tokens: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return len(self.tokens) / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"abc": self.abc, "controls": self.controls, "n_tokens": len(self.tokens),
                "seconds": round(self.seconds, 3)}


@dataclass
class GenerationRequest:
    """Header tokens fixed by the user (None: sampled), plus what is not a token."""

    fixed: dict[str, str | None]
    bars: int | None = None
    key_mode: str | None = None       # a mode asked for without a tonic: restricts the sampled key
    tempo_qpm: float | None = None
    program: int = 0
    title: str = "Generated tune"
    opening: list[str] = field(default_factory=list)


def _vocab_slot(vocab, slot: str) -> list[str]:
    return vocab.slot_tokens(slot)


def request_from_controls(controls, vocab, *, title: str = "Generated tune") -> GenerationRequest:
    """Map :class:`~musicllm.generation.controls.Controls` to header tokens of ``vocab``.

    Raises :class:`MusicLLMError` for a meter, key or length the model cannot produce."""
    from musicllm.models.abc_tokenizer import CODE_MODES, MODE_CODES, bars_bucket

    fixed: dict[str, str | None] = dict.fromkeys(("origin", "T", "M", "L", "K", "bars"))
    meter: Meter | None = getattr(controls, "meter", None)
    if meter is not None:
        tok = f"<M:{meter.numerator}/{meter.denominator}>"
        if tok not in vocab.index:
            known = ", ".join(t[3:-1] for t in _vocab_slot(vocab, "M"))
            raise MusicLLMError(f"the ABC model never saw the meter {meter.numerator}/{meter.denominator}; "
                                f"it knows {known}")
        fixed["M"] = tok
    key: Key | None = getattr(controls, "key", None)
    if key is not None:
        code = MODE_CODES.get(key.mode)
        matches = [t for t in _vocab_slot(vocab, "K") if code and t.endswith(f"{code}>")
                   and Key.parse(t[3:-4]).tonic_pc == key.tonic_pc]
        if not matches:
            raise MusicLLMError(f"the ABC model never saw the key {key}")
        fixed["K"] = matches[0]
    mode = getattr(controls, "mode", None)
    key_mode = MODE_CODES.get(mode) if mode and key is None else None
    if key_mode and not any(t.endswith(f"{key_mode}>") for t in _vocab_slot(vocab, "K")):
        raise MusicLLMError(f"the ABC model never saw a tune in {CODE_MODES.get(key_mode, mode)}")
    unit = getattr(controls, "unit_length", None)
    if unit is not None and f"<L:{unit}>" in vocab.index:
        fixed["L"] = f"<L:{unit}>"
    tt = getattr(controls, "tune_type", None)
    if tt:
        fixed["T"] = f"<T:{tt}>" if f"<T:{tt}>" in vocab.index else "<T:?>"
    style = (getattr(controls, "style", None) or "").split()
    origin = next((_STYLE_ORIGINS[w] for w in style if w in _STYLE_ORIGINS), None)
    if origin and f"<origin:{origin}>" in vocab.index:
        fixed["origin"] = f"<origin:{origin}>"
    bars = getattr(controls, "length_bars", None)
    if bars is not None:
        if not 1 <= bars <= MAX_BARS:
            raise MusicLLMError(f"the ABC model writes 1 to {MAX_BARS} bars, not {bars}")
        fixed["bars"] = f"<bars:{bars_bucket(bars)}>"
    program = getattr(controls, "program", None)
    return GenerationRequest(fixed=fixed, bars=bars, key_mode=key_mode, tempo_qpm=getattr(controls, "tempo_qpm", None),
                             program=int(program) if program is not None else 0, title=title)


def _sample(logits, allowed: list[int], temperature: float, top_p: float, rng) -> int:
    """Sample among ``allowed`` ids: softmax(logits / temperature), nucleus ``top_p``; ``rng`` is a
    ``numpy.random.Generator``."""
    import numpy as np

    if len(allowed) == 1:
        return allowed[0]
    z = (logits.numpy() if hasattr(logits, "numpy") else np.asarray(logits))[allowed].astype(np.float64)
    if temperature <= 0:
        return allowed[int(np.argmax(z))]
    z = (z - z.max()) / temperature
    p = np.exp(z)
    p /= p.sum()
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        sp = p[order]
        keep = np.cumsum(sp) - sp < top_p
        keep[0] = True
        p = np.zeros_like(p)
        p[order[keep]] = sp[keep]
        p /= p.sum()
    return allowed[int(rng.choice(len(allowed), p=p))]


def _header(lm, req: GenerationRequest, gen) -> list[str]:
    """Fixed slots as given, open slots sampled from the model (temperature 1)."""
    import torch

    from musicllm.models.abc_tokenizer import BOS, HEADER_SLOTS

    vocab = lm.vocab
    tokens = [BOS]
    for slot in HEADER_SLOTS:
        if req.fixed.get(slot):
            tokens.append(req.fixed[slot])
            continue
        options = _vocab_slot(vocab, slot)
        if slot == "K" and req.key_mode:
            options = [t for t in options if t.endswith(f"{req.key_mode}>")]
        if slot in ("origin", "T"):
            options = [t for t in options if not t.endswith(":?>")] or options
        if slot == "bars":
            options = [t for t in options if t[6:-1].isdigit() and int(t[6:-1]) <= SAMPLED_MAX_BARS]
        with torch.no_grad():
            logits = lm.module(torch.tensor([vocab.encode(tokens)]))[0, -1]
        tid = _sample(logits, vocab.encode(options), 1.0, 1.0, gen)
        tokens.append(vocab.tokens[tid])
    return tokens


def sample_tune(lm, header: list[str], *, target_bars: int, seed: int = 0, temperature: float = 1.0,
                top_p: float = 0.95, opening: list[str] | None = None, use_cache: bool = True) -> tuple[list[str], float]:
    """Decode one body after ``header`` (``<bos>`` + six slot tokens); returns ``(body tokens, seconds)``.

    ``use_cache=False`` reruns the whole prefix for every token (for speed comparisons only)."""
    import torch

    from musicllm.generation.abc_constraints import BarConstraint, TokenClasses
    from musicllm.models.abc_corpus import bar_units
    from musicllm.models.abc_lm import IncrementalDecoder

    vocab = lm.vocab
    classes = getattr(lm, "_classes", None)
    if classes is None:
        classes = lm._classes = TokenClasses.of(vocab.tokens)
    meter, unit = header[3][3:-1], header[4][3:-1]
    cons = BarConstraint(classes, bar_units(meter, unit), target_bars)
    import numpy as np

    gen = np.random.default_rng(int(seed))
    body: list[str] = []
    for tok in opening or []:
        tid = vocab.index.get(tok)
        if tid is None or tid not in cons.allowed():
            raise MusicLLMError(f"the opening does not fit the model's bars at {' '.join(body[-6:] + [tok])!r}")
        cons.advance(tid)
        body.append(tok)
    t0 = time.perf_counter()
    ids = vocab.encode(header + body)
    max_len = lm.config.max_len
    decoder = IncrementalDecoder(lm) if use_cache else None
    new = list(ids)
    with torch.inference_mode():
        while not cons.done:
            if decoder is not None:
                logits = decoder.feed(new)
            else:
                logits = lm.module(torch.tensor([ids]))[0, -1]
            if len(ids) >= max_len - _CLOSE_MARGIN:
                tid = cons.closing_choice()
            else:
                tid = _sample(logits, cons.allowed(), temperature, top_p, gen)
            cons.advance(tid)
            if tid == classes.eos:
                break
            ids.append(tid)
            body.append(vocab.tokens[tid])
            new = [tid]
    return body, time.perf_counter() - t0


def body_to_abc(header: list[str], body: list[str], *, title: str, tempo_qpm: float | None, program: int) -> str:
    """ABC text: header fields from the control tokens, body with spaces at beat boundaries and four
    bars a line."""
    from musicllm.models.abc_tokenizer import _DUR_RE, duration_value

    meter, unit, key = header[3][3:-1], header[4][3:-1], header[5][3:-1]
    tonic, mode = key[:-3], key[-3:]
    k = tonic + {"maj": "", "min": "m"}.get(mode, mode)
    m = Meter.parse(meter)
    beat = Fraction(m.beat_qn) / 4 / Fraction(unit)  # felt beat in units of L
    qpm = tempo_qpm or 120.0
    q = f"Q:{m.beat_qn / 4}={round(qpm / float(m.beat_qn))}" if m.is_compound else f"Q:1/4={round(qpm)}"
    title = " ".join(str(title).replace("%", " ").split()) or "Generated tune"
    lines = ["X:1", f"T:{title}", f"M:{meter}", f"L:{unit}", q, f"K:{k}", f"%%MIDI program {program}"]
    out: list[str] = []
    pos, bars_on_line, tup, in_chord, ev_start = Fraction(0), 0, 0, False, None
    text = ""

    def end_event(d: Fraction) -> None:
        nonlocal pos, tup, text
        real = d * Fraction(2, 3) if tup else d
        pos += real
        if tup:
            tup -= 1
        if not tup and pos % beat == 0:
            text += " "

    pending: Fraction | None = None
    for tok in body:
        if pending is not None and _DUR_RE.fullmatch(tok):
            text += tok
            end_event(duration_value(tok))
            pending = None
            continue
        if pending is not None:
            end_event(Fraction(1))
            pending = None
        if tok == "[":
            in_chord = True
            text += "["
        elif tok == "]":
            in_chord = False
            text += "]"
            pending = Fraction(1)
        elif in_chord:
            text += tok
        elif tok in ("|", "|]"):
            text = text.rstrip() + f" {tok}"
            pos = Fraction(0)
            bars_on_line += 1
            if tok == "|]" or bars_on_line == 4:
                out.append(text.strip())
                text, bars_on_line = "", 0
            else:
                text += " "
        elif tok == "(3":
            tup = 3
            text += "(3"
        elif tok == "-":
            text = text.rstrip() + "-"
            if pos % beat == 0:
                text += " "
        else:
            text += tok
            pending = Fraction(1)
    del ev_start
    if text.strip():
        out.append(text.strip())
    return "\n".join(lines + out) + "\n"


def _opening_tokens(opening: str, lm) -> tuple[dict[str, str], list[str]]:
    from musicllm.models.abc_corpus import encode_tune

    text = opening if "K:" in opening else f"X:1\nK:C\n{opening}"
    toks = encode_tune(text)
    if toks is None:
        raise MusicLLMError("the opening is not ABC our reader can use (one voice, notes, at most 96 bars)")
    head, body = toks[:6], toks[6:]
    if body and body[-1] == "|]":
        body[-1] = "|"
    for t in head[2:5]:
        if t not in lm.vocab.index:
            raise MusicLLMError(f"the opening's {t[1:-1]} is not one the ABC model knows")
    return {"M": head[2], "L": head[3], "K": head[4]}, body


def generate(prompt_or_controls, n: int = 1, seed: int = 0, temperature: float = 1.0, top_p: float = 0.95,
             opening: str | None = None, *, model=None, title: str | None = None) -> list[Generated]:
    """Generate ``n`` tunes (variations of one request) from a prompt, ``Controls`` or ``ParsedControls``.

    ``model``: an :class:`~musicllm.models.abc_lm.AbcLM` or a checkpoint path (default: shipped).
    Raises :class:`MusicLLMError` for an empty, contradictory or impossible request."""
    import torch

    from musicllm.models.abc_lm import AbcLM, load_checkpoint

    if n < 1:
        raise MusicLLMError(f"--n must be at least 1, not {n}")
    if not 0 < top_p <= 1 or temperature < 0:
        raise MusicLLMError("top_p must be in (0, 1] and temperature at least 0")
    lm = model if isinstance(model, AbcLM) else load_checkpoint(model)
    controls = prompt_or_controls
    prompt_text = None
    if isinstance(prompt_or_controls, str):
        from musicllm.generation.controls import parse_prompt

        prompt_text = prompt_or_controls
        controls = parse_prompt(prompt_or_controls, strict=True).controls
    elif hasattr(prompt_or_controls, "controls"):
        controls = prompt_or_controls.controls
    req = request_from_controls(controls, lm.vocab, title=title or (prompt_text or "Generated tune").strip()[:60])
    open_body: list[str] = []
    if opening is not None:
        fields, open_body = _opening_tokens(opening, lm)
        for slot, tok in fields.items():
            if req.fixed.get(slot) not in (None, tok):
                raise MusicLLMError(f"the opening's {tok[1:-1]} contradicts the request's {req.fixed[slot][1:-1]}")
            req.fixed[slot] = tok
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one token at a time: extra threads only add synchronisation
    try:
        return _generate(lm, req, open_body, n, seed, temperature, top_p)
    finally:
        torch.set_num_threads(threads)


def _generate(lm, req: GenerationRequest, open_body: list[str], n: int, seed: int, temperature: float,
              top_p: float) -> list[Generated]:

    import numpy as np

    from musicllm.score.abc_read import read_abc

    gen = np.random.default_rng(int(seed))
    header = _header(lm, req, gen)
    bars = req.bars or int(header[6][6:-1])
    bars = min(bars, MAX_BARS)
    if open_body and open_body.count("|") >= bars:
        raise MusicLLMError(f"the opening already has {open_body.count('|')} bars; ask for more than that")
    out = []
    for i in range(n):
        body, secs = sample_tune(lm, header, target_bars=bars, seed=seed + i, temperature=temperature, top_p=top_p,
                                 opening=open_body)
        abc = body_to_abc(header, body, title=req.title if n == 1 else f"{req.title} ({i + 1})",
                          tempo_qpm=req.tempo_qpm, program=req.program)
        score = read_abc(abc)
        for part in score.parts:
            part.program = req.program
        info = {"header": header[1:], "meter": header[3][3:-1], "unit": header[4][3:-1], "key": header[5][3:-1],
                "bars": bars, "tune_type": header[2][3:-1], "origin": header[1][8:-1], "program": req.program,
                "tempo_qpm": req.tempo_qpm, "seed": seed + i, "temperature": temperature, "top_p": top_p}
        out.append(Generated(score=score, abc=abc, controls=info, tokens=body[len(open_body):], seconds=secs))
    return out
