"""SoundFont rendering (musicllm.audio.render) and acoustic effects (musicllm.audio.effects)."""

from __future__ import annotations

import numpy as np
import pytest

from musicllm.audio import effects
from musicllm.audio.render import (
    audible_pitches,
    available_soundfonts,
    mix_stems,
    render_length,
    render_parts,
    render_score,
    write_wav,
)
from musicllm.score.model import Note, Part, Score

SR = 22050
FONT = "TimGM6mb"  # bundled with pretty_midi: always there, loads in milliseconds


def _score(onsets, program=0, pitch=60, dur=0.2):
    return Score(parts=[Part("p", program, [Note(pitch + i % 5, t, t + dur, 90) for i, t in enumerate(onsets)])])


def test_timgm_is_always_available():
    fonts = available_soundfonts()
    assert FONT in fonts and fonts[FONT].endswith("TimGM6mb.sf2")
    assert len(set(fonts.values())) == len(fonts)  # symlinks listed once


def test_render_length_level_and_onsets():
    onsets = [0.3 + 0.5 * i for i in range(8)]
    score = _score(onsets)
    x = render_score(score, soundfont=FONT, sr=SR, tail_s=0.7)
    assert x.dtype == np.float32 and x.ndim == 1
    assert len(x) == render_length(score, SR, 0.7) == int(np.ceil((onsets[-1] + 0.2 + 0.7) * SR))
    assert 0.01 < np.abs(x).max() <= 1.0
    # Before the first note: silence.
    assert np.abs(x[: int(0.28 * SR)]).max() < 1e-4
    # Each onset: the 40 ms after it hold far more energy than the 40 ms ending 10 ms before it.
    for t in onsets:
        i = int(t * SR)
        after = np.mean(x[i: i + int(0.04 * SR)] ** 2)
        before = np.mean(x[i - int(0.05 * SR): i - int(0.01 * SR)] ** 2)
        assert after > 4 * before + 1e-9, t


def test_energy_onset_detection_matches_notes():
    onsets = [0.25, 0.6, 1.1, 1.35, 2.0]
    x = render_score(_score(onsets, dur=0.15), soundfont=FONT, sr=SR)
    hop = int(0.005 * SR)
    env = np.sqrt(np.convolve(x.astype(np.float64) ** 2, np.ones(hop) / hop, "same"))[::hop]
    logenv = np.log(env + 1e-5)
    rise = logenv[4:] - logenv[:-4]  # level change over 20 ms
    peaks = [i for i in range(1, len(rise) - 1)
             if rise[i] > 1.0 and rise[i] >= rise[i - 1] and rise[i] > rise[i + 1]]
    found = (np.array(peaks) + 2) * hop / SR
    # Merge detections closer than 50 ms.
    found = np.array([t for k, t in enumerate(found) if k == 0 or t - found[k - 1] > 0.05])
    assert len(found) == len(onsets), found
    for t in onsets:
        assert np.min(np.abs(found - t)) < 0.02, (t, found)


def test_render_is_deterministic_and_parts_sum_to_mix():
    score = Score(parts=[Part("a", 40, [Note(67, 0.1, 0.9, 80)]), Part("b", 42, [Note(48, 0.2, 1.0, 70)])])
    a = render_score(score, soundfont=FONT)
    render_score(_score([0.0, 0.1]), soundfont=FONT)  # another render in between must not leak
    b = render_score(score, soundfont=FONT)
    assert np.array_equal(a, b)
    stems = render_parts(score, soundfont=FONT)
    assert len(stems) == 2 and all(len(s) == len(a) for s in stems)
    np.testing.assert_allclose(stems[0] + stems[1], a, atol=1e-6)
    balanced = mix_stems(stems, SR, balance=True)
    assert len(balanced) == len(a) and np.isfinite(balanced).all()


def test_empty_score_renders_tail_only():
    x = render_score(Score(), soundfont=FONT, tail_s=0.5)
    assert len(x) == int(np.ceil(0.5 * SR)) and not x.any()


def test_audible_pitches():
    piano = audible_pitches(FONT, 0)
    assert set(range(36, 97)) <= piano


def test_write_wav_roundtrip(tmp_path):
    import soundfile as sf

    x = (0.5 * np.sin(np.arange(SR) / SR * 2 * np.pi * 440)).astype(np.float32)
    path = write_wav(tmp_path / "a.wav", x, SR)
    y, sr = sf.read(path, dtype="float32")
    assert sr == SR and len(y) == len(x) and np.abs(y - x).max() < 1e-4
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


# --- effects ---------------------------------------------------------------------------------------

@pytest.fixture
def music():
    return render_score(_score([0.2 + 0.25 * i for i in range(12)], program=40), soundfont=FONT)


def test_effects_keep_length_and_are_seeded(music):
    for fn in (lambda x, r: effects.add_reverb(x, SR, 0.8, 0.3, r),
               lambda x, r: effects.add_noise(x, 25.0, r),
               lambda x, r: effects.random_eq(x, SR, r)):
        y1 = fn(music, np.random.default_rng(1))
        y2 = fn(music, np.random.default_rng(1))
        y3 = fn(music, np.random.default_rng(2))
        assert y1.dtype == np.float32 and len(y1) == len(music)
        assert np.isfinite(y1).all()
        assert np.array_equal(y1, y2) and not np.array_equal(y1, y3)


@pytest.mark.parametrize("color", ["pink", "white", "brown"])
@pytest.mark.parametrize("snr_db", [20.0, 35.0])
def test_add_noise_respects_snr(music, color, snr_db):
    y = effects.add_noise(music, snr_db, np.random.default_rng(0), color)
    noise = y.astype(np.float64) - music
    measured = effects.power_db(music) - effects.power_db(noise)
    assert abs(measured - snr_db) < 0.05


def test_reverb_keeps_the_direct_sound_in_place():
    x = np.zeros(SR, dtype=np.float32)
    x[1000] = 1.0
    y = effects.add_reverb(x, SR, 0.5, 0.3, np.random.default_rng(0))
    assert int(np.argmax(np.abs(y))) == 1000
    assert np.abs(y[:1000]).max() < 1e-9  # causal (FFT convolution rounding only)
    tail = y[1000 + int(0.6 * SR):]
    early = y[1000 + int(0.02 * SR): 1000 + int(0.1 * SR)]
    assert np.mean(tail ** 2) < 1e-4 * np.mean(early ** 2)  # decays ~60 dB by rt60


def test_rir_has_unit_energy():
    h = effects.synthetic_rir(SR, 1.2, np.random.default_rng(3))
    assert abs(float(np.sum(h.astype(np.float64) ** 2)) - 1.0) < 1e-4
    assert len(h) == int(1.2 * 1.2 * SR)


def test_normalize_peak_and_fade():
    x = np.array([0.0, 0.25, -0.5, 0.1], dtype=np.float32)
    y = effects.normalize_peak(x, -6.0)
    assert abs(np.abs(y).max() - 10 ** (-6 / 20)) < 1e-6
    assert not effects.normalize_peak(np.zeros(4, np.float32)).any()
    z = effects.fade_out(np.ones(SR, np.float32), SR, 0.1)
    assert z[-1] == 0.0 and z[0] == 1.0


def test_eq_is_gentle():
    params = effects.random_eq_params(np.random.default_rng(5))
    resp = effects.eq_response_db(np.array([250.0, 500.0, 1000.0, 2000.0]), params)
    assert np.all(np.abs(resp) < 12.0)
