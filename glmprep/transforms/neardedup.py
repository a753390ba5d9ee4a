"""Near-duplicate removal: MinHash signatures, LSH banding, verified pairs, keepers.

``NearDedup(options)`` turns a PCollection of ``(key, text)`` into ``(docs, rejects)``.
Two documents are near-duplicates when their MinHash signatures collide in an LSH band
and their Jaccard similarity is at least ``options.threshold``, checked as
``options.verify`` says: ``"exact"`` (the two shingle-hash sets), ``"estimate"`` (the
signatures) or ``"none"``. Which near-duplicates stay is ``options.keepers``:

- ``"components"`` (default): near-duplicate is made transitive. Each connected
  component of the near-duplicate graph keeps its smallest key; every other member is
  rejected with reason ``near_duplicate`` and ``kept_key`` naming the keeper (detail ``kept <keeper key>``). In a chain
  A~B~C where A and C are not near-duplicates, only one of the three stays, so a
  removed document's keeper may be further from it than the threshold;
- ``"independent"``: a document is rejected (same reason and detail) only in favour of
  a kept document it is itself a near-duplicate of: whatever is removed still has a
  near-identical copy in the output. In the chain A~B~C, B may go but A and C both stay.

Steps, each a shuffle of small records (keys, 512-byte signatures, shingle-hash sets of
4 bytes per distinct shingle), never of text until the final join:

1. signatures: ``key -> signature`` (uint32 [num_perm] as bytes), in batches, and with
   exact verification ``key -> shingle-hash set`` (sorted distinct uint32 as bytes);
2. band keys -> ``GroupByKey`` -> candidate pairs. A bucket of at most
   ``MAX_CLIQUE_BUCKET`` documents yields every pair; a bigger one (boilerplate shared
   by thousands of pages) yields a star from one member to each other member: linear,
   not quadratic. The centre is the member the keeper rule picks first (the smallest
   key for components, :func:`keeper_priority` for independent keepers), so a bucket of
   exact copies settles in one round;
3. verification: two ``CoGroupByKey`` joins bring both documents' signatures or sets to
   each pair (keyed by the left key, then by the right key); pairs below the threshold go;
4. keepers. A Beam graph cannot loop until a fixed point, so ``rounds`` rounds are
   unrolled (default ``DEFAULT_ROUNDS`` = 12) and whatever has not settled after the
   last one is counted in ``near_dup_unconverged`` and kept: the worst outcome is a
   near-duplicate left in, and a rejected document always names a kept one.

   - :class:`ConnectedComponents`: alternating large-star / small-star rounds (Kiveris
     et al., "Connected Components in MapReduce and Beyond", 2014) turn each component
     into a star around its smallest key. Simulated on paths, the worst case for this
     algorithm, a path of n documents in key order converges in about log2(n) rounds
     (7 for 100 documents, 10 for 1000, 12 for 4000), in random key order one or two
     fewer; random trees take 6 or fewer. So 12 rounds settle chains of 4000 revisions;
     clusters of edited copies are stars or cliques and converge in 1-2.
   - :class:`SelectKeepers`: a maximal independent set of the near-duplicate graph, the
     one that greedily keeps documents in :func:`keeper_priority` order. Each round,
     every undecided document that comes first among its undecided neighbours is kept
     and its neighbours are removed in its favour. Because the order is a hash of the
     key, not the key, even a long chain of revisions named ``rev-0001``,
     ``rev-0002``, ... settles in O(log n) rounds (Fischer and Noever, "Tight Analysis
     of Parallel Randomized Greedy MIS", 2018);
5. the decisions ``key -> keeper`` are joined back to ``(key, text)`` once.

Counters (namespace ``near_dedup``): ``near_dup_keepers`` (kept documents with near-
duplicates removed in their favour; with components, one per component of two or more
documents), ``near_dup_removed`` (documents rejected), ``candidate_pairs``,
``pairs_below_threshold``, ``giant_buckets``, ``no_shingles`` (documents without a
word: never near-duplicates), ``near_dup_unconverged``.
"""
from __future__ import annotations

import hashlib
import itertools
from typing import Any, Callable, Iterable, Optional, Tuple

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from glmprep.core.minhash import (MinHashOptions, band_keys, batch_shingle_hashes, estimated_jaccard,
                                  hash_set_jaccard, shingle_sets, signatures_of_hashes)
