"""Training batches from glmprep shards: memory-mapped rows -> padded NumPy batches.

Needs NumPy and pyarrow only (no torch). A batch is a dict of arrays (GLM_SPEC §2)::

    input_ids, target_ids   [B, L] int64   padded with the shards' PAD id
    loss_mask               [B, L] bool    True on Part B targets, False on Part A and padding
    position_ids            [B, 2, L] int64  row 0 positions, row 1 block positions; 0 on padding
    sep, lengths            [B] int64      len(Part A), len(row) before padding
    objective               [B] int8       index into glmprep.schemas.OBJECTIVES
    attention_mask          [B, L, L] bool (with ``attention_mask=True``): query i sees key j

``L`` is the longest row of the batch (or ``pad_to``). The attention a GLM uses follows from
``sep`` alone: every token sees all of Part A, Part B tokens also see Part B causally, and
nobody sees padding (:func:`attention_mask`).

``GLMLoader`` gives one data-parallel rank its batches, deterministically::

    loader = GLMLoader("out/run1", batch_size=16, seed=0, rank=rank, world_size=world)
    for batch in loader:                    # endless, epoch after epoch (epochs=None)
        ...
    # after n batches: GLMLoader(..., start=n) continues with batch n+1 exactly

Every rank computes the same epoch order (a function of seed and epoch: rows shuffled,
sorted by length within windows of 32 batches to cut padding, batches shuffled) and takes
every ``world_size``-th batch; each rank gets the same number of batches per epoch (the
remainder is dropped). Loader workers split a rank's batches round-robin
(:meth:`GLMLoader.worker_batches`), which is the order PyTorch's DataLoader reads its
workers in, so the sequence is the same with any number of workers.
"""
from __future__ import annotations

import os
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import pyarrow.compute as pc

from glmprep.schemas import OBJECTIVES, ShardFormatError, ShardReader
from glmprep.schemas.manifest import MANIFEST_NAME, manifest_shard_paths
from glmprep.schemas.reader import expand_paths

# Rows sorted by length within windows of this many batches waste less on padding;
# the window is shuffled first and the batch order after, so order stays random.
BUCKET_BATCHES = 32

Batch = Dict[str, np.ndarray]


def shard_paths(data: str, epoch: int = 0) -> List[str]:
    """Shard files of ``data``: a directory (its manifest's order, else part-*.arrow), a file or a glob.
    A manifest naming a file outside its directory (``..``, an absolute path) is refused. Of a run
    written with ``--epochs K``, a directory gives the shard set of ``epoch`` (each document once,
    masked as in that epoch); a trainer's epoch e would read epoch ``e mod K``."""
    if os.path.isdir(data) and os.path.exists(os.path.join(data, MANIFEST_NAME)):
        paths = manifest_shard_paths(data, epoch)  # ManifestError for a malformed one or a path leaving data
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

    def __init__(self, paths: Sequence[str]):
        if not paths:
            raise FileNotFoundError("no shards given")
        self.paths = list(paths)
        self.readers = [ShardReader(p) for p in self.paths]
        self.metadata = self.readers[0].metadata
        self.seq_len = max(r.metadata.seq_len for r in self.readers)
        self.pad_id = int(self.metadata.special_tokens["PAD"])
        # name -> [(values, offsets) per (shard, chunk)], zero-copy views of the memory maps
        self._chunks: Dict[str, List[Tuple[np.ndarray, np.ndarray]]] = {}
        shard_of, chunk_of, row_in, sep, obj, key = [], [], [], [], [], []
        self._chunk_ids: List[Tuple[int, int]] = []
        codes = {o: i for i, o in enumerate(OBJECTIVES)}
        for s, reader in enumerate(self.readers):
            table = reader.table
            for c, n in enumerate(len(chunk) for chunk in table.column("sep").chunks):
                self._chunk_ids.append((s, c))
                shard_of.append(np.full(n, s, np.int32))
                chunk_of.append(np.full(n, len(self._chunk_ids) - 1, np.int32))
                row_in.append(np.arange(n, dtype=np.int64))
            sep.append(reader.column("sep").astype(np.int64))
            obj.append(np.array([codes[o] for o in reader.column("objective")], dtype=np.int8))
            key.extend(pc.list_element(table.column("source_ids"), 0).to_pylist())
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
        """(values, offsets) per record batch of every shard, in row order (zero-copy for
        uncompressed shards; a compressed shard's buffers are decompressed once, here)."""
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


