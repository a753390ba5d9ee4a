"""SelectKeepers' finish on one worker gives exactly what unrolling more Beam rounds gives."""
import doctest
import json
import random

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline

from glmprep.transforms import graph
from glmprep.transforms.graph import (COUNTER_NAMESPACE, ROUNDS_USED, UNSETTLED, SelectKeepers, finish_rounds,
                                      keeper_priority)

# Enough Beam rounds for every graph here to settle without a finish (asserted below).
MANY_ROUNDS = 16


def select_keepers(tmp_path, edges, finish_after, finish_limit, name):
    """Runs SelectKeepers on ``edges``: (sorted decisions, manifest counts, near_dup_keepers counter)."""
    pipeline = TestPipeline()
    decisions, counts = pipeline | beam.Create(edges) | SelectKeepers(finish_after, finish_limit)
    for label, pcoll in (("decisions", decisions), ("counts", counts)):
        _ = (pcoll
             | f"{label}/ToJson" >> beam.Map(json.dumps)
             | f"{label}/Write" >> beam.io.WriteToText(str(tmp_path / f"{name}-{label}-")))
    result = pipeline.run()
    result.wait_until_finish()

    def read(label):
        return [tuple(json.loads(line)) for path in sorted(tmp_path.glob(f"{name}-{label}-*"))
                for line in path.read_text(encoding="utf-8").splitlines()]

    keepers = sum(c.committed for c in result.metrics().query(
        MetricsFilter().with_namespace(COUNTER_NAMESPACE).with_name("near_dup_keepers"))["counters"])
    return sorted(read("decisions")), dict(read("counts")), keepers


def assert_finish_equals_many_rounds(tmp_path, edges, finish_after=(0, 1, 3)):
    unrolled = select_keepers(tmp_path, edges, MANY_ROUNDS, 0, "unrolled")
    assert UNSETTLED not in unrolled[1] and 0 < unrolled[1][ROUNDS_USED] < MANY_ROUNDS
    for after in finish_after:
        finished = select_keepers(tmp_path, edges, after, 10 ** 9, f"after{after}")
        assert finished == unrolled, after
    return unrolled


def random_graph(seed, n_nodes, n_edges):
    rng = random.Random(seed)
    nodes = [f"n{i:04d}" for i in range(n_nodes)]
    return [tuple(rng.sample(nodes, 2)) for _ in range(n_edges)]


@pytest.mark.parametrize("seed, n_nodes, n_edges", [(1, 300, 450), (2, 2000, 1500), (3, 500, 10000)],
                         ids=["sparse", "forest-like", "dense"])
def test_finish_equals_many_rounds_on_random_graphs(tmp_path, seed, n_nodes, n_edges):
    assert_finish_equals_many_rounds(tmp_path, random_graph(seed, n_nodes, n_edges))


def test_finish_equals_many_rounds_on_a_star_with_repeated_and_reversed_pairs(tmp_path):
    rng = random.Random(4)
    nodes = [f"p{i:04d}" for i in range(4000)]
    centre = min(nodes, key=keeper_priority)
    edges = [(centre, n) for n in nodes if n != centre]
    edges += [(b, a) for a, b in rng.sample(edges, 400)] + rng.sample(edges, 400)
    edges += [tuple(rng.sample(nodes, 2)) for _ in range(300)] + [(centre, centre)]
    decisions, _, keepers = assert_finish_equals_many_rounds(tmp_path, edges)
    assert len(dict(decisions)) == len(decisions) > 3000  # one decision per removed document


def test_finish_equals_many_rounds_on_a_chain_in_key_order_whose_middle_goes_first(tmp_path):
    # a chain of revisions rev-0000 ~ rev-0001 ~ ... and one in keeper order from its middle
    # outwards, which settles one pair of documents per round
    revisions = [f"rev-{i:04d}" for i in range(3000)]
    ranked = sorted((f"k{i}" for i in range(40)), key=keeper_priority)
    outwards = ranked[1::2][::-1] + ranked[::2]
    edges = list(zip(revisions, revisions[1:])) + list(zip(outwards, outwards[1:]))
    _, counts, _ = assert_finish_equals_many_rounds(tmp_path, edges)
    assert counts[ROUNDS_USED] > 3  # the finish ran rounds of its own


def test_a_remainder_above_the_limit_is_kept_and_counted_as_unsettled(tmp_path):
    # One pair, no Beam round: its 4 messages (each document undecided, each the other's
    # neighbour) are finished at a limit of 4 and left unsettled at 3.
    a, b = sorted(["a", "b"], key=keeper_priority)
    assert select_keepers(tmp_path, [(b, a)], 0, 4, "fits") == ([(b, a)], {ROUNDS_USED: 1}, 1)
    assert select_keepers(tmp_path, [(b, a)], 0, 3, "over") == ([], {UNSETTLED: 2}, 0)
    edges = random_graph(5, 300, 600)
    once = select_keepers(tmp_path, edges, 1, 0, "once")
    assert once[1][UNSETTLED] > 0 and once[1][ROUNDS_USED] == 1
    assert select_keepers(tmp_path, edges, 1, 10, "small-limit") == once


def test_finish_rounds_is_the_round_it_starts_at_plus_what_it_needs():
    for test in doctest.DocTestFinder().find(finish_rounds, globs={"finish_rounds": finish_rounds}):
        assert doctest.DocTestRunner().run(test) == (0, 1)
    assert finish_rounds([], 4) == ([], 0, 0)
    # a decided document's messages are dropped, as a Beam round drops them
    a, b = sorted(["a", "b"], key=keeper_priority)
    assert finish_rounds([(a, (graph._NEIGHBOUR, b)), (b, (graph._UNDECIDED, None)),
                          (b, (graph._NEIGHBOUR, a))], 2) == ([], 0, 0)
