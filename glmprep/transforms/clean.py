"""Beam wrappers of ``glmprep.core.clean`` and ``glmprep.core.filters``.

Both take a PCollection of ``(key, text)`` and return ``(docs, rejects)``: the kept
documents, and one reject dict per dropped document (stage ``clean`` or ``filter``).

Counters: namespace ``clean``, one per change of ``CLEAN_CHANGES`` (how many escape
sequences, characters or lines were touched), one per reject reason, and
``docs_changed``; namespace ``filter``, one per rule reason and ``docs_kept``.
"""
from __future__ import annotations

from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.clean import CLEAN_CHANGES, CLEAN_REJECT_REASONS, clean_text
from glmprep.core.filters import FILTER_REASONS, FilterOptions, QualityFilter
from glmprep.schemas.rejects import make_reject

REJECTS = "rejects"  # tag of the rejects output
DOCS_CHANGED = "docs_changed"
DOCS_KEPT = "docs_kept"


class CleanTextDoFn(beam.DoFn):
    """``(key, text)`` -> ``(key, cleaned text)``, or a reject dict on ``rejects``."""

    def __init__(self):
        self._counters = {name: Metrics.counter("clean", name)
                          for name in CLEAN_CHANGES + CLEAN_REJECT_REASONS + (DOCS_CHANGED,)}

    def process(self, doc):
        key, text = doc
        result = clean_text(text)
        for change, count in result.changes.items():
            self._counters[change].inc(count)
        if result.changes:
            self._counters[DOCS_CHANGED].inc()
        if result.reject is not None:
            reason, detail = result.reject
            self._counters[reason].inc()
            yield beam.pvalue.TaggedOutput(
                REJECTS, make_reject(key, "clean", reason, detail, _encodable(text)))
        else:
            yield key, result.text


def _encodable(text: str) -> str:
    """``text`` with lone surrogates spelled as ``\\udXXX``. Beam's coders encode str as
    UTF-8, which a lone surrogate cannot be; the reader already rejects JSON ones, but a
    document from elsewhere must not turn into a reject that fails the run downstream."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class CheckQualityDoFn(beam.DoFn):
    """``(key, text)`` or ``(key, text, language)`` (after language identification) ->
    itself when it passes the quality filter, else a reject dict on ``rejects``."""

    def __init__(self, options: FilterOptions):
        self._quality_filter = QualityFilter(options)
        self._counters = {name: Metrics.counter("filter", name)
                          for name in FILTER_REASONS + (DOCS_KEPT,)}

    def process(self, doc):
        key, text = doc[0], doc[1]
        verdict = self._quality_filter.check(text, doc[2] if len(doc) > 2 else None)
        if verdict is None:
            self._counters[DOCS_KEPT].inc()
            yield doc
        else:
            reason, detail = verdict
            self._counters[reason].inc()
            yield beam.pvalue.TaggedOutput(REJECTS, make_reject(key, "filter", reason, detail, text))


class CleanDocuments(beam.PTransform):
    """``(key, text)`` -> ``(docs, rejects)``; see ``glmprep.core.clean.clean_text``."""

    def expand(self, docs):
        results = docs | 'CleanText' >> beam.ParDo(CleanTextDoFn()).with_outputs(REJECTS, main='docs')
        return results.docs, results[REJECTS]


class FilterDocuments(beam.PTransform):
    """``(key, text)`` or ``(key, text, language)`` -> ``(docs, rejects)``, the kept ones
    as they came; see ``glmprep.core.filters.QualityFilter``."""

    def __init__(self, options: Optional[FilterOptions] = None):
        super().__init__()
        self._options = options or FilterOptions()

    def expand(self, docs):
        results = docs | 'CheckQuality' >> beam.ParDo(
            CheckQualityDoFn(self._options)).with_outputs(REJECTS, main='docs')
        return results.docs, results[REJECTS]