def open_shards(data: Union[str, Sequence[str]], epoch: int = 0) -> ShardSet:
    """``ShardSet`` of the shards at ``data`` (a run directory, file or glob, or a list of
    shard files); ShardFormatError if a file is not a readable shard or breaks a rule every
    reader relies on (``glmprep.schemas.reader.check_shard``: ids within the vocabulary,
    ``sep`` inside the row, ...), ManifestError for a manifest naming files elsewhere.
    ``epoch``: which shard set of a run directory written with ``--epochs`` (see ``shard_paths``)."""
    return ShardSet(shard_paths(data, epoch) if isinstance(data, str) else list(data))


# --- batches ------------------------------------------------------------------------------

def attention_mask(sep: np.ndarray, lengths: np.ndarray, L: int) -> np.ndarray:
    """Which keys each query sees (GLM_SPEC §2): all of Part A, and Part B causally; never padding.

    >>> attention_mask(np.array([2]), np.array([4]), 5)[0].astype(int)
    array([[1, 1, 0, 0, 0],
           [1, 1, 0, 0, 0],
           [1, 1, 1, 0, 0],
           [1, 1, 1, 1, 0],
           [1, 1, 1, 1, 0]])
    """
    q = np.arange(L)[None, :, None]                   # [1, L, 1]
    k = np.arange(L)[None, None, :]                   # [1, 1, L]
    sep = np.asarray(sep)[:, None, None]              # [B, 1, 1]
    length = np.asarray(lengths)[:, None, None]       # [B, 1, 1]
    return ((k < sep) | (k <= q)) & (k < length)      # [B, L, L] bool


def collate(shards: ShardSet, rows: Sequence[int], pad_to: Optional[int] = None,
            with_attention_mask: bool = False) -> Batch:
    """Rows -> one batch padded to its longest row (or ``pad_to``): PAD ids, no loss, positions 0."""
    rows = np.asarray(rows, dtype=np.int64)
    lengths = shards.lengths[rows]                                      # [B]
    L = int(pad_to or lengths.max())
    if lengths.max() > L:
        raise ValueError(f"a row of {lengths.max()} tokens does not fit pad_to={L}")
    B = len(rows)
    ids = np.full((2, B, L), shards.pad_id, dtype=np.int64)            # input, target
    loss = np.zeros((B, L), dtype=bool)
    positions = np.zeros((B, 2, L), dtype=np.int64)
    for b, r in enumerate(rows):
        n = lengths[b]
        ids[0, b, :n] = shards.row_tokens("input_ids", r)
        ids[1, b, :n] = shards.row_tokens("target_ids", r)
        loss[b, :n] = shards.row_tokens("loss_mask", r)
        positions[b, 0, :n] = shards.row_tokens("position_ids", r)
        positions[b, 1, :n] = shards.row_tokens("block_position_ids", r)
    batch = {"input_ids": ids[0], "target_ids": ids[1], "loss_mask": loss, "position_ids": positions,
             "sep": shards.sep[rows], "lengths": lengths, "objective": shards.objective[rows]}
    if with_attention_mask:
        batch["attention_mask"] = attention_mask(batch["sep"], lengths, L)
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