from glmprep.core.options import add_option_arguments, build, option_values
from glmprep.schemas.rejects import make_reject

COUNTER_NAMESPACE = "near_dedup"
MAX_CLIQUE_BUCKET = 20        # a bucket up to this size emits all its pairs (at most 190)
DEFAULT_ROUNDS = 12           # unrolled keeper rounds, see the module docstring
SIGNATURE_BATCH_SIZE = 256    # documents per vectorised signature call


def keeper_priority(key: str) -> Tuple[bytes, str]:
    """The order in which documents are kept: by a 64-bit BLAKE2b hash of the key, ties by the key.

    Deterministic on every worker and runner; a hash rather than the key itself so that
    sequentially named revisions do not form a worst-case ordered chain.
    """
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), key


def first_in_keeper_order(keys: Iterable[str]) -> str:
    return min(keys, key=keeper_priority)


class ComputeSignaturesDoFn(beam.DoFn):
    """[(key, text), ...] batch -> (key, signature bytes) for every document with a shingle,
    and with ``exact`` also (key, shingle-hash set bytes) on the ``shingle_sets`` output."""

    def __init__(self, options: MinHashOptions, exact: bool):
        self._options = options
        self._exact = exact
        self.no_shingles = Metrics.counter(COUNTER_NAMESPACE, "no_shingles")

    def process(self, batch):
        keys = [key for key, _ in batch]
        hashes, counts = batch_shingle_hashes([text for _, text in batch], self._options.ngram)
        sigs = signatures_of_hashes(hashes, counts, self._options.num_perm, self._options.seed)
        sets = shingle_sets(hashes, counts) if self._exact else [None] * len(keys)
        for key, count, sig, hash_set in zip(keys, counts, sigs, sets):
            if count == 0:
                self.no_shingles.inc()
                continue
            yield key, sig.tobytes()
            if self._exact:
                yield beam.pvalue.TaggedOutput("shingle_sets", (key, hash_set.tobytes()))


def emit_band_keys(element: Tuple[str, bytes], bands: int, rows: int):
    """(key, signature bytes) -> (band key, key) per band."""
    key, sig = element
    for band_key in band_keys(np.frombuffer(sig, dtype=np.uint32), bands, rows):
        yield band_key, key


class EmitBucketEdgesDoFn(beam.DoFn):
    """(band key, [key, ...]) -> candidate pairs (left key, right key).

    All pairs of a small bucket; a star from ``first(members)`` in a bucket of more than
    ``max_clique`` documents, so a bucket of n documents never emits more than
    max(n - 1, max_clique**2 / 2) pairs.
    """

    def __init__(self, max_clique: int = MAX_CLIQUE_BUCKET,
                 first: Callable[[Iterable[str]], str] = first_in_keeper_order):
        self._max_clique = max_clique
        self._first = first
        self.candidate_pairs = Metrics.counter(COUNTER_NAMESPACE, "candidate_pairs")
        self.giant_buckets = Metrics.counter(COUNTER_NAMESPACE, "giant_buckets")

    def process(self, element):
        _, keys = element
        head = sorted(set(itertools.islice(keys, self._max_clique + 1)))
        if len(head) <= self._max_clique:
            pairs = itertools.combinations(head, 2)
        else:
            self.giant_buckets.inc()
            # The root is the member kept first, so an exact-copy bucket settles in one
            # round. Second pass over the grouped values, never held in a list.
            root = self._first(keys)
            pairs = ((root, key) for key in keys if key != root)
        for pair in pairs:
            self.candidate_pairs.inc()
            yield pair


def attach_left_payload(element):
    """(left, {'payload': [p], 'right': [right, ...]}) -> (right, (left, p)) per distinct right."""
    left, grouped = element
    for payload in grouped["payload"]:
        for right in set(grouped["right"]):
            yield right, (left, payload)


def estimated_similarity(sig_a: bytes, sig_b: bytes) -> float:
    """Two signatures as bytes -> estimated Jaccard similarity."""
    return estimated_jaccard(np.frombuffer(sig_a, dtype=np.uint32), np.frombuffer(sig_b, dtype=np.uint32))


