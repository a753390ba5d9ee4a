"""Assign tokenized documents to shards, build GLM samples and write Arrow shards.

    (key, text) --TokenizeDocuments--> (key, packed token ids)      (tokenize.py)
                --SpillByShard-------> (shard index, ("run", path, offset, length))   (shard_runs.py)
                   (without --num-shards: SpillTokens to runs of one section, then, once the
                   token count is known, SplitRunsByShard)
    (key, language) --SpillLanguagesByShard--> (shard index, ("languages", path, offset, length))
                --GroupByShard-------> shard index -> [run sections of documents and of languages, ...]
                --BuildAndWrite------> one shard summary per written file

A document goes to shard ``blake2b(key) mod num_shards``, so the assignment depends
on nothing but the key and the number of shards. Inside a shard, documents are
sorted by key before packing: the bytes of a shard do not depend on the runner,
the number of workers or bundle order. Each shard is written by the worker that built
it (writing is parallel) under a name of its own attempt and renamed when complete
(``publish.py``: retry-safe).

Before the shuffle, each bundle gathers its documents by shard and writes them, sorted,
to run files (``SpillByShardDoFn``, ``shard_runs.py``): only references to the runs'
sections cross the shuffle, and the writer merges its shard's sections from the files, so
no worker is handed a shard's tokens in one value, and the tokens are not decoded,
grouped and re-encoded on their way (on the DirectRunner by the runner process; on
Dataflow every element is a shuffle record).

The language of each document (``source_languages``) is the one the language stage
identified: its ``(key, language)`` records go to the document's shard the same way,
through run files of their own (a few bytes per document, but one record for every
document that reached the language stage, so a corpus with a million copies of one text
would otherwise hand a writer a million of them in its group), and meet the documents in
key order in the writer (a merge of two sorted streams, ``with_languages``); without
language ID every piece says "und".
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from glmprep.core.samples import SampleBuilder, SampleOptions, sentence_table
from glmprep.core.tokenizer import cached_tokenizer
from glmprep.schemas.shard import OBJECTIVES, UNKNOWN_LANGUAGE, ShardMetadata, write_shard_columns
from glmprep.transforms.bundle_buffer import BundleBufferDoFn
from glmprep.transforms.publish import OutputWriteError, attempt_temp, discard, publish
from glmprep.transforms.shard_runs import FAN_IN, LANGUAGE_RUN, RUN, MergedRuns, read_section, runs_dir, write_run
from glmprep.transforms.tokenize import packed_token_count, unpack_tokens

GATHER_BYTES = 32 << 20  # most packed tokens a bundle holds before writing them to a run (or the shuffle)


SHARD_GLOB = "part-*-of-*.arrow"


def shard_name(index: int, num_shards: int, epoch: int = 0, epochs: int = 1) -> str:
    """``part-00003-of-00008.arrow``; with ``--epochs`` K > 1, one set per epoch:
    ``part-00003-of-00008-epoch-002.arrow`` (each name depends on nothing but its place)."""
    if epochs == 1:
        return f"part-{index:05d}-of-{num_shards:05d}.arrow"
    return f"part-{index:05d}-of-{num_shards:05d}-epoch-{epoch:03d}.arrow"


def shard_of(key: str, num_shards: int) -> int:
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % num_shards


def with_languages(docs: Iterable[Tuple[str, bytes]], languages: Iterable[Tuple[str, bytes]]
                   ) -> Iterator[Tuple[str, bytes, str]]:
    """``(key, packed, language)`` of ``docs`` with the language of the same key in
    ``languages`` (ASCII codes), "und" for a key without one; both sorted by key (a
    merge join: nothing held but the next record of each).

    >>> list(with_languages([("a", b"1"), ("c", b"2")], [("a", b"en"), ("b", b"zh")]))
    [('a', b'1', 'en'), ('c', b'2', 'und')]
    """
    languages = iter(languages)
    pending = next(languages, None)
    for key, packed in docs:
        while pending is not None and pending[0] < key:
            pending = next(languages, None)
        yield key, packed, pending[1].decode("ascii") if pending is not None and pending[0] == key \
            else UNKNOWN_LANGUAGE


def piece_languages(source_ids: List[str], num_pieces: np.ndarray, in_flight: Dict[str, List]) -> List[str]:
    """The language of each piece, from ``in_flight``: key -> [language, pieces seen] of
    the documents inside the sample builder. A document leaves it with its last piece, so
    it holds only the documents whose pieces are still to come."""
    out = []
    for key, pieces in zip(source_ids, num_pieces.tolist()):
        entry = in_flight[key]
        out.append(entry[0])
        entry[1] += 1
        if entry[1] == pieces:
            del in_flight[key]
    return out


# Tokens per shard when no count is fixed: about 100 MB of uncompressed shard, one writer's worth of
# work that a worker finishes in seconds. Smaller shards spread writing over more workers and bound
# what one writer is handed (a local runner hands it the shard's documents as one list).
DEFAULT_TOKENS_PER_SHARD = 8_000_000
# Shards a run has at least (--min-shards) when its tokens allow shards of MIN_SHARD_TOKENS:
# a shard is built by one writer, so a run of a few shards' worth of tokens would otherwise
# leave every worker but one idle while its only shard is written.
DEFAULT_MIN_SHARDS = 8
MIN_SHARD_TOKENS = 1_000_000


def num_shards_for(total_tokens: int, tokens_per_shard: int, min_shards: int = 1) -> int:
    """Shard count when none is fixed: enough shards of ``tokens_per_shard``, and at least
    ``min_shards`` as long as each would still hold ``MIN_SHARD_TOKENS``. It depends on the
    total only (never on the runner or the worker count), so the shards do not either."""
    enough = math.ceil(total_tokens / max(1, tokens_per_shard))
    return max(1, enough, min(min_shards, total_tokens // MIN_SHARD_TOKENS))


class _HashingSink:
    """A write-only file wrapper that hashes what passes through (sha256 for the manifest)."""

    def __init__(self, fh):
        self._fh = fh
        self.sha256 = hashlib.sha256()
        self._pos = 0
        self.closed = False

    def write(self, data) -> int:
        view = memoryview(data)  # Arrow hands over its own buffers: hashed and written without a copy
        self.sha256.update(view)
        self._fh.write(view)
        self._pos += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self._pos

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
            self.closed = True


class ShardStats:
    """Per-shard numbers for the manifest and the report (all small, mergeable counts)."""

    def __init__(self, max_span: int, seq_len: int):
        self.rows = {o: 0 for o in OBJECTIVES}
        self.tokens = {o: 0 for o in OBJECTIVES}
        self.masked = {o: 0 for o in OBJECTIVES}
        self.text_tokens = {o: 0 for o in OBJECTIVES}
        self.spans = {o: 0 for o in OBJECTIVES}
        self.blank_span_lengths = np.zeros(max_span + 1, dtype=np.int64)
        self.fill_histogram = np.zeros(20, dtype=np.int64)  # tokens used / seq_len, 5 % bins
        self.seq_len = seq_len

    def add(self, columns) -> None:
        """Count a batch of samples in columns (``glmprep.core.samples.SampleColumns``)."""
        row_objective = np.array([OBJECTIVES.index(o) for o in columns.objective], dtype=np.int64)
        row_len = np.diff(columns.offsets)
        row_x = np.add.reduceat(columns.source_lengths, columns.source_offsets[:-1])
        for i, o in enumerate(OBJECTIVES):
            rows = row_objective == i
            spans = columns.span_objective == i
            self.rows[o] += int(rows.sum())
            self.tokens[o] += int(row_len[rows].sum())
            self.text_tokens[o] += int(row_x[rows].sum())
            self.masked[o] += int(columns.span_lengths[spans].sum())
            self.spans[o] += int(spans.sum())
        blank = columns.span_lengths[columns.span_objective == 0]
        self.blank_span_lengths += np.bincount(np.minimum(blank, len(self.blank_span_lengths) - 1),
                                               minlength=len(self.blank_span_lengths))
        self.fill_histogram += np.bincount(np.minimum(19, row_len * 20 // self.seq_len), minlength=20)

    def as_dict(self) -> Dict[str, object]:
        return {
            "objectives": {o: {"rows": self.rows[o], "tokens": self.tokens[o], "masked_tokens": self.masked[o],
                               "x_tokens": self.text_tokens[o], "spans": self.spans[o]} for o in OBJECTIVES},
            "blank_span_lengths": self.blank_span_lengths.tolist(),
            "fill_histogram": self.fill_histogram.tolist(),
        }


class SpillByShardDoFn(BundleBufferDoFn):
    """(key, payload bytes) -> (shard index, (tag, path, offset, length)): one bundle's
    records (packed token ids, or the languages' ASCII codes) gathered by shard, and
    written, whenever they hold ``max_bytes`` (whatever the number of shards) and at the
    end of the bundle (``BundleBufferDoFn``), to a run file in ``directory``
    (``shard_runs.write_run``); one section reference per shard is passed on."""

    def __init__(self, directory: str, max_bytes: int = GATHER_BYTES, tag: str = RUN):
        super().__init__(max_bytes)
        self.directory = directory
        self.tag = tag

    def empty(self) -> Dict[int, list]:
        return {}

    def process(self, doc, num_shards):
        key, packed = doc
        self.held.setdefault(shard_of(key, num_shards), []).append(doc)
        yield from self.added(len(key) + len(packed))

    def drain(self, gathered):
        return write_run(self.directory, gathered, self.tag) if gathered else []


class SplitRunByShardDoFn(SpillByShardDoFn):
    """(any, (tag, path, offset, length)) -> (shard index, (tag, path, offset, length)): the
    records of one run section (written before the number of shards was known) written
    again, gathered by shard, as ``SpillByShardDoFn`` writes them; with one shard, the
    section itself."""

    def process(self, element, num_shards):
        if num_shards == 1:  # every document's shard is 0: the section is already the shard's
            yield 0, element[1]
            return
        for doc in read_section(element[1][1:]):
            yield from super().process(doc, num_shards)


class WriteShardDoFn(beam.DoFn):
    """(shard index, [(RUN | LANGUAGE_RUN, path, offset, length), ...]) -> one shard
    summary per epoch, after writing that epoch's file of the shard
    (``--epochs``; one file with one epoch).

    The shard is streamed: its documents come merged in key order from their runs
    (``MergedRuns``), the builder makes samples a chunk at a time, and each batch of
    samples is written to the file as it is built. No step holds the shard."""

    def __init__(self, output_dir: str, sample_options: SampleOptions, ranks_path: Optional[str],
                 extra_metadata: Dict[str, object], compression: str = "none", fan_in: int = FAN_IN):
        self.fan_in = fan_in  # run sections read at once (MergedRuns), of documents and of languages
        self.output_dir = output_dir
        self.sample_options = sample_options
        self.ranks_path = ranks_path
        self.extra_metadata = extra_metadata
        self.compression = compression  # Arrow IPC buffer compression (schemas.shard.COMPRESSIONS)
        self.rows = Metrics.counter("shards", "samples")
        self.msecs = Metrics.counter("shards", "msecs")

    def setup(self):
        given = self.sample_options.special_tokens
        tokenizer = cached_tokenizer(self.ranks_path, tuple(sorted(given.items())) if given else None)
        self.tokenizer = tokenizer
        epochs = range(self.sample_options.epochs)
        # one builder and one metadata per epoch (--epochs): only the streams' keys differ
        self.builders = [SampleBuilder(self.sample_options, tokenizer.specials, sentence_table(tokenizer), epoch=e)
                         for e in epochs]
        self.metadata = [ShardMetadata(
            **tokenizer.metadata(), seq_len=self.sample_options.seq_len,
            objective_weights=dict(self.sample_options.objective_weights),
            sample_options=self.sample_options.to_metadata(e), seed=self.sample_options.seed,
            extra=self.extra_metadata) for e in epochs]

    def process(self, element, num_shards):
        """One shard file per epoch, written one after the other from the same sorted
        documents: an epoch's samples are built, written and let go before the next begins,
        so K epochs cost K times the time, not K times the memory."""
        index, gathered = element
        start = time.perf_counter()
        # the values are read twice (Beam allows it): run sections, then languages
        docs = MergedRuns([v[1:] for v in gathered if v[0] == RUN], self.fan_in)
        try:
            codes = MergedRuns([v[1:] for v in gathered if v[0] == LANGUAGE_RUN], self.fan_in)
            try:
                seen = {"documents": 0, "document_tokens": 0}
                languages: Dict[str, List[int]] = {}  # language -> [documents, document tokens]
                for epoch, builder in enumerate(self.builders):
                    yield self._write_epoch(index, num_shards, epoch, builder, with_languages(docs, codes),
                                            seen, languages)
            finally:
                codes.close()
        finally:
            docs.close()
        self.msecs.inc(int((time.perf_counter() - start) * 1000))

    def _write_epoch(self, index, num_shards, epoch, builder, docs, seen, languages):
        """Build and write epoch ``epoch``'s file of the shard from ``docs`` ((key, packed,
        language), sorted); its summary. Epoch 0 counts the documents and their languages."""
        name = shard_name(index, num_shards, epoch, len(self.builders))
        stats = ShardStats(self.sample_options.max_span, self.sample_options.seq_len)
        # key -> [language, pieces out] of the documents in the builder (a piece can come
        # out a few batches after its document went in; see piece_languages)
        in_flight: Dict[str, List] = {}

        def documents():
            for key, packed, language in docs:
                tokens = unpack_tokens(packed)
                in_flight[key] = [language, 0]
                if epoch == 0:
                    seen["documents"] += 1
                    seen["document_tokens"] += len(tokens)
                    counts = languages.setdefault(language, [0, 0])
                    counts[0] += 1
                    counts[1] += len(tokens)
                yield key, tokens

        def batches():
            for columns in builder.build_documents(documents()):
                stats.add(columns)
                yield dataclasses.replace(columns, source_languages=piece_languages(
                    columns.source_ids, columns.source_num_pieces, in_flight))

        final = FileSystems.join(self.output_dir, name)
        temp = attempt_temp(final)  # this attempt's own file (publish.py)
        try:
            sink = _HashingSink(FileSystems.create(temp))
            try:
                counts = write_shard_columns(pa.PythonFile(sink, mode="w"), batches(), self.metadata[epoch],
                                             self.compression)
            finally:
                sink.close()
        except OSError as exc:  # disk full, read-only, quota: one line, no partial file
            discard(temp)
            raise OutputWriteError(f"cannot write shard {final}: {exc.strerror or exc}") from exc
        publish(temp, final)
        self.rows.inc(counts["rows"])
        summary = {"file": name, "rows": counts["rows"], "tokens": counts["tokens"],
                   "sha256": sink.sha256.hexdigest(), "epoch": epoch, **seen}
        summary.update(stats.as_dict())
        summary["languages"] = dict(sorted(languages.items()))
        return summary


class WriteShards(beam.PTransform):
    """PCollection[(key, packed token ids)], or a pair of it and PCollection[(key, language)],
    -> PCollection[shard summary]; shards written in parallel. Without languages every
    piece's language is "und". The documents' runs stay in ``output_dir``'s runs directory
    until ``shard_runs.remove_runs`` (the pipeline calls it before writing the manifest)."""

    def __init__(self, output_dir: str, sample_options: SampleOptions, ranks_path: Optional[str] = None,
                 num_shards: int = 0, tokens_per_shard: int = DEFAULT_TOKENS_PER_SHARD,
                 extra_metadata: Optional[Dict[str, object]] = None, compression: str = "none",
                 min_shards: int = DEFAULT_MIN_SHARDS):
        super().__init__()
        self.compression = compression
        self.output_dir = output_dir
        self.sample_options = sample_options
        self.ranks_path = ranks_path
        self.num_shards = num_shards
        self.tokens_per_shard = tokens_per_shard
        self.min_shards = min_shards
        self.extra_metadata = extra_metadata or {}

    def expand(self, inputs):
        tokens, languages = inputs if isinstance(inputs, tuple) else (inputs, None)
        runs = runs_dir(self.output_dir)
        if self.num_shards > 0:
            # A fixed count: documents go to their shard's runs as they are tokenized.
            num_shards = self.num_shards
        else:
            # Only a count crosses into one worker: the total decides how many shards there
            # are. Until it is known the documents wait in run files of one section (a
            # reference each is what the runner keeps), then each run is split by shard.
            num_shards = beam.pvalue.AsSingleton(
                tokens
                | "CountTokens" >> beam.Map(lambda kv: packed_token_count(kv[1]))
                | "SumTokens" >> beam.CombineGlobally(sum)
                | "ShardCount" >> beam.Map(num_shards_for, self.tokens_per_shard, self.min_shards))
        gathered = [self._sections(tokens, runs, num_shards, RUN, ("SpillByShard", "SpillTokens", "SplitRunsByShard"))]
        if languages is not None:
            codes = languages | "EncodeLanguages" >> beam.Map(lambda kv: (kv[0], kv[1].encode("ascii")))
            gathered.append(self._sections(codes, runs, num_shards, LANGUAGE_RUN, (
                "SpillLanguagesByShard", "SpillLanguages", "SplitLanguagesByShard")))
        return (
            gathered
            | "FlattenGathered" >> beam.Flatten()
            # shard index -> [run sections of documents and of languages, ...]
            | "GroupByShard" >> beam.GroupByKey()
            | "BuildAndWrite" >> beam.ParDo(
                WriteShardDoFn(self.output_dir, self.sample_options, self.ranks_path, self.extra_metadata,
                               compression=self.compression),
                num_shards=num_shards)
        )

    def _sections(self, records, runs, num_shards, tag, labels):
        """(key, payload) records -> (shard index, (tag, path, offset, length)) references to
        run sections: straight to their shard's runs with a fixed count, else to runs of one
        section first, split by shard once the count (a side input) is known. ``labels``:
        the steps' names, (direct, first, split)."""
        direct, first, split = labels
        if self.num_shards > 0:
            return records | direct >> beam.ParDo(SpillByShardDoFn(runs, GATHER_BYTES, tag), num_shards=num_shards)
        return (records
                | first >> beam.ParDo(SpillByShardDoFn(runs, GATHER_BYTES, tag), num_shards=1)
                | split >> beam.ParDo(SplitRunByShardDoFn(runs, GATHER_BYTES, tag), num_shards=num_shards))
