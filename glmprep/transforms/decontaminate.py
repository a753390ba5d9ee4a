"""Beam wrapper of ``glmprep.core.decontaminate``: documents sharing an n-gram with an
evaluation item are rejected.

    benchmark files --ReadItems--> (ordinal, label, length, hashes) per matchable item
                    --CountNgrams--> total n-grams: the exact index fits --memory_mb or not

    exact ("side input", the index fits):
      items --BuildIndex--> BenchmarkIndex (one, a side input: 12 bytes per n-gram)
      (key, text) --Check[index]--> (key, text) | reject dicts

    join (it does not fit):
      items --BuildBloom--> BloomFilter of --memory_mb (one, a side input, lifted: OR of partial filters)
      (key, text) --Check[bloom]--> kept (no "maybe" n-gram) | candidate (key, packed text)
                                                              + hits (hash, (key, rank))
      hits, the benchmark's (hash, first owner) --ConfirmHits--> hash -> owner, for the hashes in both
      hits + owners, by hash --> key -> (smallest rank, owner) --> joined back to the candidates' texts

A candidate's hits are confirmed by hash; no group grows with the data. A hash's group
holds its owner and at most ``max_group`` hits: the hits of a hash more documents share
("hot", counted by a lifted combiner) learn its owner from a side input holding only hot
hashes (at most hits / ``max_group`` of them), as ``glmprep.transforms.dedup`` does for
copies. The owner of a hash is the first item holding it and a document's verdict is its
hit of smallest rank, so both ways reject the same documents for the same items.

Which way a run takes is decided in the pipeline, from the benchmark's n-gram count;
both are in the graph, the other one sees nothing. The index is built from the files
(any Beam filesystem), in the order they were given.

Counters: namespace ``decontaminate``, ``contaminated``, ``benchmark_items`` and
``candidates`` (documents sent to the keyed join).
"""
from __future__ import annotations

import io
from typing import Any, Iterator, List, Sequence, Tuple

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from glmprep.core.decontaminate import (CONTAMINATED, INDEX_BYTES_PER_NGRAM, MEMORY_MB, NGRAM, BenchmarkIndex,
                                        BloomFilter, candidate_ngrams, item_ngrams, read_items)
from glmprep.core.records import pack_text, unpack_text
from glmprep.schemas.rejects import make_reject

REJECTS = "rejects"
CANDIDATES = "candidates"
HITS = "hits"
GROUPED = "grouped"
STAGE = "decontaminate"
MAX_GROUP = 1000  # hits of one hash grouped with its owner; more go through the side input of hot hashes
SIDE_INPUT, JOIN = "side input", "join"

# One matchable item: ((file position, item number), "file: item name", n-gram length, unique hashes)
ItemNgrams = Tuple[Tuple[int, int], str, int, np.ndarray]


def read_item_ngrams(indexed_path: Tuple[int, str], n: int) -> Iterator[ItemNgrams]:
    """``(position, path)`` -> the n-grams of each matchable item of the file. Compressed
    files are read as their extension says (``.gz``, ``.bz2``, ...)."""
    position, path = indexed_path
    items = Metrics.counter(STAGE, "benchmark_items")
    with FileSystems.open(path) as raw:
        lines = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
        for number, (name, text) in enumerate(read_items(path, lines)):
            items.inc()
            length, hashes = item_ngrams(text, n)
            if length:
                yield (position, number), f"{path}: {name}", length, hashes


def build_index(items: Sequence[ItemNgrams], n: int) -> BenchmarkIndex:
    return BenchmarkIndex.from_item_ngrams(((label, length, hashes) for _, label, length, hashes
                                            in sorted(items, key=lambda item: item[0])), n)


class BuildBloomFn(beam.CombineFn):
    """Item n-grams -> one ``BloomFilter`` of ``memory_mb``; accumulators are filters,
    merged by OR (lifted: each worker sends one filter to the combine, not its n-grams).
    None until the first item, so that a run on the exact index allocates no filter."""

    def __init__(self, memory_mb: float):
        self.memory_mb = memory_mb

    def create_accumulator(self):
        return None

    def add_input(self, bloom, item):
        bloom = BloomFilter.of_size(self.memory_mb) if bloom is None else bloom
        bloom.add(item[3])
        return bloom

    def merge_accumulators(self, blooms):
        merged = None
        for bloom in blooms:
            if bloom is not None:
                merged = bloom if merged is None else merged.merge(bloom)
        return merged

    def extract_output(self, bloom):
        return BloomFilter(0) if bloom is None else bloom


def item_owners(item: ItemNgrams):
    """An item's n-grams as ``(hash bytes, (ordinal, label))``: the owner of each hash is
    the smallest ordinal's item (``beam.CombinePerKey(min)``)."""
    ordinal, label, _, hashes = item
    for hash_key in _hash_keys(hashes):
        yield hash_key, (ordinal, label)


