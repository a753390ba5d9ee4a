"""Reading a glmprep shard as untrusted input: ``ShardReader`` and the checks it applies.

A shard on disk may be anything. ``ShardReader(path)`` memory-maps it and refuses, with
one line naming the file and the fault (``ShardFormatError``), whatever a reader could
misread or crash on: metadata of the wrong shape, columns of the wrong types, Arrow
buffers or offsets that do not hold together, nulls, and the value rules of
``shard_problems`` (ids within the vocabulary, ``sep`` inside the row, ...). Every
reader (validate, inspect, report, the trainer) opens shards through it.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa

from glmprep.schemas.ipc_sizes import decompression_problem
from glmprep.schemas.shard import (METADATA_KEY, OBJECTIVES, SOURCE_COLUMNS, TOKEN_COLUMNS, ShardFormatError,
                                   ShardMetadata, shard_schema, show_value)


def _numpy_list(column: pa.ChunkedArray) -> "tuple[np.ndarray, np.ndarray]":
    """(values, offsets) of a list column, offsets from 0, zero-copy where Arrow allows it."""
    arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    offsets = arr.offsets.to_numpy()
    values = arr.values.to_numpy(zero_copy_only=False)
    if len(offsets) and (offsets[0] != 0 or offsets[-1] != len(values)):  # a slice of its values
        values, offsets = values[offsets[0]:offsets[-1]], offsets - offsets[0]
    return values, offsets


def _schema_problem(found: pa.Schema, expected: pa.Schema) -> Optional[str]:
    """The first column that differs from the glmprep schema, in one line, or None."""
    if found.equals(expected):
        return None
    for f in expected:
        if f.name not in found.names:
            return f"column {f.name} is missing"
        other = found.field(f.name)
        if not other.type.equals(f.type):
            return f"column {f.name} is {other.type}, expected {f.type}"
    extra = [name for name in found.names if name not in expected.names]
    if extra:
        return f"unexpected column {extra[0]}"
    return f"columns are {', '.join(found.names)}, expected {', '.join(expected.names)} in that order"


class ShardReader:
    """A memory-mapped shard. Token columns are exposed as flat NumPy arrays + offsets.

    Opening checks what every reader relies on and raises ShardFormatError with one line
    naming the file and the fault: what compressed buffers declare (``ipc_sizes``), the metadata (``ShardMetadata.from_json``), the column
    types, Arrow's own consistency of every buffer and offset (before any value is read),
    no nulls, and, unless ``check=False``, ``check_shard``'s rules on the values.

    >>> r = ShardReader("part-00000-of-00001.arrow")      # doctest: +SKIP
    >>> r.metadata.seq_len, r.num_rows, r.row(0)["sep"]   # doctest: +SKIP
    """

    def __init__(self, path: str, check: bool = True):
        try:
            data = pa.memory_map(path, "r").read_buffer()   # the whole map, no copy
            problem = decompression_problem(data)            # before a compressed buffer is expanded
            if problem:
                raise ShardFormatError(f"{path}: {problem}")
            table = pa.ipc.open_file(data).read_all()
        except (pa.ArrowException, OSError, ValueError) as exc:
            if isinstance(exc, ShardFormatError):
                raise
            raise ShardFormatError(f"{path}: not a readable Arrow IPC file ({_one_line(exc)})") from None
        self._init_from(table, path, check)

    @classmethod
    def from_table(cls, table: pa.Table, name: str = "<memory>", check: bool = False) -> "ShardReader":
        """A reader over a table already in memory (tests, and checks before writing);
        ``validate_reader`` applies the value rules itself, so they are off by default."""
        reader = cls.__new__(cls)
        reader._init_from(table, name, check)
        return reader

    def _init_from(self, table: pa.Table, path: str, check: bool) -> None:
        self.path = path
        raw = (table.schema.metadata or {}).get(METADATA_KEY)
        if raw is None:
            raise ShardFormatError(f"{path}: no glmprep metadata in the Arrow schema")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ShardFormatError(f"{path}: glmprep metadata is not UTF-8") from None
        self.metadata = ShardMetadata.from_json(text, path)
        self.schema = table.schema
        try:
            problem = _schema_problem(self.schema.remove_metadata(), shard_schema(self.metadata).remove_metadata())
        except UnicodeDecodeError:
            problem = "a column name is not UTF-8"
        if problem:
            raise ShardFormatError(f"{path}: {problem}")
        try:  # offsets within their values, buffers as long as the lengths they declare, valid UTF-8
            table.validate(full=True)
        except pa.ArrowException as exc:
            raise ShardFormatError(f"{path}: inconsistent Arrow data ({_one_line(exc)})") from None
        for f in self.schema:
            column = table.column(f.name)
            nulls = column.null_count + sum(c.values.null_count for c in column.chunks) \
                if pa.types.is_list(f.type) else column.null_count
            if nulls:
                raise ShardFormatError(f"{path}: column {f.name} holds {nulls} null value(s)")
        # Reading from a memory map keeps the buffers in the map: no copy of the shard.
        self.table = table
        self.num_rows = table.num_rows
        self._flat: Dict[str, "tuple[np.ndarray, np.ndarray]"] = {}
        if check:
            check_shard(self)

    def flat(self, name: str) -> "tuple[np.ndarray, np.ndarray]":
        """(values, offsets) of a list column: row i is values[offsets[i]:offsets[i+1]]."""
        if name not in self._flat:
            self._flat[name] = _numpy_list(self.table.column(name))
        return self._flat[name]

    def column(self, name: str) -> np.ndarray:
        """A scalar column (``sep``) as NumPy, or ``objective`` as an object array."""
        return self.table.column(name).to_numpy()

    def row(self, i: int) -> Dict[str, object]:
        if not 0 <= i < self.num_rows:
            raise IndexError(f"{self.path}: row {i} out of range (0..{self.num_rows - 1})")
        out: Dict[str, object] = {}
        for name in TOKEN_COLUMNS + SOURCE_COLUMNS[1:]:
            values, offsets = self.flat(name)
            out[name] = values[offsets[i]:offsets[i + 1]]
        out["source_ids"] = self.table.column("source_ids")[i].as_py()
        out["sep"] = int(self.table.column("sep")[i].as_py())
        out["objective"] = self.table.column("objective")[i].as_py()
        return out

    def __iter__(self) -> Iterator[Dict[str, object]]:
        for i in range(self.num_rows):
            yield self.row(i)

    def __len__(self) -> int:
        return self.num_rows


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


@dataclass(frozen=True)
class ShardProblem:
    """A rule of ``shard_problems`` broken by ``count`` rows, the first of them ``rows``."""

    rule: str
    rows: List[int]
    count: int
    detail: str


def shard_problems(reader: ShardReader, max_rows: int = 5) -> List[ShardProblem]:
    """The rules every reader of a shard relies on, checked record batch by record batch
    (vectorised, zero-copy views of the memory map; no copy of a whole column):

        row_lengths   the five token columns have the same length in every row
        seq_len       1 ≤ len(input_ids) ≤ seq_len
        sep           0 < sep < len(input_ids)
        vocab         every input and target id < vocab_size
        positions     position_ids < seq_len, block_position_ids ≤ seq_len
        loss_mask     0 or 1
        objective     blank, sentence or document
        sources       the four source_* lists agree in length, at least one per row

    In a batch whose rows disagree in length the rules after row_lengths are skipped.
    ``glmprep validate`` checks the whole GLM contract on top of these."""
    found: Dict[Tuple[str, str], ShardProblem] = {}   # (rule, column) -> first detail, rows
    first_row = 0
    for batch in reader.table.to_batches():
        for rule, column, bad, detail in _batch_problems(batch, reader.metadata):
            rows = (np.flatnonzero(bad) + first_row).tolist()
            old = found.get((rule, column))
            if old is None:
                text = detail(int(np.flatnonzero(bad)[0])) if callable(detail) else detail
                found[(rule, column)] = ShardProblem(rule, rows[:max_rows], len(rows), text)
            else:
                found[(rule, column)] = ShardProblem(rule, (old.rows + rows)[:max_rows], old.count + len(rows),
                                                     old.detail)
        first_row += batch.num_rows
    return list(found.values())


def _list_parts(column: pa.Array) -> "tuple[np.ndarray, np.ndarray]":
    """(values, offsets from 0) of one list array, zero-copy."""
    offsets = column.offsets.to_numpy()
    values = column.values.to_numpy(zero_copy_only=False)
    return values[offsets[0]:offsets[-1]], offsets - offsets[0]


def _batch_problems(batch: pa.RecordBatch, meta: ShardMetadata):
    """(rule, column, bad rows [n] bool, detail) for each rule some row of ``batch`` breaks."""
    n = batch.num_rows
    cols = {name: _list_parts(batch.column(name)) for name in TOKEN_COLUMNS}
    lengths = np.diff(cols["input_ids"][1]).astype(np.int64)           # [n]
    out = []

    def fail(rule, column, bad, detail):
        if bad.any():
            out.append((rule, column, bad, detail))

    for name in TOKEN_COLUMNS[1:]:
        other = np.diff(cols[name][1])
        fail("row_lengths", name, other != lengths, lambda i, name=name, other=other:
             f"{name} has {other[i]} values, input_ids {lengths[i]}")
    if out:
        return out
    sep = batch.column("sep").to_numpy().astype(np.int64)
    fail("seq_len", "", (lengths < 1) | (lengths > meta.seq_len),
         lambda i: f"length {lengths[i]}, seq_len {meta.seq_len}")
    fail("sep", "", (sep <= 0) | (sep >= lengths), lambda i: f"sep {sep[i]} with length {lengths[i]}")
    row_of = np.repeat(np.arange(n), lengths)                         # [tokens] row of each token

    def rows_with(bad_token: np.ndarray) -> np.ndarray:               # [tokens] bool -> [n] bool
        return np.bincount(row_of[bad_token], minlength=n) > 0

    for name in ("input_ids", "target_ids"):
        fail("vocab", name, rows_with(cols[name][0] >= meta.vocab_size),
             f"{name} holds an id ≥ vocab_size {meta.vocab_size}")
    fail("positions", "position_ids", rows_with(cols["position_ids"][0] >= meta.seq_len),
         f"position_ids holds a value ≥ seq_len {meta.seq_len}")
    fail("positions", "block_position_ids", rows_with(cols["block_position_ids"][0] > meta.seq_len),
         f"block_position_ids holds a value > seq_len {meta.seq_len}")
    fail("loss_mask", "", rows_with(cols["loss_mask"][0] > 1), "loss_mask holds a value other than 0 and 1")
    objective = np.asarray(batch.column("objective").to_numpy(zero_copy_only=False), dtype=object)
    fail("objective", "", ~np.isin(objective, OBJECTIVES), lambda i: f"objective {show_value(objective[i])}")
    source_counts = np.diff(batch.column("source_ids").offsets.to_numpy())
    for name in SOURCE_COLUMNS[1:]:
        other = np.diff(batch.column(name).offsets.to_numpy())
        fail("sources", name, other != source_counts, lambda i, name=name, other=other:
             f"{name} has {other[i]} values, source_ids {source_counts[i]}")
    fail("sources", "source_ids", source_counts == 0, "a sample without source_ids")
    return out


def check_shard(reader: ShardReader) -> None:
    """Refuse a shard that breaks any rule of ``shard_problems``: ShardFormatError with one
    line naming the file, the rule, the first row and what is wrong. ``ShardReader(path)``
    calls it; ``train``, ``eval``, ``inspect`` and ``report`` read shards only through it."""
    problems = shard_problems(reader, max_rows=1)
    if problems:
        p = problems[0]
        more = f" (and {p.count - 1} more rows)" if p.count > 1 else ""
        raise ShardFormatError(f"{reader.path}: {p.rule}: row {p.rows[0]}{more}: {p.detail}")


def expand_paths(paths: Sequence[str]) -> List[str]:
    """Shard paths: directories become their ``*.arrow`` shards, globs are expanded (each
    sorted), anything else is kept as given."""
    out: List[str] = []
    for p in paths:
        if os.path.isdir(p):
            out.extend(sorted(glob.glob(os.path.join(p, "*.arrow"))))
        elif any(c in p for c in "*?["):
            out.extend(sorted(glob.glob(p)))
        else:
            out.append(p)
    return out
