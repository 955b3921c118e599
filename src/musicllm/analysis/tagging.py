"""Instrument, genre and mood tags of a recording with musicnn (MTT_musicnn, MSD_musicnn), in torch.

What a score means
------------------
Each tag's score is the model's sigmoid output averaged over 3-second patches (2.992 s: 187 frames
of 16 ms; consecutive, non-overlapping, a last partial patch dropped), exactly as musicnn's
``top_tags`` computes it. Per patch, it estimates the probability that the tag applies, as the
models were trained (binary cross-entropy, one output per tag): MTT_musicnn on MagnaTagATune (crowd
tags of 30-s clips), MSD_musicnn on the Million Song Dataset's last.fm tags. Scores are therefore:

- in [0, 1], independent per tag (they do not sum to 1; a clip can have many tags or none);
- not calibrated across tags or models: rare tags (``sitar``, ``House``) score low even when they fit,
  and MSD's 50 tags describe pop music (it has no "classical"), so judge a tag against its own usual
  range, or use rank (``top()``), rather than one global threshold. The caller picks thresholds;
- musicnn's, to float32 round-off: on the reference clips in ``tests/models/fixtures`` every score is
  within 4e-6 of the original TensorFlow musicnn 0.1.0.

Groups: the 50 tags of each model are sorted into ``instruments`` (including voices: "female vocal",
"choir"), ``genres`` (including "classical", "choral", "opera"), ``moods`` (character words: "happy",
"sad", "Mellow", "chill", "weird") and ``other`` (tempo and loudness words such as "slow" and "loud",
which the analysis measures directly; negations such as "no vocals"; eras such as "80s"; and "beat",
"solo", "instrumental", "acoustic"). When two models give the same tag in
the same group, the group keeps MTT's score for instruments and moods and MSD's for genres.

Time series: ``TagResult.times_s`` and ``series`` give each patch's start time (seconds) and scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicllm.errors import AudioError, MusicLLMError

MTT = "MTT_musicnn"
MSD = "MSD_musicnn"
ALL_MODELS = (MTT, MSD)
GROUPS = ("instruments", "genres", "moods", "other")

#: tag -> group, per model (every one of the 50 labels of each model appears once).
TAG_GROUPS: dict[str, dict[str, str]] = {
    MTT: {
        **dict.fromkeys(["guitar", "strings", "drums", "piano", "violin", "synth", "harpsichord", "flute",
                         "sitar", "harp", "cello", "vocal", "vocals", "singing", "voice", "female", "male",
                         "woman", "man", "male vocal", "female vocal", "male voice", "female voice",
                         "choir"], "instruments"),
        **dict.fromkeys(["classical", "classic", "techno", "electronic", "rock", "ambient", "indian",
                         "opera", "pop", "new age", "dance", "country", "metal", "choral"], "genres"),
        **dict.fromkeys(["weird"], "moods"),
        # tempo and loudness words: measured directly (beats, loudness), so not presented as moods
        **dict.fromkeys(["slow", "fast", "loud", "quiet", "soft", "beat", "beats", "solo", "no vocals", "no vocal",
                         "no voice"], "other"),
    },
    MSD: {
        **dict.fromkeys(["female vocalists", "male vocalists", "female vocalist", "guitar"], "instruments"),
        **dict.fromkeys(["rock", "pop", "alternative", "indie", "electronic", "dance", "alternative rock",
                         "jazz", "metal", "chillout", "classic rock", "soul", "indie rock", "electronica",
                         "folk", "punk", "blues", "hard rock", "ambient", "experimental", "Hip-Hop",
                         "country", "easy listening", "funk", "electro", "heavy metal", "Progressive rock",
                         "rnb", "indie pop", "House"], "genres"),
        **dict.fromkeys(["beautiful", "Mellow", "chill", "sexy", "catchy", "party", "sad", "happy"],
                        "moods"),
        **dict.fromkeys(["00s", "80s", "90s", "70s", "60s", "oldies", "instrumental", "acoustic"], "other"),
    },
}
#: Which model's score a group keeps when both models have the tag.
PREFERRED_MODEL = {"instruments": MTT, "moods": MTT, "genres": MSD, "other": MTT}


@dataclass(frozen=True)
class TagScore:
    """One tag: its clip-level score in [0, 1] (mean sigmoid output), the model and the group."""

    tag: str
    score: float
    model: str
    group: str

    def to_json(self) -> dict[str, Any]:
        return {"tag": self.tag, "score": round(self.score, 4), "model": self.model, "group": self.group}


@dataclass
class TagResult:
    """Tags of one recording: per-model scores, grouped tags and a coarse (per-patch) time series."""

    models: tuple[str, ...]
    scores: dict[str, dict[str, float]]
    times_s: list[float]
    series: dict[str, np.ndarray] = field(repr=False)
    duration_s: float = 0.0
    patch_s: float = 0.0
    patches_used: int = 0

    @property
    def groups(self) -> dict[str, list[TagScore]]:
        """``group -> tags`` (highest score first); duplicates resolved by :data:`PREFERRED_MODEL`."""
        chosen: dict[tuple[str, str], TagScore] = {}
        for model in self.models:
            for tag, score in self.scores[model].items():
                group = TAG_GROUPS[model][tag]
                key = (group, tag.lower())
                if key not in chosen or PREFERRED_MODEL[group] == model:
                    chosen[key] = TagScore(tag, score, model, group)
        out: dict[str, list[TagScore]] = {g: [] for g in GROUPS}
        for ts in chosen.values():
            out[ts.group].append(ts)
        for g in out:
            out[g].sort(key=lambda t: (-t.score, t.tag))
        return out

    def _pairs(self, group: str) -> list[tuple[str, float]]:
        return [(t.tag, t.score) for t in self.groups[group]]

    @property
    def instruments(self) -> list[tuple[str, float]]:
        """``(tag, score)`` of the instrument and voice tags, highest first."""
        return self._pairs("instruments")

    @property
    def genres(self) -> list[tuple[str, float]]:
        """``(tag, score)`` of the genre tags, highest first."""
        return self._pairs("genres")

    @property
    def moods(self) -> list[tuple[str, float]]:
        """``(tag, score)`` of the mood / character tags, highest first."""
        return self._pairs("moods")

    @property
    def other(self) -> list[tuple[str, float]]:
        """``(tag, score)`` of the remaining tags (negations, eras, "solo", ...), highest first."""
        return self._pairs("other")

    @property
    def model_name(self) -> str:
        """What produced the tags, for reports: e.g. ``"musicnn 0.1.0 MTT_musicnn (torch port)"``."""
        return f"musicnn 0.1.0 {'+'.join(self.models)} (torch port)"

    def top(self, n: int = 5, group: str | None = None) -> list[TagScore]:
        """The ``n`` highest-scoring tags, over all groups or within ``group``."""
        if group is not None and group not in GROUPS:
            raise MusicLLMError(f"unknown tag group {group!r}; choose from {', '.join(GROUPS)}")
        groups = self.groups
        pool = groups[group] if group else [t for g in GROUPS for t in groups[g]]
        return sorted(pool, key=lambda t: (-t.score, t.tag))[:n]

    def score(self, tag: str, model: str | None = None) -> float:
        """The score of ``tag`` (from ``model``, or the first model that has it)."""
        for m in ([model] if model else self.models):
            if m in self.scores and tag in self.scores[m]:
                return self.scores[m][tag]
        raise MusicLLMError(f"no tag {tag!r} in {', '.join(self.models)}")

    def to_json(self, series: bool = False) -> dict[str, Any]:
        """JSON-ready dict; scores rounded to 4 decimals; ``series=True`` adds the per-patch scores."""
        out: dict[str, Any] = {
            "models": list(self.models),
            "duration_s": round(self.duration_s, 3),
            "patch_s": round(self.patch_s, 4),
            "patches": self.patches_used,
            "groups": {g: [t.to_json() for t in ts] for g, ts in self.groups.items()},
            "scores": {m: {t: round(s, 4) for t, s in self.scores[m].items()} for m in self.models},
        }
        if series:
            out["times_s"] = [round(t, 3) for t in self.times_s]
            out["series"] = {m: np.round(self.series[m], 4).tolist() for m in self.models}
        return out


def _models(model: str | Sequence[str]) -> tuple[str, ...]:
    names = (ALL_MODELS if model in ("all", "both") else (model,)) if isinstance(model, str) else tuple(model)
    if not names:
        raise MusicLLMError("no tagging model chosen")
    for m in names:
        if m not in ALL_MODELS:
            raise MusicLLMError(f"unknown tagging model {m!r}; choose from {', '.join(ALL_MODELS)}, or 'all'")
    return tuple(dict.fromkeys(names))


def hop_frames_from_seconds(hop_s: float | None) -> int:
    """Patch hop in frames; ``None`` -> 187 (no overlap). Seconds convert like musicnn's
    ``input_overlap`` (which is in fact the hop): ``floor((hop_s * 16000 - 256) / 256)``, at least 1."""
    from musicllm.models.taggers.musicnn import HOP, N_FFT, PATCH_FRAMES, SR

    if hop_s is None:
        return PATCH_FRAMES
    if not hop_s > 0 or not math.isfinite(hop_s):
        raise MusicLLMError(f"patch hop must be a positive number of seconds, got {hop_s}")
    return max(1, math.floor((hop_s * SR - N_FFT // 2) / HOP))


def _select(n: int, max_patches: int | None) -> np.ndarray:
    if max_patches is None or n <= max_patches:
        return np.arange(n)
    if max_patches < 1:
        raise MusicLLMError(f"max_patches must be at least 1, got {max_patches}")
    return np.unique(np.round(np.linspace(0, n - 1, max_patches)).astype(int))


def tag_audio(
    y: np.ndarray,
    sr: int,
    model: str | Sequence[str] = MTT,
    *,
    hop_s: float | None = None,
    max_patches: int | None = None,
    weights: str | None = None,
    num_threads: int | None = 1,
) -> TagResult:
    """Tag audio ``y`` (``[samples]`` or ``[channels, samples]``, any rate ``sr`` in Hz) with musicnn.

    ``model``: ``"MTT_musicnn"`` (default: instruments, moods, some genres), ``"MSD_musicnn"`` (genres,
    moods, eras), ``"all"`` (both; twice the cost), or a sequence of those names. ``hop_s``: patch hop
    in seconds (default: 3-s patches without overlap, as musicnn). ``max_patches``: if the audio has
    more patches, tag only this many, evenly spread (a speed cap for long files; the clip mean then
    approximates musicnn's). ``weights``: a folder or ``.npz`` (see
    :func:`musicllm.models.taggers.musicnn.find_weights`). ``num_threads``: torch threads for the
    network during this call (``None``: torch's setting). The default is 1 because on a 2-core machine
    shared with other work, 2 threads made the net 4-10x slower (every small op waits for a thread
    that is not scheduled), while with both cores idle they are only about 1.7x faster.
    Audio shorter than one patch (3 s) is repeated to fill it.

    Cost per minute of audio and per model (2-core Xeon, float32): 1.0-1.3 s with 1 thread; 0.6 s
    with 2 threads and both cores idle, 5-10 s with 2 threads when another process is busy; the
    input features (resampling, mel) add 0.07 s.
    """
    names = _models(model)
    x = np.asarray(y, dtype=np.float32)
    if x.size == 0:
        raise AudioError("audio array: no samples to tag")
    if not np.all(np.isfinite(x)):
        raise AudioError("audio array: contains NaN or infinite samples")
    if not (isinstance(sr, int | np.integer) and sr > 0):
        raise AudioError(f"audio array: invalid sample rate {sr!r}")

    from musicllm.models.taggers.musicnn import (
        HOP,
        PATCH_FRAMES,
        SR,
        load_musicnn,
        log_mel,
        make_patches,
        patch_starts,
        to_model_rate,
    )

    hop = hop_frames_from_seconds(hop_s)
    y16 = to_model_rate(x, int(sr))
    spec = log_mel(y16)
    patches = make_patches(spec, hop)
    keep = _select(len(patches), max_patches)
    patches = patches[keep]
    starts = np.asarray(patch_starts(max(spec.shape[0], PATCH_FRAMES), hop))[keep] * HOP / SR
    scores: dict[str, dict[str, float]] = {}
    series: dict[str, np.ndarray] = {}
    for name in names:
        tagger = load_musicnn(name, weights)
        probs = tagger.predict_patches(patches, num_threads=num_threads)
        series[name] = probs
        scores[name] = {tag: float(s) for tag, s in zip(tagger.labels, probs.mean(axis=0), strict=True)}
    return TagResult(models=names, scores=scores, times_s=[float(t) for t in starts], series=series,
                     duration_s=len(y16) / SR, patch_s=PATCH_FRAMES * HOP / SR, patches_used=len(keep))
