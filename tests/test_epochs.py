"""--epochs K: K independently masked versions of the same documents (builder and pipeline)."""
from __future__ import annotations

import numpy as np
import pytest

from glmprep.core.samples import SampleBuilder, SampleOptions
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
