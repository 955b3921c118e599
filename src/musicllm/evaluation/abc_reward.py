"""A musical reward for ABC transcriptions: pitch, metre, tempo and instrument.

This is the reward used to score (and to train with GRPO) models that listen to audio and write ABC, after
the recipe that fine-tuned Qwen2-Audio on URMP to write multi-voice ABC. The prediction is *parsed*
(:func:`musicllm.score.abc.read_abc`) and compared musically with the reference, never as strings, so
two spellings of the same music (``C`` vs ``4/4``, ``^F`` vs a key signature, different line breaks)
score the same.

Components, each in ``[0, 1]``:

``pitch`` (weight 0.5)
    Each voice (a ``Part`` with at least one note; empty parts are ignored) becomes the sequence of its
    MIDI pitches in time order: notes sorted by onset (exact quarter notes when every note has them,
    else seconds) and, within a chord, by ascending pitch; a chord ``[CEG]`` contributes ``C E G``.
    Rests and durations play no part. Two voices score ``1 - d / max(len_ref, len_pred)`` with ``d`` the
    Levenshtein distance between the integer sequences (``rapidfuzz.distance.Levenshtein``). Predicted
    voices are matched one-to-one to reference voices by an optimal assignment
    (``scipy.optimize.linear_sum_assignment``) maximising the summed similarity, so voice order does not
    matter. The pitch score is the summed similarity of the matched pairs divided by
    ``max(n_ref_voices, n_pred_voices)``: unmatched reference voices score 0, and so do surplus predicted
    voices (this differs from a plain mean over reference voices: without it a policy could raise its
    reward by emitting many alternative voices and letting the assignment pick the best).

``metre`` (weight 0.15)
    One third each for: equal numerators, equal denominators, equal ratio ``num/den`` as a fraction.
    4/4 vs 4/4 (or ``C``) = 1; 2/4 vs 4/4 = 1/3 (denominator); 2/4 vs 4/8 = 1/3 (ratio);
    4/4 vs 2/2 = 1/3 (ratio); 3/4 vs 6/8 = 1/3 (ratio: same bar length); 3/4 vs 2/2 = 0;
    6/8 vs 6/4 = 1/3 (numerator).

``tempo`` (weight 0.15)
    Compared in quarter notes per minute (``Score.tempo_qpm``, so ``Q:3/8=60`` is 90 qpm). With
    ``d = |pred - ref|``: ``1 - 0.05 d`` for ``d <= 10`` (1 at equal tempo, 0.75 at 5 qpm off, 0.5 at
    10), then ``0.5 * exp(-(d - 10) / 10)`` (0.18 at 20 off, 0.003 at 60 off); a non-finite or
    non-positive predicted tempo scores 0.

``instrument`` (weight 0.2)
    For each voice pair chosen by the pitch assignment: 1.0 when the normalised part names are equal
    (lower case, digits, punctuation and trailing roman numerals removed: "Violin II" == "violin 1") or
    the General MIDI programs are equal (a program of 0, the GM default, is replaced by the program the
    part's name implies when the name is a known instrument, see :func:`effective_program`); else 0.5
    when the programs share a GM family
    (``program // 8``: violin 40 and cello 42 are both "strings"); else ``0.4 * fuzz.ratio(names) / 100``
    (rapidfuzz's normalised Indel similarity of the normalised names, so at most 0.4). Averaged like
    pitch, over ``max(n_ref_voices, n_pred_voices)``.

Missing header fields: a prediction without a ``Q:`` field scores tempo 0, and one without an ``M:``
field scores metre 0, whenever the reference has that field (the parser would otherwise fill in a
default that may happen to match). When the reference lacks the field too, the parsed values (the
parser's defaults) are compared as usual.

``total = sum(w_i * c_i) / sum(w_i)`` with the weights ``(pitch, metre, tempo, instrument)``
``= (0.5, 0.15, 0.15, 0.2)`` by default (they sum to 1, so the division only matters for custom weights).

Failure policy: the reward never raises because of the *prediction*. Empty text, text from which no
ABC can be extracted, any exception while parsing, or a parsed tune with no notes give the worst value
(every component 0, total 0.0, ``parsed=False`` or ``error`` set). A *reference* that does not parse, or
has no notes, is a user error: :class:`musicllm.errors.NotationError`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from musicllm.errors import NotationError
from musicllm.score.model import Part, Score

DEFAULT_WEIGHTS: tuple[float, float, float, float] = (0.5, 0.15, 0.15, 0.2)
COMPONENTS = ("pitch", "metre", "tempo", "instrument")

TEMPO_LINEAR_QPM = 10.0  # linear fall-off up to this many qpm off ...
TEMPO_LINEAR_SLOPE = 0.05  # ... losing this much per qpm (0.5 left at 10 qpm off) ...
TEMPO_DECAY_QPM = 10.0  # ... then exponential decay with this scale.
INSTRUMENT_FAMILY_SCORE = 0.5
INSTRUMENT_NAME_MAX = 0.4


@dataclass(frozen=True)
class RewardResult:
    """The reward for one prediction: ``total`` and each component, all in ``[0, 1]``.

    ``parsed`` is False when the prediction could not be used (see the module docstring); ``error``
    then says why. ``n_ref_voices`` / ``n_pred_voices`` count voices with notes.
    """

    total: float
    pitch: float
    metre: float
    tempo: float
    instrument: float
    parsed: bool = True
    error: str | None = None
    n_ref_voices: int = 0
    n_pred_voices: int = 0

    @classmethod
    def worst(cls, error: str, n_ref_voices: int = 0) -> RewardResult:
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, parsed=False, error=error, n_ref_voices=n_ref_voices)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------------
# Components


def pitch_sequence(part: Part) -> list[int]:
    """MIDI pitches of ``part`` in time order; chord notes by ascending pitch (see module docstring)."""
    notes = part.notes
    if notes and all(n.onset_qn is not None for n in notes):
        ordered = sorted(notes, key=lambda n: (n.onset_qn, n.pitch))
    else:
        ordered = sorted(notes, key=lambda n: (n.onset_s, n.pitch))
    return [int(n.pitch) for n in ordered]


def sequence_similarity(ref: Sequence[int], pred: Sequence[int]) -> float:
    """``1 - Levenshtein(ref, pred) / max(len)``; 1.0 for two empty sequences."""
    from rapidfuzz.distance import Levenshtein

    longest = max(len(ref), len(pred))
    if longest == 0:
        return 1.0
    return 1.0 - Levenshtein.distance(list(ref), list(pred)) / longest


def match_voices(ref_parts: Sequence[Part], pred_parts: Sequence[Part]) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Optimal one-to-one voice assignment by pitch similarity.

    Returns the matched ``(ref_index, pred_index)`` pairs and the full similarity matrix
    (``n_ref x n_pred``).
    """
    from scipy.optimize import linear_sum_assignment

    ref_seqs = [pitch_sequence(p) for p in ref_parts]
    pred_seqs = [pitch_sequence(p) for p in pred_parts]
    sim = np.zeros((len(ref_seqs), len(pred_seqs)), dtype=float)
    for i, r in enumerate(ref_seqs):
        for j, q in enumerate(pred_seqs):
            sim[i, j] = sequence_similarity(r, q)
    if sim.size == 0:
        return [], sim
    rows, cols = linear_sum_assignment(sim, maximize=True)
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True)], sim


