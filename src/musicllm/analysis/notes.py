"""Frame-level pitch activations and raw note events from basic-pitch's ONNX model.

basic-pitch (Spotify, Apache-2.0) ships its ICASSP 2022 model as ``nmp.onnx`` inside the wheel. We run
it with onnxruntime directly and reproduce basic-pitch's own windowing exactly (2 s windows of
43,844 samples at 22,050 Hz, 30 overlapping frames, half of them trimmed on each side), so the
activations are identical to ``basic_pitch.inference.run_inference``. Differences from that function:

- audio arrives as a stream of blocks (see ``musicllm.audio.load.iter_audio_blocks``): memory grows
  only with the activation matrices (88 pitches x 2 x 86 frames/s x 4 bytes, about 3.6 MB per
  minute), not with the audio;
- windows are batched through the ONNX session;
- the 264-bin contour output (pitch bends) is dropped.

Times: frame ``i`` is at ``frame_times(n)[i]`` seconds (basic-pitch's own frame -> time mapping).
Pitches: MIDI numbers 21..108 (column ``j`` is MIDI ``21 + j``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SAMPLE_RATE = 22050
FFT_HOP = 256
WINDOW_SAMPLES = SAMPLE_RATE * 2 - FFT_HOP  # 43,844
FRAMES_PER_WINDOW = 172
OVERLAP_FRAMES = 30
OVERLAP_SAMPLES = OVERLAP_FRAMES * FFT_HOP
HOP_SAMPLES = WINDOW_SAMPLES - OVERLAP_SAMPLES
FRAME_RATE = SAMPLE_RATE / FFT_HOP  # ~86.13 frames per second
MIDI_OFFSET = 21
N_PITCHES = 88
BATCH = 4

# basic-pitch's predict() defaults ("raw basic-pitch" in our benchmarks).
DEFAULT_ONSET_THRESHOLD = 0.5
DEFAULT_FRAME_THRESHOLD = 0.3
DEFAULT_MIN_NOTE_FRAMES = 11  # 127.7 ms


@dataclass
class Activations:
    """Model outputs: ``frames`` and ``onsets`` are (n_frames, 88) arrays in [0, 1]."""

    frames: np.ndarray
    onsets: np.ndarray
    n_samples: int

    @property
    def duration_s(self) -> float:
        return self.n_samples / SAMPLE_RATE

    def frame_times(self) -> np.ndarray:
        return frame_times(self.frames.shape[0])


@dataclass
class RawNote:
    """A note event straight from the decoder: seconds, MIDI pitch, amplitude in [0, 1]."""

    onset_s: float
    offset_s: float
    pitch: int
    amplitude: float


def frame_times(n_frames: int) -> np.ndarray:
    """basic-pitch's frame index -> seconds mapping (includes its per-window offset correction)."""
    from musicllm.analysis.note_decoder import model_frames_to_time

    return model_frames_to_time(n_frames)


def model_path() -> str:
    """Path of basic-pitch's ONNX model inside its installed package (without importing basic_pitch,
    whose import pulls TensorFlow probes, mir_eval and numba)."""
    import importlib.util

    spec = importlib.util.find_spec("basic_pitch")
    if spec is None or not spec.submodule_search_locations:
        from musicllm.errors import MissingDependencyError

        raise MissingDependencyError(
            "basic-pitch is not installed: run `pip install --no-deps basic-pitch==0.4.0 onnxruntime`")
    from pathlib import Path

    return str(Path(list(spec.submodule_search_locations)[0]) / "saved_models" / "icassp_2022" / "nmp.onnx")


@lru_cache(maxsize=1)
def _session():  # -> onnxruntime.InferenceSession
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - install problem
        from musicllm.errors import MissingDependencyError

        raise MissingDependencyError("onnxruntime is missing: run `pip install onnxruntime==1.31.1`") from exc
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model_path(), sess_options=opts,
                                providers=["CPUExecutionProvider"])


