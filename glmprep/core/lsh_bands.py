"""LSH banding of MinHash signatures: the (bands, rows) choice and each band's bucket key.

Two documents become a candidate pair when they agree on every row of at least one band;
``optimal_bands`` picks the split of ``num_perm`` that ``datasketch.MinHashLSH`` would.
"""
from __future__ import annotations

import functools
import hashlib
from typing import List, Tuple

import numpy as np


def _false_positive_area(threshold: float, bands: int, rows: int) -> float:
    """Integral over s in [0, threshold] of P(candidate | Jaccard s)."""
    from scipy.integrate import quad
    return quad(lambda s: 1 - (1 - s ** float(rows)) ** float(bands), 0.0, threshold)[0]


def _false_negative_area(threshold: float, bands: int, rows: int) -> float:
    """Integral over s in [threshold, 1] of P(not candidate | Jaccard s)."""
    from scipy.integrate import quad
    return quad(lambda s: 1 - (1 - (1 - s ** float(rows)) ** float(bands)), threshold, 1.0)[0]


@functools.lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, false_positive_weight: float = 0.5,
                  false_negative_weight: float = 0.5) -> Tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm minimising the weighted false
    positive + false negative areas under the LSH S-curve, as ``datasketch.MinHashLSH``.

    Same search order and the same integrals (scipy's ``quad``), so ties resolve the
    same way: the first (bands, rows) in (bands, rows) order with the smallest error.

    >>> optimal_bands(0.8, 128)
    (9, 13)
    """
    best_error, best = float("inf"), (0, 0)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            error = (false_positive_weight * _false_positive_area(threshold, bands, rows)
                     + false_negative_weight * _false_negative_area(threshold, bands, rows))
            if error < best_error:
                best_error, best = error, (bands, rows)
    return best


def band_keys(sig: np.ndarray, bands: int, rows: int) -> List[bytes]:
    """uint32 [num_perm] signature -> ``bands`` keys of 10 bytes: band index (2, big-endian)
    then a 64-bit hash of the band's ``rows`` values. Two documents share a key iff (up to
    a 2**-64 collision) they agree on every row of that band.
    """
    # One C-level hash per band: a per-row NumPy loop costs ~50 µs a document, which
    # dominates near dedup on corpora of short documents.
    raw = np.ascontiguousarray(sig[:bands * rows], dtype="<u4").tobytes()       # [bands * rows * 4]
    width = 4 * rows
    return [band.to_bytes(2, "big") + hashlib.blake2b(raw[width * band:width * (band + 1)],
                                                      digest_size=8).digest()
            for band in range(bands)]
