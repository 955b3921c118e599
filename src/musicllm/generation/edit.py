"""Score + instruction -> Score: transpose, change key or mode, tempo, instrument, meter, length, simplify.

M2UGen's music-editing task, done with rules on the symbolic score. Every function returns a new
:class:`~musicllm.score.model.Score` and leaves its input alone; :func:`apply_instruction` parses an
instruction text ("slower and in G minor", "transpose up a fourth", "play it on violin", "in 3/4",
"make it simpler", "twice as long") and applies the matching functions.

Conventions:

- Pitches are MIDI numbers; intervals are semitones. Drum parts are never transposed, re-keyed or
  simplified.
- Times: quarter notes (``onset_qn`` / ``offset_qn``, exact Fractions) are the score's own clock.
  Notes without them are quantised first (:func:`~musicllm.score.quantize.quantize_score`).
  Seconds follow from quarter notes through the score's own time map (its beat grid, or its constant
  tempo), so a transcription keeps its tempo curve: edits that only change pitches or programs keep
  every second; :func:`change_tempo` scales every second (notes, beats, duration) and keeps every
  quarter note; edits that move quarter notes (meter, length, simplify) compute the seconds of the
  moved notes from the time map, extrapolated at the last tempo past the end.
- Keys: :func:`change_key` moves the tonic by the smaller interval (-6..+5 semitones) and, when the
  mode changes, maps scale degrees diatonically: each note on a degree of the old mode's scale goes
  to the same degree of the new mode's scale (major -> minor lowers the 3rd, 6th and 7th degrees; minor
  -> major raises them). Notes outside the old scale (a harmonic minor's raised 7th, a chromatic
  passing note) keep their distance from the tonic.
- Meters: :func:`change_meter` only rebars. The bar lengths must divide one another (4/4 <-> 2/4,
  4/4 <-> 2/2, 6/8 <-> 12/8, 6/8 <-> 3/4), and when the new meter's beats are not among the old ones
  (6/8 <-> 3/4) no note may cross a new beat unless it starts on one; anything else raises "cannot
  change 6/8 to 4/4 without rewriting rhythm".
- Length: :func:`lengthen` / :func:`continue_score` add bars by repeating the tune from its first full
  bar (the anacrusis fills the end of the last bar when there is room); :func:`shorten` cuts at a bar
  line. This is a placeholder rule: real continuation will come from the ABC language model.
- Instructions: :mod:`musicllm.generation.edit_instructions` reads the editing phrases (intervals,
  relative tempo and length, simplify, relative keys); the rest of the text goes through the prompt
  parser :mod:`musicllm.generation.controls` (keys, modes, meters, tempos, instruments, moods).
- :func:`simplify` keeps one note per felt beat in every pitched part: the longest note starting in
  the beat (ornaments and short notes go), moved to the beat and held to the next kept note; chords
  become their top note in the melody (the highest part) and their bottom note elsewhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from musicllm.errors import MusicLLMError
from musicllm.score.model import (
    MODE_OFFSETS,
    PITCH_CLASS_NAMES_FLAT,
    PITCH_CLASS_NAMES_SHARP,
    Key,
    Meter,
    Note,
    Part,
    Score,
    TimeMap,
)

__all__ = [
    "EditResult", "apply_instruction", "change_instrument", "change_key", "change_meter", "change_mode",
    "change_tempo", "continue_score", "count_bars", "lengthen", "shorten", "simplify", "transpose",
]

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)


@dataclass
class EditResult:
    """The edited score, what was applied (one readable line each), the instruction's words that were
    not understood or cannot be edited, and notes (explicit values that beat implied ones, requests
    that were already met)."""

    score: Score
    applied: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return "; ".join(self.applied) or "nothing changed"

    def to_dict(self) -> dict[str, Any]:
        """What was done, and the edited score in the JSON layout of :mod:`musicllm.score.jsonio`."""
        from musicllm.score.jsonio import score_to_dict

        return {"applied": list(self.applied), "ignored": list(self.ignored), "notes": list(self.notes),
                "score": score_to_dict(self.score)}

    def to_json(self, indent: int | None = 1) -> str:
        import json

        return json.dumps(self.to_dict(), indent=indent)


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


def _copy(score: Score) -> Score:
    return replace(score, parts=[replace(p, notes=[replace(n) for n in p.notes]) for p in score.parts],
                   beat_times_s=list(score.beat_times_s), downbeat_times_s=list(score.downbeat_times_s))


def _ensure_qn(score: Score) -> Score:
    """A copy in which every note has quarter-note times (quantised from seconds when some lack them)."""
    if any(n.onset_qn is None or n.offset_qn is None for p in score.parts for n in p.notes):
        from musicllm.score.quantize import quantize_score

        return _copy(quantize_score(score))
    return _copy(score)


def _end_qn(score: Score) -> Fraction:
    return max((n.offset_qn for p in score.parts for n in p.notes), default=Fraction(0))


def _regrid(score: Score, tm: TimeMap, had_grid: bool) -> Score:
    """Rebuild the beat grid of ``score`` (its meter and pickup) from the old time map ``tm``; scores
    without a beat grid keep none (their constant tempo implies it)."""
    if not had_grid:
        return replace(score, beat_times_s=[], downbeat_times_s=[], duration_s=None)
    from musicllm.score.jsonio import implied_beat_grid

    beats, downbeats = implied_beat_grid(score, end_qn=_end_qn(score), qn_to_s=tm.to_s)
    return replace(score, beat_times_s=[round(b, 4) for b in beats],
                   downbeat_times_s=[round(b, 4) for b in downbeats], duration_s=None)


def _note_at(n: Note, onset_qn: Fraction, offset_qn: Fraction, tm: TimeMap, pitch: int | None = None) -> Note:
    return replace(n, pitch=n.pitch if pitch is None else pitch, onset_qn=onset_qn, offset_qn=offset_qn,
                   onset_s=tm.to_s(float(onset_qn)), offset_s=tm.to_s(float(offset_qn)))


def _scale(mode: str) -> tuple[int, ...]:
    """Semitones of the mode's seven degrees above its tonic."""
    off = MODE_OFFSETS[mode]
    return tuple(sorted((x - off) % 12 for x in MAJOR_SCALE))