def length_order(rows: np.ndarray, lengths: np.ndarray, batch_size: int) -> List[np.ndarray]:
    """The rows once, shortest first, cut into batches (evaluation: little padding)."""
    order = np.asarray(rows)[np.argsort(lengths[rows], kind="stable")]
    return np.split(order, range(batch_size, len(order), batch_size)) if len(order) else []


class GLMLoader:
    """One data-parallel rank's batches of glmprep shards (see the module docstring).

    ``data``: a run directory, shard file, glob, list of shard files or an open ShardSet.
    ``rows``: the row indices to draw from (default: all). ``shuffle=False`` reads the
    rows once per epoch shortest first. ``epochs=None`` repeats forever. ``start``: the
    number of this rank's batches already consumed, to resume exactly after them.
    """

    def __init__(self, data, batch_size: int, *, seed: int = 0, shuffle: bool = True,
                 rank: int = 0, world_size: int = 1, rows: Optional[np.ndarray] = None,
                 pad_to: Optional[int] = None, attention_mask: bool = False,
                 epochs: Optional[int] = None, start: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
        if start < 0:
            raise ValueError(f"start must be ≥ 0, got {start}")
        self._data = data
        self._shards: Optional[ShardSet] = data if isinstance(data, ShardSet) else None
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.pad_to, self.with_attention_mask, self.epochs = pad_to, attention_mask, epochs
        self._rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self.start = start
        self.position = start  # this rank's batches handed out so far (by __iter__)

    # opened lazily, so a loader pickled into a spawned worker opens its own memory maps
    @property
    def shards(self) -> ShardSet:
        if self._shards is None:
            self._shards = open_shards(self._data)
        return self._shards

    @property
    def rows(self) -> np.ndarray:
        return np.arange(len(self.shards)) if self._rows is None else self._rows

    def __getstate__(self):
        state = dict(self.__dict__)
        if not isinstance(self._data, ShardSet):
            state["_shards"] = None
        return state

    def __len__(self) -> int:
        """This rank's batches per epoch."""
        n_batches = -(-len(self.rows) // self.batch_size)
        return n_batches // self.world_size

    def epoch_batches(self, epoch: int) -> List[np.ndarray]:
        """This rank's batches (row indices) of ``epoch``."""
        if self.shuffle:
            order = epoch_order(self.rows, self.shards.lengths, self.batch_size, self.seed, epoch)
        else:
            order = length_order(self.rows, self.shards.lengths, self.batch_size)
        return order[self.rank::self.world_size][:len(self)]

    def batch_rows(self, worker: int = 0, num_workers: int = 1) -> Iterator[Tuple[int, np.ndarray]]:
        """(batch number, row indices) of this rank from ``start`` on: worker ``w`` of
        ``num_workers`` takes batches ``start + w``, ``start + w + num_workers``, ..."""
        per_epoch = len(self)
        if per_epoch == 0:
            raise ValueError(f"{len(self.rows)} rows make no batch of {self.batch_size} for each of "
                             f"{self.world_size} ranks")
        n = self.start + worker
        epoch, order = None, []
        while self.epochs is None or n < self.epochs * per_epoch:
            if n // per_epoch != epoch:
                epoch = n // per_epoch
                order = self.epoch_batches(epoch)
            yield n, order[n % per_epoch]
            n += num_workers

    def worker_batches(self, worker: int = 0, num_workers: int = 1) -> Iterator[Batch]:
        """The batches a loader worker makes: together, ``num_workers`` workers read
        round-robin give the same batches in the same order as one."""
        for _, rows in self.batch_rows(worker, num_workers):
            yield collate(self.shards, rows, self.pad_to, self.with_attention_mask)

    def __iter__(self) -> Iterator[Batch]:
        for n, rows in self.batch_rows():
            batch = collate(self.shards, rows, self.pad_to, self.with_attention_mask)
            self.position = n + 1
            yield batch


__all__ = ["GLMLoader", "ShardSet", "ShardFormatError", "attention_mask", "collate", "epoch_order",
           "length_order", "open_shards", "shard_paths"]
