"""The trainer's threads: a batch's parts on a pool give the loss and gradients of the whole batch
(float64, finite differences included), bit for bit the same on any number of threads; BLAS is
held at one thread; ``--threads`` is checked."""
from __future__ import annotations

import numpy as np
import pytest

from glmprep.trainer import model as M
from glmprep.trainer import threads
from test_trainer_model import check, paper_batch, randomised, rng, tiny_config  # noqa: F401 (rng: a fixture)


@pytest.fixture
def restore_threads():
    """Leave the process as it was: one trainer thread, BLAS at its count before the test."""
    before = threads.blas_threads()
    yield
    threads.use_threads(1)
    if before is not None:
        threads.set_blas_threads(before)


def wide_batch(rng, copies=3):
    """The paper batch's two rows repeated: six rows of 14 positions, some of them different."""
    one = paper_batch(rng)
    batch = {k: np.concatenate([v] * copies) for k, v in one.items()}
    batch["input_ids"][2:4, :3] = batch["input_ids"][2:4, :3][:, ::-1]  # rows unlike their copies
    return batch


def test_parts_cover_every_row_in_order(rng):
    batch = wide_batch(rng)
    parts = M.batch_parts(batch, part_tokens=28)                     # 2 rows of 14 positions each
    assert [len(p["sep"]) for p in parts] == [2, 2, 2]
    for k in M.BATCH_KEYS:
        np.testing.assert_array_equal(np.concatenate([p[k] for p in parts]), batch[k])
    assert len(M.batch_parts(batch, part_tokens=1)) == 6              # never less than a row
    assert len(M.batch_parts(batch)) == 1


def test_parts_give_the_whole_batch_loss_and_gradients(rng, monkeypatch, restore_threads):
    cfg = tiny_config()
    params = randomised(M.init_params(cfg, seed=3), rng)
    batch = wide_batch(rng)
    whole_loss, whole, whole_losses = M.loss_and_grads(params, cfg, batch)
    monkeypatch.setattr(M, "PART_TOKENS", 14)                         # one row per part
    threads.use_threads(2)
    loss, grads, losses = M.loss_and_grads(params, cfg, batch)
    assert loss == pytest.approx(whole_loss, rel=1e-12)
    np.testing.assert_allclose(losses, whole_losses, rtol=1e-12)
    for k in whole:
        np.testing.assert_allclose(grads[k], whole[k], rtol=1e-9, atol=1e-14)


def test_finite_differences_with_parts_on_two_threads(rng, monkeypatch, restore_threads):
    cfg = tiny_config()
    params = randomised(M.init_params(cfg, seed=7), rng)
    batch = wide_batch(rng, copies=2)
    monkeypatch.setattr(M, "PART_TOKENS", 14)
    threads.use_threads(2)
    loss, grads, _ = M.loss_and_grads(params, cfg, batch)
    check(lambda: M.loss_and_grads(params, cfg, batch, need_grads=False)[0], params, grads, rng)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_thread_count_changes_no_bit(rng, monkeypatch, restore_threads, dtype):
    cfg = tiny_config(dtype=dtype)
    params = randomised(M.init_params(cfg, seed=5), rng)
    params = {k: v.astype(dtype) for k, v in params.items()}
    batch = wide_batch(rng)
    monkeypatch.setattr(M, "PART_TOKENS", 14)
    results = []
    for n in (1, 2, 3):
        threads.use_threads(n)
        assert threads.thread_count() == n
        results.append((M.loss_and_grads(params, cfg, batch), M.loss_and_grads(params, cfg, batch, need_grads=False)))
    for (loss, grads, losses), (eval_loss, _, eval_losses) in results[1:]:
        (loss1, grads1, losses1), (eval_loss1, _, eval_losses1) = results[0]
        assert loss == loss1 and eval_loss == eval_loss1
        np.testing.assert_array_equal(losses, losses1)
        np.testing.assert_array_equal(eval_losses, eval_losses1)
        for k in grads1:
            assert grads[k].dtype == np.dtype(dtype)
            np.testing.assert_array_equal(grads[k], grads1[k])


def test_blas_is_held_at_one_thread(restore_threads):
    if threads.blas_threads() is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS whose threads can be set")
    threads.set_blas_threads(2)
    assert threads.blas_threads() == 2
    assert threads.use_threads(2) == 1
    assert threads.blas_threads() == 1


def test_a_worker_error_reaches_the_caller(restore_threads):
    threads.use_threads(2)

    def fails_on_two(i):
        if i == 2:
            raise ValueError("part 2")
        return i

    with pytest.raises(ValueError, match="part 2"):
        list(threads.map_parts(fails_on_two, range(4)))
    assert list(threads.map_parts(lambda i: i * i, range(5))) == [0, 1, 4, 9, 16]


def test_thread_counts_below_one_are_refused(restore_threads):
    with pytest.raises(ValueError, match="at least 1"):
        threads.use_threads(0)