def exact_similarity(set_a: bytes, set_b: bytes) -> float:
    """Two shingle-hash sets as bytes -> their exact Jaccard similarity."""
    return hash_set_jaccard(np.frombuffer(set_a, dtype=np.uint32), np.frombuffer(set_b, dtype=np.uint32))


class KeepSimilarPairsDoFn(beam.DoFn):
    """(right, {'payload': [p], 'left': [(left, p), ...]}) -> (left, right) if
    ``similarity(left p, right p)`` reaches the threshold."""

    def __init__(self, threshold: float, similarity):
        self._threshold = threshold
        self._similarity = similarity
        self.below = Metrics.counter(COUNTER_NAMESPACE, "pairs_below_threshold")

    def process(self, element):
        right, grouped = element
        for right_payload in grouped["payload"]:
            for left, left_payload in grouped["left"]:
                if self._similarity(left_payload, right_payload) >= self._threshold:
                    yield left, right
                else:
                    self.below.inc()


class VerifyPairs(beam.PTransform):
    """PCollection[(left, right)] candidate pairs -> the pairs whose similarity of payloads
    reaches the threshold, given PCollection[(key, payload)] with one payload per key."""

    def __init__(self, key_to_payload, threshold: float, similarity):
        super().__init__()
        self._key_to_payload = key_to_payload
        self._threshold = threshold
        self._similarity = similarity

    def expand(self, candidate_pairs):
        right_to_left_payload = (
            {"payload": self._key_to_payload, "right": candidate_pairs}
            # left -> {'payload': [p], 'right': [right, ...]}
            | "JoinLeftPayload" >> beam.CoGroupByKey()
            | "AttachLeftPayload" >> beam.FlatMap(attach_left_payload)
        )
        return (
            {"payload": self._key_to_payload, "left": right_to_left_payload}
            # right -> {'payload': [p], 'left': [(left, p), ...]}
            | "JoinRightPayload" >> beam.CoGroupByKey()
            | "KeepSimilarPairs" >> beam.ParDo(KeepSimilarPairsDoFn(self._threshold, self._similarity))
        )


# --- keepers by connected components ------------------------------------------------------

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


def link_both_ends(edge: Tuple[str, str]):
    """(smaller, larger) -> (larger, ('up', smaller)) and (smaller, ('down', larger))."""
    u, v = edge
    yield v, ("up", u)
    yield u, ("down", v)


class AssignKeeperDoFn(beam.DoFn):
    """(u, [('up', smaller neighbour) | ('down', larger neighbour), ...]) -> (u, keeper)
    for a leaf of a converged star: exactly one smaller neighbour, the keeper, and no
    larger one. Every other node is kept."""

    def __init__(self):
        self.keepers = Metrics.counter(COUNTER_NAMESPACE, "near_dup_keepers")
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
            self.keepers.inc()  # a root: the smallest key of its (part of a) component
            return
        # A converged component is a star around its smallest key. Anywhere else u is
        # kept, so the keeper named by a leaf, having a larger neighbour, is never removed.
        if len(smaller) > 1 or has_larger:
            self.unconverged.inc()
            return
        yield u, smaller.pop()


class ConnectedComponents(beam.PTransform):
    """PCollection[(u, v)] near-duplicate pairs -> PCollection[(key, keeper)] for every
    removed document, keeper being the smallest key of its component. ``rounds``
    large-star + small-star rounds are unrolled (see the module docstring)."""

    def __init__(self, rounds: int = DEFAULT_ROUNDS):
        super().__init__()
        self._rounds = rounds

    def expand(self, pairs):
        # (smaller, larger), no self loops
        edges = (pairs
                 | "Orient" >> beam.Map(lambda e: (min(e), max(e)))
                 | "NoLoops" >> beam.Filter(lambda e: e[0] != e[1]))
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
            | "LinkBothEnds" >> beam.FlatMap(link_both_ends)
            # u -> [('up', smaller) | ('down', larger), ...]
            | "GroupByNode" >> beam.GroupByKey()
            | "AssignKeeper" >> beam.ParDo(AssignKeeperDoFn())
        )


# --- keepers by greedy independent set ----------------------------------------------------

