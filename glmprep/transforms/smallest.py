"""Each group's smallest member, found with no hot key, for decisions made where the
records are.

``GroupSmallest(max_group)``: ``(group, member)`` records -> the smallest member of each
group of several records, split in two by the group's size. Exact dedup asks it which
document (member) keeps each digest (group); ``UniqueKeys`` which text (digest) is the
first of each key. The caller then decides each record with its payload (a document's
text handle) where it stands:

- a record of a hot group (more than ``max_group`` records: a licence header copied a
  million times) looks its group's smallest member up in the side input ``hot``, which
  holds only hot groups (at most records / ``max_group`` entries), and is decided on the
  spot: no hot group is ever gathered;
- the records of every other group are grouped with their group's mark (its smallest
  member), at most ``max_group`` + 1 values per group, and decided there.

No step holds a group's members, and nothing rides along in the counting but two small
values: ``SmallestMember`` is a lifted combiner reducing each group to ``(smallest
member, count)``. Beam's pre-combine table keeps up to 100,000 accumulators per bundle (a
number of keys, not bytes), so an accumulator must stay small: a payload in it (a
document's text) would make a worker hold up to 100,000 of them.
"""
from __future__ import annotations

import apache_beam as beam

MAX_GROUP = 1000  # records of a group grouped with its mark; a group of more is decided through the side input


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


class GroupSmallest(beam.PTransform):
    """PCollection[(group, member)] -> ``(hot, marks)``, both ``(group, smallest member)``
    for groups of several records: ``hot`` those of more than ``max_group`` records (a
    side input: at most records / ``max_group`` entries), ``marks`` the others (one
    message per group, to meet the group's records in a grouping of at most ``max_group``
    + 1 values). A group of one record is in neither: its member is the smallest."""

    def __init__(self, max_group: int = MAX_GROUP):
        super().__init__()
        self._max_group = max_group

    def expand(self, records):
        max_group = self._max_group
        # group -> (smallest member, records), only groups of several records
        repeated = (records
                    | "SmallestMember" >> beam.CombinePerKey(SmallestFn())
                    | "Repeated" >> beam.Filter(lambda e: e[1][1] > 1))
        hot = (repeated
               | "Hot" >> beam.Filter(lambda e: e[1][1] > max_group)
               | "HotSmallest" >> beam.Map(lambda e: (e[0], e[1][0])))
        marks = (repeated
                 | "NotHot" >> beam.Filter(lambda e: e[1][1] <= max_group)
                 | "Mark" >> beam.Map(lambda e: (e[0], e[1][0])))
        return hot, marks
