"""Data-trained metrical interpretation: meter and tempo level from tracked beats and notes.

The beat tracker (`musicllm.analysis.rhythm`) finds a regular pulse, but not which note value it is
nor how the bars group it: the same audio is read as 4/4 at 120 quarters per minute, 2/2 at 60 half
notes, 2/4 at 60 or 6/8 at 80 dotted quarters depending on note values, tempo and accents, and the
corpora follow conventions (reels in 2/2, Ryan's hornpipes in 2/4 with sixteenths, jigs in 6/8).
This model chooses among interpretations with a conditional logit learned from rendered corpus pieces.

Conventions
-----------
- Times in seconds; tempo ``qpm`` is quarter notes per minute (also in compound and cut time).
- A candidate is ``(meter, f, phase)``: one of `METERS`, ``f`` quarter notes per tracked beat (one of
  `FACTORS`), so ``qpm = tracked beats per minute x f``, and the downbeat phase: the quarter notes
  after tracked beat 0 at which a bar starts, in steps of ``min(f, beat)`` quarter notes (every phase
  is a candidate of its own, so the model places the bar lines too). Candidates outside `QPM_RANGE`
  are skipped.
- Positions in quarter notes come from the tracked beats: an onset at fractional beat index ``u``
  (linear between tracked beats) sits at ``u * f`` quarter notes.

Features of a candidate (`analyse_candidates`), each block once shared and once for the candidate's meter
only (the other meters' blocks are zero), so every meter learns its own tempo range and note values:

- ``bias``: 1; ``zb``, ``zb2``: log2(felt beats per minute / 100) and its square (a tempo prior);
- ``zq``: log2(qpm / 120);
- ``share_bar`` / ``share_beat`` / ``share_sub`` / ``share_16`` / ``share_trip`` / ``share_off``: share
  of onset weight (amplitude x duration clipped to 1 s) whose coarsest metrical level is the bar, the
  beat, the beat's subdivision (eighths), sixteenths, triplets of the beat, or none of them
  (tolerance 60 ms, at most a quarter of the level);
- ``density``: log2 of distinct onsets (50 ms clusters) per quarter note;
- ``ioi``: log2 of the median inter-onset interval in quarter notes;
- ``contrast``: accent at bar starts minus accent at the other beats (accents scaled to max 1);
- ``half_contrast``: the same at half-bar positions that are not bar starts, minus the rest (4/4 and
  2/2 have a strong third beat);
- ``rep_onset``: cosine similarity of the onset pattern (12 slots per tracked beat) with itself one
  bar later; ``rep_pitch`` / ``rep_pitch2`` / ``rep_half``: mean similarity of the pitch classes
  starting in each slot with those one bar / two bars / half a bar later (`SlotPatterns`);
  ``rep_pitch4`` / ``rep_pitch8``: four and eight bars later (phrases of 4 and 8 bars);
- ``lag_pitch_Q`` / ``lag_onset_Q``: the same similarities at fixed lags of Q quarter notes;
- ``bass_bar`` / ``bass_half`` / ``lag_bass_Q``: pitch similarity of the low notes (lowest 30 % of
  pitches) one bar, half a bar and Q quarter notes later (a bass line alternating root and fifth
  repeats per bar, not per half bar);
- ``long_bar`` / ``long_half``: share of the long notes' weight (notes of at least `LONG_BEATS`
  tracked beats: cadences, held chords) that starts on a bar start / on a half-bar that is not a bar
  start; ``long_rep`` / ``long_rep2``: onset similarity of the long notes one and two bars later;
- ``contrast_gap``: ``contrast`` minus the best ``contrast`` among the phases of the same meter and
  tempo level (0 for the most accented phase); ``c_onset`` / ``c_bass`` / ``c_long`` / ``c_harmony``:
  the bar-start contrast of each accent cue alone (`musicllm.analysis.accents.CUES`); ``half_onset``
  ... ``half_harmony``: the half-bar contrast of each cue; ``beat_contrast``: accent of the beats
  minus that of the points between them (a 2/2 bar's second and fourth quarters are weak);
- ``first_bar`` / ``first_pickup``: 1 when the first onset falls on a bar start / within the last
  beat before one (music starts on the downbeat or with a short anacrusis).

Tracker features (shared by all meters, after the meter blocks): ``agree``: 1 when the candidate's
qpm is within 4 % of the rule reading of the tracked beats (``tracked_qpm``: the beat, or 1.5 beats
when the rules hear triplet subdivisions); ``dlog`` / ``adlog``: log2(qpm / tracked_qpm) and its size;
``pulse`` / ``pulse_dotted``: 1 when the candidate's quarter note / dotted quarter is the tracked beat.
With them the model can overrule the rules' tempo level where the notes say so (a reel whose
swung eighths read as triplets) and otherwise keep it.

Score of a candidate: ``w . ((x - mean) / scale)``, then, where the weights file has one, combined with
a tempo prior per meter (`musicllm.analysis.meter_tempo_prior`: how usual the candidate's tempo is for
its meter, fitted afterwards on data the base weights did not see); probabilities: softmax over the
candidates of one recording. Weights live in ``meter_model_weights.json`` (trained by
``python -m musicllm.training.meter_model`` then ``python -m musicllm.training.meter_tempo_prior``; the
recipes and the data are described there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from musicllm.analysis.accents import CUES, beat_accent_cues
from musicllm.analysis.meter_tempo_prior import TempoPrior
from musicllm.score.model import Meter

WEIGHTS_FILE = Path(__file__).with_name("meter_model_weights.json")
FEATURE_VERSION = 6
METERS: tuple[str, ...] = ("2/2", "2/4", "3/4", "4/4", "6/8", "9/8")
FACTORS: tuple[Fraction, ...] = (Fraction(1, 3), Fraction(1, 2), Fraction(2, 3), Fraction(1), Fraction(3, 2),
                                 Fraction(2), Fraction(3))
QPM_RANGE = (40.0, 280.0)
TEMPO_TOL = 0.04  # two tempos are "the same" within this relative difference

BLOCK = ("bias", "zb", "zb2", "zq", "share_bar", "share_beat", "share_sub", "share_16", "share_trip",
         "share_off", "density", "ioi", "contrast", "half_contrast", "rep_onset", "rep_pitch", "rep_pitch2",
         "rep_half", "rep_pitch4", "rep_pitch8") \
    + tuple(f"lag_pitch_{q}" for q in ("1.5", "2", "3", "4", "6", "8", "12", "16", "24", "32")) \
    + tuple(f"lag_onset_{q}" for q in ("1.5", "2", "3", "4", "6", "8", "12", "16", "24", "32")) \
    + ("bass_bar", "bass_half") + tuple(f"lag_bass_{q}" for q in ("2", "3", "4", "6")) \
    + ("long_bar", "long_half", "long_rep", "long_rep2", "contrast_gap") + tuple(f"c_{c}" for c in CUES) \
    + tuple(f"half_{c}" for c in CUES) + ("beat_contrast", "first_bar", "first_pickup")
LONG_BEATS = 1.75  # a "long" note lasts at least this many tracked beats (cadences, held chords)
BASS_LAGS_QN = (2.0, 3.0, 4.0, 6.0)
LAGS_QN = (1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0)
TRACKER = ("agree", "dlog", "adlog", "pulse", "pulse_dotted")
N_FEATURES = len(BLOCK) * (1 + len(METERS)) + len(TRACKER)
TOL_S = 0.06


def same_tempo(a_qpm: float, b_qpm: float) -> bool:
    """Whether two tempos (quarter notes per minute) agree within `TEMPO_TOL`."""
    return abs(a_qpm / b_qpm - 1) <= TEMPO_TOL


def feature_names() -> list[str]:
    return [f"all.{b}" for b in BLOCK] + [f"{m}.{b}" for m in METERS for b in BLOCK] + [f"tracker.{t}" for t in TRACKER]


@dataclass(frozen=True)
class Candidate:
    """One interpretation: meter, quarter notes per tracked beat, tempo, and its downbeat phase
    (quarter notes after tracked beat 0 at which a bar starts)."""

    meter: Meter
    factor: Fraction
    qpm: float
    phase_qn: float


@dataclass
class NoteArrays:
    """Notes as arrays: onset/offset seconds, MIDI pitch, amplitude in [0, 1]."""

    onset: np.ndarray
    offset: np.ndarray
    pitch: np.ndarray
    amp: np.ndarray

    @classmethod
    def from_notes(cls, notes) -> NoteArrays:
        return cls(np.array([n.onset_s for n in notes], dtype=float), np.array([n.offset_s for n in notes], dtype=float),
                   np.array([n.pitch for n in notes], dtype=int), np.array([n.amplitude for n in notes], dtype=float))


class BeatIndex:
    """Maps seconds <-> fractional tracked-beat index, linear between beats and extrapolated with the
    median period beyond the first and last beat."""

    def __init__(self, beats: np.ndarray):
        self.beats = np.asarray(beats, dtype=float)
        self.period = float(np.median(np.diff(self.beats))) if len(self.beats) > 1 else 0.5
        self.idx = np.arange(len(self.beats), dtype=float)

    def to_index(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        u = np.interp(t, self.beats, self.idx)
        u = np.where(t < self.beats[0], (t - self.beats[0]) / self.period, u)
        return np.where(t > self.beats[-1], self.idx[-1] + (t - self.beats[-1]) / self.period, u)

    def to_time(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        t = np.interp(u, self.idx, self.beats)
        t = np.where(u < 0, self.beats[0] + u * self.period, t)
        return np.where(u > self.idx[-1], self.beats[-1] + (u - self.idx[-1]) * self.period, t)


def candidates(tracked_bpm: float, near_qpm: float | None = None) -> list[tuple[Meter, Fraction, float]]:
    """(meter, f, qpm) of every candidate with qpm in `QPM_RANGE` (and within 4 % of ``near_qpm``)."""
    out = []
    for m in METERS:
        meter = Meter.parse(m)
        for f in FACTORS:
            qpm = tracked_bpm * float(f)
            if not QPM_RANGE[0] <= qpm <= QPM_RANGE[1]:
                continue
            if near_qpm is not None and not same_tempo(qpm, near_qpm):
                continue
            out.append((meter, f, qpm))
    return out


def _clusters(onsets: np.ndarray, gap: float = 0.05) -> np.ndarray:
    """Onset times with notes closer than ``gap`` seconds merged (first onset of each cluster)."""
    if len(onsets) == 0:
        return onsets
    s = np.sort(onsets)
    keep = np.concatenate([[True], np.diff(s) > gap])
    return s[keep]


def _on_grid(pos_qn: np.ndarray, level_qn: float, tol_qn: np.ndarray) -> np.ndarray:
    r = pos_qn / level_qn
    return np.abs(r - np.round(r)) * level_qn <= np.minimum(tol_qn, level_qn / 4)


def _accent_cues_at(times: np.ndarray, notes: NoteArrays, env: np.ndarray, env_times: np.ndarray) -> np.ndarray:
    return beat_accent_cues(notes.onset, notes.offset, notes.pitch, notes.amp, times, env, env_times)


class SlotPatterns:
    """Onsets on a grid of `SLOTS` slots per tracked beat: their weight and their pitch classes, to
    measure how much the music repeats itself at a lag (a bar's rhythm and melody tend to recur a
    bar or two later, not at other lags)."""

    SLOTS = 12

    def __init__(self, u_on: np.ndarray, pitch: np.ndarray, weight: np.ndarray, u_lo: float, u_hi: float):
        g = self.SLOTS
        n = max(int(np.ceil((u_hi - u_lo) * g)) + 1, 1)
        slot = np.clip(np.round((u_on - u_lo) * g).astype(int), 0, n - 1)
        self.onset = np.bincount(slot, weights=weight, minlength=n).astype(float)
        self.chroma = np.zeros((n, 12))
        np.add.at(self.chroma, (slot, pitch % 12), weight)
        self._blurred = np.convolve(self.onset, [0.5, 1.0, 0.5], mode="same")
        self._norms = np.linalg.norm(self.chroma, axis=1)
        self._cache: dict[tuple[str, int], float] = {}

    def _lag(self, beats: float) -> int:
        return int(round(beats * self.SLOTS))

    def onset_similarity(self, lag_beats: float) -> float:
        """Cosine similarity of the onset pattern with itself ``lag_beats`` tracked beats later
        (patterns blurred by one slot either side)."""
        lag = self._lag(lag_beats)
        if ("o", lag) not in self._cache:
            o = self._blurred
            v = 0.0
            if 0 < lag < len(o):
                a, b = o[:-lag], o[lag:]
                d = float(np.sqrt((a * a).sum() * (b * b).sum()))
                v = float((a * b).sum() / d) if d > 0 else 0.0
            self._cache[("o", lag)] = v
        return self._cache[("o", lag)]

    def pitch_similarity(self, lag_beats: float) -> float:
        """Mean over slots with onsets of the cosine similarity between their pitch classes and those
        of the slot ``lag_beats`` tracked beats later (0 where that slot is empty)."""
        lag = self._lag(lag_beats)
        if ("p", lag) not in self._cache:
            c, n = self.chroma, self._norms
            v = 0.0
            if 0 < lag < len(c):
                na, nb = n[:-lag], n[lag:]
                has = na > 0
                if has.any():
                    sim = (c[:-lag][has] * c[lag:][has]).sum(axis=1) / (na[has] * nb[has] + 1e-12)
                    v = float(sim.mean())
            self._cache[("p", lag)] = v
        return self._cache[("p", lag)]


def _phase_accents(output_grid, meter: Meter, f: float) -> list[tuple[float, float, float, np.ndarray]]:
    """Every downbeat phase of a candidate (quarter notes after tracked beat 0, in steps of
    ``min(f, beat)``) with its accent contrasts: (phase, bar-start contrast of the summed accent,
    half-bar contrast, then per cue of `musicllm.analysis.accents.CUES` its bar-start contrast, its
    half-bar contrast, and last the beats' summed accent minus that of the points between them).
    ``output_grid(start_qn, step_qn, f)`` gives the grid's quarter-note positions and cues (4, n)."""
    beat_qn, bar_qn, bpb = float(meter.beat_qn), float(meter.bar_qn), meter.beats_per_bar
    between = (beat_qn / 3, 2 * beat_qn / 3) if meter.is_compound else (beat_qn / 2,)
    out = []
    for phase in np.arange(0.0, bar_qn - 1e-9, min(f, beat_qn)):
        qn, cues = output_grid(phase, beat_qn, f)
        if cues.shape[1] < 2 * bpb:
            continue
        k = np.round((qn - phase) / beat_qn).astype(int)
        down = (k % bpb) == 0
        if down.all() or not down.any():
            continue
        acc = cues.sum(axis=0)
        half = (k % bpb) == bpb // 2 if bpb % 2 == 0 else np.zeros_like(down)
        rest = ~down & ~half
        has_half = bool(half.any() and rest.any())
        hc = float(acc[half].mean() - acc[rest].mean()) if has_half else 0.0
        cue_half = cues[:, half].mean(axis=1) - cues[:, rest].mean(axis=1) if has_half else np.zeros(len(cues))
        mid = np.concatenate([output_grid(phase + b, beat_qn, f)[1].sum(axis=0) for b in between])
        out.append((float(phase), float(acc[down].mean() - acc[~down].mean()), hc,
                    np.concatenate([cues[:, down].mean(axis=1) - cues[:, ~down].mean(axis=1), cue_half,
                                    [acc.mean() - mid.mean()]])))
    return out


def analyse_candidates(notes: NoteArrays, beats: np.ndarray, env: np.ndarray, env_times: np.ndarray,
                       duration_s: float, near_qpm: float | None = None,
                       tracked_qpm: float | None = None) -> tuple[list[Candidate], np.ndarray]:
    """Every candidate (meter, tempo level and downbeat phase), and their feature matrix
    (n_candidates, N_FEATURES).
    With ``near_qpm``, only the candidates within 4 % of that tempo (training uses it to learn the
    meter at a given tempo level from renderings whose tempo conventions differ from the dev set's).

    ``beats``: tracked beat times in seconds (regular, covering the recording); ``env``/``env_times``:
    the onset envelope of `musicllm.analysis.rhythm.onset_envelope`; ``tracked_qpm``: the rules'
    tempo reading of the beats (quarter notes per minute; default: one quarter note per beat).
    """
    bi = BeatIndex(beats)
    tracked_bpm = 60.0 / bi.period
    tracked_qpm = tracked_qpm or tracked_bpm
    u_on = bi.to_index(notes.onset)
    weight = notes.amp * np.clip(notes.offset - notes.onset, 0.0, 1.0)
    wsum = float(weight.sum()) or 1.0
    clusters = _clusters(notes.onset)
    u_cl = bi.to_index(clusters)
    u_lo, u_hi = float(bi.to_index(np.array([0.0]))[0]), float(bi.to_index(np.array([duration_s]))[0])
    accent_cache: dict[tuple[float, float, float], tuple[np.ndarray, np.ndarray]] = {}
    slots = SlotPatterns(u_on, notes.pitch, weight, u_lo, u_hi)
    low = notes.pitch <= (np.percentile(notes.pitch, 30) if len(notes.pitch) else 0)
    bass = SlotPatterns(u_on[low], notes.pitch[low], weight[low], u_lo, u_hi)
    is_long = (notes.offset - notes.onset) >= LONG_BEATS * bi.period
    long_w = np.where(is_long, notes.amp * (notes.offset - notes.onset), 0.0)
    long_sum = float(long_w.sum())
    longs = SlotPatterns(u_on[is_long], notes.pitch[is_long], long_w[is_long], u_lo, u_hi)

    def output_grid(start_qn: float, step_qn: float, f: float) -> tuple[np.ndarray, np.ndarray]:
        """(qn positions, accent cues (4, n)) of a regular grid of ``step_qn`` through ``start_qn``."""
        span_lo, span_hi = u_lo * f, u_hi * f
        off = start_qn % step_qn
        k0 = int(np.floor((span_lo - off) / step_qn))
        k1 = int(np.ceil((span_hi - off) / step_qn))
        qn = off + step_qn * np.arange(k0, k1 + 1)
        key = (round(off, 6), round(step_qn, 6), round(f, 6))
        if key not in accent_cache:
            times = bi.to_time(qn / f)
            accent_cache[key] = (qn, _accent_cues_at(times, notes, env, env_times))
        return accent_cache[key]

    out_c: list[Candidate] = []
    rows: list[np.ndarray] = []
    first_u = float(u_cl[0]) if len(u_cl) else 0.0
    for meter, fr, qpm in candidates(tracked_bpm, near_qpm):
        f = float(fr)
        beat_qn, bar_qn = float(meter.beat_qn), float(meter.bar_qn)
        bpb = meter.beats_per_bar
        phases = _phase_accents(output_grid, meter, f)
        if not phases:
            continue
        best_contrast = max(ph[1] for ph in phases)
        beat_bpm = qpm / beat_qn
        n_qn = max((u_hi - u_lo) * f, 1.0)
        density = np.log2(max(len(clusters), 1) / n_qn)
        ioi_qn = np.diff(u_cl) * f
        ioi = float(np.log2(np.median(ioi_qn))) if len(ioi_qn) else 0.0
        zb = float(np.log2(beat_bpm / 100.0))
        repeats = ([slots.onset_similarity(bar_qn / f), slots.pitch_similarity(bar_qn / f),
                    slots.pitch_similarity(2 * bar_qn / f), slots.pitch_similarity(bar_qn / f / 2),
                    slots.pitch_similarity(4 * bar_qn / f), slots.pitch_similarity(8 * bar_qn / f)]
                   + [slots.pitch_similarity(q / f) for q in LAGS_QN]
                   + [slots.onset_similarity(q / f) for q in LAGS_QN]
                   + [bass.pitch_similarity(bar_qn / f), bass.pitch_similarity(bar_qn / f / 2)]
                   + [bass.pitch_similarity(q / f) for q in BASS_LAGS_QN])
        long_reps = [longs.onset_similarity(bar_qn / f), longs.onset_similarity(2 * bar_qn / f)]
        tol = TOL_S / 60.0 * qpm * np.ones_like(u_on)
        sub_qn = beat_qn / 3 if meter.is_compound else beat_qn / 2
        trip = beat_qn / 3 if not meter.is_compound else beat_qn / 2
        dlog = float(np.log2(qpm / tracked_qpm))
        tracker = [float(same_tempo(qpm, tracked_qpm)), dlog, abs(dlog), float(fr == 1), float(fr == Fraction(3, 2))]
        first_tol = min(TOL_S / 60.0 * qpm, beat_qn / 4)
        for phase, contrast, half_contrast, cue_contrast in phases:
            pos = u_on * f - phase
            on_bar = _on_grid(pos, bar_qn, tol)
            assigned = on_bar.copy()
            shares = {"bar": float(weight[on_bar].sum() / wsum)}
            for lv, name in [(beat_qn, "beat"), (sub_qn, "sub"), (sub_qn / 2, "16"), (trip, "trip")]:
                hit = _on_grid(pos, lv, tol) & ~assigned
                shares[name] = float(weight[hit].sum() / wsum)
                assigned |= hit
            shares["off"] = float(weight[~assigned].sum() / wsum)
            long_bar = long_half = 0.0
            if long_sum > 0:
                long_bar = float(long_w[on_bar].sum() / long_sum)
                if bpb % 2 == 0:
                    on_half = _on_grid(pos - bar_qn / 2, bar_qn, tol) & ~on_bar
                    long_half = float(long_w[on_half].sum() / long_sum)
            r = (first_u * f - phase) % bar_qn
            first_bar = float(min(r, bar_qn - r) <= first_tol)
            first_pickup = float(not first_bar and bar_qn - r <= beat_qn + first_tol)
            block = np.array([1.0, zb, zb * zb, float(np.log2(qpm / 120.0)), shares["bar"], shares["beat"],
                              shares["sub"], shares["16"], shares["trip"], shares["off"], density, ioi,
                              contrast, half_contrast] + repeats + [long_bar, long_half] + long_reps
                             + [contrast - best_contrast, *cue_contrast, first_bar, first_pickup])
            x = np.zeros(N_FEATURES)
            x[: len(BLOCK)] = block
            j = METERS.index(str(meter)) + 1
            x[j * len(BLOCK): (j + 1) * len(BLOCK)] = block
            x[len(BLOCK) * (1 + len(METERS)):] = tracker
            rows.append(x)
            out_c.append(Candidate(meter, fr, float(qpm), float(phase)))
    return out_c, (np.array(rows) if rows else np.zeros((0, N_FEATURES)))


@dataclass
class MeterModel:
    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    meta: dict
    tempo_prior: TempoPrior | None = None

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Base scores of candidates ``x`` (n, N_FEATURES) -> (n,), without the tempo prior."""
        return ((x - self.mean) / self.scale) @ self.weights

    def candidate_scores(self, cands: list[Candidate], x: np.ndarray) -> np.ndarray:
        """Scores of candidates ``cands`` with features ``x``: the base scores, combined with the tempo
        prior when the model has one."""
        s = self.scores(x)
        if self.tempo_prior is None:
            return s
        return self.tempo_prior.combine([c.meter for c in cands], [c.qpm for c in cands], s)

    def to_dict(self) -> dict:
        d = {"format": "musicllm.meter_model/1", "feature_version": FEATURE_VERSION, "meters": list(METERS),
             "factors": [str(f) for f in FACTORS], "features": feature_names(),
             "weights": [round(float(v), 6) for v in self.weights], "mean": [round(float(v), 6) for v in self.mean],
             "scale": [round(float(v), 6) for v in self.scale], "meta": self.meta}
        if self.tempo_prior is not None:
            d["tempo_prior"] = self.tempo_prior.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MeterModel:
        if d.get("format") != "musicllm.meter_model/1" or d.get("feature_version") != FEATURE_VERSION \
                or d.get("features") != feature_names():
            raise ValueError("meter model weights do not match this version of the features")
        prior = TempoPrior.from_dict(d["tempo_prior"]) if d.get("tempo_prior") else None
        return cls(np.array(d["weights"]), np.array(d["mean"]), np.array(d["scale"]), d.get("meta", {}), prior)


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> MeterModel:
    return MeterModel.from_dict(json.loads(Path(path or WEIGHTS_FILE).read_text()))


def softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max())
    return e / e.sum()


@dataclass
class MeterChoice:
    """The chosen interpretation, with the model's probabilities: of this candidate, of its meter
    (summed over tempo levels and phases) and of its tempo level (candidates within 4 % of its qpm)."""

    candidate: Candidate
    probability: float
    meter_probability: float
    tempo_probability: float


def pick(cands: list[Candidate], p: np.ndarray) -> int:
    """Index of the chosen candidate given their probabilities ``p``: the reading (meter and tempo
    level) with the most probability summed over its phases, then its most probable phase (the
    phases of one reading share its probability, so the single best candidate can belong to a less
    probable reading)."""
    reading = [(str(d.meter), d.factor) for d in cands]
    mass: dict = {}
    for r, pj in zip(reading, p, strict=True):
        mass[r] = mass.get(r, 0.0) + float(pj)
    best = max(mass, key=mass.__getitem__)
    return max((j for j, r in enumerate(reading) if r == best), key=lambda j: p[j])


def choose(notes: NoteArrays, beats: np.ndarray, env: np.ndarray, env_times: np.ndarray, duration_s: float,
           near_qpm: float | None = None, model: MeterModel | None = None,
           tracked_qpm: float | None = None) -> MeterChoice | None:
    """The most probable interpretation (among those within 4 % of ``near_qpm`` when given), or None
    when no candidate could be analysed. ``tracked_qpm``: as in `analyse_candidates`."""
    cands, x = analyse_candidates(notes, beats, env, env_times, duration_s, near_qpm, tracked_qpm)
    if not cands:
        return None
    p = softmax((model or load_model()).candidate_scores(cands, x))
    i = pick(cands, p)
    c = cands[i]
    p_meter = sum(float(p[j]) for j, d in enumerate(cands) if d.meter == c.meter)
    p_tempo = sum(float(p[j]) for j, d in enumerate(cands) if same_tempo(d.qpm, c.qpm))
    return MeterChoice(c, float(p[i]), p_meter, p_tempo)


def beat_grid(candidate: Candidate, beats: np.ndarray, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(beat times, downbeat times) in seconds of a candidate: beats every ``meter.beat_qn`` quarter
    notes through its downbeat phase, from before 0 s to past the end (as the tracker's grid)."""
    bi = BeatIndex(beats)
    f = float(candidate.factor)
    beat_qn = float(candidate.meter.beat_qn)
    lo = float(bi.to_index(np.array([0.0]))[0]) * f
    hi = float(bi.to_index(np.array([duration_s]))[0]) * f
    off = candidate.phase_qn % beat_qn
    k0 = int(np.floor((lo - off) / beat_qn + 0.5))
    k1 = int(np.ceil((hi - off) / beat_qn + 0.5))
    qn = off + beat_qn * np.arange(k0, k1 + 1)
    times = bi.to_time(qn / f)
    bpb = candidate.meter.beats_per_bar
    k = np.round((qn - candidate.phase_qn) / beat_qn).astype(int)
    return times, times[(k % bpb) == 0]
