"""Near-duplicate removal: MinHash signatures, LSH banding, connected components.

``NearDedup(options)`` turns a PCollection of ``(key, text)`` into ``(docs, rejects)``.
Two documents are near-duplicates when their MinHash signatures collide in an LSH band
and (with ``options.verify``) their estimated Jaccard similarity is at least
``options.threshold``. Near-duplicate is made transitive: each connected component of
the near-duplicate graph keeps its smallest key, every other member is rejected with
reason ``near_duplicate`` and detail ``kept <keeper key>``.

Steps, each a shuffle of small records (keys, 512-byte signatures), never of text
until the final join:

1. signatures: ``key -> signature`` (uint32 [num_perm] as bytes), in batches;
2. band keys -> ``GroupByKey`` -> candidate pairs. A bucket of at most
   ``MAX_CLIQUE_BUCKET`` documents yields every pair; a bigger one (boilerplate shared
   by thousands of pages) yields a star from its smallest key to each other member:
   linear, not quadratic, and it connects the same documents;
3. verification: two ``CoGroupByKey`` joins bring both signatures to each pair
   (keyed by the left key, then by the right key); pairs below the threshold go;
4. connected components by alternating large-star / small-star rounds (Kiveris et al.,
   "Connected Components in MapReduce and Beyond", 2014). A Beam graph cannot loop
   until a fixed point, so ``rounds`` rounds are unrolled (default
   ``DEFAULT_CC_ROUNDS`` = 12). Simulated on paths, the worst case for this algorithm,
   a path of n documents converges in about log2(n) rounds when keys are in random
   order and log2(n) + 3 when sorted: 12 rounds suffice for chains of about a thousand
   documents; clusters of edited copies are stars or cliques and converge in 1-2.
   Anything not converged is counted in ``near_dup_unconverged`` and stays safe: a
   document is rejected only in favour of a smaller key of its own component, and
   each component's smallest key is always kept, so the worst outcome is a component
   keeping more than one document;
5. the decisions ``key -> keeper`` are joined back to ``(key, text)`` once.

Counters (namespace ``near_dedup``): ``near_dup_clusters`` (components of two or more
documents), ``near_dup_removed`` (documents rejected), ``candidate_pairs``,
``pairs_below_threshold``, ``giant_buckets``, ``no_shingles`` (documents without a
word: never near-duplicates), ``near_dup_unconverged``.
"""
from __future__ import annotations

import itertools
from typing import Iterable, Optional, Tuple

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from glmprep.minhash import (MinHashOptions, band_keys, batch_shingle_hashes, estimated_jaccard,
                             signatures_of_hashes)
from glmprep.records import make_reject

COUNTER_NAMESPACE = "near_dedup"
MAX_CLIQUE_BUCKET = 20        # a bucket up to this size emits all its pairs (at most 190)
DEFAULT_CC_ROUNDS = 12        # large-star + small-star rounds, see the module docstring
SIGNATURE_BATCH_SIZE = 256    # documents per vectorised signature call


class ComputeSignaturesDoFn(beam.DoFn):
    """[(key, text), ...] batch -> (key, signature bytes) for every document with a shingle."""

    def __init__(self, options: MinHashOptions):
        self._options = options
        self.no_shingles = Metrics.counter(COUNTER_NAMESPACE, "no_shingles")

    def process(self, batch):
        keys = [key for key, _ in batch]
        hashes, counts = batch_shingle_hashes([text for _, text in batch], self._options.ngram)
        sigs = signatures_of_hashes(hashes, counts, self._options.num_perm, self._options.seed)
        for key, count, sig in zip(keys, counts, sigs):
            if count == 0:
                self.no_shingles.inc()
                continue
            yield key, sig.tobytes()


def emit_band_keys(element: Tuple[str, bytes], bands: int, rows: int):
    """(key, signature bytes) -> (band key, key) per band."""
    key, sig = element
    for band_key in band_keys(np.frombuffer(sig, dtype=np.uint32), bands, rows):
        yield band_key, key


class EmitBucketEdgesDoFn(beam.DoFn):
    """(band key, [key, ...]) -> candidate pairs (smaller key, larger key).

    All pairs of a small bucket; a star from the smallest key in a bucket of more than
    ``max_clique`` documents, so a bucket of n documents never emits more than
    max(n - 1, max_clique**2 / 2) pairs.
    """

    def __init__(self, max_clique: int = MAX_CLIQUE_BUCKET):
        self._max_clique = max_clique
        self.candidate_pairs = Metrics.counter(COUNTER_NAMESPACE, "candidate_pairs")
        self.giant_buckets = Metrics.counter(COUNTER_NAMESPACE, "giant_buckets")

    def process(self, element):
        _, keys = element
        head = sorted(set(itertools.islice(keys, self._max_clique + 1)))
        if len(head) <= self._max_clique:
            pairs = itertools.combinations(head, 2)
        else:
            self.giant_buckets.inc()
            root = min(keys)  # second pass over the grouped values, never held in a list
            pairs = ((root, key) for key in keys if key != root)
        for pair in pairs:
            self.candidate_pairs.inc()
            yield pair


