"""Exact deduplication on normalised text.

``ExactDedup``: documents whose normalised text is identical share a digest; the member
with the smallest key is kept and every other one is rejected (stage ``exact_dedup``)
with reason ``exact_duplicate`` and the kept key in the reject's ``kept_key`` field.
Keys are already unique (``UniqueKeys`` makes them so).

No step holds a digest's members, however many there are (a licence header copied a
million times), and no step holding many digests holds their texts:

1. ``KeepSmallestKey``: a lifted combiner per digest reduces the text-free
   ``(digest, key)`` records to ``(smallest key, count)``. Beam's pre-combine table
   keeps up to 100,000 accumulators per bundle (a fixed number of keys, not bytes):
   with a key and a count in each, it is bounded by the keys' length, never by the
   texts' (with texts in it, 100,000 documents near the length limit would be many GB).
2. The other members learn their keeper from the same text-free stream: digests with
   more than ``max_group`` members ("hot") are looked up in a side input holding only
   hot digests (at most documents / ``max_group`` entries); every other digest is
   grouped with its keeper, at most ``max_group`` + 1 small records per group. Each
   copy gets a decision ``(key, kept key)``.
3. ``JoinDecisions``: documents (packed text) and decisions meet in a group by document
   key, at most two values per group: a document without a decision is kept, one with
   a decision becomes the reject. This is the only shuffle text crosses.

A rejected copy's ``preview`` is its own text.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.records import pack_text, unpack_text
from glmprep.schemas.rejects import make_reject

STAGE = "exact_dedup"
EXACT_DUPLICATE = "exact_duplicate"
MAX_GROUP = 1000  # members of a digest grouped with their keeper; more go through the side input
REJECTS = "rejects"
DIGEST_PIECE_CHARS = 1 << 20  # a long text is folded a piece at a time: memory per piece, not per text
_SPACE = re.compile(r"\s")


def normalised_digest(text: str, piece_chars: int = DIGEST_PIECE_CHARS) -> bytes:
    """16-byte digest of the text with case folded and white space collapsed.

    >>> normalised_digest("Hello  World\\n") == normalised_digest("hello world")
    True
    """
    digest = hashlib.blake2b(digest_size=16)
    separator = b""
    for piece in _pieces_at_spaces(text, piece_chars):
        # str.split() splits on the same Unicode white space as the regex \\s+, in a fraction of the time
        words = " ".join(unicodedata.normalize("NFC", piece).casefold().split())
        if words:
            digest.update(separator + words.encode("utf-8", "surrogatepass"))
            separator = b" "
    return digest.digest()


def _pieces_at_spaces(text: str, size: int):
    """Consecutive pieces of ``text`` of about ``size`` characters, each ending just after a white
    space character (or at the end), so no word is cut and NFC, case folding and word splitting
    give the same result piece by piece as on the whole (white space never composes).

    >>> list(_pieces_at_spaces("ab cd ef", 2))
    ['ab ', 'cd ', 'ef']
    """
    start = 0
    while len(text) - start > size:
        match = _SPACE.search(text, start + size)
        while match is not None and not text[match.start()].isspace():
            match = _SPACE.search(text, match.start() + 1)
        if match is None:
            break
        yield text[start:match.end()]
        start = match.end()
    yield text[start:]


class SmallestKeyFn(beam.CombineFn):
    """Values of one group -> ``(smallest value, count)``; here the keys of the documents
    sharing a digest (``UniqueKeys``: the digests of the records sharing a key).

    O(1) state of two small values whatever the group's size (no payload rides along,
    so Beam's pre-combine table of up to 100,000 keys per bundle stays small); lifted by
    Beam before the shuffle.

    >>> fn = SmallestKeyFn()
    >>> fn.extract_output(fn.merge_accumulators([fn.add_input(fn.create_accumulator(), "b"),
    ...                                          fn.add_input(fn.add_input(None, "c"), "a")]))
    ('a', 3)
    """

    def create_accumulator(self):
        return None

    def add_input(self, accumulator, value):
        if accumulator is None:
            return value, 1
        smallest, count = accumulator
        return min(value, smallest), count + 1

    def merge_accumulators(self, accumulators):
        merged = None
        for accumulator in accumulators:
            if accumulator is None:
                continue
            if merged is None:
                merged = accumulator
            else:
                merged = min(merged[0], accumulator[0]), merged[1] + accumulator[1]
        return merged

    def extract_output(self, accumulator):
        return accumulator


class DecideHotCopiesDoFn(beam.DoFn):
    """(digest, key) -> a decision (key, keeper) if the digest is hot (in ``hot``: digest
    -> keeper) and key is not its keeper; else (digest, (key, False)) on the ``grouped``
    output."""

    def process(self, element, hot):
        digest, key = element
        keeper = hot.get(digest)
        if keeper is None:
            yield beam.pvalue.TaggedOutput("grouped", (digest, (key, False)))
        elif key != keeper:
            yield key, keeper


def decide_copies(element):
    """(digest, [(key, False) | (keeper, True), ...]) -> a decision (key, keeper) for every
    key but the keeper's. The values are read twice (Beam allows it), never held."""
    _, members = element
    keeper = next((key for key, is_keeper in members if is_keeper), None)
    if keeper is None:  # a digest of one document
        return
    for key, is_keeper in members:
        if not is_keeper and key != keeper:
            yield key, keeper


