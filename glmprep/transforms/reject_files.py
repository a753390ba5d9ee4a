"""Rejects written where they are made: each stage's rejects go to files in ``rejects/``
from the step that rejects them, so no step ever holds every stage's rejects.

    a stage's rejects --WriteRejects--> rejects/rejects-bundle.jsonl.<attempt>.inprogress
                                        + one (file, {stage/reason: count}) per file
    every stage's file records --FinalizeRejects--> rejects/rejects-NNNNN-of-NNNNN.jsonl
                                                    + {stage/reason: count} for the manifest

Why: the rejects used to meet in one flatten before one sink. The local runner holds a
flattened collection whole and hands a worker its part at once, so 10^6 copies of one
text made their 10^6 duplicate rejects the run's largest step (1.3 GB of worker RSS).
Now a stage's rejects are written in the step that makes them, one line at a time, and
only one small record per file goes on.

Retry-safe, as the shards are (``publish.py``): each attempt at a bundle writes files of
its own (``attempt_temp``), at most ``MAX_FILE_BYTES`` each. The runner passes on the
records of the one attempt it keeps; ``finalize_rejects`` publishes exactly those files
under their final names and removes the files of attempts that died. Publishing again
(a retried finalize) finds a file already moved and leaves it. The final numbering
follows the attempt names, so which reject lands in which file differs between runs;
the set of reject lines does not.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Callable, Dict, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

from glmprep.schemas.rejects import REJECTS_DIR, REJECTS_FILE_PREFIX, REJECTS_FILE_SUFFIX, reason_key
from glmprep.transforms.publish import OutputWriteError, attempt_temp, leftovers, publish, write_failed

BUNDLE_FILE = f"{REJECTS_FILE_PREFIX}-bundle{REJECTS_FILE_SUFFIX}"  # attempts: <this>.<attempt>.inprogress
MAX_FILE_BYTES = 64 << 20  # a bundle's rejects past this go on in another file

FileRecord = Tuple[str, Dict[str, int]]  # (attempt file, stage/reason -> rejects in it)


def rejects_dir(output: str) -> str:
    return FileSystems.join(output, REJECTS_DIR)


def final_name(index: int, count: int) -> str:
    """``rejects-00003-of-00008.jsonl``"""
    return f"{REJECTS_FILE_PREFIX}-{index:05d}-of-{count:05d}{REJECTS_FILE_SUFFIX}"


def reject_line(reject: Dict[str, object]) -> bytes:
    """One reject as its line of ``rejects/*.jsonl``."""
    return (json.dumps(reject, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


class WriteRejectFilesDoFn(beam.DoFn):
    """Reject dicts -> ``FileRecord``s: the rejects written, as they come, to files of
    this attempt in ``directory``; one record per file once it is closed. ``note()``, if
    given, is called once per reject (the progress line's count)."""

    def __init__(self, directory: str, note: Optional[Callable[[], None]] = None,
                 max_file_bytes: int = MAX_FILE_BYTES):
        self.directory = directory
        self.note = note
        self.max_file_bytes = max_file_bytes

    def start_bundle(self):
        self.file = self.path = None
        self.written = 0
        self.counts: Counter = Counter()

    def process(self, reject):
        if self.file is None:
            self._open()
        line = reject_line(reject)
        try:
            self.file.write(line)
        except OSError as exc:
            self._failed(exc)
        self.written += len(line)
        self.counts[reason_key(reject)] += 1
        if self.note is not None:
            self.note()
        if self.written >= self.max_file_bytes:
            yield self._close()

    def finish_bundle(self):
        if self.file is not None:
            yield GlobalWindows.windowed_value(self._close())

    def _open(self):
        self.path = attempt_temp(FileSystems.join(self.directory, BUNDLE_FILE))
        try:
            self.file = FileSystems.create(self.path, compression_type=CompressionTypes.UNCOMPRESSED)
        except OSError as exc:
            self._failed(exc)

    def _close(self) -> FileRecord:
        try:
            self.file.close()
        except OSError as exc:
            self._failed(exc)
        record = (self.path, dict(self.counts))
        self.file = self.path = None
        self.written = 0
        self.counts = Counter()
        return record

    def _failed(self, exc: OSError):
        """One line naming the file, and no partial file."""
        path, self.file = self.path, None
        raise write_failed(path, "rejects", exc) from exc


class WriteRejects(beam.PTransform):
    """A stage's reject dicts -> ``FileRecord``s (see the module docstring); ``prepare``,
    when given, is a DoFn each reject goes through first (e.g. redacting its preview)."""

    def __init__(self, output: str, prepare: Optional[beam.DoFn] = None,
                 note: Optional[Callable[[], None]] = None):
        super().__init__()
        self.output = output
        self.prepare = prepare
        self.note = note

    def expand(self, rejects):
        if self.prepare is not None:
            rejects = rejects | "Prepare" >> beam.ParDo(self.prepare)
        return rejects | "WriteFiles" >> beam.ParDo(WriteRejectFilesDoFn(rejects_dir(self.output), self.note))


def finalize_rejects(directory: str, records: Sequence[FileRecord]) -> Dict[str, int]:
    """Publish the files of ``records`` as ``rejects-NNNNN-of-NNNNN.jsonl`` in
    ``directory``, remove the files of other attempts; stage/reason -> rejects, summed.
    With no rejects at all, one empty file, so ``rejects/`` always holds the run's."""
    records = sorted(records, key=lambda record: record[0])  # by attempt file: unique names
    reasons: Counter = Counter()
    for _, counts in records:
        reasons.update(counts)
    if not records:
        with FileSystems.create(FileSystems.join(directory, final_name(0, 1)),
                                compression_type=CompressionTypes.UNCOMPRESSED):
            pass
    for index, (temp, _) in enumerate(records):
        final = FileSystems.join(directory, final_name(index, len(records)))
        if FileSystems.exists(temp):
            publish(temp, final)
        elif not FileSystems.exists(final):  # published by an earlier try of this step, else lost
            raise OutputWriteError(f"the rejects file {temp} is gone before it was published as {final}")
    kept = {temp for temp, _ in records}
    dead = [path for path in leftovers(directory, BUNDLE_FILE) if path not in kept]
    if dead:
        FileSystems.delete(dead)
    return dict(reasons)


class FinalizeRejects(beam.PTransform):
    """Every stage's ``FileRecord``s -> one {stage/reason: count}, once the rejects are final."""

    def __init__(self, output: str):
        super().__init__()
        self.output = output

    def expand(self, records):
        return (records.pipeline
                | "Once" >> beam.Create([None])
                | "Publish" >> beam.Map(_publish, records=beam.pvalue.AsList(records),
                                        directory=rejects_dir(self.output)))


def _publish(_, records, directory):
    return finalize_rejects(directory, records)

