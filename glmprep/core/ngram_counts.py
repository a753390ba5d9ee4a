"""Counting n-grams with NumPy: integer keys per n-gram, sorted counts and bucket bounds.

The quality rules' top n-gram repetition (``glmprep.core.filters``) needs the most frequent
2/3/4-gram of a document's ngram words. Words become int64 ids, an n-gram a key built from
two ids (``pair_keys``), and keys are counted by sorting (``count_ngrams``); cheap upper
bounds (``ngram_chars_bound``, ``top_chars_bound``) let most documents skip counting.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np


def pair_keys(left: np.ndarray, right: np.ndarray, right_size: int) -> np.ndarray:
    """One int64 key per pair ``(left[i], right[i])``, equal exactly when the pairs are,
    for ``right`` ids in ``[0, right_size)``: ``left * right_size + right``. All ids here
    are below the number of words, so keys stay below 2**63 for any text that fits in
    memory.

    >>> pair_keys(np.array([0, 1, 1]), np.array([2, 0, 2]), 3).tolist()
    [2, 3, 5]
    """
    return left * right_size + right  # [n_pairs] int64


@dataclass(frozen=True)
class NgramCounts:
    """The distinct values of a sequence of n-gram keys, with their counts."""

    first_position: np.ndarray  # [n_distinct] int64: where each distinct n-gram first occurs
    counts: np.ndarray  # [n_distinct] int64: how often it occurs
    ids: np.ndarray  # [n_positions] int64: which distinct n-gram (0..n_distinct-1) is at each position

    def top(self) -> Tuple[int, int]:
        """``(first position, count)`` of the most frequent n-gram; among equally frequent
        ones, the one that occurs first (the one ``Counter.most_common(1)`` picks)."""
        top_count = self.counts.max()
        return int(self.first_position[self.counts == top_count].min()), int(top_count)


def count_ngrams(keys: np.ndarray) -> NgramCounts:
    """Count int64 ``keys`` (shape [n_positions], at least one) by sorting them.

    >>> counted = count_ngrams(np.array([7, 5, 5, 7, 9]))
    >>> counted.first_position.tolist(), counted.counts.tolist(), counted.ids.tolist()
    ([1, 0, 4], [2, 2, 1], [1, 0, 0, 1, 2])
    >>> counted.top()
    (0, 2)
    """
    order = np.argsort(keys, kind="stable")  # [n_positions]; equal keys stay in text order
    sorted_keys = keys[order]  # [n_positions]
    is_first = np.empty(len(keys), dtype=bool)  # [n_positions]: starts a run of equal keys
    is_first[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=is_first[1:])
    run_starts = np.flatnonzero(is_first)  # [n_distinct]
    ids = np.empty(len(keys), dtype=np.int64)  # [n_positions]
    ids[order] = np.cumsum(is_first) - 1
    return NgramCounts(first_position=order[run_starts],
                       counts=np.diff(run_starts, append=len(keys)), ids=ids)


def ngram_chars_bound(n: int, word_chars: int, bigram_chars: int) -> int:
    """An upper bound on count x characters of any n-gram (n = 2, 3, 4), given upper
    bounds on what one distinct word and one distinct bigram cover: an n-gram occurs at
    most as often as each word and each bigram in it, so it covers at most n times what
    the top word covers, and at most what its halves cover (a 4-gram: two bigrams; a
    3-gram: a bigram and a word).

    >>> [ngram_chars_bound(n, 100, 150) for n in (2, 3, 4)]
    [150, 250, 300]
    """
    halves = {2: bigram_chars, 3: bigram_chars + word_chars, 4: 2 * bigram_chars}
    return min(n * word_chars, halves[n])


def top_chars_bound(keys: np.ndarray, chars: np.ndarray) -> int:
    """An upper bound on count x characters of the most covering distinct item, from a
    uint32 key per occurrence that equal items share (distinct ones may too) and its
    characters (int64; the same for all occurrences of an item): items are summed by
    bucket (the top bits of the key), and a bucket holds every occurrence of its items.

    >>> top_chars_bound(np.array([7, 7, 2**31], dtype=np.uint32), np.array([3, 3, 5]))
    6
    """
    bits = int(np.clip(2 + len(keys).bit_length(), 10, 22))  # about 4 buckets per occurrence
    buckets = keys >> np.uint32(32 - bits)  # [n_occurrences]
    return int(np.bincount(buckets, weights=chars).max())  # sums of small ints: exact in float64
