"""One document per key: the step after the readers.

``UniqueKeys`` turns ``(key, text)`` documents, where a key may repeat (two records with
the same id), into documents with distinct keys. Records sharing a key are grouped, the
one whose text sorts first is kept and every other one is rejected (stage ``read``) as
``duplicate_id``, naming the kept key and whether its text was the same. Later stages
rely on a key naming one document (exact and near dedup keep by key, shards list source
keys). The grouping is also the pipeline's first shuffle: a compressed file is read by
one worker, and from here on its documents spread over all of them.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.records import pack_text, unpack_text
from glmprep.schemas.rejects import make_reject

STAGE = "read"
DUPLICATE_ID = "duplicate_id"
REJECTS = "rejects"  # tag of the rejects output


class KeepSmallestTextDoFn(beam.DoFn):
    """``(key, [text, ...])`` -> ``(key, the smallest text)``; a ``duplicate_id`` reject
    for every other text."""

    def __init__(self):
        self.duplicate_ids = Metrics.counter(STAGE, DUPLICATE_ID)

    def process(self, element):
        key, packed_texts = element
        texts = list(map(unpack_text, packed_texts))
        if len(texts) == 1:  # (almost) always
            yield key, texts[0]
            return
        texts.sort()
        kept = texts[0]
        yield key, kept
        for text in texts[1:]:
            self.duplicate_ids.inc()
            same = "the same text" if text == kept else "a different text (the kept one sorts first)"
            yield beam.pvalue.TaggedOutput(REJECTS, make_reject(
                key, STAGE, DUPLICATE_ID, f"kept {key}: another record with this id and {same}", text,
                kept_key=key))


class UniqueKeys(beam.PTransform):
    """``(key, text)`` -> ``(docs with distinct keys, duplicate_id rejects)``."""

    def expand(self, docs):
        result = (
            docs
            # (key, packed text): a third of the bytes to shuffle (records.pack)
            | "Pack" >> beam.Map(lambda doc: (doc[0], pack_text(doc[1])))
            # key -> [packed text, ...]
            | "GroupByKey" >> beam.GroupByKey()
            | "KeepSmallestText" >> beam.ParDo(KeepSmallestTextDoFn()).with_outputs(REJECTS, main="docs"))
        return result.docs, result[REJECTS]
