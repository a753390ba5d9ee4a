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
shards list source keys). No step holds the records sharing a key, and no step holding
many of them holds more than a configured number of bytes of texts:

1. ``MergeLocalCopies``: each bundle merges its identical records (same key, same text
   digest) into one entry ``(copies, packed text)``, holding at most ``merge_bytes`` of
   entries (32 MB by default) before passing them on, and the rest at the end of the
   bundle. A record copied a million times thus reaches the shuffle as one entry per
   bundle (per ``merge_bytes`` of other records) that saw it, not one per copy. This
   replaces a lifted combiner over texts: Beam's pre-combine table holds up to 100,000
   accumulators per bundle whatever their size, so with texts in them a worker would
   hold up to 100,000 documents.
2. ``FirstText``: the entries' text-free ``(key, digest)`` records go through
   ``GroupSmallest`` (``glmprep.transforms.smallest``): a lifted combiner to (smallest
   digest, count) per key; keys of more than ``max_group`` entries are hot (a side input
   holding only them), the others get a mark (their first digest).
3. ``GroupCopies``: an ordinary key's entries meet its mark in one group (at most
   ``max_group`` + 1 values); a hot key's entries are grouped by text instead, each
   knowing from the side input whether its text is the key's first, so a group's size is
   bounded by ``max_group`` or by the bundles that saw the record, never by its copies.
   ``ApplyKeyDecisionDoFn`` merges the entries of each text (one handle, copies summed).
   With a runs directory, each bundle's merged texts wait in a run file
   (``glmprep.transforms.text_runs``) and only references cross this shuffle; the texts
   are read back, a run at a time, by whichever worker gets the run: that also spreads a
   compressed file's documents, read by one worker, over all of them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.options import build, option
from glmprep.core.records import pack_text, unpack_text
from glmprep.schemas.rejects import make_reject
from glmprep.transforms.bundle_buffer import BundleBufferDoFn
from glmprep.transforms.smallest import MAX_GROUP, GroupSmallest
from glmprep.transforms.text_runs import ResolveTexts, spill_texts

STAGE = "read"
DUPLICATE_ID = "duplicate_id"
DUPLICATE_ID_RENAMED = "duplicate_id_renamed"  # a warning: counted in the manifest, nothing lost
DUPLICATE_ID_POLICIES = ("keep", "reject")
REJECTS = "rejects"  # tag of the rejects output
RENAMED = "renamed"  # tag of the renamed keys' output (for the warning count)
MERGE_BYTES = 32 << 20  # most bytes of merged records a bundle holds before passing them to the shuffle
ENTRY_BYTES = 350  # CPython's cost of one entry beside its key and text: the digest, dict slot, tuples, list, ints


def text_digest(text: str) -> bytes:
    """16-byte BLAKE2b digest of the text exactly as read."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def distinct_key(key: str, digest: bytes) -> str:
    """The key of a text that shares its id with another text.

    >>> distinct_key("17", bytes(range(16)))
    '17~0001020304050607'
    """
    return f"{key}~{digest[:8].hex()}"


class MergeLocalCopiesDoFn(BundleBufferDoFn):
    """((key, digest), packed text) -> ((key, digest), (copies, packed text)): one bundle's
    identical records merged into one entry. The entries are passed on, sorted, once they
    hold ``max_bytes`` (their strings plus ``ENTRY_BYTES`` each) and at the end of the
    bundle (``BundleBufferDoFn``), so a bundle holds at most about that much whatever its
    records' shape."""

    def __init__(self, max_bytes: int = MERGE_BYTES, runs: Optional[str] = None):
        super().__init__(max_bytes)
        self.runs = runs

    def empty(self) -> Dict[Tuple[str, bytes], list]:
        return {}  # (key, digest) -> [copies, packed text]

    def process(self, record):
        record_key, packed = record
        entry = self.held.get(record_key)
        if entry is not None:
            entry[0] += 1
            return
        self.held[record_key] = [1, packed]
        yield from self.added(ENTRY_BYTES + len(record_key[0]) + len(packed))

    def drain(self, entries):
        merged = sorted(entries.items())
        handles = [packed for _, (_, packed) in merged]
        if self.runs is not None:  # the texts wait in one run; references go to the shuffle
            handles = spill_texts(self.runs, handles)
        return [(record_key, (copies, handle)) for (record_key, (copies, _)), handle in zip(merged, handles)]


class RouteEntryDoFn(beam.DoFn):
    """((key, digest), (copies, handle)) -> ((key, group), (digest, copies, handle, later)):
    an entry of a hot key (in ``hot``: key -> its first digest) goes to the group of its
    own text, ``group`` its digest, knowing already whether it is a later text; any other
    entry to its key's group (``group`` empty), ``later`` left to the key's mark."""

    def process(self, entry, hot):
        (key, digest), (copies, handle) = entry
        first = hot.get(key)
        if first is None:
            yield (key, b""), (digest, copies, handle, None)
        else:
            yield (key, digest), (digest, copies, handle, digest != first)


