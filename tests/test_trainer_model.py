"""The NumPy GLM: finite-difference gradient checks (float64) per layer and for the whole
model, and the Part A / Part B attention mask seen from the outputs."""
from __future__ import annotations

import numpy as np
import pytest

from glmprep.loader import attention_mask
from glmprep.trainer import model as M

RTOL = 1e-6  # float64 central differences with h=1e-5 agree to about 1e-9


def numeric_grad(f, x: np.ndarray, rng, n_entries: int = 12, h: float = 1e-5) -> tuple:
    """Central differences of scalar f() w.r.t. a few random entries of x (changed in place, restored)."""
    flat = x.reshape(-1)
    idx = rng.choice(flat.size, size=min(n_entries, flat.size), replace=False)
    out = np.empty(len(idx))
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        out[j] = (up - down) / (2 * h)
    return idx, out


def rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """Largest difference relative to the larger of the two gradients' magnitudes."""
    scale = max(np.abs(analytic).max(), np.abs(numeric).max(), 1e-12)
    return float(np.abs(analytic - numeric).max() / scale)


def check(f, tensors: dict, grads: dict, rng) -> float:
    worst = 0.0
    for name, x in tensors.items():
        idx, num = numeric_grad(f, x, rng)
        err = rel_error(grads[name].reshape(-1)[idx], num)
        assert err < RTOL, f"{name}: relative error {err:.2e}"
        worst = max(worst, err)
    return worst


def paper_batch(rng, V=20, pad_to=14):
    """Two rows: the GLM paper example (x1..x6, spans [x3] and [x5 x6]) and a shorter one, padded."""
    mask, sop, eop, pad = V - 4, V - 3, V - 2, V - 1
    rows = [
        # x1 x2 M x4 M | sop x5 x6 sop x3
        dict(input_ids=[1, 2, mask, 4, mask, sop, 5, 6, sop, 3],
             target_ids=[1, 2, mask, 4, mask, 5, 6, eop, 3, eop],
             position_ids=[0, 1, 2, 3, 4, 4, 4, 4, 2, 2],
             block_position_ids=[0, 0, 0, 0, 0, 1, 2, 3, 1, 2], sep=5),
        dict(input_ids=[7, mask, 9, sop, 8], target_ids=[7, mask, 9, 8, eop],
             position_ids=[0, 1, 2, 1, 1], block_position_ids=[0, 0, 0, 1, 2], sep=3),
    ]
    B, T = len(rows), pad_to
    batch = {k: np.full((B, T), pad if k == "input_ids" else 0, dtype=np.int64)
             for k in ("input_ids", "target_ids", "position_ids", "block_position_ids")}
    batch["loss_mask"] = np.zeros((B, T), dtype=np.uint8)
    batch["sep"] = np.array([r["sep"] for r in rows])
    batch["lengths"] = np.array([len(r["input_ids"]) for r in rows])
    for b, r in enumerate(rows):
        n = len(r["input_ids"])
        for k in ("input_ids", "target_ids", "position_ids", "block_position_ids"):
            batch[k][b, :n] = r[k]
        batch["loss_mask"][b, r["sep"]:n] = 1
    # as glmprep.loader.collate gives them: [B, 2, T] positions, block positions in row 1
    batch["position_ids"] = np.stack([batch["position_ids"], batch.pop("block_position_ids")], axis=1)
    return batch


def tiny_config(**kw):
    base = dict(vocab_size=20, n_positions=16, n_block_positions=16, d_model=8, n_layers=2,
                n_heads=2, dtype="float64", init_std=0.3)
    base.update(kw)
    return M.GLMConfig(**base)


def randomised(params, rng):
    """Non-trivial layer norm gains/biases so their gradients are checked too."""
    return {k: (v + rng.normal(0, 0.2, v.shape) if k.endswith((".g", ".b")) else v)
            for k, v in params.items()}


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_layer_norm_gradients(rng):
    x = rng.normal(size=(3, 4, 6))
    p = {"g": rng.normal(size=6), "b": rng.normal(size=6)}
    r = rng.normal(size=x.shape)
    f = lambda: float((M.layer_norm(p, x, 1e-5)[0] * r).sum())
    _, cache = M.layer_norm(p, x, 1e-5)
    dx, g = M.layer_norm_backward(r, cache)
    check(f, {"x": x, "g": p["g"], "b": p["b"]}, {"x": dx, **g}, rng)