def metre_score(pred_num: int, pred_den: int, ref_num: int, ref_den: int) -> float:
    """1/3 each for equal numerator, equal denominator and equal ratio."""
    score = 0.0
    if pred_num == ref_num:
        score += 1.0
    if pred_den == ref_den:
        score += 1.0
    if pred_den > 0 and ref_den > 0 and Fraction(pred_num, pred_den) == Fraction(ref_num, ref_den):
        score += 1.0
    return score / 3.0


def tempo_score(pred_qpm: float | None, ref_qpm: float) -> float:
    """Linear to 0.5 at 10 qpm off, then ``0.5 * exp(-(d - 10) / 10)``; 0 for a missing/invalid tempo."""
    if pred_qpm is None:
        return 0.0
    try:
        pred = float(pred_qpm)
    except (TypeError, ValueError):
        return 0.0
    if not math.isfinite(pred) or pred <= 0:
        return 0.0
    d = abs(pred - float(ref_qpm))
    if d <= TEMPO_LINEAR_QPM:
        s = 1.0 - TEMPO_LINEAR_SLOPE * d
    else:
        s = (1.0 - TEMPO_LINEAR_SLOPE * TEMPO_LINEAR_QPM) * math.exp(-(d - TEMPO_LINEAR_QPM) / TEMPO_DECAY_QPM)
    return float(min(1.0, max(0.0, s)))


