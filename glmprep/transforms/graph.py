"""Graph algorithms over near-duplicate pairs, in Beam rounds: who stays.

Both transforms take ``PCollection[(u, v)]`` pairs of keys and return
``(key_to_keeper, counts)``: ``(key, keeper)`` for every removed document, and the
manifest counts ``(ROUNDS_USED, n)`` (the last round that changed anything, 0 when
there were no pairs) and ``(UNSETTLED, n)`` (documents still undecided after the last
round, kept; absent when 0).

A Beam graph cannot loop until a fixed point, so its rounds are unrolled, and each is
shuffles that run even when empty. In :class:`ConnectedComponents` at most ``rounds``
rounds run; a converged star keeps being re-emitted unchanged (the algorithm cannot
tell locally that its component is done), and a round counts as used only if some
node's edges changed. In :class:`SelectKeepers` a decided document sends no more
messages, so after ``finish_after`` rounds what is left is the undecided documents'
messages; they are counted, and when there are at most ``finish_limit`` of them, one
worker finishes the very same rounds in memory (:func:`finish_rounds`). Whatever is not
settled is kept: the worst outcome is a near-duplicate left in, and a rejected
document always names a kept one.

- :class:`ConnectedComponents`: alternating large-star / small-star rounds (Kiveris
  et al., "Connected Components in MapReduce and Beyond", 2014) turn each component
  into a star around its smallest key. Simulated on paths, the worst case for this
  algorithm, a path of n documents in key order converges in about log2(n) rounds
  (7 for 100 documents, 10 for 1000, 12 for 4000), in random key order one or two
  fewer; random trees take 6 or fewer; clusters of edited copies are stars or cliques
  and converge in 1-2.
- :class:`SelectKeepers`: a maximal independent set of the near-duplicate graph, the
  one that greedily keeps documents in :func:`keeper_priority` order. Each round,
  every undecided document that comes first among its undecided neighbours is kept
  and its neighbours are removed in its favour. Because the order is a hash of the
  key, not the key, even a long chain of revisions named ``rev-0001``, ``rev-0002``,
  ... settles in O(log n) rounds (Fischer and Noever, "Tight Analysis of Parallel
  Randomized Greedy MIS", 2018).
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterable, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.minhash import MinHashOptions

COUNTER_NAMESPACE = "near_dedup"
DEFAULT_ROUNDS = MinHashOptions.rounds  # at most this many component rounds (see MinHashOptions)
ROUNDS_USED = "near_dedup_rounds_used"
UNSETTLED = "near_dedup_unsettled"
CHANGED = "changed"           # tag of a round's "something changed" output


def keeper_priority(key: str) -> Tuple[bytes, str]:
    """The order in which documents are kept: by a 64-bit BLAKE2b hash of the key, ties by the key.

    Deterministic on every worker and runner; a hash rather than the key itself so that
    sequentially named revisions do not form a worst-case ordered chain.
    """
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), key


def first_in_keeper_order(keys: Iterable[str]) -> str:
    return min(keys, key=keeper_priority)


def last_round_and_count(values: Iterable[Tuple[int, int]]) -> Tuple[int, int]:
    """(round, count) pairs -> (the largest round, the summed counts); also of its own results."""
    last, count = 0, 0
    for round_, n in values:
        last, count = max(last, round_), count + n
    return last, count


def name_round_counts(last_and_count: Tuple[int, int]):
    last, count = last_and_count
    return ([(ROUNDS_USED, last)] if last else []) + ([(UNSETTLED, count)] if count else [])


def round_counts(pipeline_label: str, changed_rounds, unsettled):
    """PCollections of round numbers that changed something and of unsettled documents ->
    the manifest counts ``(ROUNDS_USED, max round)`` and ``(UNSETTLED, n)``, in one global
    combine (each combine is stages of its own, run even when empty)."""
    marks = [rounds | f"{pipeline_label}/MarkRound{i}" >> beam.Map(lambda n: (n, 0))
             for i, rounds in enumerate(changed_rounds)]
    marks.append(unsettled | f"{pipeline_label}/MarkUnsettled" >> beam.Map(lambda _: (0, 1)))
    return (marks
            | f"{pipeline_label}/FlattenMarks" >> beam.Flatten()
            | f"{pipeline_label}/LastRoundAndCount" >> beam.CombineGlobally(last_round_and_count).without_defaults()
            | f"{pipeline_label}/NameCounts" >> beam.FlatMap(name_round_counts))


# --- keepers by connected components ------------------------------------------------------

def both_directions(edge: Tuple[str, str]):
    u, v = edge
    yield u, v
    yield v, u


def large_star(element) -> Iterable[Tuple[str, str]]:
    """(u, [neighbour, ...]) -> (m, v) for every neighbour v > u, m the smallest of u and
    its neighbours: each larger neighbour is re-attached to the local minimum. A
    ``CHANGED`` output when some edge moved (m is not u and u has a larger neighbour)."""
    u, neighbours = element
    neighbours = set(neighbours)
    m = min(min(neighbours), u)
    larger = [v for v in neighbours if v > u]
    if m != u and larger:
        yield beam.pvalue.TaggedOutput(CHANGED, None)
    for v in larger:
        yield m, v


def small_star(element) -> Iterable[Tuple[str, str]]:
    """(u, [smaller neighbour, ...]) -> (m, v) for v in those and u, v != m, m the smallest:
    u and its smaller neighbours are re-attached to the smallest of them. A ``CHANGED``
    output when u had more than one smaller neighbour."""
    u, smaller = element
    smaller = set(smaller)
    m = min(smaller)
    if len(smaller) > 1:
        yield beam.pvalue.TaggedOutput(CHANGED, None)
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
    larger one. Every other node is kept; those not at the centre of a star are
    unsettled (``UNSETTLED`` output)."""

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
            yield beam.pvalue.TaggedOutput(UNSETTLED, u)
            return
        yield u, smaller.pop()


