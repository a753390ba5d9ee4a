"""Readers: file patterns in, ``(key, text)`` documents and read rejects out.

``p | ReadDocuments(patterns, ...)`` returns ``(docs, rejects)``. Formats:

- JSON Lines (``.jsonl``, ``.json``, ``.ndjson``): one JSON object per ``\\n``-terminated
  line, the text in ``text_field``; blank lines are skipped (counted as ``blank_lines``).
- plain text (``.txt``, ``.text``): ``text_mode="file"`` makes the whole file one
  document, ``"paragraph"`` makes each block of lines between blank lines one.
- Parquet (``.parquet``): text and id columns by name, read in row batches.

Any of the first two may carry a compression suffix (``.gz``, ``.bz2``, ``.zst``/``.zstd``,
``.xz``/``.lzma``). Files are opened with Beam's ``FileSystems`` so ``gs://`` works.

The steps have the shape of Beam's own ``ReadAllFromText`` (expand files into ranges,
reshuffle, read each range): patterns are matched, a file reached through several
spellings (``./x``, a symlinked folder) is read once, each file is split into ranges
(``glmprep.core.reading.files``: byte ranges of uncompressed JSON Lines and paragraph
text, row groups of Parquet, one range otherwise), and the ranges are spread over the
workers, so one large file is read by many at once.

Keys (stable whatever the runner, the split or the bundle order): the record's id field
when it is a non-empty string or an integer, else ``path@offset`` (JSON Lines and text
paragraphs: the byte offset where the record starts, of the decompressed data for a
compressed file), ``path:row`` (Parquet, 0-based like Arrow) or ``path`` (text file).

Bad input never fails the run; it becomes one reject record (stage ``read``), reasons
listed in ``glmprep.core.reading.records`` and the README. After reading a range its
file's size and modification time are compared with those seen when it was matched: a
file changed meanwhile gets a ``file_changed`` reject (and a warning on stderr).

Counters (namespace ``read``): one per reason, plus ``docs_read``, ``bytes_read`` (bytes
as stored), ``ranges_read``, ``utf8_replaced``, ``blank_lines``.
"""
from __future__ import annotations

import glob
import os
import sys
from typing import BinaryIO, Callable, Iterable, Iterator, List, Optional, Tuple, Union

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from glmprep.core.reading import decompress
from glmprep.core.reading.files import InputFile, ReadRange, changed_file_reject, read_range, split_file
from glmprep.core.reading.options import ReadOptions
from glmprep.core.reading.records import (BYTES_READ, DOCS_READ, RANGES_READ, READ_COUNTERS,
                                          READ_REJECT_REASONS)


REJECTS = "rejects"  # tag of the rejects output


