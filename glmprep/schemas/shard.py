"""The one definition of a glmprep shard: Arrow schema, metadata, writer, reader.

A shard is an Arrow IPC *file* (random access, memory-mappable) with one row per
GLM sample (GLM_SPEC §2, §6). Rows are unpadded; the loader pads. Everything that
reads or writes shards (pipeline, validator, inspect, trainer) goes through here.

Columns (one row = one sample):

    input_ids           list<id>     Part A ++ Part B inputs, length L
    target_ids          list<id>     next-token targets; equal to input_ids on Part A
    loss_mask           list<uint8>  0 on Part A, 1 on Part B
    position_ids        list<pos>    GLM_SPEC §2 2D positions, first row
    block_position_ids  list<pos>    second row
    sep                 uint32       len(Part A)
    objective           string       "blank" | "sentence" | "document"
    source_ids          list<string> key of each document piece packed in the sample, in order
    source_piece        list<uint32> index of that piece within its document (0-based)
    source_num_pieces   list<uint32> how many pieces the document was split into
    source_lengths      list<uint32> tokens the piece occupies in x (ENC/eos included)

``id`` is uint16 when the whole vocabulary fits, else uint32; ``pos`` is uint16
when seq_len fits, else uint32.
"""
from __future__ import annotations

import glob
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, Iterator, List, Mapping, Sequence

import numpy as np
import pyarrow as pa

FORMAT_VERSION = 1
METADATA_KEY = b"glmprep"
OBJECTIVES = ("blank", "sentence", "document")
TOKEN_COLUMNS = ("input_ids", "target_ids", "loss_mask", "position_ids", "block_position_ids")
SOURCE_COLUMNS = ("source_ids", "source_piece", "source_num_pieces", "source_lengths")
ROWS_PER_BATCH = 1024


class ShardFormatError(ValueError):
    """A file is not a glmprep shard of a version this code reads."""


@dataclass(frozen=True)
class ShardMetadata:
    """What every shard records about how it was made (GLM_SPEC §6)."""

    tokenizer_name: str
    tokenizer_sha256: str
    base_vocab_size: int
    vocab_size: int
    special_tokens: Dict[str, int]
    seq_len: int
    objective_weights: Dict[str, float]
    sample_options: Dict[str, object]  # lambda, mask ratio, max span, document ratio range, ...
    seed: int
    format_version: int = FORMAT_VERSION
    extra: Dict[str, object] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "ShardMetadata":
        data = json.loads(text)
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ShardFormatError(
                f"shard format version {version} is not supported (this glmprep reads {FORMAT_VERSION})")
        return cls(**data)


def id_type(vocab_size: int) -> pa.DataType:
    return pa.uint16() if vocab_size <= 1 << 16 else pa.uint32()


def position_type(seq_len: int) -> pa.DataType:
    return pa.uint16() if seq_len < 1 << 16 else pa.uint32()


def shard_schema(meta: ShardMetadata) -> pa.Schema:
    ids, pos = id_type(meta.vocab_size), position_type(meta.seq_len)
    return pa.schema(
        [
            ("input_ids", pa.list_(ids)),
            ("target_ids", pa.list_(ids)),
            ("loss_mask", pa.list_(pa.uint8())),
            ("position_ids", pa.list_(pos)),
            ("block_position_ids", pa.list_(pos)),
            ("sep", pa.uint32()),
            ("objective", pa.string()),
            ("source_ids", pa.list_(pa.string())),
            ("source_piece", pa.list_(pa.uint32())),
            ("source_num_pieces", pa.list_(pa.uint32())),
            ("source_lengths", pa.list_(pa.uint32())),
        ],
        metadata={METADATA_KEY: meta.to_json().encode()},
    )


def _list_array(values: Sequence[np.ndarray], dtype: pa.DataType) -> pa.ListArray:
    """One Arrow list array from per-row NumPy arrays, without a per-element Python loop."""
    lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(values) if len(values) else np.zeros(0)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat.astype(np.dtype(str(dtype)), copy=False), type=dtype))


