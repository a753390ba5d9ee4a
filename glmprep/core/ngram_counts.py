"""Counting n-grams with NumPy: integer keys per n-gram, sorted counts and bucket bounds.

The quality rules' top n-gram repetition (``glmprep.core.filters``) needs the most frequent
2/3/4-gram of a document's ngram words. Words become int64 ids, an n-gram a key built from
two ids (``pair_keys``), and keys are counted by sorting (``count_ngrams``); cheap upper
bounds (``ngram_chars_bound``, ``TopCharsBound``) let most documents skip counting. Long
texts count n-grams of 64-bit word hashes instead (``top_window``), a bounded scan at a time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

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


class TopCharsBound:
    """An upper bound on count x characters of the most covering distinct item, fed
    occurrences a piece at a time (``add``): a uint32 key per occurrence that equal items
    share (distinct ones may too) and its characters (int64; the same for all occurrences
    of an item). Items are summed by bucket (the top bits of the key), and a bucket holds
    every occurrence of its items: about 4 buckets per occurrence, for about
    ``n_occurrences`` of them (any number gives a bound), at most 2**22 buckets (32 MB).

    >>> bound = TopCharsBound(3)
    >>> bound.add(np.array([7, 7, 2**31], dtype=np.uint32), np.array([3, 3, 5]))
    >>> bound.value()
    6
    """

    def __init__(self, n_occurrences: int):
        self._bits = int(np.clip(2 + n_occurrences.bit_length(), 10, 22))
        self._sums: Optional[np.ndarray] = None  # [n_buckets] float64: sums of small ints are exact

    def add(self, keys: np.ndarray, chars: np.ndarray) -> None:
        if not len(keys):
            return
        buckets = keys >> np.uint32(32 - self._bits)  # [n_occurrences]
        sums = np.bincount(buckets, weights=chars, minlength=1 << self._bits)  # [n_buckets]
        if self._sums is None:
            self._sums = sums
        else:
            self._sums += sums

    def value(self) -> int:
        return 0 if self._sums is None else int(self._sums.max())


# --- the top n-gram of a long text, by hashing ---

# Odd multipliers that mix n 64-bit word hashes into one n-gram key (n <= 4).
_WINDOW_MULTIPLIERS = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                                0xD6E8FEB86659FD93], dtype=np.uint64)
# Positions handled at once when the keys are scanned: bounds the scans' temporaries.
SCAN_POSITIONS = 1 << 20


def window_keys(word_hashes: np.ndarray, n: int, lo: int, hi: int) -> np.ndarray:
    """A uint64 key per n-gram starting at positions ``lo..hi-1`` of ``word_hashes``
    (uint64 [n_words]), equal for equal n-grams (distinct ones may share one).

    >>> hashes = np.array([5, 6, 5, 6], dtype=np.uint64)
    >>> keys = window_keys(hashes, 2, 0, 3)
    >>> bool(keys[0] == keys[2]), bool(keys[0] == keys[1])
    (True, False)
    """
    keys = word_hashes[lo:hi] * _WINDOW_MULTIPLIERS[0]  # [hi - lo]
    for j in range(1, n):
        keys += word_hashes[lo + j:hi + j] * _WINDOW_MULTIPLIERS[j]
    return keys


def _longest_runs(sorted_keys: np.ndarray) -> Tuple[int, np.ndarray]:
    """The length of the longest runs of equal values in ``sorted_keys`` (uint64
    [n], n >= 1) and their values (sorted), scanned ``SCAN_POSITIONS`` at a time.

    >>> count, values = _longest_runs(np.array([1, 1, 2, 3, 3, 4], dtype=np.uint64))
    >>> count, values.tolist()
    (2, [1, 3])
    """
    best, tied = 0, []

    def take(lengths: np.ndarray, starts: np.ndarray) -> None:  # runs of these lengths start here
        nonlocal best, tied
        top = int(lengths.max())
        if top >= best:
            values = sorted_keys[starts[lengths == top]]
            tied = tied + [values] if top == best else [values]
            best = top

    n, run_start = len(sorted_keys), 0
    for lo in range(1, n, SCAN_POSITIONS):
        hi = min(lo + SCAN_POSITIONS, n)
        new_starts = np.flatnonzero(sorted_keys[lo:hi] != sorted_keys[lo - 1:hi - 1]) + lo  # [n_new_runs]
        if len(new_starts):
            starts = np.concatenate(([run_start], new_starts))  # [n_ended_runs + 1]
            take(np.diff(starts), starts[:-1])
            run_start = int(starts[-1])
    take(np.array([n - run_start]), np.array([run_start]))
    return best, np.concatenate(tied)


def top_window(word_hashes: np.ndarray, n: int) -> Optional[Tuple[int, int]]:
    """``(first position, count)`` of the most frequent n-gram of a text's words given
    their 64-bit hashes (int64 [n_words], n_words >= n); among equally frequent ones the
    one that occurs first, as ``NgramCounts.top``. Keys (``window_keys``) are counted by
    sorting; the first position whose key is among the most frequent gives the answer,
    provided every occurrence of that key is the same sequence of hashes. None when it is
    not (two distinct n-grams share a key): the caller counts another way. Equal hashes
    of distinct words are the caller's to rule out. About 16 bytes per word at peak.

    >>> top_window(np.array([1, 2, 1, 2, 3, 3, 3], dtype=np.int64), 2)
    (0, 2)
    """
    hashes = word_hashes.view(np.uint64)  # [n_words]
    n_positions = len(hashes) - n + 1
    keys = np.empty(n_positions, dtype=np.uint64)  # [n_positions]
    for lo in range(0, n_positions, SCAN_POSITIONS):  # a scan at a time: its products are temporaries
        hi = min(lo + SCAN_POSITIONS, n_positions)
        keys[lo:hi] = window_keys(hashes, n, lo, hi)
    keys.sort()
    count, top_keys = _longest_runs(keys)
    del keys
    if count == 1:
        return 0, 1  # every key once: no n-gram repeats
    for lo in range(0, n_positions, SCAN_POSITIONS):
        keys = window_keys(hashes, n, lo, min(lo + SCAN_POSITIONS, n_positions))  # [n_scanned]
        at = np.minimum(np.searchsorted(top_keys, keys), len(top_keys) - 1)  # [n_scanned]
        is_top = top_keys[at] == keys  # [n_scanned]
        if is_top.any():
            first = lo + int(np.argmax(is_top))
            break
    first_key = window_keys(hashes, n, first, first + 1)[0]
    for lo in range(first, n_positions, SCAN_POSITIONS):
        hi = min(lo + SCAN_POSITIONS, n_positions)
        same_key = np.flatnonzero(window_keys(hashes, n, lo, hi) == first_key) + lo  # [n_same]
        for j in range(n):
            if (hashes[same_key + j] != hashes[first + j]).any():
                return None
    return first, count
