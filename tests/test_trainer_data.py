"""The trainer's shard loader: rows read back from memory-mapped shards, tokenizer checks,
deterministic shuffling, padding, the held-out split, and vocabulary compaction.

The helpers here (toy shards built with the real sample builder) are shared with
test_trainer_train.py.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from glmprep.core.samples import SampleBuilder, SampleOptions, split_document
from glmprep.schemas import ShardFormatError, ShardMetadata, write_shard
from glmprep.core.tokenizer import SpecialIds
from glmprep.trainer.data import (BatchStream, TokenizerMismatch, collate, count_ids, cursor_position,
                                  epoch_batches, epoch_order, open_shards, split_rows)
from glmprep.trainer.vocab import VocabMap

TOY_BASE = 1000
TOY_SP = SpecialIds.after(TOY_BASE)


def toy_meta(seq_len: int = 64, sha: str = "0" * 64, base: int = TOY_BASE, **kw) -> ShardMetadata:
    return ShardMetadata(tokenizer_name="toy", tokenizer_sha256=sha, base_vocab_size=base, vocab_size=base + 8,
                         special_tokens=SpecialIds.after(base).as_map(), seq_len=seq_len,
                         objective_weights={"blank": 0.5, "sentence": 0.25, "document": 0.25},
                         sample_options={}, seed=0, **kw)


def counting_docs(n: int, seed: int = 0, vocab: int = 40):
    """Documents that count upward by a per-document stride: a pattern a tiny model can learn."""
    rng = np.random.default_rng(seed)
    docs = []
    for d in range(n):
        length = int(rng.integers(8, 40))
        start, stride = int(rng.integers(0, vocab)), int(rng.integers(1, 3))
        docs.append((f"doc-{d:04d}", 10 + (start + stride * np.arange(length)) % vocab))
    return docs


def toy_samples(docs, seq_len: int = 64, seed: int = 0, base: int = TOY_BASE):
    """GLM samples from token documents, through the pipeline's own builder."""
    builder = SampleBuilder(SampleOptions(seq_len=seq_len, seed=seed), SpecialIds.after(base))
    pieces = []
    for key, tokens in docs:
        ends = np.zeros(len(tokens), dtype=bool)
        ends[7::8] = True  # a "sentence" every 8 tokens
        pieces.extend(split_document(key, tokens.astype(np.uint32), ends, builder.max_piece_len))
    return list(builder.pack_pieces(pieces))


def write_toy_shards(directory, n_shards: int = 2, n_docs: int = 60, seq_len: int = 64, seed: int = 0,
                     meta: ShardMetadata = None):
    """Shards part-0000i-of-0000n.arrow under ``directory``; returns the samples per shard."""
    directory.mkdir(parents=True, exist_ok=True)
    samples = toy_samples(counting_docs(n_docs, seed), seq_len, seed)
    per_shard = [samples[i::n_shards] for i in range(n_shards)]
    for i, rows in enumerate(per_shard):
        write_shard(str(directory / f"part-{i:05d}-of-{n_shards:05d}.arrow"), rows, meta or toy_meta(seq_len))
    return per_shard


@pytest.fixture
def shard_dir(tmp_path):
    per_shard = write_toy_shards(tmp_path / "shards")
    return tmp_path / "shards", [s for rows in per_shard for s in rows]


def test_rows_read_back_exactly(shard_dir):
    path, samples = shard_dir
    shards = open_shards(str(path))
    assert len(shards) == len(samples)
    for r, s in enumerate(samples):
        for name in ("input_ids", "target_ids", "loss_mask", "position_ids", "block_position_ids"):
            np.testing.assert_array_equal(shards.row_tokens(name, r), s[name])
        assert shards.sep[r] == s["sep"]
        assert shards.lengths[r] == len(s["input_ids"])
        assert ("blank", "sentence", "document")[shards.objective[r]] == s["objective"]
        assert shards.document_key[r] == s["source_ids"][0]


def test_token_columns_stay_in_the_memory_map(shard_dir):
    shards = open_shards(str(shard_dir[0]))
    for values, offsets in shards.column_chunks("input_ids"):
        assert not values.flags.owndata  # a view of the mapped file, not a copy


def test_rejects_a_shard_with_another_tokenizer(tmp_path):
    write_toy_shards(tmp_path / "d", n_shards=1)
    write_shard(str(tmp_path / "d" / "part-00001-of-00001.arrow"), toy_samples(counting_docs(3)),
                toy_meta(sha="f" * 64))
    with pytest.raises(TokenizerMismatch, match=r"part-00001.*\n.*tokenizer_sha256"):
        open_shards(str(tmp_path / "d"))


def test_rejects_shards_that_differ_from_the_checkpoint_tokenizer(shard_dir):
    expected = dataclasses.asdict(toy_meta())
    expected["vocab_size"] += 1
    with pytest.raises(TokenizerMismatch, match="vocab_size"):
        open_shards(str(shard_dir[0]), expected)
    open_shards(str(shard_dir[0]), dataclasses.asdict(toy_meta()))  # the same tokenizer is fine