class ConnectedComponents(beam.PTransform):
    """PCollection[(u, v)] near-duplicate pairs -> (PCollection[(key, keeper)] for every
    removed document, keeper being the smallest key of its component; counts)."""

    def __init__(self, rounds: int = DEFAULT_ROUNDS):
        super().__init__()
        self._rounds = rounds

    def expand(self, pairs):
        # (smaller, larger), no self loops
        edges = (pairs
                 | "Orient" >> beam.Map(lambda e: (min(e), max(e)))
                 | "NoLoops" >> beam.Filter(lambda e: e[0] != e[1]))
        changed = []
        for i in range(self._rounds):
            large = (
                edges
                | f"LargeStar{i}/BothDirections" >> beam.FlatMap(both_directions)
                # u -> [neighbour, ...]
                | f"LargeStar{i}/GroupByNode" >> beam.GroupByKey()
                | f"LargeStar{i}/Attach" >> beam.FlatMap(large_star).with_output_types(
                    Tuple[str, str]).with_outputs(CHANGED, main="edges"))
            small = (
                large.edges
                | f"SmallStar{i}/KeyByLarger" >> beam.Map(lambda e: (e[1], e[0]))
                # u -> [smaller neighbour, ...]
                | f"SmallStar{i}/GroupByNode" >> beam.GroupByKey()
                | f"SmallStar{i}/Attach" >> beam.FlatMap(small_star).with_output_types(
                    Tuple[str, str]).with_outputs(CHANGED, main="edges"))
            edges = small.edges
            changed += [large[CHANGED] | f"Round{i}/LargeChanged" >> beam.Map(lambda _, n=i + 1: n),
                        small[CHANGED] | f"Round{i}/SmallChanged" >> beam.Map(lambda _, n=i + 1: n)]
        assigned = (
            edges
            | "LinkBothEnds" >> beam.FlatMap(link_both_ends)
            # u -> [('up', smaller) | ('down', larger), ...]
            | "GroupByNode" >> beam.GroupByKey()
            | "AssignKeeper" >> beam.ParDo(AssignKeeperDoFn()).with_output_types(
                Tuple[str, str]).with_outputs(UNSETTLED, main="decisions")
        )
        return assigned.decisions, round_counts("Rounds", changed, assigned[UNSETTLED])


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


