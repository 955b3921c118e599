"""Metrics for generated ABC tunes: parse rate, control accuracy, novelty, held-out perplexity.

Conventions:

- **parse rate** (``parse_rate``): fraction of tunes our ABC reader reads with at least one note;
  ``music21_parse_rate``: fraction music21's ABC parser reads with at least one note.
- **bars add up** (``bars_add_up_rate``): every bar's durations (units of ``L``, a triplet's notes
  counting 2/3) sum to the meter's bar, except a first pickup bar, which may be shorter. Checked on the
  ABC text by our lexer; ``music21_full_measures_rate`` is music21's own view: every measure but the
  first is ``barDuration`` long (quarter notes, tolerance 1e-6).
- **control accuracy**, per control asked for (the request's, not the sampled ones): ``meter_accuracy``
  (the ``M:`` field, and the bars add up), ``key_accuracy`` (the ``K:`` field: tonic pitch class and
  mode), ``length_accuracy`` (full bars, pickup excluded, equal to the bars asked for) and
  ``key_estimate_accuracy``, an independent check: music21's Krumhansl-Schmuckler estimate of the notes
  has the asked tonic pitch class and the asked mode's major/minor quality (dorian counts as minor).
- **novelty** against training tunes: bars are compared transposition-invariantly, as the first note's
  pitch class relative to the tonic, then (interval in semitones, duration) of each event, rests as
  ``None``. ``longest_copied_run``: the longest run of consecutive bars of a generated tune that appears
  as consecutive bars of one training tune (1 = only single bars are shared); ``max_copied_run`` is the
  maximum over tunes and ``copies_8_bars`` counts tunes whose run is 8 or more.
  ``ngram_overlap``: fraction of the tune's 8-event n-grams (interval, duration) found anywhere in the
  training set (music shares many short figures: expect a high value; 1.0 means a pure collage).
- **held-out perplexity**: exp of the mean negative log-likelihood per token (nats, header tokens
  included) of the 5% held-out tunes in their original key (:func:`musicllm.models.abc_lm.heldout_perplexity`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from musicllm.errors import MusicLLMError
from musicllm.models.abc_tokenizer import _DUR_RE, duration_value, is_pitch, pitch_midi

__all__ = ["TrainingIndex", "bar_lengths", "bar_signatures", "body_tokens_of_abc", "evaluate", "validate",
           "NGRAM"]

NGRAM = 8

BarSig = tuple


def validate(abcs: Sequence[str]) -> None:
    """Raise :class:`MusicLLMError` when there is nothing to evaluate."""
    if not abcs:
        raise MusicLLMError("no generated tunes to evaluate")
    for i, a in enumerate(abcs):
        if not isinstance(a, str) or "K:" not in a:
            raise MusicLLMError(f"generated tune {i} is not ABC text with a K: field")


def _header_field(abc: str, letter: str) -> str | None:
    for line in abc.splitlines():
        if line.startswith(f"{letter}:"):
            return line[2:].strip()
    return None


def body_tokens_of_abc(abc: str) -> list[str]:
    """Body tokens (our lexer) of a single-voice ABC tune: the lines after ``K:`` that are not fields."""
    from musicllm.models.abc_tokenizer import lex_body

    lines, seen_k = [], False
    for line in abc.splitlines():
        if line.startswith("K:"):
            seen_k = True
            continue
        if seen_k and line.strip() and not line.startswith("%") and not (len(line) > 1 and line[1] == ":"):
            lines.append(line)
    return lex_body(" ".join(lines))


def _events(tokens: Iterable[str]) -> Iterable[tuple[str, Any, Fraction]]:
    """``("event", first pitch token or None, length in units of L)`` and ``("bar", None, 0)`` items."""
    pending: list = []
    tup = 0
    in_chord = False
    chord_first: str | None = None

    def flush(d: Fraction):
        nonlocal tup
        tok = pending.pop()
        real = d * Fraction(2, 3) if tup else d
        if tup:
            tup -= 1
        return ("event", tok, real)

    for t in tokens:
        if pending and _DUR_RE.fullmatch(t):
            yield flush(duration_value(t))
            continue
        if pending:
            yield flush(Fraction(1))
        if in_chord:
            if t == "]":
                in_chord = False
                pending.append(chord_first)
            elif chord_first is None and is_pitch(t):
                chord_first = t
            continue
        if t == "[":
            in_chord, chord_first = True, None
        elif t == "(3":
            tup = 3
        elif t in ("|", "|]"):
            yield ("bar", None, Fraction(0))
        elif t == "z":
            pending.append(None)
        elif is_pitch(t):
            pending.append(t)
    if pending:
        yield flush(Fraction(1))


def bar_lengths(tokens: Sequence[str]) -> list[Fraction]:
    """Length of every bar (units of ``L``), in order, the last one included if it has events."""
    out, cur, any_ev = [], Fraction(0), False
    for kind, _, d in _events(tokens):
        if kind == "bar":
            out.append(cur)
            cur, any_ev = Fraction(0), False
        else:
            cur += d
            any_ev = True
    if any_ev:
        out.append(cur)
    return out


def bar_signatures(tokens: Sequence[str], tonic: str, mode: str) -> list[BarSig]:
    """Transposition-invariant signature of each bar (see the module docstring)."""
    from musicllm.score.abc_read import key_signature

    alts = key_signature(tonic, mode)
    from musicllm.score.model import pitch_class_of

    tpc = pitch_class_of(tonic)
    sigs: list[BarSig] = []
    cur: list = []
    prev: int | None = None
    first: int | None = None
    for kind, tok, d in _events(tokens):
        if kind == "bar":
            if cur:
                sigs.append((first, *cur))
            cur, prev, first = [], None, None
            continue
        if tok is None:
            cur.append((None, d))
            continue
        p = pitch_midi(tok, alts)
        if prev is None:
            first = (p - tpc) % 12
            cur.append((0, d))
        else:
            cur.append((p - prev, d))
        prev = p
    if cur:
        sigs.append((first, *cur))
    return sigs


def _ngrams(tokens: Sequence[str], tonic: str, mode: str, n: int = NGRAM) -> list[int]:
    from musicllm.score.abc_read import key_signature

    alts = key_signature(tonic, mode)
    evs, prev = [], None
    for kind, tok, d in _events(tokens):
        if kind == "bar":
            continue
        if tok is None:
            evs.append((None, d))
            continue
        p = pitch_midi(tok, alts)
        evs.append((0 if prev is None else p - prev, d))
        prev = p
    return [hash(tuple(evs[i:i + n])) for i in range(len(evs) - n + 1)]


def _key_of_token(tok: str) -> tuple[str, str]:
    from musicllm.models.abc_tokenizer import CODE_MODES

    k = tok[3:-1]
    return k[:-3], CODE_MODES.get(k[-3:], "major")


@dataclass
class TrainingIndex:
    """Bars and n-grams of training tunes, for novelty: bar signature -> [(tune, bar index)]."""

    bars: dict[BarSig, list[tuple[int, int]]]
    ngrams: set[int]
    n_tunes: int

    @classmethod
    def from_token_lists(cls, tunes: Iterable[Sequence[str]]) -> TrainingIndex:
        """``tunes``: header + body token lists (see :mod:`musicllm.models.abc_tokenizer`)."""
        bars: dict[BarSig, list[tuple[int, int]]] = {}
        grams: set[int] = set()
        n = 0
        for t_idx, toks in enumerate(tunes):
            tonic, mode = _key_of_token(toks[4])
            body = list(toks[6:])
            for b_idx, sig in enumerate(bar_signatures(body, tonic, mode)):
                bars.setdefault(sig, []).append((t_idx, b_idx))
            grams.update(_ngrams(body, tonic, mode))
            n += 1
        return cls(bars, grams, n)

    @classmethod
    def from_corpus(cls, path: str) -> TrainingIndex:
        """From a corpus cache (:func:`musicllm.models.abc_corpus.load_corpus`): training split, original keys."""
        from musicllm.models.abc_corpus import load_corpus

        return cls.from_token_lists(t.tokens for t in load_corpus(path) if t.split == "train" and t.shift == 0)

    def longest_copied_run(self, sigs: Sequence[BarSig]) -> int:
        """Longest run of consecutive bars that also follow each other in one training tune."""
        best, prev = 0, {}
        for sig in sigs:
            cur = {}
            for t, b in self.bars.get(sig, ()):
                cur[(t, b)] = prev.get((t, b - 1), 0) + 1
            if cur:
                best = max(best, max(cur.values()))
            prev = cur
        return best

    def ngram_overlap(self, grams: Sequence[int]) -> float | None:
        if not grams:
            return None
        return sum(g in self.ngrams for g in grams) / len(grams)


def _music21_checks(abc: str) -> tuple[bool, bool, Any]:
    """(parsed with notes, all measures after the first full, estimated key or None)."""
    try:
        import music21

        s = music21.converter.parse(abc, format="abc")
        notes = list(s.flatten().notes)
        if not notes:
            return False, False, None
        full = True
        for part in s.parts or [s]:
            measures = list(part.getElementsByClass("Measure"))
            for m in measures[1:]:
                if abs(m.duration.quarterLength - m.barDuration.quarterLength) > 1e-6:
                    full = False
        try:
            est = s.analyze("key")
        except Exception:  # noqa: BLE001 - no estimate is a miss, not an error
            est = None
        return True, full, est
    except Exception:  # noqa: BLE001 - music21 failing to parse is what this measures
        return False, False, None


def evaluate(abcs: Sequence[str], requests: Sequence[dict[str, Any]] | None = None, *,
             index: TrainingIndex | None = None, use_music21: bool = True) -> dict[str, Any]:
    """Metrics for generated tunes (see the module docstring).

    ``requests[i]``: what tune ``i`` was asked for: any of ``meter`` ("6/8"), ``key`` (a
    :class:`~musicllm.score.model.Key` or "D major" / "Ador"), ``bars`` (int). ``index``: training
    bars for novelty (skipped when None).
    """
    from musicllm.score.abc_read import parse_key, parse_meter, read_abc
    from musicllm.score.model import Key

    validate(abcs)
    requests = list(requests or [{}] * len(abcs))
    if len(requests) != len(abcs):
        raise MusicLLMError(f"{len(abcs)} tunes but {len(requests)} requests")
    n = len(abcs)
    parsed = m21_parsed = m21_full = bars_ok = 0
    meter_hits = meter_n = key_hits = key_n = len_hits = len_n = est_hits = 0
    runs: list[int] = []
    overlaps: list[float] = []
    for abc, req in zip(abcs, requests, strict=True):
        try:
            score = read_abc(abc)
            ok = bool(score.parts) and any(p.notes for p in score.parts)
        except Exception:  # noqa: BLE001 - a tune our reader rejects counts as not parsed
            ok = False
        parsed += ok
        meter = parse_meter(_header_field(abc, "M") or "4/4")
        unit = Fraction(_header_field(abc, "L") or "1/8")
        key, _, _ = parse_key(_header_field(abc, "K") or "C")
        try:
            toks = body_tokens_of_abc(abc)
        except ValueError:
            toks = []
        lengths = bar_lengths(toks)
        bar = Fraction(meter.numerator, meter.denominator) / unit if meter else None
        full = bool(lengths) and bar is not None and all(x == bar for x in lengths[1:]) and 0 < lengths[0] <= bar
        bars_ok += full
        n_full = sum(1 for x in lengths if x == bar)
        est = None
        if use_music21:
            p21, f21, est = _music21_checks(abc)
            m21_parsed += p21
            m21_full += f21
        if req.get("meter") is not None:
            meter_n += 1
            meter_hits += bool(full and meter and str(meter) == str(req["meter"]))
        if req.get("key") is not None:
            want = req["key"] if isinstance(req["key"], Key) else Key.parse(str(req["key"]))
            key_n += 1
            key_hits += bool(key and key.tonic_pc == want.tonic_pc and key.mode in _same_modes(want.mode))
            if est is not None:
                est_hits += bool(est.tonic.pitchClass == want.tonic_pc and est.mode == want.major_or_minor)
        if req.get("bars") is not None:
            len_n += 1
            len_hits += n_full == int(req["bars"])
        if index is not None and key is not None and toks:
            runs.append(index.longest_copied_run(bar_signatures(toks, key.tonic, key.mode)))
            ov = index.ngram_overlap(_ngrams(toks, key.tonic, key.mode))
            if ov is not None:
                overlaps.append(ov)
    out: dict[str, Any] = {
        "n_tunes": n, "parse_rate": parsed / n, "bars_add_up_rate": bars_ok / n,
        "meter_accuracy": meter_hits / meter_n if meter_n else None,
        "key_accuracy": key_hits / key_n if key_n else None,
        "key_estimate_accuracy": est_hits / key_n if key_n and use_music21 else None,
        "length_accuracy": len_hits / len_n if len_n else None,
    }
    if use_music21:
        out["music21_parse_rate"] = m21_parsed / n
        out["music21_full_measures_rate"] = m21_full / n
    if index is not None:
        out["max_copied_run"] = max(runs) if runs else 0
        out["mean_copied_run"] = sum(runs) / len(runs) if runs else 0.0
        out["copies_8_bars"] = sum(r >= 8 for r in runs)
        out["ngram_overlap"] = sum(overlaps) / len(overlaps) if overlaps else None
        out["ngram_n"] = NGRAM
    return out


def _same_modes(mode: str) -> tuple[str, ...]:
    groups = (("major", "ionian"), ("minor", "aeolian"))
    for g in groups:
        if mode in g:
            return g
    return (mode,)


def perplexity_summary(nll_per_token: float) -> dict[str, float]:
    """``{"nll_per_token": ..., "perplexity": exp(nll)}``."""
    return {"nll_per_token": nll_per_token, "perplexity": math.exp(nll_per_token)}