# Messages of keeper selection, keyed by the document they are about or sent to.
_UNDECIDED = "undecided"    # (u, (_UNDECIDED, None)): u is neither kept nor removed yet
_NEIGHBOUR = "neighbour"    # (u, (_NEIGHBOUR, v)): v is an undecided near-duplicate of u
_REMOVED_BY = "removed_by"  # (v, (_REMOVED_BY, u)): u is kept and v is its near-duplicate


def initial_messages(edge: Tuple[str, str]):
    """Near-duplicate pair (u, v) -> both undecided, each the other's neighbour."""
    u, v = edge
    if u != v:
        yield u, (_UNDECIDED, None)
        yield v, (_UNDECIDED, None)
        yield u, (_NEIGHBOUR, v)
        yield v, (_NEIGHBOUR, u)


def _read_messages(messages):
    """[(kind, other), ...] -> (undecided?, {neighbour, ...}, {remover, ...})."""
    undecided, neighbours, removers = False, set(), set()
    for kind, other in messages:
        if kind == _UNDECIDED:
            undecided = True
        elif kind == _NEIGHBOUR:
            neighbours.add(other)
        else:
            removers.add(other)
    return undecided, neighbours, removers


class KeepLocalFirstsDoFn(beam.DoFn):
    """(u, messages) -> if u is undecided and first in keeper order among its undecided
    neighbours: u is kept, (v, (_REMOVED_BY, u)) to each neighbour v; otherwise u stays
    undecided and tells each neighbour so."""

    def __init__(self):
        self.keepers = Metrics.counter(COUNTER_NAMESPACE, "near_dup_keepers")

    def process(self, element):
        u, messages = element
        undecided, neighbours, _ = _read_messages(messages)
        # Without _UNDECIDED, u was decided in an earlier round and the messages come
        # from neighbours that did not know yet.
        if not undecided:
            return []
        priority = keeper_priority(u)
        if all(priority < keeper_priority(v) for v in neighbours):
            if neighbours:
                self.keepers.inc()
            return [(v, (_REMOVED_BY, u)) for v in neighbours]
        return [(u, (_UNDECIDED, None))] + [(v, (_NEIGHBOUR, u)) for v in neighbours]


class RemoveOrPassOnDoFn(beam.DoFn):
    """(v, messages) -> a decision (v, keeper) on the ``removed`` output if a neighbour was
    kept (the first such in keeper order), else the messages of v's next round."""

    def process(self, element):
        v, messages = element
        undecided, neighbours, removers = _read_messages(messages)
        if removers:
            yield beam.pvalue.TaggedOutput("removed", (v, first_in_keeper_order(removers)))
        elif undecided:
            yield v, (_UNDECIDED, None)
            for u in neighbours:
                yield u, (_NEIGHBOUR, v)


class CountUnconvergedDoFn(beam.DoFn):
    """(u, messages) after the last round: counts undecided documents that still have an
    undecided near-duplicate (both are kept)."""

    def __init__(self):
        self.unconverged = Metrics.counter(COUNTER_NAMESPACE, "near_dup_unconverged")

    def process(self, element):
        _, messages = element
        undecided, neighbours, _ = _read_messages(messages)
        if undecided and neighbours:
            self.unconverged.inc()
        return []


class SelectKeepers(beam.PTransform):
    """PCollection[(u, v)] near-duplicate pairs -> PCollection[(key, keeper)] for every
    removed document, keeper being a kept near-duplicate of it. ``rounds`` rounds of
    greedy maximal-independent-set selection are unrolled (see the module docstring)."""

    def __init__(self, rounds: int = DEFAULT_ROUNDS):
        super().__init__()
        self._rounds = rounds

    def expand(self, pairs):
        messages = pairs | "InitialMessages" >> beam.FlatMap(initial_messages)
        decisions = []
        for i in range(self._rounds):
            round_out = (
                messages
                # u -> [(_UNDECIDED, None) | (_NEIGHBOUR, v), ...]
                | f"Round{i}/GroupByDoc" >> beam.GroupByKey()
                | f"Round{i}/KeepLocalFirsts" >> beam.ParDo(KeepLocalFirstsDoFn())
                # v -> [(_UNDECIDED, None) | (_NEIGHBOUR, u) | (_REMOVED_BY, u), ...]
                | f"Round{i}/GroupByNeighbour" >> beam.GroupByKey()
                | f"Round{i}/RemoveOrPassOn" >> beam.ParDo(RemoveOrPassOnDoFn()).with_output_types(
                    Tuple[str, Tuple[str, Any]]).with_outputs(
                    "removed", main="messages")
            )
            messages = round_out.messages
            decisions.append(round_out.removed)
        _ = (messages
             | "Unconverged/GroupByDoc" >> beam.GroupByKey()
             | "Unconverged/Count" >> beam.ParDo(CountUnconvergedDoFn()))
        return decisions | "FlattenDecisions" >> beam.Flatten()


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
                    "rejects", make_reject(key, "near_dedup", "near_duplicate", f"kept {keepers[0]}", text,
                                           kept_key=keepers[0]))
            else:
                yield key, text


