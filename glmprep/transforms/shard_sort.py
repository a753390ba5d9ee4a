"""The record layout of a shard's run files (``shard_runs``): ``(key, payload bytes)``
records one after the other, each its two lengths, then the key in UTF-8, then the
payload (packed token ids, or a language code). ``spill_docs`` writes records to a file,
``read_docs`` reads a given number of bytes of them back; ``spill_to_temp`` and
``read_run`` do the same with a temporary file on local disk (where a writer merges more
sections than it reads at once). Pure Python: no Beam here.
"""
from __future__ import annotations

import struct
import tempfile
from typing import Iterable, Iterator, Tuple

_DOC_HEADER = struct.Struct("<II")  # UTF-8 bytes of the key, bytes of the packed token ids


def read_run(run) -> Iterator[Tuple[str, bytes]]:
    """The documents of a whole temporary run (``spill_to_temp``), from its start."""
    run.seek(0, 2)
    length = run.tell()
    run.seek(0)
    return read_docs(run, length)


def spill_to_temp(docs: Iterable[Tuple[str, bytes]]):
    """A temporary file holding ``docs`` in this layout, rewound for reading."""
    run = tempfile.TemporaryFile(prefix="glmprep-shard-run-")
    spill_docs(docs, run)
    run.seek(0)
    return run


def spill_docs(docs: Iterable[Tuple[str, bytes]], fh) -> int:
    """Write ``docs`` to the binary file ``fh`` in this layout; the bytes written."""
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