def _hash_keys(hashes: np.ndarray) -> List[bytes]:
    """Each uint64 hash as 8 little-endian bytes (a key every coder encodes deterministically)."""
    raw = hashes.astype("<u8").tobytes()
    return [raw[i:i + 8] for i in range(0, len(raw), 8)]


class CheckContaminationDoFn(beam.DoFn):
    """``(key, text)`` -> itself, or a reject naming the benchmark file and item (exact
    index); with a Bloom filter instead, a document with "maybe" n-grams goes to
    ``candidates`` as ``(key, packed text)`` and each of those n-grams to ``hits`` as
    ``(hash bytes, (key, rank))``."""

    def __init__(self):
        self._contaminated = Metrics.counter(STAGE, CONTAMINATED)
        self._candidates = Metrics.counter(STAGE, CANDIDATES)

    def process(self, doc, exact: bool, index: BenchmarkIndex, bloom: BloomFilter, lengths: Tuple[int, ...]):
        key, text = doc
        if exact:
            item = index.first_match(text)
            if item is None:
                yield doc
            else:
                self._contaminated.inc()
                yield beam.pvalue.TaggedOutput(REJECTS, make_reject(key, STAGE, CONTAMINATED, item, text))
            return
        hashes, ranks = candidate_ngrams(text, lengths, bloom)
        if not len(hashes):
            yield doc
            return
        self._candidates.inc()
        yield beam.pvalue.TaggedOutput(CANDIDATES, (key, ("doc", pack_text(text))))
        for hash_key, rank in zip(_hash_keys(hashes), ranks.tolist()):
            yield beam.pvalue.TaggedOutput(HITS, (hash_key, (key, rank)))


def confirmed_owner(element):
    """``(hash, {"owner": [(ordinal, label)] or [], "hits": [count] or []})`` -> ``(hash,
    (label, hits))`` when the hash is both the benchmark's and a document's."""
    hash_key, joined = element
    if joined["owner"] and joined["hits"]:
        yield hash_key, (joined["owner"][0][1], joined["hits"][0])


class RouteHitsDoFn(beam.DoFn):
    """``(hash, (key, rank))`` -> ``(key, (rank, label))`` when the hash is hot (its owner
    in ``hot``), else the hit on ``grouped`` to meet its owner by hash."""

    def process(self, hit, hot):
        hash_key, (key, rank) = hit
        label = hot.get(hash_key)
        if label is None:
            yield beam.pvalue.TaggedOutput(GROUPED, (hash_key, ("hit", key, rank)))
        else:
            yield key, (rank, label)


def owned_hits(element):
    """``(hash, [("owner", label) | ("hit", key, rank), ...])`` -> ``(key, (rank, label))``
    for each hit of a hash with an owner. The values are read twice, never held."""
    _, values = element
    label = next((v[1] for v in values if v[0] == "owner"), None)
    if label is not None:
        for value in values:
            if value[0] == "hit":
                yield value[1], (value[2], label)


class ApplyVerdictDoFn(beam.DoFn):
    """``(key, [("doc", packed text) | ("item", (rank, label)), ...])`` -> the document, or
    a reject naming the item of its first matching n-gram (at most two values per key)."""

    def __init__(self):
        self._contaminated = Metrics.counter(STAGE, CONTAMINATED)

    def process(self, element):
        key, values = element
        packed, item = None, None
        for tag, value in values:
            if tag == "doc":
                packed = value
            else:
                item = value[1]
        if packed is None:
            return
        text = unpack_text(packed)
        if item is None:
            yield key, text
        else:
            self._contaminated.inc()
            yield beam.pvalue.TaggedOutput(REJECTS, make_reject(key, STAGE, CONTAMINATED, item, text))


