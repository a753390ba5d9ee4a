"""Beam wrapper of ``glmprep.core.decontaminate``: documents sharing an n-gram with an
evaluation item are rejected.

    benchmark files --ReadItems--> [(file, item, text), ...] --Build--> BenchmarkIndex (one)
    (key, text) --CheckContamination[index as a side input]--> (key, text) | reject dicts
    index --Describe--> {"files", "items", "ngrams"}, for the manifest

The index is a side input: every worker holds it whole (12 bytes per distinct n-gram;
the README gives the sizes up to which that pays and what to do beyond). It is built in
the pipeline from the files (any Beam filesystem), in the order the files were given.

Counters: namespace ``decontaminate``, ``contaminated`` and ``benchmark_items``.
"""
from __future__ import annotations

import io
from typing import List, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from glmprep.core.decontaminate import CONTAMINATED, NGRAM, BenchmarkIndex, read_items
from glmprep.schemas.rejects import make_reject

REJECTS = "rejects"
STAGE = "decontaminate"


def read_benchmark(indexed_path: Tuple[int, str]) -> Tuple[int, List[Tuple[str, str, str]]]:
    """``(position, path)`` -> ``(position, [(path, item name, text), ...])``. Compressed
    files are read as their extension says (``.gz``, ``.bz2``, ...)."""
    position, path = indexed_path
    with FileSystems.open(path) as raw:
        lines = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
        items = [(path, name, text) for name, text in read_items(path, lines)]
    Metrics.counter(STAGE, "benchmark_items").inc(len(items))
    return position, items


def build_index(files: Sequence[Tuple[int, List[Tuple[str, str, str]]]], n: int) -> BenchmarkIndex:
    return BenchmarkIndex.build((item for _, items in sorted(files, key=lambda f: f[0]) for item in items), n)


class CheckContaminationDoFn(beam.DoFn):
    """``(key, text)`` -> itself, or a reject naming the benchmark file and item."""

    def __init__(self):
        self._contaminated = Metrics.counter(STAGE, CONTAMINATED)

    def process(self, doc, index: BenchmarkIndex):
        key, text = doc
        item = index.first_match(text)
        if item is None:
            yield doc
        else:
            self._contaminated.inc()
            yield beam.pvalue.TaggedOutput(REJECTS, make_reject(key, STAGE, CONTAMINATED, item, text))


class Decontaminate(beam.PTransform):
    """``(key, text)`` -> ``(docs, rejects, summary)`` against the items of ``benchmark_files``;
    ``summary`` is one dict: files, items and distinct n-grams in the index."""

    def __init__(self, benchmark_files: Sequence[str], n: int = NGRAM):
        super().__init__()
        self.benchmark_files = list(benchmark_files)
        self.n = n

    def expand(self, docs):
        index = (docs.pipeline
                 | "BenchmarkFiles" >> beam.Create(list(enumerate(self.benchmark_files)))
                 | "ReadItems" >> beam.Map(read_benchmark)
                 | "AllFiles" >> beam.combiners.ToList()
                 | "BuildIndex" >> beam.Map(build_index, self.n))
        results = docs | "Check" >> beam.ParDo(CheckContaminationDoFn(), index=beam.pvalue.AsSingleton(index)) \
            .with_outputs(REJECTS, main="docs")
        summary = index | "Describe" >> beam.Map(lambda i, files: {
            "files": files, "items": len(i.items), "ngrams": len(i.hashes), "ngram_words": i.n},
            self.benchmark_files)
        return results.docs, results[REJECTS], summary
