"""Small NumPy helpers for ragged data stored as flat arrays plus lengths."""
from __future__ import annotations

import numpy as np


def exclusive_cumsum(a: np.ndarray) -> np.ndarray:
    """[3, 1, 2] -> [0, 3, 4]."""
    out = np.zeros(len(a), dtype=np.int64)
    np.cumsum(a[:-1], out=out[1:])
    return out


def segment_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated aranges: starts [5, 10], lengths [2, 3] -> [5, 6, 10, 11, 12]."""
    total = int(lengths.sum())
    return np.repeat(starts - exclusive_cumsum(lengths), lengths) + np.arange(total)


def within(counts: np.ndarray) -> np.ndarray:
    """Index of each element within its group: counts [2, 3] -> [0, 1, 0, 1, 2]."""
    return np.arange(int(counts.sum())) - np.repeat(exclusive_cumsum(counts), counts)