def _spelled_key(pc: int, mode: str, sharp_side: bool = False) -> Key:
    """The spelling of tonic ``pc`` in ``mode`` with the fewest sharps or flats; on a tie (F# / Gb
    major) sharps when ``sharp_side`` else flats."""
    names = {PITCH_CLASS_NAMES_SHARP[pc % 12], PITCH_CLASS_NAMES_FLAT[pc % 12]}
    return min((Key(n, mode) for n in names), key=lambda k: (abs(k.fifths), ("#" in k.tonic) != sharp_side))


def _check_range(parts: list[Part], what: str) -> None:
    for p in parts:
        for n in p.notes:
            if not p.is_drum and not 0 <= n.pitch <= 127:
                raise MusicLLMError(f"{what} puts notes outside the MIDI range 0..127")


def _semitones_text(n: int) -> str:
    return f"{'up' if n > 0 else 'down'} {abs(n)} semitone{'s' if abs(n) != 1 else ''}"


# ---------------------------------------------------------------------------------------------------
# Pitch: transpose, key, mode
# ---------------------------------------------------------------------------------------------------


def transpose(score: Score, semitones: int) -> Score:
    """Move every pitched note by ``semitones`` (positive = up); the key moves with it, spelled with
    the fewest sharps or flats (on a tie, on the side of the old key's signature)."""
    n = int(semitones)
    out = _copy(score)
    for p in out.parts:
        if not p.is_drum:
            for note in p.notes:
                note.pitch += n
    _check_range(out.parts, f"transposing {_semitones_text(n)}")
    out.key = _spelled_key(score.key.tonic_pc + n, score.key.mode, score.key.fifths > 0) if n % 12 else score.key
    return out


