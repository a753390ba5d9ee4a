"""Give freed buffers back to the system in local runs (glibc's malloc, Linux).

glibc serves a large allocation with its own memory map and unmaps it when it is freed,
but only above a threshold it raises as it goes: each time a mapped block is freed, the
threshold grows to that block's size (up to 32 MiB), and the trim threshold to twice that.
A local run moves multi-megabyte messages between the runner and its workers, and near
dedup and the shard writer make multi-megabyte arrays: after the first one is freed, the
next ones come from the heap, and what is freed there stays resident as long as anything
above it lives. Measured on the long-document corpora with two workers and near dedup on:
the summed PSS of the run's processes peaked at 889 MiB with glibc's moving thresholds and
661-669 MiB with fixed ones (``bench/neardedup_cost.py``), the launcher alone at 314 and 248
MiB, in the same wall time (1.01x).

``fix_thresholds`` fixes both thresholds (``mallopt``; fixing one stops glibc moving
either) in this process, before it forks the worker template, and puts the same values
in the environment, where glibc reads them at start-up, for worker interpreters started
cold (``--no-fork-workers``). A value the user already set in the environment is left
alone. A portable run whose SDK workers loop back into the launching process
(``--environment_type=LOOPBACK``) gets the same: its peak RSS on the long-document corpora was
466-477 MiB in three runs, against 468, 599 and 607 MiB without, in about the same time.
Workers in other processes of a remote runner are not touched.
"""
from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 1 << 20   # allocations of 1 MiB or more get a map of their own, unmapped when freed
TRIM_THRESHOLD = 4 << 20   # free memory at the top of the heap past this is given back
# mallopt's parameter numbers (glibc's malloc.h) and the environment variables that set them
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_SETTINGS = ((_M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", MMAP_THRESHOLD),
             (_M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_", TRIM_THRESHOLD))


def fix_thresholds() -> bool:
    """Fix glibc's map and trim thresholds in this process and its future interpreters;
    False (nothing changed) where the C library has no ``mallopt`` (not glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    for parameter, variable, value in _SETTINGS:
        if variable in os.environ:
            continue  # the user's own setting: glibc applied it when this process started
        if not mallopt(parameter, value):
            return False
        os.environ[variable] = str(value)
    return True