def attach_left_signature(element):
    """(left, {'signature': [sig], 'right': [right, ...]}) -> (right, (left, sig)) per distinct right."""
    left, grouped = element
    for sig in grouped["signature"]:
        for right in set(grouped["right"]):
            yield right, (left, sig)


class KeepSimilarPairsDoFn(beam.DoFn):
    """(right, {'signature': [sig], 'left': [(left, sig), ...]}) -> (left, right) if the
    estimated Jaccard similarity reaches the threshold."""

    def __init__(self, threshold: float):
        self._threshold = threshold
        self.below = Metrics.counter(COUNTER_NAMESPACE, "pairs_below_threshold")

    def process(self, element):
        right, grouped = element
        for sig in grouped["signature"]:
            right_sig = np.frombuffer(sig, dtype=np.uint32)
            for left, left_sig in grouped["left"]:
                if estimated_jaccard(np.frombuffer(left_sig, dtype=np.uint32), right_sig) >= self._threshold:
                    yield left, right
                else:
                    self.below.inc()


def both_directions(edge: Tuple[str, str]):
    u, v = edge
    yield u, v
    yield v, u


def large_star(element) -> Iterable[Tuple[str, str]]:
    """(u, [neighbour, ...]) -> (m, v) for every neighbour v > u, m the smallest of u and
    its neighbours: each larger neighbour is re-attached to the local minimum."""
    u, neighbours = element
    neighbours = set(neighbours)
    m = min(min(neighbours), u)
    for v in neighbours:
        if v > u:
            yield m, v


def small_star(element) -> Iterable[Tuple[str, str]]:
    """(u, [smaller neighbour, ...]) -> (m, v) for v in those and u, v != m, m the smallest:
    u and its smaller neighbours are re-attached to the smallest of them."""
    u, smaller = element
    smaller = set(smaller)
    m = min(smaller)
    for v in smaller | {u}:
        if v != m:
            yield m, v


class AssignKeeperDoFn(beam.DoFn):
    """(u, [('up', smaller neighbour) | ('down', larger neighbour), ...]) -> (u, keeper)
    for every node with a smaller neighbour; roots (no smaller neighbour) are keepers."""

    def __init__(self):
        self.clusters = Metrics.counter(COUNTER_NAMESPACE, "near_dup_clusters")
        self.unconverged = Metrics.counter(COUNTER_NAMESPACE, "near_dup_unconverged")

    def process(self, element):
        u, links = element
        smaller, has_larger = set(), False
        for direction, v in links:
            if direction == "up":
                smaller.add(v)
            else:
                has_larger = True
        if not smaller:
            self.clusters.inc()
            return
        # Converged components are stars around their smallest key: one smaller
        # neighbour, no larger one.
        if len(smaller) > 1 or has_larger:
            self.unconverged.inc()
        yield u, min(smaller)


class ConnectedComponents(beam.PTransform):
    """PCollection[(u, v)] undirected edges -> PCollection[(key, keeper)], keeper being the
    smallest key of the component, for every non-smallest node. ``rounds`` large-star +
    small-star rounds are unrolled (see the module docstring)."""

    def __init__(self, rounds: int = DEFAULT_CC_ROUNDS):
        super().__init__()
        self._rounds = rounds

    def expand(self, edges):
        # (smaller, larger), no self loops
        edges = edges | "Orient" >> beam.Map(lambda e: (min(e), max(e))) | "NoLoops" >> beam.Filter(
            lambda e: e[0] != e[1])
        for i in range(self._rounds):
            edges = (
                edges
                | f"LargeStar{i}/BothDirections" >> beam.FlatMap(both_directions)
                # u -> [neighbour, ...]
                | f"LargeStar{i}/GroupByNode" >> beam.GroupByKey()
                | f"LargeStar{i}/Attach" >> beam.FlatMap(large_star)
                | f"SmallStar{i}/KeyByLarger" >> beam.Map(lambda e: (e[1], e[0]))
                # u -> [smaller neighbour, ...]
                | f"SmallStar{i}/GroupByNode" >> beam.GroupByKey()
                | f"SmallStar{i}/Attach" >> beam.FlatMap(small_star)
            )
        return (
            edges
            | "LinkBothEnds" >> beam.FlatMap(lambda e: [(e[1], ("up", e[0])), (e[0], ("down", e[1]))])
            # u -> [('up', smaller) | ('down', larger), ...]
            | "GroupByNode" >> beam.GroupByKey()
            | "AssignKeeper" >> beam.ParDo(AssignKeeperDoFn())
        )


