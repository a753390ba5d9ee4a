"""Which reader a file needs, the ranges it is read in, and reading one range.

Uncompressed JSON Lines and paragraph text are split into byte ranges of about
``split_bytes``; each range yields the records that start in it (``lines.py``), so a
large file is read by many workers at once and a record's key (``path@offset``) does
not depend on how the file was split. Parquet is split by row groups. Compressed files
and one-document text files cannot be entered in the middle: one range, streamed.

Only I/O and decompression errors end a range early (one ``unreadable_file`` reject
keyed by the path, saying where it broke; what was read before is kept); anything that
goes wrong with one record rejects that record and reading goes on.
"""
from __future__ import annotations

from typing import BinaryIO, Callable, Iterator, List, NamedTuple, Optional, Tuple, Union

import pyarrow

from glmprep.core.reading import decompress
from glmprep.core.reading.jsonl import jsonl_documents
from glmprep.core.reading.lines import lines_in_range, paragraphs_in_range
from glmprep.core.reading.options import ReadOptions
from glmprep.core.reading.parquet import parquet_documents, row_group_sizes
from glmprep.core.reading.records import (FILE_CHANGED, STAGE, UNKNOWN_FORMAT, UNREADABLE_FILE,
                                          UNSUPPORTED_ENCODING, Note, Reject)
from glmprep.core.reading.text import paragraph_documents, text_file_document
from glmprep.core.records import Doc
from glmprep.schemas.rejects import make_reject

FORMAT_BY_SUFFIX = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
                    ".txt": "text", ".text": "text", ".parquet": "parquet"}
# Byte order marks of encodings that are not UTF-8 (longest first: UTF-32 LE starts like UTF-16 LE).
_FOREIGN_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32 LE"), (b"\x00\x00\xfe\xff", "UTF-32 BE"),
                 (b"\xff\xfe", "UTF-16 LE"), (b"\xfe\xff", "UTF-16 BE"))
# Errors that mean "this file cannot be read (any further)".
FILE_ERRORS = decompress.DECOMPRESSION_ERRORS + (pyarrow.ArrowException,)

Opener = Callable[[str], BinaryIO]  # path -> its raw bytes, seekable when uncompressed


class InputFile(NamedTuple):
    """A matched input: path, size in bytes and modification time (None: unknown) at match time."""

    path: str
    size: int
    mtime: Optional[float]


class ReadRange(NamedTuple):
    """Part of a file: bytes ``[start, end)``, or row groups for Parquet; ``end`` None: to the end."""

    file: InputFile
    start: int
    end: Optional[int]


def open_local(path: str) -> BinaryIO:
    return open(path, "rb")


def detect_format(path: str, fmt: str = "auto") -> Optional[str]:
    """The file's format: ``fmt`` unless "auto", else from the extension under any
    compression suffix; None when the extension is not known.

    >>> detect_format("gs://b/part-0001.jsonl.zst")
    'jsonl'
    """
    if fmt != "auto":
        return fmt
    name = decompress.strip_compression_suffix(path)
    for suffix, detected in FORMAT_BY_SUFFIX.items():
        if name.endswith(suffix):
            return detected
    return None


def split_file(file: InputFile, options: ReadOptions, open_file: Opener = open_local) -> List[ReadRange]:
    """The ranges ``file`` is read in (one when it cannot be split)."""
    fmt = detect_format(file.path, options.fmt)
    compressed = decompress.compression_of(file.path) is not None
    whole = [ReadRange(file, 0, None)]
    if compressed or fmt not in ("jsonl", "text", "parquet") or (fmt == "text" and options.text_mode == "file"):
        return whole
    if fmt == "parquet":
        try:
            with open_file(file.path) as raw:
                sizes = row_group_sizes(raw)
        except FILE_ERRORS:
            return whole  # reading it will say what is wrong
        return _group_ranges(file, sizes, options.split_bytes) or whole
    starts = range(0, max(file.size, 1), options.split_bytes)
    return [ReadRange(file, start, start + options.split_bytes if start + options.split_bytes < file.size else None)
            for start in starts]


def _group_ranges(file: InputFile, sizes: List[int], split_bytes: int) -> List[ReadRange]:
    ranges, first, held = [], 0, 0
    for group, size in enumerate(sizes):
        held += size
        if held >= split_bytes or group == len(sizes) - 1:
            ranges.append(ReadRange(file, first, group + 1 if group < len(sizes) - 1 else None))
            first, held = group + 1, 0
    return ranges


class _Position:
    """Where a range's reader is, for the detail of an ``unreadable_file`` reject."""

    def __init__(self, unit: str, where: str = ""):
        self.unit = unit    # "row" or "record"
        self.where = where  # how to read a record's offset
        self.value: Optional[int] = None
        self.docs = 0

    def describe(self) -> str:
        if self.value is None:
            return f"before the first {self.unit}"
        at = f"row {self.value}" if self.unit == "row" else f"the record at byte {self.value}{self.where}"
        return f"after {at} ({self.docs} documents kept)"


