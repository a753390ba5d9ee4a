"""The one definition of a glmprep shard: Arrow schema, metadata, writer (the reader is
``glmprep.schemas.reader``).

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
    source_languages    list<string> language of the piece's document (glmprep.core.langid; "und": unknown)

``id`` is uint16 when the whole vocabulary fits, else uint32; ``pos`` is uint16
when seq_len fits, else uint32.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np
import pyarrow as pa

FORMAT_VERSION = 2  # 2: source_languages
METADATA_KEY = b"glmprep"
OBJECTIVES = ("blank", "sentence", "document")
# Special tokens get the ids right after the base vocabulary, in this order (GLM_SPEC §1, §6);
# glmprep.core.tokenizer assigns them, ShardReader checks a shard names exactly these.
SPECIAL_TOKENS = ("[MASK]", "[sMASK]", "[gMASK]", "sop", "eop", "ENC", "eos", "PAD")
TOKEN_COLUMNS = ("input_ids", "target_ids", "loss_mask", "position_ids", "block_position_ids")
SOURCE_COLUMNS = ("source_ids", "source_piece", "source_num_pieces", "source_lengths")
LANGUAGE_COLUMN = "source_languages"
UNKNOWN_LANGUAGE = "und"  # samples built without a language (the shard writer always sets one)
ROWS_PER_BATCH = 1024
# Arrow IPC buffer compression of a shard file: "none" keeps it memory-mappable (readers
# use the mapped bytes as they are); lz4 and zstd make it smaller, and readers decompress.
COMPRESSIONS = ("none", "lz4", "zstd")


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
    def from_json(cls, text: str, where: str = "shard") -> "ShardMetadata":
        """Metadata from its JSON text, every field checked (ShardFormatError names the first wrong one)."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ShardFormatError(f"{where}: glmprep metadata is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ShardFormatError(f"{where}: glmprep metadata is {type(data).__name__}, expected a JSON object")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ShardFormatError(
                f"{where}: shard format version {show_value(version)} is not supported (this glmprep reads {FORMAT_VERSION})")
        problem = metadata_problem(data)
        if problem:
            raise ShardFormatError(f"{where}: glmprep metadata: {problem}")
        return cls(**data)


# Bounds on what metadata may declare, so that no reader allocates by a crafted number:
# the trainer sizes count arrays by vocab_size and position embeddings by seq_len.
MAX_VOCAB_SIZE = 1 << 24   # 16.7 M ids (cl100k has 100 k); ids are stored as uint16/uint32
MAX_SEQ_LEN = 1 << 20      # 1 M tokens per sample
_FIELD_TYPES = {"tokenizer_name": str, "tokenizer_sha256": str, "base_vocab_size": int, "vocab_size": int,
                "special_tokens": dict, "seq_len": int, "objective_weights": dict, "sample_options": dict,
                "seed": int, "format_version": int, "extra": dict}
_REQUIRED = set(_FIELD_TYPES) - {"extra"}


