"""The trainer's view of shards: the public loader (``glmprep.loader``) plus what training needs.

    open_shards(data, expected)      glmprep.loader's ShardSet, tokenizers checked to agree
    split_rows(shards, fraction)     train / held-out row indices, by document key hash or by shard
    BatchStream(shards, rows, ...)   endless shuffled batches (GLMLoader); ``state()`` resumes exactly
    epoch_batches(...)               the held-out rows once, shortest first
    count_ids(shards, rows)          token counts, for the vocabulary and the unigram baseline

Batches are ``glmprep.loader.collate``'s (original token ids; see that module).
"""
from __future__ import annotations

import hashlib
from typing import Dict, Iterator, Mapping, Optional, Tuple

import numpy as np

from glmprep import loader
from glmprep.loader import GLMLoader, ShardSet, collate, epoch_order, shard_paths
from glmprep.schemas import ShardFormatError

# What must agree between shards, a checkpoint and a tokenizer for ids to mean the same thing.
TOKENIZER_FIELDS = ("tokenizer_name", "tokenizer_sha256", "base_vocab_size", "vocab_size", "special_tokens")


class TokenizerMismatch(ValueError):
    """Shards, checkpoint or tokenizer disagree on the vocabulary, so token ids would be misread."""


def tokenizer_fingerprint(meta) -> Dict[str, object]:
    """The TOKENIZER_FIELDS of a ShardMetadata, a tokenizer's ``metadata()`` or a plain dict."""
    source = meta if isinstance(meta, Mapping) else meta.__dict__
    return {k: source[k] for k in TOKENIZER_FIELDS}


def check_tokenizer(expected: Mapping[str, object], found: Mapping[str, object], where: str,
                    expected_from: str) -> None:
    """Raise TokenizerMismatch naming every field of ``found`` (at ``where``) that differs."""
    diffs = [f"{k}: {found.get(k)!r} here, {expected.get(k)!r} in {expected_from}"
             for k in TOKENIZER_FIELDS if found.get(k) != expected.get(k)]
    if diffs:
        raise TokenizerMismatch(f"{where}: tokenizer differs from {expected_from}:\n  " + "\n  ".join(diffs)
                                + "\nShards must be built with the same tokenizer as the model reading them.")


def open_shards(data: str, expected_tokenizer: Optional[Mapping[str, object]] = None,
                expected_from: str = "the checkpoint") -> ShardSet:
    """``ShardSet`` of the shards at ``data`` (directory, file or glob) whose tokenizers agree
    with each other (and with ``expected_tokenizer``); ShardFormatError if unreadable."""
    shards = loader.open_shards(data)
    first = tokenizer_fingerprint(shards.metadata)
    for r in shards.readers[1:]:
        check_tokenizer(first, tokenizer_fingerprint(r.metadata), r.path, shards.paths[0])
    if expected_tokenizer is not None:
        for r in shards.readers:
            check_tokenizer(tokenizer_fingerprint(expected_tokenizer), tokenizer_fingerprint(r.metadata),
                            r.path, expected_from)
    return shards


def count_ids(shards: ShardSet, rows: np.ndarray, column: str = "target_ids", loss_only: bool = True) -> np.ndarray:
    """How often each id occurs in ``column`` of ``rows`` ([vocab_size] int64), vectorised per chunk.

    With ``loss_only`` only positions with loss_mask 1 count (the Part B targets).
    """
    keep_row = np.zeros(len(shards), dtype=bool)
    keep_row[rows] = True
    counts = np.zeros(int(shards.metadata.vocab_size), dtype=np.int64)
    masks = shards.column_chunks("loss_mask") if loss_only else None
    first = 0
    for k, (values, offsets) in enumerate(shards.column_chunks(column)):
        n = len(offsets) - 1
        row_of_value = np.repeat(np.arange(n), np.diff(offsets))   # [values in chunk]
        keep = keep_row[first:first + n][row_of_value]
        vals = values[offsets[0]:offsets[-1]]
        if masks is not None:
            m, moff = masks[k]
            keep &= m[moff[0]:moff[-1]].astype(bool)
        counts += np.bincount(vals[keep].astype(np.int64), minlength=len(counts))
        first += n
    return counts


def document_hash(key: str, seed: int) -> float:
    """A stable number in [0, 1) for a document key (blake2b, not Python's salted hash())."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


def split_rows(shards: ShardSet, eval_fraction: float, by: str = "document", seed: int = 0
               ) -> Tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows) as sorted index arrays.

    ``by="document"`` holds out rows whose first source document hashes below the
    fraction: a split document's later pieces open rows of their own, so they land on
    the same side. ``by="shard"`` holds out the last ceil(fraction · shards) shards.
    """
    if not 0 <= eval_fraction < 1:
        raise ValueError(f"eval fraction must be in [0, 1), got {eval_fraction}")
    if by == "document":
        held = np.array([document_hash(k, seed) < eval_fraction for k in shards.document_key], dtype=bool)
    elif by == "shard":
        n = len(shards.readers)
        n_eval = int(np.ceil(eval_fraction * n)) if eval_fraction > 0 else 0
        if n_eval >= n:
            raise ValueError(f"cannot hold out {n_eval} of {n} shards; use --split document")
        held = shards.shard_of >= n - n_eval
    else:
        raise ValueError(f"unknown split {by!r}; expected 'document' or 'shard'")
    return np.flatnonzero(~held), np.flatnonzero(held)


class BatchStream:
    """Endless training batches of the trainer's rows, through ``glmprep.loader.GLMLoader``;
    ``state()`` (batches consumed) resumes exactly."""

    def __init__(self, shards: ShardSet, rows: np.ndarray, batch_size: int, seed: int,
                 pad_to: Optional[int] = None, state: Optional[Mapping[str, int]] = None):
        if len(rows) == 0:
            raise ValueError("no training rows")
        self.loader = GLMLoader(shards, batch_size, seed=seed, rows=rows, pad_to=pad_to)
        self.position = cursor_position(state, len(self.loader))
        self._batches = iter(GLMLoader(shards, batch_size, seed=seed, rows=rows, pad_to=pad_to,
                                       start=self.position))

    def state(self) -> Dict[str, int]:
        """Batches handed out so far; the order is a function of (seed, epoch), so this is all."""
        return {"batches": self.position}

    def __iter__(self) -> Iterator[Dict[str, np.ndarray]]:
        return self

    def __next__(self) -> Dict[str, np.ndarray]:
        batch = next(self._batches)
        self.position += 1
        return batch


def cursor_position(state: Optional[Mapping[str, int]], per_epoch: int) -> int:
    """Batches consumed, from a checkpoint's data cursor: ``{"batches": n}``, or the older
    ``{"epoch": e, "position": p}``."""
    if not state:
        return 0
    if "batches" in state:
        return int(state["batches"])
    return int(state.get("epoch", 0)) * per_epoch + int(state.get("position", 0))


def epoch_batches(shards: ShardSet, rows: np.ndarray, batch_size: int,
                  pad_to: Optional[int] = None) -> Iterator[Dict[str, np.ndarray]]:
    """The rows once, in order of length (evaluation: no shuffling, little padding)."""
    return iter(GLMLoader(shards, batch_size, rows=rows, shuffle=False, epochs=1, pad_to=pad_to)) \
        if len(rows) else iter(())


__all__ = ["ShardSet", "ShardFormatError", "TokenizerMismatch", "BatchStream", "collate", "count_ids",
           "epoch_batches", "epoch_order", "open_shards", "shard_paths", "split_rows", "check_tokenizer",
           "tokenizer_fingerprint"]