def _neighbours(messages) -> Iterable[str]:
    """The neighbours named in ``messages``, one per ``_NEIGHBOUR`` message."""
    return (other for kind, other in messages if kind == _NEIGHBOUR)


def _is_undecided(messages) -> bool:
    return any(kind == _UNDECIDED for kind, _ in messages)


class KeepLocalFirstsDoFn(beam.DoFn):
    """(u, messages) -> if u is undecided and first in keeper order among its undecided
    neighbours: u is kept, (v, (_REMOVED_BY, u)) to each neighbour v; otherwise u stays
    undecided and tells each neighbour so.

    The messages are read in passes, never held: a star's centre with a hundred thousand
    neighbours costs its worker nothing beyond the grouped values (which Dataflow pages
    in), and its work is one pass per output."""

    def __init__(self):
        self.keepers = Metrics.counter(COUNTER_NAMESPACE, "near_dup_keepers")

    def process(self, element):
        u, messages = element
        # Without _UNDECIDED, u was decided in an earlier round and the messages come
        # from neighbours that did not know yet.
        if not _is_undecided(messages):
            return
        priority = keeper_priority(u)
        if all(priority < keeper_priority(v) for v in _neighbours(messages)):
            if next(iter(_neighbours(messages)), None) is not None:
                self.keepers.inc()
            for v in _neighbours(messages):
                yield v, (_REMOVED_BY, u)
            return
        yield u, (_UNDECIDED, None)
        for v in _neighbours(messages):
            yield v, (_NEIGHBOUR, u)


class RemoveOrPassOnDoFn(beam.DoFn):
    """(v, messages) -> a decision (v, keeper) on the ``removed`` output if a neighbour was
    kept (the first such in keeper order), else the messages of v's next round. The
    messages are read in passes, never held."""

    def process(self, element):
        v, messages = element
        # the first kept neighbour in keeper order (a star's centre may have thousands)
        first = min((keeper_priority(other) for kind, other in messages if kind == _REMOVED_BY), default=None)
        if first is not None:
            yield beam.pvalue.TaggedOutput("removed", (v, first[1]))
        elif _is_undecided(messages):
            yield v, (_UNDECIDED, None)
            for u in _neighbours(messages):
                yield u, (_NEIGHBOUR, v)


def finish_rounds(messages: Iterable[Tuple[str, Tuple[str, Any]]], first_round: int):
    """The messages of the undecided documents before round ``first_round`` -> the rounds
    of :class:`KeepLocalFirstsDoFn` and :class:`RemoveOrPassOnDoFn` run on them in memory
    until nothing changes: (``[(removed, keeper), ...]``, documents kept in favour of which
    others were removed, the last round that removed one or 0).

    The same synchronous rounds, so the same decisions as unrolling more of them: a
    document first in keeper order among its undecided neighbours is kept, each of them
    is removed in favour of the first such kept neighbour in keeper order, and both leave
    the next round. Each round costs the links still undecided; memory is one set per
    undecided document.

    >>> finish_rounds([("a", ("undecided", None)), ("b", ("undecided", None)),
    ...                ("a", ("neighbour", "b")), ("b", ("neighbour", "a"))], 4)
    ([('b', 'a')], 1, 4)
    """
    undecided, links = set(), {}
    for u, (kind, v) in messages:
        if kind == _UNDECIDED:
            undecided.add(u)
        elif kind == _NEIGHBOUR:
            links.setdefault(u, set()).add(v)
    # u -> its undecided neighbours; a message to a decided document is dropped, as the
    # round would drop it, and a document without any is kept and changes nothing
    neighbours = {u: links[u] & undecided for u in undecided if u in links}
    neighbours = {u: vs for u, vs in neighbours.items() if vs}
    priority = {u: keeper_priority(u) for u in neighbours}
    decisions, keepers, last, round_ = [], 0, 0, first_round
    while neighbours:
        kept = [u for u, vs in neighbours.items() if all(priority[u] < priority[v] for v in vs)]
        removed_by = {}
        for u in kept:
            for v in neighbours[u]:
                if v not in removed_by or priority[u] < priority[removed_by[v]]:
                    removed_by[v] = u
        keepers += len(kept)
        decisions.extend(removed_by.items())
        last = round_  # the first in keeper order among these is always kept, removing some
        gone = set(kept) | removed_by.keys()
        neighbours = {u: vs - gone for u, vs in neighbours.items() if u not in gone}
        neighbours = {u: vs for u, vs in neighbours.items() if vs}
        round_ += 1
    return decisions, keepers, last


