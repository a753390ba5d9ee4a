"""Crafted shards: every reader refuses them with one line naming the file, never a traceback.

Each case starts from a real shard (built by the sample builder, written by ``write_shard``)
and breaks one thing: the metadata JSON (any shape), a column's type, Arrow offsets, nulls,
ids past the vocabulary, ``sep`` 0 or 4·10⁹. Hypothesis feeds arbitrary JSON as metadata and
flips bytes of whole files."""
from __future__ import annotations

import dataclasses
import json
import struct

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glmprep.core.samples import SampleOptions
from glmprep.pipeline.cli import main
from glmprep.schemas import ipc_sizes
from glmprep.schemas.ipc_sizes import declared_uncompressed_bytes
from glmprep.schemas.reader import ShardReader, check_shard, shard_problems
from glmprep.schemas.shard import (MAX_VOCAB_SIZE, METADATA_KEY, ShardFormatError, samples_to_table,
                                   shard_schema)

from support import TOY_BASE_VOCAB, TOY_SPECIALS as SP, toy_metadata, toy_samples

OPTIONS = SampleOptions(seq_len=64, seed=4)
META = toy_metadata(OPTIONS)


@pytest.fixture(scope="module")
def table():
    return samples_to_table(toy_samples(OPTIONS, documents=30, longest=80), META)


def write_table(path, table: pa.Table) -> str:
    with pa.OSFile(str(path), "wb") as fh, pa.ipc.new_file(fh, table.schema) as writer:
        writer.write_table(table, max_chunksize=7)  # several record batches
    return str(path)


def refused(path, match: str = "") -> str:
    """The one-line error ShardReader raises for ``path`` (asserting it names the file)."""
    with pytest.raises(ShardFormatError) as info:
        ShardReader(str(path))
    text = str(info.value)
    assert text.startswith(str(path)), text
    assert "\n" not in text, text
    assert match in text, text
    return text


def with_metadata(table: pa.Table, raw: bytes) -> pa.Table:
    return table.replace_schema_metadata({METADATA_KEY: raw})


def meta_json(**changes) -> bytes:
    data = json.loads(META.to_json())
    for key, value in changes.items():
        if value is KeyError:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data).encode()


def replace_column(table: pa.Table, name: str, array: pa.Array) -> pa.Table:
    i = table.schema.get_field_index(name)
    field = table.schema.field(i).with_type(array.type)
    return table.set_column(i, field, array)


def test_a_good_shard_opens_and_passes(table, tmp_path):
    reader = ShardReader(write_table(tmp_path / "good.arrow", table))
    assert reader.num_rows == table.num_rows
    assert shard_problems(reader) == []
    check_shard(reader)


@pytest.mark.parametrize("raw, match", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[1, 2]", "expected a JSON object"),
    (b'"text"', "expected a JSON object"),
    (b"null", "expected a JSON object"),
    (b"[" * 100_000 + b"]" * 100_000, "metadata"),
    (meta_json(format_version="1"), "format version"),
    (meta_json(vocab_size=KeyError), "vocab_size is missing"),
    (meta_json(vocab_size="1008"), "vocab_size is '1008', expected an integer"),
    (meta_json(vocab_size=True), "vocab_size"),
    (meta_json(vocab_size=1008.0), "vocab_size"),
    (meta_json(vocab_size=MAX_VOCAB_SIZE + 1), "vocab_size"),
    (meta_json(base_vocab_size=-5), "base_vocab_size"),
    (meta_json(seq_len=0), "seq_len 0"),
    (meta_json(seq_len=4_000_000_000), "seq_len 4000000000"),
    (meta_json(special_tokens=[1, 2]), "special_tokens"),
    (meta_json(special_tokens={"[MASK]": 1000}), "special_tokens must name"),
    (meta_json(special_tokens={**SP.as_map(), "PAD": 5}), "special token PAD"),
    (meta_json(special_tokens={**SP.as_map(), "PAD": "x"}), "special token PAD"),
    (meta_json(objective_weights={"blank": "heavy"}), "objective_weights"),
    (meta_json(sample_options={"max_span": -1}), "sample_options.max_span"),
    (meta_json(sample_options={"document_ratio": [0.5]}), "sample_options.document_ratio"),
    (meta_json(sample_options={"mask_ratio": float("nan")}), "sample_options.mask_ratio"),
    (meta_json(seed="0"), "seed"),
    (meta_json(surprise=1), "unknown field 'surprise'"),
])
def test_bad_metadata_of_any_shape_is_one_line(table, tmp_path, raw, match):
    refused(write_table(tmp_path / "s.arrow", with_metadata(table, raw)), match)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(sorted(json.loads(META.to_json()))), value=json_values)
def test_fuzzed_metadata_field_opens_or_is_refused_in_one_line(table, tmp_path, field, value):
    raw = meta_json(**{field: value})
    path = write_table(tmp_path / "fuzz.arrow", with_metadata(table, raw))
    try:
        reader = ShardReader(path)
    except ShardFormatError as exc:
        assert str(exc).startswith(path)
        assert "\n" not in str(exc)
    else:  # accepted: then it is a metadata every reader can use
        assert reader.metadata.vocab_size > reader.metadata.base_vocab_size > 0