class ApplyDecisionDoFn(beam.DoFn):
    """(key, [packed text | kept key]) -> the document (key, text) when no kept key came
    with it, else an ``exact_duplicate`` reject naming the kept key, its preview the
    document's own text. A key holds one document and at most one decision."""

    def __init__(self):
        self.duplicates = Metrics.counter(STAGE, EXACT_DUPLICATE)

    def process(self, element):
        key, values = element
        packed = kept_key = None
        for value in values:
            if isinstance(value, bytes):
                packed = value
            else:
                kept_key = value
        if packed is None:  # a decision without its document (cannot happen: decisions come from documents)
            return
        text = unpack_text(packed)
        if kept_key is None:
            yield key, text
            return
        self.duplicates.inc()
        yield beam.pvalue.TaggedOutput(REJECTS, make_reject(
            key, STAGE, EXACT_DUPLICATE, "the same normalised text as the kept document", text, kept_key=kept_key))


class ExactDedup(beam.PTransform):
    """PCollection[(key, text)] -> (docs, rejects)."""

    def __init__(self, max_group: int = MAX_GROUP):
        super().__init__()
        self._max_group = max_group

    def expand(self, docs):
        max_group = self._max_group
        key_to_packed = docs | "PackTexts" >> beam.Map(lambda doc: (doc[0], pack_text(doc[1])))
        digest_to_key = docs | "KeyByNormalisedDigest" >> beam.Map(lambda doc: (normalised_digest(doc[1]), doc[0]))
        # digest -> (smallest key, count), only digests of several documents
        repeated = (digest_to_key
                    | "KeepSmallestKey" >> beam.CombinePerKey(SmallestKeyFn())
                    | "Repeated" >> beam.Filter(lambda e: e[1][1] > 1))
        hot = (repeated | "Hot" >> beam.Filter(lambda e: e[1][1] > max_group)
               | "HotKeeper" >> beam.Map(lambda e: (e[0], e[1][0])))
        routed = digest_to_key | "DecideHotCopies" >> beam.ParDo(
            DecideHotCopiesDoFn(), hot=beam.pvalue.AsDict(hot)).with_output_types(
            Tuple[Any, Any]).with_outputs("grouped", main="decisions")
        keepers = (repeated | "NotHot" >> beam.Filter(lambda e: e[1][1] <= max_group)
                   | "KeeperMessage" >> beam.Map(lambda e: (e[0], (e[1][0], True))))
        grouped_decisions = (
            (keepers, routed.grouped)
            | "FlattenMembers" >> beam.Flatten()
            # digest -> [(key, False) | (keeper, True), ...]: at most max_group + 1
            | "GroupByDigest" >> beam.GroupByKey()
            | "DecideCopies" >> beam.FlatMap(decide_copies).with_output_types(Tuple[Any, Any]))
        result = (
            (key_to_packed, routed.decisions, grouped_decisions)
            | "FlattenDocsAndDecisions" >> beam.Flatten()
            # key -> [packed text, kept key?]: the document and at most one decision
            | "JoinDecisions" >> beam.GroupByKey()
            | "ApplyDecision" >> beam.ParDo(ApplyDecisionDoFn()).with_outputs(REJECTS, main="docs"))
        return result.docs, result[REJECTS]