_ROMAN_SUFFIX = re.compile(r"\s+(?:i|ii|iii|iv|v|vi)$")


def normalise_instrument_name(name: str) -> str:
    """Lower case, no digits or punctuation, no trailing roman numeral: ``"Violin II." -> "violin"``."""
    s = re.sub(r"[^a-z ]+", " ", (name or "").lower())
    s = re.sub(r"\s+", " ", s).strip()
    s = _ROMAN_SUFFIX.sub("", s).strip()
    return s


def effective_program(part: Part) -> int:
    """``part.program``, except that the GM default 0 gives way to the program its name implies.

    ABC often names a voice (``V:1 name="Violin"``) without a ``%%MIDI program``; a parser then leaves
    program 0, which would make every unprogrammed voice "match" every other. So a part with program 0
    whose name is a known instrument (:func:`musicllm.score.instruments.program_for`) uses that program.
    """
    program = int(part.program)
    if program == 0 and part.name:
        try:
            from musicllm.score.instruments import program_for
        except ImportError:  # pragma: no cover - the module ships with musicllm
            return program
        named = program_for(part.name)
        if named is not None:
            return int(named)
    return program


def instrument_score(pred: Part, ref: Part) -> float:
    """1 for equal names or programs, 0.5 for the same GM family, else <= 0.4 by name similarity."""
    from rapidfuzz import fuzz

    pn, rn = normalise_instrument_name(pred.name), normalise_instrument_name(ref.name)
    if pn and pn == rn:
        return 1.0
    pp, rp = effective_program(pred), effective_program(ref)
    if pred.is_drum or ref.is_drum:
        # GM programs mean nothing on the drum channel; only both-drums counts as a match.
        if pred.is_drum and ref.is_drum:
            return 1.0
    elif pp == rp:
        return 1.0
    elif pp // 8 == rp // 8:
        return INSTRUMENT_FAMILY_SCORE
    if not pn or not rn:
        return 0.0
    return INSTRUMENT_NAME_MAX * fuzz.ratio(pn, rn) / 100.0


# --------------------------------------------------------------------------------------------------
# Rewards


def _check_weights(weights: Sequence[float]) -> tuple[float, ...]:
    w = tuple(float(x) for x in weights)
    if len(w) != 4 or any(not math.isfinite(x) or x < 0 for x in w) or sum(w) <= 0:
        raise ValueError(f"weights must be 4 non-negative numbers (pitch, metre, tempo, instrument) "
                         f"with a positive sum, got {tuple(weights)!r}")
    return w


def _voices(score: Score) -> list[Part]:
    return [p for p in score.parts if p.notes]


def score_reward(
    pred: Score,
    ref: Score,
    *,
    weights: Sequence[float] = DEFAULT_WEIGHTS,
    pred_tempo_missing: bool = False,
    pred_metre_missing: bool = False,
) -> RewardResult:
    """The reward of ``pred`` against ``ref`` (both parsed scores); see the module docstring.

    ``pred_tempo_missing`` / ``pred_metre_missing`` force the tempo / metre component to 0 (used by
    :func:`abc_reward` when the predicted ABC omits ``Q:`` / ``M:`` but the reference has it).
    Raises :class:`NotationError` when ``ref`` has no notes; a ``pred`` without notes gets the worst value.
    """
    w = _check_weights(weights)
    ref_voices = _voices(ref)
    if not ref_voices:
        raise NotationError("reference score has no notes")
    pred_voices = _voices(pred)
    if not pred_voices:
        return RewardResult.worst("prediction has no notes", n_ref_voices=len(ref_voices))

    pairs, sim = match_voices(ref_voices, pred_voices)
    denom = max(len(ref_voices), len(pred_voices))
    pitch = float(sum(sim[i, j] for i, j in pairs) / denom)
    instrument = float(sum(instrument_score(pred_voices[j], ref_voices[i]) for i, j in pairs) / denom)
    metre = 0.0 if pred_metre_missing else metre_score(
        pred.meter.numerator, pred.meter.denominator, ref.meter.numerator, ref.meter.denominator)
    tempo = 0.0 if pred_tempo_missing else tempo_score(pred.tempo_qpm, ref.tempo_qpm)

    comps = (pitch, metre, tempo, instrument)
    total = sum(wi * ci for wi, ci in zip(w, comps, strict=True)) / sum(w)
    return RewardResult(
        total=float(min(1.0, max(0.0, total))), pitch=pitch, metre=metre, tempo=tempo, instrument=instrument,
        parsed=True, error=None, n_ref_voices=len(ref_voices), n_pred_voices=len(pred_voices),
    )