@settings(max_examples=60, deadline=None)
@given(doc=json_values)
def test_fuzzed_metadata_document(doc):
    table = samples_to_table([], META)
    try:
        ShardReader.from_table(with_metadata(table, json.dumps(doc).encode()), "x.arrow")
    except ShardFormatError as exc:
        assert str(exc).startswith("x.arrow")
        assert "\n" not in str(exc)


@pytest.mark.parametrize("name, array, match", [
    ("input_ids", pa.array([[1]], pa.list_(pa.int64())), "column input_ids is list<item: int64>, expected list<item: uint16>"),
    ("sep", pa.array(["3"]), "column sep is string, expected uint32"),
    ("objective", pa.array([1], pa.int8()), "column objective is int8"),
])
def test_wrong_column_types(table, tmp_path, name, array, match):
    small = table.slice(0, 1)
    refused(write_table(tmp_path / "s.arrow", replace_column(small, name, array)), match)


def test_missing_and_extra_columns(table, tmp_path):
    refused(write_table(tmp_path / "a.arrow", table.drop_columns(["source_lengths"])), "column source_lengths is missing")
    extra = table.append_column("surprise", pa.array(np.zeros(table.num_rows, np.int8)))
    refused(write_table(tmp_path / "b.arrow", extra), "unexpected column surprise")


def broken_offsets(column: pa.ChunkedArray, offsets: np.ndarray) -> pa.Array:
    """A list array with the given offsets over the column's values, not validated."""
    arr = column.combine_chunks()
    return pa.ListArray.from_buffers(arr.type, len(offsets) - 1, [None, pa.py_buffer(offsets.astype(np.int32))],
                                     children=[arr.values])


@pytest.mark.parametrize("change", ["decreasing", "negative"])
def test_inconsistent_list_offsets(table, tmp_path, change):
    arr = table.column("input_ids").combine_chunks()
    offsets = arr.offsets.to_numpy().copy()
    if change == "decreasing":
        offsets[2], offsets[3] = offsets[3], offsets[2]
    else:
        offsets[1] = -7
    bad = replace_column(table, "input_ids", broken_offsets(table.column("input_ids"), offsets))
    refused(write_table(tmp_path / "s.arrow", bad), "inconsistent Arrow data")


def test_offsets_past_the_values_in_the_file(table, tmp_path):
    """Arrow will not build such an array, so the file's bytes are patched: the one row's
    offsets [0, n] of every token column become [0, n + 10⁶]."""
    one = table.slice(4, 1)
    path = write_table(tmp_path / "s.arrow", one)
    n = len(one.column("input_ids")[0])
    data = open(path, "rb").read()
    pattern = struct.pack("<ii", 0, n)
    assert data.count(pattern) >= 5
    (tmp_path / "s.arrow").write_bytes(data.replace(pattern, struct.pack("<ii", 0, n + 10 ** 6)))
    refused(path)


def test_nulls_are_refused(table, tmp_path):
    sep = pa.array([None] + table.column("sep").to_pylist()[1:], pa.uint32())
    refused(write_table(tmp_path / "a.arrow", replace_column(table, "sep", sep)), "column sep holds 1 null")
    ids = table.column("source_ids").to_pylist()
    ids[2] = [None]
    refused(write_table(tmp_path / "b.arrow", replace_column(table, "source_ids", pa.array(ids, pa.list_(pa.string())))),
            "column source_ids holds 1 null")


def rows_changed(table: pa.Table, name: str, row: int, fn) -> pa.Table:
    values = table.column(name).to_pylist()
    values[row] = fn(values[row])
    return replace_column(table, name, pa.array(values, table.schema.field(name).type))


@pytest.mark.parametrize("name, fn, match", [
    ("input_ids", lambda v: [TOY_BASE_VOCAB + 8] + v[1:], "vocab: row 5: input_ids holds an id ≥ vocab_size 1008"),
    ("target_ids", lambda v: v[:-1] + [60000], "vocab: row 5: target_ids"),
    ("sep", lambda v: 0, "sep: row 5: sep 0 with length"),
    ("sep", lambda v: 4_000_000_000, "sep: row 5: sep 4000000000"),
    ("position_ids", lambda v: v[:-1] + [64], "positions: row 5"),
    ("block_position_ids", lambda v: v[:-1] + [65], "positions: row 5"),
    ("loss_mask", lambda v: [2] + v[1:], "loss_mask: row 5"),
    ("objective", lambda v: "<script>", "objective: row 5: objective '<script>'"),
    ("source_piece", lambda v: v + [0], "sources: row 5: source_piece has"),
    ("target_ids", lambda v: v + [1], "row_lengths: row 5: target_ids"),
])
def test_value_rules_refuse_with_file_rule_and_row(table, tmp_path, name, fn, match):
    text = refused(write_table(tmp_path / "s.arrow", rows_changed(table, name, 5, fn)), match)
    assert text.count(":") <= 6


