"""glmprep.loader: padded batches from memory-mapped shards, deterministic order, ranks,
loader workers, resuming; and the PyTorch / Hugging Face recipes of the README (skipped
when those libraries are absent)."""
from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

from glmprep.loader import GLMLoader, attention_mask, collate, open_shards

from support import REPO
from test_trainer_data import TOY_SP, write_toy_shards


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("loader") / "shards"
    per_shard = write_toy_shards(directory, n_shards=3, n_docs=90)
    return directory, [s for rows in per_shard for s in rows]


def rows_of(batches):
    return [b["input_ids"].tolist() for b in batches]


def take(iterator, n):
    return [next(iterator) for _ in range(n)]


def test_batch_layout(shard_dir):
    path, samples = shard_dir
    shards = open_shards(str(path))
    batch = collate(shards, [0, 1, 2], with_attention_mask=True)
    B, L = batch["input_ids"].shape
    assert (B, L) == (3, max(len(samples[r]["input_ids"]) for r in range(3)))
    assert batch["position_ids"].shape == (3, 2, L) and batch["loss_mask"].dtype == bool
    assert batch["attention_mask"].shape == (3, L, L)
    for b in range(3):
        s, n = samples[b], batch["lengths"][b]
        np.testing.assert_array_equal(batch["input_ids"][b, :n], s["input_ids"])
        np.testing.assert_array_equal(batch["target_ids"][b, :n], s["target_ids"])
        np.testing.assert_array_equal(batch["loss_mask"][b, :n], np.asarray(s["loss_mask"]) == 1)
        np.testing.assert_array_equal(batch["position_ids"][b, 0, :n], s["position_ids"])
        np.testing.assert_array_equal(batch["position_ids"][b, 1, :n], s["block_position_ids"])
        assert batch["sep"][b] == s["sep"]
        assert (batch["input_ids"][b, n:] == TOY_SP.pad).all() and not batch["loss_mask"][b, n:].any()
        mask = batch["attention_mask"][b]
        assert mask[:, :s["sep"]][:n].all()                       # everyone sees Part A
        assert not mask[:s["sep"], s["sep"]:].any()               # Part A never sees Part B
        assert not mask[:, n:].any()                              # nobody sees padding


def test_attention_mask_is_part_a_plus_causal_part_b():
    m = attention_mask(np.array([5]), np.array([10]), 12)[0]
    expected = [[k < 10 and (k < 5 or k <= q) for k in range(12)] for q in range(12)]
    assert m.tolist() == expected


def test_order_is_deterministic_and_covers_each_row_once_per_epoch(shard_dir):
    path, samples = shard_dir
    loader = GLMLoader(str(path), batch_size=4, seed=5, epochs=1)
    epoch = list(loader)
    assert rows_of(epoch) == rows_of(GLMLoader(str(path), batch_size=4, seed=5, epochs=1))
    assert rows_of(epoch) != rows_of(GLMLoader(str(path), batch_size=4, seed=6, epochs=1))
    assert sum(len(b["sep"]) for b in epoch) == len(samples) and len(epoch) == len(loader)
    two = take(iter(GLMLoader(str(path), batch_size=4, seed=5)), 2 * len(loader))
    assert rows_of(two[:len(loader)]) == rows_of(epoch) and rows_of(two[len(loader):]) != rows_of(epoch)


def test_ranks_split_every_epoch_without_overlap(shard_dir):
    path, _ = shard_dir
    world = 3
    shards = open_shards(str(path))
    loaders = [GLMLoader(shards, 4, seed=1, rank=r, world_size=world, epochs=2) for r in range(world)]
    assert len({len(x) for x in loaders}) == 1  # every rank takes as many steps
    for epoch in range(2):
        seen = [np.concatenate(x.epoch_batches(epoch)) for x in loaders]
        everything = np.concatenate(seen)
        assert len(np.unique(everything)) == len(everything)  # no row on two ranks
        whole = GLMLoader(shards, 4, seed=1, epochs=2).epoch_batches(epoch)
        for r in range(world):  # rank r takes every world-th batch of the one global order
            assert [b.tolist() for b in loaders[r].epoch_batches(epoch)] == \
                [b.tolist() for b in whole[r::world][:len(loaders[r])]]
    with pytest.raises(ValueError, match="rank"):
        GLMLoader(shards, 4, rank=3, world_size=3)


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_read_round_robin_give_the_one_worker_order(shard_dir, workers):
    path, _ = shard_dir
    loader = GLMLoader(str(path), batch_size=4, seed=2, rank=1, world_size=2, start=3)
    one = take(loader.worker_batches(0, 1), 12)
    streams = [loader.worker_batches(w, workers) for w in range(workers)]
    mixed = [next(streams[i % workers]) for i in range(12)]
    assert rows_of(mixed) == rows_of(one)


