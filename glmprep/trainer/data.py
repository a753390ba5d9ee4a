"""Reading shards for training: memory-mapped rows, a held-out split, shuffled padded batches.

    ShardSet(paths)                  every shard opened through glmprep.schemas (memory-mapped,
                                     no copy of token data), metadata checked to agree
    split_rows(shards, fraction)     train / held-out row indices, by document key hash or by shard
    BatchStream(shards, rows, ...)   endless shuffled batches; ``state()`` resumes exactly
    epoch_batches(...)               one epoch's batches; ``collate`` pads rows to a batch

A batch is a dict of NumPy arrays with the shard's names (GLM_SPEC §2), original token ids:

    input_ids, target_ids             [B, T] int64, padded with PAD
    loss_mask                         [B, T] uint8, 0 on padding
    position_ids, block_position_ids  [B, T] int64, 0 on padding
    sep, lengths                      [B] int64
    objective                         [B] int8, index into glmprep.schemas.OBJECTIVES
"""
from __future__ import annotations

import hashlib
import os
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pyarrow.compute as pc

from glmprep.schemas import OBJECTIVES, ShardFormatError, ShardReader
from glmprep.schemas.manifest import MANIFEST_NAME, manifest_shard_paths
from glmprep.schemas.reader import expand_paths
from glmprep.schemas.shard import TOKEN_COLUMNS

# What must agree between shards, a checkpoint and a tokenizer for ids to mean the same thing.
TOKENIZER_FIELDS = ("tokenizer_name", "tokenizer_sha256", "base_vocab_size", "vocab_size", "special_tokens")
# Rows sorted by length within windows of this many batches waste less on padding;
# the window is shuffled first and the batch order after, so order stays random.
BUCKET_BATCHES = 32


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


def shard_paths(data: str) -> List[str]:
    """Shard files of ``data``: a directory (its manifest's order, else part-*.arrow), a file or a glob."""
    if os.path.isdir(data) and os.path.exists(os.path.join(data, MANIFEST_NAME)):
        paths = manifest_shard_paths(data)  # ManifestError for a malformed one or a path leaving data
        if paths:
            return paths
    paths = [p for p in expand_paths([data]) if os.path.isfile(p)]
    if not paths:
        raise FileNotFoundError(f"no shards (*.arrow) found at {data}")
    return paths


class ShardSet:
    """Several shards seen as one list of rows. Token columns stay in the memory maps.

    Row ``r`` lives in shard ``shard_of[r]``, record batch ``chunk_of[r]``, at ``row_in_chunk[r]``.
    """

    def __init__(self, paths: Sequence[str], expected_tokenizer: Optional[Mapping[str, object]] = None,
                 expected_from: str = "the checkpoint"):
        if not paths:
            raise FileNotFoundError("no shards given")
        self.paths = list(paths)
        self.readers = [ShardReader(p) for p in self.paths]
        self.metadata = self.readers[0].metadata
        self.tokenizer = tokenizer_fingerprint(self.metadata)
        for r in self.readers[1:]:
            check_tokenizer(self.tokenizer, tokenizer_fingerprint(r.metadata), r.path, self.paths[0])
        if expected_tokenizer is not None:
            for r in self.readers:
                check_tokenizer(tokenizer_fingerprint(expected_tokenizer), tokenizer_fingerprint(r.metadata),
                                r.path, expected_from)
        self.seq_len = max(r.metadata.seq_len for r in self.readers)
        self.pad_id = int(self.metadata.special_tokens["PAD"])
        # name -> [(values, offsets) per (shard, chunk)], zero-copy views of the memory maps
        self._chunks: Dict[str, List[Tuple[np.ndarray, np.ndarray]]] = {}
        shard_of, chunk_of, row_in, sep, obj, key = [], [], [], [], [], []
        self._chunk_ids: List[Tuple[int, int]] = []
        for s, reader in enumerate(self.readers):
            table = reader.table
            for c, n in enumerate(len(chunk) for chunk in table.column("sep").chunks):
                self._chunk_ids.append((s, c))
                shard_of.append(np.full(n, s, np.int32))
                chunk_of.append(np.full(n, len(self._chunk_ids) - 1, np.int32))
                row_in.append(np.arange(n, dtype=np.int64))
            sep.append(reader.column("sep").astype(np.int64))
            codes = {o: i for i, o in enumerate(OBJECTIVES)}
            obj.append(np.array([codes[o] for o in reader.column("objective")], dtype=np.int8))
            first = pc.list_element(table.column("source_ids"), 0).to_pylist()
            key.extend(first)
        self.shard_of = np.concatenate(shard_of)         # [R]
        self.chunk_of = np.concatenate(chunk_of)         # [R] index into _chunk_ids
        self.row_in_chunk = np.concatenate(row_in)       # [R]
        self.sep = np.concatenate(sep)                   # [R]
        self.objective = np.concatenate(obj)             # [R]
        self.document_key = key                          # [R] first source document of each row
        self.lengths = np.concatenate([np.diff(offsets) for _, offsets in self.column_chunks("input_ids")]
                                      ).astype(np.int64)  # [R]

    def __len__(self) -> int:
        return len(self.sep)

    def column_chunks(self, name: str) -> List[Tuple[np.ndarray, np.ndarray]]:
        """(values, offsets) per record batch of every shard, in row order (zero-copy for ids)."""
        if name not in self._chunks:
            out = []
            for s, c in self._chunk_ids:
                arr = self.readers[s].table.column(name).chunk(c)
                out.append((arr.values.to_numpy(zero_copy_only=False), arr.offsets.to_numpy()))
            self._chunks[name] = out
        return self._chunks[name]

    def row_tokens(self, name: str, r: int) -> np.ndarray:
        values, offsets = self.column_chunks(name)[self.chunk_of[r]]
        i = self.row_in_chunk[r]
        return values[offsets[i]:offsets[i + 1]]

    def count_ids(self, rows: np.ndarray, column: str = "target_ids", loss_only: bool = True) -> np.ndarray:
        """How often each id occurs in ``column`` of ``rows`` ([vocab_size] int64), vectorised per chunk.

        With ``loss_only`` only positions with loss_mask 1 count (the Part B targets).
        """
        keep_row = np.zeros(len(self), dtype=bool)
        keep_row[rows] = True
        counts = np.zeros(int(self.metadata.vocab_size), dtype=np.int64)
        masks = self.column_chunks("loss_mask") if loss_only else None
        first = 0
        for k, (values, offsets) in enumerate(self.column_chunks(column)):
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


