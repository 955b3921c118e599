"""Tempo prior of the meter model: how usual a felt-beat tempo is for each meter.

The meter model (`musicllm.analysis.meter_model`) scores every interpretation of a recording with a
linear function of its features; its tempo terms (log tempo and its square, per meter) make a smooth
bell per meter, which cannot say that 2/2 reels are played at 60 to 90 half notes a minute but hardly
ever at 100, nor that a 4/4 reading at 180 quarter notes a minute is as unusual as it is. This prior
adds, for a candidate of meter m at felt-beat tempo b (beats of the meter per minute: quarter notes in
x/4, half notes in 2/2, dotted quarters in 6/8 and 9/8), the log-density of log2(b) among the true
tempos of meter m in training data the base model did not see (a Gaussian kernel density, with the
rare meters shrunk towards all meters pooled):

    score(c) = base_weight * base_score(c) + weight * log_density_m(log2 b)

Both weights and the kernel bandwidth are fitted by ``python -m musicllm.training.meter_tempo_prior``
(the recipe is there) and stored in the meter model's weights file under ``"tempo_prior"``.

Conventions: tempos in beats (of the meter) per minute, densities per octave of tempo, natural log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from musicllm.score.model import Meter

FORMAT = "musicllm.meter_tempo_prior/1"


def felt_beat_bpm(meter: Meter, qpm: float) -> float:
    """Beats of ``meter`` per minute at ``qpm`` quarter notes per minute (2/2: half notes, 6/8: dotted
    quarters)."""
    return qpm / float(meter.beat_qn)


@dataclass
class TempoPrior:
    """Per meter, the log-density of log2(felt-beat bpm) on a regular grid, and the two weights that
    combine it with the base model's score."""

    grid_log2_bpm: np.ndarray  # ascending, regular
    log_density: dict[str, np.ndarray]  # meter text -> values on the grid (natural log, per octave)
    base_weight: float
    weight: float
    meta: dict = field(default_factory=dict)

    def log_prior(self, meter: Meter, qpm: float) -> float:
        """The log-density of this meter at this tempo (quarter notes per minute); beyond the grid the
        end values, and 0 for a meter the prior does not know."""
        table = self.log_density.get(str(meter))
        if table is None:
            return 0.0
        return float(np.interp(np.log2(felt_beat_bpm(meter, qpm)), self.grid_log2_bpm, table))

    def combine(self, meters: list[Meter], qpms: list[float], base_scores: np.ndarray) -> np.ndarray:
        """Scores of candidates (their meters and tempos in quarter notes per minute) given the base
        model's scores of them."""
        prior = np.array([self.log_prior(m, q) for m, q in zip(meters, qpms, strict=True)])
        return self.base_weight * np.asarray(base_scores, dtype=float) + self.weight * prior

    def to_dict(self) -> dict:
        g = self.grid_log2_bpm
        return {"format": FORMAT, "grid_log2_bpm": [round(float(g[0]), 6), round(float(g[-1]), 6), len(g)],
                "log_density": {m: [round(float(v), 4) for v in t] for m, t in self.log_density.items()},
                "base_weight": round(float(self.base_weight), 6), "weight": round(float(self.weight), 6),
                "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict) -> TempoPrior:
        if d.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} tempo prior")
        lo, hi, n = d["grid_log2_bpm"]
        grid = np.linspace(float(lo), float(hi), int(n))
        tables = {m: np.asarray(v, dtype=float) for m, v in d["log_density"].items()}
        if any(len(t) != len(grid) for t in tables.values()):
            raise ValueError("tempo prior tables do not match their grid")
        return cls(grid, tables, float(d["base_weight"]), float(d["weight"]), d.get("meta", {}))