def change_key(score: Score, key: Key | str, *, direction: str = "nearest") -> Score:
    """Move the music to ``key`` (e.g. ``"G minor"``): the tonic moves by the smaller interval
    (``direction="up"`` / ``"down"`` to choose), and a change of mode maps scale degrees (see the
    module docstring)."""
    target = Key.parse(key) if isinstance(key, str) else key
    if target.mode not in MODE_OFFSETS:
        raise MusicLLMError(f"unknown mode {target.mode!r}")
    old = score.key
    d = (target.tonic_pc - old.tonic_pc) % 12
    if direction == "up":
        shift = d
    elif direction == "down":
        shift = d - 12 if d else 0
    elif direction == "nearest":
        shift = d if d <= 5 else d - 12
    else:
        raise ValueError(f"direction must be 'nearest', 'up' or 'down', not {direction!r}")
    src, tgt = _scale(old.mode), _scale(target.mode)
    out = _copy(score)
    for p in out.parts:
        if p.is_drum:
            continue
        for note in p.notes:
            rel = (note.pitch - old.tonic_pc) % 12
            delta = tgt[src.index(rel)] - src[src.index(rel)] if rel in src else 0
            note.pitch += shift + delta
    _check_range(out.parts, f"changing the key to {target}")
    out.key = target
    return out


def change_mode(score: Score, mode: str) -> Score:
    """Keep the tonic, change the mode (``"minor"``, ``"major"``, ``"dorian"``...)."""
    return change_key(score, Key(score.key.tonic, mode))


# ---------------------------------------------------------------------------------------------------
# Tempo and instruments
# ---------------------------------------------------------------------------------------------------


def change_tempo(score: Score, qpm: float | None = None, *, factor: float | None = None) -> Score:
    """Set the tempo to ``qpm`` quarter notes per minute, or multiply it by ``factor`` (2 = twice as
    fast). Quarter notes stay; every time in seconds (notes, beat grid, duration) is scaled."""
    if (qpm is None) == (factor is None):
        raise ValueError("give exactly one of qpm and factor")
    old = float(score.tempo_qpm)
    new = float(qpm) if qpm is not None else old * float(factor)
    if not math.isfinite(new) or new <= 0:
        raise MusicLLMError(f"cannot set the tempo to {new:g} quarter notes per minute")
    bpm = new / float(score.meter.beat_qn)
    if not 20 <= bpm <= 400:
        raise MusicLLMError(f"a tempo of {bpm:.0f} beats per minute is not playable (use 20 to 400)")
    k = old / new
    out = _copy(score)
    for p in out.parts:
        for n in p.notes:
            n.onset_s *= k
            n.offset_s *= k
    out.beat_times_s = [round(t * k, 4) for t in score.beat_times_s]
    out.downbeat_times_s = [round(t * k, 4) for t in score.downbeat_times_s]
    out.duration_s = None if score.duration_s is None else score.duration_s * k
    out.tempo_qpm = round(new, 3)
    return out


def _part_index(score: Score, part: int | str) -> int:
    if isinstance(part, int):
        if not -len(score.parts) <= part < len(score.parts):
            raise MusicLLMError(f"the score has {len(score.parts)} part(s); there is no part {part}")
        return part % len(score.parts)
    for i, p in enumerate(score.parts):
        if p.name.lower() == str(part).lower():
            return i
    raise MusicLLMError(f"no part named {part!r} (parts: {', '.join(p.name for p in score.parts) or 'none'})")


def change_instrument(score: Score, program: int | str, part: int | str | None = None) -> Score:
    """Give ``part`` (an index or a name; None = every pitched part) the General MIDI ``program``
    (0..127, or an instrument name such as ``"violin"``); the part is renamed after it."""
    from musicllm.score.instruments import name_for, program_for

    prog = program_for(program) if isinstance(program, str) else int(program)
    if prog is None or not 0 <= prog <= 127:
        raise MusicLLMError(f"unknown instrument {program!r} (use a General MIDI name or a program 0..127)")
    out = _copy(score)
    targets = [_part_index(score, part)] if part is not None else [
        i for i, p in enumerate(out.parts) if not p.is_drum]
    for i in targets:
        out.parts[i].program = prog
        out.parts[i].name = name_for(prog)
        out.parts[i].is_drum = False
    return out


# ---------------------------------------------------------------------------------------------------
# Meter, length, simplify
# ---------------------------------------------------------------------------------------------------