def samples_to_batch(samples: Sequence[Mapping[str, object]], schema: pa.Schema) -> pa.RecordBatch:
    """Samples (mappings with the column names above) -> one RecordBatch of ``schema``."""
    arrays = []
    for f in schema:
        col = [s[f.name] for s in samples]
        if pa.types.is_list(f.type) and f.name != "source_ids":
            arrays.append(_list_array([np.asarray(c) for c in col], f.type.value_type))
        else:
            arrays.append(pa.array(col, type=f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def columns_to_batch(columns, schema: pa.Schema) -> pa.RecordBatch:
    """Samples already in columns (``glmprep.core.samples.SampleColumns``) -> one RecordBatch, no row loop."""
    offsets = pa.array(np.asarray(columns.offsets, dtype=np.int32))
    source_offsets = pa.array(np.asarray(columns.source_offsets, dtype=np.int32))
    arrays = []
    for f in schema:
        if f.name in TOKEN_COLUMNS:
            values = np.asarray(getattr(columns, f.name)).astype(np.dtype(str(f.type.value_type)), copy=False)
            arrays.append(pa.ListArray.from_arrays(offsets, pa.array(values, type=f.type.value_type)))
        elif f.name in SOURCE_COLUMNS:
            raw = getattr(columns, f.name)
            values = pa.array(raw, type=f.type.value_type) if f.name == "source_ids" else \
                pa.array(np.asarray(raw).astype(np.uint32, copy=False), type=f.type.value_type)
            arrays.append(pa.ListArray.from_arrays(source_offsets, values))
        else:
            arrays.append(pa.array(np.asarray(getattr(columns, f.name)) if f.name == "sep" else
                                   getattr(columns, f.name), type=f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def write_shard_columns(sink, batches: Iterable[object], meta: ShardMetadata) -> Dict[str, int]:
    """Write batches of samples in columns as one Arrow IPC file; returns rows and tokens."""
    schema = shard_schema(meta)
    return _write_batches(sink, schema, (columns_to_batch(columns, schema) for columns in batches))


def _write_batches(sink, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Dict[str, int]:
    """The one place a shard file is written: ``{"rows": ..., "tokens": ...}``."""
    rows = tokens = 0
    with pa.ipc.new_file(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
            tokens += len(batch.column("input_ids").flatten())
        if rows == 0:
            writer.write_batch(samples_to_batch([], schema))
    return {"rows": rows, "tokens": tokens}


def samples_to_table(samples: Sequence[Mapping[str, object]], meta: ShardMetadata) -> pa.Table:
    """Samples -> an in-memory table with the shard schema."""
    schema = shard_schema(meta)
    return pa.Table.from_batches([samples_to_batch(list(samples), schema)], schema=schema)


def write_shard(sink, samples: Iterable[Mapping[str, object]], meta: ShardMetadata) -> Dict[str, int]:
    """Write samples (dicts of the columns) as one Arrow IPC file to ``sink`` (a path or a
    writable binary file). Returns ``{"rows": ..., "tokens": ...}``."""
    schema = shard_schema(meta)

    def batches():
        chunk: List[Mapping[str, object]] = []
        for sample in samples:
            chunk.append(sample)
            if len(chunk) == ROWS_PER_BATCH:
                yield samples_to_batch(chunk, schema)
                chunk = []
        if chunk:
            yield samples_to_batch(chunk, schema)

    return _write_batches(sink, schema, batches())


def _numpy_list(column: pa.ChunkedArray) -> "tuple[np.ndarray, np.ndarray]":
    """(values, offsets) of a list column, zero-copy where Arrow allows it."""
    arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    offsets = arr.offsets.to_numpy()
    values = arr.values.to_numpy(zero_copy_only=False)
    return values, offsets


class ShardReader:
    """A memory-mapped shard. Token columns are exposed as flat NumPy arrays + offsets.

    >>> r = ShardReader("part-00000-of-00001.arrow")      # doctest: +SKIP
    >>> r.metadata.seq_len, r.num_rows, r.row(0)["sep"]   # doctest: +SKIP
    """

    def __init__(self, path: str):
        try:
            source = pa.memory_map(path, "r")
            table = pa.ipc.open_file(source).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise ShardFormatError(f"{path}: not a readable Arrow IPC file ({exc})") from exc
        self._init_from(table, path)

    @classmethod
    def from_table(cls, table: pa.Table, name: str = "<memory>") -> "ShardReader":
        """A reader over a table already in memory (tests, and checks before writing)."""
        reader = cls.__new__(cls)
        reader._init_from(table, name)
        return reader

    def _init_from(self, table: pa.Table, path: str) -> None:
        self.path = path
        raw = (table.schema.metadata or {}).get(METADATA_KEY)
        if raw is None:
            raise ShardFormatError(f"{path}: no glmprep metadata in the Arrow schema")
        self.metadata = ShardMetadata.from_json(raw.decode())
        self.schema = table.schema
        expected = shard_schema(self.metadata).remove_metadata()
        if not self.schema.remove_metadata().equals(expected):
            raise ShardFormatError(f"{path}: columns differ from the glmprep schema:\n{self.schema}")
        # Reading from a memory map keeps the buffers in the map: no copy of the shard.
        self.table = table
        self.num_rows = table.num_rows
        self._flat: Dict[str, "tuple[np.ndarray, np.ndarray]"] = {}

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
