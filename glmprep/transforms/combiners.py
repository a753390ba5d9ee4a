"""Combiners shared by the stages' counts for the manifest."""
from __future__ import annotations

from typing import Iterable, Tuple


def sum_pairs(pairs: Iterable[Tuple[int, int]]) -> Tuple[int, int]:
    """Element-wise sum of ``(a, b)`` pairs: ``beam.CombinePerKey(sum_pairs)`` sums two
    counts per key at once (e.g. documents and tokens per source).

    >>> sum_pairs([(1, 10), (1, 5)])
    (2, 15)
    """
    first = second = 0
    for a, b in pairs:
        first += a
        second += b
    return first, second
