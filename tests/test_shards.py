"""The shard transforms (assignment, gathering, writing), and the batch builder they use."""
from __future__ import annotations

import glob
import os

import apache_beam as beam
import numpy as np
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from glmprep.core.samples import builder as samples_lib
from glmprep.core.samples import SampleBuilder, SampleOptions, sentence_table
from glmprep.schemas.reader import ShardReader
from glmprep.transforms.shards import MIN_SHARD_TOKENS, WriteShards, num_shards_for, shard_of
from glmprep.transforms.tokenize import TokenizeDocuments
from glmprep.core.validate import validate_paths

DOCS = [(f"d{i:03d}", f"Document {i} talks about rivers. It has {i % 7} sentences! 中文句子{i}。")
        for i in range(60)] + [("empty-ish", "")]


def test_write_shards_in_parallel_and_valid(tmp_path):
    out = str(tmp_path)
    with TestPipeline() as p:
        tokens, _ = p | beam.Create(DOCS) | TokenizeDocuments()
        summaries = tokens | WriteShards(out, SampleOptions(seq_len=64), num_shards=3)
        assert_that(summaries | beam.Map(lambda s: s["file"]),
                    equal_to([f"part-0000{i}-of-00003.arrow" for i in range(3)]))
    files = sorted(glob.glob(os.path.join(out, "*.arrow")))
    assert len(files) == 3
    assert not glob.glob(os.path.join(out, "*.inprogress"))
    report = validate_paths(files)
    assert report.ok, [str(v) for v in report.violations]
    keys = {k for f in files for ids in ShardReader(f).table.column("source_ids").to_pylist() for k in ids}
    assert keys == {k for k, t in DOCS if t}
    for f in files:  # every document sits in the shard its key hashes to
        index = int(os.path.basename(f)[5:10])
        for ids in ShardReader(f).table.column("source_ids").to_pylist():
            assert all(shard_of(k, 3) == index for k in ids)


def test_shard_bytes_do_not_depend_on_how_a_bundle_gathers_documents(tmp_path, monkeypatch):
    import hashlib

    from glmprep.transforms import shards

    def shard_digests(out, gather_bytes):
        monkeypatch.setattr(shards, "GATHER_BYTES", gather_bytes)
        with TestPipeline() as p:
            tokens, _ = p | beam.Create(DOCS) | TokenizeDocuments()
            _ = tokens | WriteShards(str(out), SampleOptions(seq_len=64), num_shards=2)
        return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in out.glob("*.arrow")}

    whole = shard_digests(tmp_path / "whole", 1 << 30)  # a bundle's documents in one list per shard
    one_by_one = shard_digests(tmp_path / "one", 1)  # every document passed on by itself
    assert len(whole) == 2
    assert whole == one_by_one


def test_shard_count_from_tokens():
    assert num_shards_for(0, 100) == 1
    assert num_shards_for(1001, 100) == 11


def test_shard_count_has_a_floor_while_shards_stay_large_enough():
    per_shard = 16 * MIN_SHARD_TOKENS
    # a few shards' worth: as many shards of MIN_SHARD_TOKENS as fit, up to min_shards
    assert num_shards_for(MIN_SHARD_TOKENS - 1, per_shard, 8) == 1
    assert num_shards_for(3 * MIN_SHARD_TOKENS + 7, per_shard, 8) == 3
    assert num_shards_for(20 * MIN_SHARD_TOKENS, per_shard, 8) == 8
    # more tokens than min_shards shards of tokens_per_shard: the floor no longer matters
    assert num_shards_for(10 * per_shard + 1, per_shard, 8) == 11
    assert num_shards_for(20 * MIN_SHARD_TOKENS, per_shard, 1) == 2  # ceil(20 / 16)


def test_a_derived_count_gets_the_floor_of_min_shards(tmp_path, monkeypatch):
    """With --num-shards 0 the count comes from the total; the floor splits a run of one
    shard's worth into min_shards shards (shards of at least MIN_SHARD_TOKENS: patched
    down to fit the test's documents; the in-process runner calls the patched module)."""
    from glmprep.transforms import shards

    monkeypatch.setattr(shards, "MIN_SHARD_TOKENS", 50)
    counts = {}
    for min_shards in (1, 4):
        out = tmp_path / str(min_shards)
        with TestPipeline() as p:
            tokens, _ = p | beam.Create(DOCS) | TokenizeDocuments()
            _ = tokens | WriteShards(str(out), SampleOptions(seq_len=64), min_shards=min_shards)
        files = sorted(out.glob("*.arrow"))
        assert validate_paths([str(f) for f in files]).ok
        keys = {k for f in files for ids in ShardReader(str(f)).table.column("source_ids").to_pylist() for k in ids}
        assert keys == {k for k, t in DOCS if t}
        counts[min_shards] = [f.name for f in files]
    assert counts[1] == ["part-00000-of-00001.arrow"]
    assert counts[4] == [f"part-0000{i}-of-00004.arrow" for i in range(4)]


def test_batches_do_not_depend_on_chunking(tokenizer, monkeypatch):
    rng = np.random.default_rng(0)
    docs = [(f"k{i:04d}", rng.integers(0, 5000, int(rng.integers(1, 1500))).astype(np.uint32)) for i in range(300)]
    builder = SampleBuilder(SampleOptions(seq_len=256, seed=3), tokenizer.specials, sentence_table(tokenizer))

    def build():
        return [row for batch in builder.build_documents(docs) for row in batch.rows()]

    whole = build()
    monkeypatch.setattr(samples_lib, "CHUNK_TOKENS", 700)
    monkeypatch.setattr(samples_lib, "BUILD_BATCH_ROWS", 7)
    chunked = build()
    assert len(whole) == len(chunked) > 100
    for a, b in zip(whole, chunked):
        for name in a:
            assert np.array_equal(np.asarray(a[name]), np.asarray(b[name])), name


def test_a_shard_merged_from_many_runs_is_byte_identical(tmp_path):
    """The same shard from one run, and from six runs merged two at a time on local disk
    (``fan_in=2``): the writer sees the documents in the same key order."""
    from glmprep.core.records import pack
    from glmprep.transforms import shard_runs
    from glmprep.transforms.shards import WriteShardDoFn

    rng = np.random.default_rng(3)
    docs = [(f"k{int(rng.integers(0, 10**6)):07d}", pack(rng.integers(0, 50000, int(rng.integers(1, 900)),
                                                                     dtype=np.uint32).tobytes()))
            for _ in range(300)]
    elements = {"one": [ref for _, ref in shard_runs.write_run(str(tmp_path / "runs"), {0: docs})],
                "six": [ref for i in range(0, 300, 50)
                        for _, ref in shard_runs.write_run(str(tmp_path / "runs"), {0: docs[i:i + 50]})]}
    summaries = {}
    for name, fan_in in (("one", shard_runs.FAN_IN), ("six", 2)):
        out = tmp_path / name
        out.mkdir()
        fn = WriteShardDoFn(str(out), SampleOptions(seq_len=256), None, {}, fan_in=fan_in)
        fn.setup()
        [summaries[name]] = fn.process((0, elements[name]), num_shards=1)
    assert len(elements["six"]) == 6
    assert summaries["one"] == summaries["six"]
    assert summaries["six"]["documents"] == 300
    assert (tmp_path / "one" / "part-00000-of-00001.arrow").read_bytes() == \
        (tmp_path / "six" / "part-00000-of-00001.arrow").read_bytes()