class RouteRemainderDoFn(beam.DoFn):
    """(u, message) of an undecided document, with the count of all such messages ->
    (None, (u, message)) when the count is at most ``limit``, so that one key gathers
    them all, else (u, message) as it is."""

    def __init__(self, limit: int):
        self._limit = limit

    def process(self, message, remainder_size: int):
        yield (None, message) if remainder_size <= self._limit else message


class SettleRemainderDoFn(beam.DoFn):
    """(None, [(u, message), ...]) -> the decisions (removed, keeper) of
    :func:`finish_rounds` and the last round that changed something (``CHANGED``
    output); (u, [message, ...]) -> u on the ``UNSETTLED`` output if it is undecided and
    still has an undecided near-duplicate (both are kept).

    One grouping serves both, as each is a stage of its own that runs even when empty.
    The gathered key's memory is bounded by the ``finish_limit`` that routed the
    messages to it."""

    def __init__(self, first_round: int):
        self._first_round = first_round
        self.keepers = Metrics.counter(COUNTER_NAMESPACE, "near_dup_keepers")
        self.unconverged = Metrics.counter(COUNTER_NAMESPACE, "near_dup_unconverged")

    def process(self, element):
        u, messages = element
        if u is None:
            decisions, keepers, last = finish_rounds(messages, self._first_round)
            self.keepers.inc(keepers)
            yield from decisions
            if last:
                yield beam.pvalue.TaggedOutput(CHANGED, last)
        elif _is_undecided(messages) and next(iter(_neighbours(messages)), None) is not None:
            self.unconverged.inc()
            yield beam.pvalue.TaggedOutput(UNSETTLED, u)


class SelectKeepers(beam.PTransform):
    """PCollection[(u, v)] near-duplicate pairs -> (PCollection[(key, keeper)] for every
    removed document, keeper being a kept near-duplicate of it; counts).

    ``finish_after`` rounds run in Beam; then the messages of the documents still
    undecided are counted, and if there are at most ``finish_limit`` the rounds are
    finished on one worker (:func:`finish_rounds`), else those documents are kept and
    counted as ``UNSETTLED``. Either way the result is that of unrolling rounds until
    nothing changes, or of stopping after ``finish_after`` rounds.
    """

    def __init__(self, finish_after: int = MinHashOptions.finish_after,
                 finish_limit: int = MinHashOptions.finish_limit):
        super().__init__()
        self._finish_after = finish_after
        self._finish_limit = finish_limit

    def expand(self, pairs):
        messages = pairs | "InitialMessages" >> beam.FlatMap(initial_messages)
        decisions, changed = [], []
        for i in range(self._finish_after):
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
            changed.append(round_out.removed | f"Round{i}/Changed" >> beam.Map(lambda _, n=i + 1: n))
        # one number; empty when nothing is undecided, and then nothing reads it
        remainder_size = messages | "Remainder/Count" >> beam.combiners.Count.Globally().without_defaults()
        settled = (
            messages
            | "Remainder/Route" >> beam.ParDo(
                RouteRemainderDoFn(self._finish_limit),
                beam.pvalue.AsSingleton(remainder_size, default_value=0)).with_output_types(
                Tuple[Optional[str], Any])
            # None -> [every (u, message) left] (at most finish_limit), or else
            # u -> [(_UNDECIDED, None) | (_NEIGHBOUR, v), ...]
            | "Remainder/Group" >> beam.GroupByKey()
            | "Remainder/Settle" >> beam.ParDo(SettleRemainderDoFn(self._finish_after + 1)).with_output_types(
                Tuple[str, str]).with_outputs(CHANGED, UNSETTLED, main="decisions"))
        decisions.append(settled.decisions)
        changed.append(settled[CHANGED])
        key_to_keeper = decisions | "FlattenDecisions" >> beam.Flatten()
        return key_to_keeper, round_counts("Rounds", changed, settled[UNSETTLED])