def test_validate_reports_the_same_rules_without_a_traceback(table, tmp_path, capsys):
    path = write_table(tmp_path / "s.arrow", rows_changed(table, "sep", 5, lambda v: 4_000_000_000))
    assert main(["validate", path]) == 1
    out = capsys.readouterr().out
    assert "s.arrow: sep: 1 row(s) [5]: sep 4000000000" in out


def test_empty_source_list_and_zero_length_row(table, tmp_path):
    empty = rows_changed(table, "source_ids", 3, lambda v: [])
    for name in ("source_piece", "source_num_pieces", "source_lengths"):
        empty = rows_changed(empty, name, 3, lambda v: [])
    refused(write_table(tmp_path / "a.arrow", empty), "sources: row 3: a sample without source_ids")


def flip_bytes(data: bytes, positions, values) -> bytes:
    out = bytearray(data)
    for p, v in zip(positions, values):
        out[p % len(out)] = v
    return bytes(out)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(positions=st.lists(st.integers(0, 1 << 30), min_size=1, max_size=4),
       values=st.lists(st.integers(0, 255), min_size=4, max_size=4))
def test_fuzzed_shard_bytes_open_or_are_refused_in_one_line(table, tmp_path, positions, values):
    good = tmp_path / "good.arrow"
    if not good.exists():
        write_table(good, table.slice(0, 20))
    path = tmp_path / "fuzz.arrow"
    path.write_bytes(flip_bytes(good.read_bytes(), positions, values))
    try:
        reader = ShardReader(str(path))
    except ShardFormatError as exc:
        assert str(exc).startswith(str(path))
        assert "\n" not in str(exc)
    else:
        for r in range(reader.num_rows):  # whatever was accepted reads without an error
            row = reader.row(r)
            assert 0 < row["sep"] < len(row["input_ids"]) <= reader.metadata.seq_len
            assert int(row["input_ids"].max()) < reader.metadata.vocab_size


def test_schema_helper_agrees_with_metadata(table):
    assert table.schema.remove_metadata().equals(shard_schema(dataclasses.replace(META)).remove_metadata())


def test_a_column_name_that_is_not_utf8(table, tmp_path):
    """Found by the byte fuzzer: Arrow reads the file, then naming a column raises UnicodeDecodeError."""
    path = write_table(tmp_path / "s.arrow", table.slice(0, 3))
    data = open(path, "rb").read()
    assert data.count(b"objective") >= 1
    (tmp_path / "s.arrow").write_bytes(data.replace(b"objective", b"\x80bjective"))
    refused(path, "not UTF-8")


def test_train_refuses_a_shard_that_fails_the_checks(table, tmp_path, capsys):
    path = write_table(tmp_path / "s.arrow", rows_changed(table, "input_ids", 2, lambda v: [TOY_BASE_VOCAB + 8] + v[1:]))
    assert main(["train", "--data", path, "--out", str(tmp_path / "model"), "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert f"{path}: vocab: row 2" in err


def write_compressed(path, table: pa.Table, codec: str) -> str:
    options = pa.ipc.IpcWriteOptions(compression=codec)
    with pa.OSFile(str(path), "wb") as fh, pa.ipc.new_file(fh, table.schema, options=options) as writer:
        writer.write_table(table, max_chunksize=7)
    return str(path)


@pytest.mark.parametrize("codec", ["lz4", "zstd"])
def test_compressed_shards_open_and_declare_their_true_size(table, tmp_path, codec):
    path = write_compressed(tmp_path / "c.arrow", table, codec)
    data = pa.memory_map(path).read_buffer()
    assert declared_uncompressed_bytes(data) == pytest.approx(table.nbytes, rel=0.1)  # buffers padded to 8 bytes
    assert ShardReader(path).num_rows == table.num_rows


@pytest.mark.parametrize("codec", ["lz4", "zstd"])
def test_a_decompression_bomb_is_refused_before_allocating(table, tmp_path, codec):
    """One compressed buffer's size prefix is patched to 4 GiB: refused from the metadata, with
    (almost) nothing allocated."""
    path = write_compressed(tmp_path / "bomb.arrow", table, codec)
    data = bytearray(open(path, "rb").read())
    footer_len = struct.unpack_from("<i", data, len(data) - 10)[0]
    footer = bytes(data[len(data) - 10 - footer_len:len(data) - 10])
    start, _ = ipc_sizes._root(footer).structs(3, 24)
    offset, meta_len, body_len = struct.unpack_from("<qi4xq", footer, start)
    message = pa.ipc.read_message(pa.py_buffer(bytes(data[offset:offset + meta_len + body_len])))
    meta = message.metadata.to_pybytes()
    bstart, count = ipc_sizes._root(meta).table(2).structs(2, 16)
    boff = next(o for o, n in (struct.unpack_from("<qq", meta, bstart + 16 * k) for k in range(count)) if n >= 8)
    body_start = offset + meta_len
    struct.pack_into("<q", data, body_start + boff, 4 << 30)
    (tmp_path / "bomb.arrow").write_bytes(bytes(data))
    allocated = pa.total_allocated_bytes()
    refused(path, "buffers declare 4,294,")
    assert pa.total_allocated_bytes() - allocated < 1 << 20
