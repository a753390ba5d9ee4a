"""Readers: file patterns in, ``(key, text)`` documents and read rejects out.

``p | ReadDocuments(patterns, ...)`` returns ``(docs, rejects)``. Formats:

- JSON Lines (``.jsonl``, ``.json``, ``.ndjson``): one JSON object per line, the text in
  ``text_field``; blank lines are skipped (counted as ``blank_lines``), not documents.
- plain text (``.txt``, ``.text``): ``text_mode="file"`` makes the whole file one
  document, ``"paragraph"`` makes each block of lines between blank lines one.
- Parquet (``.parquet``): text and id columns by name, read in row batches.

Any of the first two may carry a compression suffix (``.gz``, ``.bz2``, ``.zst``/``.zstd``,
``.xz``/``.lzma``). Files are opened with Beam's ``FileSystems`` so ``gs://`` works.

Keys (stable whatever the runner or bundle order): the record's id field when it is a
non-empty string or an integer, else ``path:line`` (JSONL, 1-based like an editor),
``path:row`` (Parquet, 0-based like Arrow), ``path`` (text file) or
``path#paragraph_index`` (text paragraphs, 0-based).

Bad input never fails the run; it becomes one reject record (stage ``read``):
``malformed_json``, ``missing_text`` (not an object, no text field, null),
``non_string_text``, ``invalid_unicode`` (a JSON ``"\\ud800"`` escape: a lone surrogate
is not a character and Beam cannot even encode it to pass it on), ``invalid_utf8`` (or, with ``invalid_utf8="replace"``, decoded with
U+FFFD and counted as ``utf8_replaced``), ``unknown_format``, ``bad_parquet_schema`` and
``unreadable_file`` (cannot open, a directory, corrupt or truncated compressed data:
the documents read before the break are kept, the reject's key is the path and its
detail says where it broke).

Keys are not yet unique on the way out (the same id twice): ``UniqueKeys``
(``glmprep.transforms.unique_keys``) follows the reader in the pipeline.

Counters (namespace ``read``): one per reason, plus ``docs_read``, ``bytes_read`` (file
sizes as stored), ``utf8_replaced``, ``blank_lines``.
"""
from __future__ import annotations

import bz2
import codecs
import glob
import io
import json
import lzma
import os
import re
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Union

import apache_beam as beam
import pyarrow
import pyarrow.parquet as pq
import zstandard
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from glmprep.core.options import add_option_arguments, build, option, text_or_none
from glmprep.core.records import Doc
from glmprep.schemas.rejects import make_reject

STAGE = "read"

FORMATS = ("auto", "jsonl", "text", "parquet")
TEXT_MODES = ("file", "paragraph")
INVALID_UTF8_MODES = ("reject", "replace")

# Reject reasons.
MALFORMED_JSON = "malformed_json"
MISSING_TEXT = "missing_text"
NON_STRING_TEXT = "non_string_text"
INVALID_UTF8 = "invalid_utf8"
UNKNOWN_FORMAT = "unknown_format"
BAD_PARQUET_SCHEMA = "bad_parquet_schema"
UNREADABLE_FILE = "unreadable_file"
INVALID_UNICODE = "invalid_unicode"  # same name as the clean stage's reason
READ_REJECT_REASONS = (MALFORMED_JSON, MISSING_TEXT, NON_STRING_TEXT, INVALID_UTF8,
                       INVALID_UNICODE, UNKNOWN_FORMAT, BAD_PARQUET_SCHEMA, UNREADABLE_FILE)

# Counters besides the reject reasons.
DOCS_READ = "docs_read"
BYTES_READ = "bytes_read"
UTF8_REPLACED = "utf8_replaced"
BLANK_LINES = "blank_lines"
READ_COUNTERS = (DOCS_READ, BYTES_READ, UTF8_REPLACED, BLANK_LINES)

REJECTS = "rejects"  # tag of the rejects output

_FORMAT_BY_SUFFIX = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
                     ".txt": "text", ".text": "text", ".parquet": "parquet"}
_COMPRESSION_BY_SUFFIX = {".gz": CompressionTypes.GZIP, ".bz2": CompressionTypes.BZIP2,
                          ".zst": CompressionTypes.ZSTD, ".zstd": CompressionTypes.ZSTD,
                          ".xz": CompressionTypes.LZMA, ".lzma": CompressionTypes.LZMA}
