"""Activations and note decoding: identical to basic-pitch's own functions."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import sequence

from musicllm.analysis import note_decoder, notes


@pytest.fixture(scope="module")
def melody() -> np.ndarray:
    rng = np.random.default_rng(0)
    ev = [(0.25 + 0.4 * i, 0.35, int(rng.integers(55, 80))) for i in range(16)]
    return sequence(ev, 7.3)


def test_streaming_blocks_do_not_change_activations(melody):
    whole = notes.compute_activations([melody])
    blocks = notes.compute_activations([melody[i : i + 7001] for i in range(0, len(melody), 7001)])
    assert whole.frames.shape == blocks.frames.shape
    np.testing.assert_allclose(whole.frames, blocks.frames, atol=1e-6)


def test_activations_and_notes_match_basic_pitch(melody, tmp_path):
    pytest.importorskip("basic_pitch")
    import soundfile as sf
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import predict, run_inference

    wav = tmp_path / "m.wav"
    sf.write(wav, melody, 22050, subtype="FLOAT")
    ref = run_inference(str(wav), ICASSP_2022_MODEL_PATH)
    act = notes.compute_activations([melody])
    assert ref["note"].shape == act.frames.shape
    np.testing.assert_allclose(ref["note"], act.frames, atol=1e-5)
    np.testing.assert_allclose(ref["onset"], act.onsets, atol=1e-5)
    _, _, events = predict(str(wav))
    theirs = sorted((round(s, 6), round(e, 6), int(p)) for s, e, p, *_ in events)
    ours = sorted((round(n.onset_s, 6), round(n.offset_s, 6), n.pitch) for n in notes.decode_notes(act))
    assert ours == theirs
    assert len(ours) >= 14  # the 16 notes, give or take the decoder's own misses


def test_ported_decoder_equals_original_on_random_activations():
    nc = pytest.importorskip("basic_pitch.note_creation")
    rng = np.random.default_rng(1)
    for _ in range(3):
        frames = (rng.random((400, 88)) ** 6).astype(np.float32)
        onsets = (rng.random((400, 88)) ** 8).astype(np.float32)
        for melodia in (True, False):
            a = note_decoder.output_to_notes_polyphonic(frames, onsets, 0.5, 0.3, 11, True, melodia)
            b = nc.output_to_notes_polyphonic(frames.copy(), onsets.copy(), 0.5, 0.3, 11, True, None, None, melodia)
            assert [(s, e, p) for s, e, p, _ in a] == [(int(s), int(e), int(p)) for s, e, p, _ in b]
            np.testing.assert_allclose([x[3] for x in a], [x[3] for x in b], rtol=1e-6)
    np.testing.assert_allclose(note_decoder.model_frames_to_time(1000), nc.model_frames_to_time(1000))