def open_input(path: str) -> BinaryIO:
    """The raw bytes of ``path`` on any Beam filesystem (decompression is glmprep's own)."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def is_remote(path: str) -> bool:
    return "://" in path


def match_pattern(pattern: str) -> Iterator[Tuple[str, InputFile]]:
    """``(real path, InputFile)`` of every entry ``pattern`` matches, files or not.

    Beam's listing skips what it cannot stat as a file: a directory, a dangling
    symlink, a file that vanished. Dropping those silently would lose a whole input
    without a trace, so on the local filesystem the pattern is also expanded with
    ``glob`` and each such entry is passed on (size 0, no time): reading it then fails
    and it becomes an ``unreadable_file`` reject naming its path. The real path (links
    resolved) is what makes two spellings of one file one input.
    """
    matched = FileSystems.match([pattern])[0].metadata_list
    seen = set()
    for metadata in matched:
        real = metadata.path if is_remote(metadata.path) else os.path.realpath(metadata.path)
        seen.add(os.path.abspath(metadata.path))
        yield real, InputFile(metadata.path, metadata.size_in_bytes, metadata.last_updated_in_seconds)
    if is_remote(pattern):
        return
    for path in sorted(glob.glob(pattern, recursive=True)):
        if os.path.abspath(path) not in seen and not os.path.isfile(path):
            yield os.path.realpath(path), InputFile(path, 0, None)


def first_spelling(files: Iterable[InputFile]) -> InputFile:
    """Of the spellings of one file, the one whose path sorts first (any order of matching)."""
    return min(files, key=lambda f: (f.path, f.size, f.mtime or 0.0))


def stat_input(path: str) -> Optional[Tuple[int, float]]:
    """``(size, modification time)`` now, as matching reports them; None if it is gone."""
    try:
        if not is_remote(path):
            info = os.stat(path)
            return info.st_size, info.st_mtime
        metadata = FileSystems.match([path])[0].metadata_list
    except (OSError, Exception):  # noqa: BLE001 - Beam raises filesystem-specific errors
        return None
    return (metadata[0].size_in_bytes, metadata[0].last_updated_in_seconds) if metadata else None


def range_bytes(rng: ReadRange) -> int:
    """Bytes of the file as stored that a range covers (its share of ``bytes_read``)."""
    file = rng.file
    if rng.start == 0 and rng.end is None:
        return file.size or 0
    if decompress.compression_of(file.path) is None and not file.path.lower().endswith(".parquet"):
        return min(rng.end if rng.end is not None else file.size, file.size) - rng.start
    return 0 if rng.start else file.size or 0  # Parquet row groups: the file counted once


def _no_progress(name: str, n: int = 1) -> None:
    """The default progress note: nothing to report to."""


class SplitFileDoFn(beam.DoFn):
    """``(real path, InputFile)`` -> the ``ReadRange``s it is read in."""

    def __init__(self, options: ReadOptions):
        self._options = options

    def process(self, element):
        _, file = element
        yield from split_file(file, self._options, open_input)


class ReadRangeDoFn(beam.DoFn):
    """``ReadRange`` -> documents, and reject dicts on the ``rejects`` tag.

    ``note_progress(name, n)`` is told ``docs_read`` and ``bytes_read`` (the document's text
    in UTF-8 bytes, uncompressed) per document, so the progress line moves within a file
    (the wiring layer passes its progress line's ``note``; a picklable function). The
    ``bytes_read`` counter counts the range's bytes as stored."""

    def __init__(self, options: ReadOptions, note_progress: Callable[[str, int], None] = _no_progress):
        self._options = options
        self._note_progress = note_progress
        self._counters = {name: Metrics.counter("read", name) for name in READ_REJECT_REASONS + READ_COUNTERS}

    def process(self, rng: ReadRange):
        size = range_bytes(rng)
        self._counters[RANGES_READ].inc()
        self._counters[BYTES_READ].inc(size)
        for item in read_range(rng, self._options, open_input, lambda name: self._counters[name].inc()):
            if isinstance(item, dict):
                self._counters[item["reason"]].inc()
                yield beam.pvalue.TaggedOutput(REJECTS, item)
            else:
                self._counters[DOCS_READ].inc()
                self._note_progress(DOCS_READ, 1)
                self._note_progress(BYTES_READ, len(item[1].encode("utf-8", "surrogatepass")))
                yield item
        changed = changed_file_reject(rng, stat_input(rng.file.path))
        if changed is not None:
            self._counters[changed["reason"]].inc()
            print(f"glmprep: warning: {changed['detail']}", file=sys.stderr, flush=True)
            yield beam.pvalue.TaggedOutput(REJECTS, changed)


class ReadDocuments(beam.PTransform):
    """Read every file matching ``patterns``; returns ``(docs, rejects)``.

    ``docs``: ``(key, text)``, keys not yet distinct (see ``UniqueKeys``); ``rejects``: reject dicts of stage
    ``read``. Patterns that match nothing are allowed (the CLI checks them up front); a
    file matched by two patterns or spellings is read once. Keyword arguments: the fields
    of ``ReadOptions``; ``note_progress``: see ``ReadRangeDoFn``.
    """

    def __init__(self, patterns: Union[str, Iterable[str]],
                 note_progress: Callable[[str, int], None] = _no_progress, **read_options):
        super().__init__()
        self._note_progress = note_progress
        self._patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        if not self._patterns:
            raise ValueError("ReadDocuments needs at least one file pattern")
        self._options = ReadOptions(**read_options)

    def expand(self, pbegin):
        results = (
            pbegin
            # no reshuffle: the grouping of files below spreads them over workers
            | 'CreatePatterns' >> beam.Create(self._patterns, reshuffle=False)
            | 'MatchFiles' >> beam.FlatMap(match_pattern)
            # (real path, InputFile): one spelling of each file, whichever pattern matched it
            | 'DropRepeatedFiles' >> beam.CombinePerKey(first_spelling)
            | 'SplitFiles' >> beam.ParDo(SplitFileDoFn(self._options))
            # ReadRange: the ranges of one file go to different workers
            | 'SpreadRanges' >> beam.Reshuffle()
            | 'ReadRanges' >> beam.ParDo(ReadRangeDoFn(self._options, self._note_progress))
                .with_outputs(REJECTS, main='docs'))
        # docs: (key, text), a key possibly repeated (UniqueKeys follows); rejects: reject dicts
        return results.docs, results[REJECTS]
