"""LSH banding of MinHash signatures: the (bands, rows) choice and each band's bucket key.

Two documents become a candidate pair when they agree on every row of at least one band;
``optimal_bands`` picks the split of ``num_perm`` that ``datasketch.MinHashLSH`` would.
"""
from __future__ import annotations

import functools
from typing import Tuple

import numpy as np

from glmprep.core.shingles import _fmix64  # the MurmurHash3 64-bit finaliser


def _false_positive_area(threshold: float, bands: int, rows: int) -> float:
    """Integral over s in [0, threshold] of P(candidate | Jaccard s)."""
    from scipy.integrate import quad
    return quad(lambda s: 1 - (1 - s ** float(rows)) ** float(bands), 0.0, threshold)[0]


def _false_negative_area(threshold: float, bands: int, rows: int) -> float:
    """Integral over s in [threshold, 1] of P(not candidate | Jaccard s)."""
    from scipy.integrate import quad
    return quad(lambda s: 1 - (1 - (1 - s ** float(rows)) ** float(bands)), threshold, 1.0)[0]


# optimal_bands of the default options, computed once (tests/test_lsh_bands.py checks it
# against the search): the search itself takes milliseconds, but importing scipy's
# integrate for it took 0.4 s of CPU at the start of every run.
PRECOMPUTED_BANDS = {(0.8, 128, 0.1, 0.9): (14, 9)}


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
    known = PRECOMPUTED_BANDS.get((threshold, num_perm, false_positive_weight, false_negative_weight))
    if known is not None:
        return known
    return search_bands(threshold, num_perm, false_positive_weight, false_negative_weight)


def search_bands(threshold: float, num_perm: int, false_positive_weight: float,
                 false_negative_weight: float) -> Tuple[int, int]:
    """:func:`optimal_bands` by search, never from ``PRECOMPUTED_BANDS``."""
    # The missed-pairs term first: when it alone reaches the best error so far the sum cannot
    # be smaller (adding a non-negative float never lowers it), and since more rows only
    # make a pair less likely to become a candidate, neither can any larger rows for these
    # bands. Same choice as computing every pair of integrals, in a fraction of the time.
    best_error, best = float("inf"), (0, 0)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            missed = false_negative_weight * _false_negative_area(threshold, bands, rows)
            if missed >= best_error:
                break
            error = missed + false_positive_weight * _false_positive_area(threshold, bands, rows)
            if error < best_error:
                best_error, best = error, (bands, rows)
    return best


_ROW_BASE = np.uint64(0x9E3779B97F4A7C15)
_BAND_SALT = np.uint64(0xD6E8FEB86659FD93)


def band_hashes(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint32 [n, num_perm] signatures -> uint64 [n, bands]: a 64-bit hash of each band's
    index and ``rows`` values, for a whole batch in ``rows`` NumPy steps (a C-level hash
    call per band and document cost ~3 µs each, most of near dedup on short documents).
    Two documents' values are equal iff (up to a 2**-64 collision) they agree on every
    row of that band."""
    banded = sigs[:, :bands * rows].reshape(len(sigs), bands, rows).astype(np.uint64)   # [n, bands, rows]
    h = np.broadcast_to((np.arange(bands, dtype=np.uint64) + np.uint64(1)) * _BAND_SALT,
                        banded.shape[:2]).copy()                                      # [n, bands]
    for row in range(rows):
        h = _fmix64((h ^ banded[:, :, row]) * _ROW_BASE)
    return h


def band_key(band: int, band_hash: int) -> bytes:
    """The bucket key of one band of a document: band index (2 bytes, big-endian) then its
    :func:`band_hashes` value (8).

    >>> band_key(3, 255).hex()
    '000300000000000000ff'
    """
    return band.to_bytes(2, "big") + band_hash.to_bytes(8, "big")