def test_linear_and_gelu_gradients(rng):
    x, w, b = rng.normal(size=(2, 3, 5)), rng.normal(size=(5, 4)), rng.normal(size=4)
    r = rng.normal(size=(2, 3, 4))
    f = lambda: float((M.gelu(M.linear(w, b, x)[0])[0] * r).sum())
    y, c_lin = M.linear(w, b, x)
    _, c_gelu = M.gelu(y)
    dx, dw, db = M.linear_backward(M.gelu_backward(r, c_gelu), c_lin)
    check(f, {"x": x, "w": w, "b": b}, {"x": dx, "w": dw, "b": db}, rng)


def test_embedding_gradients(rng):
    p = {"wte": rng.normal(size=(7, 4)), "wpe": rng.normal(size=(6, 4)), "wbpe": rng.normal(size=(6, 4))}
    ids, pos, bpos = rng.integers(0, 7, (2, 5)), rng.integers(0, 6, (2, 5)), rng.integers(0, 6, (2, 5))
    r = rng.normal(size=(2, 5, 4))
    f = lambda: float((M.embed(p, ids, pos, bpos)[0] * r).sum())
    g = M.embed_backward(r, M.embed(p, ids, pos, bpos)[1])
    check(f, p, g, rng)


def test_attention_gradients_with_sep_mask_and_padding(rng):
    batch = paper_batch(rng)
    bias = M.mask_bias(attention_mask(batch["sep"], batch["lengths"], 14), np.float64)
    D, H = 8, 2
    p = {"w_qkv": rng.normal(0, 0.5, (D, 3 * D)), "b_qkv": rng.normal(0, 0.1, 3 * D),
         "w_o": rng.normal(0, 0.5, (D, D)), "b_o": rng.normal(0, 0.1, D)}
    x = rng.normal(size=(2, 14, D))
    r = rng.normal(size=x.shape)
    f = lambda: float((M.attention(p, x, bias, H)[0] * r).sum())
    dx, g = M.attention_backward(r, M.attention(p, x, bias, H)[1])
    check(f, {"x": x, **p}, {"x": dx, **g}, rng)
    # Padded keys are seen by nobody: their gradient comes only from their own query row.
    assert np.all(np.isfinite(dx))


def test_attention_in_row_chunks_equals_one_chunk(rng, monkeypatch):
    """Scores worked on a few batch rows at a time (uneven last chunk) give the same outputs and gradients."""
    sep, lengths = np.array([5, 3, 9]), np.array([10, 5, 14])
    bias = M.mask_bias(attention_mask(sep, lengths, 14), np.float64)
    D, H = 8, 2
    p = {"w_qkv": rng.normal(0, 0.5, (D, 3 * D)), "b_qkv": rng.normal(0, 0.1, 3 * D),
         "w_o": rng.normal(0, 0.5, (D, D)), "b_o": rng.normal(0, 0.1, D)}
    x, r = rng.normal(size=(3, 14, D)), rng.normal(size=(3, 14, D))
    whole_out, cache = M.attention(p, x, bias, H)
    whole_dx, whole_g = M.attention_backward(r, cache)
    monkeypatch.setattr(M, "ATTENTION_CHUNK_BYTES", 2 * H * 14 * 14 * 8)  # two rows per chunk
    assert len(M.row_chunks((3, H, 14, 14), 8)) == 2
    out, cache = M.attention(p, x, bias, H)
    dx, g = M.attention_backward(r, cache)
    np.testing.assert_allclose(out, whole_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, whole_dx, rtol=1e-12, atol=1e-12)
    for k in g:
        np.testing.assert_allclose(g[k], whole_g[k], rtol=1e-12, atol=1e-12)


def test_block_gradients(rng):
    cfg = tiny_config(n_layers=1)
    p = M.sub(randomised(M.init_params(cfg, seed=3), rng), "h0")
    batch = paper_batch(rng)
    bias = M.mask_bias(attention_mask(batch["sep"], batch["lengths"], 14), np.float64)
    x = rng.normal(size=(2, 14, 8))
    r = rng.normal(size=x.shape)
    f = lambda: float((M.block(p, x, bias, cfg)[0] * r).sum())
    dx, g = M.block_backward(r, M.block(p, x, bias, cfg)[1])
    check(f, {"x": x, **p}, {"x": dx, **g}, rng)