def change_meter(score: Score, meter: Meter | str) -> Score:
    """Rebar the score in ``meter`` where no rhythm has to change (see the module docstring); raises
    :class:`~musicllm.errors.MusicLLMError` "cannot change A to B without rewriting rhythm" otherwise."""
    new = Meter.parse(meter) if isinstance(meter, str) else meter
    old = score.meter
    if (new.numerator, new.denominator) == (old.numerator, old.denominator):
        return _copy(score)
    ratio = new.bar_qn / old.bar_qn
    if ratio.numerator != 1 and ratio.denominator != 1:
        raise MusicLLMError(f"cannot change {old} to {new} without rewriting rhythm: bars of {old.bar_qn} and "
                            f"{new.bar_qn} quarter notes do not divide one another")
    s = _ensure_qn(score)
    tm = s.time_map()
    had_grid = len(s.beat_times_s) >= 2
    pickup = Fraction(s.pickup_qn or 0) % old.bar_qn
    new_pickup = pickup % new.bar_qn
    beat = new.beat_qn
    phase = new_pickup % beat
    nested = (beat / old.beat_qn).denominator == 1 and (phase - pickup % old.beat_qn) % old.beat_qn == 0
    if not nested:
        bad = []
        for p in s.parts:
            if p.is_drum:
                continue
            for n in p.notes:
                on_beat = (n.onset_qn - phase) % beat == 0
                next_beat = phase + (math.floor((n.onset_qn - phase) / beat) + 1) * beat
                if not on_beat and next_beat < n.offset_qn:
                    bad.append(n)
        if bad:
            first = min(bad, key=lambda n: n.onset_qn)
            raise MusicLLMError(
                f"cannot change {old} to {new} without rewriting rhythm: {len(bad)} note(s) cross its beats "
                f"(the first at quarter note {float(first.onset_qn):g})")
    out = replace(s, meter=new, pickup_qn=new_pickup)
    regridded = _regrid(out, tm, had_grid)
    return replace(regridded, duration_s=score.duration_s)


def count_bars(score: Score) -> int:
    """Bars after the anacrusis up to the last note's end (a last partial bar counts as one)."""
    bar = score.meter.bar_qn
    pickup = Fraction(score.pickup_qn or 0) % bar
    end = _end_qn(_ensure_qn(score)) if score.parts else Fraction(0)
    return max(0, math.ceil((end - pickup) / bar))


def lengthen(score: Score, bars: int) -> Score:
    """Add ``bars`` bars by repeating the tune from its first full bar, as often as needed (see the
    module docstring: a simple rule until the ABC language model continues tunes)."""
    bars = int(bars)
    if bars < 1:
        raise MusicLLMError(f"cannot add {bars} bars: give at least 1")
    s = _ensure_qn(score)
    k = count_bars(s)
    if k == 0:
        raise MusicLLMError("the score has no full bar to repeat")
    tm = s.time_map()
    had_grid = len(s.beat_times_s) >= 2
    bar = s.meter.bar_qn
    pickup = Fraction(s.pickup_qn or 0) % bar
    body_end = pickup + k * bar
    new_end = body_end + bars * bar
    room = body_end - _end_qn(s)  # silence at the end of the last bar
    for p in s.parts:
        added: list[Note] = []
        for j in range(bars):
            src = j % k
            start = pickup + src * bar
            dest = body_end + j * bar
            for n in p.notes:
                if start <= n.onset_qn < start + bar:
                    off = min(n.offset_qn + dest - start, new_end)
                    added.append(_note_at(n, n.onset_qn + dest - start, off, tm))
            if pickup and room >= pickup and src == k - 1 and j + 1 < bars:
                added.extend(_note_at(n, n.onset_qn + dest + bar - pickup, n.offset_qn + dest + bar - pickup, tm)
                             for n in p.notes if n.onset_qn < pickup)
        if pickup and room >= pickup:  # the anacrusis again, before the first repeat
            added.extend(_note_at(n, n.onset_qn + body_end - pickup, n.offset_qn + body_end - pickup, tm)
                         for n in p.notes if n.onset_qn < pickup)
        p.notes = sorted(p.notes + added, key=lambda n: (n.onset_qn, n.pitch))
    return _regrid(s, tm, had_grid)


def continue_score(score: Score, bars: int = 8) -> Score:
    """Continue the tune for ``bars`` bars. For now the same rule as :func:`lengthen` (repeat from the
    first full bar); the ABC language model will replace it with a real continuation."""
    return lengthen(score, bars)


