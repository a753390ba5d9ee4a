"""Where a long text is cut into pieces that are processed one at a time.

Stages that would otherwise hold per-character or per-word arrays of a whole text (word
spans, shingle hashes) work on pieces of a bounded number of characters instead. A piece
ends just after a boundary (a character no word continues past), so each piece gives the
same words as the whole text; which characters are boundaries is the caller's. A word
longer than a piece either makes a longer piece (``piece_end``) or is cut inside, the
caller carrying it on into the next piece (``cut_piece_end``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

Boundaries = Callable[[int, int], np.ndarray]  # (a, b) -> sorted offsets in [a, b), absolute


def piece_end(length: int, lo: int, size: int, boundaries: Boundaries) -> int:
    """End (exclusive) of the piece of a ``length``-character text that starts at ``lo``:
    just after the last boundary within ``size`` characters; if there is none there (one
    word longer than a piece), just after the first boundary beyond; the text's end if no
    boundary follows.

    >>> text = "ab cd efgh ij"
    >>> spaces = lambda a, b: np.array([i for i in range(a, min(b, len(text))) if text[i] == " "])
    >>> piece_end(len(text), 0, 7, spaces), piece_end(len(text), 0, 2, spaces), piece_end(len(text), 11, 7, spaces)
    (6, 3, 13)
    """
    hi = lo + size
    if hi >= length:
        return length
    ends = boundaries(lo, hi)
    if len(ends):
        return int(ends[-1]) + 1
    while hi < length:
        ends = boundaries(hi, hi + size)
        if len(ends):
            return int(ends[0]) + 1
        hi += size
    return length


def cut_piece_end(length: int, lo: int, size: int, boundaries: Boundaries) -> int:
    """End (exclusive) of the piece of a ``length``-character text that starts at ``lo``,
    at most ``size`` characters: just after the last boundary within ``size`` characters;
    if there is none there, ``lo + size``, inside a word; the text's end if within ``size``.

    >>> text = "ab cd efgh ij"
    >>> spaces = lambda a, b: np.array([i for i in range(a, min(b, len(text))) if text[i] == " "])
    >>> cut_piece_end(len(text), 0, 7, spaces), cut_piece_end(len(text), 0, 2, spaces)
    (6, 2)
    """
    hi = lo + size
    if hi >= length:
        return length
    ends = boundaries(lo, hi)
    return int(ends[-1]) + 1 if len(ends) else hi
