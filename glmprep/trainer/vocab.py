"""Vocabulary compaction: the model's rows are only the ids the training shards use.

cl100k has 100k ids; a small corpus uses a few thousand. The tied embedding /
output layer then shrinks by that factor, and so does the cost of the logits.
Compact id 0 is reserved for "unknown": an id the training rows never contained
(seen later in held-out rows or in user text) maps to it, and generation never
emits it. Every GLM special id is always kept.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional

import numpy as np

UNKNOWN = 0  # compact id of every original id outside the map


class VocabMap:
    """original id <-> compact id.

    >>> v = VocabMap.from_ids([7, 3, 3], full_size=10, keep=[9])
    >>> v.ids.tolist(), v.encode(np.array([3, 7, 9, 5])).tolist()
    ([-1, 3, 7, 9], [1, 2, 3, 0])
    """

    def __init__(self, ids: np.ndarray, full_size: int):
        self.ids = np.asarray(ids, dtype=np.int64)      # [V] compact -> original; ids[0] = -1 if compacted
        self.full_size = int(full_size)
        self.compact = bool(len(self.ids) and self.ids[0] == -1)
        self._table = np.full(self.full_size, UNKNOWN, dtype=np.int64)  # [full] original -> compact
        known = self.ids >= 0
        self._table[self.ids[known]] = np.flatnonzero(known)

    @classmethod
    def identity(cls, full_size: int) -> "VocabMap":
        return cls(np.arange(full_size), full_size)

    @classmethod
    def from_ids(cls, present: Iterable[int], full_size: int, keep: Iterable[int] = ()) -> "VocabMap":
        ids = np.union1d(np.fromiter(present, dtype=np.int64), np.fromiter(keep, dtype=np.int64))
        return cls(np.concatenate([[-1], ids]), full_size)

    @classmethod
    def from_counts(cls, counts: np.ndarray, keep: Iterable[int]) -> "VocabMap":
        """The ids with a nonzero count ([full] int array), plus ``keep``."""
        return cls.from_ids(np.flatnonzero(counts), len(counts), keep)

    def __len__(self) -> int:
        return len(self.ids)

    def encode(self, ids: np.ndarray) -> np.ndarray:
        """Original ids (any shape) -> compact ids; unseen ids -> UNKNOWN."""
        return self._table[np.asarray(ids, dtype=np.int64)]

    def decode(self, compact: np.ndarray) -> np.ndarray:
        return self.ids[np.asarray(compact, dtype=np.int64)]

    def to_json(self) -> Dict[str, object]:
        return {"full_size": self.full_size, "ids": self.ids.tolist() if self.compact else None}

    @classmethod
    def from_json(cls, data: Dict[str, object]) -> "VocabMap":
        ids: Optional[list] = data.get("ids")
        return cls.identity(data["full_size"]) if ids is None else cls(np.array(ids), data["full_size"])
