"""--epochs K: K independently masked versions of the same documents (builder and pipeline)."""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from glmprep.core.samples import SampleBuilder, SampleOptions
from glmprep.core.tokenizer import SpecialIds
from glmprep.core.validate import validate_reader
from glmprep.schemas.reader import ShardReader
from glmprep.schemas.shard import samples_to_table

from support import TOY_BASE_VOCAB, TOY_SPECIALS, toy_metadata
from test_samples import rebuild_documents


def toy_documents(n=40, seed=5):
    """Short and long documents (some cut into pieces), a sentence end every 3-30 tokens."""
    rng = np.random.default_rng(seed)
    docs = {}
    for i in range(n):
        tokens = rng.integers(0, TOY_BASE_VOCAB, int(rng.integers(3, 900))).astype(np.uint32)
        ends = np.isin(np.arange(len(tokens)), np.cumsum(rng.integers(3, 30, len(tokens))))
        docs[f"doc{i:03d}"] = (tokens, ends)
    return docs


def build_epoch(docs, options, epoch):
    builder = SampleBuilder(options, TOY_SPECIALS, epoch=epoch)
    stream = ((k, docs[k][0], docs[k][1]) for k in sorted(docs))
    return [row for batch in builder.build_documents(stream) for row in batch.rows()]


def rows_equal(a, b):
    return len(a) == len(b) and all(np.array_equal(np.asarray(x[k]), np.asarray(y[k]))
                                    for x, y in zip(a, b) for k in x)


OPTIONS = [SampleOptions(seq_len=256, seed=3, epochs=3),
           SampleOptions(seq_len=128, seed=7, epochs=3, objective_weights={"blank": 1.0}, enc="document"),
           SampleOptions(seq_len=200, seed=1, epochs=3, objective_weights={"sentence": 1.0},
                         span_boundaries="token")]


@pytest.mark.parametrize("options", OPTIONS, ids=["mix", "blank", "sentence"])
def test_epochs_differ_are_deterministic_hold_the_same_tokens_and_validate(options):
    docs = toy_documents()
    epochs = [build_epoch(docs, options, e) for e in range(options.epochs)]
    for e, rows in enumerate(epochs):
        assert rows_equal(rows, build_epoch(docs, options, e)), f"epoch {e} is not deterministic"
        # every epoch holds every document's tokens, exactly once
        assert rebuild_documents(rows) == {k: v[0].tolist() for k, v in docs.items()}
        report = validate_reader(ShardReader.from_table(samples_to_table(rows, toy_metadata(options))))
        assert report.ok, [str(v) for v in report.violations]
    for a in range(options.epochs):
        for b in range(a + 1, options.epochs):
            assert not rows_equal(epochs[a], epochs[b]), f"epochs {a} and {b} are the same"
            # fresh masks, not a reshuffle: the masked inputs of most rows differ
            inputs_a = {bytes(np.asarray(r["input_ids"], np.uint32)) for r in epochs[a]}
            inputs_b = {bytes(np.asarray(r["input_ids"], np.uint32)) for r in epochs[b]}
            assert len(inputs_a & inputs_b) < 0.1 * len(inputs_a)


def test_epoch_zero_is_the_single_epoch_build():
    # --epochs K keeps epoch 0 exactly what --epochs 1 writes
    docs = toy_documents(n=20, seed=9)
    one, many = SampleOptions(seq_len=256, seed=2), SampleOptions(seq_len=256, seed=2, epochs=4)
    assert rows_equal(build_epoch(docs, one, 0), build_epoch(docs, many, 0))


def test_epochs_out_of_range_are_refused():
    with pytest.raises(ValueError, match="epochs must be in 1"):
        SampleOptions(epochs=0)


# --------------------------------------------------------------------------- the pipeline
def run_epochs(out, epochs, *extra):
    from glmprep.pipeline.cli import main
    from test_pipeline import run_args
    assert main(run_args(out, "--no-near-dedup", "--epochs", str(epochs), *extra)) == 0
    return out


@pytest.fixture(scope="module")
def three_epochs(tmp_path_factory):
    return run_epochs(tmp_path_factory.mktemp("epochs") / "out", 3)


def test_pipeline_writes_one_validating_shard_set_per_epoch(three_epochs):
    from glmprep.core.validate import validate_paths
    from glmprep.loader import shard_paths
    from glmprep.pipeline.manifest import read_manifest
    manifest = read_manifest(str(three_epochs))
    assert manifest["totals"]["epochs"] == 3
    assert [s["epoch"] for s in manifest["shards"]] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert len(manifest["samples"]["epochs"]) == 3
    sets = [shard_paths(str(three_epochs), e) for e in range(3)]
    assert [os.path.basename(p) for p in sets[2]] == [f"part-0000{i}-of-00003-epoch-002.arrow" for i in range(3)]
    assert sorted(p for s in sets for p in s) == sorted(glob.glob(str(three_epochs / "*.arrow")))
    report = validate_paths([str(three_epochs)])        # every epoch, the manifest, the accounting
    assert report.ok, [str(v) for v in report.violations]
    for paths in sets:                                   # and each epoch's shard set on its own
        alone = validate_paths(paths)
        assert alone.ok, [str(v) for v in alone.violations]
    metas = [ShardReader(s[0]).metadata.sample_options for s in sets]
    assert [(m["epochs"], m["epoch"]) for m in metas] == [(3, 0), (3, 1), (3, 2)]
    # the same documents and source tokens in every epoch
    keys = [{k for p in s for row in ShardReader(p).table.column("source_ids").to_pylist() for k in row}
            for s in sets]
    assert keys[0] == keys[1] == keys[2] and len(keys[0]) == manifest["totals"]["documents_kept"]
    meta = ShardReader(sets[0][0]).metadata
    specials = SpecialIds.from_map(meta.base_vocab_size, meta.special_tokens)
    rebuilt = [rebuild_documents([{k: np.asarray(v) if isinstance(v, list) else v for k, v in row.items()}
                                  for p in s for row in ShardReader(p).table.to_pylist()], specials)
               for s in sets]
    assert rebuilt[0] == rebuilt[1] == rebuilt[2]
    # masked afresh: few rows of one epoch appear in another
    inputs = [{tuple(r) for p in s for r in ShardReader(p).table.column("input_ids").to_pylist()} for s in sets]
    for a in range(3):
        for b in range(a + 1, 3):
            assert len(inputs[a] & inputs[b]) < 0.1 * len(inputs[a])


def test_pipeline_epochs_are_deterministic_and_epoch_zero_is_the_one_epoch_run(three_epochs, tmp_path):
    from glmprep.pipeline.manifest import read_manifest
    again = read_manifest(str(run_epochs(tmp_path / "again", 3)))
    first = read_manifest(str(three_epochs))
    assert [(s["file"], s["sha256"]) for s in again["shards"]] == [(s["file"], s["sha256"]) for s in first["shards"]]
    one = read_manifest(str(run_epochs(tmp_path / "one", 1)))
    assert [s["file"] for s in one["shards"]] == [f"part-0000{i}-of-00003.arrow" for i in range(3)]
    assert one["totals"]["epochs"] == 1 and [s["epoch"] for s in one["shards"]] == [0, 0, 0]
    # epoch 0's rows are the rows of the one-epoch run (only the metadata names the epochs)
    for single, epoch0 in zip(one["shards"], first["shards"][:3]):
        a = ShardReader(str(tmp_path / "one" / single["file"])).table
        b = ShardReader(str(three_epochs / epoch0["file"])).table
        assert a.equals(b.replace_schema_metadata(a.schema.metadata))