def read_range(rng: ReadRange, options: ReadOptions, open_file: Opener = open_local,
               note: Note = lambda name: None) -> Iterator[Union[Doc, Reject]]:
    """Documents ``(key, text)`` and reject dicts of the records starting in ``rng``, in
    file order. Never raises for bad input."""
    path = rng.file.path
    fmt = detect_format(path, options.fmt)
    if fmt is None:
        if rng.start == 0:
            yield make_reject(path, STAGE, UNKNOWN_FORMAT,
                              f"{path}: cannot tell the format from the extension; expected one of "
                              f"{', '.join(FORMAT_BY_SUFFIX)} (optionally compressed), or set the format")
        return
    compression = decompress.compression_of(path)
    position = _Position("row" if fmt == "parquet" else "record",
                         "" if compression is None else " of the decompressed data")
    try:
        if fmt == "parquet" and compression is not None:
            yield make_reject(path, STAGE, UNREADABLE_FILE, f"{path}: compressed Parquet files are not "
                              f"supported (Parquet compresses its pages itself)")
            return
        with open_file(path) as raw:
            if fmt == "parquet":
                items = parquet_documents(raw, path, rng.start, rng.end if rng.end is not None else 1 << 62,
                                          options, position)
            else:
                stream = decompress.decompressing(raw, compression)
                encoding = _foreign_encoding(stream, compression is None)
                if encoding:
                    if rng.start == 0:
                        yield make_reject(path, STAGE, UNSUPPORTED_ENCODING,
                                          f"{path}: starts with a {encoding} byte order mark; glmprep reads "
                                          f"UTF-8 only (convert it, e.g. iconv -f {encoding.split()[0]} -t UTF-8)")
                    return
                items = _text_items(stream, path, fmt, rng, options, note, position)
            for item in items:
                if not isinstance(item, dict):
                    position.docs += 1
                yield item
    except FILE_ERRORS as exc:
        yield make_reject(path, STAGE, UNREADABLE_FILE,
                          f"{path}: stopped {position.describe()}: {type(exc).__name__}: {exc}")


def _text_items(stream: BinaryIO, path: str, fmt: str, rng: ReadRange, options: ReadOptions,
                note: Note, position: _Position) -> Iterator[Union[Doc, Reject]]:
    limit = options.max_record_bytes
    if fmt == "jsonl":
        return jsonl_documents(_tracked(lines_in_range(stream, rng.start, rng.end, limit), position),
                               path, options, note)
    if options.text_mode == "paragraph":
        return paragraph_documents(_tracked(paragraphs_in_range(stream, rng.start, rng.end, limit), position),
                                   path, options, note)
    return iter([text_file_document(stream, path, options, note)])


def _tracked(items: Iterator[Tuple[int, object]], position: _Position) -> Iterator[Tuple[int, object]]:
    for offset, item in items:
        position.value = offset
        yield offset, item


def _foreign_encoding(stream: BinaryIO, seekable: bool) -> Optional[str]:
    """The name of a non-UTF-8 byte order mark the stream starts with, or None; the
    stream is left at its start."""
    if seekable:
        stream.seek(0)
        head = stream.read(4)
        stream.seek(0)
    else:
        head = stream.peek(4)[:4]
    for bom, name in _FOREIGN_BOMS:
        if head.startswith(bom):
            return name
    return None


def read_file(path: str, options: ReadOptions = ReadOptions(), note: Note = lambda name: None,
              open_file: Opener = open_local) -> Iterator[Union[Doc, Reject]]:
    """Every document and reject of one file, read whole in one range."""
    return read_range(ReadRange(InputFile(path, 0, None), 0, None), options, open_file, note)


def changed_file_reject(rng: ReadRange, now: Optional[Tuple[int, Optional[float]]]) -> Optional[Reject]:
    """A ``file_changed`` reject when the file's size or modification time ``now``
    differs from what was matched (``now`` None: it is gone); None when unchanged."""
    matched = rng.file
    if matched.mtime is None:
        return None  # not a file when matched: its read was rejected already
    if now is not None and now[0] == matched.size and now[1] == matched.mtime:
        return None
    then = f"{matched.size:,} bytes, modified {matched.mtime}"
    after = "gone" if now is None else f"{now[0]:,} bytes, modified {now[1]}"
    part = "" if rng.start == 0 and rng.end is None else f" (range {rng.start}-{'end' if rng.end is None else rng.end})"
    return make_reject(matched.path, STAGE, FILE_CHANGED,
                       f"{matched.path}: changed while it was read{part}: {then} when matched, {after} after "
                       f"reading; the documents read from it are kept, its other records may be missing "
                       f"or read twice")
