"""Test helper: an independent, minimal writer of TensorFlow V2 checkpoints (tensor bundles).

Writes ``prefix.index`` (a LevelDB SSTable: prefix-compressed keys, restart points, several data
blocks, an index block and the 48-byte footer) and ``prefix.data-00000-of-00001`` (raw C-order bytes),
with ``BundleEntryProto`` / ``BundleHeaderProto`` values encoded by hand, so that the reader in
``musicllm.models.taggers.tf_checkpoint`` is checked against an encoder it does not share code with
(only the CRC32C function is shared; it is checked separately against RFC 3720's vectors).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from musicllm.models.taggers.tf_checkpoint import masked_crc32c


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, wire: int, payload: bytes) -> bytes:
    return _varint(num << 3 | wire) + payload


def _entry_proto(dtype: int, shape: tuple[int, ...], offset: int, data: bytes) -> bytes:
    dims = b"".join(_field(2, 2, _varint(len(d)) + d) for d in (_field(1, 0, _varint(s)) for s in shape))
    msg = _field(1, 0, _varint(dtype)) + _field(2, 2, _varint(len(dims)) + dims)
    msg += _field(4, 0, _varint(offset)) + _field(5, 0, _varint(len(data)))
    msg += _field(6, 5, struct.pack("<I", masked_crc32c(data)))
    return msg


def _block(entries: list[tuple[bytes, bytes]], restart_every: int = 2) -> bytes:
    """A LevelDB block with prefix-compressed keys and a restart point every ``restart_every`` keys."""
    out = bytearray()
    restarts = []
    prev = b""
    for i, (key, value) in enumerate(entries):
        if i % restart_every == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = 0
            while shared < min(len(prev), len(key)) and prev[shared] == key[shared]:
                shared += 1
        out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        out += key[shared:] + value
        prev = key
    for r in restarts:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts))
    return bytes(out)


def write_bundle(prefix: Path | str, tensors: dict[str, tuple[int, np.ndarray]], per_block: int = 3) -> None:
    """Write ``prefix.index`` / ``prefix.data-00000-of-00001`` (tensors: name -> (TF dtype, array))."""
    data = bytearray()
    items: list[tuple[bytes, bytes]] = [(b"", _field(1, 0, _varint(1)) + _field(3, 2, b"\x02\x08\x01"))]
    for name in sorted(tensors):
        dtype, arr = tensors[name]
        raw = np.ascontiguousarray(arr).tobytes()
        items.append((name.encode(), _entry_proto(dtype, arr.shape, len(data), raw)))
        data += raw
    index = bytearray()
    index_entries = []
    for i in range(0, len(items), per_block):
        chunk = items[i:i + per_block]
        blk = _block(chunk)
        handle = _varint(len(index)) + _varint(len(blk))
        index += blk + b"\x00" + struct.pack("<I", zlib.crc32(blk))  # trailer: type + (unchecked) crc
        index_entries.append((chunk[-1][0], handle))
    meta = _block([])
    meta_handle = _varint(len(index)) + _varint(len(meta))
    index += meta + b"\x00\x00\x00\x00\x00"
    idx = _block(index_entries, restart_every=1)
    idx_handle = _varint(len(index)) + _varint(len(idx))
    index += idx + b"\x00\x00\x00\x00\x00"
    footer = (meta_handle + idx_handle).ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    Path(str(prefix) + ".index").parent.mkdir(parents=True, exist_ok=True)
    Path(str(prefix) + ".index").write_bytes(bytes(index + footer))
    Path(str(prefix) + ".data-00000-of-00001").write_bytes(bytes(data))
