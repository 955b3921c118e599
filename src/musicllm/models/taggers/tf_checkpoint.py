"""Read TensorFlow (V2 "tensor bundle") checkpoints with numpy only: no TensorFlow, no protobuf code.

A checkpoint written by ``tf.compat.v1.train.Saver`` (or ``tf.train.Checkpoint``) with prefix ``P`` is

- ``P.index``: an SSTable (LevelDB table format) mapping each tensor name to a ``BundleEntryProto``
  (dtype, shape, shard id, byte offset, byte size, masked CRC32C); the empty key holds the
  ``BundleHeaderProto`` (number of shards, endianness, format version);
- ``P.data-SSSSS-of-NNNNN``: the raw tensor bytes of each shard, in C (row-major) order.

This module decodes the few protobuf fields it needs by hand. Supported: numeric and boolean dtypes
(float16/32/64, bfloat16 -> float32, (u)int8..64, complex64/128, bool), little- or big-endian bundles,
uncompressed SSTable blocks (what TensorFlow writes). Not supported (a one-line
:class:`~musicllm.errors.MusicLLMError`): string tensors, partitioned (sliced) variables,
snappy-compressed index blocks.

A "prefix" may be given as the prefix itself (``.../model.ckpt-1000``), or as a folder holding either a
``.index`` file with an empty stem (musicnn's layout: prefix ``MTT_musicnn/``) or a ``checkpoint``
file naming the prefix (only its base name is used, since those files often hold absolute paths from
the machine that trained the model).

CRC: each tensor's bytes are checked against the stored masked CRC32C when ``verify_crc`` is true
(numpy, chunks in parallel: about 0.1 s for musicnn's 9.5 MB).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicllm.errors import MusicLLMError

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER_SIZE = 5

#: TensorFlow DataType enum -> numpy dtype (little-endian; byte-swapped for big-endian bundles).
_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),    # DT_FLOAT
    2: np.dtype("<f8"),    # DT_DOUBLE
    3: np.dtype("<i4"),    # DT_INT32
    4: np.dtype("u1"),     # DT_UINT8
    5: np.dtype("<i2"),    # DT_INT16
    6: np.dtype("i1"),     # DT_INT8
    8: np.dtype("<c8"),    # DT_COMPLEX64
    9: np.dtype("<i8"),    # DT_INT64
    10: np.dtype("?"),     # DT_BOOL
    14: np.dtype("<u2"),   # DT_BFLOAT16 (converted to float32 after reading)
    17: np.dtype("<u2"),   # DT_UINT16
    18: np.dtype("<c16"),  # DT_COMPLEX128
    19: np.dtype("<f2"),   # DT_HALF
    22: np.dtype("<u4"),   # DT_UINT32
    23: np.dtype("<u8"),   # DT_UINT64
}
_DT_STRING = 7
_DT_BFLOAT16 = 14


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lies in the bundle (a decoded ``BundleEntryProto``)."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    masked_crc32c: int | None
    sliced: bool = False


@dataclass(frozen=True)
class BundleHeader:
    num_shards: int = 1
    big_endian: bool = False
    version: int = 0


# ---------------------------------------------------------------- protobuf / varints


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _proto_fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """``(field number, value)`` pairs of a serialized protobuf message (varint, fixed, bytes)."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((field, value))
        elif wire == 1:
            out.append((field, struct.unpack_from("<Q", buf, pos)[0]))
            pos += 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("truncated length-delimited field")
            out.append((field, bytes(buf[pos:pos + n])))
            pos += n
        elif wire == 5:
            out.append((field, struct.unpack_from("<I", buf, pos)[0]))
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    """TensorShapeProto: repeated Dim dim = 2 {int64 size = 1; string name = 2}; bool unknown_rank = 3."""
    dims: list[int] = []
    for field, value in _proto_fields(buf):
        if field == 2 and isinstance(value, bytes):
            size = 0
            for f2, v2 in _proto_fields(value):
                if f2 == 1 and isinstance(v2, int):
                    size = v2 - (1 << 64) if v2 >= 1 << 63 else v2  # int64 two's complement
            dims.append(size)
        elif field == 3 and value:
            raise ValueError("tensor of unknown rank")
    return tuple(dims)


