"""Decompressed bytes of a compressed stream, in pieces of bounded size.

A compression format can expand a few bytes into megabytes (a 4 MB gzip of zeros is a
4 GiB line): every step here hands out at most ``OUTPUT_CHUNK_BYTES`` of output, so what
a reader holds is decided by the reader, never by the data. A stream that ends before
its last member's end-of-stream marker raises ``TruncatedInput`` (Beam's own
``CompressedFile`` returns the short stream without an error, which would lose the tail
silently); concatenated members (``cat a.gz b.gz``) are read one after the other.
"""
from __future__ import annotations

import bz2
import io
import lzma
import zlib
from typing import BinaryIO, Optional

import zstandard

GZIP, BZIP2, ZSTD, XZ = "gzip", "bzip2", "zstd", "xz"
COMPRESSION_BY_SUFFIX = {".gz": GZIP, ".bz2": BZIP2, ".zst": ZSTD, ".zstd": ZSTD,
                         ".xz": XZ, ".lzma": XZ}

OUTPUT_CHUNK_BYTES = 1 << 20
# Compressed bytes fed per step. zstd's decompressor cannot cap its output, and one
# 4-byte RLE block expands to 128 KiB: 1 KiB of input is at most 32 MiB of output.
_INPUT_CHUNK_BYTES = {GZIP: 1 << 18, BZIP2: 1 << 18, XZ: 1 << 18, ZSTD: 1 << 10}
_LINE_BUFFER_BYTES = 1 << 20

# What a corrupt or truncated compressed stream raises (bz2 raises OSError).
DECOMPRESSION_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError, zstandard.ZstdError)


class TruncatedInput(EOFError):
    """The compressed stream ended before its end-of-stream marker."""


def compression_of(path: str) -> Optional[str]:
    """The compression its suffix names, or None.

    >>> compression_of("gs://b/part-0001.jsonl.ZST"), compression_of("a.jsonl")
    ('zstd', None)
    """
    name = path.lower()
    for suffix, compression in COMPRESSION_BY_SUFFIX.items():
        if name.endswith(suffix):
            return compression
    return None


def strip_compression_suffix(path: str) -> str:
    name = path.lower()
    for suffix in COMPRESSION_BY_SUFFIX:
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def decompressing(raw: BinaryIO, compression: Optional[str]) -> BinaryIO:
    """A buffered reader of ``raw``'s decompressed bytes (of ``raw``'s bytes when None;
    seekable then if ``raw`` is). A 1 MiB buffer: reading lines from the default 8 KiB
    one costs about twice the time."""
    if compression is None:
        return io.BufferedReader(raw, _LINE_BUFFER_BYTES)
    return io.BufferedReader(_DecompressingReader(raw, compression), _LINE_BUFFER_BYTES)


class _Member:
    """One compressed member: bytes in, at most ``OUTPUT_CHUNK_BYTES`` out per call."""

    def __init__(self, compression: str):
        self.compression = compression
        if compression == GZIP:
            self._d = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif compression == BZIP2:
            self._d = bz2.BZ2Decompressor()
        elif compression == XZ:
            self._d = lzma.LZMADecompressor()
        else:
            self._d = zstandard.ZstdDecompressor().decompressobj()
        self.fed = False        # has it received any input?
        self._pending = False   # may it give more output without more input?

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data

    @property
    def needs_input(self) -> bool:
        return not self._pending

    def decompress(self, data: bytes) -> bytes:
        if data:
            self.fed = True
        if self.compression == GZIP:
            out = self._d.decompress(self._d.unconsumed_tail + data, OUTPUT_CHUNK_BYTES)
            self._pending = bool(self._d.unconsumed_tail) or len(out) == OUTPUT_CHUNK_BYTES
        elif self.compression == ZSTD:
            out = self._d.decompress(data) if data else b""
            self._pending = False
        else:
            out = self._d.decompress(data, OUTPUT_CHUNK_BYTES)
            self._pending = not self._d.needs_input and not self._d.eof
        return out


class _DecompressingReader(io.RawIOBase):

    def __init__(self, raw: BinaryIO, compression: str):
        self._raw = raw
        self._compression = compression
        self._input_chunk = _INPUT_CHUNK_BYTES[compression]
        self._member = _Member(compression)
        self._out = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._out and not self._done:
            self._out = memoryview(self._next_output())
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _next_output(self) -> bytes:
        member = self._member
        if member.eof:
            data = member.unused_data or self._raw.read(self._input_chunk)
            if not data:
                self._done = True
                return b""
            self._member = member = _Member(self._compression)
        elif member.needs_input:
            data = self._raw.read(self._input_chunk)
            if not data:
                if member.fed:
                    raise TruncatedInput("compressed data ends before its end-of-stream marker "
                                         "(truncated file?)")
                self._done = True
                return b""
        else:
            data = b""
        return member.decompress(data)

    def close(self) -> None:
        self._raw.close()
        super().close()