def test_cross_entropy_gradients(rng):
    h, wte = rng.normal(size=(5, 4)), rng.normal(size=(9, 4))
    t = rng.integers(0, 9, 5)
    f = lambda: M.cross_entropy(h, wte, t, 5.0)[0]
    dh, dw = M.cross_entropy_backward(M.cross_entropy(h, wte, t, 5.0)[1])
    check(f, {"h": h, "wte": wte}, {"h": dh, "wte": dw}, rng)


def test_full_model_gradients_every_parameter(rng):
    cfg = tiny_config()
    params = randomised(M.init_params(cfg, seed=7), rng)
    batch = paper_batch(rng)
    f = lambda: M.loss_and_grads(params, cfg, batch, need_grads=False)[0]
    loss, grads, losses = M.loss_and_grads(params, cfg, batch)
    assert set(grads) == set(params)
    assert losses.shape == (int(batch["loss_mask"].sum()),)
    assert loss == pytest.approx(losses.mean())
    worst = check(f, params, grads, rng)
    print(f"full model: max relative error {worst:.2e}")


def test_padding_does_not_change_the_loss_or_gradients(rng):
    cfg = tiny_config()
    params = M.init_params(cfg, seed=7)
    short, long = paper_batch(rng, pad_to=10), paper_batch(rng, pad_to=14)
    l1, g1, _ = M.loss_and_grads(params, cfg, short)
    l2, g2, _ = M.loss_and_grads(params, cfg, long)
    assert l1 == pytest.approx(l2, rel=1e-12)
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k], rtol=1e-9, atol=1e-12)


def test_attention_mask_matches_the_spec():
    m = attention_mask(np.array([5]), np.array([10]), 12)[0]
    for q in range(12):
        for k in range(12):
            expected = k < 10 and (k < 5 or k <= q)
            assert m[q, k] == expected, (q, k)


def outputs(params, cfg, batch):
    h, _ = M.hidden_states(params, cfg, batch["input_ids"], batch["position_ids"][:, 0],
                           batch["position_ids"][:, 1], batch["sep"], batch["lengths"])
    return h


@pytest.mark.parametrize("changed", [5, 6, 7, 8, 9])
def test_part_a_never_sees_part_b(rng, changed):
    cfg = tiny_config()
    params = M.init_params(cfg, seed=11)
    batch = paper_batch(rng)
    before = outputs(params, cfg, batch)
    batch["input_ids"][0, changed] = (batch["input_ids"][0, changed] + 3) % 16
    batch["position_ids"][0, 1, changed] += 1
    after = outputs(params, cfg, batch)
    np.testing.assert_array_equal(before[0, :5], after[0, :5])        # all of Part A unchanged
    np.testing.assert_array_equal(before[0, 5:changed], after[0, 5:changed])  # earlier Part B too
    assert not np.allclose(before[0, changed], after[0, changed])      # the changed position did change
    np.testing.assert_array_equal(before[1], after[1])                # other rows are independent


def test_part_b_sees_part_a_and_earlier_part_b(rng):
    cfg = tiny_config()
    params = M.init_params(cfg, seed=11)
    batch = paper_batch(rng)
    before = outputs(params, cfg, batch)
    batch["input_ids"][0, 4] = 9                                       # a Part A token (the 2nd mask)
    batch["input_ids"][0, 6] = 11                                      # x5, the first Part B token
    after = outputs(params, cfg, batch)
    for q in range(10):                                                # everyone sees Part A
        assert not np.allclose(before[0, q], after[0, q]), q
    batch2 = paper_batch(rng)
    batch2["input_ids"][0, 6] = 11
    later = outputs(params, cfg, batch2)
    np.testing.assert_array_equal(before[0, :6], later[0, :6])         # before x5: unchanged
    for q in range(6, 10):                                             # from x5 on: changed
        assert not np.allclose(before[0, q], later[0, q]), q


def test_float32_is_the_default_and_stays_float32(rng):
    cfg = M.GLMConfig(vocab_size=20, n_positions=16, n_block_positions=16, d_model=8, n_heads=2)
    params = M.init_params(cfg)
    assert all(v.dtype == np.float32 for v in params.values())
    loss, grads, _ = M.loss_and_grads(params, cfg, paper_batch(rng))
    assert np.isfinite(loss)
    assert all(g.dtype == np.float32 for g in grads.values())
