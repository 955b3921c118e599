"""One dataset item: a piece arranged, performed, rendered and written as FLAC, MIDI, ABC, facts and QA.

Per item (a piece and a rendering index ``k``) everything random comes from one generator seeded
by ``(seed, SHA-256 of the piece id, k)`` (:func:`item_rng`), never from the order in which workers
take items, so any engine and any number of workers give the same bytes. The steps:

1. SoundFont: one of ``settings.soundfonts`` (TinySoundFont; pretty_midi's TimGM6mb by default).
2. Transposition: ``t`` semitones drawn from ``settings.transpose`` (if no instrument can play the
   result, the other values follow, smallest first), applied to every part and to the key.
3. Instruments: per part, a family drawn from ``settings.families`` (:data:`DEFAULT_FAMILIES`:
   name -> General MIDI programs, 0-based) and a program of that family whose practical range
   (:data:`PROGRAM_RANGES`, sounding MIDI pitches) holds the part and which the SoundFont really
   sounds at those pitches (`musicllm.audio.render.audible_pitches`); failing that, an octave up or
   down (the ground truth holds the sounding pitches).
4. Tempo: the source's tempo (or a plausible one for the meter and tune type when the source has
   none) times a factor from ``settings.tempo_factor``, rounded so the ABC ``Q:`` field states it
   exactly (integer quarter notes per minute; integer dotted-quarter beats in compound meters).
5. Excerpt: rendering 0 starts at the beginning, the others at a random bar line; it ends at the last
   bar line that keeps ``lead-in + music + TAIL_S`` within ``settings.max_seconds`` (at the last beat
   when whole bars would fill less than half of that, or less than ``settings.min_seconds``). Notes crossing the cut are shortened.
6. Performance: notes as written (durations in quarter notes times ``60 / tempo_qpm`` seconds,
   after a lead-in of ``settings.lead_in_s`` seconds), velocities from a per-part level plus bar and
   beat accents and N(0, 4) noise.
7. Audio (mono, ``settings.sr`` Hz): stems balanced to equal loudness with gains of +-3 dB, then
   optional synthetic room reverb (RT60 0.3-1.5 s) and pink or white noise (SNR from
   ``settings.snr_db``), scaled to an RMS level from ``settings.loudness_dbfs`` (dB full scale, over
   the whole clip) with peaks kept under -1 dBFS, 50 ms fade at the end; 16-bit FLAC.

Files (names ``<id>.<ext>``): ``.flac``; ``.mid`` (constant tempo, notes at their seconds);
``.abc`` (normalised: ``X, T, M, L, Q, K`` header, one ``V:`` per instrument with ``name=``); ``.json``
(the ground truth in the score JSON layout of `musicllm.score.jsonio`: tempo, meter, key, beats,
downbeats, parts with GM programs and notes in seconds and quarter notes; plus ``piece``,
``rendering``, ``instruments`` and ``facts``, a `MusicFacts` with confidence 1 for known values);
``.qa.jsonl`` (`musicllm.data.qa.pairs_from_facts` on those facts); ``item.json`` (the manifest row).

Splits are by piece (:func:`split_of`: SHA-256 of the piece id against ``settings.split``), the same
for every seed, so renderings of one piece never straddle train and test.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import re
import time
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from typing import Any

import numpy as np

from musicllm.data.corpora import Piece, PieceError, piece_hash, transpose_key
from musicllm.errors import MusicLLMError
from musicllm.score.model import Meter, Note, Part, Score

TAIL_S = 1.0
SPLITS = ("train", "valid", "test")
ITEMS_DIR = "items"
ROW_FILE = "item.json"

#: Instrument families: name -> General MIDI programs (0-based). Family names of General MIDI
#: (`musicllm.score.instruments.FAMILIES`) are accepted too and mean all eight programs.
DEFAULT_FAMILIES: dict[str, tuple[int, ...]] = {
    "piano": (0, 1, 4, 6),
    "mallets": (11, 12),
    "organ": (16, 19, 21),
    "guitar": (24, 25, 26),
    "bass": (32, 33, 35),
    "strings": (40, 41, 42, 43, 46, 48),
    "brass": (56, 57, 58, 60, 61),
    "reed": (64, 65, 66, 67, 68, 69, 70, 71),
    "pipe": (72, 73, 74, 75, 79),
}
#: Practical sounding ranges (MIDI pitches) of the programs above; others use their GM family's range.
PROGRAM_RANGES: dict[int, tuple[int, int]] = {
    0: (21, 108), 1: (21, 108), 4: (28, 103), 6: (29, 89), 11: (53, 89), 12: (45, 96), 16: (24, 96),
    19: (24, 96), 21: (41, 89), 24: (40, 84), 25: (40, 84), 26: (40, 86), 32: (28, 60), 33: (28, 67),
    35: (28, 67), 40: (55, 100), 41: (48, 88), 42: (36, 76), 43: (28, 60), 46: (24, 103), 48: (28, 100),
    56: (54, 84), 57: (40, 72), 58: (28, 58), 60: (41, 77), 61: (36, 84), 64: (56, 87), 65: (49, 80),
    66: (44, 75), 67: (36, 69), 68: (58, 91), 69: (52, 81), 70: (34, 72), 71: (50, 91), 72: (74, 108),
    73: (60, 96), 74: (60, 96), 75: (60, 96), 79: (60, 91),
}
_FAMILY_RANGES = [(21, 108), (48, 96), (24, 96), (40, 84), (28, 60), (36, 96), (36, 96), (40, 84),
                  (48, 84), (60, 96), (36, 96), (36, 96), (36, 96), (48, 84), (48, 84), (48, 84)]
#: Short instrument names for part names, tags and QA answers (GM names otherwise).
SHORT_NAMES = {
    0: "piano", 1: "bright piano", 4: "electric piano", 6: "harpsichord", 11: "vibraphone", 12: "marimba",
    16: "organ", 19: "church organ", 21: "accordion", 24: "nylon guitar", 25: "steel guitar",
    26: "jazz guitar", 32: "acoustic bass", 33: "electric bass", 35: "fretless bass", 40: "violin",
    41: "viola", 42: "cello", 43: "contrabass", 46: "harp", 48: "string ensemble", 56: "trumpet",
    57: "trombone", 58: "tuba", 60: "french horn", 61: "brass section", 64: "soprano sax", 65: "alto sax",
    66: "tenor sax", 67: "baritone sax", 68: "oboe", 69: "english horn", 70: "bassoon", 71: "clarinet",
    72: "piccolo", 73: "flute", 74: "recorder", 75: "pan flute", 79: "ocarina",
}


def program_range(program: int) -> tuple[int, int]:
    """Practical sounding range (lowest, highest MIDI pitch) of a GM program."""
    return PROGRAM_RANGES.get(program, _FAMILY_RANGES[(program % 128) // 8])


def short_name(program: int) -> str:
    from musicllm.score.instruments import name_for

    return SHORT_NAMES.get(program) or name_for(program).lower()


def resolve_families(names: tuple[str, ...] | list[str]) -> dict[str, tuple[int, ...]]:
    """Family names -> programs: :data:`DEFAULT_FAMILIES`, else a General MIDI family (all 8 programs)."""
    from musicllm.score.instruments import FAMILIES

    gm = {f.lower(): i for i, f in enumerate(FAMILIES)}
    out: dict[str, tuple[int, ...]] = {}
    for name in names:
        key = name.strip().lower()
        if key in DEFAULT_FAMILIES:
            out[key] = DEFAULT_FAMILIES[key]
        elif key in gm:
            out[key] = tuple(range(8 * gm[key], 8 * gm[key] + 8))
        else:
            known = ", ".join([*DEFAULT_FAMILIES, *(f.lower() for f in FAMILIES if f.lower() not in DEFAULT_FAMILIES)])
            raise MusicLLMError(f"unknown instrument family {name!r}; known: {known}")
    if not out:
        raise MusicLLMError("no instrument family given")
    return out


@dataclass(frozen=True)
class RenderSettings:
    """Everything that decides the bytes of an item (a resumed build must use the same values).

    Times in seconds, levels in dB, ``sr`` in Hz, ``transpose`` in semitones (inclusive range),
    ``tempo_factor`` a range of multipliers of the source tempo, ``split`` the train/valid/test
    fractions (by piece), probabilities in 0..1.
    """

    seed: int = 0
    max_seconds: float = 20.0
    sr: int = 22050
    soundfonts: tuple[str, ...] = ("TimGM6mb",)
    families: tuple[str, ...] = tuple(DEFAULT_FAMILIES)
    transpose: tuple[int, int] = (-5, 5)
    tempo_factor: tuple[float, float] = (0.85, 1.2)
    lead_in_s: tuple[float, float] = (0.1, 0.5)
    reverb_prob: float = 0.5
    noise_prob: float = 0.5
    snr_db: tuple[float, float] = (15.0, 40.0)
    loudness_dbfs: tuple[float, float] = (-30.0, -16.0)
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    max_parts: int = 8
    min_seconds: float = 2.0
    qa: bool = True

    def validate(self) -> None:
        """Raise `MusicLLMError` (one line) for a value out of range."""
        def bad(msg: str) -> None:
            raise MusicLLMError(msg)

        if self.seed < 0:
            bad(f"the seed must be >= 0, got {self.seed}")
        if not 2.0 < self.max_seconds <= 600.0:
            bad(f"max seconds must be in (2, 600], got {self.max_seconds}")
        if not 8000 <= self.sr <= 96000:
            bad(f"sample rate must be 8000..96000 Hz, got {self.sr}")
        if not self.soundfonts:
            bad("no SoundFont given")
        if self.transpose[0] > self.transpose[1] or not self.tempo_factor[0] <= self.tempo_factor[1]:
            bad("ranges must be (low, high)")
        if not 0 < self.tempo_factor[0] <= self.tempo_factor[1] <= 4:
            bad(f"tempo factors must be in (0, 4], got {self.tempo_factor}")
        if not 0 <= self.lead_in_s[0] <= self.lead_in_s[1] < self.max_seconds / 2:
            bad(f"lead-in range {self.lead_in_s} does not fit clips of {self.max_seconds} s")
        if len(self.split) != 3 or any(f < 0 for f in self.split) or abs(sum(self.split) - 1) > 1e-6:
            bad(f"split fractions must be three non-negative numbers summing to 1, got {self.split}")
        if not 1 <= self.max_parts <= 15:
            bad(f"max parts must be 1..15, got {self.max_parts}")
        resolve_families(self.families)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RenderSettings:
        names = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})


# ---------------------------------------------------------------------------------------------------
# Ids, seeds, splits

def item_id(piece_id: str, rendering: int) -> str:
    """File-system-safe id of rendering ``rendering`` of a piece: readable slug, hash, index."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", piece_id).strip("-")[-40:].strip("-") or "piece"
    return f"{slug}-{piece_hash(piece_id).hex()[:10]}-r{rendering}"