def _parse_entry(name: str, buf: bytes) -> TensorEntry:
    """BundleEntryProto: dtype=1, shape=2, shard_id=3, offset=4, size=5, crc32c=6 (fixed32), slices=7."""
    dtype, shape, shard, offset, size, crc, sliced = 0, (), 0, 0, 0, None, False
    for field, value in _proto_fields(buf):
        if field == 1 and isinstance(value, int):
            dtype = value
        elif field == 2 and isinstance(value, bytes):
            shape = _parse_shape(value)
        elif field == 3 and isinstance(value, int):
            shard = value
        elif field == 4 and isinstance(value, int):
            offset = value
        elif field == 5 and isinstance(value, int):
            size = value
        elif field == 6 and isinstance(value, int):
            crc = value
        elif field == 7:
            sliced = True
    return TensorEntry(name, dtype, shape, shard, offset, size, crc, sliced)


def _parse_header(buf: bytes) -> BundleHeader:
    """BundleHeaderProto: num_shards=1, endianness=2 (0 little, 1 big), version=3 (VersionDef)."""
    num_shards, big, version = 1, False, 0
    for field, value in _proto_fields(buf):
        if field == 1 and isinstance(value, int):
            num_shards = value
        elif field == 2 and isinstance(value, int):
            big = value == 1
        elif field == 3 and isinstance(value, bytes):
            for f2, v2 in _proto_fields(value):
                if f2 == 1 and isinstance(v2, int):
                    version = v2
    return BundleHeader(num_shards, big, version)


# ---------------------------------------------------------------- SSTable


def _block(data: bytes, offset: int, size: int) -> bytes:
    end = offset + size
    if end + _BLOCK_TRAILER_SIZE > len(data):
        raise ValueError("block handle points past the end of the file")
    compression = data[end]
    if compression != 0:
        raise ValueError(f"compressed SSTable block (type {compression}) is not supported")
    return data[offset:end]


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    """Key/value pairs of one SSTable block (keys prefix-compressed against the previous key)."""
    if len(block) < 4:
        raise ValueError("block too short")
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * num_restarts
    if limit < 0:
        raise ValueError("bad restart count")
    entries: list[tuple[bytes, bytes]] = []
    key = b""
    pos = 0
    while pos < limit:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise ValueError("corrupt block entry")
        key = key[:shared] + block[pos:pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos:pos + value_len]))
        pos += value_len
    return entries


def _table_entries(data: bytes) -> list[tuple[bytes, bytes]]:
    if len(data) < _FOOTER_SIZE:
        raise ValueError("file too short for an SSTable")
    footer = data[-_FOOTER_SIZE:]
    if struct.unpack_from("<Q", footer, 40)[0] != _TABLE_MAGIC:
        raise ValueError("bad SSTable magic number")
    _meta_off, pos = _varint(footer, 0)
    _meta_size, pos = _varint(footer, pos)
    index_off, pos = _varint(footer, pos)
    index_size, pos = _varint(footer, pos)
    entries: list[tuple[bytes, bytes]] = []
    for _last_key, handle in _block_entries(_block(data, index_off, index_size)):
        off, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        entries.extend(_block_entries(_block(data, off, size)))
    return entries


# ---------------------------------------------------------------- CRC32C


def _crc32c_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table[i] = c
    return table


_CRC_TABLE = _crc32c_table()
_CRC_TABLE_LIST = [int(v) for v in _CRC_TABLE]


def _crc_update(reg: int, data: bytes | memoryview) -> int:
    """The CRC-32C register after feeding ``data`` (no initial/final inversion). Byte at a time."""
    table = _CRC_TABLE_LIST
    for b in data:
        reg = table[(reg ^ b) & 0xFF] ^ (reg >> 8)
    return reg