class ApplyKeyDecisionDoFn(beam.DoFn):
    """((key, group), [(digest, copies, handle, later) | (first digest, 0, None, None), ...])
    -> for each text of the group: (handle, the document's key: its key or, for a later text
    under ``keep``, its distinct key), and on ``REJECTS`` (handle, (key, detail, kept key,
    copies)): that many ``duplicate_id`` rejects once the text is back. A key's group
    holds at most ``max_group`` entries and its mark (the first digest); a hot key's group
    is one text's entries, each already knowing whether it is a later text. Entries of
    one text (from different bundles) are merged: one handle kept, the copies summed."""

    def __init__(self, policy: str):
        self._policy = policy
        self.duplicate_ids = Metrics.counter(STAGE, DUPLICATE_ID)
        self.renamed = Metrics.counter(STAGE, DUPLICATE_ID_RENAMED)

    def process(self, element):
        (key, _), values = element
        first = None
        texts: Dict[bytes, list] = {}  # digest -> [copies, handle, later]
        for digest, copies, handle, later in values:
            if handle is None:
                first = digest
                continue
            text = texts.get(digest)
            if text is None:
                texts[digest] = [copies, handle, later]  # identical texts: any handle will do
            else:
                text[0] += copies
        for digest in sorted(texts):
            copies, handle, later = texts[digest]
            if later is None:
                later = first is not None and digest != first
            yield from self._decide(key, digest, copies, handle, later)

    def _decide(self, key, digest, copies, handle, later):
        if later and self._policy == "reject":
            self.duplicate_ids.inc(copies)
            yield beam.pvalue.TaggedOutput(REJECTS, (handle, (
                key, "another record with this id and a different text (the kept one's digest is smaller)",
                key, copies)))
            return
        kept_key = key
        if later:
            kept_key = distinct_key(key, digest)
            self.renamed.inc()
            yield beam.pvalue.TaggedOutput(RENAMED, kept_key)
        yield handle, kept_key
        if copies > 1:
            self.duplicate_ids.inc(copies - 1)
            yield beam.pvalue.TaggedOutput(REJECTS, (handle, (
                key, "another record with this id and the same text", kept_key, copies - 1)))


def duplicate_id_rejects(element):
    """(packed text, (key, detail, kept key, copies)) -> that many ``duplicate_id`` rejects."""
    packed, (key, detail, kept_key, copies) = element
    text = unpack_text(packed)
    for _ in range(copies):
        yield make_reject(key, STAGE, DUPLICATE_ID, detail, text, kept_key=kept_key)


class UniqueKeys(beam.PTransform):
    """``(key, text)`` -> ``(docs with distinct keys, duplicate_id rejects, counts)``;
    ``counts``: ``(DUPLICATE_ID_RENAMED, n)`` for the manifest (absent when n is 0);
    ``runs``: a directory where the texts wait while their references are grouped (None:
    the texts themselves are grouped)."""

    def __init__(self, policy: str = "keep", max_group: int = MAX_GROUP, merge_bytes: int = MERGE_BYTES,
                 runs: Optional[str] = None):
        super().__init__()
        if policy not in DUPLICATE_ID_POLICIES:
            raise ValueError(f"duplicate-id policy {policy!r}: expected one of {DUPLICATE_ID_POLICIES}")
        self._policy = policy
        self._max_group = max_group
        self._merge_bytes = merge_bytes
        self._runs = runs

    def expand(self, docs):
        # (key, digest) -> (copies, packed text): one entry per bundle (and merge_bytes) that saw the record
        entries = (docs
                   | "KeyByKeyAndDigest" >> beam.Map(lambda doc: ((doc[0], text_digest(doc[1])), pack_text(doc[1])))
                   | "MergeLocalCopies" >> beam.ParDo(MergeLocalCopiesDoFn(self._merge_bytes, self._runs)))
        # key -> its first (smallest) digest, for keys of several entries: hot ones apart
        hot, marks = entries | "DropTexts" >> beam.Keys() | "FirstText" >> GroupSmallest(self._max_group)
        routed = entries | "RouteEntries" >> beam.ParDo(RouteEntryDoFn(), hot=beam.pvalue.AsDict(hot))
        result = (
            (routed, marks | "AsMarks" >> beam.Map(lambda e: ((e[0], b""), (e[1], 0, None, None))))
            | "FlattenEntriesAndMarks" >> beam.Flatten()
            # (key, b"") -> [entry | mark, ...]: at most max_group + 1 values;
            # (hot key, digest) -> [entry, ...]: one text's entries, one per bundle that saw it
            | "GroupCopies" >> beam.GroupByKey()
            | "ApplyKeyDecision" >> beam.ParDo(ApplyKeyDecisionDoFn(self._policy)).with_outputs(
                REJECTS, RENAMED, main="docs"))
        docs = (result.docs
                | "DocTexts" >> ResolveTexts(self._runs)
                | "Unpack" >> beam.Map(lambda e: (e[1], unpack_text(e[0]))))
        rejects = (result[REJECTS]
                   | "RejectTexts" >> ResolveTexts(self._runs)
                   | "Rejects" >> beam.FlatMap(duplicate_id_rejects))
        counts = (result[RENAMED]
                  | "CountRenamed" >> beam.combiners.Count.Globally().without_defaults()
                  | "NameRenamed" >> beam.Map(lambda n: (DUPLICATE_ID_RENAMED, n)))
        return docs, rejects, counts


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