_NEW_DECOMPRESSOR = {
    CompressionTypes.GZIP: lambda: zlib.decompressobj(zlib.MAX_WBITS | 16),
    CompressionTypes.BZIP2: bz2.BZ2Decompressor,
    CompressionTypes.ZSTD: lambda: zstandard.ZstdDecompressor().decompressobj(),
    CompressionTypes.LZMA: lzma.LZMADecompressor,
}
# Compressed bytes read per step; the buffered reader on top hands out lines.
_COMPRESSED_CHUNK_BYTES = 1 << 18
_LINE_BUFFER_BYTES = 1 << 20
# Parquet rows per batch: bounds memory at a few hundred documents.
PARQUET_BATCH_ROWS = 256
# A JSON escape of a UTF-16 surrogate (high or low half), the only way a lone
# surrogate gets into a str here: strict UTF-8 decoding never produces one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Errors that mean "this file cannot be read (any further)", as opposed to bugs.
_FILE_ERRORS = (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError,
                zstandard.ZstdError, pyarrow.ArrowException)

Reject = Dict[str, str]
Note = Callable[[str], None]


@dataclass(frozen=True)
class ReadOptions:
    """How to read input files; the keyword arguments of ``ReadDocuments``."""

    fmt: str = option("auto", "input format; auto goes by extension: .jsonl/.json/.ndjson, "
                              ".txt/.text, .parquet, optionally .gz/.bz2/.zst/.xz",
                      flag="--format", choices=FORMATS)
    text_field: str = option("text", "JSON key / Parquet column holding the text")
    id_field: Optional[str] = option(  # None: positional keys
        "id", "JSON key / Parquet column holding the document id, used as its key; "
              "'none' keys documents by path and line/row", parse=text_or_none)
    text_mode: str = option("file", "plain text files: one document per file, or per "
                                    "blank-line-separated paragraph", choices=TEXT_MODES)
    invalid_utf8: str = option("reject", "bytes that are not UTF-8: reject the record, or replace "
                                         "them with U+FFFD and count utf8_replaced",
                               choices=INVALID_UTF8_MODES)

    def __post_init__(self):
        for name, allowed in (("fmt", FORMATS), ("text_mode", TEXT_MODES),
                              ("invalid_utf8", INVALID_UTF8_MODES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"read option {name}={getattr(self, name)!r}; expected one of {allowed}")
        if not isinstance(self.text_field, str) or not self.text_field:
            raise ValueError(f"read option text_field must be a non-empty string, got {self.text_field!r}")
        if self.id_field is not None and (not isinstance(self.id_field, str) or not self.id_field):
            raise ValueError(f"read option id_field must be a non-empty string or None, got {self.id_field!r}")


class TruncatedInput(EOFError):
    """The compressed stream ended before its end-of-stream marker."""


class _DecompressingReader(io.RawIOBase):
    """Decompresses a raw byte stream, raising ``TruncatedInput`` at a premature end.

    Beam's ``CompressedFile`` returns a short stream without any error when a file is
    truncated, which would silently lose its tail; this reader checks that the last
    compressed member reached its end marker. Concatenated members (``cat a.gz b.gz``)
    are read one after the other.
    """

    def __init__(self, raw: BinaryIO, compression: str):
        self._raw = raw
        self._new_decompressor = _NEW_DECOMPRESSOR[compression]
        self._decompressor = self._new_decompressor()
        self._fed = False  # has the current decompressor received any input?
        self._out = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._out and not self._done:
            self._decompress_next_chunk()
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _decompress_next_chunk(self) -> None:
        if self._decompressor.eof:
            data = self._decompressor.unused_data or self._raw.read(_COMPRESSED_CHUNK_BYTES)
            if not data:
                self._done = True
                return
            self._decompressor, self._fed = self._new_decompressor(), False
        else:
            data = self._raw.read(_COMPRESSED_CHUNK_BYTES)
            if not data:
                if self._fed:
                    raise TruncatedInput("compressed data ends before its end-of-stream marker "
                                         "(truncated file?)")
                self._done = True
                return
        self._fed = True
        self._out = memoryview(self._decompressor.decompress(data))

    def close(self) -> None:
        self._raw.close()
        super().close()


def detect_format(path: str, fmt: str = "auto") -> Optional[str]:
    """The file's format: ``fmt`` unless "auto", else from the extension under any
    compression suffix; None when the extension is not known.

    >>> detect_format("gs://b/part-0001.jsonl.zst")
    'jsonl'
    """
    if fmt != "auto":
        return fmt
    name = path.lower()
    for suffix in _COMPRESSION_BY_SUFFIX:
        if name.endswith(suffix):
            name = name[:-len(suffix)]
            break
    for suffix, detected in _FORMAT_BY_SUFFIX.items():
        if name.endswith(suffix):
            return detected
    return None


def detect_compression(path: str) -> str:
    """Beam ``CompressionTypes`` value for the path's suffix (UNCOMPRESSED if none)."""
    name = path.lower()
    for suffix, compression in _COMPRESSION_BY_SUFFIX.items():
        if name.endswith(suffix):
            return compression
    return CompressionTypes.UNCOMPRESSED


def open_decompressed(path: str) -> BinaryIO:
    """Open ``path`` (any Beam filesystem) for buffered reading of its decompressed bytes."""
    raw = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    compression = detect_compression(path)
    if compression == CompressionTypes.UNCOMPRESSED:
        return raw
    return io.BufferedReader(_DecompressingReader(raw, compression), _LINE_BUFFER_BYTES)


class _Position:
    """Where a reader is in its file, for the detail of an ``unreadable_file`` reject."""

    def __init__(self, unit: Optional[str]):
        self.unit = unit  # "line" or "row"; None when the file is one document
        self.value: Optional[int] = None
        self.docs = 0

    def describe(self) -> str:
        if self.unit is None:
            return "while reading the file as one document"
        if self.value is None:
            return f"before the first {self.unit}"
        return f"after {self.unit} {self.value} ({self.docs} documents kept)"


def read_file(path: str, options: ReadOptions = ReadOptions(),
              note: Note = lambda name: None) -> Iterator[Union[Doc, Reject]]:
    """Documents ``(key, text)`` and reject dicts of one file, in file order.

    Never raises for bad input: a file that cannot be read (further) ends with one
    ``unreadable_file`` reject keyed by ``path``. ``note(counter_name)`` is called for
    ``utf8_replaced`` and ``blank_lines`` events.
    """
    fmt = detect_format(path, options.fmt)
    if fmt is None:
        yield make_reject(path, STAGE, UNKNOWN_FORMAT,
                          f"{path}: cannot tell the format from the extension; expected one of "
                          f"{', '.join(_FORMAT_BY_SUFFIX)} (optionally compressed), or set the format")
        return
    if fmt == "parquet":
        position, read_records = _Position("row"), _read_parquet
    elif fmt == "jsonl":
        position, read_records = _Position("line"), _read_jsonl
    elif options.text_mode == "paragraph":
        position, read_records = _Position("line"), _read_text_paragraphs
    else:
        position, read_records = _Position(None), _read_text_file
    try:
        if fmt == "parquet" and detect_compression(path) != CompressionTypes.UNCOMPRESSED:
            raise ValueError("compressed Parquet files are not supported "
                             "(Parquet compresses its pages itself)")
        with open_decompressed(path) as stream:
            for item in read_records(stream, path, options, note, position):
                if not isinstance(item, dict):
                    position.docs += 1
                yield item
    except _FILE_ERRORS as exc:
        yield make_reject(path, STAGE, UNREADABLE_FILE,
                          f"{path}: stopped {position.describe()}: {type(exc).__name__}: {exc}")


def _read_jsonl(stream: BinaryIO, path: str, options: ReadOptions, note: Note,
                position: _Position) -> Iterator[Union[Doc, Reject]]:
    for line_number, raw in enumerate(stream, start=1):
        position.value = line_number
        if line_number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        if not raw.strip():
            note(BLANK_LINES)
            continue
        where = f"{path}:{line_number}"
        line = _decode(raw.rstrip(b"\r\n"), where, options, note)
        if isinstance(line, dict):
            yield line
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield make_reject(where, STAGE, MALFORMED_JSON,
                              f"{where}: {exc.msg} (column {exc.colno})", line)
            continue
        except RecursionError:
            yield make_reject(where, STAGE, MALFORMED_JSON, f"{where}: JSON nested too deeply", line)
            continue
        if not isinstance(record, dict):
            yield make_reject(where, STAGE, MISSING_TEXT,
                              f"{where}: expected a JSON object, got {type(record).__name__}", line)
            continue
        key = _record_key(record.get(options.id_field) if options.id_field else None, where)
        text = record.get(options.text_field)
        if _SURROGATE_ESCAPE.search(raw) and (_LONE_SURROGATE.search(key)
                                              or isinstance(text, str) and _LONE_SURROGATE.search(text)):
            # Beam's coders encode str as UTF-8, which a lone surrogate cannot be:
            # the document has to stop here, before it crosses any stage boundary.
            yield make_reject(where, STAGE, INVALID_UNICODE,
                              f"{where}: JSON escape of a lone UTF-16 surrogate (not a character)", line)
        elif text is None:
            state = "null" if options.text_field in record else "missing"
            yield make_reject(key, STAGE, MISSING_TEXT,
                              f"{where}: field {options.text_field!r} is {state}", line)
        elif not isinstance(text, str):
            yield make_reject(key, STAGE, NON_STRING_TEXT,
                              f"{where}: field {options.text_field!r} is a {type(text).__name__}, "
                              f"expected a string", line)
        else:
            yield key, text


def _read_text_file(stream: BinaryIO, path: str, options: ReadOptions, note: Note,
                    position: _Position) -> Iterator[Union[Doc, Reject]]:
    data = stream.read()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    text = _decode(data, path, options, note)
    yield text if isinstance(text, dict) else (path, text)


def _read_text_paragraphs(stream: BinaryIO, path: str, options: ReadOptions, note: Note,
                          position: _Position) -> Iterator[Union[Doc, Reject]]:
    paragraph_lines: List[bytes] = []
    paragraph_index = 0
    for line_number, raw in enumerate(stream, start=1):
        position.value = line_number
        if line_number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        if raw.strip():
            paragraph_lines.append(raw)
        elif paragraph_lines:
            yield _paragraph(paragraph_lines, f"{path}#{paragraph_index}", options, note)
            paragraph_lines, paragraph_index = [], paragraph_index + 1
    if paragraph_lines:
        yield _paragraph(paragraph_lines, f"{path}#{paragraph_index}", options, note)


def _paragraph(lines: List[bytes], key: str, options: ReadOptions,
               note: Note) -> Union[Doc, Reject]:
    text = _decode(b"".join(lines).rstrip(b"\r\n"), key, options, note)
    return text if isinstance(text, dict) else (key, text)


def _read_parquet(stream: BinaryIO, path: str, options: ReadOptions, note: Note,
                  position: _Position) -> Iterator[Union[Doc, Reject]]:
    parquet_file = pq.ParquetFile(stream)
    schema = parquet_file.schema_arrow
    if schema.get_field_index(options.text_field) < 0:
        yield make_reject(path, STAGE, BAD_PARQUET_SCHEMA,
                          f"{path}: no column {options.text_field!r} (columns: {', '.join(schema.names)})")
        return
    text_type = schema.field(options.text_field).type
    if not _is_string_type(text_type):
        yield make_reject(path, STAGE, BAD_PARQUET_SCHEMA,
                          f"{path}: column {options.text_field!r} has type {text_type}, expected string")
        return
    columns = [options.text_field]
    if (options.id_field and options.id_field != options.text_field
            and schema.get_field_index(options.id_field) >= 0
            and (_is_string_type(schema.field(options.id_field).type)
                 or pyarrow.types.is_integer(schema.field(options.id_field).type))):
        columns.append(options.id_field)
    row = 0
    for batch in parquet_file.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns):
        texts = batch.column(0).to_pylist()
        ids = batch.column(1).to_pylist() if len(columns) > 1 else [None] * len(texts)
        for text, record_id in zip(texts, ids):
            position.value = row
            where = f"{path}:{row}"
            key = _record_key(record_id, where)
            if text is None:
                yield make_reject(key, STAGE, MISSING_TEXT, f"{where}: {options.text_field!r} is null")
            else:
                yield key, text
            row += 1


