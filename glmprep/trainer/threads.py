"""The trainer's CPU threads: parts of a batch run at once on a small pool, BLAS on one thread each.

NumPy does its elementwise work (softmax, masks, GeLU, layer norm and their backward) on the
calling thread only, while BLAS may spread a matrix product over several cores; on a few cores
most of a step would stay serial. So the trainer parallelises the step itself: ``model.py``
cuts a batch's rows into parts and runs ``thread_count()`` of them at once here, NumPy releasing
the GIL inside its ufuncs and BLAS calls. BLAS is held at one thread, so ``use_threads(n)``
makes n the total of the process's busy threads (no pool thread waits on BLAS's own).

Until ``use_threads`` is called nothing changes: one thread, BLAS as it was.
"""
from __future__ import annotations

import ctypes
import functools
import glob
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, Optional, TypeVar

import numpy as np

Item = TypeVar("Item")
Result = TypeVar("Result")

# The thread-count functions of OpenBLAS builds NumPy ships with (64-bit-index wheels first).
OPENBLAS_SET = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                "openblas_set_num_threads64_", "openblas_set_num_threads")
OPENBLAS_GET = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                "openblas_get_num_threads64_", "openblas_get_num_threads")

_pool: Optional[ThreadPoolExecutor] = None
_threads = 1


@functools.lru_cache(maxsize=1)
def _numpy_openblas() -> Optional[ctypes.CDLL]:
    """The OpenBLAS library NumPy has loaded (its wheel keeps it in numpy.libs or numpy/.dylibs),
    or None for another BLAS or layout."""
    here = os.path.dirname(np.__file__)
    for pattern in (os.path.join(here + ".libs", "*openblas*"), os.path.join(here, ".dylibs", "*openblas*")):
        for path in sorted(glob.glob(pattern)):
            lib = ctypes.CDLL(path)  # already loaded by NumPy: the same handle, no second copy
            if any(hasattr(lib, name) for name in OPENBLAS_SET):
                return lib
    return None


def _function(lib: ctypes.CDLL, names):
    return next(getattr(lib, name) for name in names if hasattr(lib, name))


def blas_threads() -> Optional[int]:
    """NumPy's OpenBLAS thread count as OpenBLAS reports it; None when it cannot be read."""
    lib = _numpy_openblas()
    return None if lib is None else int(_function(lib, OPENBLAS_GET)())


def set_blas_threads(n: int) -> Optional[int]:
    """Set NumPy's OpenBLAS to ``n`` threads; returns the count read back (None: not OpenBLAS)."""
    lib = _numpy_openblas()
    if lib is None:
        return None
    _function(lib, OPENBLAS_SET)(ctypes.c_int(n))
    return blas_threads()


def use_threads(n: int) -> Optional[int]:
    """Run the trainer's batch parts on ``n`` threads (n >= 1) with single-threaded BLAS.

    Returns BLAS's thread count read back: 1, or None when NumPy's BLAS is not an OpenBLAS
    this can set (then each of the n threads may also start BLAS threads of its own).
    """
    global _pool, _threads
    if n < 1:
        raise ValueError(f"threads must be at least 1, not {n}")
    if _pool is not None:
        _pool.shutdown()
    _pool = ThreadPoolExecutor(n, thread_name_prefix="glmprep-trainer") if n > 1 else None
    _threads = n
    return set_blas_threads(1)


def thread_count() -> int:
    """Threads that ``map_parts`` uses (1 until ``use_threads``)."""
    return _threads


def map_parts(fn: Callable[[Item], Result], items: Iterable[Item]) -> Iterator[Result]:
    """fn(item) for each item, ``thread_count()`` at a time; yields the results in the items' order
    (one at a time on one thread, so a caller summing them holds one result, not all)."""
    if _pool is None:
        return map(fn, items)
    return _pool.map(fn, items)
