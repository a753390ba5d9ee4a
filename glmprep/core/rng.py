"""Counter-based random numbers keyed by ``(seed, key)`` (GLM_SPEC §4).

Every random choice of a sample comes from a stream identified by the global seed
and a stable string key of the sample, never from worker identity, bundle order,
time or Python's ``hash()``. The stream is SplitMix64 applied to
``base + golden * counter``: no generator object to construct (which would cost
more than building a short sample), fully vectorised, identical on every platform.
"""
from __future__ import annotations

import hashlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(s) for s in (30, 27, 31, 11))
_TO_UNIT = 1.0 / float(1 << 53)


def stream_base(seed: int, key: str) -> int:
    """64-bit start of the stream for ``(seed, key)``."""
    digest = hashlib.blake2b(f"{seed}\x00{key}".encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "little")


def epoch_suffix(epoch: int) -> str:
    """What a piece's stream key carries for its epoch: nothing in epoch 0 (so one epoch
    draws what glmprep drew before epochs), ``@<epoch>`` after."""
    return f"@{epoch}" if epoch else ""


def piece_key(key: str, piece: int, epoch: int = 0) -> str:
    """The stream key of piece ``piece`` of document ``key`` in ``epoch``: ``key#piece`` or
    ``key#piece@epoch``. Distinct triples give distinct strings (read from the right, the
    last ``#`` or ``@`` ends the document key).

    >>> piece_key("doc", 2), piece_key("doc", 2, 1)
    ('doc#2', 'doc#2@1')
    """
    return f"{key}#{piece}{epoch_suffix(epoch)}"


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser over a uint64 array (wrapping arithmetic)."""
    x = x.copy()
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


class KeyedRandom:
    """A deterministic random stream.

    >>> a, b = KeyedRandom(0, "doc-1"), KeyedRandom(0, "doc-1")
    >>> bool((a.uniform(4) == b.uniform(4)).all())
    True
    """

    __slots__ = ("_base", "_counter")

    def __init__(self, seed: int, key: str):
        self._base = np.uint64(stream_base(seed, key))
        self._counter = 0

    def bits(self, n: int) -> np.ndarray:
        """``n`` uint64 values; [n]."""
        counters = np.arange(self._counter, self._counter + n, dtype=np.uint64)
        self._counter += n
        with np.errstate(over="ignore"):
            return splitmix64(counters * _GOLDEN + self._base)

    def uniform(self, n: int) -> np.ndarray:
        """``n`` floats in [0, 1) with 53 random bits each; [n] float64."""
        return (self.bits(n) >> _S11).astype(np.float64) * _TO_UNIT


def draw(bases: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Draw ``counters`` of the streams starting at ``bases``, many streams at once (the
    values ``KeyedRandom`` gives); [n] uint64 from [n] uint64 bases and [n] int counters."""
    with np.errstate(over="ignore"):
        return splitmix64(counters.astype(np.uint64) * _GOLDEN + bases)


def unit(bits: np.ndarray) -> np.ndarray:
    """uint64 bits -> floats in [0, 1) with 53 random bits each (as ``KeyedRandom.uniform``)."""
    return (bits >> _S11).astype(np.float64) * _TO_UNIT