_FIELD_RE_CACHE: dict[str, re.Pattern[str]] = {}


def has_abc_field(abc_text: str, letter: str) -> bool:
    """True when ``abc_text`` declares field ``letter`` (``"Q"``, ``"M"``...) as a line or inline ``[Q:...]``."""
    pat = _FIELD_RE_CACHE.get(letter)
    if pat is None:
        pat = re.compile(rf"(?m)^[ \t]*{re.escape(letter)}:|\[{re.escape(letter)}:")
        _FIELD_RE_CACHE[letter] = pat
    return bool(pat.search(abc_text or ""))


@functools.lru_cache(maxsize=256)
def _parse_reference(ref_abc: str) -> Score:
    from musicllm.score.abc import read_abc

    if not ref_abc or not ref_abc.strip():
        raise NotationError("reference ABC is empty")
    try:
        score = read_abc(ref_abc)
    except NotationError as exc:
        raise NotationError(f"reference ABC does not parse: {exc}") from exc
    except Exception as exc:  # a parser bug on the reference is still the reference's problem to report
        raise NotationError(f"reference ABC does not parse: {type(exc).__name__}: {exc}") from exc
    if not _voices(score):
        raise NotationError("reference ABC has no notes")
    return score


def abc_reward(pred_abc: str, ref_abc: str, *, weights: Sequence[float] = DEFAULT_WEIGHTS) -> RewardResult:
    """Parse both ABC texts and score the prediction (see the module docstring).

    ``pred_abc`` may be raw model output: the ABC is taken out of code fences / surrounding prose with
    :func:`extract_abc`. Never raises because of ``pred_abc``; raises :class:`NotationError` when
    ``ref_abc`` does not parse or has no notes, and ``ValueError`` for bad ``weights``.
    """
    w = _check_weights(weights)
    ref = _parse_reference(ref_abc)
    n_ref = len(_voices(ref))
    text = extract_abc(pred_abc) if isinstance(pred_abc, str) else ""
    if not text.strip():
        return RewardResult.worst("prediction is empty / contains no ABC", n_ref_voices=n_ref)
    try:
        from musicllm.score.abc import read_abc

        pred = read_abc(text)
    except Exception as exc:  # any parser failure on model output is just a bad prediction
        msg = str(exc).splitlines()[0] if str(exc) else ""
        return RewardResult.worst(f"prediction does not parse: {type(exc).__name__}: {msg}"[:300],
                                  n_ref_voices=n_ref)
    try:
        return score_reward(
            pred, ref, weights=w,
            pred_tempo_missing=has_abc_field(ref_abc, "Q") and not has_abc_field(text, "Q"),
            pred_metre_missing=has_abc_field(ref_abc, "M") and not has_abc_field(text, "M"),
        )
    except Exception as exc:  # e.g. a malformed Score from a lenient parser (pitch None, meter 0/0)
        return RewardResult.worst(f"prediction cannot be scored: {type(exc).__name__}: {exc}"[:300],
                                  n_ref_voices=n_ref)


# --------------------------------------------------------------------------------------------------
# Extracting ABC from model output, and the GRPO reward function

_THINK_RE = re.compile(r"<think>.*?(?:</think>|\Z)", re.S | re.I)
_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_HEADER_LINE = re.compile(r"^[ \t]*[A-Za-z]:")
_ABC_HEADER = re.compile(r"(?m)^[ \t]*[XTMLKQV]:")
_CONTINUES_TUNE = re.compile(r"^[ \t]*(?:[A-Za-z]:|\[[A-Za-z]:|%)")


