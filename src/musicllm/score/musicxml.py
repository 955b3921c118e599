"""`Score` <-> MusicXML.

Writing lays the notation out here (bars, voices, written values, ties, accidentals, beams, tuplet
brackets) and prints the MusicXML text directly: music21's generic ``makeNotation`` plus its exporter
take tens of seconds to minutes on a long transcription, this takes well under a second for 5000
notes. :func:`score_to_music21` parses that text with music21, and reading uses music21 too.

How notes become notation:

- Each note sits at its ``onset_qn`` / ``offset_qn``; a note without them is placed from its seconds
  through ``score.time_map()``, rounded to 1/12 quarter note. Positions off the 1/48 quarter-note grid
  (quintuplets and the like) are snapped to it.
- Notes of a part that start and end together form a chord; overlapping chords go into separate voices
  (at most :data:`MAX_VOICES`; beyond that the earlier chord of the busiest voice is cut short).
- Notes are split at barlines and into written values (plain, dotted, triplet) that are tied; a piece
  that starts off the beat ends by the next beat.
- The first bar is a pickup of ``score.pickup_qn`` quarter notes when that is not zero.
- Pitches are spelt from the key (flats in flat keys, the raised leading tone in minor keys).

Reading joins tied notes (per voice) and gives each note exact quarter-note positions and seconds at
the written tempo marks.
"""

from __future__ import annotations

import functools
import io
import os
import warnings
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from xml.sax.saxutils import escape

from musicllm.errors import NotationError
from musicllm.files import atomic_write_bytes
from musicllm.score.jsonio import implied_beat_grid
from musicllm.score.model import Key, Meter, Note, Part, Score

#: Most voices per part; more simultaneous overlapping chords get cut short.
MAX_VOICES = 4
#: Grid (in quarter notes) for notes placed from seconds.
SECONDS_GRID = Fraction(1, 12)
#: Finest grid positions are snapped to (64th notes and 32nd-note triplets fall on it).
FINE_GRID = Fraction(1, 48)
#: MusicXML <divisions>: ticks per quarter note (every written value below is a whole number of them).
DIVISIONS = 48

_TYPE_NAMES = {
    Fraction(4): "whole", Fraction(2): "half", Fraction(1): "quarter", Fraction(1, 2): "eighth",
    Fraction(1, 4): "16th", Fraction(1, 8): "32nd", Fraction(1, 16): "64th", Fraction(1, 32): "128th",
}
_PLAIN = [Fraction(4, 2**k) for k in range(0, 7)]  # whole .. 64th
_DOTTED = [v * Fraction(3, 2) for v in _PLAIN[:6]]  # dotted whole .. dotted 32nd
_TRIPLET = [v * Fraction(2, 3) for v in list(_TYPE_NAMES)]  # triplet whole .. triplet 128th
#: Written values (quarter notes), longest first; all are multiples of FINE_GRID.
_VALUES = sorted(set(_PLAIN) | set(_DOTTED) | set(_TRIPLET), reverse=True)
_VALUE_SET = frozenset(_VALUES)
_BEAM_COUNT = {"eighth": 1, "16th": 2, "32nd": 3, "64th": 4, "128th": 5}


def _is_dotted(v: Fraction) -> bool:
    return v.numerator in (3, 6)


def _is_triplet(v: Fraction) -> bool:
    return v.denominator % 3 == 0


def _written(v: Fraction) -> tuple[str, int, bool]:
    """(type name, dots, is triplet) of a written value."""
    if v in _TYPE_NAMES:
        return _TYPE_NAMES[v], 0, False
    if _is_dotted(v):
        return _TYPE_NAMES[v * Fraction(2, 3)], 1, False
    return _TYPE_NAMES[v * Fraction(3, 2)], 0, True


def _strength(pos: Fraction, m: Meter) -> Fraction:
    """How strong a position in the bar is: the longest of bar, beat or written value it falls on."""
    if pos % m.bar_qn == 0:
        return m.bar_qn
    if pos % m.beat_qn == 0:
        return m.beat_qn
    return next((g for g in _VALUES if pos % g == 0), Fraction(0))