class ApplyDecisionDoFn(beam.DoFn):
    """(key, {'doc': [text], 'keeper': [keeper]}) -> the doc, or a reject naming the keeper."""

    def __init__(self):
        self.removed = Metrics.counter(COUNTER_NAMESPACE, "near_dup_removed")

    def process(self, element):
        key, grouped = element
        keepers = list(grouped["keeper"])
        for text in grouped["doc"]:
            if keepers:
                self.removed.inc()
                yield beam.pvalue.TaggedOutput(
                    "rejects", make_reject(key, "near_dedup", "near_duplicate", f"kept {keepers[0]}", text))
            else:
                yield key, text


class NearDedup(beam.PTransform):
    """PCollection[(key, text)] -> (docs, rejects): one document per near-duplicate component."""

    def __init__(self, options: MinHashOptions = MinHashOptions(), max_clique: int = MAX_CLIQUE_BUCKET,
                 rounds: int = DEFAULT_CC_ROUNDS):
        super().__init__()
        self._options = options
        self._max_clique = max_clique
        self._rounds = rounds

    def expand(self, docs):
        options = self._options
        bands, rows = options.bands
        key_to_signature = (
            docs
            | "BatchDocs" >> beam.BatchElements(min_batch_size=1, max_batch_size=SIGNATURE_BATCH_SIZE)
            | "ComputeSignatures" >> beam.ParDo(ComputeSignaturesDoFn(options))
        )
        candidate_pairs = (
            key_to_signature
            | "EmitBandKeys" >> beam.FlatMap(emit_band_keys, bands=bands, rows=rows)
            # band key -> [key, ...]
            | "GroupByBand" >> beam.GroupByKey()
            | "EmitBucketEdges" >> beam.ParDo(EmitBucketEdgesDoFn(self._max_clique))
        )
        if options.verify:
            right_to_left_signature = (
                {"signature": key_to_signature, "right": candidate_pairs}
                # left -> {'signature': [sig], 'right': [right, ...]}
                | "JoinLeftSignature" >> beam.CoGroupByKey()
                | "AttachLeftSignature" >> beam.FlatMap(attach_left_signature)
            )
            edges = (
                {"signature": key_to_signature, "left": right_to_left_signature}
                # right -> {'signature': [sig], 'left': [(left, sig), ...]}
                | "JoinRightSignature" >> beam.CoGroupByKey()
                | "KeepSimilarPairs" >> beam.ParDo(KeepSimilarPairsDoFn(options.threshold))
            )
        else:
            edges = candidate_pairs
        key_to_keeper = edges | "ConnectedComponents" >> ConnectedComponents(self._rounds)
        result = (
            {"doc": docs, "keeper": key_to_keeper}
            # key -> {'doc': [text], 'keeper': [keeper]}
            | "JoinDecisions" >> beam.CoGroupByKey()
            | "ApplyDecision" >> beam.ParDo(ApplyDecisionDoFn()).with_outputs("rejects", main="docs")
        )
        return result.docs, result.rejects


# --- command line -------------------------------------------------------------------------

def add_neardedup_arguments(parser) -> None:
    """--near-dedup-threshold, --num-perm, --ngram, --no-near-dedup."""
    defaults = MinHashOptions()
    group = parser.add_argument_group("near-duplicate removal") if hasattr(parser, "add_argument_group") else parser
    group.add_argument("--near-dedup-threshold", type=float, default=defaults.threshold,
                       help="estimated Jaccard similarity of word shingles at which documents are "
                            f"near-duplicates (default: {defaults.threshold})")
    group.add_argument("--num-perm", type=int, default=defaults.num_perm,
                       help=f"MinHash signature length (default: {defaults.num_perm})")
    group.add_argument("--ngram", type=int, default=defaults.ngram,
                       help="words per shingle; each CJK character counts as a word "
                            f"(default: {defaults.ngram})")
    group.add_argument("--no-near-dedup", action="store_true", default=False,
                       help="skip near-duplicate removal")


def neardedup_options_from(namespace) -> Optional[MinHashOptions]:
    """The parsed options -> MinHashOptions, or None with --no-near-dedup.

    Raises ValueError naming the bad option (e.g. a threshold outside (0, 1]).
    """
    if getattr(namespace, "no_near_dedup", False):
        return None
    defaults = MinHashOptions()

    def given(name, default):
        value = getattr(namespace, name, None)
        return default if value is None else value

    try:
        return MinHashOptions(num_perm=given("num_perm", defaults.num_perm),
                              ngram=given("ngram", defaults.ngram),
                              threshold=given("near_dedup_threshold", defaults.threshold))
    except ValueError as exc:
        raise ValueError(f"near-dedup options (--near-dedup-threshold, --num-perm, --ngram): {exc}") from None
