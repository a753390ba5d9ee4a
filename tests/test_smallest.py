"""GroupSmallest: each group of several records gets its smallest member, hot groups
apart; the lifted combiner's state is two small values, never a payload."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from glmprep.transforms.smallest import GroupSmallest, SmallestFn


def test_smallest_fn_is_order_free():
    fn = SmallestFn()
    members = ["k3", "k1", "k2", "k0", "k9"]
    for split in range(len(members) + 1):
        left, right = fn.create_accumulator(), fn.create_accumulator()
        for m in members[:split]:
            left = fn.add_input(left, m)
        for m in members[split:]:
            right = fn.add_input(right, m)
        assert fn.extract_output(fn.merge_accumulators([right, left])) == ("k0", 5)


def test_smallest_fn_holds_no_payload():
    """The accumulator is (smallest member, count) after any number of members: Beam's
    pre-combine table holds up to 100,000 of them per bundle, so a document's text in it
    would cost up to 100,000 documents of memory."""
    fn = SmallestFn()
    accumulator = fn.create_accumulator()
    for i in range(10_000):
        accumulator = fn.add_input(accumulator, f"copy-{9_999 - i:05d}")
    accumulator = fn.merge_accumulators([accumulator, fn.add_input(fn.create_accumulator(), "copy-x")])
    assert accumulator == ("copy-00000", 10_001)
    assert [type(v) for v in accumulator] == [str, int]


@pytest.mark.parametrize("max_group", [1000, 2])  # 2: the groups of 3+ records are hot
def test_groups_of_several_records_get_their_smallest_member_hot_or_as_a_mark(max_group):
    records = ([("a", f"m{i}") for i in (5, 3, 9, 3)]  # a member repeated: counted each time
               + [("b", "only")] + [("c", "x"), ("c", "x")] + [("d", "z"), ("d", "y")])
    with TestPipeline() as p:
        hot, marks = p | beam.Create(records) | GroupSmallest(max_group)
        smallest = [("a", "m3"), ("c", "x"), ("d", "y")]  # "b" has one record: in neither
        assert_that(hot, equal_to([e for e in smallest if max_group == 2 and e[0] == "a"]), label="Hot")
        assert_that(marks, equal_to([e for e in smallest if max_group == 1000 or e[0] != "a"]), label="Marks")
