import struct

import numpy as np
import pytest
import soundfile as sf

from musicllm.audio.load import (
    SUPPORTED_AUDIO_EXTENSIONS,
    Audio,
    check_audio_content,
    find_audio_files,
    iter_audio_blocks,
    load_audio,
)
from musicllm.errors import AudioError, MusicLLMError


def _sine(freq=440.0, sr=22050, seconds=1.0, amp=0.5, channels=1):
    t = np.arange(int(sr * seconds)) / sr
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return x if channels == 1 else np.stack([x] * channels, axis=1)


def _peak_hz(x, sr):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spec) * sr / len(x)


def _write(path, data, sr, **kw):
    sf.write(str(path), data, sr, **kw)
    return path


def test_loads_wav_as_mono_float32_at_target_rate(tmp_path):
    path = _write(tmp_path / "a.wav", _sine(sr=44100, channels=2), 44100)
    a = load_audio(path)
    assert isinstance(a, Audio) and a.sr == 22050 and a.path == path
    assert a.samples.dtype == np.float32 and a.samples.ndim == 1
    assert a.duration_s == pytest.approx(1.0, abs=1e-3)
    assert _peak_hz(a.samples, a.sr) == pytest.approx(440, abs=2)
    keep = load_audio(path, target_sr=None)
    assert keep.sr == 44100 and len(keep.samples) == 44100


