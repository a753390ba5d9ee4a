"""The reference GLM (GLM_SPEC §7), forward and backward written by hand in NumPy.

    x = wte[input_ids] + wpe[position_ids] + wbpe[block_position_ids]     # 2D positions
    for each block:  x = x + attn(ln_1(x), mask(sep));  x = x + mlp(ln_2(x))
    h = ln_f(x);  logits = h[loss positions] @ wte.T                      # tied output

Every layer is a pair ``<layer>(...) -> (out, cache)`` / ``<layer>_backward(dout, cache)``.
Parameters are a flat ``{name: array}`` dict (the names are the checkpoint's keys);
gradients come back as a dict with the same names. Shapes use B batch rows, T padded
length, D d_model, H heads, F d_ff, V vocab (the compacted one, see vocab.py), N loss
positions.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, Tuple

import numpy as np

from glmprep.loader import attention_mask
from glmprep.trainer import threads

Params = Dict[str, np.ndarray]


@dataclass(frozen=True)
class GLMConfig:
    vocab_size: int              # rows of the token embedding = output classes (tied)
    n_positions: int = 256       # position_ids are < this: the shards' seq_len
    n_block_positions: int = 257  # block_position_ids are ≤ seq_len (a document span plus its sop)
    d_model: int = 128           # residual stream width
    n_layers: int = 2            # transformer blocks
    n_heads: int = 4             # d_model must divide evenly; 32-wide heads suit small models
    d_ff: int = 0                # MLP hidden width; 0 means the usual 4 * d_model
    ln_eps: float = 1e-5         # layer norm epsilon
    init_std: float = 0.02       # N(0, std) for weights and embeddings (GPT-2's choice)
    dtype: str = "float32"       # float64 only for finite-difference gradient checks

    def __post_init__(self):
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")

    @property
    def hidden(self) -> int:
        return self.d_ff or 4 * self.d_model

    def to_dict(self) -> Dict[str, object]:
        return asdict(self)


def param_shapes(cfg: GLMConfig) -> Dict[str, Tuple[int, ...]]:
    """Name -> shape of every parameter, in the order ``init_params`` draws them."""
    D, F = cfg.d_model, cfg.hidden
    shapes: Dict[str, Tuple[int, ...]] = {"wte": (cfg.vocab_size, D), "wpe": (cfg.n_positions, D),
                                          "wbpe": (cfg.n_block_positions, D)}
    for i in range(cfg.n_layers):
        shapes.update({
            f"h{i}.ln_1.g": (D,), f"h{i}.ln_1.b": (D,),
            f"h{i}.attn.w_qkv": (D, 3 * D), f"h{i}.attn.b_qkv": (3 * D,),
            f"h{i}.attn.w_o": (D, D), f"h{i}.attn.b_o": (D,),
            f"h{i}.ln_2.g": (D,), f"h{i}.ln_2.b": (D,),
            f"h{i}.mlp.w_fc": (D, F), f"h{i}.mlp.b_fc": (F,),
            f"h{i}.mlp.w_proj": (F, D), f"h{i}.mlp.b_proj": (D,),
        })
    shapes.update({"ln_f.g": (D,), "ln_f.b": (D,)})
    return shapes


def init_params(cfg: GLMConfig, seed: int = 0) -> Params:
    """Random N(0, init_std) weights; residual output projections scaled by 1/sqrt(2 n_layers);
    layer-norm gains 1 and biases 0."""
    rng = np.random.default_rng(seed)
    std = cfg.init_std
    proj_std = std / math.sqrt(2 * cfg.n_layers)  # keeps the residual stream's variance flat in depth
    p = {}
    for name, shape in param_shapes(cfg).items():
        last = name.rsplit(".", 1)[-1]
        if last == "g":
            p[name] = np.ones(shape)
        elif last == "b" or last.startswith("b_"):
            p[name] = np.zeros(shape)
        else:
            p[name] = rng.normal(0.0, proj_std if last in ("w_o", "w_proj") else std, size=shape)
    return {k: v.astype(cfg.dtype) for k, v in p.items()}


def sub(params: Params, prefix: str) -> Params:
    """The parameters under ``prefix.`` with the prefix removed: sub(p, "h0.ln_1") -> {"g", "b"}."""
    n = len(prefix) + 1
    return {k[n:]: v for k, v in params.items() if k.startswith(prefix + ".")}


def prefixed(grads: Params, prefix: str) -> Params:
    return {f"{prefix}.{k}": v for k, v in grads.items()}


# --------------------------------------------------------------------------- mask
def mask_bias(mask: np.ndarray, dtype) -> np.ndarray:
    """[B, T, T] bool -> [B, 1, T, T] additive bias: 0 where visible, -inf where not."""
    bias = np.zeros(mask.shape, dtype=dtype)
    bias[~mask] = -np.inf
    return bias[:, None]


# --------------------------------------------------------------------------- layers
# The hot path works in place where it can: the [B, H, T, T] attention arrays are the largest a
# step touches, and every fresh one costs an allocation's page faults as well as a pass over it.
# Matrices are multiplied as 2-D [B·T, in] @ [in, out], one BLAS call each.
def embed(p: Params, ids, pos, bpos):
    """Token + position + block-position embeddings: [B, T] ids -> [B, T, D]."""
    x = p["wte"][ids]                                   # [B, T, D]
    x += p["wpe"][pos]
    x += p["wbpe"][bpos]
    return x, (ids, pos, bpos, p["wte"].shape[0], p["wpe"].shape[0], p["wbpe"].shape[0])


def scatter_rows(index: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """out[i] = sum of rows[j] with index[j] == i; [M] ints, [M, D] -> [n, D] (sorted reduceat)."""
    index, rows = index.ravel(), rows.reshape(len(index.ravel()), -1)
    order = np.argsort(index, kind="stable")
    sorted_index = index[order]
    starts = np.flatnonzero(np.r_[True, sorted_index[1:] != sorted_index[:-1]])
    out = np.zeros((n, rows.shape[1]), dtype=rows.dtype)
    if len(index):
        out[sorted_index[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


def embed_backward(dx, cache) -> Params:
    ids, pos, bpos, V, P, Q = cache
    return {"wte": scatter_rows(ids, dx, V), "wpe": scatter_rows(pos, dx, P),
            "wbpe": scatter_rows(bpos, dx, Q)}


def layer_norm(p: Params, x, eps: float):
    """[..., D] -> [..., D], normalised over D then scaled by g and shifted by b."""
    xhat = x - x.mean(-1, keepdims=True)                 # [..., D], centred
    var = np.einsum("...d,...d->...", xhat, xhat)[..., None]  # [..., 1], sum of squares
    var /= x.shape[-1]
    var += eps
    rstd = np.sqrt(var, out=var)
    np.reciprocal(rstd, out=rstd)                        # [..., 1]
    xhat *= rstd                                         # [..., D]
    y = xhat * p["g"]
    y += p["b"]
    return y, (xhat, rstd, p["g"])


def layer_norm_backward(dy, cache):
    xhat, rstd, g = cache
    D = xhat.shape[-1]
    dy2, xhat2 = dy.reshape(-1, D), xhat.reshape(-1, D)
    grads = {"g": np.einsum("nd,nd->d", dy2, xhat2), "b": dy2.sum(0)}
    dxhat = dy * g                                       # [..., D]
    # dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), in place on dxhat
    proj = np.einsum("...d,...d->...", dxhat, xhat)[..., None]  # [..., 1]
    proj /= D
    mean = dxhat.mean(-1, keepdims=True)                 # [..., 1]
    dxhat -= mean
    dxhat -= xhat * proj
    dxhat *= rstd
    return dxhat, grads


def linear(w, b, x):
    """[..., in] @ [in, out] + [out] -> [..., out]."""
    y = x.reshape(-1, w.shape[0]) @ w                   # [N, out], one BLAS call
    y += b
    return y.reshape(*x.shape[:-1], w.shape[1]), (x, w)


def linear_backward(dy, cache):
    x, w = cache
    n_in, n_out = w.shape
    x2, dy2 = x.reshape(-1, n_in), dy.reshape(-1, n_out)
    dw = x2.T @ dy2                                      # [in, out]
    return (dy2 @ w.T).reshape(x.shape), dw, dy2.sum(0)


_GELU_C = math.sqrt(2.0 / math.pi)


def gelu(x):
    """GPT-2's tanh approximation of GeLU, elementwise."""
    t = x * x                                            # x*x*x: float32 ** is ~100x slower
    t *= x
    t *= 0.044715
    t += x
    t *= _GELU_C
    np.tanh(t, out=t)                                    # t = tanh(c (x + 0.044715 x³))
    y = t + 1.0
    y *= x
    y *= 0.5
    return y, (x, t)


