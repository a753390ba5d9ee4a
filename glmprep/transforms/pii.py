"""Beam wrapper of ``glmprep.core.pii``: PII replaced by placeholders in documents and in
reject previews.

    (key, text) --RedactPii--> (key, redacted text)
                          \\-> (kind, (documents, replacements))   summed per kind, for the manifest

Counters: namespace ``pii``, ``<kind>`` (replacements) and ``docs_<kind>`` (documents
with at least one) per kind, and ``docs_redacted``.
"""
from __future__ import annotations

import re
from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.pii import PII_KINDS, PiiOptions, PiiRedactor
from glmprep.schemas.rejects import REJECT_PREVIEW_CHARS
from glmprep.transforms.combiners import sum_pairs

COUNTS = "pii_counts"
_LAST_WORD = re.compile(r"\S+\Z")


class RedactPiiDoFn(beam.DoFn):
    """``(key, text)`` -> ``(key, redacted text)``; ``(kind, (1, replacements))`` per
    kind found on ``pii_counts``."""

    def __init__(self, options: Optional[PiiOptions] = None):
        self.options = options or PiiOptions()
        self._replaced = {k: Metrics.counter("pii", k) for k in PII_KINDS}
        self._docs = {k: Metrics.counter("pii", f"docs_{k}") for k in PII_KINDS}
        self._docs_redacted = Metrics.counter("pii", "docs_redacted")

    def setup(self):
        self.redactor = PiiRedactor(self.options)

    def process(self, doc):
        key, text = doc
        redaction = self.redactor.redact(text)
        if not redaction.counts:
            yield doc
            return
        self._docs_redacted.inc()
        for kind, n in redaction.counts.items():
            self._replaced[kind].inc(n)
            self._docs[kind].inc()
            yield beam.pvalue.TaggedOutput(COUNTS, (kind, (1, n)))
        yield key, redaction.text


class RedactPii(beam.PTransform):
    """``(key, text)`` -> ``(docs, kind -> (documents, replacements))``."""

    def __init__(self, options: Optional[PiiOptions] = None):
        super().__init__()
        self.options = options or PiiOptions()

    def expand(self, docs):
        results = docs | "Redact" >> beam.ParDo(RedactPiiDoFn(self.options)).with_outputs(COUNTS, main="docs")
        per_kind = results[COUNTS] | "SumPerKind" >> beam.CombinePerKey(sum_pairs)
        return results.docs, per_kind


class RedactPreviewDoFn(beam.DoFn):
    """A reject dict -> the same with its preview redacted. A preview cut at
    ``REJECT_PREVIEW_CHARS`` also loses its last word: an address or number cut in two
    is no longer recognisable, and its first half would show."""

    def __init__(self, options: Optional[PiiOptions] = None):
        self.options = options or PiiOptions()

    def setup(self):
        self.redactor = PiiRedactor(self.options)

    def process(self, reject):
        preview = reject.get("preview") or ""
        if len(preview) >= REJECT_PREVIEW_CHARS:
            preview = _LAST_WORD.sub("", preview)
        redacted = self.redactor.redact(preview).text
        yield reject if redacted == reject.get("preview") else {**reject, "preview": redacted}