def shorten(score: Score, bars: int) -> Score:
    """Keep the anacrusis and the first ``bars`` bars; notes sounding at the cut end there."""
    bars = int(bars)
    if bars < 1:
        raise MusicLLMError(f"cannot shorten to {bars} bars: keep at least 1")
    s = _ensure_qn(score)
    tm = s.time_map()
    had_grid = len(s.beat_times_s) >= 2
    cut = Fraction(s.pickup_qn or 0) % s.meter.bar_qn + bars * s.meter.bar_qn
    for p in s.parts:
        p.notes = [n if n.offset_qn <= cut else _note_at(n, n.onset_qn, cut, tm)
                   for n in p.notes if n.onset_qn < cut]
    return _regrid(s, tm, had_grid)


def simplify(score: Score) -> Score:
    """One note per felt beat in every pitched part (see the module docstring)."""
    s = _ensure_qn(score)
    tm = s.time_map()
    had_grid = len(s.beat_times_s) >= 2
    beat = s.meter.beat_qn
    phase = Fraction(s.pickup_qn or 0) % beat
    pitched = [i for i, p in enumerate(s.parts) if not p.is_drum and p.notes]
    melody = max(pitched, key=lambda i: sum(n.pitch for n in s.parts[i].notes) / len(s.parts[i].notes),
                 default=None)
    for i in pitched:
        p = s.parts[i]
        notes = sorted(p.notes, key=lambda n: (n.onset_qn, n.pitch))
        first = phase + math.floor((notes[0].onset_qn - phase) / beat) * beat
        last = max(n.offset_qn for n in notes)
        kept: list[tuple[Note, Fraction, Fraction]] = []  # (source note, onset, original end)
        b = first
        while b < last:
            starting = [n for n in notes if b <= n.onset_qn < b + beat]
            if starting:
                longest = max(n.offset_qn - n.onset_qn for n in starting)
                onset = min(n.onset_qn for n in starting if n.offset_qn - n.onset_qn == longest)
                chord = [n for n in starting if n.onset_qn == onset]
                pick = max(chord, key=lambda n: n.pitch) if i == melody else min(chord, key=lambda n: n.pitch)
                kept.append((pick, max(b, notes[0].onset_qn), max(pick.offset_qn, b + beat)))
            b += beat
        new_notes = []
        for j, (src, on, end) in enumerate(kept):
            nxt = kept[j + 1][1] if j + 1 < len(kept) else None
            end_beat = phase + math.ceil((end - phase) / beat) * beat  # held to the end of its beat
            off = min(end_beat, nxt) if nxt is not None else end_beat
            new_notes.append(_note_at(src, on, off, tm))
        p.notes = new_notes
    return _regrid(s, tm, had_grid)


# ---------------------------------------------------------------------------------------------------
# Instructions
# ---------------------------------------------------------------------------------------------------

def _one_direction(items: list[tuple[float, str]], what: str) -> tuple[float, str] | None:
    """The first relative change; a contradiction (one up, one down) raises."""
    if not items:
        return None
    ups = [p for f, p in items if f > 1]
    downs = [p for f, p in items if f < 1]
    if ups and downs:
        raise MusicLLMError(f"contradictory instruction: {ups[0]!r} and {downs[0]!r} ask for opposite {what}")
    return items[0]


