"""Audio input: read a file (or take an array), downmix to mono, resample, and check it is usable.

Every problem a user can cause comes out as a one-line :class:`~musicllm.errors.AudioError` naming the
file: a missing file, a folder, an unsupported extension, a file that is not audio or is cut short in
its header, no channels, NaN or infinite samples, audio shorter than :data:`MIN_DURATION_S`, or audio
quieter than :data:`SILENCE_DBFS` (RMS). Any number of channels from 1 up is downmixed (their mean);
any sample rate is resampled with soxr.

:func:`load_audio` returns the whole signal; :func:`iter_audio_blocks` yields it in blocks so that memory
does not grow with the length of the file.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from musicllm.errors import AudioError, MissingDependencyError

#: Extensions read by libsndfile (through soundfile).
SOUNDFILE_EXTENSIONS = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif",
                        ".aifc", ".au", ".caf", ".w64", ".rf64")
#: Extensions that need ffmpeg (through audioread).
FFMPEG_EXTENSIONS = (".m4a", ".aac", ".mp4", ".wma")
SUPPORTED_AUDIO_EXTENSIONS = SOUNDFILE_EXTENSIONS + FFMPEG_EXTENSIONS

DEFAULT_SR = 22050
#: Shortest usable audio, in seconds.
MIN_DURATION_S = 0.5
#: Audio whose RMS level is below this (dBFS; a full-scale sine is -3 dBFS) counts as silent.
SILENCE_DBFS = -70.0
#: Frames read from the file at a time by :func:`load_audio`.
_READ_BLOCK = 1 << 18


@dataclass
class Audio:
    """Mono float32 samples at ``sr`` Hz, and the file they came from (``None`` for an array)."""

    samples: np.ndarray
    sr: int
    path: Path | None = None

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.sr) if self.sr else 0.0

    @property
    def label(self) -> str:
        """How messages name this audio: its path, or ``"audio array"``."""
        return str(self.path) if self.path is not None else "audio array"


def _supported_list() -> str:
    return ", ".join(SUPPORTED_AUDIO_EXTENSIONS)


def check_audio_path(path: str | os.PathLike) -> Path:
    """The path, after checking that it is an existing file with a supported extension."""
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a folder, not an audio file")
    if not p.is_file():
        raise AudioError(f"{p}: is not a regular file")
    ext = p.suffix.lower()
    if ext not in SUPPORTED_AUDIO_EXTENSIONS:
        shown = f"'{ext}'" if ext else "no extension"
        raise AudioError(f"{p}: unsupported audio format ({shown}); supported: {_supported_list()}")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: is empty (0 bytes)")
    return p


def _level_dbfs(sum_sq: float, n: int) -> float:
    if n <= 0 or sum_sq <= 0.0:
        return -math.inf
    return 10.0 * math.log10(sum_sq / n)


def _check_levels(label: str, n: int, sr: int, sum_sq: float) -> None:
    duration = n / float(sr) if sr else 0.0
    if duration < MIN_DURATION_S:
        raise AudioError(f"{label}: too short ({duration:.2f} s; at least {MIN_DURATION_S:g} s needed)")
    level = _level_dbfs(sum_sq, n)
    if level < SILENCE_DBFS:
        shown = "digital silence" if level == -math.inf else f"RMS {level:.1f} dBFS"
        raise AudioError(f"{label}: is silent ({shown}; below {SILENCE_DBFS:g} dBFS)")


def check_audio_content(audio: Audio) -> None:
    """Raise `AudioError` when ``audio`` is shorter than :data:`MIN_DURATION_S`, silent (RMS below
    :data:`SILENCE_DBFS`) or holds NaN / infinite samples."""
    x = audio.samples
    if x.size and not np.isfinite(x).all():
        raise AudioError(f"{audio.label}: contains NaN or infinite samples")
    sum_sq = float(np.dot(x.astype(np.float64, copy=False), x.astype(np.float64, copy=False))) if x.size else 0.0
    _check_levels(audio.label, len(x), audio.sr, sum_sq)


# ------------------------------------------------------------------------------- native decoding


def _sf_reason(exc: Exception) -> str:
    reason = getattr(exc, "error_string", None) or str(exc)
    reason = reason.strip().splitlines()[0] if reason.strip() else type(exc).__name__
    return reason.rstrip(".")


@contextmanager
def _open_native(path: Path, blocksize: int):
    """Yield ``(sr, channels, frames or None, blocks)`` where ``blocks`` iterates float32 arrays shaped
    (frames, channels) at the file's own rate."""
    if path.suffix.lower() in FFMPEG_EXTENSIONS:
        with _open_audioread(path, blocksize) as opened:
            yield opened
        return
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({_sf_reason(exc)})") from None
    with f:
        if f.channels < 1:
            raise AudioError(f"{path}: has no audio channels")
        if f.samplerate <= 0:
            raise AudioError(f"{path}: has no valid sample rate")

        def blocks() -> Iterator[np.ndarray]:
            try:
                while True:
                    data = f.read(blocksize, dtype="float32", always_2d=True)
                    if not len(data):
                        return
                    yield data
            except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
                raise AudioError(f"{path}: the audio data is damaged ({_sf_reason(exc)})") from None

        frames = f.frames if f.frames > 0 else None
        yield f.samplerate, f.channels, frames, blocks()