class NearDedup(beam.PTransform):
    """PCollection[(key, text)] -> (docs, rejects): one document per near-duplicate
    component, or (``keepers="independent"``) removes documents that have a kept
    near-duplicate."""

    def __init__(self, options: MinHashOptions = MinHashOptions(), max_clique: int = MAX_CLIQUE_BUCKET,
                 rounds: int = DEFAULT_ROUNDS):
        super().__init__()
        self._options = options
        self._max_clique = max_clique
        self._rounds = rounds

    def expand(self, docs):
        options = self._options
        bands, rows = options.bands
        exact = options.verify == "exact"
        by_components = options.keepers == "components"
        computed = (
            docs
            | "BatchDocs" >> beam.BatchElements(min_batch_size=1, max_batch_size=SIGNATURE_BATCH_SIZE)
            | "ComputeSignatures" >> beam.ParDo(ComputeSignaturesDoFn(options, exact)).with_outputs(
                "shingle_sets", main="signatures")
        )
        key_to_signature = computed.signatures
        candidate_pairs = (
            key_to_signature
            | "EmitBandKeys" >> beam.FlatMap(emit_band_keys, bands=bands, rows=rows)
            # band key -> [key, ...]
            | "GroupByBand" >> beam.GroupByKey()
            | "EmitBucketEdges" >> beam.ParDo(EmitBucketEdgesDoFn(
                self._max_clique, min if by_components else first_in_keeper_order))
        )
        if exact:
            pairs = candidate_pairs | "VerifyExact" >> VerifyPairs(
                computed.shingle_sets, options.threshold, exact_similarity)
        elif options.verify == "estimate":
            pairs = candidate_pairs | "VerifyEstimate" >> VerifyPairs(
                key_to_signature, options.threshold, estimated_similarity)
        else:
            pairs = candidate_pairs
        if by_components:
            key_to_keeper = pairs | "ConnectedComponents" >> ConnectedComponents(self._rounds)
        else:
            key_to_keeper = pairs | "SelectKeepers" >> SelectKeepers(self._rounds)
        result = (
            {"doc": docs, "keeper": key_to_keeper}
            # key -> {'doc': [text], 'keeper': [keeper]}
            | "JoinDecisions" >> beam.CoGroupByKey()
            | "ApplyDecision" >> beam.ParDo(ApplyDecisionDoFn()).with_outputs("rejects", main="docs")
        )
        return result.docs, result.rejects


# --- command line -------------------------------------------------------------------------

def add_neardedup_arguments(parser) -> None:
    """The flags of ``MinHashOptions`` (``--near-dedup-threshold``, ``--num-perm``, ...)
    and ``--no-near-dedup``, generated from its fields."""
    add_option_arguments(parser, MinHashOptions, "near-duplicate removal")


def neardedup_options_from(namespace) -> Optional[MinHashOptions]:
    """The parsed options -> MinHashOptions, or None with --no-near-dedup.

    Raises ValueError naming the bad flag (e.g. a threshold outside (0, 1]).
    """
    values = option_values(namespace)
    fn_weight = values.get("false_negative_weight")
    fn_weight = MinHashOptions.false_negative_weight if fn_weight is None else float(fn_weight)
    if not 0.0 <= fn_weight <= 1.0:
        raise ValueError(f"--near-dedup-fn-weight must be in [0, 1] (the weights of missed and "
                         f"false pairs sum to 1), got {fn_weight}")
    return build(MinHashOptions, values, false_positive_weight=round(1.0 - fn_weight, 12))