def show_value(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def metadata_problem(data: Mapping[str, object]) -> Optional[str]:
    """What is wrong with shard metadata read from JSON, or None when every field is as
    GLM_SPEC §6 and the readers need it."""
    unknown = sorted(set(data) - set(_FIELD_TYPES))
    if unknown:
        return f"unknown field {show_value(unknown[0])}"
    missing = sorted(_REQUIRED - set(data))
    if missing:
        return f"field {missing[0]} is missing"
    for name, kind in _FIELD_TYPES.items():
        if name in data and not (_is_int(data[name]) if kind is int else isinstance(data[name], kind)):
            return f"{name} is {show_value(data[name])}, expected {'an integer' if kind is int else kind.__name__}"
    base, vocab, seq_len = data["base_vocab_size"], data["vocab_size"], data["seq_len"]
    if not 0 < base < vocab <= MAX_VOCAB_SIZE:
        return f"base_vocab_size {base} and vocab_size {vocab} must satisfy 0 < base < vocab ≤ {MAX_VOCAB_SIZE}"
    if not 0 < seq_len <= MAX_SEQ_LEN:
        return f"seq_len {seq_len} is outside 1..{MAX_SEQ_LEN}"
    specials = data["special_tokens"]
    if set(specials) != set(SPECIAL_TOKENS):
        return f"special_tokens must name exactly {', '.join(SPECIAL_TOKENS)}"
    bad = [k for k, v in specials.items() if not (_is_int(v) and base <= v < vocab)]
    if bad:
        return f"special token {bad[0]} id {show_value(specials[bad[0]])} is outside the specials {base}..{vocab - 1}"
    shared = len(specials) - len(set(specials.values()))
    if shared > (1 if specials["eos"] == specials["PAD"] else 0):   # eos and PAD may share one id
        return "two special tokens share an id"
    weights = data["objective_weights"]
    if not all(isinstance(k, str) and _is_number(v) and v >= 0 for k, v in weights.items()):
        return f"objective_weights {show_value(weights)} must map objectives to numbers ≥ 0"
    opts = data["sample_options"]
    for name, test, want in (("max_span", lambda v: _is_int(v) and v > 0, "a positive integer"),
                             ("mask_ratio", lambda v: _is_number(v) and 0 <= v <= 1, "a number in 0..1"),
                             ("poisson_lambda", lambda v: _is_number(v) and v > 0, "a positive number"),
                             ("document_ratio", lambda v: isinstance(v, list) and len(v) == 2 and
                              all(_is_number(x) and 0 <= x <= 1 for x in v), "two numbers in 0..1")):
        if name in opts and not test(opts[name]):
            return f"sample_options.{name} is {show_value(opts[name])}, expected {want}"
    return None


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
            (LANGUAGE_COLUMN, pa.list_(pa.string())),
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
        if f.name == LANGUAGE_COLUMN:
            col = [s.get(f.name) or [UNKNOWN_LANGUAGE] * len(s["source_ids"]) for s in samples]
        else:
            col = [s[f.name] for s in samples]
        if pa.types.is_list(f.type) and f.name not in ("source_ids", LANGUAGE_COLUMN):
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
        elif f.name == LANGUAGE_COLUMN:
            languages = columns.source_languages or [UNKNOWN_LANGUAGE] * len(columns.source_ids)
            arrays.append(pa.ListArray.from_arrays(source_offsets, pa.array(languages, type=pa.string())))
        elif f.name in SOURCE_COLUMNS:
            raw = getattr(columns, f.name)
            values = pa.array(raw, type=f.type.value_type) if f.name == "source_ids" else \
                pa.array(np.asarray(raw).astype(np.uint32, copy=False), type=f.type.value_type)
            arrays.append(pa.ListArray.from_arrays(source_offsets, values))
        else:
            arrays.append(pa.array(np.asarray(getattr(columns, f.name)) if f.name == "sep" else
                                   getattr(columns, f.name), type=f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def write_shard_columns(sink, batches: Iterable[object], meta: ShardMetadata,
                        compression: str = "none") -> Dict[str, int]:
    """Write batches of samples in columns as one Arrow IPC file; returns rows and tokens."""
    schema = shard_schema(meta)
    return _write_batches(sink, schema, (columns_to_batch(columns, schema) for columns in batches), compression)


def _write_batches(sink, schema: pa.Schema, batches: Iterable[pa.RecordBatch],
                   compression: str = "none") -> Dict[str, int]:
    """The one place a shard file is written: ``{"rows": ..., "tokens": ...}``; buffers
    compressed with ``compression`` (one of COMPRESSIONS)."""
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {', '.join(COMPRESSIONS)}, got {compression!r}")
    options = pa.ipc.IpcWriteOptions(compression=None if compression == "none" else compression)
    rows = tokens = 0
    with pa.ipc.new_file(sink, schema, options=options) as writer:
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


def write_shard(sink, samples: Iterable[Mapping[str, object]], meta: ShardMetadata,
                compression: str = "none") -> Dict[str, int]:
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

    return _write_batches(sink, schema, batches(), compression)