def test_resume_continues_exactly(shard_dir):
    path, _ = shard_dir
    full = take(iter(GLMLoader(str(path), batch_size=5, seed=9)), 30)  # crosses epochs
    first = GLMLoader(str(path), batch_size=5, seed=9)
    it = iter(first)
    take(it, 11)
    assert first.position == 11
    resumed = take(iter(GLMLoader(str(path), batch_size=5, seed=9, start=first.position)), 19)
    assert rows_of(resumed) == rows_of(full[11:])


def test_evaluation_order_reads_rows_once_shortest_first(shard_dir):
    path, samples = shard_dir
    batches = list(GLMLoader(str(path), batch_size=7, shuffle=False, epochs=1))
    lengths = np.concatenate([b["lengths"] for b in batches])
    assert len(lengths) == len(samples) and (np.diff(lengths) >= 0).all()


def test_a_pickled_loader_opens_its_own_shards(shard_dir):
    path, _ = shard_dir
    loader = GLMLoader(str(path), batch_size=4, seed=1)
    expected = rows_of(take(loader.worker_batches(), 3))
    copy = pickle.loads(pickle.dumps(loader))
    assert copy._shards is None and rows_of(take(copy.worker_batches(), 3)) == expected


# --- the README's recipes -----------------------------------------------------------------

def test_pytorch_recipe(shard_dir):
    torch = pytest.importorskip("torch")
    path, _ = shard_dir

    class GLMShards(torch.utils.data.IterableDataset):  # the README's recipe, as written there
        def __init__(self, loader):
            self.loader = loader

        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            worker, workers = (info.id, info.num_workers) if info else (0, 1)
            for batch in self.loader.worker_batches(worker, workers):
                yield {name: torch.from_numpy(array) for name, array in batch.items()}

    loader = GLMLoader(str(path), batch_size=4, seed=3, epochs=1)
    expected = list(loader)
    for workers in (0, 2):
        data = torch.utils.data.DataLoader(GLMShards(loader), batch_size=None, num_workers=workers)
        got = list(data)
        assert [b["input_ids"].tolist() for b in got] == rows_of(expected)
        assert got[0]["position_ids"].shape[1] == 2 and got[0]["loss_mask"].dtype == torch.bool


HF_MARK = "**Hugging Face `datasets`**"


def readme_block(after: str) -> str:
    """The first ```python block of the README after the line holding ``after``."""
    text = (pathlib.Path(REPO) / "README.md").read_text(encoding="utf-8")
    start = text.index("```python\n", text.index(after)) + len("```python\n")
    return text[start:text.index("```", start)]


@pytest.mark.skipif(importlib.util.find_spec("datasets") is None,
                    reason="Hugging Face datasets is not installed (not a glmprep dependency: it brings pandas 3, "
                           "see the README); install it to check the README's recipe")
def test_hugging_face_recipe_as_the_readme_writes_it(tmp_path):
    demo = tmp_path / "out" / "demo"  # the README's paths, under a temporary directory
    [samples] = write_toy_shards(demo, n_shards=1, n_docs=90)
    check = ("\nimport json\n"
             "print(json.dumps([len(data), data[0]['input_ids'], len(shard), shard[0]['input_ids']]))\n"
             "try:\n    datasets.Dataset.from_file('out/demo/part-00000-of-00001.arrow')\n"
             "    print('from_file reads them')\n"
             "except Exception as exc:\n    print('from_file:', exc)\n")
    done = subprocess.run([sys.executable, "-c", readme_block(HF_MARK) + check], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, HF_HOME=str(tmp_path / "hf")))
    assert done.returncode == 0, done.stderr
    counts, from_file = done.stdout.splitlines()[-2:]
    n_rows, first, n_shard, shard_first = json.loads(counts)
    assert n_rows == len(samples)
    assert first == list(samples[0]["input_ids"])
    assert n_shard == len(samples)
    assert shard_first == list(samples[0]["input_ids"])
    assert "metadata bytes" in from_file  # as the README says; if datasets learns to read them, say so there


@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_compressed_shards_give_the_same_batches(tmp_path, compression):
    from test_trainer_data import counting_docs, toy_meta, toy_samples

    from glmprep.schemas import write_shard

    samples = toy_samples(counting_docs(80))
    write_shard(str(tmp_path / "plain.arrow"), samples, toy_meta())
    write_shard(str(tmp_path / "packed.arrow"), samples, toy_meta(), compression=compression)
    assert (tmp_path / "packed.arrow").stat().st_size < (tmp_path / "plain.arrow").stat().st_size
    plain = list(GLMLoader(str(tmp_path / "plain.arrow"), 8, seed=4, epochs=1, attention_mask=True))
    packed = list(GLMLoader(str(tmp_path / "packed.arrow"), 8, seed=4, epochs=1, attention_mask=True))
    for a, b in zip(plain, packed, strict=True):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_unknown_compression_is_refused(tmp_path):
    from test_trainer_data import counting_docs, toy_meta, toy_samples

    from glmprep.schemas import write_shard

    with pytest.raises(ValueError, match="compression must be one of none, lz4, zstd"):
        write_shard(str(tmp_path / "x.arrow"), toy_samples(counting_docs(3)), toy_meta(), compression="gzip")
