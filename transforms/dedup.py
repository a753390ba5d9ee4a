"""Unique keys, then exact deduplication on normalised text.

``UniqueKeys``: documents sharing a key (two records with the same id) form a group;
the one whose text sorts first is kept, every other one is rejected (stage
``exact_dedup``) with reason ``exact_duplicate`` when its text is the same, or
``duplicate_id`` when it differs. Later stages (near dedup joins by key, shards list
source keys) rely on every key naming one document.

``ExactDedup``: documents whose normalised text is identical form a group; the member
with the smallest key is kept and every other one is rejected with reason
``exact_duplicate`` naming the kept key.

Each crosses exactly one shuffle of the text.
"""
from __future__ import annotations

import hashlib
import unicodedata

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.records import make_reject

def normalised_digest(text: str) -> bytes:
    """16-byte digest of the text with case folded and white space collapsed.

    >>> normalised_digest("Hello  World\\n") == normalised_digest("hello world")
    True
    """
    # str.split() splits on the same Unicode white space as the regex \s+, in a fraction of the time
    norm = " ".join(unicodedata.normalize("NFC", text).casefold().split())
    return hashlib.blake2b(norm.encode("utf-8", "surrogatepass"), digest_size=16).digest()


STAGE = "exact_dedup"
EXACT_DUPLICATE = "exact_duplicate"
DUPLICATE_ID = "duplicate_id"


class KeepSmallestTextDoFn(beam.DoFn):
    """(key, [text, ...]) -> (key, the smallest text); rejects for the other texts."""

    def __init__(self):
        self.duplicate_ids = Metrics.counter(STAGE, DUPLICATE_ID)
        self.duplicates = Metrics.counter(STAGE, EXACT_DUPLICATE)

    def process(self, element):
        key, texts = element
        texts = sorted(texts)
        kept = texts[0]
        yield key, kept
        for text in texts[1:]:
            if text == kept:
                self.duplicates.inc()
                yield beam.pvalue.TaggedOutput("rejects", make_reject(
                    key, STAGE, EXACT_DUPLICATE, f"kept {key}: another record with the same id and text", text))
            else:
                self.duplicate_ids.inc()
                yield beam.pvalue.TaggedOutput("rejects", make_reject(
                    key, STAGE, DUPLICATE_ID,
                    f"kept {key}: another record with the same id whose text differs "
                    f"(the kept text sorts first)", text))


class UniqueKeys(beam.PTransform):
    """PCollection[(key, text)] -> (docs with distinct keys, rejects)."""

    def expand(self, docs):
        result = (
            docs
            # A DoFn with tagged rejects leaves its main output typed Union[TaggedOutput, ...],
            # which GroupByKey's type check refuses: restate the pairs.
            | "AsPairs" >> beam.Map(lambda doc: (doc[0], doc[1]))
            # key -> [text, ...]
            | "GroupByKey" >> beam.GroupByKey()
            | "KeepSmallestText" >> beam.ParDo(KeepSmallestTextDoFn()).with_outputs("rejects", main="docs")
        )
        return result.docs, result.rejects


class KeepSmallestKeyDoFn(beam.DoFn):
    """(digest, [(key, text), ...]) -> the smallest key's doc; rejects for the rest."""

    def __init__(self):
        self.duplicates = Metrics.counter("exact_dedup", "exact_duplicate")
        self.groups = Metrics.counter("exact_dedup", "duplicate_groups")

    def process(self, element):
        _, members = element
        members = sorted(members)
        keeper_key = members[0][0]
        yield members[0]
        if len(members) > 1:
            self.groups.inc()
            self.duplicates.inc(len(members) - 1)
        for key, text in members[1:]:
            yield beam.pvalue.TaggedOutput(
                "rejects", make_reject(key, "exact_dedup", "exact_duplicate", f"kept {keeper_key}", text))


class ExactDedup(beam.PTransform):
    """PCollection[(key, text)] -> (docs, rejects)."""

    def expand(self, docs):
        result = (
            docs
            | "KeyByNormalisedDigest" >> beam.Map(lambda doc: (normalised_digest(doc[1]), doc))
            # digest -> [(key, text), ...]
            | "GroupByDigest" >> beam.GroupByKey()
            | "KeepSmallestKey" >> beam.ParDo(KeepSmallestKeyDoFn()).with_outputs("rejects", main="docs")
        )
        return result.docs, result.rejects