def _alignment(v: Fraction, m: Meter) -> Fraction | None:
    """Grid on which a written value may start, measured from the start of a full bar (``None``: the
    value is not written in this meter, such as a half note in 6/8).

    Values of a beat or more start on any beat (in compound meters only the dotted ones). Shorter
    dotted values sit on the grid of their undotted value (a dotted eighth on an eighth); shorter
    values may start on any pulse of the meter's unit (a quarter on the second eighth of 6/8).
    """
    if v >= m.beat_qn:
        if m.is_compound and not _is_dotted(v):
            return None
        return m.beat_qn
    base = v * Fraction(2, 3) if _is_dotted(v) else v
    return min(base, Fraction(4, m.denominator))


@functools.lru_cache(maxsize=8192)
def split_value(start: Fraction, length: Fraction, m: Meter = Meter(4, 4)) -> tuple[Fraction, ...]:
    """Split ``length`` quarter notes starting ``start`` after the start of a full bar into written
    values (plain, dotted or triplet) to be tied together; the pieces sum to ``length``.

    A piece that starts off the beat ends by the next beat; a piece that starts on a beat and is not
    the last one ends on a beat; each piece starts on its value's grid (see :func:`_alignment`);
    among the allowed pieces the one ending on the strongest position, then the longest, wins.
    """
    beat = m.beat_qn
    out: list[Fraction] = []
    pos, rest = Fraction(start), Fraction(length)
    while rest > 0:
        on_beat = pos % beat == 0
        next_beat = (pos // beat + 1) * beat

        def ok(v: Fraction, strict: bool, pos=pos, rest=rest, on_beat=on_beat, next_beat=next_beat) -> bool:
            if v > rest:
                return False
            grid = _alignment(v, m)
            if grid is None or pos % grid != 0:
                return False
            if not strict:
                return True
            if not on_beat:
                return pos + v <= next_beat
            return v == rest or (pos + v) % beat == 0

        if rest in _VALUE_SET and ok(rest, True):
            choice = rest
        else:
            candidates = [v for v in _VALUES if ok(v, True)]
            choice = max(candidates, key=lambda v, pos=pos: (_strength(pos + v, m), v), default=None)
        if choice is None:
            choice = next((v for v in _VALUES if ok(v, False)), None)
        if choice is None:
            choice = next((v for v in _VALUES if v <= rest), rest)
        out.append(choice)
        pos += choice
        rest -= choice
    return tuple(out)


def _snap(q: Fraction) -> Fraction:
    if FINE_GRID.denominator % q.denominator == 0:
        return q
    return Fraction(round(q / FINE_GRID)) * FINE_GRID


# ------------------------------------------------------------------------------------------ layout


@dataclass
class _Chord:
    on: Fraction
    off: Fraction
    pitches: list[int]
    velocity: int


def _part_chords(part: Part, score: Score, tm_cache: list) -> list[_Chord]:
    spans: dict[tuple[Fraction, Fraction], list[Note]] = defaultdict(list)
    for n in part.notes:
        if n.onset_qn is not None and n.offset_qn is not None:
            on, off = Fraction(n.onset_qn), Fraction(n.offset_qn)
        else:
            if not tm_cache:
                tm_cache.append(score.time_map())
            tm = tm_cache[0]
            on = Fraction(round(tm.to_qn(n.onset_s) / SECONDS_GRID)) * SECONDS_GRID
            off = Fraction(round(tm.to_qn(n.offset_s) / SECONDS_GRID)) * SECONDS_GRID
        on, off = max(_snap(on), Fraction(0)), _snap(off)
        if off <= on:
            off = on + (SECONDS_GRID if n.onset_qn is None else FINE_GRID)
        spans[(on, off)].append(n)
    chords = []
    for (on, off), notes in spans.items():
        pitches = sorted({int(min(max(n.pitch, 0), 127)) for n in notes})
        vel = round(sum(n.velocity for n in notes) / len(notes))
        chords.append(_Chord(on, off, pitches, int(min(max(vel, 1), 127))))
    # Earlier first; at one onset the longer chord first so that it takes the lower voice number.
    chords.sort(key=lambda c: (c.on, -c.off, c.pitches))
    return chords


def _assign_voices(chords: list[_Chord]) -> list[list[_Chord]]:
    voices: list[list[_Chord]] = []
    for c in chords:
        free = next((v for v in voices if v[-1].off <= c.on), None)
        if free is not None:
            free.append(c)
        elif len(voices) < MAX_VOICES:
            voices.append([c])
        else:
            v = min(voices, key=lambda v: v[-1].off)
            last = v[-1]
            if last.on < c.on:
                last.off = c.on  # cut the earlier chord short
                v.append(c)
            else:  # same onset: merge into that chord, keeping its length
                last.pitches = sorted(set(last.pitches) | set(c.pitches))
    return voices


def _bar_starts(score: Score, end: Fraction) -> list[Fraction]:
    """Start of each bar plus the end of the last, covering ``[0, end)``; at least one bar."""
    bar = score.meter.bar_qn
    pickup = Fraction(score.pickup_qn) % bar
    starts = [Fraction(0)]
    q = pickup if pickup > 0 else bar
    while True:
        starts.append(q)
        if q >= end:
            return starts
        q += bar


def _voice_bar_events(voice: list[_Chord], bars: list[Fraction]) -> dict[int, list]:
    """A voice's chords (and the gaps between them, as ``None``) split at barlines:
    bar index -> [(start_in_bar, length, chord or None, tied_in, tied_out)]."""
    per_bar: dict[int, list] = defaultdict(list)
    j = 0
    cursor = Fraction(0)

    def emit(a: Fraction, b: Fraction, c: _Chord | None) -> None:
        nonlocal j
        while bars[j + 1] <= a:
            j += 1
        pieces = []
        q, k = a, j
        while q < b:
            while bars[k + 1] <= q:
                k += 1
            e = min(b, bars[k + 1])
            pieces.append((k, q, e))
            q = e
        for i, (k, q0, q1) in enumerate(pieces):
            per_bar[k].append((q0 - bars[k], q1 - q0, c, i > 0, i < len(pieces) - 1))

    for c in voice:
        if c.on > cursor:
            emit(cursor, c.on, None)
        emit(c.on, c.off, c)
        cursor = c.off
    return per_bar


def _spelling_table(key: Key) -> dict[int, tuple[str, int]]:
    """Pitch class -> (letter, alter) for ``key``."""
    fifths = key.fifths
    key_alter = {s: (1 if fifths > 0 else -1)
                 for s in ("FCGDAEB"[:fifths] if fifths > 0 else "BEADGCF"[:-fifths])}
    letters = "CDEFGAB"
    letter_pc = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    table: dict[int, tuple[str, int]] = {}
    diatonic = [(L, key_alter.get(L, 0)) for L in letters]
    for L, a in diatonic:
        table[(letter_pc[L] + a) % 12] = (L, a)
    by_pc = dict(table)
    for pc in range(12):
        if pc in table:
            continue
        below_L, below_a = by_pc[(pc - 1) % 12]
        above_L, above_a = by_pc[(pc + 1) % 12]
        sharp, flat = (below_L, below_a + 1), (above_L, above_a - 1)
        if abs(sharp[1]) != abs(flat[1]):
            table[pc] = sharp if abs(sharp[1]) < abs(flat[1]) else flat
        elif fifths > 0 or (fifths == 0 and pc not in (3, 10)):
            table[pc] = sharp
        else:
            table[pc] = flat
    if key.major_or_minor == "minor":
        # The raised leading tone: the letter below the tonic, sharpened (C# in D minor, B natural in C).
        seventh = letters[(letters.index(key.tonic[0].upper()) - 1) % 7]
        lt = (key.tonic_pc - 1) % 12
        a7 = key_alter.get(seventh, 0)
        if (letter_pc[seventh] + a7) % 12 != lt:
            table[lt] = (seventh, a7 + 1)
    return table


@dataclass
class _Slot:
    pos: Fraction  # from the start of the bar as written (0 = first beat of a pickup bar)
    val: Fraction
    chord: _Chord | None
    tie_in: bool = False
    tie_out: bool = False
    hidden: bool = False  # a gap in a secondary voice: written as <forward>
    pitches: list[tuple[str, int, int, str | None]] = field(default_factory=list)  # step, alter, oct, acc
    beams: list[str] = field(default_factory=list)
    tuplet: str | None = None  # "start", "stop" or None


_ACC_NAMES = {-2: "flat-flat", -1: "flat", 0: "natural", 1: "sharp", 2: "double-sharp"}


def _beam_group_qn(m: Meter) -> Fraction:
    """Length of a beam group: the felt beat, or a quarter note in 2/8, 4/8, 6/16..."""
    if m.is_compound or m.denominator <= 4:
        return m.beat_qn
    unit = Fraction(4, m.denominator)
    return unit * 2 if m.numerator % 2 == 0 else unit * m.numerator


def _beam_voice(slots: list[_Slot], pad: Fraction, group: Fraction) -> None:
    runs: list[list[_Slot]] = []
    current: list[_Slot] = []
    current_g = None
    for sl in slots:
        pos = sl.pos + pad
        g = pos // group
        beamable = (sl.chord is not None and not sl.hidden and _written(sl.val)[0] in _BEAM_COUNT
                    and pos + sl.val <= (g + 1) * group)
        if beamable and current and g == current_g:
            current.append(sl)
            continue
        if len(current) > 1:
            runs.append(current)
        current, current_g = ([sl], g) if beamable else ([], None)
    if len(current) > 1:
        runs.append(current)
    for run in runs:
        counts = [_BEAM_COUNT[_written(sl.val)[0]] for sl in run]
        for i, sl in enumerate(run):
            prev_n = counts[i - 1] if i > 0 else 0
            next_n = counts[i + 1] if i < len(run) - 1 else 0
            for level in range(1, counts[i] + 1):
                if level <= prev_n and level <= next_n:
                    sl.beams.append("continue")
                elif level <= next_n:
                    sl.beams.append("begin")
                elif level <= prev_n:
                    sl.beams.append("end")
                else:
                    sl.beams.append("backward hook" if i > 0 else "forward hook")


def _tuplet_voice(slots: list[_Slot]) -> None:
    """Bracket runs of triplet values; a bracket closes once its run adds up to a plain value."""
    start: _Slot | None = None
    total = Fraction(0)
    prev: _Slot | None = None
    for sl in slots:
        trip = _is_triplet(sl.val) and not sl.hidden
        if trip:
            if start is None:
                start, total = sl, Fraction(0)
            total += sl.val
            if not _is_triplet(total):
                start.tuplet = "start"
                sl.tuplet = "stop" if sl is not start else None
                start = None
        elif start is not None:
            # An incomplete run: still bracket it so that the reader sees the triplet.
            start.tuplet = "start"
            if prev is not start:
                prev.tuplet = "stop"
            start = None
        prev = sl
    if start is not None:
        start.tuplet = "start"
        if prev is not start:
            prev.tuplet = "stop"


def _tempo_text(qpm: float) -> str:
    r = round(qpm)
    return str(r) if abs(qpm - r) < 0.005 else f"{qpm:.2f}".rstrip("0").rstrip(".")


def _note_xml(out: list[str], sl: _Slot, voice: int, stem: str | None, full_bar: bool, dur: int) -> None:
    if sl.hidden:
        out.append(f"<forward><duration>{dur}</duration><voice>{voice}</voice></forward>")
        return
    typ, dots, trip = _written(sl.val)
    tail = [f"<voice>{voice}</voice>"]
    if not full_bar:
        tail.append(f"<type>{typ}</type>" + "<dot/>" * dots)
    if sl.chord is None:
        if full_bar:
            out.append(f'<note><rest measure="yes"/><duration>{dur}</duration>{"".join(tail)}</note>')
            return
        head = [f"<note><rest/><duration>{dur}</duration>"]
        tm = "<time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes>" \
             "</time-modification>" if trip else ""
        notations = ""
        if sl.tuplet:
            notations = f'<notations><tuplet type="{sl.tuplet}" bracket="yes"/></notations>'
        out.append("".join(head) + "".join(tail) + tm + notations + "</note>")
        return
    dyn = f' dynamics="{sl.chord.velocity / 90 * 100:.2f}"'
    for i, (step, alter, octave, acc) in enumerate(sl.pitches):
        parts = [f"<note{dyn}>"]
        if i:
            parts.append("<chord/>")
        parts.append(f"<pitch><step>{step}</step>")
        if alter:
            parts.append(f"<alter>{alter}</alter>")
        parts.append(f"<octave>{octave}</octave></pitch><duration>{dur}</duration>")
        if sl.tie_in:
            parts.append('<tie type="stop"/>')
        if sl.tie_out:
            parts.append('<tie type="start"/>')
        parts.extend(tail)
        if acc:
            parts.append(f"<accidental>{acc}</accidental>")
        if trip:
            parts.append("<time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes>"
                         "</time-modification>")
        if stem:
            parts.append(f"<stem>{stem}</stem>")
        if i == 0:
            for level, b in enumerate(sl.beams, start=1):
                parts.append(f'<beam number="{level}">{b}</beam>')
        notations = []
        if sl.tie_in:
            notations.append('<tied type="stop"/>')
        if sl.tie_out:
            notations.append('<tied type="start"/>')
        if sl.tuplet and i == 0:
            notations.append(f'<tuplet type="{sl.tuplet}" bracket="yes"/>')
        if notations:
            parts.append("<notations>" + "".join(notations) + "</notations>")
        parts.append("</note>")
        out.append("".join(parts))


def score_to_musicxml(score: Score) -> str:
    """MusicXML 4.0 (partwise) text for ``score``."""
    meter = score.meter
    tm_cache: list = []
    parts = score.parts or [Part(name="Part 1")]  # MusicXML needs at least one part
    part_voices = [_assign_voices(_part_chords(p, score, tm_cache)) for p in parts]
    end = max((c.off for voices in part_voices for v in voices for c in v), default=Fraction(0))
    bars = _bar_starts(score, end)
    n_bars = len(bars) - 1
    bar_qn = meter.bar_qn
    beam_group = _beam_group_qn(meter)
    spelling = _spelling_table(score.key)
    fifths = score.key.fifths
    key_alter = {s: (1 if fifths > 0 else -1)
                 for s in ("FCGDAEB"[:fifths] if fifths > 0 else "BEADGCF"[:-fifths])}
    letter_pc = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    first_number = 0 if bars[1] < bar_qn else 1
    mode = score.key.mode if score.key.mode in (
        "major", "minor", "dorian", "phrygian", "lydian", "mixolydian", "aeolian", "ionian", "locrian") else "none"

    out: list[str] = [
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
        '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" '
        '"http://www.musicxml.org/dtds/partwise.dtd">',
        '<score-partwise version="4.0">',
    ]
    if score.title:
        out.append(f"<work><work-title>{escape(score.title)}</work-title></work>")
    out.append("<identification><encoding><software>musicllm</software></encoding></identification>")
    out.append("<part-list>")
    channels = [c for c in range(16) if c != 9]
    for pi, part in enumerate(parts):
        pid = f"P{pi + 1}"
        name = escape(part.name or f"Part {pi + 1}")
        channel = 10 if part.is_drum else channels[pi % len(channels)] + 1
        program = int(min(max(part.program, 0), 127)) + 1
        out.append(
            f'<score-part id="{pid}"><part-name>{name}</part-name>'
            f'<score-instrument id="{pid}-I1"><instrument-name>{name}</instrument-name></score-instrument>'
            f'<midi-instrument id="{pid}-I1"><midi-channel>{channel}</midi-channel>'
            f"<midi-program>{program}</midi-program></midi-instrument></score-part>")
    out.append("</part-list>")

    for pi, (_part, voices) in enumerate(zip(parts, part_voices, strict=True)):
        out.append(f'<part id="P{pi + 1}">')
        all_pitches = sorted(p for v in voices for c in v for p in c.pitches)
        median = all_pitches[len(all_pitches) // 2] if all_pitches else 60
        # A part without notes still gets one voice of rests.
        voice_events = [_voice_bar_events(v, bars) for v in voices] or [{}]
        for bi in range(n_bars):
            length = bars[bi + 1] - bars[bi]
            pad = bar_qn - length if bi == 0 and length < bar_qn else Fraction(0)
            implicit = ' implicit="yes"' if pad else ""
            out.append(f'<measure number="{bi + first_number}"{implicit}>')
            if bi == 0:
                clef = "<sign>F</sign><line>4</line>" if median < 57 else "<sign>G</sign><line>2</line>"
                out.append(
                    f"<attributes><divisions>{DIVISIONS}</divisions>"
                    f"<key><fifths>{fifths}</fifths><mode>{mode}</mode></key>"
                    f"<time><beats>{meter.numerator}</beats><beat-type>{meter.denominator}</beat-type></time>"
                    f"<clef>{clef}</clef></attributes>")
                if pi == 0:
                    qpm = float(score.tempo_qpm)
                    out.append(
                        '<direction placement="above"><direction-type><metronome parentheses="no">'
                        f"<beat-unit>quarter</beat-unit><per-minute>{_tempo_text(qpm)}</per-minute>"
                        f'</metronome></direction-type><sound tempo="{round(qpm, 4)}"/></direction>')
            active = [vi for vi, ve in enumerate(voice_events)
                      if vi == 0 or any(ev[2] is not None for ev in ve.get(bi, ()))]
            multi = len(active) > 1
            slots_by_voice: list[list[_Slot]] = []
            for vi in active:
                evs = list(voice_events[vi].get(bi, ()))
                filled = evs[-1][0] + evs[-1][1] if evs else Fraction(0)
                if filled < length:
                    evs.append((filled, length - filled, None, False, False))
                slots: list[_Slot] = []
                for start, ln, c, t_in, t_out in evs:
                    if c is None and vi > 0:
                        slots.append(_Slot(start, ln, None, hidden=True))
                        continue
                    values = split_value(start + pad, ln, meter)
                    pos = start
                    last = len(values) - 1
                    for k, val in enumerate(values):
                        if c is None:
                            slots.append(_Slot(pos, val, None))
                        else:
                            slots.append(_Slot(pos, val, c, t_in or k > 0, t_out or k < last))
                        pos += val
                slots_by_voice.append(slots)
            # Pitches and accidentals, in time order across the voices of the bar.
            shown: dict[tuple[str, int], int | None] = {}
            note_slots = sorted((sl for slots in slots_by_voice for sl in slots if sl.chord is not None),
                                key=lambda sl: sl.pos)
            for sl in note_slots:
                for midi in sl.chord.pitches:
                    step, alter = spelling[midi % 12]
                    octave = (midi - alter - letter_pc[step]) // 12 - 1
                    current = shown.get((step, octave), key_alter.get(step, 0))
                    acc = None
                    if sl.tie_in:
                        if current != alter:
                            # Held over by a tie: the next note on this line shows its accidental.
                            shown[(step, octave)] = None
                    elif current != alter:
                        acc = _ACC_NAMES[alter]
                        shown[(step, octave)] = alter
                    sl.pitches.append((step, alter, octave, acc))
            for slots in slots_by_voice:
                _beam_voice(slots, pad, beam_group)
                _tuplet_voice(slots)
            # With several voices the higher ones get stems up, the lower ones stems down.
            stems: dict[int, str] = {}
            if multi:
                def mean_pitch(slots: list[_Slot]) -> float:
                    ps = [p for sl in slots if sl.chord is not None for p in sl.chord.pitches]
                    return sum(ps) / len(ps) if ps else -1.0

                order = sorted(range(len(active)), key=lambda i: -mean_pitch(slots_by_voice[i]))
                for rank, i in enumerate(order):
                    stems[i] = "up" if rank < (len(order) + 1) // 2 else "down"
            for n_voice, (vi, slots) in enumerate(zip(active, slots_by_voice, strict=True)):
                if n_voice:
                    out.append(f"<backup><duration>{int(length * DIVISIONS)}</duration></backup>")
                stem = stems.get(n_voice)
                full_bar = (len(slots) == 1 and slots[0].chord is None and not pad)
                for sl in slots:
                    _note_xml(out, sl, vi + 1, stem, full_bar, int(sl.val * DIVISIONS))
            if bi == n_bars - 1:
                out.append('<barline location="right"><bar-style>light-heavy</bar-style></barline>')
            out.append("</measure>")
        out.append("</part>")
    out.append("</score-partwise>")
    return "\n".join(out) + "\n"


def score_to_musicxml_bytes(score: Score) -> bytes:
    return score_to_musicxml(score).encode("utf-8")


def score_to_music21(score: Score):
    """The score as a ``music21.stream.Score`` (the MusicXML of :func:`score_to_musicxml`, parsed)."""
    from music21 import converter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return converter.parse(score_to_musicxml(score), format="musicxml", forceSource=True)


def _mxl_bytes(xml: bytes, inner: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.recordare.musicxml")
        z.writestr("META-INF/container.xml",
                   '<?xml version="1.0" encoding="UTF-8"?>\n<container><rootfiles>'
                   f'<rootfile full-path="{inner}" media-type="application/vnd.recordare.musicxml+xml"/>'
                   "</rootfiles></container>\n")
        z.writestr(inner, xml)
    return buf.getvalue()


def write_musicxml(score: Score, path: str | os.PathLike) -> Path:
    """Write ``score`` as MusicXML atomically (``.musicxml`` / ``.xml``; ``.mxl`` is compressed)."""
    path = Path(path)
    data = score_to_musicxml_bytes(score)
    if path.suffix.lower() == ".mxl":
        data = _mxl_bytes(data, "score.musicxml")
    return atomic_write_bytes(path, data)


# ----------------------------------------------------------------------------------------- reading


def read_musicxml(path: str | os.PathLike) -> Score:
    """Read a MusicXML file (``.musicxml``, ``.xml`` or compressed ``.mxl``) into a `Score`."""
    path = Path(path)
    if not path.exists():
        raise NotationError(f"{path}: no such MusicXML file")
    if path.is_dir():
        raise NotationError(f"{path}: is a folder, not a MusicXML file")
    from music21 import converter

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = converter.parse(str(path), format="musicxml", forceSource=True)
    except Exception as exc:  # noqa: BLE001 - music21 raises many kinds of error on bad input
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotationError(f"{path}: not a readable MusicXML file ({msg})") from None
    try:
        return music21_to_score(parsed)
    except Exception as exc:  # noqa: BLE001
        raise NotationError(f"{path}: could not turn the MusicXML into a score ({exc})") from None


def _frac(x) -> Fraction:
    return Fraction(x).limit_denominator(100_000)


def music21_to_score(m21) -> Score:
    """Convert a parsed music21 score (or part) into a `Score`."""
    from music21 import key as m21key
    from music21 import meter as m21meter
    from music21 import stream, tempo

    if not isinstance(m21, stream.Score):
        s = stream.Score()
        s.insert(0, m21)
        m21 = s
    parts_m21 = list(m21.parts) or [m21]
    first_flat = parts_m21[0].flatten()

    # Tempo map from the first part's metronome marks: [(qn, qpm)].
    marks: list[tuple[Fraction, float]] = []
    for mm in first_flat.getElementsByClass(tempo.MetronomeMark):
        qpm = mm.getQuarterBPM()
        if qpm and (not marks or marks[-1][0] != _frac(mm.offset)):
            marks.append((_frac(mm.offset), float(qpm)))
    if not marks or marks[0][0] > 0:
        marks.insert(0, (Fraction(0), marks[0][1] if marks else 120.0))
    cum = [0.0]
    for (q0, t0), (q1, _t1) in zip(marks, marks[1:], strict=False):
        cum.append(cum[-1] + float(q1 - q0) * 60.0 / t0)

    def qn_to_s(qn: Fraction) -> float:
        i = 0
        for j, (q, _t) in enumerate(marks):
            if q <= qn:
                i = j
        return cum[i] + float(qn - marks[i][0]) * 60.0 / marks[i][1]

    ts = first_flat.getElementsByClass(m21meter.TimeSignature).first()
    meter_ = Meter(ts.numerator, ts.denominator) if ts is not None else Meter(4, 4)
    k = first_flat.getElementsByClass(m21key.KeySignature).first()
    if k is None:
        key_ = Key("C", "major")
    else:
        if not isinstance(k, m21key.Key):
            k = k.asKey("major")
        tonic = k.tonic.name.replace("-", "b")
        try:
            key_ = Key.parse(f"{tonic} {k.mode or 'major'}")
        except ValueError:
            key_ = Key(tonic, "major")

    pickup = Fraction(0)
    measures0 = list(parts_m21[0].getElementsByClass(stream.Measure))
    if len(measures0) > 1:
        m0_len = _frac(measures0[0].duration.quarterLength)
        if 0 < m0_len < meter_.bar_qn and _frac(measures0[1].offset) == m0_len:
            pickup = m0_len

    title = ""
    if m21.metadata is not None:
        title = m21.metadata.title or m21.metadata.movementName or ""

    parts: list[Part] = []
    for i, p in enumerate(parts_m21):
        inst = p.getInstrument(returnDefault=False)
        program, is_drum = 0, False
        if inst is not None:
            program = inst.midiProgram if inst.midiProgram is not None else 0
            is_drum = inst.midiChannel == 9
        name = (p.partName or (inst.partName if inst is not None else None)
                or (inst.instrumentName if inst is not None else None) or f"Part {i + 1}")
        notes: list[Note] = []
        open_ties: dict[tuple[str, int], Note] = {}

        def take(el, voice_id: str, offset: Fraction, notes=notes, open_ties=open_ties) -> None:
            if el.duration.isGrace or el.duration.quarterLength == 0:
                return
            on = offset
            off = on + _frac(el.duration.quarterLength)
            subs = [el] if el.isNote else list(getattr(el, "notes", []))
            for sub in subs:
                if not hasattr(sub, "pitch"):
                    continue  # unpitched percussion
                midi = int(sub.pitch.midi)
                t = sub.tie.type if sub.tie is not None else (el.tie.type if el.tie is not None else None)
                vel = sub.volume.velocity if sub.volume.velocity is not None else el.volume.velocity
                tk = (voice_id, midi)
                prev = open_ties.get(tk)
                if prev is None or prev.offset_qn != on:  # a tie that changes voice (or staff)
                    tk = next((k for k, n in open_ties.items() if k[1] == midi and n.offset_qn == on), tk)
                    prev = open_ties.get(tk)
                if t in ("stop", "continue") and prev is not None and prev.offset_qn == on:
                    prev.offset_qn = off
                    if t == "stop":
                        del open_ties[tk]
                    continue
                n = Note(pitch=midi, onset_s=0.0, offset_s=0.0, velocity=int(vel) if vel else 80,
                         onset_qn=on, offset_qn=off)
                notes.append(n)
                if t in ("start", "continue"):
                    open_ties[tk] = n
                else:
                    open_ties.pop(tk, None)

        measures = list(p.getElementsByClass(stream.Measure))
        if measures:
            for m in measures:
                moff = _frac(m.offset)
                for el in m.notes:
                    take(el, "1", moff + _frac(el.offset))
                for v in m.voices:
                    voff = moff + _frac(v.offset)
                    for el in v.notes:
                        take(el, str(v.id), voff + _frac(el.offset))
        else:
            for el in p.flatten().notes:
                take(el, "", _frac(el.offset))
        for n in notes:
            n.onset_s = qn_to_s(n.onset_qn)
            n.offset_s = qn_to_s(n.offset_qn)
        notes.sort(key=lambda n: (n.onset_s, n.pitch))
        parts.append(Part(name=str(name), program=int(program), notes=notes, is_drum=is_drum))

    end_qn = _frac(m21.highestTime)
    score = Score(parts=parts, tempo_qpm=marks[0][1], meter=meter_, key=key_, title=str(title),
                  pickup_qn=pickup, duration_s=qn_to_s(end_qn))
    if len(marks) > 1:
        score.beat_times_s, score.downbeat_times_s = implied_beat_grid(score, end_qn=end_qn, qn_to_s=qn_to_s)
    return score
