"""What the line and paragraph rules need of a text's lines (or paragraphs): how many,
how many start or end with given marks, and the characters in all of them and in the
distinct ones.

``count_items`` reads a list of the items (a short text's, held by ``TextView``);
``count_items_in_pieces`` reads a long text a piece at a time, holding one piece's item
strings and a 64-bit hash per item instead of a string and a set of them: about 9 bytes
an item at peak, where the strings took some 60. Items that share a hash are checked in a
second pass (length and a second, independent hash); if distinct items share one, the
distinct characters are counted from the strings after all. Both give the same counts
(the tests compare them with tiny pieces and with colliding hashes).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from operator import itemgetter
from typing import Iterable, Iterator, List, Optional, Pattern, Tuple

import numpy as np

_item_hash = hash  # the hash items are sorted by (the tests make it collide)


@dataclass(frozen=True)
class ItemCounts:
    """Counts over a text's non-blank, stripped lines (or paragraphs)."""

    n_items: int
    chars: int  # characters in all items
    distinct_chars: int  # characters in the first occurrence of each distinct item
    n_starting: int  # items that start with one of the prefixes asked for
    n_ending: int  # items that end with one of the suffixes asked for


def count_starting(items: List[str], prefixes: Tuple[str, ...]) -> int:
    r"""How many ``items`` start with one of ``prefixes`` (none a prefix of another),
    counted in one string of every item's start instead of item by item. When every
    prefix is one character (the bullets), that string is the items' first characters,
    each prefix counted in it with no separator.

    >>> count_starting(["• one", "• two", "three -"], ("•", "-"))
    2
    """
    if not prefixes:
        return 0
    width = max(map(len, prefixes))
    if width == 1:
        return sum(map("".join(map(itemgetter(slice(1)), items)).count, prefixes))
    starts = "\n" + "\n".join(map(itemgetter(slice(width)), items))
    return sum(starts.count("\n" + prefix) for prefix in prefixes)


def count_ending(items: List[str], suffixes: Tuple[str, ...]) -> int:
    r"""How many ``items`` end with one of ``suffixes`` (none a suffix of another).

    >>> count_ending(["wait...", "more…", ". .."], ("...", "…"))
    2
    """
    if not suffixes:
        return 0
    width = max(map(len, suffixes))
    ends = "\n".join(map(itemgetter(slice(-width, None)), items)) + "\n"
    return sum(ends.count(suffix + "\n") for suffix in suffixes)


def count_items(items: List[str], prefixes: Tuple[str, ...] = (),
                suffixes: Tuple[str, ...] = ()) -> ItemCounts:
    """``ItemCounts`` of a list of items."""
    return ItemCounts(len(items), sum(map(len, items)), sum(map(len, set(items))),
                      count_starting(items, prefixes), count_ending(items, suffixes))


def item_pieces(text: str, separator: Optional[Pattern[str]], size: int) -> Iterator[List[str]]:
    r"""The non-blank, stripped items of ``text`` split at ``separator`` (None: at
    ``"\n"``), those of about ``size`` characters at a time: each piece ends just after a
    separator (or further on, when one item is longer). The same items as splitting the
    whole text: a match of a separator without look-around found in a window starting
    after the previous one is the match the whole text's scan finds.

    >>> list(item_pieces("a\n b\n\nc d\n", None, 3))
    [['a'], ['b'], [], ['c d']]
    >>> list(item_pieces("p1\n\np2\n \np3", re.compile(r"\n[ \t]*\n"), 4))
    [['p1'], ['p2'], ['p3']]
    """
    lo = 0
    while lo < len(text):
        cut = _piece_end(text, lo, size, separator)
        piece = text[lo:cut]
        yield list(filter(None, map(str.strip, piece.split("\n") if separator is None else separator.split(piece))))
        lo = cut


class ItemPieces:
    """``item_pieces`` of a text, as an iterable that can be read more than once."""

    def __init__(self, text: str, separator: Optional[Pattern[str]], size: int):
        self.text, self.separator, self.size = text, separator, size

    def __iter__(self) -> Iterator[List[str]]:
        return item_pieces(self.text, self.separator, self.size)

    @property
    def max_items(self) -> int:
        """At most this many items: one more than the line breaks."""
        return self.text.count("\n") + 1


