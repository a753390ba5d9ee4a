"""Documents meet their deduplication decisions: ``ApplyDecisions`` joins documents
``(key, handle)`` (a packed text or where it waits: ``glmprep.transforms.text_runs``) and
decisions ``(key, kept key)`` by document key. A document without a decision is kept, its
handle as it came; one with a decision becomes a reject naming the kept key, its preview
the document's own text (read back from its run). Keys are unique, so a group holds one
document and its decision, if any: no group grows with the data. Near dedup ends this
way (exact dedup decides each document in its digest's group: ``glmprep.transforms.dedup``).
"""
from __future__ import annotations

from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.records import unpack_text
from glmprep.schemas.rejects import make_reject
from glmprep.transforms.text_runs import ResolveTexts

REJECTS = "rejects"  # tag of the rejects output


class ApplyDecisionDoFn(beam.DoFn):
    """(key, [handle | kept key (str), ...]) -> (key, handle) when no kept key came with the
    document, else (handle, (key, the first kept key)) on ``REJECTS``: a reject once its
    text is back."""

    def __init__(self, namespace: str, name: str):
        self.removed = Metrics.counter(namespace, name)

    def process(self, element):
        key, values = element
        handle = kept_key = None
        for value in values:
            if not isinstance(value, str):
                handle = value
            elif kept_key is None:
                kept_key = value
        if handle is None:  # a decision without its document (cannot happen: decisions come from documents)
            return
        if kept_key is None:
            yield key, handle
            return
        self.removed.inc()
        yield beam.pvalue.TaggedOutput(REJECTS, (handle, (key, kept_key)))


class ApplyDecisions(beam.PTransform):
    """(PCollection[(key, handle)], PCollection[(key, kept key)]) -> (kept documents
    (key, handle), rejects): rejects of stage ``stage`` with ``reason`` and ``detail``,
    counted by the counter ``namespace:name``; ``runs``: where texts wait (None: every
    handle is a packed text)."""

    def __init__(self, stage: str, reason: str, detail: str, namespace: str, name: str,
                 runs: Optional[str] = None):
        super().__init__()
        self._reject_args = (stage, reason, detail)
        self._counter = (namespace, name)
        self._runs = runs

    def expand(self, docs_and_decisions):
        stage, reason, detail = self._reject_args
        result = (
            docs_and_decisions
            | "FlattenDocsAndDecisions" >> beam.Flatten()
            # key -> [handle, kept key?]: the document and at most one decision
            | "JoinDecisions" >> beam.GroupByKey()
            | "ApplyDecision" >> beam.ParDo(ApplyDecisionDoFn(*self._counter)).with_outputs(REJECTS, main="docs"))
        rejects = (result[REJECTS]
                   | "RejectTexts" >> ResolveTexts(self._runs)
                   | "Reject" >> beam.Map(lambda e: make_reject(e[1][0], stage, reason, detail, unpack_text(e[0]),
                                                                kept_key=e[1][1])))
        return result.docs, rejects
