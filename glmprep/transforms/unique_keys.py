"""One document per key: the step after the readers.

``UniqueKeys(policy)`` turns ``(key, text)`` documents, where a key may repeat (two
files that both number their records from 0), into documents with distinct keys:

- records with the same key and the same text are one document: one is kept, every
  other copy is rejected (stage ``read``) as ``duplicate_id`` (detail: the same text);
- records with the same key and different texts: the text whose digest is smallest
  keeps the key. With ``policy="keep"`` (default) every other text stays a document
  under the key ``KEY~<16 hex digits of its text digest>`` (:func:`distinct_key`: the
  same text gets the same key on every run and runner) and is counted as the warning
  ``duplicate_id_renamed``; with ``policy="reject"`` it is rejected as
  ``duplicate_id`` with ``kept_key`` the key.

Later stages rely on a key naming one document (exact and near dedup keep by key,
shards list source keys). No step holds the records sharing a key: a lifted combiner
reduces them to (smallest digest, count) per key; records then learn whether theirs is
the first text from a text-free ``(key, digest)`` stream (keys with more than
``max_group`` records through a side input holding only such keys, the others grouped
at most ``max_group`` + 1 small records at a time); the text crosses one shuffle, a
lifted combiner per (key, digest) that merges identical copies. That shuffle also
spreads a compressed file's documents, read by one worker, over all of them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.options import build, option
from glmprep.core.records import pack_text, unpack_text
from glmprep.schemas.rejects import make_reject
from glmprep.transforms.dedup import MAX_GROUP, SmallestKeyFn

STAGE = "read"
DUPLICATE_ID = "duplicate_id"
DUPLICATE_ID_RENAMED = "duplicate_id_renamed"  # a warning: counted in the manifest, nothing lost
DUPLICATE_ID_POLICIES = ("keep", "reject")
REJECTS = "rejects"  # tag of the rejects output
RENAMED = "renamed"  # tag of the renamed keys' output (for the warning count)


def text_digest(text: str) -> bytes:
    """16-byte BLAKE2b digest of the text exactly as read."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def distinct_key(key: str, digest: bytes) -> str:
    """The key of a text that shares its id with another text.

    >>> distinct_key("17", bytes(range(16)))
    '17~0001020304050607'
    """
    return f"{key}~{digest[:8].hex()}"


class MarkLaterTextsDoFn(beam.DoFn):
    """(key, digest) -> ((key, digest), True) if the key is hot (in ``hot``: key -> its
    smallest digest) and this is not its first text; else (key, (digest, False)) on the
    ``grouped`` output."""

    def process(self, element, hot):
        key, digest = element
        first = hot.get(key)
        if first is None:
            yield beam.pvalue.TaggedOutput("grouped", (key, (digest, False)))
        elif digest != first:
            yield (key, digest), True


def mark_later_texts(element):
    """(key, [(digest, False) | (smallest digest, True), ...]) -> ((key, digest), True)
    for every digest other than the smallest. The values are read twice, never held."""
    key, members = element
    first = next((digest for digest, is_first in members if is_first), None)
    if first is None:  # one record
        return
    for digest, is_first in members:
        if not is_first and digest != first:
            yield (key, digest), True


class MergeCopiesFn(beam.CombineFn):
    """Values of one (key, digest): packed texts (identical: one is kept) and ``True``
    marks (not the key's first text) -> (copies, packed text, later). O(1) state."""

    def create_accumulator(self):
        return 0, None, False

    def add_input(self, accumulator, value):
        copies, packed, later = accumulator
        if value is True:
            return copies, packed, True
        return copies + 1, value if packed is None else packed, later

    def merge_accumulators(self, accumulators):
        copies, packed, later = 0, None, False
        for n, p, mark in accumulators:
            copies, packed, later = copies + n, packed if packed is not None else p, later or mark
        return copies, packed, later

    def extract_output(self, accumulator):
        return accumulator


