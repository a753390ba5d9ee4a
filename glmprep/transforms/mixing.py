"""Beam wrapper of ``glmprep.core.mixing``: sources up- or down-sampled to their targets.

    (key, packed token ids) --SumTokens--> source -> available tokens (a few numbers, one worker)
                            --Rates------> source -> rate (side input)
                            --Mix--------> (key, packed token ids), a copy per take
                                       \\-> reject dicts       stage "mixing", reason "mixing_dropped"
    before and after mixing: source -> (documents, tokens), for the manifest
    (key, language) --MixLanguages[rates]--> (key, language), a copy per take: the language
                                             of each copy, for the shard writer

Keys are ``SOURCE/KEY`` (``glmprep.core.mixing.source_key``), so the source of a document
is known from its key wherever it goes. Counters: namespace ``mixing``, ``mixing_dropped``
and ``repeats``.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.mixing import MIXING_DROPPED, MixOptions, copies, copy_keys, mixing_rates, mixing_targets, source_of
from glmprep.core.tokenizer import cached_tokenizer
from glmprep.schemas.rejects import REJECT_PREVIEW_CHARS, make_reject
from glmprep.transforms.combiners import sum_pairs
from glmprep.transforms.tokenize import packed_token_count, unpack_tokens

REJECTS = "rejects"
STAGE = "mixing"
REPEATS = "repeats"


def _documents_and_tokens(kv) -> Tuple[str, Tuple[int, int]]:
    key, packed = kv
    return source_of(key), (1, packed_token_count(packed))


class MixDoFn(beam.DoFn):
    """``(key, packed token ids)`` -> each copy under its own key (``copy_keys``), or a
    ``mixing_dropped`` reject when the document is taken 0 times."""

    def __init__(self, seed: int, ranks_path: Optional[str]):
        self.seed = seed
        self.ranks_path = ranks_path
        self._dropped = Metrics.counter(STAGE, MIXING_DROPPED)
        self._repeats = Metrics.counter(STAGE, REPEATS)

    def process(self, doc, rates: Dict[str, float]):
        key, packed = doc
        source = source_of(key)
        rate = rates.get(source, 1.0)
        n = copies(key, rate, self.seed)
        if n == 0:
            self._dropped.inc()
            # The preview is decoded from the first tokens (the text is not carried this far).
            head = cached_tokenizer(self.ranks_path).decode(unpack_tokens(packed)[:REJECT_PREVIEW_CHARS].tolist())
            yield beam.pvalue.TaggedOutput(REJECTS, make_reject(
                key, STAGE, MIXING_DROPPED, f"source {source} rate {rate:.4f}", head))
            return
        self._repeats.inc(n - 1)
        for copy_key in copy_keys(key, n):
            yield copy_key, packed


def mix_language(record: Tuple[str, str], rates: Dict[str, float], seed: int):
    """``(key, language)`` -> ``(copy key, language)`` for each copy ``MixDoFn`` makes of
    the document (the same ``copies`` of the same key and rate)."""
    key, language = record
    for copy_key in copy_keys(key, copies(key, rates.get(source_of(key), 1.0), seed)):
        yield copy_key, language


class MixSources(beam.PTransform):
    """``(key, packed token ids)`` -> ``(mixed, rejects, summary)``; ``summary`` is one
    dict: source -> documents and tokens before and after, target tokens and rate. Given
    ``(tokens, languages)`` (``(key, language)`` records), ``(mixed, rejects, summary,
    mixed languages)``: each copy's language under its copy key."""

    def __init__(self, options: MixOptions, ranks_path: Optional[str] = None):
        super().__init__()
        self.options = options
        self.ranks_path = ranks_path

    def expand(self, inputs):
        tokens, languages = inputs if isinstance(inputs, tuple) else (inputs, None)
        before = (tokens
                  | "CountBefore" >> beam.Map(_documents_and_tokens)
                  | "SumBefore" >> beam.CombinePerKey(sum_pairs))
        # source -> (documents, tokens): one small dict on one worker
        before_dict = before | "BeforeDict" >> beam.combiners.ToDict()
        rates = before_dict | "Rates" >> beam.Map(
            lambda counts, options: mixing_rates({s: t for s, (_, t) in counts.items()}, options), self.options)
        results = tokens | "Mix" >> beam.ParDo(
            MixDoFn(self.options.seed, self.ranks_path), rates=beam.pvalue.AsSingleton(rates)
        ).with_outputs(REJECTS, main="tokens")
        after_dict = (results.tokens
                      | "CountAfter" >> beam.Map(_documents_and_tokens)
                      | "SumAfter" >> beam.CombinePerKey(sum_pairs)
                      | "AfterDict" >> beam.combiners.ToDict())
        summary = before_dict | "Summary" >> beam.Map(
            mixing_summary, beam.pvalue.AsSingleton(after_dict), self.options)
        if languages is None:
            return results.tokens, results[REJECTS], summary
        mixed_languages = languages | "MixLanguages" >> beam.FlatMap(
            mix_language, beam.pvalue.AsSingleton(rates), self.options.seed)
        return results.tokens, results[REJECTS], summary, mixed_languages


def mixing_summary(before: Dict[str, Tuple[int, int]], after: Dict[str, Tuple[int, int]],
                   options: MixOptions) -> Dict[str, Dict[str, object]]:
    """Source -> documents/tokens before and after mixing, target tokens and rate (every
    configured source, those left without documents included)."""
    available = {s.name: before.get(s.name, (0, 0))[1] for s in options.sources}
    targets = mixing_targets(available, options)
    rates = mixing_rates(available, options)
    out = {}
    for s in options.sources:
        docs_before, tokens_before = before.get(s.name, (0, 0))
        docs_after, tokens_after = after.get(s.name, (0, 0))
        out[s.name] = {"documents_before": docs_before, "tokens_before": tokens_before,
                       "target_tokens": targets[s.name], "rate": round(rates[s.name], 6),
                       "documents_after": docs_after, "tokens_after": tokens_after}
    return out
