"""A shard's documents on their way to its writer, as byte strings, and back in key order.

Before the shuffle, documents are joined into one byte string per shard and bundle
(``join_docs``), so a shard's group is a few large values rather than one element per
document. The writer reads them back sorted by key (``sorted_docs``; ``SortedDocs`` to read
them again, once per epoch), holding at most ``SORT_BYTES`` of them in memory: beyond that,
sorted runs go to local disk and are merged.
Pure Python: no Beam here.
"""
from __future__ import annotations

import heapq
import struct
import tempfile
from typing import Iterable, Iterator, List, Sequence, Tuple

SORT_BYTES = 64 << 20    # most packed tokens a shard writer sorts in memory; beyond, sorted runs on disk

_DOC_HEADER = struct.Struct("<II")  # UTF-8 bytes of the key, bytes of the packed token ids


def join_docs(docs: Sequence[Tuple[str, bytes]]) -> bytes:
    """[(key, packed token ids), ...] as one byte string: per document, the two lengths,
    then the key in UTF-8, then the packed ids.

    >>> list(split_docs(join_docs([("a", b"xyz"), ("κ", b"")])))
    [('a', b'xyz'), ('κ', b'')]
    """
    parts: List[bytes] = []
    for key, packed in docs:
        key_bytes = key.encode("utf-8", "surrogatepass")
        parts += (_DOC_HEADER.pack(len(key_bytes), len(packed)), key_bytes, packed)
    return b"".join(parts)


def split_docs(joined: bytes) -> Iterator[Tuple[str, bytes]]:
    """The documents ``join_docs`` joined, in order."""
    view, at = memoryview(joined), 0
    while at < len(joined):
        key_len, packed_len = _DOC_HEADER.unpack_from(view, at)
        at += _DOC_HEADER.size
        key = str(view[at:at + key_len], "utf-8", "surrogatepass")
        at += key_len
        yield key, bytes(view[at:at + packed_len])
        at += packed_len


def sorted_docs(gathered: Iterable[bytes], max_bytes: int = SORT_BYTES) -> Iterator[Tuple[str, bytes]]:
    """The documents of a shard's joined values (``join_docs``), sorted as ``sorted`` would
    sort the (key, packed token ids) pairs, holding at most about ``max_bytes`` of them:
    beyond that, sorted runs go to temporary files on local disk and are merged."""
    docs = SortedDocs(gathered, max_bytes)
    try:
        yield from docs
    finally:
        docs.close()


class SortedDocs:
    """``sorted_docs`` that can be read again (once per epoch) without sorting again: at most
    about ``max_bytes`` of documents stay in memory, the rest are sorted runs on local disk,
    merged on each pass. ``close()`` removes the runs."""

    def __init__(self, gathered: Iterable[bytes], max_bytes: int = SORT_BYTES):
        self.runs: List = []
        buffer: List[Tuple[str, bytes]] = []
        size = 0
        try:
            for joined in gathered:
                for doc in split_docs(joined):
                    buffer.append(doc)
                    size += len(doc[0]) + len(doc[1])
                    if size >= max_bytes:
                        buffer.sort()
                        self.runs.append(spill_to_temp(buffer))
                        buffer, size = [], 0
            buffer.sort()
            if self.runs and buffer:
                self.runs.append(spill_to_temp(buffer))
                buffer = []
        except BaseException:
            self.close()
            raise
        self.buffer = buffer

    def __iter__(self) -> Iterator[Tuple[str, bytes]]:
        if not self.runs:
            return iter(self.buffer)
        return heapq.merge(*(read_run(run) for run in self.runs))

    def close(self) -> None:
        for run in self.runs:
            run.close()
        self.runs = []


def read_run(run) -> Iterator[Tuple[str, bytes]]:
    """The documents of a whole temporary run (``spill_to_temp``), from its start."""
    run.seek(0, 2)
    length = run.tell()
    run.seek(0)
    return read_docs(run, length)


def spill_to_temp(docs: Iterable[Tuple[str, bytes]]):
    """A temporary file holding ``docs`` in ``join_docs`` layout, rewound for reading."""
    run = tempfile.TemporaryFile(prefix="glmprep-shard-run-")
    spill_docs(docs, run)
    run.seek(0)
    return run


def spill_docs(docs: Iterable[Tuple[str, bytes]], fh) -> int:
    """Write ``docs`` to the binary file ``fh`` in ``join_docs`` layout; the bytes written."""
    written = 0
    for key, packed in docs:
        key_bytes = key.encode("utf-8", "surrogatepass")
        fh.write(_DOC_HEADER.pack(len(key_bytes), len(packed)))
        fh.write(key_bytes)
        fh.write(packed)
        written += _DOC_HEADER.size + len(key_bytes) + len(packed)
    return written


def read_docs(fh, length: int) -> Iterator[Tuple[str, bytes]]:
    """The documents of the next ``length`` bytes of ``fh`` (``spill_docs`` layout). A
    section that ends inside a document is an error, not a shorter list."""
    while length > 0:
        header = fh.read(_DOC_HEADER.size)
        if len(header) != _DOC_HEADER.size:
            raise EOFError(f"a run of shard documents ends {length} bytes early")
        key_len, packed_len = _DOC_HEADER.unpack(header)
        key, packed = fh.read(key_len), fh.read(packed_len)
        if len(key) != key_len or len(packed) != packed_len:
            raise EOFError(f"a run of shard documents ends {length} bytes early")
        length -= _DOC_HEADER.size + key_len + packed_len
        yield key.decode("utf-8", "surrogatepass"), packed
