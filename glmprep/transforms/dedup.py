"""Exact deduplication on normalised text.

``ExactDedup``: documents whose normalised text is identical form a group; the member
with the smallest key is kept and every other one is rejected (stage ``exact_dedup``)
with reason ``exact_duplicate`` naming the kept key. The text crosses exactly one
shuffle. Keys are already unique (``UniqueKeys`` makes them so).
"""
from __future__ import annotations

import hashlib
import unicodedata

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.records import pack_text, unpack_text
from glmprep.schemas.rejects import make_reject


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


class KeepSmallestKeyDoFn(beam.DoFn):
    """(digest, [(key, packed text), ...]) -> the smallest key's doc; rejects for the rest."""

    def __init__(self):
        self.duplicates = Metrics.counter(STAGE, EXACT_DUPLICATE)
        self.groups = Metrics.counter(STAGE, "duplicate_groups")

    def process(self, element):
        _, members = element
        members = sorted(members)  # keys are unique: by key
        keeper_key = members[0][0]
        yield keeper_key, unpack_text(members[0][1])
        if len(members) > 1:
            self.groups.inc()
            self.duplicates.inc(len(members) - 1)
        for key, packed_text in members[1:]:
            yield beam.pvalue.TaggedOutput("rejects", make_reject(
                key, STAGE, EXACT_DUPLICATE, f"kept {keeper_key}", unpack_text(packed_text),
                kept_key=keeper_key))


class ExactDedup(beam.PTransform):
    """PCollection[(key, text)] -> (docs, rejects)."""

    def expand(self, docs):
        result = (
            docs
            | "KeyByNormalisedDigest" >> beam.Map(
                lambda doc: (normalised_digest(doc[1]), (doc[0], pack_text(doc[1]))))
            # digest -> [(key, packed text), ...] (records.pack: a third of the bytes)
            | "GroupByDigest" >> beam.GroupByKey()
            | "KeepSmallestKey" >> beam.ParDo(KeepSmallestKeyDoFn()).with_outputs("rejects", main="docs")
        )
        return result.docs, result.rejects