@contextmanager
def _open_audioread(path: Path, blocksize: int):
    try:
        import audioread
    except ImportError:  # pragma: no cover - audioread comes with librosa
        raise MissingDependencyError(f"{path}: reading {path.suffix} needs audioread and ffmpeg: "
                                     "pip install audioread; apt-get install ffmpeg") from None
    try:
        with warnings.catch_warnings():  # its backends import modules deprecated in Python 3.11
            warnings.simplefilter("ignore", DeprecationWarning)
            f = audioread.audio_open(str(path))
    except audioread.exceptions.NoBackendError:
        raise MissingDependencyError(f"{path}: reading {path.suffix} needs ffmpeg: apt-get install ffmpeg "
                                     "(or convert the file to .wav / .flac)") from None
    except (OSError, EOFError, audioread.exceptions.DecodeError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({exc})") from None
    with f:
        ch, sr = int(f.channels), int(f.samplerate)
        if ch < 1:
            raise AudioError(f"{path}: has no audio channels")

        def blocks() -> Iterator[np.ndarray]:
            pending: list[np.ndarray] = []
            have = 0
            try:
                for buf in f:
                    x = np.frombuffer(buf, dtype="<i2").astype(np.float32) / 32768.0
                    x = x[: len(x) - len(x) % ch].reshape(-1, ch)
                    pending.append(x)
                    have += len(x)
                    if have >= blocksize:
                        yield np.concatenate(pending)
                        pending, have = [], 0
            except (OSError, EOFError, audioread.exceptions.DecodeError) as exc:
                raise AudioError(f"{path}: the audio data is damaged ({exc})") from None
            if pending:
                yield np.concatenate(pending)

        frames = int(round(f.duration * sr)) if f.duration else None
        yield sr, ch, frames, blocks()


def _mono(block: np.ndarray, label: str) -> np.ndarray:
    if not np.isfinite(block).all():
        raise AudioError(f"{label}: contains NaN or infinite samples")
    if block.ndim == 1:
        return block.astype(np.float32, copy=False)
    if block.shape[1] == 1:
        return np.ascontiguousarray(block[:, 0], dtype=np.float32)
    return block.mean(axis=1, dtype=np.float32)


def _resample(x: np.ndarray, sr: int, target_sr: int | None) -> tuple[np.ndarray, int]:
    if not target_sr or int(target_sr) == int(sr) or not len(x):
        return x.astype(np.float32, copy=False), int(target_sr or sr)
    y = soxr.resample(x, sr, int(target_sr), quality="HQ")
    return np.asarray(y, dtype=np.float32), int(target_sr)


def _array_to_mono(data, label: str) -> np.ndarray:
    x = np.asarray(data)
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        x = (x.astype(np.float64) - (info.min + info.max + 1) / 2) / ((info.max - info.min + 1) / 2)
    elif x.dtype.kind != "f":
        raise AudioError(f"{label}: samples must be numbers, not {x.dtype}")
    if x.ndim == 1:
        return _mono(x.astype(np.float32, copy=False), label)
    if x.ndim != 2:
        raise AudioError(f"{label}: expected a 1-D or 2-D array of samples, got shape {x.shape}")
    # (frames, channels) as soundfile gives, or (channels, frames) as librosa gives: channels are the
    # shorter side (a side of length 0 counts as no channels).
    if x.shape[0] < x.shape[1]:
        x = x.T
    if x.shape[1] == 0 and x.shape[0] > 0:
        raise AudioError(f"{label}: has no audio channels")
    return _mono(x.astype(np.float32, copy=False), label)


def load_audio(path_or_array, sr: int | None = None, *, target_sr: int | None = DEFAULT_SR) -> Audio:
    """Load audio as mono float32 at ``target_sr`` Hz (``None`` keeps the source rate).

    ``path_or_array`` is a file path, or an array of samples (1-D, or 2-D with channels on the shorter
    side) whose rate ``sr`` must be given; ``sr`` is ignored for files. The result has passed
    :func:`check_audio_content`.
    """
    if isinstance(path_or_array, (str, os.PathLike)):
        path = check_audio_path(path_or_array)
        parts: list[np.ndarray] = []
        with _open_native(path, _READ_BLOCK) as (native_sr, _ch, _frames, blocks):
            for block in blocks:
                parts.append(_mono(block, str(path)))
        x = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        source_sr, label_path = int(native_sr), path
        label = str(path)
    else:
        if sr is None or not (isinstance(sr, (int, np.integer, float)) and sr > 0):
            raise ValueError("load_audio(array) needs the array's sample rate: sr=<Hz>")
        label = "audio array"
        x = _array_to_mono(path_or_array, label)
        source_sr, label_path = int(sr), None
    # Check length and level before resampling: cheaper, and the messages quote the source.
    sum_sq = float(np.dot(x.astype(np.float64), x.astype(np.float64))) if len(x) else 0.0
    _check_levels(label, len(x), source_sr, sum_sq)
    y, out_sr = _resample(x, source_sr, target_sr)
    return Audio(samples=y, sr=out_sr, path=label_path)


def iter_audio_blocks(path: str | os.PathLike, target_sr: int | None = DEFAULT_SR,
                      block_s: float = 30.0) -> Iterator[np.ndarray]:
    """Yield the file's audio as mono float32 blocks at ``target_sr`` Hz, about ``block_s`` seconds
    each, reading and resampling a block at a time (memory does not grow with the file's length).

    A missing, unreadable or too-short file fails before the first block; NaN samples fail at the
    block that holds them; a silent file fails (with `AudioError`) after its last block, since its
    level is known only then.
    """
    p = check_audio_path(path)
    if block_s <= 0:
        raise ValueError("block_s must be positive")
    with _open_native(p, 1 << 16) as (native_sr, _ch, frames, blocks):
        if frames is not None and frames / native_sr < MIN_DURATION_S:
            raise AudioError(f"{p}: too short ({frames / native_sr:.2f} s; at least {MIN_DURATION_S:g} s needed)")
        out_sr = int(target_sr or native_sr)
        stream = soxr.ResampleStream(native_sr, out_sr, 1, dtype="float32", quality="HQ") \
            if out_sr != native_sr else None
        want = max(1, int(round(block_s * out_sr)))
        pending: list[np.ndarray] = []
        have = 0
        n_in = 0
        sum_sq = 0.0
        for block in blocks:
            x = _mono(block, str(p))
            n_in += len(x)
            sum_sq += float(np.dot(x.astype(np.float64), x.astype(np.float64)))
            y = stream.resample_chunk(x) if stream is not None else x
            if len(y):
                pending.append(np.asarray(y, dtype=np.float32))
                have += len(y)
            while have >= want:
                joined = np.concatenate(pending)
                yield joined[:want]
                rest = joined[want:]
                pending, have = ([rest] if len(rest) else []), len(rest)
        if stream is not None:
            tail = stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            if len(tail):
                pending.append(np.asarray(tail, dtype=np.float32))
        if pending:
            last = np.concatenate(pending)
            if len(last):
                yield last
        _check_levels(str(p), n_in, native_sr, sum_sq)


def find_audio_files(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Expand folders (not recursively, sorted, hidden files skipped) into their audio files; check
    that named files exist and have a supported extension. Raises `AudioError` for a folder with no
    audio file in it."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: list[Path] = []
    seen: set[Path] = set()
    for item in paths:
        p = Path(item)
        if p.is_dir():
            files = sorted(
                (c for c in p.iterdir()
                 if c.is_file() and not c.name.startswith(".") and c.suffix.lower() in SUPPORTED_AUDIO_EXTENSIONS),
                key=lambda c: c.name,
            )
            if not files:
                raise AudioError(f"{p}: folder has no audio files (supported: {_supported_list()})")
        else:
            files = [check_audio_path(p)]
        for f in files:
            if f not in seen:
                seen.add(f)
                found.append(f)
    return found