class Decontaminate(beam.PTransform):
    """``(key, text)`` -> ``(docs, rejects, summary)`` against the items of ``benchmark_files``;
    ``summary`` is one dict: files, items and distinct n-grams of the benchmark, and the
    way taken (``index``: ``"side input"`` or ``"join"``)."""

    def __init__(self, benchmark_files: Sequence[str], n: int = NGRAM, memory_mb: float = MEMORY_MB,
                 max_group: int = MAX_GROUP):
        super().__init__()
        self.benchmark_files = list(benchmark_files)
        self.n = n
        self.memory_mb = memory_mb
        self.max_group = max_group

    def expand(self, docs):
        memory_bytes, max_group = self.memory_mb * 1e6, self.max_group
        items = (docs.pipeline
                 | "BenchmarkFiles" >> beam.Create(list(enumerate(self.benchmark_files)))
                 | "ReadItems" >> beam.FlatMap(read_item_ngrams, self.n))
        total = (items | "NgramsPerItem" >> beam.Map(lambda item: len(item[3]))
                 | "CountNgrams" >> beam.CombineGlobally(sum))
        exact = beam.pvalue.AsSingleton(total | "FitsInMemory" >> beam.Map(
            lambda ngrams: ngrams * INDEX_BYTES_PER_NGRAM <= memory_bytes))
        lengths = beam.pvalue.AsSingleton(
            items
            | "Length" >> beam.Map(lambda item: item[2])
            | "DistinctLengths" >> beam.Distinct()
            | "AllLengths" >> beam.combiners.ToList()
            | "LongestFirst" >> beam.Map(lambda found: tuple(sorted(found, reverse=True))))
        index = (items
                 | "ForIndex" >> beam.Filter(lambda _, fits: fits, exact)
                 | "AllItems" >> beam.combiners.ToList()
                 | "BuildIndex" >> beam.Map(build_index, self.n))
        join_items = items | "ForJoin" >> beam.Filter(lambda _, fits: not fits, exact)
        bloom = join_items | "BuildBloom" >> beam.CombineGlobally(BuildBloomFn(self.memory_mb))
        checked = docs | "Check" >> beam.ParDo(
            CheckContaminationDoFn(), exact=exact, index=beam.pvalue.AsSingleton(index),
            bloom=beam.pvalue.AsSingleton(bloom), lengths=lengths).with_outputs(REJECTS, CANDIDATES, HITS, main="docs")

        # --- the keyed join: only documents the Bloom filter flagged, only their flagged n-grams ---
        # hash -> (ordinal, label) of the first item holding it
        owners = join_items | "ItemOwners" >> beam.FlatMap(item_owners) | "FirstOwner" >> beam.CombinePerKey(min)
        # hash -> hits
        hit_counts = (checked[HITS] | "HitOne" >> beam.Map(lambda hit: (hit[0], 1))
                      | "CountHits" >> beam.CombinePerKey(sum))
        # hash -> (label, hits), for hashes both in the benchmark and in a document: one owner, one count each
        confirmed = ({"owner": owners, "hits": hit_counts} | "JoinOwners" >> beam.CoGroupByKey()
                     | "Confirmed" >> beam.FlatMap(confirmed_owner))
        hot = (confirmed | "Hot" >> beam.Filter(lambda c: c[1][1] > max_group)
               | "HotOwner" >> beam.Map(lambda c: (c[0], c[1][0])))
        routed = checked[HITS] | "RouteHits" >> beam.ParDo(
            RouteHitsDoFn(), hot=beam.pvalue.AsDict(hot)).with_output_types(Tuple[Any, Any]).with_outputs(
                GROUPED, main="owned")
        cold_owners = (confirmed | "NotHot" >> beam.Filter(lambda c: c[1][1] <= max_group)
                       | "OwnerMessage" >> beam.Map(lambda c: (c[0], ("owner", c[1][0]))))
        grouped = ((cold_owners, routed[GROUPED]) | "FlattenHits" >> beam.Flatten()
                   # hash -> [("owner", label) | ("hit", key, rank), ...]: at most max_group + 1
                   | "GroupByHash" >> beam.GroupByKey()
                   | "OwnedHits" >> beam.FlatMap(owned_hits))
        # key -> ("item", (smallest rank, its label))
        first_items = ((routed.owned, grouped) | "FlattenOwned" >> beam.Flatten()
                       | "FirstItem" >> beam.CombinePerKey(min)
                       | "TagItem" >> beam.Map(lambda e: (e[0], ("item", e[1]))))
        decided = ((checked[CANDIDATES], first_items) | "FlattenVerdicts" >> beam.Flatten()
                   # key -> [("doc", packed text) | ("item", (rank, label))]: at most two
                   | "JoinVerdicts" >> beam.GroupByKey()
                   | "ApplyVerdict" >> beam.ParDo(ApplyVerdictDoFn()).with_output_types(Tuple[str, str])
                   .with_outputs(REJECTS, main="docs"))

        kept = (checked.docs, decided.docs) | "FlattenKept" >> beam.Flatten()
        rejects = (checked[REJECTS], decided[REJECTS]) | "FlattenRejects" >> beam.Flatten()
        distinct = ((index | "IndexNgrams" >> beam.Map(lambda i: len(i.hashes)),
                     owners | "JoinNgrams" >> beam.combiners.Count.Globally())
                    | "FlattenNgrams" >> beam.Flatten() | "DistinctNgrams" >> beam.CombineGlobally(sum))
        matchable = items | "CountItems" >> beam.combiners.Count.Globally()
        summary = total | "Describe" >> beam.Map(
            lambda _, fits, ngrams, n_items, files, n: {
                "files": files, "items": n_items, "ngrams": ngrams, "ngram_words": n,
                "index": SIDE_INPUT if fits else JOIN},
            exact, beam.pvalue.AsSingleton(distinct), beam.pvalue.AsSingleton(matchable),
            self.benchmark_files, self.n)
        return kept, rejects, summary
