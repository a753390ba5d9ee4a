"""Beam wrapper of ``glmprep.core.langid``: every document's language, and the language filter.

    (key, text) --IdentifyLanguage--> (key, text, language)   kept (language in --languages, score ok)
                                  \\-> reject dicts       stage "language", reason "language"
                                  \\-> language -> (documents, rejected), for the manifest

Counters: namespace ``language``, ``docs_<code>`` per identified language and
``language`` per reject.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.langid import LANGUAGE, LanguageIdentifier, LanguageOptions
from glmprep.schemas.rejects import make_reject
from glmprep.transforms.combiners import sum_pairs

REJECTS = "rejects"
LANGUAGES = "languages"
STAGE = "language"


class IdentifyLanguageDoFn(beam.DoFn):
    """``(key, text)`` -> ``(key, text, language)`` when its language is kept (the
    filters read it, then the shard writer: identified once), else a reject on ``rejects``;
    ``(language, (1, 0 or 1))`` of every document on ``languages``."""

    def __init__(self, options: LanguageOptions):
        self.options = options
        self._rejected = Metrics.counter(STAGE, LANGUAGE)
        self._per_language = {}

    def setup(self):
        self.identifier = LanguageIdentifier()

    def process(self, doc):
        key, text = doc
        language, score = self.identifier.identify(text)
        if language not in self._per_language:
            self._per_language[language] = Metrics.counter(STAGE, f"docs_{language}")
        self._per_language[language].inc()
        detail = self.options.check(language, score)
        yield beam.pvalue.TaggedOutput(LANGUAGES, (language, (1, 0 if detail is None else 1)))
        if detail is None:
            yield key, text, language
        else:
            self._rejected.inc()
            yield beam.pvalue.TaggedOutput(REJECTS, make_reject(key, STAGE, LANGUAGE, detail, text))


class IdentifyLanguage(beam.PTransform):
    """``(key, text)`` -> ``(docs, rejects, language -> (documents identified, rejected))``;
    ``docs`` are ``(key, text, language)``."""

    def __init__(self, options: LanguageOptions):
        super().__init__()
        self.options = options

    def expand(self, docs):
        results = docs | "Identify" >> beam.ParDo(IdentifyLanguageDoFn(self.options)).with_outputs(
            REJECTS, LANGUAGES, main="docs")
        identified = results[LANGUAGES] | "CountLanguages" >> beam.CombinePerKey(sum_pairs)
        return results.docs, results[REJECTS], identified