def collate(shards: ShardSet, rows: Sequence[int], pad_to: Optional[int] = None) -> Dict[str, np.ndarray]:
    """Rows -> one batch padded to its longest row (or ``pad_to``): PAD ids, loss 0, positions 0."""
    rows = np.asarray(rows, dtype=np.int64)
    lengths = shards.lengths[rows]                                      # [B]
    T = int(pad_to or lengths.max())
    if lengths.max() > T:
        raise ValueError(f"a row of {lengths.max()} tokens does not fit pad_to={T}")
    B = len(rows)
    batch = {name: np.zeros((B, T), dtype=np.uint8 if name == "loss_mask" else np.int64)
             for name in TOKEN_COLUMNS}
    batch["input_ids"][:] = shards.pad_id
    batch["target_ids"][:] = shards.pad_id
    for b, r in enumerate(rows):
        n = lengths[b]
        for name in TOKEN_COLUMNS:
            batch[name][b, :n] = shards.row_tokens(name, r)
    batch["sep"] = shards.sep[rows]
    batch["lengths"] = lengths
    batch["objective"] = shards.objective[rows]
    return batch


def epoch_order(rows: np.ndarray, lengths: np.ndarray, batch_size: int, seed: int, epoch: int,
                bucket: bool = True) -> List[np.ndarray]:
    """One epoch's batches of row indices, the same for the same (seed, epoch).

    Rows are shuffled; with ``bucket``, each window of BUCKET_BATCHES batches is sorted
    by length before cutting (less padding), then the batches are shuffled.
    """
    rng = np.random.default_rng([seed, epoch])
    order = np.asarray(rows)[rng.permutation(len(rows))]
    if bucket:
        w = batch_size * BUCKET_BATCHES
        order = np.concatenate([win[np.argsort(lengths[win], kind="stable")]
                                for win in np.split(order, range(w, len(order), w))] or [order])
    batches = np.split(order, range(batch_size, len(order), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


class BatchStream:
    """Endless training batches: epoch after epoch of ``epoch_order``; resumable from ``state()``."""

    def __init__(self, shards: ShardSet, rows: np.ndarray, batch_size: int, seed: int,
                 pad_to: Optional[int] = None, state: Optional[Mapping[str, int]] = None):
        if len(rows) == 0:
            raise ValueError("no training rows")
        self.shards, self.rows, self.batch_size, self.seed, self.pad_to = shards, rows, batch_size, seed, pad_to
        self.epoch = int(state["epoch"]) if state else 0
        self.position = int(state["position"]) if state else 0
        self._order = epoch_order(rows, shards.lengths, batch_size, seed, self.epoch)

    def state(self) -> Dict[str, int]:
        """Where the next batch comes from; order is a function of (seed, epoch), so this is all."""
        return {"epoch": self.epoch, "position": self.position}

    def __iter__(self) -> Iterator[Dict[str, np.ndarray]]:
        return self

    def __next__(self) -> Dict[str, np.ndarray]:
        if self.position >= len(self._order):
            self.epoch, self.position = self.epoch + 1, 0
            self._order = epoch_order(self.rows, self.shards.lengths, self.batch_size, self.seed, self.epoch)
        rows = self._order[self.position]
        self.position += 1
        return collate(self.shards, rows, self.pad_to)


def epoch_batches(shards: ShardSet, rows: np.ndarray, batch_size: int,
                  pad_to: Optional[int] = None) -> Iterator[Dict[str, np.ndarray]]:
    """The rows once, in order of length (evaluation: no shuffling, little padding)."""
    order = np.asarray(rows)[np.argsort(shards.lengths[rows], kind="stable")]
    for start in range(0, len(order), batch_size):
        yield collate(shards, order[start:start + batch_size], pad_to)


def open_shards(data: str, expected_tokenizer: Optional[Mapping[str, object]] = None,
                expected_from: str = "the checkpoint") -> ShardSet:
    """``ShardSet`` of the shards at ``data`` (directory, file or glob); ShardFormatError if unreadable."""
    return ShardSet(shard_paths(data), expected_tokenizer, expected_from)


__all__ = ["ShardSet", "ShardFormatError", "TokenizerMismatch", "BatchStream", "collate", "epoch_batches",
           "epoch_order", "open_shards", "shard_paths", "split_rows", "check_tokenizer", "tokenizer_fingerprint"]
