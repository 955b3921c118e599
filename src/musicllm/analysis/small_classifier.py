"""A small trained classifier stored as JSON: standardised features -> an MLP (ReLU) or a multinomial
logistic regression -> class probabilities. Shared by the instrument model and the part-count model.

Features are standardised with the training means and scales; a missing (NaN) or infinite value
becomes the mean. Subclasses set `FORMAT` (the weights file's format tag) and `FEATURES` (the
feature names, checked against the file so stale weights fail loudly).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np


@dataclass
class SmallClassifier:
    classes: list
    mean: np.ndarray
    scale: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]  # (W (n_in, n_out), b (n_out,)); ReLU between layers
    meta: dict

    FORMAT: ClassVar[str] = "musicllm.small_classifier/1"
    FEATURES: ClassVar[tuple[str, ...]] = ()

    def standardise(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        z = (x - self.mean) / self.scale
        return np.where(np.isfinite(z), z, 0.0)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of feature rows ``x`` (n, n_features) -> (n, len(classes))."""
        h = self.standardise(x)
        for k, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if k < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        h = h - h.max(axis=1, keepdims=True)
        e = np.exp(h)
        return e / e.sum(axis=1, keepdims=True)

    def to_dict(self) -> dict:
        return {"format": self.FORMAT, "features": list(self.FEATURES), "classes": list(self.classes),
                "mean": [round(float(v), 6) for v in self.mean], "scale": [round(float(v), 6) for v in self.scale],
                "layers": [{"w": np.round(w, 6).tolist(), "b": np.round(b, 6).tolist()} for w, b in self.layers],
                "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict):
        if d.get("format") != cls.FORMAT or d.get("features") != list(cls.FEATURES):
            raise ValueError(f"{cls.FORMAT} weights do not match this version of the features")
        layers = [(np.array(lay["w"], dtype=float), np.array(lay["b"], dtype=float)) for lay in d["layers"]]
        return cls(list(d["classes"]), np.array(d["mean"]), np.array(d["scale"]), layers, d.get("meta", {}))

    @classmethod
    def load(cls, path: Path):
        return cls.from_dict(json.loads(Path(path).read_text()))
