"""The numpy TF1-checkpoint reader: a bundle written here byte by byte, and musicnn's real checkpoint.

The hand-written bundle follows the tensor-bundle format (LevelDB SSTable index + raw data file), so
the reader is checked against an independent encoder, including CRCs, dtypes, shapes and errors.
The musicnn checkpoint test runs only where the musicnn package is installed (its files are checked
against the converted weights shipped in the package, which were themselves verified equal to
TensorFlow's own reader in a scratch environment).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tf_bundle_writer import write_bundle

from musicllm.errors import MusicLLMError
from musicllm.models.taggers.tf_checkpoint import (
    _crc_update,
    crc32c,
    list_tf_checkpoint,
    read_tf_checkpoint,
    read_tf_checkpoint_index,
    resolve_prefix,
)


@pytest.fixture
def bundle(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    arrays = {
        "dense/kernel": (1, rng.normal(size=(5, 3)).astype(np.float32)),
        "dense/bias": (1, rng.normal(size=(3,)).astype(np.float32)),
        "conv2d/kernel": (1, rng.normal(size=(2, 3, 1, 4)).astype(np.float32)),
        "global_step": (9, np.array(1234, dtype=np.int64)),
        "half": (19, rng.normal(size=(4,)).astype(np.float16)),
        "double": (2, rng.normal(size=(2, 2))),
        "flags": (10, np.array([True, False, True])),
        "ints": (3, np.arange(-3, 3, dtype=np.int32)),
    }
    prefix = tmp_path / "model.ckpt-10"
    write_bundle(prefix, arrays)
    return prefix, {k: v for k, (_, v) in arrays.items()}


# ------------------------------------------------------------ tests


def test_crc32c_known_values() -> None:
    # RFC 3720 (iSCSI) test vectors
    assert crc32c(b"") == 0
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(bytes([0xFF] * 32)) == 0x62A8AB43
    # the chunked numpy path (inputs >= 16 KiB) equals the byte-at-a-time register update
    data = np.random.default_rng(0).integers(0, 256, 70001, dtype=np.uint8).tobytes()
    assert crc32c(data) == _crc_update(0xFFFFFFFF, data) ^ 0xFFFFFFFF
    assert crc32c(data[:16384]) == _crc_update(0xFFFFFFFF, data[:16384]) ^ 0xFFFFFFFF


def test_reads_every_tensor_exactly(bundle: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, arrays = bundle
    got = read_tf_checkpoint(prefix)
    assert set(got) == set(arrays)
    for name, arr in arrays.items():
        assert got[name].dtype == arr.dtype, name
        assert got[name].shape == arr.shape, name
        np.testing.assert_array_equal(got[name], arr)
    header, entries = read_tf_checkpoint_index(prefix)
    assert header.num_shards == 1 and not header.big_endian
    assert list(entries) == sorted(arrays)
    listing = list_tf_checkpoint(prefix)
    assert listing["conv2d/kernel"] == ("float32", (2, 3, 1, 4))
    assert listing["half"] == ("float16", (4,))


def test_subset_and_missing_name(bundle: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, arrays = bundle
    got = read_tf_checkpoint(prefix, ["dense/bias"])
    assert list(got) == ["dense/bias"]
    np.testing.assert_array_equal(got["dense/bias"], arrays["dense/bias"])
    with pytest.raises(MusicLLMError, match="no tensor named 'nope'"):
        read_tf_checkpoint(prefix, ["nope"])


def test_corrupt_data_fails_crc(bundle: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, _ = bundle
    data_file = Path(str(prefix) + ".data-00000-of-00001")
    raw = bytearray(data_file.read_bytes())
    raw[0] ^= 0x01
    data_file.write_bytes(bytes(raw))
    names = sorted(read_tf_checkpoint_index(prefix)[1])
    with pytest.raises(MusicLLMError, match="CRC mismatch"):
        read_tf_checkpoint(prefix, [names[0]])
    assert read_tf_checkpoint(prefix, [names[0]], verify_crc=False)[names[0]].size > 0


def test_prefix_forms_and_errors(tmp_path: Path, bundle: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, _ = bundle
    # a folder with a `checkpoint` state file naming the prefix by an absolute path from elsewhere
    (prefix.parent / "checkpoint").write_text(
        'model_checkpoint_path: "/home/someone/run/model.ckpt-10"\nall_model_checkpoint_paths: "x"\n')
    assert resolve_prefix(prefix.parent) == str(prefix.parent / "model.ckpt-10")
    # musicnn's layout: files named ".index" inside the folder
    musicnn_dir = tmp_path / "MTT_like"
    musicnn_dir.mkdir()
    write_bundle(f"{musicnn_dir}/", {"w": (1, np.ones(2, np.float32))})
    assert (musicnn_dir / ".index").is_file()
    assert read_tf_checkpoint(musicnn_dir)["w"].tolist() == [1.0, 1.0]
    with pytest.raises(MusicLLMError, match="no TensorFlow checkpoint"):
        read_tf_checkpoint(tmp_path / "absent")
    bad = tmp_path / "bad"
    Path(str(bad) + ".index").write_bytes(b"not an sstable at all, just some bytes padding" * 2)
    with pytest.raises(MusicLLMError, match="not a readable TensorFlow checkpoint index"):
        read_tf_checkpoint(bad)


def test_real_musicnn_checkpoint_matches_shipped_weights() -> None:
    from musicllm.models.taggers.musicnn import (
        load_state_dict,
        musicnn_package_dir,
        shipped_weights_dir,
    )

    pkg = musicnn_package_dir()
    if pkg is None or not (pkg / "MTT_musicnn" / ".index").is_file():
        pytest.skip("musicnn package not installed (pip install --no-deps musicnn==0.1.0)")
    listing = list_tf_checkpoint(str(pkg / "MTT_musicnn") + "/")
    assert len(listing) == 150  # 8 conv + 2 dense layers, 11 batch norms, Adam slots
    assert listing["conv2d/kernel"] == ("float32", (7, 38, 1, 204))
    converted = load_state_dict(str(pkg / "MTT_musicnn") + "/")
    shipped = load_state_dict(shipped_weights_dir() / "MTT_musicnn.npz")
    assert set(converted) == set(shipped)
    for k in shipped:
        np.testing.assert_array_equal(converted[k], shipped[k])