def _crc_update_parallel(reg: int, data: bytes, chunk: int) -> tuple[int, int]:
    """Feed the first ``k * chunk`` bytes of ``data`` (``k = len // chunk``) to the register.

    The register update is linear over GF(2): after a chunk ``D``, ``reg' = Z(reg) ^ upd(0, D)``, where
    ``Z`` is the effect of ``chunk`` zero bytes. All chunks' ``upd(0, D)`` are computed at once with
    numpy (one table lookup per byte position), then chained through ``Z``, itself applied as four
    256-entry tables. Returns ``(register, bytes consumed)``.
    """
    k = len(data) // chunk
    blocks = np.frombuffer(data, dtype=np.uint8, count=k * chunk).reshape(k, chunk)
    regs = np.zeros(k, dtype=np.uint32)
    for j in range(chunk):
        regs = _CRC_TABLE[(regs ^ blocks[:, j]) & 0xFF] ^ (regs >> 8)
    basis = np.array([1 << i for i in range(32)], dtype=np.uint32)  # Z applied to each bit
    for _ in range(chunk):
        basis = _CRC_TABLE[basis & 0xFF] ^ (basis >> 8)
    tables = []
    for byte in range(4):
        t = np.zeros(256, dtype=np.uint32)
        for bit in range(8):
            t[np.arange(256) & (1 << bit) != 0] ^= basis[8 * byte + bit]
        tables.append([int(v) for v in t])
    t0, t1, t2, t3 = tables
    for g in regs.tolist():
        reg = t0[reg & 0xFF] ^ t1[(reg >> 8) & 0xFF] ^ t2[(reg >> 16) & 0xFF] ^ t3[reg >> 24] ^ g
    return reg, k * chunk


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as TensorFlow and LevelDB compute it (numpy; ~20 ms per MB)."""
    reg = 0xFFFFFFFF
    done = 0
    if len(data) >= 1 << 14:
        reg, done = _crc_update_parallel(reg, data, chunk=max(256, int(len(data) ** 0.5)))
    return _crc_update(reg, memoryview(data)[done:]) ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """LevelDB/TensorFlow's masked CRC: rotate right by 15 and add a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ---------------------------------------------------------------- public API


def resolve_prefix(prefix: str | os.PathLike) -> str:
    """The checkpoint prefix ``P`` (a string) such that the file ``P + ".index"`` exists.

    See the module docstring for the accepted forms. musicnn's prefixes end with a path separator
    (``MTT_musicnn/`` means the files ``MTT_musicnn/.index`` and ``MTT_musicnn/.data-00000-of-00001``).
    """
    text = os.fspath(prefix)
    if os.path.isfile(text + ".index"):
        return text
    if os.path.isdir(text):
        folder = os.path.join(text, "")
        if os.path.isfile(folder + ".index"):
            return folder
        state = os.path.join(folder, "checkpoint")
        if os.path.isfile(state):
            m = re.search(r'^model_checkpoint_path:\s*"(.*)"\s*$', Path(state).read_text(errors="replace"), re.M)
            if m:
                base = os.path.basename(m.group(1).rstrip("/\\"))
                if base and os.path.isfile(folder + base + ".index"):
                    return folder + base
        raise MusicLLMError(f"{text}: no TensorFlow checkpoint (.index file) in this folder")
    raise MusicLLMError(f"{text}: no TensorFlow checkpoint here ({text}.index not found)")


def read_tf_checkpoint_index(prefix: str | os.PathLike) -> tuple[BundleHeader, dict[str, TensorEntry]]:
    """The bundle header and every tensor's :class:`TensorEntry`, by name (sorted as stored)."""
    path = resolve_prefix(prefix) + ".index"
    data = Path(path).read_bytes()
    try:
        raw = _table_entries(data)
        header = BundleHeader()
        entries: dict[str, TensorEntry] = {}
        for key, value in raw:
            if key == b"":
                header = _parse_header(value)
            else:
                name = key.decode("utf-8")
                entries[name] = _parse_entry(name, value)
    except (ValueError, UnicodeDecodeError, struct.error) as exc:
        raise MusicLLMError(f"{path}: not a readable TensorFlow checkpoint index ({exc})") from None
    return header, entries


