"""The torch port of musicnn against the original TensorFlow musicnn, and its input pipeline and loading.

``fixtures/musicnn_reference.json`` holds the original musicnn 0.1.0 (TensorFlow 2.15) tag scores of six
short clips (made by ``fixtures/make_musicnn_reference.py`` in a scratch environment).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from tf_bundle_writer import write_bundle

from musicllm.errors import MissingDependencyError, MusicLLMError
from musicllm.models.taggers import musicnn as mn
from musicllm.models.taggers.convert_musicnn import convert_model
from musicllm.models.taggers.convert_musicnn import main as convert_main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFERENCE = json.loads((FIXTURES / "musicnn_reference.json").read_text())
#: Agreement bound on tag probabilities. Measured: at most 3e-6 (float32 round-off, different BLAS).
TOL = 1e-4


def _clip(entry: dict) -> tuple[np.ndarray, int]:
    path = ROOT / entry["file"]
    y, sr = sf.read(path, frames=entry["samples"], dtype="float32")
    assert len(y) == entry["samples"] and sr == entry["sr"]
    return y, sr


@pytest.mark.parametrize("clip", sorted(REFERENCE["clips"]))
def test_agrees_with_original_musicnn(clip: str) -> None:
    entry = REFERENCE["clips"][clip]
    y, sr = _clip(entry)
    for model in ("MTT_musicnn", "MSD_musicnn"):
        tagger = mn.load_musicnn(model)
        assert list(tagger.labels) == REFERENCE["meta"]["labels"][model]
        _, taggram = tagger.taggram(y, sr)
        want_taggram = np.array(entry["taggram"][model])
        assert taggram.shape == want_taggram.shape  # same patching (3-s patches, no overlap)
        np.testing.assert_allclose(taggram, want_taggram, atol=TOL, rtol=0)
        ours, theirs = taggram.mean(axis=0), np.array(entry[model])
        np.testing.assert_allclose(ours, theirs, atol=TOL, rtol=0)
        assert list(np.argsort(-ours)[:5]) == list(np.argsort(-theirs)[:5])  # top-5 tags, in order


def test_fast_path_equals_direct_convolutions() -> None:
    tagger = mn.load_musicnn("MTT_musicnn")
    x = torch.from_numpy(np.random.default_rng(0).normal(2.0, 1.0, (2, 187, 96)).astype(np.float32))
    with torch.inference_mode():
        fast = tagger.net.features(x, fast=True)
        direct = tagger.net.features(x, fast=False)
    for key in ("timbral", "temporal", "penultimate", "logits"):
        np.testing.assert_allclose(fast[key].numpy(), direct[key].numpy(), atol=1e-4, rtol=1e-5)
    assert fast["timbral"].shape == (2, 187, 408) and fast["temporal"].shape == (2, 187, 153)
    assert fast["mean_pool"].shape == (2, 753) and fast["penultimate"].shape == (2, 200)


def test_log_mel_is_librosas_mel_then_musicnns_float16_log() -> None:
    import librosa

    np.testing.assert_array_equal(mn.mel_filterbank(), librosa.filters.mel(sr=16000, n_fft=512, n_mels=96))
    y = np.random.default_rng(1).normal(0, 0.1, mn.SR + 100).astype(np.float32)
    got = mn.log_mel(y)
    mel = librosa.feature.melspectrogram(y=y, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
    np.testing.assert_allclose(mn.mel_power(y), mel, rtol=1e-6, atol=0)
    assert got.shape == (1 + len(y) // mn.HOP, 96) and got.dtype == np.float32
    want = np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got, np.log10(10000 * mel + 1))  # the float16 rounding is kept


def test_patching_rules() -> None:
    spec = np.arange(600 * 96, dtype=np.float32).reshape(600, 96)
    patches = mn.make_patches(spec)
    assert patches.shape == (3, 187, 96)  # 600 frames: 3 full patches, the partial 4th dropped
    np.testing.assert_array_equal(patches[1], spec[187:374])
    assert mn.make_patches(spec, hop_frames=61).shape[0] == len(range(0, 600 - 187 + 1, 61))
    short = mn.make_patches(spec[:50])  # shorter than a patch: repeated to fill it
    assert short.shape == (1, 187, 96)
    np.testing.assert_array_equal(short[0, 50:100], spec[:50])
    with pytest.raises(MusicLLMError):
        mn.make_patches(np.zeros((10, 40), np.float32))
    assert mn.PATCH_FRAMES == 187 and abs(mn.PATCH_SECONDS - 2.992) < 1e-9


def test_resampling_matches_librosa_load(tmp_path: Path) -> None:
    import librosa

    y = (np.random.default_rng(2).normal(0, 0.1, (2, 22050))).astype(np.float32)
    path = tmp_path / "x.wav"
    sf.write(path, y.T, 22050, subtype="FLOAT")
    want, _ = librosa.load(path, sr=16000)
    np.testing.assert_allclose(mn.to_model_rate(y, 22050), want, atol=1e-7, rtol=0)
    assert mn.to_model_rate(y[0], 16000) is not y[0] and np.array_equal(mn.to_model_rate(y[0], 16000), y[0])


def _random_tf_vars(model: str) -> dict[str, np.ndarray]:
    """TF-layout variables of the right shapes, from the shipped weights (inverse of the mapping)."""
    net = mn.load_musicnn(model).net
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    rng = np.random.default_rng(5)
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(mn._BN_NAMES):
        s = mn._tf_scope("batch_normalization", i)
        for tf_key, key in (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"),
                            ("moving_variance", "running_var")):
            out[f"{s}/{tf_key}"] = np.abs(rng.normal(size=sd[f"{name}.{key}"].shape)).astype(np.float32) + 0.5
    for i, name in enumerate(mn._CONV_NAMES):
        s = mn._tf_scope("conv2d", i)
        w = sd[f"{name}.weight"]
        shape = (w.shape[2], w.shape[1], 1, w.shape[0]) if name.startswith("mid.") else \
            (w.shape[2], w.shape[3], w.shape[1], w.shape[0])
        out[f"{s}/kernel"] = rng.normal(size=shape).astype(np.float32) * 0.05
        out[f"{s}/bias"] = rng.normal(size=w.shape[0]).astype(np.float32) * 0.05
    for i, name in enumerate(mn._DENSE_NAMES):
        s = mn._tf_scope("dense", i)
        w = sd[f"{name}.weight"]
        out[f"{s}/kernel"] = rng.normal(size=w.shape[::-1]).astype(np.float32) * 0.05
        out[f"{s}/bias"] = rng.normal(size=w.shape[0]).astype(np.float32) * 0.05
    assert sorted(out) == sorted(mn.tf_variable_names())
    return out


def test_tf_layouts_map_to_torch_layers() -> None:
    """A TF-layout conv/dense kernel, applied the TF way in numpy, equals the mapped torch layer."""
    tf_vars = _random_tf_vars("MTT_musicnn")
    sd = mn.state_dict_from_tf(tf_vars)
    # dense: TF computes x @ kernel + bias
    x = np.random.default_rng(6).normal(size=(3, 1506)).astype(np.float32)
    np.testing.assert_allclose(x @ tf_vars["dense/kernel"] + tf_vars["dense/bias"],
                               x @ sd["dense.weight"].T + sd["dense.bias"], rtol=1e-5, atol=1e-5)
    # timbral conv2d (valid): TF correlates the [T, F, 1] input with kernel [kh, kw, 1, out]
    img = np.random.default_rng(7).normal(size=(12, 96)).astype(np.float32)
    k = tf_vars["conv2d/kernel"]
    tf_out = np.einsum("ijc,ijco->o", img[2:9, 5:43, None], k)  # output at time 2, mel 5
    torch_out = torch.nn.functional.conv2d(torch.from_numpy(img)[None, None],
                                           torch.from_numpy(sd["timbral.0.weight"]))[0, :, 2, 5].numpy()
    np.testing.assert_allclose(tf_out, torch_out, rtol=1e-4, atol=1e-5)
    # mid-end conv: kernel [7, C_in, 1, out] spans all input features
    feats = np.random.default_rng(8).normal(size=(20, 561)).astype(np.float32)
    km = tf_vars["conv2d_5/kernel"]
    tf_mid = np.einsum("tc,tco->o", feats[4:11], km[:, :, 0, :])  # output at time 4 (unpadded)
    torch_mid = torch.nn.functional.conv1d(torch.from_numpy(feats.T)[None],
                                           torch.from_numpy(sd["mid.0.weight"]))[0, :, 4].numpy()
    np.testing.assert_allclose(tf_mid, torch_mid, rtol=1e-4, atol=1e-5)


def test_checkpoint_folder_loads_and_converts(tmp_path: Path) -> None:
    tf_vars = _random_tf_vars("MSD_musicnn")
    extra = {"dense/kernel/Adam": np.zeros((1506, 200), np.float32)}  # optimizer slots are ignored
    write_bundle(f"{tmp_path / 'MSD_musicnn'}/", {k: (1, v) for k, v in {**tf_vars, **extra}.items()})
    from_ckpt = mn.load_musicnn("MSD_musicnn", weights=tmp_path)
    assert from_ckpt.source.endswith("MSD_musicnn/")
    npz = convert_model(tmp_path, "MSD_musicnn", tmp_path / "out")
    from_npz = mn.load_musicnn("MSD_musicnn", weights=npz)
    with np.load(npz) as z:
        assert list(z["meta.labels"]) == list(mn.MSD_LABELS)
        assert "ISC" in mn.MUSICNN_LICENSE and "Jordi Pons" in str(z["meta.license"])
    x = np.random.default_rng(9).normal(2, 1, (1, 187, 96)).astype(np.float32)
    np.testing.assert_array_equal(from_ckpt.predict_patches(x), from_npz.predict_patches(x))
    shipped = mn.load_musicnn("MSD_musicnn").predict_patches(x)
    assert np.abs(shipped - from_npz.predict_patches(x)).max() > 1e-3  # really the random weights


def test_missing_weights_name_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(mn, "shipped_weights_dir", lambda: tmp_path / "none")
    monkeypatch.setattr(mn, "musicnn_package_dir", lambda: None)
    mn._load_cached.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match=r"pip install --no-deps musicnn==0\.1\.0"):
            mn.load_musicnn("MTT_musicnn")
    finally:
        mn._load_cached.cache_clear()
    with pytest.raises(MusicLLMError, match="no MTT_musicnn.npz"):
        mn.find_weights("MTT_musicnn", tmp_path)
    with pytest.raises(MusicLLMError, match="unknown musicnn model"):
        mn.load_musicnn("MTT_vgg")
    import musicllm.models.taggers.convert_musicnn as conv

    monkeypatch.setattr(conv, "musicnn_package_dir", lambda: None)
    assert convert_main([str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("musicllm: error:") and "musicnn==0.1.0" in err[0]
