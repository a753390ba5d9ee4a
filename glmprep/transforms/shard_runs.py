"""A shard's documents on their way to its writer: through run files, not the shuffle.

Each bundle gathers its tokenized documents by shard (``SpillByShardDoFn`` in
``shards.py``). Whenever it holds ``GATHER_BYTES`` of them, and at the end of the bundle,
it writes one *run file* (``write_run``): for each shard in index order, that shard's
documents sorted by key, one section after the other. Only a reference to each section,
``(RUN, path, offset, length)``, crosses the shuffle to the shard's writer, which reads
its sections back merged into one stream in key order (``MergedRuns``).

Why files: the packed token ids are the largest thing a run moves, and a runner may hand
a writer its shard's group whole: the DirectRunner passes it as one value, so before
this a shard of 50 M tokens (126 MB packed) reached its worker as one element, decoded
next to the bytes it came in (about 1.2-1.3 GB of worker RSS). Through files, a worker
holds at most one bundle's gathered documents while writing a run and, while merging,
``FAN_IN`` sections' read buffers; the shuffle carries a few references per bundle.

Retry-safe: a run file's name is unique to the flush that wrote it, a run is never
changed once written, and writers only read runs, so two attempts of a bundle (of either
step) never share a file. Runs of attempts that died are referenced by nothing. The whole
runs directory is removed when every shard is final, before the manifest is written
(``remove_runs``), and with what an unfinished run leaves (``glmprep.pipeline.outdir``).
"""
from __future__ import annotations

import heapq
import os
import re
import uuid
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple, TypeVar

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from glmprep.transforms.publish import is_remote, write_failed
from glmprep.transforms.shard_sort import read_docs, read_run, spill_docs, spill_to_temp

RUNS_DIR = ".glmprep-shard-runs"  # in the output directory, while a run writes shards
RUN = "run"                        # tag of a section reference in a shard's group: documents
LANGUAGE_RUN = "languages"         # ... of a section of the documents' languages, (key, code)
RUN_NAME = re.compile(r"run-[0-9a-f]{32}\.run")  # a run file's name (uuid4 hex)
FAN_IN = 16  # sections a writer reads at once; more are first merged this many at a time on local disk

T = TypeVar("T")
Section = Tuple[str, int, int]  # (path, offset, length) of one shard's documents in a run file


def runs_dir(output_dir: str) -> str:
    return FileSystems.join(output_dir, RUNS_DIR)


def run_path(directory: str, name: str) -> str:
    """The run file called ``name`` (32 hex digits) in ``directory``."""
    return FileSystems.join(directory, f"run-{name}.run")


def create_run(directory: str, what: str, write: Callable[[Any, str], T]) -> Tuple[str, str, T]:
    """A new run file in ``directory`` under a name unique to this call, written by
    ``write(file, name)``; (name, path, what ``write`` returned). A failed write leaves no
    file and is one ``OutputWriteError`` saying it could not write ``what``."""
    name = uuid.uuid4().hex
    path = run_path(directory, name)
    try:
        fh = FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED)
        try:
            result = write(fh, name)
        finally:
            fh.close()
    except OSError as exc:  # one line, no partial file
        raise write_failed(path, what, exc) from exc
    return name, path, result


def write_run(directory: str, gathered: Dict[int, List[Tuple[str, bytes]]], tag: str = RUN
              ) -> List[Tuple[int, tuple]]:
    """Write ``gathered`` (shard index -> [(key, packed token ids or another payload), ...])
    as one new run file in ``directory``; ``[(shard index, (tag, path, offset, length)),
    ...]``, one reference per shard, in shard order."""
    def write(fh, _name):
        sections, offset = [], 0
        for shard in sorted(gathered):
            length = spill_docs(sorted(gathered[shard]), fh)
            sections.append((shard, offset, length))
            offset += length
        return sections

    _, path, sections = create_run(directory, "shard documents", write)
    return [(shard, (tag, path, offset, length)) for shard, offset, length in sections]


def read_section(section: Section) -> Iterator[Tuple[str, bytes]]:
    """The documents of one section of a run file, in the order written (by key)."""
    path, offset, length = section
    fh = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    try:
        fh.seek(offset)
        yield from read_docs(fh, length)
    finally:
        fh.close()


class MergedRuns:
    """The documents of ``sections`` merged in key order (what ``sorted`` gives of all of
    them), readable again (once per epoch). At most ``fan_in`` sections are read at once:
    with more, they are first merged ``fan_in`` at a time into sorted runs on local disk,
    until ``fan_in`` sources are left. ``close()`` removes the local runs."""

    def __init__(self, sections: Sequence[Section], fan_in: int = FAN_IN):
        if fan_in < 2:
            raise ValueError(f"fan_in must be at least 2, not {fan_in}")
        self.local: List = []
        sources: List = sorted(sections)  # sections (tuples) and local runs (files), merged in this order
        try:
            while len(sources) > fan_in:
                first, sources = sources[:fan_in], sources[fan_in:]
                run = spill_to_temp(heapq.merge(*(self._read(s) for s in first)))
                self.local.append(run)
                sources.append(run)
        except BaseException:
            self.close()
            raise
        self.sources = sources

    @staticmethod
    def _read(source) -> Iterator[Tuple[str, bytes]]:
        return read_section(source) if isinstance(source, tuple) else read_run(source)

    def __iter__(self) -> Iterator[Tuple[str, bytes]]:
        return heapq.merge(*(self._read(s) for s in self.sources))

    def close(self) -> None:
        for run in self.local:
            run.close()
        self.local = []


def run_files(output_dir: str) -> List[str]:
    """The run files in ``output_dir``'s runs directory, by name (nothing else, locally
    nothing through a link), sorted."""
    directory = runs_dir(output_dir)
    if not is_remote(directory):
        if not os.path.isdir(directory) or os.path.islink(directory):
            return []
        return sorted(e.path for e in os.scandir(directory) if not e.is_symlink() and e.is_file()
                      and RUN_NAME.fullmatch(e.name))
    return sorted(m.path for m in FileSystems.match([FileSystems.join(directory, "run-*.run")])[0].metadata_list
                  if RUN_NAME.fullmatch(m.path.rsplit("/", 1)[-1]))


def remove_runs(output_dir: str) -> int:
    """Remove the ``run_files`` of ``output_dir``, then the runs directory if that left it
    empty (locally); how many files."""
    found = run_files(output_dir)
    if found:
        FileSystems.delete(found)
    directory = runs_dir(output_dir)
    if not is_remote(directory) and os.path.isdir(directory) and not os.path.islink(directory) \
            and not os.listdir(directory):
        os.rmdir(directory)
    return len(found)
