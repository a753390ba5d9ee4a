"""Every member of a group learns the group's smallest member, with no hot key.

``NotSmallest(max_group)``: ``(group, member)`` records -> ``((group, member), smallest)``
for every record whose member is not the smallest of its group. Exact dedup asks it which
documents (members) do not keep their digest (group); ``UniqueKeys`` which texts
(digests) are not the first of their key.

No step holds a group's members, however many there are (a licence header copied a
million times), and nothing rides along with them but the two small values:

1. ``SmallestMember``: a lifted combiner reduces each group to ``(smallest member,
   count)``. Beam's pre-combine table keeps up to 100,000 accumulators per bundle (a
   number of keys, not bytes), so an accumulator must stay small: a payload in it (a
   document's text) would make a worker hold up to 100,000 of them.
2. Groups of more than ``max_group`` records ("hot") are looked up in a side input
   holding only hot groups (at most records / ``max_group`` entries); every other group
   is grouped with its smallest member, at most ``max_group`` + 1 small records per
   group.
"""
from __future__ import annotations

from typing import Any, Tuple

import apache_beam as beam

MAX_GROUP = 1000  # records of a group grouped with its smallest member; more go through the side input


class SmallestFn(beam.CombineFn):
    """Values of one group -> ``(smallest value, count)``. O(1) state of two small values
    whatever the group's size; lifted by Beam before the shuffle.

    >>> fn = SmallestFn()
    >>> fn.extract_output(fn.merge_accumulators([fn.add_input(fn.create_accumulator(), "b"),
    ...                                          fn.add_input(fn.add_input(None, "c"), "a")]))
    ('a', 3)
    """

    def create_accumulator(self):
        return None

    def add_input(self, accumulator, value):
        if accumulator is None:
            return value, 1
        smallest, count = accumulator
        return min(value, smallest), count + 1

    def merge_accumulators(self, accumulators):
        merged = None
        for accumulator in accumulators:
            if accumulator is None:
                continue
            if merged is None:
                merged = accumulator
            else:
                merged = min(merged[0], accumulator[0]), merged[1] + accumulator[1]
        return merged

    def extract_output(self, accumulator):
        return accumulator


class PairHotMembersDoFn(beam.DoFn):
    """(group, member) -> ((group, member), smallest) if the group is hot (in ``hot``: group
    -> smallest member) and member is not its smallest; else (group, (member, False)) on
    the ``grouped`` output."""

    def process(self, record, hot):
        group, member = record
        smallest = hot.get(group)
        if smallest is None:
            yield beam.pvalue.TaggedOutput("grouped", (group, (member, False)))
        elif member != smallest:
            yield (group, member), smallest


def pair_grouped_members(element):
    """(group, [(member, False) | (smallest, True), ...]) -> ((group, member), smallest) for
    every member but the smallest. The values are read twice (Beam allows it), never held."""
    group, members = element
    smallest = next((member for member, is_smallest in members if is_smallest), None)
    if smallest is None:  # a group of one record
        return
    for member, is_smallest in members:
        if not is_smallest and member != smallest:
            yield (group, member), smallest


class NotSmallest(beam.PTransform):
    """PCollection[(group, member)] -> PCollection[((group, member), smallest member)], one
    for every record whose member is not its group's smallest."""

    def __init__(self, max_group: int = MAX_GROUP):
        super().__init__()
        self._max_group = max_group

    def expand(self, records):
        max_group = self._max_group
        # group -> (smallest member, records), only groups of several records
        repeated = (records
                    | "SmallestMember" >> beam.CombinePerKey(SmallestFn())
                    | "Repeated" >> beam.Filter(lambda e: e[1][1] > 1))
        hot = (repeated | "Hot" >> beam.Filter(lambda e: e[1][1] > max_group)
               | "HotSmallest" >> beam.Map(lambda e: (e[0], e[1][0])))
        routed = records | "PairHotMembers" >> beam.ParDo(
            PairHotMembersDoFn(), hot=beam.pvalue.AsDict(hot)).with_output_types(
            Tuple[Any, Any]).with_outputs("grouped", main="paired")
        smallest = (repeated | "NotHot" >> beam.Filter(lambda e: e[1][1] <= max_group)
                    | "SmallestMessage" >> beam.Map(lambda e: (e[0], (e[1][0], True))))
        grouped = (
            (smallest, routed.grouped)
            | "FlattenMembers" >> beam.Flatten()
            # group -> [(member, False) | (smallest, True), ...]: at most max_group + 1
            | "GroupWithSmallest" >> beam.GroupByKey()
            | "PairGroupedMembers" >> beam.FlatMap(pair_grouped_members).with_output_types(Tuple[Any, Any]))
        return (routed.paired, grouped) | "FlattenPairs" >> beam.Flatten()
