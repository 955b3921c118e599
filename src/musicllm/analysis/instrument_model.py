"""Which instrument plays each transcribed part: a small classifier over timbre features.

Input: `musicllm.analysis.timbre.part_features` of a part (harmonic profile, attack, decay, vibrato,
register, chords), standardised with the training means and scales (a missing value becomes the
mean). Model: a multilayer perceptron (one hidden layer, ReLU) or, with no hidden layer, a
multinomial logistic regression, over `INSTRUMENTS` (the 20 General MIDI instruments of the dev-set
generator: orchestral strings, woodwinds, brass, saxophones, piano, guitars, accordion, string
ensemble, acoustic bass). Weights live in ``instrument_model_weights.json``, trained by
``python -m musicllm.training.instrument_model`` on SoundFont renderings with random EQ, reverb and
noise (the recipe and its measured accuracy are there).

The name given to a part is the instrument with the highest expected instrument score under the
model's probabilities, as the ABC reward scores instruments (1 for the same instrument, 0.5 for the
same General MIDI family): ``E(i) = p_i + 0.5 * sum of p_j over the other instruments j of i's
family``. So when the model hesitates between violin and viola it still names a string instrument.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from musicllm.analysis.small_classifier import SmallClassifier
from musicllm.analysis.timbre import FEATURES

WEIGHTS_FILE = Path(__file__).with_name("instrument_model_weights.json")
FORMAT = "musicllm.instrument_model/1"
FAMILY_CREDIT = 0.5

#: instrument name -> General MIDI program (0-based).
INSTRUMENTS: dict[str, int] = {
    "violin": 40, "viola": 41, "cello": 42, "contrabass": 43, "string ensemble": 48,
    "trumpet": 56, "trombone": 57, "french horn": 60,
    "alto sax": 65, "tenor sax": 66, "baritone sax": 67, "oboe": 68, "bassoon": 70, "clarinet": 71,
    "flute": 73, "piano": 0, "accordion": 21, "nylon guitar": 24, "steel guitar": 25, "acoustic bass": 32,
}


@dataclass(frozen=True)
class InstrumentGuess:
    """The instrument named for a part: its name and GM program, the model's probability of that
    instrument, and the expected instrument score (family credit included) that chose it."""

    name: str
    program: int
    probability: float
    expected_score: float


class InstrumentModel(SmallClassifier):
    """The part instrument classifier (`SmallClassifier` over the timbre `FEATURES`)."""

    FORMAT = FORMAT
    FEATURES = FEATURES


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> InstrumentModel:
    return InstrumentModel.load(Path(path or WEIGHTS_FILE))


def family(program: int) -> int:
    """General MIDI family (8 programs each: 5 = strings, 7 = reed, ...)."""
    return int(program) // 8


def expected_scores(p: np.ndarray, classes: list[str]) -> np.ndarray:
    """Expected instrument score of naming each class, given probabilities ``p`` (n, n_classes)."""
    fam = np.array([family(INSTRUMENTS[c]) for c in classes])
    same = (fam[:, None] == fam[None, :]).astype(float)
    credit = FAMILY_CREDIT * same + (1 - FAMILY_CREDIT) * np.eye(len(classes))
    return np.atleast_2d(p) @ credit.T


def guess(features: np.ndarray, model: InstrumentModel | None = None) -> list[InstrumentGuess]:
    """The instrument of each part from its timbre features (n_parts, len(FEATURES))."""
    m = model or load_model()
    if len(features) == 0:
        return []
    p = m.probabilities(features)
    e = expected_scores(p, m.classes)
    out = []
    for i in range(len(p)):
        j = int(np.argmax(e[i]))
        name = m.classes[j]
        out.append(InstrumentGuess(name, INSTRUMENTS[name], float(p[i, j]), float(e[i, j])))
    return out