def _is_string_type(arrow_type: pyarrow.DataType) -> bool:
    if pyarrow.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    return (pyarrow.types.is_string(arrow_type) or pyarrow.types.is_large_string(arrow_type)
            or pyarrow.types.is_string_view(arrow_type))


def _decode(data: bytes, where: str, options: ReadOptions, note: Note) -> Union[str, Reject]:
    """UTF-8 text of ``data``, or an ``invalid_utf8`` reject keyed ``where``."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        replaced = data.decode("utf-8", errors="replace")
        if options.invalid_utf8 == "replace":
            note(UTF8_REPLACED)
            return replaced
        return make_reject(where, STAGE, INVALID_UTF8,
                           f"{where}: invalid UTF-8 byte 0x{data[exc.start]:02x} at byte offset {exc.start}",
                           replaced)


def _record_key(record_id: Any, fallback: str) -> str:
    if isinstance(record_id, str) and record_id:
        return record_id
    if isinstance(record_id, int) and not isinstance(record_id, bool):
        return str(record_id)
    return fallback


def match_pattern(pattern: str) -> Iterator[tuple]:
    """``(path, size_in_bytes)`` of every entry ``pattern`` matches, files or not.

    Beam's listing skips what it cannot stat as a file: a directory, a dangling
    symlink, a file that vanished. Dropping those silently would lose a whole input
    without a trace, so on the local filesystem the pattern is also expanded with
    ``glob`` and each such entry is passed on (size 0): reading it then fails and
    it becomes an ``unreadable_file`` reject naming its path.
    """
    matched = FileSystems.match([pattern])[0].metadata_list
    seen = set()
    for metadata in matched:
        seen.add(os.path.abspath(metadata.path))
        yield metadata.path, metadata.size_in_bytes
    if "://" in pattern:
        return
    for path in sorted(glob.glob(pattern, recursive=True)):
        if os.path.abspath(path) not in seen and not os.path.isfile(path):
            yield path, 0


def _no_progress(name: str, n: int = 1) -> None:
    """The default progress note: nothing to report to."""


class ReadRecordsDoFn(beam.DoFn):
    """``(path, size_in_bytes)`` -> documents, and reject dicts on the ``rejects`` tag.

    ``note_progress(name, n)`` is told ``docs_read`` per document and ``bytes_read`` per
    file read (the wiring layer passes its progress line's ``note``; a picklable function)."""

    def __init__(self, options: ReadOptions, note_progress: Callable[[str, int], None] = _no_progress):
        self._options = options
        self._note_progress = note_progress
        self._counters = {name: Metrics.counter(STAGE, name)
                          for name in READ_REJECT_REASONS + READ_COUNTERS}

    def process(self, path_and_size):
        path, size_in_bytes = path_and_size
        self._counters[BYTES_READ].inc(size_in_bytes or 0)
        for item in read_file(path, self._options, lambda name: self._counters[name].inc()):
            if isinstance(item, dict):
                self._counters[item["reason"]].inc()
                yield beam.pvalue.TaggedOutput(REJECTS, item)
            else:
                self._counters[DOCS_READ].inc()
                self._note_progress(DOCS_READ, 1)
                yield item
        self._note_progress(BYTES_READ, size_in_bytes or 0)


class ReadDocuments(beam.PTransform):
    """Read every file matching ``patterns``; returns ``(docs, rejects)``.

    ``docs``: ``(key, text)``, keys not yet distinct (see ``UniqueKeys``); ``rejects``: reject dicts of stage
    ``read``. Patterns that match nothing are allowed (the CLI checks them up front); a
    file matched by two patterns is read once. Keyword arguments: see ``ReadOptions``;
    ``note_progress``: see ``ReadRecordsDoFn``.
    """

    def __init__(self, patterns: Union[str, Iterable[str]], fmt: str = "auto",
                 text_field: str = "text", id_field: Optional[str] = "id",
                 text_mode: str = "file", invalid_utf8: str = "reject",
                 note_progress: Callable[[str, int], None] = _no_progress):
        super().__init__()
        self._note_progress = note_progress
        self._patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        if not self._patterns:
            raise ValueError("ReadDocuments needs at least one file pattern")
        self._options = ReadOptions(fmt, text_field, id_field, text_mode, invalid_utf8)

    def expand(self, pbegin):
        results = (
            pbegin
            # no reshuffle: the grouping of files below spreads them over workers
            | 'CreatePatterns' >> beam.Create(self._patterns, reshuffle=False)
            | 'MatchFiles' >> beam.FlatMap(match_pattern)
            # (path, size_in_bytes); a file matched by several patterns is read once (by
            # path: a directory named by one pattern and globbed by another has two sizes),
            # and the grouping spreads files over workers as a reshuffle would
            | 'DropRepeatedFiles' >> beam.CombinePerKey(max)
            | 'ReadRecords' >> beam.ParDo(ReadRecordsDoFn(self._options, self._note_progress)).with_outputs(REJECTS, main='docs'))
        # docs: (key, text), a key possibly repeated (UniqueKeys follows); rejects: reject dicts
        return results.docs, results[REJECTS]


# --- command line ---

def add_read_arguments(parser) -> None:
    """The flags of ``ReadOptions`` (``--format``, ``--text-field``, ...), generated from
    its fields, added to an argparse-style parser (also Beam's)."""
    add_option_arguments(parser, ReadOptions, "reading")


def read_options_from(source: Union[Mapping[str, Any], Any]) -> ReadOptions:
    """``ReadOptions`` from parsed arguments (a Namespace, Beam ``PipelineOptions`` or a
    dict of field names); use as ``ReadDocuments(patterns, **vars(options))``."""
    return build(ReadOptions, source)