def _windows(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Cut a stream of mono 22,050 Hz blocks into basic-pitch's overlapping windows (zero-padded)."""
    buf = np.zeros(OVERLAP_SAMPLES // 2, dtype=np.float32)  # basic-pitch pads half an overlap in front
    for block in blocks:
        buf = np.concatenate([buf, np.asarray(block, dtype=np.float32)])
        while len(buf) >= WINDOW_SAMPLES:
            yield buf[:WINDOW_SAMPLES]
            buf = buf[HOP_SAMPLES:]
    # Remaining partial windows, as basic-pitch's window_audio_file does (it steps through every hop).
    while len(buf) > 0:
        yield np.pad(buf[:WINDOW_SAMPLES], (0, max(0, WINDOW_SAMPLES - len(buf))))
        if len(buf) <= HOP_SAMPLES:
            break
        buf = buf[HOP_SAMPLES:]


def _n_windows_basic_pitch(n_samples: int) -> int:
    padded = n_samples + OVERLAP_SAMPLES // 2
    return max(1, -(-padded // HOP_SAMPLES))


def compute_activations(blocks: Iterable[np.ndarray], progress=None) -> Activations:
    """Run the model over a stream of mono float32 blocks at 22,050 Hz.

    ``progress``: optional callable(seconds_done) called after each batch.
    """
    sess = _session()
    input_name = sess.get_inputs()[0].name
    outs = [o.name for o in sess.get_outputs()]
    # Outputs are named StatefulPartitionedCall:0 (contour), :1 (note frames), :2 (onsets).
    want = ["StatefulPartitionedCall:1", "StatefulPartitionedCall:2"]
    assert all(w in outs for w in want)
    n_samples = 0
    frames_parts: list[np.ndarray] = []
    onset_parts: list[np.ndarray] = []
    batch: list[np.ndarray] = []
    n_olap = OVERLAP_FRAMES // 2

    def counting(blocks_in: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        nonlocal n_samples
        for b in blocks_in:
            n_samples += len(b)
            yield b

    def flush() -> None:
        x = np.stack(batch)[:, :, None]
        f, o = sess.run(want, {input_name: x})
        frames_parts.append(f[:, n_olap:-n_olap, :].reshape(-1, N_PITCHES))
        onset_parts.append(o[:, n_olap:-n_olap, :].reshape(-1, N_PITCHES))
        batch.clear()
        if progress is not None:
            progress(sum(len(p) for p in frames_parts) / FRAME_RATE)

    for win in _windows(counting(blocks)):
        batch.append(win)
        if len(batch) == BATCH:
            flush()
    if batch:
        flush()
    # basic-pitch trims with its integer ANNOTATIONS_FPS (86), not the exact frame rate.
    n_keep = int(np.floor(n_samples * ((SAMPLE_RATE // FFT_HOP) / SAMPLE_RATE)))
    frames = np.concatenate(frames_parts)[:n_keep] if frames_parts else np.zeros((0, N_PITCHES), np.float32)
    onsets = np.concatenate(onset_parts)[:n_keep] if onset_parts else np.zeros((0, N_PITCHES), np.float32)
    return Activations(frames=frames, onsets=onsets, n_samples=n_samples)


def decode_notes(
    act: Activations,
    *,
    onset_threshold: float = DEFAULT_ONSET_THRESHOLD,
    frame_threshold: float = DEFAULT_FRAME_THRESHOLD,
    min_note_frames: int = DEFAULT_MIN_NOTE_FRAMES,
    melodia_trick: bool = True,
) -> list[RawNote]:
    """basic-pitch's own polyphonic note decoder on our activations (its defaults = raw basic-pitch)."""
    from musicllm.analysis.note_decoder import output_to_notes_polyphonic

    if act.frames.shape[0] < 2:
        return []
    events = output_to_notes_polyphonic(
        act.frames, act.onsets, onset_thresh=onset_threshold, frame_thresh=frame_threshold,
        min_note_len=min_note_frames, infer_onsets=True, melodia_trick=melodia_trick,
    )
    times = act.frame_times()
    notes = [
        RawNote(float(times[s]), float(times[min(e, len(times) - 1)]), int(p), float(a))
        for s, e, p, a in events
    ]
    notes.sort(key=lambda n: (n.onset_s, n.pitch))
    return notes
