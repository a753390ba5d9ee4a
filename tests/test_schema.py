"""The shard format: round trip, narrowest integer types, metadata, version check."""
from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest

from glmprep.core.samples import SampleOptions
from glmprep.schemas.reader import ShardReader
from glmprep.schemas.shard import (FORMAT_VERSION, METADATA_KEY, ShardFormatError, ShardMetadata,
                                   shard_schema, write_shard)

from support import toy_metadata


def sample(n, sep):
    return {"input_ids": np.arange(n), "target_ids": np.arange(n) + 1, "loss_mask": (np.arange(n) >= sep),
            "position_ids": np.arange(n), "block_position_ids": np.zeros(n), "sep": sep,
            "objective": "blank", "source_ids": ["a", "b"], "source_piece": [0, 1],
            "source_num_pieces": [1, 2], "source_lengths": [3, 4]}


def test_round_trip_memory_mapped(tmp_path):
    meta = toy_metadata(SampleOptions(seq_len=64))
    path = str(tmp_path / "s.arrow")
    rows = [sample(10, 6), sample(7, 3)] * 700  # more than one record batch
    assert write_shard(path, rows, meta) == {"rows": 1400, "tokens": 700 * 17}
    allocated = pa.total_allocated_bytes()
    reader = ShardReader(path)
    # memory-mapped: reading allocates (almost) nothing on the heap for the columns
    assert pa.total_allocated_bytes() - allocated < 1000
    assert reader.metadata == meta
    assert reader.num_rows == 1400
    row = reader.row(1)
    assert row["input_ids"].tolist() == list(range(7))
    assert row["sep"] == 3
    assert row["source_ids"] == ["a", "b"]
    assert row["source_lengths"].tolist() == [3, 4]
    values, offsets = reader.flat("input_ids")
    assert values.dtype == np.uint16
    assert offsets[-1] == 700 * 17


def test_narrowest_integer_types():
    small = toy_metadata(SampleOptions(seq_len=512))
    big = dataclasses.replace(small, vocab_size=100264, base_vocab_size=100256)
    assert shard_schema(small).field("input_ids").type == pa.list_(pa.uint16())
    assert shard_schema(big).field("input_ids").type == pa.list_(pa.uint32())
    assert shard_schema(small).field("position_ids").type == pa.list_(pa.uint16())
    long = dataclasses.replace(small, seq_len=70000)
    assert shard_schema(long).field("position_ids").type == pa.list_(pa.uint32())


def test_metadata_records_the_contract():
    meta = toy_metadata(SampleOptions(seq_len=128, seed=3))
    stored = ShardMetadata.from_json(shard_schema(meta).metadata[METADATA_KEY].decode())
    assert stored.format_version == FORMAT_VERSION
    assert stored.seed == 3
    assert stored.seq_len == 128
    assert stored.sample_options["poisson_lambda"] == 3.0
    assert stored.special_tokens["[MASK]"] == 1000


def test_other_versions_and_foreign_files_are_refused(tmp_path):
    meta = dataclasses.replace(toy_metadata(SampleOptions()), format_version=FORMAT_VERSION + 1)
    path = str(tmp_path / "future.arrow")
    with pa.OSFile(path, "wb") as fh, pa.ipc.new_file(fh, shard_schema(meta)):
        pass
    with pytest.raises(ShardFormatError, match="format version"):
        ShardReader(path)
    plain = str(tmp_path / "plain.arrow")
    with pa.OSFile(plain, "wb") as fh, pa.ipc.new_file(fh, pa.schema([("x", pa.int8())])):
        pass
    with pytest.raises(ShardFormatError, match="no glmprep metadata"):
        ShardReader(plain)