def test_rejects_another_format_version(tmp_path):
    bad = dataclasses.replace(toy_meta(), format_version=99)
    write_shard(str(tmp_path / "x.arrow"), toy_samples(counting_docs(3)), bad)
    with pytest.raises(ShardFormatError, match="version 99"):
        open_shards(str(tmp_path / "x.arrow"))


def test_collate_pads_with_pad_and_no_loss(shard_dir):
    shards = open_shards(str(shard_dir[0]))
    rows = np.array([0, 1, 2])
    batch = collate(shards, rows)
    T = shards.lengths[rows].max()
    assert batch["input_ids"].shape == (3, T)
    for b, r in enumerate(rows):
        n = shards.lengths[r]
        np.testing.assert_array_equal(batch["input_ids"][b, :n], shards.row_tokens("input_ids", r))
        assert (batch["input_ids"][b, n:] == TOY_SP.pad).all()
        assert (batch["loss_mask"][b, n:] == 0).all()
        assert (batch["position_ids"][b, :, n:] == 0).all()
    assert collate(shards, rows, pad_to=80)["input_ids"].shape == (3, 80)
    with pytest.raises(ValueError, match="does not fit"):
        collate(shards, rows, pad_to=5)


def test_shuffling_is_a_deterministic_permutation_per_seed_and_epoch(shard_dir):
    shards = open_shards(str(shard_dir[0]))
    rows = np.arange(len(shards))
    a = epoch_order(rows, shards.lengths, 4, seed=1, epoch=0)
    assert [x.tolist() for x in a] == [x.tolist() for x in epoch_order(rows, shards.lengths, 4, 1, 0)]
    assert sorted(np.concatenate(a).tolist()) == rows.tolist()
    assert [x.tolist() for x in a] != [x.tolist() for x in epoch_order(rows, shards.lengths, 4, 1, 1)]
    assert [x.tolist() for x in a] != [x.tolist() for x in epoch_order(rows, shards.lengths, 4, 2, 0)]


def test_batch_stream_resumes_where_it_stopped(shard_dir):
    shards = open_shards(str(shard_dir[0]))
    rows = np.arange(len(shards))
    whole = BatchStream(shards, rows, 8, seed=3)
    first = [next(whole) for _ in range(7)]          # crosses an epoch boundary
    assert whole.state()["batches"] == 7 > len(whole.loader)
    again = BatchStream(shards, rows, 8, seed=3)
    for _ in range(4):
        next(again)
    resumed = BatchStream(shards, rows, 8, seed=3, state=again.state())
    for expected in first[4:]:
        got = next(resumed)
        for k in expected:
            np.testing.assert_array_equal(got[k], expected[k])


def test_an_older_checkpoint_cursor_still_resumes():
    assert cursor_position({"epoch": 2, "position": 3}, per_epoch=10) == 23
    assert cursor_position({"batches": 23}, per_epoch=10) == 23
    assert cursor_position(None, per_epoch=10) == 0


def test_held_out_split_by_document_and_by_shard(shard_dir):
    shards = open_shards(str(shard_dir[0]))
    train, held = split_rows(shards, 0.3)
    assert len(np.intersect1d(train, held)) == 0
    assert len(train) + len(held) == len(shards)
    assert 0 < len(held) < len(shards)
    keys = np.array(shards.document_key)
    assert not set(keys[train]) & set(keys[held])  # a document is on one side only
    train_s, held_s = split_rows(shards, 0.5, by="shard")
    assert set(shards.shard_of[held_s]) == {1}
    assert set(shards.shard_of[train_s]) == {0}
    with pytest.raises(ValueError):
        split_rows(shards, 0.99, by="shard")


def test_count_ids_counts_part_b_targets_of_the_given_rows(shard_dir):
    path, samples = shard_dir
    shards = open_shards(str(path))
    rows = np.arange(0, len(shards), 3)
    expected = np.zeros(TOY_BASE + 8, dtype=np.int64)
    for r in rows:
        s = samples[r]
        np.add.at(expected, np.asarray(s["target_ids"])[np.asarray(s["loss_mask"]) == 1].astype(np.int64), 1)
    np.testing.assert_array_equal(count_ids(shards, rows), expected)


def test_evaluation_batches_cover_each_row_once(shard_dir):
    shards = open_shards(str(shard_dir[0]))
    rows = np.arange(1, len(shards), 2)
    seen = sum(int(b["lengths"].sum()) for b in epoch_batches(shards, rows, 5))
    assert seen == int(shards.lengths[rows].sum())


def test_vocab_map_keeps_specials_and_maps_unseen_ids_to_unknown():
    v = VocabMap.from_counts(np.bincount([12, 12, 30], minlength=1008), keep=TOY_SP.as_map().values())
    assert len(v) == 1 + 2 + 8
    ids = np.array([12, 30, TOY_SP.pad, 13])
    assert v.decode(v.encode(ids))[:3].tolist() == ids[:3].tolist()
    assert v.encode(ids)[3] == 0
    again = VocabMap.from_json(v.to_json())
    np.testing.assert_array_equal(again.ids, v.ids)
    full = VocabMap.identity(1008)
    assert not full.compact
    assert full.encode(np.array([5]))[0] == 5
