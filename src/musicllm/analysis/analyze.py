"""``analyze(audio) -> MusicFacts``: measure everything the language layer may talk about.

One pass over the audio: it is decoded once to mono 22,050 Hz; basic-pitch's activations feed the
transcription (notes, beats, tempo, meter, key) and the chord and section estimates; the samples feed
the loudness curve and, resampled to 16 kHz, the musicnn tagger (instruments, genres, moods).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from musicllm.analysis import notes
from musicllm.analysis.facts import Dynamics, Measured, MusicFacts, Span, Tag
from musicllm.analysis.note_summary import summarize_notes
from musicllm.analysis.transcribe import Transcription, transcribe
from musicllm.errors import AudioError

TAG_FLOOR = 0.05  # tags under this probability are dropped from the facts (they are noise)


def _load(path_or_array, sr: int | None, source: str | None) -> tuple[np.ndarray, str | None]:
    from musicllm.audio.load import check_audio_content, load_audio

    if isinstance(path_or_array, str | os.PathLike):
        audio = load_audio(Path(path_or_array), target_sr=notes.SAMPLE_RATE)
        check_audio_content(audio)
        return audio.samples, str(path_or_array)
    if sr is None:
        raise AudioError("an audio array needs its sample rate: analyze(array, sr=...)")
    audio = load_audio(np.asarray(path_or_array), sr=sr, target_sr=notes.SAMPLE_RATE)
    check_audio_content(audio)
    return audio.samples, source


TAG_MODELS = "all"  # MTT_musicnn (instruments) + MSD_musicnn (genres such as folk and jazz, moods)


def _tags(y: np.ndarray, sr: int) -> tuple[list[Tag], list[Tag], list[Tag], list[Tag], str]:
    from musicllm.analysis.tagging import tag_audio

    res = tag_audio(y, sr, model=TAG_MODELS)

    def conv(pairs) -> list[Tag]:
        out = [Tag(str(n), round(float(c), 3)) for n, c in pairs if float(c) >= TAG_FLOOR]
        return sorted(out, key=lambda t: -t.confidence)

    return (conv(res.instruments), conv(res.genres), conv(res.moods), conv(res.other), res.model_name)


def analyze(
    path_or_array,
    sr: int | None = None,
    *,
    source: str | None = None,
    progress: Callable[[float], None] | None = None,
    tags: bool = True,
    transcription: Transcription | None = None,
) -> MusicFacts:
    """Measure a recording. ``path_or_array``: a file path, or a numpy array with ``sr``.

    ``tags=False`` skips the tagger (no instrument / genre / mood facts). ``transcription``: reuse one
    already made from the same audio. Raises :class:`~musicllm.errors.AudioError` for unusable audio.
    """
    from musicllm.analysis import chords as chord_mod
    from musicllm.analysis import dynamics as dyn_mod
    from musicllm.analysis import structure as struct_mod

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    y, source = _load(path_or_array, sr, source)
    sr_ = notes.SAMPLE_RATE
    tr = transcription or transcribe(y, sr=sr_, source=source, progress=progress)
    timings["transcribe"] = time.perf_counter() - t0
    s = tr.score
    act = tr.activations
    rh = tr.rhythm_estimate
    beats = np.asarray(s.beat_times_s, dtype=float)
    downbeats = np.asarray(s.downbeat_times_s, dtype=float)
    duration = float(len(y) / sr_)

    t1 = time.perf_counter()
    chords = chord_mod.estimate_chords(act, beats) if act is not None else []
    timings["chords"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    sections = struct_mod.estimate_sections(act, beats, downbeats, duration) if act is not None else []
    timings["sections"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    times, db = dyn_mod.loudness_curve(y, sr_)
    summ = dyn_mod.dynamics_summary(times, db)
    hop = float(times[1] - times[0]) if len(times) > 1 else float(duration)
    dynamics = Dynamics(mean_db=round(summ.mean_db, 2), range_db=round(summ.range_db, 2), level=summ.level,
                        trend=summ.trend, hop_s=round(hop, 4), curve_db=[round(float(v), 2) for v in db],
                        peaks_s=[round(float(p), 2) for p in summ.peaks_s], reference=summ.reference,
                        confidence=round(float(summ.confidence), 3))
    timings["dynamics"] = time.perf_counter() - t1
    instruments: list[Tag] = []
    genres: list[Tag] = []
    moods: list[Tag] = []
    other: list[Tag] = []
    analyzers = {
        "notes": "basic-pitch ICASSP 2022 (ONNX) + musicllm clean-up",
        "rhythm": "musicllm beat tracker and meter estimate",
        "key": "musicllm key model (conditional logit over 24 keys) on transcribed notes",
        "chords": getattr(chord_mod, "METHOD", "musicllm chord HMM"),
        "sections": getattr(struct_mod, "METHOD", "musicllm self-similarity segmentation"),
        "loudness": summ.reference,
    }
    if tags:
        t1 = time.perf_counter()
        instruments, genres, moods, other, model_name = _tags(y, sr_)
        analyzers["tags"] = model_name
        timings["tags"] = time.perf_counter() - t1

    beat_bpm = rh.tactus_bpm if rh is not None else s.tempo_qpm
    return MusicFacts(
        duration_s=round(duration, 3),
        tempo_qpm=Measured(round(float(s.tempo_qpm), 1), round(tr.tempo_confidence, 3)),
        beat_bpm=Measured(round(float(beat_bpm), 1), round(tr.tempo_confidence, 3)),
        meter=Measured(str(s.meter), round(tr.meter_confidence, 3)),
        key=Measured(str(s.key), round(tr.key_confidence, 3)),
        beats_s=[round(float(b), 3) for b in beats],
        downbeats_s=[round(float(b), 3) for b in downbeats],
        chords=[Span(round(c.start_s, 3), round(c.end_s, 3), c.label, round(float(c.confidence), 3)) for c in chords],
        sections=[Span(round(x.start_s, 3), round(x.end_s, 3), x.label, round(float(x.confidence), 3))
                  for x in sections],
        dynamics=dynamics,
        instruments=instruments, genres=genres, moods=moods, other_tags=other,
        notes=summarize_notes(s, duration),
        source=Path(source).name if source else None,
        analyzers=analyzers | {"timings_s": ", ".join(f"{k} {v:.2f}" for k, v in timings.items())},
    )
