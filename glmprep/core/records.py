"""Element shapes shared by every pipeline stage.

A document travels through the pipeline as ``(key, text)``: ``key`` is a stable,
runner-independent string (the id field, or ``source path:line``), ``text`` is str.

Where a document's text or tokens cross a shuffle they travel packed
(``pack``/``unpack``: zstd level 1, about 3x smaller for text and token ids; a few
hundred bytes or less are stored as they are), so the runner holds and moves a third of
the bytes: the DirectRunner keeps every grouped
collection in memory, and Dataflow bills shuffle by the byte.

A rejected document becomes a reject record (``glmprep.schemas.rejects.make_reject``).
"""
from __future__ import annotations

import threading
from typing import Tuple

import zstandard

Doc = Tuple[str, str]

# zstd contexts are not safe to share between threads (the DirectRunner may run bundles
# on several): one pair per thread.
_CODECS = threading.local()
PACK_LEVEL = 1  # about 200 MB/s per core for text; higher levels gain a few percent


def _codecs() -> Tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    if not hasattr(_CODECS, "pair"):
        _CODECS.pair = (zstandard.ZstdCompressor(level=PACK_LEVEL), zstandard.ZstdDecompressor())
    return _CODECS.pair


# Shorter data is stored as it is behind one tag byte: zstd's cost per call (microseconds)
# buys next to nothing on a one-line document. A zstd frame never starts with the tag.
PACK_MIN_BYTES = 256
_STORED = b"\x00"


def pack(data) -> bytes:
    """``data`` (bytes, or any buffer of bytes: a memoryview cast to "B") as one zstd frame
    that records its own length (or, under ``PACK_MIN_BYTES``, stored as it is behind a
    tag byte).

    >>> [(unpack(pack(d)) == d, packed_size(pack(d))) for d in (b"abc" * 100, b"abc", b"")]
    [(True, 300), (True, 3), (True, 0)]
    """
    if len(data) < PACK_MIN_BYTES:
        return _STORED + data
    return _codecs()[0].compress(data)


def unpack(packed: bytes) -> bytes:
    if packed[:1] == _STORED:
        return packed[1:]
    return _codecs()[1].decompress(packed)


def packed_size(packed: bytes) -> int:
    """Length of the data in ``packed``, from its header (nothing decompressed)."""
    if packed[:1] == _STORED:
        return len(packed) - 1
    return zstandard.frame_content_size(packed)


def pack_text(text: str) -> bytes:
    """``text`` packed as UTF-8 (any str round-trips, lone surrogates included)."""
    return pack(text.encode("utf-8", "surrogatepass"))


def unpack_text(packed: bytes) -> str:
    return unpack(packed).decode("utf-8", "surrogatepass")
