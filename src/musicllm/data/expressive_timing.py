"""Expressive timing for rendered performances: tempo drift, a final ritardando, held fermatas.

Players do not keep a metronome's tempo: the tempo drifts by a few per cent from phrase to phrase,
slows at the end of a piece, and chorales hold every fermata. The dev set's renderings (see
`musicllm.data.devset`) are metronomic unless asked for this, so a `TimeMap` turns score positions
into seconds with such a tempo curve and the rendering, the ground-truth beats and the note times all
follow it.

Conventions
-----------
- Positions ``q`` are quarter notes from the start of the piece (0 = start of its first, possibly
  incomplete, bar); times are seconds from the start of the audio.
- A tempo factor multiplies the seconds per quarter note: above 1 is slower. The drift is a log
  factor, an AR(1) series with one value per bar (stationary standard deviation ``drift_sd``,
  correlation ``drift_corr`` between neighbouring bars), linear between bar starts, so it averages
  to the nominal tempo.
- Ritardando: over the last bar of the piece the factor rises linearly to ``1 + ritardando``.
- Fermatas: the span of each fermata note (onset to offset, in quarter notes) is played
  ``fermata_stretch`` times slower, so every note sounding then is held longer.
- The dev set's ground-truth ``tempo_qpm`` of such a performance is the tempo of its median beat
  as performed (what a listener taps, and how tempo is read from annotated beats of real
  recordings); the drawn, nominal tempo is kept as ``performance.nominal_tempo_qpm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np

STEP_QN = 1 / 48  # resolution of the time map, in quarter notes


@dataclass(frozen=True)
class TimingStyle:
    """How a performance bends time (see the module docstring for the units)."""

    drift_sd: float
    drift_corr: float
    ritardando: float
    fermata_stretch: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> TimingStyle:
        """A style drawn from the ranges heard in folk and chorale recordings: drift 2-6 %, a
        ritardando of 10-30 % over the last bar, fermatas held 1.5-2.2 times their length."""
        return cls(drift_sd=round(float(rng.uniform(0.02, 0.06)), 4), drift_corr=round(float(rng.uniform(0.5, 0.9)), 3),
                   ritardando=round(float(rng.uniform(0.1, 0.3)), 3),
                   fermata_stretch=round(float(rng.uniform(1.5, 2.2)), 3))

    def to_dict(self) -> dict:
        return asdict(self)


class TimeMap:
    """Score position (quarter notes) -> seconds of the audio for one performance.

    ``qpm``: nominal tempo (quarter notes per minute); ``lead_in_s``: time of position 0;
    ``end_qn``: end of the piece; ``bar_qn`` / ``pickup_qn``: bar length and the length of the
    incomplete first bar (bars start at ``pickup_qn + k * bar_qn``); ``fermatas``: (onset, offset)
    of the fermata notes in quarter notes; ``rng`` draws the drift."""

    def __init__(self, qpm: float, lead_in_s: float, end_qn: Fraction | float, bar_qn: Fraction | float,
                 pickup_qn: Fraction | float, style: TimingStyle, rng: np.random.Generator,
                 fermatas: Sequence[tuple[Fraction | float, Fraction | float]] = ()):
        spq = 60.0 / qpm
        end, bar, pickup = float(end_qn), float(bar_qn), float(pickup_qn)
        self.spq = spq
        self.q = np.arange(0.0, end + STEP_QN, STEP_QN)
        starts = pickup + bar * np.arange(-1, int(np.ceil((end - pickup) / bar)) + 2)
        rho, sd = style.drift_corr, style.drift_sd
        drift = np.empty(len(starts))
        drift[0] = rng.normal(0.0, sd)
        for k in range(1, len(starts)):
            drift[k] = rho * drift[k - 1] + rng.normal(0.0, sd * np.sqrt(1 - rho * rho))
        factor = np.exp(np.interp(self.q, starts, drift))
        last = np.clip((self.q - (end - bar)) / bar, 0.0, 1.0)
        factor *= 1.0 + style.ritardando * last
        for on, off in fermatas:
            factor[(self.q >= float(on)) & (self.q < float(off))] *= style.fermata_stretch
        seconds_per_step = spq * factor[:-1] * STEP_QN
        self.t = lead_in_s + np.concatenate([[0.0], np.cumsum(seconds_per_step)])
        self._end_spq = spq * float(factor[-1])

    def __call__(self, q: Fraction | float) -> float:
        """Seconds of position ``q``; beyond the end at the last tempo, before 0 at the first."""
        x = float(q)
        if x > self.q[-1]:
            return float(self.t[-1] + (x - self.q[-1]) * self._end_spq)
        if x < 0:
            return float(self.t[0] + x * self.spq)
        return float(np.interp(x, self.q, self.t))
