"""Documents meet their deduplication decisions: ``ApplyDecisions`` joins packed documents
``(key, packed text)`` and decisions ``(key, kept key)`` by document key. A document
without a decision is kept, still packed; one with a decision becomes a reject naming the
kept key, its preview the document's own text. Keys are unique, so a group holds one
document and its decision, if any: no group grows with the data. Exact dedup and near
dedup both end this way.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.records import unpack_text
from glmprep.schemas.rejects import make_reject

REJECTS = "rejects"  # tag of the rejects output


class ApplyDecisionDoFn(beam.DoFn):
    """(key, [packed text (bytes) | kept key (str), ...]) -> (key, packed text) when no kept
    key came with the document, else a reject on ``REJECTS`` naming the first kept key."""

    def __init__(self, stage: str, reason: str, detail: str, namespace: str, name: str):
        self._stage, self._reason, self._detail = stage, reason, detail
        self.removed = Metrics.counter(namespace, name)

    def process(self, element):
        key, values = element
        packed = kept_key = None
        for value in values:
            if isinstance(value, bytes):
                packed = value
            elif kept_key is None:
                kept_key = value
        if packed is None:  # a decision without its document (cannot happen: decisions come from documents)
            return
        if kept_key is None:
            yield key, packed
            return
        self.removed.inc()
        yield beam.pvalue.TaggedOutput(REJECTS, make_reject(
            key, self._stage, self._reason, self._detail, unpack_text(packed), kept_key=kept_key))


class ApplyDecisions(beam.PTransform):
    """(PCollection[(key, packed text)], PCollection[(key, kept key)]) -> (kept documents
    (key, packed text), rejects): rejects of stage ``stage`` with ``reason`` and ``detail``,
    counted by the counter ``namespace:name``."""

    def __init__(self, stage: str, reason: str, detail: str, namespace: str, name: str):
        super().__init__()
        self._fn_args = (stage, reason, detail, namespace, name)

    def expand(self, docs_and_decisions):
        result = (
            docs_and_decisions
            | "FlattenDocsAndDecisions" >> beam.Flatten()
            # key -> [packed text, kept key?]: the document and at most one decision
            | "JoinDecisions" >> beam.GroupByKey()
            | "ApplyDecision" >> beam.ParDo(ApplyDecisionDoFn(*self._fn_args)).with_outputs(REJECTS, main="docs"))
        return result.docs, result[REJECTS]