def apply_instruction(score: Score, text: str, *, use_embeddings: bool = True) -> EditResult:
    """Apply an editing instruction such as "slower and in G minor", "transpose up a fourth", "play it
    on violin", "in 3/4", "make it simpler", "twice as long".

    Order of application: key / mode / transposition, meter, simplify, length, tempo, instruments.
    Raises :class:`~musicllm.errors.MusicLLMError` (one line) for an empty instruction, one in which
    nothing applicable was found, a contradictory one ("faster and slower", "up a fourth and in G
    minor"), and an edit that is not possible (a meter change that needs new rhythm).
    """
    from musicllm.generation.control_words import TUNE_TYPES
    from musicllm.generation.controls import TextScanner, normalise_text, parse_scanned
    from musicllm.generation.edit_instructions import EditRequest, scan_instruction

    if not str(text or "").strip():
        raise MusicLLMError("the edit instruction is empty: say what to change, e.g. 'slower and in G minor'")
    sc = TextScanner(normalise_text(text))
    req = EditRequest()
    scan_instruction(sc, req)
    parsed = parse_scanned(sc, use_embeddings=use_embeddings)
    if parsed.conflicts:
        raise MusicLLMError(f"contradictory instruction: {'; '.join(parsed.conflicts)}")
    c = parsed.controls
    result = EditResult(score=score, ignored=list(parsed.ignored), notes=list(parsed.overrides))
    if c.style:
        result.ignored.append(f"style {c.style!r} (cannot be edited)")
    if c.tune_type and not c.meter:
        result.ignored.append(f"tune type {c.tune_type!r} (only its meter can be applied; it has none)")

    # Key, mode, transposition
    tonic_set = c.key is not None
    mode_src = parsed.sources.get("mode")
    if len({n for n, _ in req.semitones}) > 1:
        raise MusicLLMError(f"contradictory instruction: {req.semitones[0][1]!r} and {req.semitones[1][1]!r}")
    if req.semitones and (tonic_set or req.relative_key):
        other = parsed.evidence["key"] if tonic_set else repr(req.relative_key[0][1])
        raise MusicLLMError(f"contradictory instruction: {req.semitones[0][1]!r} and {other} both move the tonic")
    if tonic_set and req.relative_key:
        raise MusicLLMError(f"contradictory instruction: {parsed.evidence['key']} and "
                            f"{req.relative_key[0][1]!r} name different keys")
    s = score
    old_key = s.key
    target: Key | None = None
    if req.relative_key:
        what, phrase = req.relative_key[0]
        if what.startswith("parallel"):
            target = Key(s.key.tonic, what.split()[1])
        else:
            want = what
            have = s.key.major_or_minor
            if want == have:
                result.notes.append(f"{phrase!r}: the score is already {s.key}; its relative {want} is itself")
            else:
                off = -3 if want == "minor" else 3
                target = _spelled_key(s.key.tonic_pc + off, want, s.key.fifths > 0)
    elif tonic_set:
        mode = c.mode if mode_src in ("rule", "mood") and c.mode else s.key.mode
        target = Key(c.key.tonic, mode)
    elif c.mode and mode_src in ("rule", "mood"):
        if Key("C", c.mode).major_or_minor != s.key.major_or_minor or (mode_src == "rule" and c.mode != s.key.mode):
            target = Key(s.key.tonic, c.mode)
        else:
            result.notes.append(f"already {c.mode}: {s.key}")
    if target is not None:
        if target.tonic_pc == old_key.tonic_pc and target.mode == old_key.mode:
            result.notes.append(f"already in {old_key}")
            if target.tonic != old_key.tonic:
                s = replace(_copy(s), key=target)
        else:
            s = change_key(s, target)
            result.applied.append(f"key {old_key} -> {target}")
    if req.semitones:
        n, phrase = req.semitones[0]
        s = transpose(s, n)
        result.applied.append(f"transposed {_semitones_text(n)} ({old_key} -> {s.key})" if n else
                              "transposed by 0 semitones")

    # Meter
    if c.meter is not None:
        if str(c.meter) == str(s.meter):
            result.notes.append(f"already in {s.meter}")
        elif parsed.sources.get("meter") == "tune type" and c.tune_type and \
                str(s.meter) in TUNE_TYPES[c.tune_type].meters:
            result.notes.append(f"{s.meter} already fits a {c.tune_type}")
        else:
            old_meter = s.meter
            s = change_meter(s, c.meter)
            result.applied.append(f"meter {old_meter} -> {c.meter}")

    # Simplify
    if req.simplify:
        before = sum(len(p.notes) for p in s.parts)
        s = simplify(s)
        result.applied.append(f"simplified ({before} -> {sum(len(p.notes) for p in s.parts)} notes)")

    # Length
    length_requests = list(req.length)
    if c.length_bars is not None:
        length_requests.append(("total", float(c.length_bars), parsed.evidence.get("length_bars", "")))
    if length_requests:
        if len({(k, v) for k, v, _ in length_requests}) > 1:
            raise MusicLLMError(f"contradictory instruction: {length_requests[0][2]!r} and "
                                f"{length_requests[1][2]!r} ask for different lengths")
        kind, value, phrase = length_requests[0]
        have = count_bars(s)
        want = {"factor": round(have * value), "add": have + int(value), "total": int(value)}[kind]
        want = max(want, 1)
        if want > have:
            s = lengthen(s, want - have)
            result.applied.append(f"length {have} -> {want} bars (repeating the tune)")
        elif want < have:
            s = shorten(s, want)
            result.applied.append(f"length {have} -> {want} bars (cut)")
        else:
            result.notes.append(f"already {have} bars long")

    # Tempo
    factor_hit = _one_direction(req.tempo_factors, "tempo changes")
    old_tempo = s.tempo_qpm
    beat = float(s.meter.beat_qn)
    new_tempo: float | None = None
    why = ""
    if parsed.tempo_number is not None:  # "at 90 bpm": felt beats of this score's meter
        value, unit = parsed.tempo_number
        new_tempo, why = value * beat if unit == "bpm" else value, parsed.evidence.get("tempo_qpm", "")
    elif parsed.tempo_word is not None:  # "fast", "adagio": only when the score is not that already
        phrase, word = parsed.tempo_word
        why = repr(phrase)
        if word.low_bpm <= old_tempo / beat <= word.high_bpm:
            result.notes.append(f"already {phrase} ({old_tempo / beat:.0f} beats per minute)")
        else:
            new_tempo = word.default_bpm * beat
    if why and factor_hit:
        if new_tempo is not None and (new_tempo - old_tempo) * (factor_hit[0] - 1) < 0:
            raise MusicLLMError(f"contradictory instruction: {factor_hit[1]!r} but {why} is "
                                f"{'slower' if new_tempo < old_tempo else 'faster'} than the score "
                                f"({old_tempo:g} qpm)")
        result.notes.append(f"the explicit tempo {why} wins over {factor_hit[1]!r}")
    elif factor_hit or req.tempo_deltas:
        if factor_hit:
            new_tempo, why = old_tempo * factor_hit[0], repr(factor_hit[1])
        else:
            d, unit, phrase = req.tempo_deltas[0]
            new_tempo, why = old_tempo + d * (beat if unit == "bpm" else 1.0), repr(phrase)
        if c.mood and abs(parsed.mood_factor - 1) > 0.01:
            result.notes.append(f"{why} wins over the mood {c.mood!r}")
    elif not why and c.mood and abs(parsed.mood_factor - 1) > 0.01:
        new_tempo, why = old_tempo * parsed.mood_factor, f"mood {c.mood!r}"
    if new_tempo is not None:
        new_tempo = max(1, round(new_tempo / beat)) * beat  # a whole number of felt beats per minute
        s = change_tempo(s, qpm=new_tempo)
        result.applied.append(f"tempo {old_tempo:g} -> {s.tempo_qpm:g} qpm ({why})")

    # Instruments
    if c.programs:
        from musicllm.score.instruments import name_for

        pitched = [i for i, p in enumerate(s.parts) if not p.is_drum]
        if len(c.programs) == 1 or len(pitched) <= 1:
            s = change_instrument(s, c.programs[0])
            result.applied.append(f"instrument -> {name_for(c.programs[0])}")
            if len(c.programs) > 1:
                result.ignored.append(f"instruments {', '.join(c.instruments[1:])} (the score has one part)")
        else:
            for i, prog in zip(pitched, c.programs, strict=False):
                s = change_instrument(s, prog, part=i)
            result.applied.append("instruments -> " + ", ".join(c.instruments[:len(pitched)]))
            if len(c.programs) > len(pitched):
                result.ignored.append(f"instruments {', '.join(c.instruments[len(pitched):])} (no part left)")

    if not result.applied and not result.notes:
        extra = f" (not understood: {', '.join(result.ignored)})" if result.ignored else ""
        raise MusicLLMError(f"nothing to edit in {parsed.text!r}{extra}; try e.g. 'slower', 'in G minor', "
                            "'transpose up a fourth', 'play it on violin', 'in 3/4', 'simpler', 'twice as long'")
    result.score = s
    return result
