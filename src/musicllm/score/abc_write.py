"""Write a :class:`~musicllm.score.model.Score` as ABC 2.1 notation.

Units and conventions:

- Times are quarter notes (``Note.onset_qn`` / ``offset_qn``, exact ``Fraction``s). Notes without them
  get them from their seconds through ``score.time_map()``, rounded to 1/12 quarter note.
- Every time point is snapped to a 1/48 quarter-note grid (exact for 32nd notes and for triplets down
  to triplet 32nds); quantised input passes unchanged. Internally times are integer ticks of 1/96
  quarter note (so tuplet-written values, 3/2 of the real ones, stay integers).
- The ABC unit note length ``L:`` is a fraction of a whole note (1/8 = an eighth note); ABC lengths are
  multiples of it.

Layout: one voice per part (``V:n name=".." clef=..`` then ``%%MIDI program N``), bodies one after the
other. Every bar lasts exactly ``meter.bar_qn`` quarter notes, except a pickup bar of
``score.pickup_qn`` at the start; all voices have the same number of bars (padded with rests).

Each part's timeline is cut into slices at every onset, offset and bar line; each slice is written as
a note, chord or rest holding the pitches that sound through it, tied (``-``, per note inside chords)
to the next slice where a pitch goes on. So overlapping notes of different lengths come out right.
A beat whose time points are not on the plain (1/16 quarter note) grid becomes a tuplet group
``(3:2:r`` (``(3`` when it holds three notes); two such beats joined by a note become one group
(quarter-note triplets). Durations are split into plain or dotted values (at beat boundaries first).
Beats are separated by spaces, so eighth notes beam by beat.

Accidentals: black keys are spelled as sharps in sharp keys and C, as flats in flat keys (scale notes
take the key's spelling); a tied note keeps its spelling, and two notes of one chord never share a
letter and octave (G with G# is written G with Ab). An accidental is written whenever the pitch
differs from the key signature, and again (``=`` included) for every later note of the same letter
in the same bar once one such accidental was written, and on notes tied over a bar line into a letter
and octave that had one, so the output reads the same whether or not a reader carries accidentals
through the bar (or over octaves, or over ties).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from fractions import Fraction

from musicllm.score.abc_read import LETTER_PC, LETTERS, MODE_INTERVALS, key_signature
from musicllm.score.model import PITCH_CLASS_NAMES_FLAT, PITCH_CLASS_NAMES_SHARP, Key, Meter, Score

__all__ = ["GRID_QN", "choose_unit", "key_to_abc", "write_abc"]

GRID_QN = Fraction(1, 48)   # every time point is snapped to this grid (quarter notes)
TICKS_PER_QN = 96           # internal integer time unit: 1/96 quarter note
_SNAP = 2                   # GRID_QN in ticks
_PLAIN = 6                  # 1/16 quarter note in ticks: positions within a beat on this grid need no tuplet
_MODE_SUFFIX = {
    "major": "", "minor": "m", "ionian": "ion", "dorian": "dor", "phrygian": "phr", "lydian": "lyd",
    "mixolydian": "mix", "aeolian": "aeo", "locrian": "loc",
}
_ACC_TEXT = {2: "^^", 1: "^", 0: "=", -1: "_", -2: "__"}
_NATURAL_PCS = {pc: letter for letter, pc in LETTER_PC.items()}

NoteSpan = tuple[int, int, int]  # (MIDI pitch, onset, offset) in ticks


# ---------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------


def _ticks(x: Fraction, grid_qn: Fraction = GRID_QN) -> int:
    """Quarter notes -> ticks, rounded to the nearest multiple of ``grid_qn``."""
    return round(x / grid_qn) * int(grid_qn * TICKS_PER_QN)


def _pow2_exponent(n: int) -> int:
    """k when n == 2**k, else -1."""
    return n.bit_length() - 1 if n > 0 and n & (n - 1) == 0 else -1


def _is_single(d: int) -> bool:
    """True when ``d`` ticks is one plain or dotted note value (3 * 2**a or 9 * 2**a ticks)."""
    if d <= 0 or d % 3:
        return False
    d //= 3
    if _pow2_exponent(d) >= 0:
        return True
    return d % 3 == 0 and _pow2_exponent(d // 3) >= 0


def _largest_single(d: int) -> int:
    """The longest plain or dotted value (ticks) not longer than ``d`` (``d >= 3``)."""
    p = 3 << max(0, (d // 3).bit_length() - 1)  # the longest plain value 3 * 2**k <= d
    dotted = p * 3 // 2
    return dotted if p % 2 == 0 and dotted <= d else p


def _greedy_split(d: int) -> list[int]:
    """Split ``d`` ticks (a multiple of 3) into plain/dotted values, longest first."""
    out: list[int] = []
    while d >= 3 and len(out) < 64:
        g = _largest_single(d)
        out.append(g)
        d -= g
    return out


def _split_plain(start: int, dur: int, beat_points: list[int]) -> list[int]:
    """Split ``dur`` ticks starting at ``start`` into plain/dotted values, cutting at beat points first."""
    if _is_single(dur):
        return [dur]
    k = bisect_right(beat_points, start)
    if k < len(beat_points) and beat_points[k] < start + dur:
        b = beat_points[k]
        return _split_plain(start, b - start, beat_points) + _split_plain(b, start + dur - b, beat_points)
    return _greedy_split(dur)


def _length_text(d: int, unit: Fraction) -> str:
    """ABC length suffix for ``d`` ticks with unit note length ``unit`` (a fraction of a whole note)."""
    r = Fraction(d, TICKS_PER_QN) / (4 * unit)
    if r == 1:
        return ""
    if r.denominator == 1:
        return str(r.numerator)
    if r.numerator == 1:
        return "/" if r.denominator == 2 else f"/{r.denominator}"
    return f"{r.numerator}/{r.denominator}"


def key_to_abc(key: Key) -> str:
    """The ``K:`` value for a key: ``"G"``, ``"Em"``, ``"Ador"``, ``"Bbmix"``."""
    return key.tonic + _MODE_SUFFIX.get(key.mode, "")


def _writable_key(key: Key) -> tuple[Key, dict[str, int]]:
    """The key (respelled enharmonically if it needs double accidentals) and its signature."""
    mode = key.mode if key.mode in MODE_INTERVALS else "major"
    candidates = [key.tonic]
    try:
        pc = (LETTER_PC[key.tonic[0].upper()] + sum({"#": 1, "b": -1}.get(c, 0) for c in key.tonic[1:])) % 12
        candidates += [PITCH_CLASS_NAMES_SHARP[pc], PITCH_CLASS_NAMES_FLAT[pc]]
    except (KeyError, IndexError):
        candidates = []
    for tonic in candidates:
        alts = key_signature(tonic, mode)
        values = alts.values()
        if all(abs(a) <= 1 for a in values) and not (any(a > 0 for a in values) and any(a < 0 for a in values)):
            return Key(tonic, mode), alts
    return Key("C", "major"), dict.fromkeys(LETTERS, 0)


def _spell(pitch: int, alts: dict[str, int], sharp_side: bool) -> tuple[str, int, int]:
    """(letter, semitone alteration, octave) for a MIDI pitch; octave 4 holds middle C."""
    pc = pitch % 12
    for letter in LETTERS:
        if (LETTER_PC[letter] + alts[letter]) % 12 == pc:
            alt = alts[letter]
            break
    else:
        if pc in _NATURAL_PCS:
            letter, alt = _NATURAL_PCS[pc], 0
        elif sharp_side:
            letter, alt = _NATURAL_PCS[(pc - 1) % 12], 1
        else:
            letter, alt = _NATURAL_PCS[(pc + 1) % 12], -1
    octave = (pitch - alt - LETTER_PC[letter]) // 12 - 1
    return letter, alt, octave


def _other_spellings(pitch: int) -> list[tuple[str, int, int]]:
    """Every (letter, alteration, octave) spelling of a pitch with at most a double accidental,
    single accidentals first."""
    out = []
    for letter in LETTERS:
        alt = (pitch - LETTER_PC[letter] + 6) % 12 - 6
        if abs(alt) <= 2:
            out.append((letter, alt, (pitch - alt - LETTER_PC[letter]) // 12 - 1))
    return sorted(out, key=lambda s: abs(s[1]))


def _note_name(letter: str, octave: int) -> str:
    if octave >= 5:
        return letter.lower() + "'" * (octave - 5)
    return letter + "," * (4 - octave)


def _usable_meter(meter: Meter) -> Meter:
    if 1 <= meter.numerator <= 64 and meter.denominator in (1, 2, 4, 8, 16, 32, 64):
        return meter
    return Meter(4, 4)


# ---------------------------------------------------------------------------------------------------
# Preparing the notes
# ---------------------------------------------------------------------------------------------------


def _note_spans(score: Score) -> list[list[NoteSpan]]:
    """Per part: (pitch, onset, offset) in ticks on the snap grid, negative times clipped to 0."""
    time_map = None
    out: list[list[NoteSpan]] = []
    twelfth = Fraction(1, 12)
    for part in score.parts:
        spans: list[NoteSpan] = []
        for n in part.notes:
            if not 0 <= int(n.pitch) <= 127:
                continue
            if n.onset_qn is not None and n.offset_qn is not None:
                if not (math.isfinite(n.onset_qn) and math.isfinite(n.offset_qn)):
                    continue
                on, off = _ticks(Fraction(n.onset_qn)), _ticks(Fraction(n.offset_qn))
                min_dur = _SNAP
            else:
                if not (math.isfinite(n.onset_s) and math.isfinite(n.offset_s)):
                    continue
                time_map = time_map or score.time_map()
                on = _ticks(Fraction(time_map.to_qn(n.onset_s)), twelfth)
                off = _ticks(Fraction(time_map.to_qn(n.offset_s)), twelfth)
                min_dur = TICKS_PER_QN // 12
            if off < 0 or (off == 0 and on < 0):
                continue
            on = max(on, 0)
            if off <= on:
                off = on + min_dur
            spans.append((int(n.pitch), on, off))
        out.append(spans)
    return out


def choose_unit(spans: list[NoteSpan], meter: Meter) -> Fraction:
    """Unit note length for notes given as (pitch, onset, offset) ticks: 1/16 when most notes are
    sixteenths or shorter, 1/4 when most (60 %) are a quarter or longer in a simple meter, else 1/8."""
    durs = [off - on for _, on, off in spans]
    if not durs:
        return Fraction(1, 8)
    short = sum(d <= TICKS_PER_QN // 4 for d in durs) / len(durs)
    long = sum(d >= TICKS_PER_QN for d in durs) / len(durs)
    if short > 0.5:
        return Fraction(1, 16)
    if long > 0.6 and not meter.is_compound:
        return Fraction(1, 4)
    return Fraction(1, 8)


# ---------------------------------------------------------------------------------------------------
# The bar grid
# ---------------------------------------------------------------------------------------------------


class _Grid:
    """Bars and beat windows of the whole piece, in ticks."""

    def __init__(self, meter: Meter, pickup: int, end: int):
        self.meter = meter
        bar = int(meter.bar_qn * TICKS_PER_QN)
        beat = int(meter.beat_qn * TICKS_PER_QN)
        self.bar = bar
        self.bars: list[tuple[int, int]] = []
        if pickup > 0:
            self.bars.append((0, pickup))
        n_full = max(1, -(-(end - pickup) // bar))
        self.bars += [(pickup + k * bar, pickup + (k + 1) * bar) for k in range(n_full)]
        self.end = self.bars[-1][1]
        # Beat windows per bar (the pickup's beats are counted back from its end).
        self.windows: list[list[tuple[int, int]]] = []
        for k, (bs, be) in enumerate(self.bars):
            if k == 0 and pickup > 0:
                wins = [(max(bs, x - beat), x) for x in range(be, bs, -beat)]
                wins.reverse()
            else:
                wins = [(x, min(be, x + beat)) for x in range(bs, be, beat)]
            self.windows.append(wins)


def _tuplet_windows(spans: list[NoteSpan], grid: _Grid) -> list[tuple[int, int]]:
    """Beat windows that need a tuplet: their inner time points are off the plain grid.

    Two neighbouring beats of a bar become one window when a note crosses between them and the other
    beat also needs a tuplet or holds no time point of its own (quarter-note triplets).
    """
    points = sorted({t for _, on, off in spans for t in (on, off)})
    kinds_per_bar: list[list[str]] = []  # per window: "tuplet", "empty" (no inner point) or "plain"
    off_grid: set[int] = set()
    for wins in grid.windows:
        kinds = []
        for ws, we in wins:
            inner = points[bisect_right(points, ws):bisect_left(points, we)]
            odd = [x for x in inner if (x - ws) % _PLAIN]
            off_grid.update(odd)
            if (we - ws) % _PLAIN:  # the clipped first beat of a pickup of triplet length
                kinds.append("tuplet")
            else:
                kinds.append("tuplet" if odd else "plain" if inner else "empty")
        kinds_per_bar.append(kinds)
    # Beat boundaries crossed by a note that starts or ends off the plain grid.
    bounds = sorted({w[1] for wins in grid.windows for w in wins})
    crossed: set[int] = set()
    for _, on, off in spans:
        if on not in off_grid and off not in off_grid:
            continue
        k = bisect_right(bounds, on)
        while k < len(bounds) and bounds[k] < off:
            crossed.add(bounds[k])
            k += 1
    result: list[tuple[int, int]] = []
    for wins, kinds in zip(grid.windows, kinds_per_bar, strict=True):
        k = 0
        while k < len(wins):
            ws, we = wins[k]
            if k + 1 < len(wins) and we in crossed and "tuplet" in kinds[k:k + 2] \
                    and kinds[k] != "plain" and kinds[k + 1] != "plain":
                result.append((ws, wins[k + 1][1]))
                k += 2
                continue
            if kinds[k] == "tuplet":
                result.append((ws, we))
            k += 1
    return result


# ---------------------------------------------------------------------------------------------------
# Writing one voice
# ---------------------------------------------------------------------------------------------------


class _Slice:
    """A stretch of time (ticks) in which the same pitches sound; ``ties``: pitches going on after it."""

    __slots__ = ("start", "end", "pitches", "attack", "ties")

    def __init__(self, start: int, end: int, pitches: tuple[int, ...], attack: frozenset[int]):
        self.start, self.end, self.pitches, self.attack = start, end, pitches, attack
        self.ties: frozenset[int] = frozenset()


def _slices(spans: list[NoteSpan], cut_points: set[int], end: int) -> list[_Slice]:
    starts: dict[int, list[int]] = defaultdict(list)
    stops: dict[int, list[int]] = defaultdict(list)
    for pitch, on, off in spans:
        starts[on].append(pitch)
        stops[off].append(pitch)
    points = sorted({p for p in cut_points | set(starts) | set(stops) if 0 <= p <= end} | {0, end})
    active: Counter[int] = Counter()
    out: list[_Slice] = []
    for a, b in zip(points, points[1:], strict=False):
        for p in stops.get(a, ()):
            active[p] -= 1
            if active[p] <= 0:
                del active[p]
        for p in starts.get(a, ()):
            active[p] += 1
        out.append(_Slice(a, b, tuple(sorted(active)), frozenset(starts.get(a, ()))))
    for s, nxt in zip(out, out[1:], strict=False):
        s.ties = frozenset(p for p in s.pitches if p in nxt.pitches and p not in nxt.attack)
    return out


class _VoiceWriter:
    """Turns one part's slices into ABC bar texts."""

    def __init__(self, unit: Fraction, alts: dict[str, int], grid: _Grid):
        self.unit, self.alts, self.grid = unit, alts, grid
        self.sharp_side = sum(alts.values()) >= 0
        self.explicit: set[str] = set()  # letters that got a written accidental in this bar
        # Letter/octave slots tied out of the last token (with their pitches). In the first token of a
        # bar, a note in such a slot that is not that same tied pitch gets an explicit accidental,
        # because some readers (ours included) carry a tied note's accidental over the bar line.
        self.tied_slots: dict[tuple[str, int], set[int]] = {}
        self.carry_slots: dict[tuple[str, int], set[int]] = {}
        self.tied_spelling: dict[int, tuple[str, int, int]] = {}  # pitch -> spelling, for tied notes

    def _token(self, pitches: tuple[int, ...], dur: int, ties: frozenset[int]) -> str:
        length = _length_text(dur, self.unit)
        carry, self.carry_slots, self.tied_slots = self.carry_slots, {}, {}
        previous, self.tied_spelling = self.tied_spelling, {}
        if not pitches:
            return "z" + length
        # A tied note keeps its spelling; two notes of a chord never share a letter and octave
        # (G and G# become G and Ab), which some readers (abc2midi) cannot tell apart.
        spellings = {p: previous[p] for p in pitches if p in previous}
        used = {(sp[0], sp[2]) for sp in spellings.values()}
        for p in pitches:
            if p not in spellings:
                sp = _spell(p, self.alts, self.sharp_side)
                if (sp[0], sp[2]) in used:
                    sp = next((o for o in _other_spellings(p) if (o[0], o[2]) not in used), sp)
                spellings[p] = sp
                used.add((sp[0], sp[2]))
        names = []
        for p in pitches:
            spelling = spellings[p]
            letter, alt, octave = spelling
            if p in ties:
                self.tied_spelling[p] = spelling
            acc = ""
            if alt != self.alts[letter] or letter in self.explicit or carry.get((letter, octave), {p}) != {p}:
                acc = _ACC_TEXT[alt]
                self.explicit.add(letter)
            if p in ties:
                self.tied_slots.setdefault((letter, octave), set()).add(p)
            names.append((acc + _note_name(letter, octave), "-" if p in ties else ""))
        if len(names) == 1:
            return names[0][0] + length + names[0][1]
        return "[" + "".join(n + t for n, t in names) + "]" + length

    def _pieces(self, s: _Slice, durations: list[int]) -> list[str]:
        """Tokens for one slice split into ``durations`` (tied to each other)."""
        out = []
        all_tied = frozenset(s.pitches)
        for k, d in enumerate(durations):
            out.append(self._token(s.pitches, d, s.ties if k == len(durations) - 1 else all_tied))
        return out

    def bar_text(self, bar_index: int, slices: list[_Slice], tuplets: list[tuple[int, int]]) -> str:
        bs, be = self.grid.bars[bar_index]
        self.explicit = set()
        self.carry_slots = self.tied_slots
        full_bar = be - bs == self.grid.bar
        beat_points = [w[0] for w in self.grid.windows[bar_index]][1:]
        merged = _merge_rests(slices, tuplets)
        if full_bar and len(merged) == 1 and not merged[0].pitches:
            self.tied_slots, self.tied_spelling = {}, {}
            return "z" + _length_text(be - bs, self.unit)
        chunks: list[tuple[int, str, bool]] = []  # (start, text, is_tuplet_group)
        k = 0
        while k < len(merged):
            s = merged[k]
            win = _window_of(s, tuplets)
            if win is None:
                for d, tok in _zip_pieces(s, _split_plain(s.start, s.end - s.start, beat_points), self):
                    chunks.append((d, tok, False))
                k += 1
                continue
            group: list[str] = []
            while k < len(merged) and merged[k].end <= win[1] and merged[k].start >= win[0]:
                g = merged[k]
                group += self._pieces(g, _greedy_split((g.end - g.start) * 3 // 2))
                k += 1
            head = "(3" if len(group) == 3 else f"(3:2:{len(group)}"
            chunks.append((win[0], head + "".join(group), True))
        text = ""
        prev_tuplet = False
        beat_set = set(beat_points)
        for idx, (start, tok, is_tuplet) in enumerate(chunks):
            if idx and (start in beat_set or is_tuplet or prev_tuplet):
                text += " "
            text += tok
            prev_tuplet = is_tuplet
        return text


def _zip_pieces(s: _Slice, durations: list[int], writer: _VoiceWriter) -> list[tuple[int, str]]:
    starts, t = [], s.start
    for d in durations:
        starts.append(t)
        t += d
    return list(zip(starts, writer._pieces(s, durations), strict=True))


def _window_of(s: _Slice, tuplets: list[tuple[int, int]]) -> tuple[int, int] | None:
    k = bisect_right(tuplets, (s.start, math.inf)) - 1
    if k >= 0 and tuplets[k][0] <= s.start and s.end <= tuplets[k][1]:
        return tuplets[k]
    return None


def _merge_rests(slices: list[_Slice], tuplets: list[tuple[int, int]]) -> list[_Slice]:
    out: list[_Slice] = []
    for s in slices:
        if out and not s.pitches and not out[-1].pitches and out[-1].end == s.start \
                and _window_of(out[-1], tuplets) == _window_of(s, tuplets):
            out[-1] = _Slice(out[-1].start, s.end, (), frozenset())
        else:
            out.append(s)
    return out


def _voice_bars(spans: list[NoteSpan], grid: _Grid, unit: Fraction, alts: dict[str, int]) -> list[str]:
    tuplets = _tuplet_windows(spans, grid)
    cuts = {b for bar in grid.bars for b in bar} | {t for w in tuplets for t in w}
    slices = _slices(spans, cuts, grid.end)
    writer = _VoiceWriter(unit, alts, grid)
    bar_starts = [bs for bs, _ in grid.bars]
    per_bar: list[list[_Slice]] = [[] for _ in grid.bars]
    for s in slices:
        per_bar[bisect_right(bar_starts, s.start) - 1].append(s)
    return [writer.bar_text(k, per_bar[k], tuplets) for k in range(len(grid.bars))]


# ---------------------------------------------------------------------------------------------------
# The whole tune
# ---------------------------------------------------------------------------------------------------


def _tempo_field(tempo_qpm: float, meter: Meter) -> str:
    qpm = tempo_qpm if math.isfinite(tempo_qpm) and tempo_qpm > 0 else 120.0
    if meter.is_compound:
        beat = meter.beat_qn
        bpm = qpm / float(beat)
        if abs(bpm - round(bpm)) < 1e-9 and round(bpm) > 0:
            return f"Q:{beat / 4}={round(bpm)}"
    return f"Q:1/4={max(1, round(qpm))}"


def _clean(text: str) -> str:
    """One line of field text: no double quotes (they end ``name="..."``), ``%`` escaped."""
    return " ".join(str(text).replace('"', "'").replace("\\", "/").replace("%", "\\%").split())


def write_abc(score: Score, *, unit: Fraction | str | None = None, bars_per_line: int = 4) -> str:
    """The score as one ABC 2.1 tune (text ending with a newline).

    ``unit`` forces the unit note length (``"1/8"`` or ``Fraction(1, 8)``, a fraction of a whole
    note); by default it is chosen from the note durations (see :func:`choose_unit`). A new line of
    music starts every ``bars_per_line`` bars.
    """
    meter = _usable_meter(score.meter)
    all_spans = _note_spans(score)
    if not all_spans:
        all_spans = [[]]
    flat = [s for spans in all_spans for s in spans]
    pickup = _ticks(Fraction(score.pickup_qn or 0)) % int(meter.bar_qn * TICKS_PER_QN)
    end = max((off for _, _, off in flat), default=0)
    grid = _Grid(meter, pickup, end)
    unit_len = Fraction(unit) if unit is not None else choose_unit(flat, meter)
    if unit_len <= 0 or unit_len.numerator != 1 or not _pow2_exponent(unit_len.denominator) >= 0:
        raise ValueError(f"unit note length must be 1/2**k of a whole note, got {unit!r}")
    key, alts = _writable_key(score.key)
    per_line = max(1, int(bars_per_line))

    title = _clean(score.title or "") or "Untitled"
    lines = ["X:1", f"T:{title}", f"M:{meter}", f"L:{unit_len}", _tempo_field(score.tempo_qpm, meter),
             f"K:{key_to_abc(key)}"]
    parts = score.parts or []
    for idx, spans in enumerate(all_spans):
        part = parts[idx] if idx < len(parts) else None
        name = _clean(part.name) if part is not None and part.name else ""
        name = name or ("Melody" if len(all_spans) == 1 else f"Part {idx + 1}")
        pitches = sorted(p for p, _, _ in spans)
        clef = "bass" if pitches and pitches[len(pitches) // 2] < 55 else "treble"
        lines.append(f'V:{idx + 1} name="{name}" clef={clef}')
        program = min(max(int(part.program or 0), 0), 127) if part is not None else 0
        lines.append(f"%%MIDI program {program}")
        if part is not None and part.is_drum:
            lines.append("%%MIDI channel 10")
        bars = _voice_bars(spans, grid, unit_len, alts)
        for k in range(0, len(bars), per_line):
            chunk = bars[k:k + per_line]
            last = k + per_line >= len(bars)
            lines.append(" | ".join(chunk) + (" |]" if last else " |"))
    return "\n".join(lines) + "\n"
