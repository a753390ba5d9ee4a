"""Beam wrapper of ``glmprep.core.langid``: every document's language, and the language filter.

    (key, text) --IdentifyLanguage--> (key, text, language)   kept (language in --languages, score ok)
                                  \\-> reject dicts       stage "language", reason "language"
                                  \\-> language -> (documents, rejected), for the manifest

Counters: namespace ``language``, ``docs_<code>`` per identified language and
``language`` per reject.
"""
from __future__ import annotations

from collections import Counter

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.langid import LANGUAGE, LanguageIdentifier, LanguageOptions
from glmprep.schemas.rejects import make_reject
from glmprep.transforms.bundle_buffer import BundleBufferDoFn
from glmprep.transforms.combiners import sum_pairs

REJECTS = "rejects"
LANGUAGES = "languages"
STAGE = "language"
# Characters of documents held before they are identified in one call into the model:
# the batch call saves about 7 us a short document; 256 K characters hold a few thousand
# short ones (at most 1 MB of text) and are identified in about 0.1 s.
BATCH_CHARS = 1 << 18


class IdentifyLanguageDoFn(BundleBufferDoFn):
    """``(key, text)`` -> ``(key, text, language)`` when its language is kept (the
    filters read it, then the shard writer: identified once), else a reject on ``rejects``;
    ``(language, (1, 0 or 1))`` of every document on ``languages``.

    Documents are held until ``max_chars`` characters of them are (``BundleBufferDoFn``),
    then identified in one call into the model (``LanguageIdentifier.languages``); a
    document that the options may reject (``LanguageOptions.may_reject``) is identified
    again on its own for the score its reject detail gives. With a minimum score every
    document needs its score, so each is identified once on its own instead."""

    def __init__(self, options: LanguageOptions, max_chars: int = BATCH_CHARS):
        super().__init__(max_chars)
        self.options = options
        self._rejected = Metrics.counter(STAGE, LANGUAGE)
        self._per_language = {}

    def setup(self):
        self.identifier = LanguageIdentifier()

    def empty(self):
        return []

    def process(self, doc):
        self.held.append(doc)
        yield from self.added(len(doc[1]))

    def drain(self, held):
        texts = [text for _, text in held]
        if self.options.min_score > 0:  # every document's score is read: one call each, not two
            identified = [self.identifier.identify(text) for text in texts]
        else:
            identified = [(language, None) for language in self.identifier.languages(texts)]
        for language, n_docs in Counter(language for language, _ in identified).items():
            if language not in self._per_language:  # one counter update a language a batch
                self._per_language[language] = Metrics.counter(STAGE, f"docs_{language}")
            self._per_language[language].inc(n_docs)
        for (key, text), (language, score) in zip(held, identified):
            yield from self._outputs(key, text, language, score)

    def _outputs(self, key, text, language, score):
        """``score`` None: not known yet (the batch call gives none), computed only if needed."""
        detail = None
        if self.options.may_reject(language):
            if score is None:
                score = self.identifier.identify(text)[1]
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
