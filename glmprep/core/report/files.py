"""How the report reaches a run's files: an opener the wiring layer passes in.

The report is pure core and never imports Beam; ``LocalFiles`` serves a run on this
machine. Another file system (``gs://``) plugs in as any object with the same methods.
"""
from __future__ import annotations

import glob
import os
from typing import BinaryIO, List

from glmprep.schemas.reader import ShardReader


class LocalFiles:
    """A run directory on the local file system."""

    join = staticmethod(os.path.join)

    @staticmethod
    def open(path: str) -> BinaryIO:
        return open(path, "rb")

    @staticmethod
    def create(path: str) -> BinaryIO:
        return open(path, "wb")

    @staticmethod
    def match(pattern: str) -> List[str]:
        """Files matching a glob, sorted."""
        return sorted(glob.glob(pattern))

    @staticmethod
    def shard(path: str) -> ShardReader:
        """A shard, memory-mapped and checked (``glmprep.schemas.reader``)."""
        return ShardReader(path)