def item_rng(seed: int, piece_id: str, rendering: int) -> np.random.Generator:
    """The generator of every random choice of one item (independent of worker and order)."""
    h = piece_hash(piece_id)
    return np.random.default_rng([int(seed), int.from_bytes(h[:4], "big"), int.from_bytes(h[4:8], "big"),
                                  int(rendering)])


def split_of(piece_id: str, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> str:
    """``train``/``valid``/``test`` of a piece: SHA-256 of ``"split:" + piece_id`` as a number in
    [0, 1) against the cumulative fractions. Independent of the seed and of the other pieces."""
    u = int.from_bytes(hashlib.sha256(f"split:{piece_id}".encode()).digest()[:8], "big") / 2**64
    acc = 0.0
    for name, f in zip(SPLITS, fractions, strict=True):
        acc += f
        if u < acc and f > 0:
            return name
    return next(name for name, f in zip(reversed(SPLITS), reversed(fractions), strict=True) if f > 0)


# ---------------------------------------------------------------------------------------------------
# Arrangement

@dataclass
class _Voice:
    part: Part
    program: int
    family: str
    octave: int


def _fits(pitches: list[int], program: int, shift: int, soundfont: str, sr: int) -> bool:
    from musicllm.audio.render import audible_pitches

    lo, hi = program_range(program)
    if not pitches or not (lo <= pitches[0] + shift and pitches[-1] + shift <= hi):
        return False
    audible = audible_pitches(soundfont, program, sr=sr)
    return all(p + shift in audible for p in pitches)


def _arrange(piece: Piece, families: dict[str, tuple[int, ...]], soundfont: str, sr: int,
             transpose: tuple[int, int], rng: np.random.Generator) -> tuple[int, list[_Voice]]:
    """(transposition, one voice per part) such that every part fits its instrument."""
    lo, hi = transpose
    first = int(rng.integers(lo, hi + 1))
    candidates = [first, *sorted((t for t in range(lo, hi + 1) if t != first), key=lambda t: (abs(t), t))]
    names = list(families)
    parts = piece.score.parts
    for t in candidates:
        voices: list[_Voice] = []
        for part in parts:
            pitches = sorted({n.pitch + t for n in part.notes})
            picked = None
            for shift in (0, 12, -12):
                for fi in rng.permutation(len(names)):
                    fam = names[int(fi)]
                    ok = [p for p in families[fam] if _fits(pitches, p, shift, soundfont, sr)]
                    if ok:
                        picked = _Voice(part, ok[int(rng.integers(len(ok)))], fam, shift)
                        break
                if picked is not None:
                    break
            if picked is None:
                break
            voices.append(picked)
        if len(voices) == len(parts):
            return t, voices
    raise PieceError(piece.piece_id, "out of range", "no instrument of the chosen families plays a part")


# ---------------------------------------------------------------------------------------------------
# Tempo and excerpt

def _default_bpm_range(meter: Meter, ttype: str | None) -> tuple[float, float]:
    """Felt beats per minute for a piece without a tempo marking."""
    if ttype in ("chorale", "air", "song", "lied", "ballad"):
        return (50.0, 80.0) if meter.is_compound else (60.0, 90.0)
    if meter.is_compound:
        return 80.0, 115.0
    if (meter.numerator, meter.denominator) == (3, 4):
        return 100.0, 160.0
    if meter.denominator >= 8:
        return 140.0, 220.0
    if meter.denominator == 2:
        return 60.0, 90.0
    return 80.0, 130.0


def _tempo(piece: Piece, factor_range: tuple[float, float], rng: np.random.Generator) -> tuple[float, float]:
    """(tempo_qpm, factor). Compound meters get an integer dotted-quarter BPM, others integer QPM."""
    meter = piece.meter
    beat = float(meter.beat_qn)
    factor = float(rng.uniform(*factor_range))
    if piece.has_tempo and piece.score.tempo_qpm > 0:
        base_bpm = float(piece.score.tempo_qpm) / beat
    else:
        base_bpm = float(rng.uniform(*_default_bpm_range(meter, piece.tune_type)))
    if meter.is_compound:
        bpm = min(max(round(base_bpm * factor), 20), 200)
        return bpm * beat, factor
    return float(min(max(round(base_bpm * factor * beat), 30), 260)), factor


def _excerpt(piece: Piece, tempo_qpm: float, rendering: int, budget_s: float, min_s: float,
             rng: np.random.Generator) -> tuple[Fraction, Fraction, Fraction]:
    """(start_qn, end_qn, pickup of the excerpt in quarter notes); bar lines at pickup + k * bar."""
    score = piece.score
    meter = score.meter
    bar, beat = meter.bar_qn, meter.beat_qn
    spq = 60.0 / tempo_qpm
    total = max(n.offset_qn for p in score.parts for n in p.notes)
    pickup = Fraction(score.pickup_qn or 0) % bar
    budget = Fraction(budget_s / spq).limit_denominator(10_000)
    while float(budget) * spq > budget_s:  # never over the clip length
        budget -= Fraction(1, 10_000)
    lines = []
    q = pickup if pickup > 0 else bar
    while q < total:
        lines.append(q)
        q += bar
    start = Fraction(0)
    if rendering > 0:
        starts = [Fraction(0)] + [b for b in lines if b + budget <= total]
        start = starts[int(rng.integers(len(starts)))]
    if total - start <= budget:
        end = total
    else:  # at a bar line, or at a beat when whole bars would fill less than half of the clip
        ends = [b for b in lines if start < b <= start + budget]
        end = max(ends) if ends else start
        if end - start < budget / 2 or float(end - start) * spq < min_s:
            end = start + (budget // beat) * beat
    if float(end - start) * spq < min_s:
        raise PieceError(piece.piece_id, "too short",
                         f"{float(end - start) * spq:.1f} s of music at {tempo_qpm:g} quarter notes per minute")
    return start, end, (pickup if start == 0 else Fraction(0))


def _perform(piece: Piece, voices: list[_Voice], t: int, start: Fraction, end: Fraction, pickup: Fraction,
             tempo_qpm: float, lead_in: float, rng: np.random.Generator) -> tuple[Score, list[_Voice]]:
    """The excerpt as a score at ``tempo_qpm``: notes transposed, in seconds after ``lead_in``."""
    from musicllm.score.jsonio import implied_beat_grid

    meter = piece.meter
    spq = 60.0 / tempo_qpm
    bar, beat = meter.bar_qn, meter.beat_qn

    def sec(q: Fraction) -> float:
        return round(lead_in + float(q) * spq, 4)

    parts: list[Part] = []
    kept: list[_Voice] = []
    counts: dict[str, int] = {}
    for v in voices:
        base = float(rng.uniform(60.0, 96.0))
        src = [n for n in v.part.sorted_notes() if n.onset_qn < end and n.offset_qn > start]
        noise = rng.normal(0.0, 4.0, size=len(src))
        notes = []
        for n, dv in zip(src, noise, strict=True):
            on, off = max(n.onset_qn, start) - start, min(n.offset_qn, end) - start
            if off <= on:
                continue
            pos = (on - pickup) % bar
            accent = 8.0 if pos == 0 else 4.0 if pos % beat == 0 else 0.0
            vel = int(np.clip(round(base + accent + float(dv)), 20, 120))
            notes.append(Note(n.pitch + t + v.octave, sec(on), sec(off), vel, on, off))
        if not notes:
            continue
        name = short_name(v.program)
        counts[name] = counts.get(name, 0) + 1
        parts.append(Part(name=name, program=v.program, notes=notes))
        kept.append(v)
    if not parts:
        raise PieceError(piece.piece_id, "no notes", "the excerpt is silent")
    totals = {k: c for k, c in counts.items() if c > 1}
    seen: dict[str, int] = {}
    for p in parts:  # "Violin 1", "Violin 2" when an instrument plays several parts
        base_name = p.name
        if base_name in totals:
            seen[base_name] = seen.get(base_name, 0) + 1
            p.name = f"{base_name} {seen[base_name]}"
        p.name = p.name[:1].upper() + p.name[1:]
    key = transpose_key(piece.score.key, t)
    score = Score(parts=parts, tempo_qpm=tempo_qpm, meter=meter, key=key, title=piece.title, pickup_qn=pickup,
                  duration_s=sec(end - start))
    score.beat_times_s, score.downbeat_times_s = implied_beat_grid(score, end_qn=end - start, qn_to_s=sec)
    return score, kept


# ---------------------------------------------------------------------------------------------------
# Audio

# Pink (-3 dB/octave) noise filter: J. O. Smith's 3-pole, 3-zero approximation; within 0.6 dB of the
# ideal slope from 0.0005 to 0.45 times the sample rate (10 Hz to 10 kHz at 22.05 kHz).
_PINK_B = (0.049922035, -0.095993537, 0.050612699, -0.004408786)
_PINK_A = (1.0, -2.494956002, 2.017265875, -0.522189400)


def _add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator, color: str) -> np.ndarray:
    """Add white or pink noise at ``snr_db`` dB below the mean power of ``x`` (as
    `musicllm.audio.effects.add_noise`, with pink noise from an IIR filter: 3x faster than by FFT)."""
    from scipy.signal import lfilter

    p_sig = float(np.mean(x.astype(np.float64) ** 2)) if len(x) else 0.0
    if p_sig <= 0:
        return x.copy()
    noise = rng.standard_normal(len(x))
    if color == "pink":
        noise = lfilter(_PINK_B, _PINK_A, noise)
    noise *= math.sqrt(p_sig / 10.0 ** (snr_db / 10.0) / (float(np.mean(noise ** 2)) + 1e-12))
    return (x + noise).astype(np.float32)


def _add_reverb(x: np.ndarray, sr: int, rt60_s: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """`musicllm.audio.effects.add_reverb` (same impulse response, same draws), convolved in float32."""
    from scipy.signal import fftconvolve

    from musicllm.audio.effects import synthetic_rir

    h = synthetic_rir(sr, rt60_s, rng)
    rev = fftconvolve(x.astype(np.float32), h.astype(np.float32))[: len(x)]
    return ((1.0 - wet) * x + wet * rev).astype(np.float32)


def _audio(score: Score, soundfont: str, settings: RenderSettings, rng: np.random.Generator,
           timings: dict[str, float]) -> tuple[np.ndarray, dict[str, Any]]:
    from musicllm.audio import effects
    from musicllm.audio.render import mix_stems, render_parts

    sr = settings.sr
    t0 = time.perf_counter()
    stems = render_parts(score, soundfont=soundfont, sr=sr, tail_s=TAIL_S)
    timings["synth_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = min(len(stems[0]), int(settings.max_seconds * sr))
    gains = [round(float(g), 2) for g in rng.uniform(-3.0, 3.0, size=len(stems))]
    x = mix_stems([s[:n] for s in stems], sr, gains_db=gains, balance=True)
    fx: dict[str, Any] = {"mix_gains_db": gains, "reverb": None, "noise": None}
    if rng.random() < settings.reverb_prob:
        rt60, wet = round(float(rng.uniform(0.3, 1.5)), 3), round(float(rng.uniform(0.1, 0.4)), 3)
        x = _add_reverb(x, sr, rt60, wet, rng)
        fx["reverb"] = {"rt60_s": rt60, "wet": wet, "type": "synthetic room"}
    if rng.random() < settings.noise_prob:
        snr = round(float(rng.uniform(*settings.snr_db)), 2)
        color = "pink" if rng.random() < 0.7 else "white"
        x = _add_noise(x, snr, rng, color)
        fx["noise"] = {"snr_db": snr, "color": color}
    target = float(rng.uniform(*settings.loudness_dbfs))
    level = effects.power_db(x)
    if level > -100.0:
        x = x * np.float32(effects.db_to_gain(target - level))
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    limit = effects.db_to_gain(-1.0)
    if peak > limit:
        x = x * np.float32(limit / peak)
    x = effects.fade_out(np.clip(x, -1.0, 1.0), sr, 0.05)
    fx["loudness_dbfs"] = round(effects.power_db(x), 2)
    fx["peak_dbfs"] = round(20.0 * math.log10(max(float(np.max(np.abs(x))), 1e-9)), 2)
    timings["effects_s"] = time.perf_counter() - t0
    return x, fx


def flac_bytes(audio: np.ndarray, sr: int) -> bytes:
    """16-bit mono FLAC of ``audio`` (clipped to [-1, 1]); the same samples give the same bytes."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), int(sr), format="FLAC",
             subtype="PCM_16")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------
# Facts, QA and the item

def ground_truth_facts(score: Score, *, key_known: bool, audio_ref: str, duration_s: float):
    """A `MusicFacts` holding the known ground truth with confidence 1 (unknown key: value ``None``, 0)."""
    from musicllm.analysis.facts import Measured, MusicFacts, Tag

    beat = float(score.meter.beat_qn)
    names = []
    for p in score.parts:
        n = short_name(p.program)
        if n not in names:
            names.append(n)
    return MusicFacts(
        duration_s=round(duration_s, 4), tempo_qpm=Measured(round(score.tempo_qpm, 3), 1.0),
        beat_bpm=Measured(round(score.tempo_qpm / beat, 3), 1.0), meter=Measured(str(score.meter), 1.0),
        key=Measured(str(score.key), 1.0) if key_known else Measured(None, 0.0),
        beats_s=list(score.beat_times_s), downbeats_s=list(score.downbeat_times_s),
        instruments=[Tag(n, 1.0) for n in names], source=audio_ref,
        analyzers={"ground_truth": "musicllm.data.build (rendered from the score)"})


@dataclass
class RenderedItem:
    """An item ready to be written: ``files`` maps file names to bytes; ``row`` is its manifest row;
    ``timings`` seconds spent per stage (for the report, never in the files)."""

    item_id: str
    row: dict[str, Any]
    files: dict[str, bytes]
    timings: dict[str, float] = field(default_factory=dict)


def render_item(piece: Piece, rendering: int, settings: RenderSettings, soundfont_paths: dict[str, str],
                families: dict[str, tuple[int, ...]] | None = None) -> RenderedItem:
    """Arrange, perform and render rendering ``rendering`` of ``piece`` (see the module docstring).

    ``soundfont_paths`` maps the names in ``settings.soundfonts`` to files. Raises `PieceError` for
    a piece that cannot be rendered (out of every instrument's range, too short...).
    """
    from musicllm.data.qa import pairs_from_facts
    from musicllm.score.abc import write_abc
    from musicllm.score.instruments import family_of, name_for
    from musicllm.score.jsonio import score_to_dict
    from musicllm.score.midi import score_to_midi_bytes

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if len(piece.score.parts) > settings.max_parts:
        raise PieceError(piece.piece_id, "too many parts", f"{len(piece.score.parts)} > {settings.max_parts}")
    fams = families or resolve_families(settings.families)
    iid = item_id(piece.piece_id, rendering)
    split = split_of(piece.piece_id, settings.split)
    rng = item_rng(settings.seed, piece.piece_id, rendering)
    sf_name = settings.soundfonts[int(rng.integers(len(settings.soundfonts)))]
    soundfont = soundfont_paths[sf_name]
    t, voices = _arrange(piece, fams, soundfont, settings.sr, settings.transpose, rng)
    tempo_qpm, factor = _tempo(piece, settings.tempo_factor, rng)
    lead_in = round(float(rng.uniform(*settings.lead_in_s)), 3)
    start, end, pickup = _excerpt(piece, tempo_qpm, rendering, settings.max_seconds - lead_in - TAIL_S,
                                  settings.min_seconds, rng)
    score, voices = _perform(piece, voices, t, start, end, pickup, tempo_qpm, lead_in, rng)
    qa_seed = int(rng.integers(2**62))
    timings["arrange_s"] = time.perf_counter() - t0

    audio, fx = _audio(score, soundfont, settings, rng, timings)
    t0 = time.perf_counter()
    duration_s = len(audio) / settings.sr
    music_end_s = float(score.duration_s or 0.0)
    prefix = f"{ITEMS_DIR}/{iid}/{iid}"
    paths = {ext: f"{prefix}.{ext}" for ext in ("flac", "mid", "abc", "json", "qa.jsonl")}
    flac = flac_bytes(audio, settings.sr)
    midi = score_to_midi_bytes(score)
    abc = write_abc(score).encode("utf-8")
    score.duration_s = duration_s  # the ground truth's duration is the audio's
    facts = ground_truth_facts(score, key_known=piece.key_known, audio_ref=paths["flac"], duration_s=duration_s)
    qa_lines = []
    if settings.qa:
        for r in pairs_from_facts(facts, paths["flac"], random.Random(qa_seed)):
            r.meta.update(recording=iid, piece_id=piece.piece_id, split=split)
            qa_lines.append(json.dumps(r.to_dict(), ensure_ascii=False))
    instruments = [{"part": p.name, "program": v.program, "name": short_name(v.program), "gm_name": name_for(v.program),
                    "gm_family": family_of(v.program), "family": v.family, "octave_shift": v.octave}
                   for p, v in zip(score.parts, voices, strict=True)]
    rendering_info = {
        "index": rendering, "seed": settings.seed, "soundfont": sf_name, "transpose_semitones": t,
        "tempo_factor": round(factor, 4), "tempo_qpm": tempo_qpm, "beat_bpm": round(tempo_qpm / float(piece.meter.beat_qn), 3),
        "excerpt_qn": [str(start), str(end)], "lead_in_s": lead_in, "music_end_s": round(music_end_s, 4),
        "tail_s": TAIL_S, "sr": settings.sr, "effects": fx,
    }
    gt = score_to_dict(score, extra={
        "id": iid, "split": split, "audio": paths["flac"], "key_known": piece.key_known,
        "piece": piece.metadata(), "rendering": rendering_info, "instruments": instruments,
        "facts": facts.to_dict(),
    })
    meta = piece.metadata()
    row = {
        "id": iid, "piece_id": piece.piece_id, "rendering": rendering, "split": split,
        "collection": meta["collection"], "title": meta["title"], "composer": meta["composer"],
        "origin": meta["origin"], "tune_type": meta["tune_type"], "license": meta["license"],
        "source_file": meta["source_file"],
        "audio": paths["flac"], "midi": paths["mid"], "abc": paths["abc"], "facts": paths["json"],
        "qa": paths["qa.jsonl"], "duration_s": round(duration_s, 4), "sr": settings.sr,
        "tempo_qpm": tempo_qpm, "beat_bpm": rendering_info["beat_bpm"], "meter": str(score.meter),
        "key": str(score.key) if piece.key_known else None, "transpose_semitones": t,
        "tempo_factor": rendering_info["tempo_factor"],
        "instruments": [i["name"] for i in instruments], "programs": [i["program"] for i in instruments],
        "soundfont": sf_name,
        "reverb_rt60_s": fx["reverb"]["rt60_s"] if fx["reverb"] else None,
        "noise_snr_db": fx["noise"]["snr_db"] if fx["noise"] else None,
        "loudness_dbfs": fx["loudness_dbfs"], "n_notes": sum(len(p.notes) for p in score.parts),
        "n_qa": len(qa_lines), "audio_sha256": hashlib.sha256(flac).hexdigest(), "seed": settings.seed,
    }
    files = {
        f"{iid}.flac": flac, f"{iid}.mid": midi, f"{iid}.abc": abc,
        f"{iid}.json": (json.dumps(gt, indent=1, ensure_ascii=False) + "\n").encode("utf-8"),
        f"{iid}.qa.jsonl": "".join(line + "\n" for line in qa_lines).encode("utf-8"),
        ROW_FILE: (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"),
    }
    timings["encode_s"] = time.perf_counter() - t0
    return RenderedItem(iid, row, files, timings)