def gelu_backward(dy, cache):
    x, t = cache
    # d/dx = 0.5 (1 + t) + 0.5 x (1 - t²) c (1 + 3·0.044715 x²), built in place: these are the biggest arrays
    dt = x * x                                  # [..., F]
    dt *= 3 * 0.044715 * _GELU_C
    dt += _GELU_C
    d = t * t
    np.subtract(1.0, d, out=d)
    d *= x
    d *= dt
    d += t
    d += 1.0
    d *= 0.5
    d *= dy
    return d


def softmax_(s):
    """Softmax over the last axis, in place on ``s`` (which it returns)."""
    s -= s.max(-1, keepdims=True)
    np.exp(s, out=s)
    s *= np.reciprocal(s.sum(-1, keepdims=True))
    return s


# Batch rows whose [H, T, T] attention scores are worked on at once: about 1 MB (one row of
# 4 heads at T = 256 in float32), so a chunk stays in a core's L2 cache from its q·k product
# through the mask, the softmax and the product with v, instead of each step streaming the
# whole batch's scores through memory.
ATTENTION_CHUNK_BYTES = 1 << 20


def row_chunks(shape, itemsize: int):
    """Slices of the batch axis of [B, H, T, T] scores, about ATTENTION_CHUNK_BYTES each."""
    B, H, T, _ = shape
    n = max(1, ATTENTION_CHUNK_BYTES // (H * T * T * itemsize))
    return [slice(i, min(i + n, B)) for i in range(0, B, n)]


def attention(p: Params, x, bias, n_heads: int):
    """Multi-head self-attention; [B, T, D], bias [B, 1, T, T] -> [B, T, D].

    The 1/sqrt(Dh) scale is applied to q ([B, H, T, Dh]) rather than to the scores; the
    scores get the mask added and their softmax in place, a chunk of rows at a time.
    """
    B, T, D = x.shape
    Dh = D // n_heads
    qkv, c_qkv = linear(p["w_qkv"], p["b_qkv"], x)                       # [B, T, 3D]
    q, k, v = qkv.reshape(B, T, 3, n_heads, Dh).transpose(2, 0, 3, 1, 4)  # 3 x [B, H, T, Dh] views
    scale = 1.0 / math.sqrt(Dh)
    q = q * scale                                                         # [B, H, T, Dh]
    att = np.empty((B, n_heads, T, T), dtype=x.dtype)                     # [B, H, T, T]
    a = np.empty((B, T, n_heads, Dh), dtype=x.dtype)                      # [B, T, H, Dh]
    a_heads = a.transpose(0, 2, 1, 3)                                     # [B, H, T, Dh] view
    for r in row_chunks(att.shape, att.itemsize):
        s = np.matmul(q[r], k[r].swapaxes(-1, -2), out=att[r])           # [b, H, T, T]
        s += bias[r]
        softmax_(s)
        np.matmul(s, v[r], out=a_heads[r])                               # straight into [B, T, D] order
    a = a.reshape(B, T, D)
    out, c_o = linear(p["w_o"], p["b_o"], a)                              # [B, T, D]
    return out, (c_qkv, q, k, v, att, c_o, n_heads, scale)


def attention_backward(dout, cache):
    c_qkv, q, k, v, att, c_o, n_heads, scale = cache                    # q is scaled
    B, H, T, Dh = q.shape
    da, dw_o, db_o = linear_backward(dout, c_o)                         # [B, T, D]
    da = da.reshape(B, T, H, Dh).transpose(0, 2, 1, 3)                  # [B, H, T, Dh]
    dqkv = np.empty((B, T, 3, H, Dh), dtype=q.dtype)                    # [B, T, 3D] as q, k, v heads
    dq, dk, dv = dqkv.transpose(2, 0, 3, 1, 4)                          # 3 x [B, H, T, Dh] views
    chunks = row_chunks(att.shape, att.itemsize)
    buffer = np.empty((chunks[0].stop,) + att.shape[1:], dtype=att.dtype)
    for r in chunks:
        ds = np.matmul(da[r], v[r].swapaxes(-1, -2), out=buffer[:r.stop - r.start])  # d att [b, H, T, T]
        np.matmul(att[r].swapaxes(-1, -2), da[r], out=dv[r])
        # softmax backward in place: ds = att (d att - sum(d att · att)); 0 where masked
        ds -= np.einsum("...ij,...ij->...i", ds, att[r])[..., None]
        ds *= att[r]
        np.matmul(ds, k[r], out=dq[r])
        np.matmul(ds.swapaxes(-1, -2), q[r], out=dk[r])
    dq *= scale
    dx, dw_qkv, db_qkv = linear_backward(dqkv.reshape(B, T, 3 * H * Dh), c_qkv)
    return dx, {"w_qkv": dw_qkv, "b_qkv": db_qkv, "w_o": dw_o, "b_o": db_o}


def mlp(p: Params, x):
    """[B, T, D] -> [B, T, F] -> GeLU -> [B, T, D]."""
    h, c_fc = linear(p["w_fc"], p["b_fc"], x)       # [B, T, F]
    g, c_gelu = gelu(h)                             # [B, T, F]
    out, c_proj = linear(p["w_proj"], p["b_proj"], g)  # [B, T, D]
    return out, (c_fc, c_gelu, c_proj)


def mlp_backward(dout, cache):
    c_fc, c_gelu, c_proj = cache
    dg, dw_proj, db_proj = linear_backward(dout, c_proj)
    dx, dw_fc, db_fc = linear_backward(gelu_backward(dg, c_gelu), c_fc)
    return dx, {"w_fc": dw_fc, "b_fc": db_fc, "w_proj": dw_proj, "b_proj": db_proj}


def block(p: Params, x, bias, cfg: GLMConfig):
    """Pre-LN transformer block: x + attn(ln_1(x)), then + mlp(ln_2(.)); [B, T, D] -> [B, T, D]."""
    h1, c_ln1 = layer_norm(sub(p, "ln_1"), x, cfg.ln_eps)
    a, c_attn = attention(sub(p, "attn"), h1, bias, cfg.n_heads)
    a += x                                           # x + attn(.): a is no layer's cache
    h2, c_ln2 = layer_norm(sub(p, "ln_2"), a, cfg.ln_eps)
    m, c_mlp = mlp(sub(p, "mlp"), h2)
    m += a
    return m, (c_ln1, c_attn, c_ln2, c_mlp)


def block_backward(dout, cache):
    c_ln1, c_attn, c_ln2, c_mlp = cache
    dh2, g_mlp = mlp_backward(dout, c_mlp)
    dx2, g_ln2 = layer_norm_backward(dh2, c_ln2)
    dx2 += dout                                      # residual: both paths reach x
    dh1, g_attn = attention_backward(dx2, c_attn)
    dx1, g_ln1 = layer_norm_backward(dh1, c_ln1)
    dx1 += dx2
    grads = {**prefixed(g_ln1, "ln_1"), **prefixed(g_attn, "attn"),
             **prefixed(g_ln2, "ln_2"), **prefixed(g_mlp, "mlp")}
    return dx1, grads


def cross_entropy(h_sel, wte, targets, denom: float):
    """Tied output + CE at the loss positions: [N, D], [V, D], [N] -> (sum of losses / denom, per-token)."""
    logits = h_sel @ wte.T                                   # [N, V]
    logits -= logits.max(-1, keepdims=True)
    e = np.exp(logits)                                       # [N, V], unnormalised softmax
    z = e.sum(-1)                                            # [N]
    losses = np.log(z) - logits[np.arange(len(targets)), targets]  # [N]
    return losses.sum() / denom, (h_sel, wte, targets, e, z, denom), losses


def cross_entropy_backward(cache):
    """Gradients w.r.t. h_sel and wte; works in place on the cache's [N, V] array (use a cache once)."""
    h_sel, wte, targets, e, z, denom = cache
    dlogits = e                                              # [N, V]
    dlogits *= (1.0 / (z * denom))[:, None]                  # softmax / denom
    dlogits[np.arange(len(targets)), targets] -= 1.0 / denom
    return dlogits @ wte, dlogits.T @ h_sel                  # [N, D], [V, D]


# --------------------------------------------------------------------------- the model
# Loss positions whose logits [N, V] are computed at once when no gradient is needed: 1024
# positions of a 100k vocabulary in float32 are 0.4 GB, where a whole batch's were gigabytes.
LOSS_CHUNK = 1024


def hidden_states(params: Params, cfg: GLMConfig, ids, pos, bpos, sep, lengths, keep_cache: bool = True):
    """The final layer-normed hidden states: [B, T] inputs -> [B, T, D], plus the cache for
    backward (without ``keep_cache`` each layer's activations are freed as soon as the next
    layer has them: evaluation holds one layer's, not all of them)."""
    x, c_emb = embed(params, ids, pos, bpos)                         # [B, T, D]
    bias = mask_bias(attention_mask(sep, lengths, ids.shape[1]), x.dtype)  # [B, 1, T, T]
    c_blocks = []
    for i in range(cfg.n_layers):
        x, c = block(sub(params, f"h{i}"), x, bias, cfg)             # [B, T, D]
        if keep_cache:
            c_blocks.append(c)
        del c
    h, c_lnf = layer_norm(sub(params, "ln_f"), x, cfg.ln_eps)        # [B, T, D]
    return h, (c_emb, c_blocks, c_lnf)


def hidden_states_backward(dh, cache) -> Params:
    c_emb, c_blocks, c_lnf = cache
    dx, grads = layer_norm_backward(dh, c_lnf)
    grads = prefixed(grads, "ln_f")
    for i in reversed(range(len(c_blocks))):
        dx, g = block_backward(dx, c_blocks[i])
        grads.update(prefixed(g, f"h{i}"))
    grads.update(embed_backward(dx, c_emb))
    return grads


# Padded positions of a batch whose forward and backward run as one unit (4 rows at T = 256):
# ``threads.map_parts`` runs ``thread_count()`` parts at once, so two threads work on two parts'
# elementwise work as well as their matrix products. The parts depend on the batch alone and
# their gradients are summed in their order, so a step's loss and gradients are the same for
# any number of threads.
PART_TOKENS = 1024
BATCH_KEYS = ("input_ids", "target_ids", "loss_mask", "position_ids", "sep", "lengths")


def batch_parts(batch, part_tokens: int = PART_TOKENS):
    """The batch's rows in consecutive parts of about ``part_tokens`` padded positions (at least one row)."""
    B, T = batch["input_ids"].shape
    rows = max(1, part_tokens // max(T, 1))
    return [{k: batch[k][i:i + rows] for k in BATCH_KEYS} for i in range(0, B, rows)]


def loss_and_grads(params: Params, cfg: GLMConfig, batch, denom: float = 0.0,
                   need_grads: bool = True) -> Tuple[float, Params, np.ndarray]:
    """Mean cross-entropy over the batch's loss positions, its gradients, and the per-position losses.

    ``batch`` is ``glmprep.loader.collate``'s with compacted ids: input_ids, target_ids,
    loss_mask [B, T]; position_ids [B, 2, T]; sep, lengths [B]. The loss is summed and divided by
    ``denom`` (default: this batch's number of loss positions), so gradient accumulation
    over several batches divides by the total once. Logits are computed only at loss
    positions. The rows are worked on in parts (``batch_parts``) on ``threads.thread_count()``
    threads.
    """
    denom = denom or max(int(np.count_nonzero(batch["loss_mask"])), 1)
    grads: Params = {}
    losses = [np.zeros(0, dtype=cfg.dtype)]
    for part_grads, part_losses in threads.map_parts(
            lambda part: part_loss_and_grads(params, cfg, part, denom, need_grads), batch_parts(batch)):
        for k, g in part_grads.items():  # in the parts' order: the same sums on any thread count
            if k in grads:
                grads[k] += g
            else:
                grads[k] = g
        losses.append(part_losses)
    losses = np.concatenate(losses)                         # [N], in np.nonzero(loss_mask) order
    return float(losses.sum() / denom), grads, losses


def part_loss_and_grads(params: Params, cfg: GLMConfig, batch, denom: float,
                        need_grads: bool) -> Tuple[Params, np.ndarray]:
    """One part's gradients of (its summed losses / ``denom``) and its per-position losses [n]."""
    h, cache = hidden_states(params, cfg, batch["input_ids"], batch["position_ids"][:, 0],
                             batch["position_ids"][:, 1], batch["sep"], batch["lengths"],
                             keep_cache=need_grads)
    where = np.nonzero(batch["loss_mask"])                  # 2 x [n]
    if not need_grads:  # logits [n, V] a chunk of positions at a time: memory bounded by the chunk
        h_sel, targets = h[where], batch["target_ids"][where]
        losses = [cross_entropy(h_sel[i:i + LOSS_CHUNK], params["wte"], targets[i:i + LOSS_CHUNK], 1.0)[2]
                  for i in range(0, len(targets), LOSS_CHUNK)]
        return {}, np.concatenate(losses or [np.zeros(0, h.dtype)])
    _, c_ce, losses = cross_entropy(h[where], params["wte"], batch["target_ids"][where], denom)
    dh_sel, dwte_out = cross_entropy_backward(c_ce)         # [n, D], [V, D]
    dh = np.zeros_like(h)
    dh[where] = dh_sel                                      # [b, T, D]; zero off the loss positions
    grads = hidden_states_backward(dh, cache)
    grads["wte"] += dwte_out                                # tied: input and output uses add up
    return grads, losses


def next_token_logits(params: Params, cfg: GLMConfig, ids, pos, bpos, sep: int) -> np.ndarray:
    """Logits [V] predicting the token after the last one of a single unpadded sequence [T]."""
    T = len(ids)
    h, _ = hidden_states(params, cfg, ids[None], pos[None], bpos[None],
                         np.array([sep]), np.array([T]))   # [1, T, D]
    return h[0, -1] @ params["wte"].T                       # [V]