class ApplyKeyDecisionDoFn(beam.DoFn):
    """((key, digest), (copies, packed text, later)) -> the document under its key (or,
    for a later text under ``keep``, its distinct key), and ``duplicate_id`` rejects."""

    def __init__(self, policy: str):
        self._policy = policy
        self.duplicate_ids = Metrics.counter(STAGE, DUPLICATE_ID)
        self.renamed = Metrics.counter(STAGE, DUPLICATE_ID_RENAMED)

    def process(self, element):
        (key, digest), (copies, packed, later) = element
        if copies == 0:  # marks of a text that is not here (cannot happen: marks come from records)
            return
        text = unpack_text(packed)
        if later and self._policy == "reject":
            self.duplicate_ids.inc(copies)
            for _ in range(copies):
                yield beam.pvalue.TaggedOutput(REJECTS, make_reject(
                    key, STAGE, DUPLICATE_ID, "another record with this id and a different text "
                    "(the kept one's digest is smaller)", text, kept_key=key))
            return
        kept_key = key
        if later:
            kept_key = distinct_key(key, digest)
            self.renamed.inc()
            yield beam.pvalue.TaggedOutput(RENAMED, kept_key)
        yield kept_key, text
        self.duplicate_ids.inc(copies - 1)
        for _ in range(copies - 1):
            yield beam.pvalue.TaggedOutput(REJECTS, make_reject(
                key, STAGE, DUPLICATE_ID, "another record with this id and the same text", text,
                kept_key=kept_key))


class UniqueKeys(beam.PTransform):
    """``(key, text)`` -> ``(docs with distinct keys, duplicate_id rejects, counts)``;
    ``counts``: ``(DUPLICATE_ID_RENAMED, n)`` for the manifest (absent when n is 0)."""

    def __init__(self, policy: str = "keep", max_group: int = MAX_GROUP):
        super().__init__()
        if policy not in DUPLICATE_ID_POLICIES:
            raise ValueError(f"duplicate-id policy {policy!r}: expected one of {DUPLICATE_ID_POLICIES}")
        self._policy = policy
        self._max_group = max_group

    def expand(self, docs):
        max_group = self._max_group
        # (key, digest) -> packed text: a third of the bytes to shuffle (records.pack)
        record_to_text = docs | "KeyByKeyAndDigest" >> beam.Map(
            lambda doc: ((doc[0], text_digest(doc[1])), pack_text(doc[1])))
        records = record_to_text | "DropTexts" >> beam.Keys()
        # key -> (smallest digest, records): only keys of several records
        repeated = (records
                    | "SmallestDigest" >> beam.CombinePerKey(SmallestKeyFn())
                    | "Repeated" >> beam.Filter(lambda e: e[1][1] > 1))
        hot = (repeated | "Hot" >> beam.Filter(lambda e: e[1][1] > max_group)
               | "HotFirst" >> beam.Map(lambda e: (e[0], e[1][0])))
        routed = records | "MarkHotLaterTexts" >> beam.ParDo(
            MarkLaterTextsDoFn(), hot=beam.pvalue.AsDict(hot)).with_output_types(
            Tuple[Any, Any]).with_outputs("grouped", main="marks")
        firsts = (repeated | "NotHot" >> beam.Filter(lambda e: e[1][1] <= max_group)
                  | "FirstMessage" >> beam.Map(lambda e: (e[0], (e[1][0], True))))
        grouped_marks = (
            (firsts, routed.grouped)
            | "FlattenMembers" >> beam.Flatten()
            # key -> [(digest, False) | (smallest digest, True), ...]: at most max_group + 1
            | "GroupByKey" >> beam.GroupByKey()
            | "MarkLaterTexts" >> beam.FlatMap(mark_later_texts).with_output_types(Tuple[Any, Any]))
        result = (
            (record_to_text, routed.marks, grouped_marks)
            | "FlattenTextsAndMarks" >> beam.Flatten()
            # (key, digest) -> (copies, packed text, later)
            | "MergeCopies" >> beam.CombinePerKey(MergeCopiesFn())
            | "ApplyKeyDecision" >> beam.ParDo(ApplyKeyDecisionDoFn(self._policy)).with_outputs(
                REJECTS, RENAMED, main="docs"))
        counts = (result[RENAMED]
                  | "CountRenamed" >> beam.combiners.Count.Globally().without_defaults()
                  | "NameRenamed" >> beam.Map(lambda n: (DUPLICATE_ID_RENAMED, n)))
        return result.docs, result[REJECTS], counts


@dataclass(frozen=True)
class KeyOptions:
    """What ``UniqueKeys`` does with records that share an id but not a text."""

    duplicate_ids: str = option(
        "keep", "records sharing an id but not a text: keep each (the text with the smallest digest "
                "keeps the id, the others get ID~<16 hex digits of their text digest>, counted as the "
                "warning duplicate_id_renamed) or reject all but one as duplicate_id. The same id and "
                "the same text is always one document", choices=DUPLICATE_ID_POLICIES)


def key_options_from(source) -> KeyOptions:
    """``KeyOptions`` from parsed arguments (a Namespace, Beam ``PipelineOptions`` or a dict)."""
    return build(KeyOptions, source)
