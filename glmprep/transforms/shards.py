"""Assign tokenized documents to shards, build GLM samples and write Arrow shards.

    (key, text) --TokenizeDocuments--> (key, packed token ids)      (tokenize.py)
                --GatherByShard------> (shard index, joined [(key, packed token ids), ...])
                --GroupByShard-------> shard index -> [joined documents, ...]
                --BuildAndWrite------> one shard summary per written file

A document goes to shard ``blake2b(key) mod num_shards``, so the assignment depends
on nothing but the key and the number of shards. Inside a shard, documents are
sorted by key before packing: the bytes of a shard do not depend on the runner,
the number of workers or bundle order. Each shard is written by the worker that built
it (writing is parallel) under a name of its own attempt and renamed when complete
(``publish.py``: retry-safe).

Before the shuffle, each bundle gathers its documents by shard (``GatherByShardDoFn``)
and joins each shard's into one byte string (``shard_sort.join_docs``), so a shard's group
is a few large values rather than one element per document: a shuffle's cost goes by the
element as well as by the byte (on the DirectRunner the runner process decodes, groups and
re-encodes every element; on Dataflow every element is a shuffle record).
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from typing import Dict, List, Optional

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from glmprep.core.langid import MAX_CHARS, LanguageIdentifier
from glmprep.core.samples import SampleBuilder, SampleOptions, sentence_table
from glmprep.core.tokenizer import cached_tokenizer
from glmprep.schemas.shard import OBJECTIVES, UNKNOWN_LANGUAGE, ShardMetadata, write_shard_columns
from glmprep.transforms.publish import OutputWriteError, attempt_temp, discard, publish
from glmprep.transforms.shard_sort import SORT_BYTES, join_docs, sorted_docs
from glmprep.transforms.tokenize import packed_token_count, unpack_tokens

GATHER_BYTES = 32 << 20  # most packed tokens a bundle holds before passing them to the shuffle


SHARD_GLOB = "part-*-of-*.arrow"


def shard_name(index: int, num_shards: int) -> str:
    return f"part-{index:05d}-of-{num_shards:05d}.arrow"


def shard_of(key: str, num_shards: int) -> int:
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % num_shards


def document_head(tokenizer, tokens: np.ndarray, max_chars: int = MAX_CHARS) -> str:
    """The first ``max_chars`` characters of the text ``tokens`` encode (all of it when
    shorter): what ``LanguageIdentifier`` reads, decoded from as few tokens as it takes.
    A character split by the cut decodes as U+FFFD, so a few more than ``max_chars`` are
    decoded before cutting."""
    take = max_chars
    while True:
        text = tokenizer.decode(tokens[:take].tolist())
        if take >= len(tokens) or len(text) >= max_chars + 4:
            return text[:max_chars]
        take *= 2


def num_shards_for(total_tokens: int, tokens_per_shard: int) -> int:
    """Shard count when none is fixed: enough shards of ``tokens_per_shard``."""
    return max(1, math.ceil(total_tokens / max(1, tokens_per_shard)))


class _HashingSink:
    """A write-only file wrapper that hashes what passes through (sha256 for the manifest)."""

    def __init__(self, fh):
        self._fh = fh
        self.sha256 = hashlib.sha256()
        self._pos = 0
        self.closed = False

    def write(self, data) -> int:
        data = bytes(data)
        self.sha256.update(data)
        self._fh.write(data)
        self._pos += len(data)
        return len(data)

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


class GatherByShardDoFn(beam.DoFn):
    """(key, packed token ids) -> (shard index, joined documents): one bundle's documents,
    gathered by shard and joined (``join_docs``). Everything gathered is emitted once it
    holds ``max_bytes`` (so a bundle holds at most that much, whatever the number of
    shards) and at the end of the bundle."""

    def __init__(self, max_bytes: int = GATHER_BYTES):
        self.max_bytes = max_bytes

    def start_bundle(self):
        self.gathered: Dict[int, list] = {}
        self.size = 0

    def process(self, doc, num_shards):
        key, packed = doc
        self.gathered.setdefault(shard_of(key, num_shards), []).append(doc)
        self.size += len(key) + len(packed)
        if self.size >= self.max_bytes:
            yield from self._flush()

    def finish_bundle(self):
        for shard_and_docs in self._flush():
            yield beam.transforms.window.GlobalWindows.windowed_value(shard_and_docs)

    def _flush(self):
        gathered, self.gathered, self.size = self.gathered, {}, 0
        return [(shard, join_docs(docs)) for shard, docs in sorted(gathered.items())]


class WriteShardDoFn(beam.DoFn):
    """(shard index, [joined documents, ...]) -> shard summary, after writing the shard.

    The shard is streamed: its documents come sorted from ``sorted_docs`` (at most
    ``sort_bytes`` of them in memory), the builder makes samples a chunk at a time, and
    each batch of samples is written to the file as it is built. No step holds the shard."""

    def __init__(self, output_dir: str, sample_options: SampleOptions, ranks_path: Optional[str],
                 extra_metadata: Dict[str, object], sort_bytes: int = SORT_BYTES,
                 identify_language: bool = True, compression: str = "none"):
        self.sort_bytes = sort_bytes
        self.output_dir = output_dir
        self.sample_options = sample_options
        self.ranks_path = ranks_path
        self.extra_metadata = extra_metadata
        self.identify_language = identify_language
        self.compression = compression  # Arrow IPC buffer compression (schemas.shard.COMPRESSIONS)
        self.rows = Metrics.counter("shards", "samples")
        self.msecs = Metrics.counter("shards", "msecs")

    def setup(self):
        given = self.sample_options.special_tokens
        tokenizer = cached_tokenizer(self.ranks_path, tuple(sorted(given.items())) if given else None)
        self.tokenizer = tokenizer
        # The language is identified again from the tokens (the text does not travel this
        # far): the same head of the same text as the language stage read, so the same answer.
        self.identifier = LanguageIdentifier() if self.identify_language else None
        self.builder = SampleBuilder(self.sample_options, tokenizer.specials, sentence_table(tokenizer))
        self.metadata = ShardMetadata(
            **tokenizer.metadata(), seq_len=self.sample_options.seq_len,
            objective_weights=dict(self.sample_options.objective_weights),
            sample_options=self.sample_options.to_metadata(), seed=self.sample_options.seed,
            extra=self.extra_metadata)

    def process(self, element, num_shards):
        index, gathered = element
        start = time.perf_counter()
        name = shard_name(index, num_shards)
        stats = ShardStats(self.sample_options.max_span, self.sample_options.seq_len)
        seen = {"documents": 0, "document_tokens": 0}
        # key -> language of the shard's documents (keys and codes only, for the pieces'
        # source_languages; a piece can come out a few batches after its document went in)
        language_of: Dict[str, str] = {}
        languages: Dict[str, List[int]] = {}  # language -> [documents, document tokens]

        def documents():
            for key, packed in sorted_docs(gathered, self.sort_bytes):
                tokens = unpack_tokens(packed)
                seen["documents"] += 1
                seen["document_tokens"] += len(tokens)
                language = (self.identifier.identify(document_head(self.tokenizer, tokens))[0]
                            if self.identifier is not None else UNKNOWN_LANGUAGE)
                language_of[key] = language
                counts = languages.setdefault(language, [0, 0])
                counts[0] += 1
                counts[1] += len(tokens)
                yield key, tokens

        def batches():
            for columns in self.builder.build_documents(documents()):
                stats.add(columns)
                yield dataclasses.replace(columns, source_languages=[language_of[k] for k in columns.source_ids])

        final = FileSystems.join(self.output_dir, name)
        temp = attempt_temp(final)  # this attempt's own file (publish.py)
        try:
            sink = _HashingSink(FileSystems.create(temp))
            try:
                counts = write_shard_columns(pa.PythonFile(sink, mode="w"), batches(), self.metadata,
                                             self.compression)
            finally:
                sink.close()
        except OSError as exc:  # disk full, read-only, quota: one line, no partial file
            discard(temp)
            raise OutputWriteError(f"cannot write shard {final}: {exc.strerror or exc}") from exc
        publish(temp, final)
        self.rows.inc(counts["rows"])
        self.msecs.inc(int((time.perf_counter() - start) * 1000))
        summary = {"file": name, "rows": counts["rows"], "tokens": counts["tokens"],
                   "sha256": sink.sha256.hexdigest(), **seen}
        summary.update(stats.as_dict())
        summary["languages"] = dict(sorted(languages.items()))
        yield summary


class WriteShards(beam.PTransform):
    """PCollection[(key, packed token ids)] -> PCollection[shard summary]; shards written in parallel."""

    def __init__(self, output_dir: str, sample_options: SampleOptions, ranks_path: Optional[str] = None,
                 num_shards: int = 0, tokens_per_shard: int = 50_000_000,
                 extra_metadata: Optional[Dict[str, object]] = None, identify_language: bool = True,
                 compression: str = "none"):
        super().__init__()
        self.compression = compression
        self.output_dir = output_dir
        self.sample_options = sample_options
        self.ranks_path = ranks_path
        self.num_shards = num_shards
        self.tokens_per_shard = tokens_per_shard
        self.extra_metadata = extra_metadata or {}
        self.identify_language = identify_language  # False: every piece's language is "und"

    def expand(self, tokens):
        if self.num_shards > 0:
            # A fixed count: documents go to their shard as they are tokenized.
            num_shards = self.num_shards
        else:
            # Only a count crosses into one worker: the total decides how many shards there
            # are. Every document waits for it (the runner keeps the tokens until then).
            num_shards = beam.pvalue.AsSingleton(
                tokens
                | "CountTokens" >> beam.Map(lambda kv: packed_token_count(kv[1]))
                | "SumTokens" >> beam.CombineGlobally(sum)
                | "ShardCount" >> beam.Map(num_shards_for, self.tokens_per_shard))
        return (
            tokens
            | "GatherByShard" >> beam.ParDo(GatherByShardDoFn(GATHER_BYTES), num_shards=num_shards)
            # shard index -> [joined documents, ...]
            | "GroupByShard" >> beam.GroupByKey()
            | "BuildAndWrite" >> beam.ParDo(
                WriteShardDoFn(self.output_dir, self.sample_options, self.ranks_path, self.extra_metadata,
                               identify_language=self.identify_language, compression=self.compression),
                num_shards=num_shards)
        )
