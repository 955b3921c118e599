"""Constrained decoding for the ABC language model: every output bar adds up to the meter.

:class:`BarConstraint` follows the body tokens of :mod:`musicllm.models.abc_tokenizer` as they are
emitted and says which tokens may come next. Lengths are in units of the ABC unit note length ``L``
(a bar of 6/8 with ``L:1/8`` is 6 units). Rules:

- a note, rest or chord ``[..]`` is allowed only when the shortest duration token still fits in the
  bar; the duration that follows it (a note without one lasts 1 unit) must not overflow the bar;
- a bar line ``|`` only when the bar is exactly full, or once, at the very start, to close a shorter
  pickup bar (an anacrusis, not counted as a bar); when the bar is full only a bar line may follow;
- after ``target_bars`` full bars the final bar line ``|]`` is forced, then ``<eos>``;
- ``(3`` (the only tuplet generated) opens three notes or rests of one written duration ``d`` lasting
  ``2d`` in all, and is allowed only where ``2d`` fits; chords hold 1..4 notes, no ties inside;
- a tie ``-`` follows a note or chord, never closes the tune, and must be followed by a note or chord;
- near the model's context limit the bar is filled with rests and the tune closed (termination is
  guaranteed: each bar is at most ``bar / d_min`` events and the bar count is bounded).

Because every duration token is a multiple of the shortest one (``d_min``, a power-of-two fraction)
and the bar length is too, the remaining room in a bar is always a multiple of ``d_min``: decoding
never reaches a dead end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from musicllm.models.abc_tokenizer import _DUR_RE, EOS, duration_value, is_pitch

__all__ = ["BarConstraint", "TokenClasses"]


@dataclass
class TokenClasses:
    """Ids of the body token classes of a vocabulary."""

    pitches: list[int]
    durations: dict[int, Fraction]
    rest: int
    chord_open: int
    chord_close: int
    tie: int
    bar: int
    end: int
    triplet: int
    eos: int
    d_min: Fraction = field(init=False)

    def __post_init__(self) -> None:
        self.d_min = min([*self.durations.values(), Fraction(1)])

    @classmethod
    def of(cls, tokens: list[str]) -> TokenClasses:
        index = {t: i for i, t in enumerate(tokens)}
        durs = {i: duration_value(t) for i, t in enumerate(tokens) if _DUR_RE.fullmatch(t) and not t.startswith("<")}
        return cls(pitches=[i for i, t in enumerate(tokens) if is_pitch(t)],
                   durations={i: d for i, d in durs.items() if d > 0 and d.denominator & (d.denominator - 1) == 0},
                   rest=index["z"], chord_open=index["["], chord_close=index["]"], tie=index["-"],
                   bar=index["|"], end=index["|]"], triplet=index["(3"], eos=index[EOS])


class BarConstraint:
    """State of one body being decoded; :meth:`allowed` then :meth:`advance` for each token."""

    def __init__(self, classes: TokenClasses, bar_len: Fraction, target_bars: int, *, allow_pickup: bool = True):
        if bar_len <= 0 or (bar_len / classes.d_min).denominator != 1:
            raise ValueError(f"bar of {bar_len} units is not a multiple of the shortest duration {classes.d_min}")
        self.c = classes
        self.bar_len = Fraction(bar_len)
        self.target_bars = max(1, int(target_bars))
        self.pos = Fraction(0)        # committed position in the bar (units of L)
        self.pending: str | None = None  # "note" / "rest" / "chord": an event whose duration is still open
        self.p0 = Fraction(0)          # position where the pending event started
        self.chord_notes = -1          # -1: not inside [..]
        self.tup_left = 0              # notes left in the current triplet
        self.tup_d: Fraction | None = None
        self.tup_start = Fraction(0)
        self.tie_open = False          # a '-' waits for its note
        self.last_tieable = False
        self.bars = 0
        self.first_bar = allow_pickup
        self.finished = False          # '|]' emitted
        self.done = False              # <eos> emitted

    # ---- queries -------------------------------------------------------------------------------
    def _real(self, d: Fraction) -> Fraction:
        return d * Fraction(2, 3) if self.tup_left else d

    def _fits_pending(self, d: Fraction) -> bool:
        if self.tup_left == 3:
            return self.tup_start + 2 * d <= self.bar_len
        if self.tup_left:
            return d == self.tup_d
        return self.p0 + d <= self.bar_len

    def _final_full(self, pos: Fraction) -> bool:
        return pos == self.bar_len and self.bars + 1 >= self.target_bars

    def allowed(self) -> list[int]:
        """Token ids allowed next."""
        c = self.c
        if self.done:
            return []
        if self.finished:
            return [c.eos]
        if self.chord_notes >= 0:
            out = list(c.pitches) if self.chord_notes < 4 else []
            if self.chord_notes >= 1:
                out.append(c.chord_close)
            return out
        out: list[int] = []
        pos = self.pos
        if self.pending is not None:
            out += [i for i, d in c.durations.items() if d != 1 and self._fits_pending(d)]
            if not self._fits_pending(Fraction(1)):
                return out
            pos = self.p0 + self._real(Fraction(1)) if self.tup_left != 3 else self.tup_start  # see _commit
            if self.tup_left:
                # inside a triplet only more triplet notes may follow until it is complete
                left = self.tup_left - 1
                if left:
                    return out + list(c.pitches) + [c.rest]
                pos = self.tup_start + 2 * (self.tup_d if self.tup_d is not None else Fraction(1))
            if self.pending in ("note", "chord") and not self.tup_left and not self._final_full(pos) \
                    and not self.tie_open:
                out.append(c.tie)
        elif self.tup_left:
            return list(c.pitches) + [c.rest]
        elif self.last_tieable and not self.tie_open and not self._final_full(pos):
            out.append(c.tie)
        out += self._after(pos)
        return out

    def _after(self, pos: Fraction) -> list[int]:
        """Tokens that may start once the bar is at ``pos`` with nothing pending."""
        c = self.c
        out: list[int] = []
        room = self.bar_len - pos
        if room >= c.d_min:
            out += list(c.pitches) + [c.chord_open]
            if not self.tie_open:
                out.append(c.rest)
            if room >= 2 * c.d_min and not self.tie_open:
                out.append(c.triplet)
        if self.tie_open:
            if room < c.d_min and not self._final_full(pos):
                out.append(c.bar)
            return out
        if pos == self.bar_len:
            out.append(c.end if self._final_full(pos) else c.bar)
        elif self.first_bar and self.bars == 0 and 0 < pos < self.bar_len:
            out.append(c.bar)
        return out

    def closing_choice(self) -> int:
        """The token to emit in closing mode (context nearly full): close the chord or triplet, end
        the pending event with the longest fitting duration, fill the bar with rests, then ``|]``."""
        c = self.c
        allowed = self.allowed()
        if self.chord_notes >= 0:
            return c.chord_close if c.chord_close in allowed else allowed[0]
        if c.eos in allowed:
            return c.eos
        durs = sorted((d, i) for i, d in c.durations.items() if i in allowed)
        if self.pending is not None and durs and (not self._fits_pending(Fraction(1)) or durs[-1][0] > 1):
            return durs[-1][1]
        for tid in (c.end, c.rest, c.bar):
            if tid in allowed:
                return c.end if tid == c.bar and self.pos == self.bar_len and self.pending is None else tid
        return allowed[0]

    # ---- updates -------------------------------------------------------------------------------
    def _commit(self, d: Fraction) -> None:
        if self.tup_left:
            if self.tup_left == 3:
                self.tup_d = d
                self.pos = self.tup_start
            self.tup_left -= 1
            if self.tup_left == 0:
                self.pos = self.tup_start + 2 * (self.tup_d or Fraction(1))
                self.tup_d = None
        else:
            self.pos = self.p0 + d
        self.last_tieable = self.pending in ("note", "chord") and not self.tup_left and self.tup_d is None
        self.pending = None

    def advance(self, tid: int) -> None:
        """Record token ``tid`` (which must be in :meth:`allowed`)."""
        c = self.c
        self.last_tieable = False
        if self.chord_notes >= 0:
            if tid == c.chord_close:
                self.chord_notes = -1
                self.pending = "chord"
            else:
                self.chord_notes += 1
            return
        if self.pending is not None and tid in c.durations:
            self._commit(c.durations[tid])
            return
        if self.pending is not None:
            self._commit(self.tup_d if (self.tup_left and self.tup_left < 3 and self.tup_d) else Fraction(1))
            self.last_tieable = False
        if tid == c.tie:
            self.tie_open = True
            return
        if tid in (c.bar, c.end):
            if self.pos == self.bar_len:
                self.bars += 1
            self.first_bar = False
            self.pos = Fraction(0)
            self.finished = tid == c.end
            self.tie_open = self.tie_open and not self.finished
            return
        if tid == c.eos:
            self.done = True
            return
        if tid == c.triplet:
            self.tup_left, self.tup_start, self.tup_d = 3, self.pos, None
            return
        self.tie_open = False
        self.p0 = self.pos
        if tid == c.chord_open:
            self.chord_notes = 0
        elif tid == c.rest:
            self.pending = "rest"
        else:
            self.pending = "note"