@pytest.mark.parametrize("sr,freq", [(8000, 440.0), (192000, 1000.0)])
def test_low_and_high_sample_rates_resample_cleanly(tmp_path, sr, freq):
    path = _write(tmp_path / f"r{sr}.wav", _sine(freq, sr=sr, seconds=2.0), sr, subtype="PCM_24")
    a = load_audio(path)
    assert a.sr == 22050 and len(a.samples) == pytest.approx(44100, abs=2)
    assert _peak_hz(a.samples, a.sr) == pytest.approx(freq, abs=2)
    core = a.samples[2000:-2000]
    # Level kept (RMS of a 0.5 sine is 0.354) and no added noise: compare with an ideal sine.
    assert np.sqrt(np.mean(core**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    ideal = _sine(freq, sr=22050, seconds=2.0)[2000:-2000]
    shift = np.argmax(np.correlate(core[:2000], ideal[:2000], "full")) - 1999
    assert abs(shift) <= 1
    err = core - ideal
    assert 10 * np.log10(np.mean(err**2) / np.mean(ideal**2)) < -40


def test_eight_channels_are_downmixed(tmp_path):
    data = np.zeros((22050, 8), dtype=np.float32)
    data[:, 3] = _sine(sr=22050) * 2  # one loud channel among silent ones
    a = load_audio(_write(tmp_path / "surround.wav", data, 22050))
    np.testing.assert_allclose(a.samples, data.mean(axis=1), atol=1e-4)


def test_other_formats(tmp_path):
    for name, kw in [("a.flac", {}), ("a.ogg", {"format": "OGG", "subtype": "VORBIS"}),
                     ("a.mp3", {"format": "MP3", "subtype": "MPEG_LAYER_III"}), ("a.aiff", {})]:
        a = load_audio(_write(tmp_path / name, _sine(sr=44100), 44100, **kw))
        assert a.duration_s == pytest.approx(1.0, abs=0.06), name
        assert _peak_hz(a.samples, a.sr) == pytest.approx(440, abs=3), name


def test_missing_folder_and_unsupported(tmp_path):
    with pytest.raises(AudioError, match=r"nope\.wav: no such file"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="is a folder"):
        load_audio(tmp_path)
    (tmp_path / "notes.txt").write_text("la la la")
    with pytest.raises(AudioError, match=r"notes\.txt: unsupported audio format \('\.txt'\); supported: \.wav"):
        load_audio(tmp_path / "notes.txt")
    (tmp_path / "noext").write_bytes(b"RIFF")
    with pytest.raises(AudioError, match="no extension"):
        load_audio(tmp_path / "noext")


def test_text_file_named_wav(tmp_path):
    (tmp_path / "fake.wav").write_text("this is not audio\n" * 10)
    with pytest.raises(AudioError, match=r"fake\.wav: not a readable audio file"):
        load_audio(tmp_path / "fake.wav")


def test_truncated_files(tmp_path):
    good = _write(tmp_path / "good.wav", _sine(seconds=2.0), 22050).read_bytes()
    (tmp_path / "header.wav").write_bytes(good[:30])
    with pytest.raises(AudioError, match=r"header\.wav"):
        load_audio(tmp_path / "header.wav")
    # Cut in the data: what is there is used (or the file is refused), never a crash.
    (tmp_path / "half.wav").write_bytes(good[: len(good) // 2])
    a = load_audio(tmp_path / "half.wav")
    assert a.duration_s == pytest.approx(1.0, abs=0.01)
    flac = _write(tmp_path / "good.flac", _sine(seconds=2.0), 22050).read_bytes()
    (tmp_path / "half.flac").write_bytes(flac[: len(flac) // 2])
    try:
        a = load_audio(tmp_path / "half.flac")
        assert 0.5 <= a.duration_s <= 2.0
    except AudioError as exc:
        assert "half.flac" in str(exc)


def test_zero_channels(tmp_path):
    # A WAV header that claims 0 channels.
    fmt = struct.pack("<HHIIHH", 1, 0, 22050, 0, 0, 16)
    data = b"\x00" * 100
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    (tmp_path / "zero.wav").write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    with pytest.raises(AudioError, match=r"zero\.wav"):
        load_audio(tmp_path / "zero.wav")
    with pytest.raises(AudioError, match="no audio channels"):
        load_audio(np.zeros((22050, 0), dtype=np.float32), sr=22050)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_samples(tmp_path, bad):
    x = _sine()
    x[1000] = bad
    path = _write(tmp_path / "nan.wav", x, 22050, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav: contains NaN or infinite samples"):
        load_audio(path)
    with pytest.raises(AudioError, match="NaN"):
        load_audio(x, sr=22050)
    with pytest.raises(AudioError, match="NaN"):
        list(iter_audio_blocks(path))


def test_silence_and_quiet(tmp_path):
    with pytest.raises(AudioError, match=r"zeros\.wav: is silent \(digital silence"):
        load_audio(_write(tmp_path / "zeros.wav", np.zeros(22050 * 2, dtype=np.float32), 22050))
    rng = np.random.default_rng(0)
    quiet = (rng.standard_normal(22050 * 2) * 10 ** (-80 / 20)).astype(np.float32)  # -80 dBFS RMS
    with pytest.raises(AudioError, match=r"quiet\.wav: is silent \(RMS -80"):
        load_audio(_write(tmp_path / "quiet.wav", quiet, 22050, subtype="FLOAT"))
    soft = quiet * 10 ** (20 / 20)  # -60 dBFS: soft, but usable
    assert load_audio(_write(tmp_path / "soft.wav", soft, 22050, subtype="FLOAT")).duration_s == pytest.approx(2)
    with pytest.raises(AudioError, match="is silent"):
        list(iter_audio_blocks(tmp_path / "zeros.wav"))


def test_too_short(tmp_path):
    with pytest.raises(AudioError, match=r"short\.wav: too short \(0\.30 s"):
        load_audio(_write(tmp_path / "short.wav", _sine(seconds=0.3), 22050))
    with pytest.raises(AudioError, match=r"empty\.wav: too short \(0\.00 s"):
        load_audio(_write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 22050))
    with pytest.raises(AudioError, match="too short"):
        next(iter_audio_blocks(tmp_path / "short.wav"))
    with pytest.raises(AudioError, match="audio array: too short"):
        load_audio(_sine(seconds=0.2), sr=22050)


def test_check_audio_content():
    check_audio_content(Audio(_sine(), 22050))
    with pytest.raises(AudioError, match="audio array: is silent"):
        check_audio_content(Audio(np.zeros(22050, dtype=np.float32), 22050))
    with pytest.raises(AudioError, match="too short"):
        check_audio_content(Audio(_sine(seconds=0.1), 22050))


def test_array_input():
    stereo = _sine(sr=44100, channels=2)
    a = load_audio(stereo, sr=44100)
    b = load_audio(stereo.T, sr=44100)  # librosa's (channels, frames) layout
    assert a.sr == b.sr == 22050 and a.path is None
    np.testing.assert_allclose(a.samples, b.samples)
    ints = (stereo[:, 0] * 32767).astype(np.int16)
    c = load_audio(ints, sr=44100)
    np.testing.assert_allclose(c.samples, a.samples, atol=1e-3)
    with pytest.raises(ValueError, match="sr="):
        load_audio(stereo)


def test_m4a_without_a_decoder_is_a_clean_error(tmp_path):
    (tmp_path / "song.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A " + b"\x00" * 100)
    with pytest.raises(MusicLLMError, match=r"song\.m4a"):
        load_audio(tmp_path / "song.m4a")


def test_iter_audio_blocks_matches_load(tmp_path):
    sr = 44100
    x = _sine(220.0, sr=sr, seconds=12.5, channels=2)
    path = _write(tmp_path / "long.flac", x, sr)
    blocks = list(iter_audio_blocks(path, 22050, block_s=5.0))
    assert [len(b) for b in blocks[:2]] == [5 * 22050, 5 * 22050]
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    streamed = np.concatenate(blocks)
    whole = load_audio(path).samples
    assert len(streamed) == pytest.approx(len(whole), abs=2)
    n = min(len(streamed), len(whole))
    assert np.max(np.abs(streamed[100:n - 100] - whole[100:n - 100])) < 1e-3
    same_rate = np.concatenate(list(iter_audio_blocks(path, None, block_s=5.0)))
    assert len(same_rate) == len(x)


def test_find_audio_files(tmp_path):
    for name in ["b.wav", "a.flac", "notes.txt", ".hidden.wav", "c.MP3"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.wav").write_bytes(b"x")
    found = find_audio_files([tmp_path])
    assert [p.name for p in found] == ["a.flac", "b.wav", "c.MP3"]
    assert find_audio_files(tmp_path / "b.wav") == [tmp_path / "b.wav"]
    assert find_audio_files([tmp_path / "b.wav", tmp_path]) == [tmp_path / "b.wav", tmp_path / "a.flac",
                                                               tmp_path / "c.MP3"]
    with pytest.raises(AudioError, match=r"sub2: folder has no audio files"):
        (tmp_path / "sub2").mkdir()
        find_audio_files([tmp_path / "sub2"])
    with pytest.raises(AudioError, match="no such file"):
        find_audio_files([tmp_path / "missing.wav"])
    with pytest.raises(AudioError, match="unsupported"):
        find_audio_files([tmp_path / "notes.txt"])
    assert ".wav" in SUPPORTED_AUDIO_EXTENSIONS and ".mp3" in SUPPORTED_AUDIO_EXTENSIONS
