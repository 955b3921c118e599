"""audio -> Score: the transcription pipeline.

    audio blocks (22,050 Hz mono, streamed)
      -> basic-pitch activations (musicllm.analysis.notes)
      -> raw note events (basic-pitch's decoder, with thresholds tuned on our dev split)
      -> clean-up of ghosts, fragments, short notes, onsets (musicllm.analysis.cleanup)
      -> beats, tempo, meter, downbeats (musicllm.analysis.rhythm)
      -> key and mode (musicllm.analysis.tonality)
      -> how many parts (musicllm.analysis.part_count: a classifier over the texture)
      -> parts by register (musicllm.analysis.parts)
      -> the instrument of each part from its timbre (musicllm.analysis.timbre, .instrument_model;
         the spectrogram is filled from the same audio stream)
      -> quantised Score (musicllm.score.quantize)

Note times in the result are seconds of the input audio (measured, not quantised); ``onset_qn`` /
``offset_qn`` hold the quantised positions in quarter notes that the notation writers use.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musicllm.analysis import cleanup, instrument_model, notes, part_count, parts, rhythm, timbre, tonality
from musicllm.errors import AudioError, MusicLLMError
from musicllm.score.instruments import name_for, program_for
from musicllm.score.model import Key, Meter, Note, Part, Score
from musicllm.score.quantize import make_voices_monophonic, quantize_score

FORMATS = ("abc", "mid", "musicxml", "svg", "json")


@dataclass(frozen=True)
class TranscribeOptions:
    """Options of :func:`transcribe`.

    n_parts: number of parts to separate into (None: estimated from the texture).
    instruments: instrument names for the parts, highest part first ("violin,cello"); without them
        each part's instrument is recognised from its timbre (`musicllm.analysis.instrument_model`).
    identify_instruments: recognise the instruments (False: parts are "Part 1".. with program 0).
    onset_threshold / frame_threshold / min_note_ms: basic-pitch decoder settings.
    cleanup: apply our clean-up of raw notes (False gives basic-pitch's own decoding).
    title: title written into the score (default: the file's stem).
    """

    n_parts: int | None = None
    instruments: tuple[str, ...] = ()
    identify_instruments: bool = True
    onset_threshold: float = 0.6   # basic-pitch's default is 0.5; 0.6 chosen on the dev split
    frame_threshold: float = 0.3
    min_note_ms: float = 81.0      # 7 frames (basic-pitch's default: 127.7 ms, 11 frames)
    cleanup: bool = True
    title: str | None = None


@dataclass
class Transcription:
    """The result of :func:`transcribe`: a quantised ``Score`` plus what was measured."""

    score: Score
    source: str | None = None
    key_confidence: float = 0.0
    tempo_confidence: float = 0.0
    meter_confidence: float = 0.0
    raw_note_count: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)
    # What the analysis measured on the way, for callers that go on (``analyze()``): not serialised.
    activations: notes.Activations | None = field(default=None, repr=False, compare=False)
    notes_detected: list[notes.RawNote] = field(default_factory=list, repr=False, compare=False)
    rhythm_estimate: rhythm.RhythmEstimate | None = field(default=None, repr=False, compare=False)
    #: the recognised instrument of each part (same order as ``score.parts``); empty when the user
    #: named the instruments or recognition was switched off.
    instrument_guesses: list[instrument_model.InstrumentGuess] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return float(self.score.duration_s or self.score.end_s)

    def to_abc(self) -> str:
        from musicllm.score.abc import write_abc

        return write_abc(self.score)

    def to_midi(self, path: str | os.PathLike) -> Path:
        from musicllm.score.midi import write_midi

        write_midi(self.score, path)
        return Path(path)

    def to_musicxml(self, path: str | os.PathLike) -> Path:
        from musicllm.score.musicxml import write_musicxml

        write_musicxml(self.score, path)
        return Path(path)

    def to_svg(self, path: str | os.PathLike) -> Path:
        from musicllm.score.sheet import write_svg

        write_svg(self.score, path)
        return Path(path)

    def to_dict(self) -> dict:
        from musicllm.score.jsonio import score_to_dict

        extra = {
            "source": self.source,
            "confidence": {
                "key": round(self.key_confidence, 3),
                "tempo": round(self.tempo_confidence, 3),
                "meter": round(self.meter_confidence, 3),
            },
            "raw_note_count": self.raw_note_count,
        }
        if self.instrument_guesses:
            extra["instrument_recognition"] = [
                {"part": p.name, "instrument": g.name, "program": g.program, "probability": round(g.probability, 3),
                 "expected_score": round(g.expected_score, 3)}
                for p, g in zip(self.score.parts, self.instrument_guesses, strict=False)]
        return score_to_dict(self.score, extra=extra)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def write(self, out_dir: str | os.PathLike, stem: str, formats: Sequence[str] = FORMATS) -> list[Path]:
        """Write ``out_dir/<stem>.<ext>`` for each format; returns the paths.

        All formats are written into a hidden temporary folder first and moved into place only when
        every one succeeded, so a failure leaves no output of this input behind.
        """
        import shutil
        import tempfile

        from musicllm.files import atomic_write_text

        unknown = [f for f in formats if f not in FORMATS + ("midi", "xml")]
        if unknown:
            raise MusicLLMError(f"unknown output format {unknown[0]!r} (choose from {', '.join(FORMATS)})")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{stem}.", dir=out))
        try:
            staged = []
            for fmt in formats:
                if fmt == "abc":
                    staged.append(atomic_write_text(tmp / f"{stem}.abc", self.to_abc()))
                elif fmt in ("mid", "midi"):
                    staged.append(self.to_midi(tmp / f"{stem}.mid"))
                elif fmt in ("musicxml", "xml"):
                    staged.append(self.to_musicxml(tmp / f"{stem}.musicxml"))
                elif fmt == "svg":
                    staged.append(self.to_svg(tmp / f"{stem}.svg"))
                elif fmt == "json":
                    staged.append(atomic_write_text(tmp / f"{stem}.json", self.to_json()))
            written = []
            for path in staged:
                os.replace(path, out / path.name)
                written.append(out / path.name)
            return written
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def summary(self) -> str:
        s = self.score
        n = sum(len(p.notes) for p in s.parts)
        names = ", ".join(p.name for p in s.parts)
        return (f"{self.duration_s:.1f} s, {s.tempo_qpm:.0f} qpm, {s.meter}, {s.key}, "
                f"{len(s.parts)} part(s) [{names}], {n} notes")


def _blocks_for(path_or_array, sr: int | None) -> tuple[object, str | None]:
    """An iterable of mono 22,050 Hz float32 blocks, and the source name."""
    from musicllm.audio import load

    if isinstance(path_or_array, str | os.PathLike):
        path = Path(path_or_array)
        return load.iter_audio_blocks(path, notes.SAMPLE_RATE), str(path)
    if sr is None:
        raise AudioError("an audio array needs its sample rate: transcribe(array, sr=...)")
    audio = load.load_audio(np.asarray(path_or_array), sr=sr, target_sr=notes.SAMPLE_RATE)
    samples = audio.samples
    return [samples[i : i + notes.SAMPLE_RATE * 30] for i in range(0, len(samples), notes.SAMPLE_RATE * 30)], None


class _LevelMeter:
    """Wraps a block stream, keeping the loudness statistics needed to reject silence."""

    def __init__(self, blocks, label: str = "audio array"):
        self.blocks = blocks
        self.label = label
        self.peak = 0.0
        self.sum_sq = 0.0
        self.n = 0

    def __iter__(self):
        for b in self.blocks:
            if b.size:
                if not np.all(np.isfinite(b)):
                    raise AudioError(f"{self.label}: contains NaN or infinite samples")
                self.peak = max(self.peak, float(np.abs(b).max()))
                self.sum_sq += float(np.dot(b, b))
                self.n += b.size
            yield b

    @property
    def rms_db(self) -> float:
        rms = np.sqrt(self.sum_sq / max(self.n, 1))
        return 20 * np.log10(max(rms, 1e-12))


def _part_names(voices: Sequence, programs: Sequence[int],
                guesses: Sequence[instrument_model.InstrumentGuess]) -> list[tuple[str, int]]:
    """(name, GM program) of each part: the user's instruments, else the recognised ones (a name used
    twice is numbered "Violin I", "Violin II"), else "Part 1".. / "Melody" with program 0."""
    out = []
    for i in range(len(voices)):
        if i < len(programs):
            out.append((name_for(programs[i]), programs[i]))
        elif i < len(guesses):
            out.append((name_for(guesses[i].program), guesses[i].program))
        else:
            out.append((f"Part {i + 1}" if len(voices) > 1 else "Melody", 0))
    counts: dict[str, int] = {}
    for name, _ in out:
        counts[name] = counts.get(name, 0) + 1
    seen: dict[str, int] = {}
    numbered = []
    for name, prog in out:
        if counts[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            name = f"{name} {_ROMAN[min(seen[name], len(_ROMAN)) - 1]}"
        numbered.append((name, prog))
    return numbered


_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV", "XVI")


def transcribe(
    path_or_array,
    sr: int | None = None,
    *,
    progress: Callable[[float], None] | None = None,
    source: str | None = None,
    **options,
) -> Transcription:
    """Transcribe a recording into a score.

    ``path_or_array``: an audio file path, or a numpy array (mono, or (samples, channels)) with ``sr``.
    ``options``: fields of :class:`TranscribeOptions` (``n_parts``, ``instruments``, ...).
    ``progress``: optional callable(seconds of audio processed).
    ``source``: the name that error messages and the title use for an array input (a path names itself).
    Raises :class:`~musicllm.errors.AudioError` for unusable audio (message names the problem).
    """
    unknown = set(options) - set(TranscribeOptions.__dataclass_fields__)
    if unknown:
        raise MusicLLMError(f"unknown transcribe option(s): {', '.join(sorted(unknown))}")
    if isinstance(options.get("instruments"), str):
        options["instruments"] = tuple(x.strip() for x in options["instruments"].split(",") if x.strip())
    opts = TranscribeOptions(**options)
    if opts.n_parts is not None and not 1 <= opts.n_parts <= 16:
        raise MusicLLMError(f"--parts must be between 1 and 16, got {opts.n_parts}")
    programs = []
    for name in opts.instruments:
        prog = program_for(name)
        if prog is None:
            raise MusicLLMError(f"unknown instrument {name!r} (use a General MIDI name such as violin, cello, flute)")
        programs.append(prog)

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    blocks, path_source = _blocks_for(path_or_array, sr)
    source = path_source or source
    label = source or "audio array"  # error messages name the file
    spec = timbre.Spectrogram() if opts.identify_instruments and not programs else None
    meter_ = _LevelMeter(spec.tee(blocks) if spec is not None else blocks, label)
    act = notes.compute_activations(meter_, progress=progress)
    if spec is not None:
        spec.finish()
    timings["model"] = time.perf_counter() - t0
    duration = act.duration_s
    if duration < 0.5:
        raise AudioError(f"{label}: is too short ({duration:.2f} s; at least 0.5 s is needed)")
    if meter_.peak < 1e-4 or meter_.rms_db < -70:
        raise AudioError(f"{label}: is silent (no signal above -70 dBFS)")

    t1 = time.perf_counter()
    if opts.cleanup:
        raw = notes.decode_notes(act, onset_threshold=opts.onset_threshold, frame_threshold=opts.frame_threshold,
                                 min_note_frames=max(1, int(round(opts.min_note_ms / 1000 * notes.FRAME_RATE))))
        cleaned = cleanup.clean_notes(raw, act)
    else:
        raw = notes.decode_notes(act)
        cleaned = raw
    timings["notes"] = time.perf_counter() - t1
    if not cleaned:
        raise AudioError(f"{label}: has no detectable notes")

    t2 = time.perf_counter()
    rh = rhythm.estimate_rhythm(act, cleaned)
    if len(rh.beat_times_s) < 2 or duration < 60.0 / rh.tactus_bpm:
        raise AudioError(f"{label}: is shorter than one beat")
    key = tonality.estimate_key(
        [n.pitch for n in cleaned], [n.onset_s for n in cleaned], [n.offset_s for n in cleaned],
        [n.amplitude for n in cleaned],
    )
    n_parts = opts.n_parts or (len(programs) if programs else part_count.estimate_part_count(cleaned))
    voices = parts.separate_voices(cleaned, n_parts)
    guesses = instrument_model.guess(timbre.parts_features(spec.db, voices)) if spec is not None and voices else []
    timings["analysis"] = time.perf_counter() - t2

    names = _part_names(voices, programs, guesses)
    score_parts = []
    for i, voice in enumerate(voices):
        name, prog = names[i]
        score_parts.append(Part(name=name, program=prog, notes=[
            Note(pitch=n.pitch, onset_s=n.onset_s, offset_s=n.offset_s,
                 velocity=int(np.clip(round(20 + 107 * n.amplitude), 1, 127)))
            for n in voice
        ]))
    title = opts.title or (Path(source).stem if source else "Transcription")
    score = Score(parts=score_parts, tempo_qpm=round(rh.tempo_qpm, 1), meter=rh.meter, key=key.key, title=title,
                  beat_times_s=[round(b, 4) for b in rh.beat_times_s],
                  downbeat_times_s=[round(b, 4) for b in rh.downbeat_times_s], duration_s=duration)
    score = quantize_score(score)
    for p in score.parts:
        p.notes = make_voices_monophonic(p.notes)
    return Transcription(
        score=score, source=source, key_confidence=key.confidence, tempo_confidence=rh.tempo_confidence,
        meter_confidence=rh.meter_confidence, raw_note_count=len(raw), timings_s=timings,
        activations=act, notes_detected=cleaned, rhythm_estimate=rh, instrument_guesses=list(guesses),
    )


__all__ = ["Transcription", "TranscribeOptions", "transcribe", "FORMATS", "Key", "Meter"]
