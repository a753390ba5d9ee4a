"""What an Arrow IPC file would cost to read, from its metadata, before anything is read.

A memory-mapped uncompressed shard costs nothing to open: its buffers stay in the map and
Arrow checks them against the lengths they declare. A shard with compressed buffers
(``--compression lz4|zstd``) is decompressed into memory, and each compressed buffer
declares its own uncompressed size in its first eight bytes; a crafted file could declare
gigabytes in a few bytes. ``decompression_problem`` reads the footer's record-batch blocks
and each batch's metadata (flatbuffers, parsed here by the Arrow format's layout) and adds
up what the buffers declare, so that ``ShardReader`` refuses a file that would expand to
more than ``MAX_EXPANSION`` times its size before Arrow allocates any of it.
"""
from __future__ import annotations

import struct
from typing import Optional, Tuple

import pyarrow as pa

# Honest shards expand 4-7 times (lz4, zstd on the sample and 36 MB of documentation; single
# runs of one value, such as loss_mask, more): a file may declare this many bytes per byte.
MAX_EXPANSION = 256
ALLOWANCE = 64 << 20   # any file may declare this much (a small shard of very regular data)
_MAGIC = b"ARROW1"


class _Table:
    """A flatbuffers table at ``pos`` of ``data``: its fields by index (Arrow's Schema.fbs and
    Message.fbs give the indexes)."""

    def __init__(self, data: bytes, pos: int):
        self.data, self.pos = data, pos
        self.vtable = pos - struct.unpack_from("<i", data, pos)[0]
        self.vsize = struct.unpack_from("<H", data, self.vtable)[0]

    def _field(self, i: int) -> int:
        at = 4 + 2 * i
        if at + 2 > self.vsize:
            return 0
        off = struct.unpack_from("<H", self.data, self.vtable + at)[0]
        return self.pos + off if off else 0

    def table(self, i: int) -> Optional["_Table"]:
        p = self._field(i)
        return _Table(self.data, p + struct.unpack_from("<I", self.data, p)[0]) if p else None

    def structs(self, i: int, size: int) -> Tuple[int, int]:
        """(start, count) of field ``i``, a vector of ``size``-byte structs."""
        p = self._field(i)
        if not p:
            return 0, 0
        start = p + struct.unpack_from("<I", self.data, p)[0]
        count = struct.unpack_from("<I", self.data, start)[0]
        if start + 4 + count * size > len(self.data):
            raise ValueError("a vector runs past its metadata")
        return start + 4, count


def _root(data: bytes) -> _Table:
    return _Table(data, struct.unpack_from("<I", data, 0)[0])


def declared_uncompressed_bytes(data: pa.Buffer) -> int:
    """Bytes the compressed buffers of an Arrow IPC file declare (0 when none is compressed).
    ValueError when the footer or a batch's metadata does not hold together."""
    n = data.size
    if n < 18 or data.slice(n - 6).to_pybytes() != _MAGIC:
        return 0  # not an Arrow file: Arrow's own reader says so
    footer_len = struct.unpack("<i", data.slice(n - 10, 4).to_pybytes())[0]
    if not 0 < footer_len <= n - 18:
        raise ValueError(f"footer length {footer_len}")
    footer = data.slice(n - 10 - footer_len, footer_len).to_pybytes()
    start, count = _root(footer).structs(3, 24)           # Footer.recordBatches: [Block]
    total = 0
    for b in range(count):
        offset, meta_len, body_len = struct.unpack_from("<qi4xq", footer, start + 24 * b)
        if offset < 0 or meta_len <= 0 or body_len < 0 or offset + meta_len + body_len > n:
            raise ValueError(f"record batch {b} lies outside the file")
        message = pa.ipc.read_message(data.slice(offset, meta_len + body_len))
        meta = message.metadata.to_pybytes()
        batch = _root(meta).table(2)                      # Message.header: RecordBatch
        if batch is None or batch.table(3) is None:       # RecordBatch.compression
            continue
        body = message.body
        bstart, bcount = batch.structs(2, 16)             # RecordBatch.buffers: [Buffer]
        for k in range(bcount):
            boff, blen = struct.unpack_from("<qq", meta, bstart + 16 * k)
            if blen < 8:
                continue                                  # an empty buffer
            if boff < 0 or boff + blen > body.size:
                raise ValueError(f"record batch {b}: buffer {k} lies outside its body")
            declared = struct.unpack("<q", body.slice(boff, 8).to_pybytes())[0]
            total += blen if declared < 0 else declared   # -1: stored uncompressed
    return total


def decompression_problem(data: pa.Buffer) -> Optional[str]:
    """Why reading ``data`` (an Arrow IPC file) would cost too much memory, or None."""
    try:
        declared = declared_uncompressed_bytes(data)
    except (ValueError, struct.error, pa.ArrowException) as exc:
        return f"malformed IPC metadata ({exc})"
    if declared > ALLOWANCE + MAX_EXPANSION * data.size:
        return (f"its compressed buffers declare {declared:,} bytes, more than {MAX_EXPANSION} times "
                f"the file's {data.size:,}")
    return None