def list_tf_checkpoint(prefix: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``name -> (numpy dtype name, shape)`` for every tensor, like ``tf.train.list_variables``."""
    _, entries = read_tf_checkpoint_index(prefix)
    out = {}
    for name, e in entries.items():
        dt = "string" if e.dtype == _DT_STRING else (
            "bfloat16" if e.dtype == _DT_BFLOAT16 else str(_DTYPES.get(e.dtype, f"dtype{e.dtype}")))
        out[name] = (dt.lstrip("<>|"), e.shape)
    return out


def _decode(entry: TensorEntry, raw: bytes, big_endian: bool, where: str) -> np.ndarray:
    if entry.dtype == _DT_STRING:
        raise MusicLLMError(f"{where}: tensor {entry.name!r} is a string tensor (not supported)")
    if entry.dtype not in _DTYPES:
        raise MusicLLMError(f"{where}: tensor {entry.name!r} has unsupported dtype enum {entry.dtype}")
    dtype = _DTYPES[entry.dtype]
    if big_endian:
        dtype = dtype.newbyteorder(">")
    count = int(np.prod(entry.shape, dtype=np.int64)) if entry.shape else 1
    if count * dtype.itemsize != len(raw):
        raise MusicLLMError(f"{where}: tensor {entry.name!r} holds {len(raw)} bytes, "
                            f"expected {count * dtype.itemsize} for shape {list(entry.shape)}")
    arr = np.frombuffer(raw, dtype=dtype).reshape(entry.shape).astype(dtype.newbyteorder("="), copy=True)
    if entry.dtype == _DT_BFLOAT16:
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    return arr


def read_tf_checkpoint(
    prefix: str | os.PathLike,
    names: Iterable[str] | None = None,
    *,
    verify_crc: bool = True,
) -> dict[str, np.ndarray]:
    """Every tensor of a TF checkpoint (or only ``names``) as numpy arrays, by variable name.

    Arrays keep TensorFlow's layout (a conv2d kernel is ``[kh, kw, in, out]``, a dense kernel
    ``[in, out]``) and dtype (bfloat16 becomes float32). Raises :class:`MusicLLMError` for a missing or
    unreadable checkpoint, a name not in it, a CRC mismatch, or an unsupported tensor type.
    """
    header, entries = read_tf_checkpoint_index(prefix)
    resolved = resolve_prefix(prefix)
    if names is None:
        wanted = list(entries)
    else:
        wanted = list(names)
        missing = [n for n in wanted if n not in entries]
        if missing:
            raise MusicLLMError(f"{resolved}.index: no tensor named {missing[0]!r} "
                                f"({len(entries)} tensors in the checkpoint)")
    shards: dict[int, bytes] = {}
    out: dict[str, np.ndarray] = {}
    for name in wanted:
        entry = entries[name]
        where = f"{resolved}.data-{entry.shard_id:05d}-of-{header.num_shards:05d}"
        if entry.sliced:
            raise MusicLLMError(f"{where}: tensor {name!r} is partitioned into slices (not supported)")
        if entry.shard_id not in shards:
            if not os.path.isfile(where):
                raise MusicLLMError(f"{where}: checkpoint data file missing")
            shards[entry.shard_id] = Path(where).read_bytes()
        blob = shards[entry.shard_id]
        if entry.offset + entry.size > len(blob):
            raise MusicLLMError(f"{where}: tensor {name!r} lies past the end of the file (truncated?)")
        raw = blob[entry.offset:entry.offset + entry.size]
        if verify_crc and entry.masked_crc32c is not None and masked_crc32c(raw) != entry.masked_crc32c:
            raise MusicLLMError(f"{where}: CRC mismatch for tensor {name!r} (corrupt checkpoint)")
        out[name] = _decode(entry, raw, header.big_endian, where)
    return out