def extract_abc(text: str) -> str:
    """The ABC tune inside model output.

    - ``<think>...</think>`` blocks are dropped;
    - with ``` fences: the first fenced block tagged ``abc``, else the first block that holds an ABC
      header line (``X:``, ``T:``, ``M:``, ``L:``, ``K:``, ``Q:``, ``V:``), else the first block; an
      unclosed fence (truncated output) runs to the end of the text;
    - without fences: from the first ``X:`` line (else the first header line) to the end of the tune,
      i.e. the first blank line that is not followed by more tune lines (``V:``, ``[V:``, ``%``, another
      field); prose before the tune is dropped;
    - text with no header at all is returned stripped, for the parser to judge.
    """
    if not isinstance(text, str):
        return ""
    text = _THINK_RE.sub("", text)
    if "```" in text:
        blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE_RE.finditer(text)]
        if blocks:
            for lang, body in blocks:
                if lang == "abc":
                    return body.strip()
            for _lang, body in blocks:
                if _ABC_HEADER.search(body):
                    return _cut_tune(body)
            return blocks[0][1].strip()
    return _cut_tune(text)


def _cut_tune(text: str) -> str:
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if re.match(r"^[ \t]*X:", ln)), None)
    if start is None:
        start = next((i for i, ln in enumerate(lines) if _ABC_HEADER.match(ln)), None)
    if start is None:
        return text.strip()
    out: list[str] = []
    i = start
    while i < len(lines):
        ln = lines[i]
        if not ln.strip():
            nxt = next((k for k in range(i + 1, len(lines)) if lines[k].strip()), None)
            if nxt is None or not _CONTINUES_TUNE.match(lines[nxt]) or re.match(r"^[ \t]*X:", lines[nxt]):
                break
            i = nxt
            continue
        out.append(ln)
        i += 1
    return "\n".join(out).strip()


def completion_text(completion: Any) -> str:
    """The text of one trl completion: a string, a chat message, or a list of chat messages.

    For a list of messages the last ``assistant`` message is used (the last message when none has a
    role); message ``content`` may be a string or a list of ``{"type": "text", "text": ...}`` parts.
    """
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return _content_text(completion.get("content"))
    if isinstance(completion, (list, tuple)):
        msgs = [m for m in completion if isinstance(m, dict)]
        if not msgs:
            return "".join(c for c in completion if isinstance(c, str))
        assistant = [m for m in msgs if m.get("role") == "assistant"]
        return _content_text((assistant or msgs)[-1].get("content"))
    return ""


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        parts = []
        for c in content:
            if isinstance(c, str):
                parts.append(c)
            elif isinstance(c, dict) and isinstance(c.get("text"), str):
                parts.append(c["text"])
        return "".join(parts)
    return ""


def grpo_reward_fn(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """A trl ``GRPOTrainer`` reward function: one :func:`abc_reward` total per completion.

    ``completions`` are strings or chat-message lists; the references come from
    ``kwargs["reference_abc"]`` (the dataset column of that name, a list aligned with ``completions``;
    a single string is used for every completion). Optional ``kwargs["reward_weights_abc"]`` overrides the
    weights. Unusable completions score 0.0; a missing column raises ``KeyError``, a reference that does
    not parse raises :class:`NotationError`.
    """
    if "reference_abc" not in kwargs:
        raise KeyError("grpo_reward_fn needs a 'reference_abc' dataset column (the reference ABC per prompt)")
    refs = kwargs["reference_abc"]
    if isinstance(refs, str):
        refs = [refs] * len(completions)
    refs = list(refs)
    if len(refs) != len(completions):
        raise ValueError(f"reference_abc has {len(refs)} entries for {len(completions)} completions")
    weights = kwargs.get("reward_weights_abc") or DEFAULT_WEIGHTS
    return [abc_reward(completion_text(c), r, weights=weights).total for c, r in zip(completions, refs, strict=True)]


__all__ = [
    "COMPONENTS", "DEFAULT_WEIGHTS", "RewardResult", "abc_reward", "completion_text", "effective_program",
    "extract_abc",
    "grpo_reward_fn", "has_abc_field", "instrument_score", "match_voices", "metre_score",
    "normalise_instrument_name", "pitch_sequence", "score_reward", "sequence_similarity", "tempo_score",
]
