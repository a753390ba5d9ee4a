"""Which LSH band keys may be shared: a fixed-size sketch that never misses a shared key.

Near dedup groups documents by band key, but nearly every band key belongs to one
document only: on the shared corpora 99 % of them. Grouping those costs the shuffle a
record each (14 per document with the default bands) and finds nothing. The sketch
answers, for every band key, "seen at most once" (certain) or "maybe seen twice or
more", so a document whose band keys are all seen once is no candidate and skips the
band grouping and the candidates' text join altogether.

The sketch is a pair of bit arrays of ``SKETCH_CELLS`` cells, ``once`` and ``twice``: a
saturating count 0, 1 or 2+ per cell. Each band key sets ``CELLS_PER_KEY`` cells, picked
by its 64-bit hash (:func:`glmprep.core.lsh_bands.band_hashes`). A key inserted twice
(by two documents) counts 2+ in each of its cells, so :func:`maybe_shared` is true for
every shared key; a key seen once is reported as maybe shared only when other keys fill
all its cells (with 300,000 keys about 1 in 1,000). Adding counts is associative and
commutative (:func:`merge`), so per-bundle sketches combine in any order and the answer
does not depend on the runner or the number of workers. Memory: two arrays of
``SKETCH_CELLS / 8`` bytes (4 MiB together), whatever the corpus; past a few million
band keys more single keys pass as "maybe", which costs time, never a result.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

SKETCH_CELLS = 1 << 24     # cells per bit array: 2 MiB each
CELLS_PER_KEY = 2          # cells set by one band key
_CELL_BITS = 24
Sketch = Tuple[np.ndarray, np.ndarray]  # (once, twice): packed bits, uint8 [SKETCH_CELLS // 8] each


def _cells(hashes: np.ndarray) -> np.ndarray:
    """uint64 [...] key hashes -> int64 [CELLS_PER_KEY, ...]: the cells each key sets."""
    mask = np.uint64(SKETCH_CELLS - 1)
    return np.stack([((hashes >> np.uint64(_CELL_BITS * i)) & mask).astype(np.int64)
                     for i in range(CELLS_PER_KEY)])


def _get(bits: np.ndarray, cells: np.ndarray) -> np.ndarray:
    return ((bits[cells >> 3] >> (cells & 7).astype(np.uint8)) & 1).astype(bool)


def _set(bits: np.ndarray, cells: np.ndarray) -> None:
    np.bitwise_or.at(bits, cells >> 3, (np.uint8(1) << (cells & 7).astype(np.uint8)))


def empty() -> Sketch:
    """A sketch of no keys."""
    return np.zeros(SKETCH_CELLS // 8, dtype=np.uint8), np.zeros(SKETCH_CELLS // 8, dtype=np.uint8)


def add(sketch: Sketch, hashes: np.ndarray) -> Sketch:
    """The sketch with every key of ``hashes`` (uint64 [...], from :func:`~glmprep.core.lsh_bands.band_hashes`)
    counted once more; updates ``sketch`` in place and returns it."""
    once, twice = sketch
    cells, counts = np.unique(_cells(hashes.ravel()), return_counts=True)
    _set(twice, cells[(counts >= 2) | _get(once, cells)])
    _set(once, cells)
    return sketch


def merge(a: Sketch, b: Sketch) -> Sketch:
    """The counts of ``a`` and ``b`` added (saturating at 2)."""
    return a[0] | b[0], a[1] | b[1] | (a[0] & b[0])


def maybe_shared(sketch: Sketch, hashes: np.ndarray) -> np.ndarray:
    """bool [...] for uint64 [...] key hashes: False only for a key counted at most once."""
    twice = sketch[1]
    return np.logical_and.reduce([_get(twice, cells) for cells in _cells(hashes)])