def _piece_end(text: str, lo: int, size: int, separator: Optional[Pattern[str]]) -> int:
    hi = lo + size
    if hi >= len(text):
        return len(text)
    if separator is None:
        at = text.rfind("\n", lo, hi)
        if at < 0:
            at = text.find("\n", hi)
        return at + 1 if at >= 0 else len(text)
    last = None
    for last in separator.finditer(text, lo, hi):
        pass
    if last is None:  # no separator ends within the window: the first one after lo
        last = separator.search(text, lo)
    return last.end() if last is not None else len(text)


def count_items_in_pieces(pieces: Iterable[List[str]], max_items: int, prefixes: Tuple[str, ...] = (),
                          suffixes: Tuple[str, ...] = ()) -> ItemCounts:
    """``ItemCounts`` of the items of ``pieces`` (an iterable that can be read more than
    once, of at most ``max_items`` items), holding a hash per item; when distinct items
    share a hash, the distinct characters are counted from the strings."""
    keys = np.empty(max_items, dtype=np.int64)  # [n_items] the item hashes, sorted below
    n_items = chars = n_starting = n_ending = 0
    for items in pieces:
        keys[n_items:n_items + len(items)] = np.fromiter(map(_item_hash, items), dtype=np.int64, count=len(items))
        n_items += len(items)
        chars += sum(map(len, items))
        n_starting += count_starting(items, prefixes)
        n_ending += count_ending(items, suffixes)
    keys = keys[:n_items]
    keys.sort()
    repeated = _repeated_keys(keys)  # [n_repeated] sorted
    if not len(repeated):
        return ItemCounts(n_items, chars, chars, n_starting, n_ending)
    occurrences = np.searchsorted(keys, repeated, "right") - np.searchsorted(keys, repeated, "left")
    del keys
    duplicate_chars = _duplicate_chars(pieces, repeated, occurrences)
    distinct_chars = _distinct_chars(pieces) if duplicate_chars is None else chars - duplicate_chars
    return ItemCounts(n_items, chars, distinct_chars, n_starting, n_ending)


def _repeated_keys(sorted_keys: np.ndarray) -> np.ndarray:
    """The distinct values that occur more than once in ``sorted_keys``."""
    again = sorted_keys[1:][sorted_keys[1:] == sorted_keys[:-1]]  # [n_repeats] sorted, with repeats
    if not len(again):
        return again
    return again[np.concatenate(([True], again[1:] != again[:-1]))]


def _duplicate_chars(pieces: Iterable[List[str]], repeated: np.ndarray, occurrences: np.ndarray) -> Optional[int]:
    """Characters in the second and later occurrences of the items whose hash is in
    ``repeated`` (it occurs ``occurrences`` times); None when two distinct items share a
    hash: their lengths or second hashes differ."""
    lowest = np.full((2, len(repeated)), np.iinfo(np.int64).max, dtype=np.int64)  # [2: length, check; n_repeated]
    highest = np.full((2, len(repeated)), np.iinfo(np.int64).min, dtype=np.int64)
    for items in pieces:
        hashes = np.fromiter(map(_item_hash, items), dtype=np.int64, count=len(items))  # [n_piece_items]
        at = np.minimum(np.searchsorted(repeated, hashes), len(repeated) - 1)  # [n_piece_items]
        hit = np.flatnonzero(repeated[at] == hashes)  # [n_hits]
        if not len(hit):
            continue
        found = items if len(hit) == len(items) else list(map(items.__getitem__, hit.tolist()))
        values = np.stack((np.fromiter(map(len, found), dtype=np.int64, count=len(found)),
                           np.fromiter(map(hash, map("\0".__add__, found)), dtype=np.int64, count=len(found))))
        for row in range(2):
            np.minimum.at(lowest[row], at[hit], values[row])
            np.maximum.at(highest[row], at[hit], values[row])
    if not np.array_equal(lowest, highest):
        return None
    return int(((occurrences - 1) * lowest[0]).sum())


def _distinct_chars(pieces: Iterable[List[str]]) -> int:
    """Characters in the distinct items of ``pieces``, from the strings (holding every
    distinct one): only when distinct items share a hash."""
    distinct = set()
    for items in pieces:
        distinct.update(items)
    return sum(map(len, distinct))
