"""Training the reference GLM: AdamW, clipping, warmup + cosine, gradient accumulation.

    state = new_state(model_cfg, train_cfg, vocab)      # or checkpoint.load(...).state
    stream = BatchStream(shards, train_rows, ...)
    for _ in range(n): stats = train_step(state, stream) # loss, lr, grad_norm, tokens
    evaluate(state, shards, held_out_rows)               # loss per objective
    unigram_baseline(shards, train_rows, held_out_rows, vocab)

Everything a step depends on is in ``TrainState`` (parameters, Adam moments, step)
and the stream's (seed, epoch, position); saving both and loading them continues
with exactly the losses an uninterrupted run would have seen.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Optional

import numpy as np

from glmprep.schemas import OBJECTIVES
from glmprep.trainer import model as M
from glmprep.trainer.data import BatchStream, ShardSet, count_ids, epoch_batches
from glmprep.trainer.vocab import VocabMap


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000             # optimizer steps; the cosine schedule ends here
    batch_size: int = 16          # rows per micro-batch
    grad_accum: int = 1           # micro-batches per step (effective batch = batch_size · grad_accum)
    lr: float = 3e-3              # peak learning rate; small models take large steps
    min_lr_ratio: float = 0.1     # the cosine decays to lr · min_lr_ratio, not to 0
    warmup_steps: int = 50        # linear warmup from lr/warmup; Adam's early moments are noisy
    weight_decay: float = 0.1     # decoupled (AdamW), on matrices and embeddings only
    beta1: float = 0.9
    beta2: float = 0.95           # shorter second-moment memory: steadier for small batches
    eps: float = 1e-8
    grad_clip: float = 1.0        # global L2 norm; 0 turns clipping off
    seed: int = 0                 # parameter init and data order
    eval_fraction: float = 0.1    # share of documents held out (see data.split_rows)
    split: str = "document"       # "document" (hash of the row's first document) or "shard"
    split_seed: int = 0           # separate from seed, so reseeded runs share one held-out set
    pad_to: int = 0               # 0: pad each batch to its longest row
    compact_vocab: bool = True    # see vocab.py

    def to_dict(self) -> Dict[str, object]:
        return asdict(self)


@dataclass
class TrainState:
    model_cfg: M.GLMConfig
    train_cfg: TrainConfig
    vocab: VocabMap
    params: M.Params
    m: M.Params                   # Adam first moments, same names and shapes as params
    v: M.Params                   # Adam second moments
    step: int = 0                 # optimizer steps taken


def new_state(model_cfg: M.GLMConfig, train_cfg: TrainConfig, vocab: VocabMap) -> TrainState:
    params = M.init_params(model_cfg, seed=train_cfg.seed)
    zeros = lambda: {k: np.zeros_like(p) for k, p in params.items()}
    return TrainState(model_cfg, train_cfg, vocab, params, zeros(), zeros())


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate of optimizer step ``step`` (0-based): linear warmup, then cosine to min_lr."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    decay_steps = max(cfg.steps - cfg.warmup_steps, 1)
    progress = min((step - cfg.warmup_steps) / decay_steps, 1.0)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1.0 + math.cos(math.pi * progress))


def clip_grads(grads: M.Params, max_norm: float) -> float:
    """Scale grads in place so their global L2 norm is ≤ max_norm; returns the norm before."""
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    if max_norm > 0 and norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for g in grads.values():
            g *= scale
    return norm


def adamw_update(state: TrainState, grads: M.Params, lr: float) -> None:
    """One AdamW step, in place (Loshchilov & Hutter: decay separate from the adaptive step)."""
    c = state.train_cfg
    t = state.step + 1
    bc1, bc2 = 1.0 - c.beta1 ** t, 1.0 - c.beta2 ** t
    for name, p in state.params.items():
        g, m, v = grads[name], state.m[name], state.v[name]
        m *= c.beta1
        m += (1.0 - c.beta1) * g
        v *= c.beta2
        v += (1.0 - c.beta2) * (g * g)
        if p.ndim >= 2 and c.weight_decay:
            p *= 1.0 - lr * c.weight_decay
        p -= (lr / bc1) * m / (np.sqrt(v / bc2) + c.eps)


def compact_batch(batch: Dict[str, np.ndarray], vocab: VocabMap) -> Dict[str, np.ndarray]:
    """The batch with input and target ids mapped to the model's compact vocabulary."""
    out = dict(batch)
    out["input_ids"] = vocab.encode(batch["input_ids"])
    out["target_ids"] = vocab.encode(batch["target_ids"])
    return out


def train_step(state: TrainState, stream: BatchStream) -> Dict[str, float]:
    """One optimizer step over ``grad_accum`` micro-batches; the loss is the mean over all their loss positions."""
    c = state.train_cfg
    batches = [compact_batch(next(stream), state.vocab) for _ in range(c.grad_accum)]
    denom = max(sum(int(b["loss_mask"].sum()) for b in batches), 1)
    loss, grads = 0.0, None
    for b in batches:
        part, g, _ = M.loss_and_grads(state.params, state.model_cfg, b, denom=denom)
        loss += part
        grads = g if grads is None else {k: grads[k] + g[k] for k in grads}
    norm = clip_grads(grads, c.grad_clip)
    lr = lr_at(state.step, c)
    adamw_update(state, grads, lr)
    state.step += 1
    tokens = sum(int(b["lengths"].sum()) for b in batches)
    return {"step": state.step, "loss": loss, "lr": lr, "grad_norm": norm, "tokens": tokens,
            "loss_tokens": denom}


def evaluate(state: TrainState, shards: ShardSet, rows: np.ndarray, batch_size: int = 32,
             progress: Optional[Callable[[int, int], None]] = None) -> Dict[str, Dict[str, float]]:
    """Held-out cross-entropy (nats per Part B target) per objective and over all rows.

    Streams the rows in batches (memory: one batch's activations of one layer, and logits of
    ``model.LOSS_CHUNK`` positions); ``progress(done, total)`` is called after each batch.
    Returns ``{objective | "all": {"loss": ..., "tokens": ..., "unknown": targets outside the vocabulary}}``.
    """
    sums = {o: [0.0, 0, 0] for o in OBJECTIVES + ("all",)}
    total = -(-len(rows) // batch_size)
    for done, batch in enumerate(epoch_batches(shards, rows, batch_size), 1):
        cb = compact_batch(batch, state.vocab)
        _, _, losses = M.loss_and_grads(state.params, state.model_cfg, cb, need_grads=False)
        where = np.nonzero(batch["loss_mask"])
        objective = batch["objective"][where[0]]                # [N]
        unknown = cb["target_ids"][where] == 0                  # [N]
        for k, name in enumerate(OBJECTIVES):
            sel = objective == k
            sums[name][0] += float(losses[sel].sum())
            sums[name][1] += int(sel.sum())
            sums[name][2] += int(unknown[sel].sum())
        sums["all"][0] += float(losses.sum())
        sums["all"][1] += len(losses)
        sums["all"][2] += int(unknown.sum())
        if progress is not None:
            progress(done, total)
    return {k: {"loss": s / n if n else float("nan"), "tokens": n, "unknown": u}
            for k, (s, n, u) in sums.items()}


def unigram_probs(shards: ShardSet, train_rows: np.ndarray, vocab: VocabMap) -> np.ndarray:
    """[V] add-one smoothed frequencies of the training rows' Part B targets, in compact ids."""
    counts = count_ids(shards, train_rows)                       # [full vocab]
    compact = np.bincount(vocab.encode(np.arange(len(counts))), weights=counts, minlength=len(vocab))
    compact += 1.0  # every class, the unknown slot included, stays possible
    return compact / compact.sum()


def unigram_baseline(shards: ShardSet, train_rows: np.ndarray, eval_rows: np.ndarray,
                     vocab: VocabMap) -> Dict[str, float]:
    """Held-out loss (nats) of predicting every Part B target from the training unigram, per objective."""
    logp = np.log(unigram_probs(shards, train_rows, vocab))
    out = {}
    for k, name in enumerate(OBJECTIVES + ("all",)):
        rows = eval_rows if name == "all" else eval_rows[shards.objective[eval_rows] == k]
        counts = count_ids(shards, rows)                         # [full vocab]
        n = counts.sum()
        out[name] = float(-(counts * logp[vocab.encode(np.arange(len(counts)))]).sum() / n) if n else float("nan")
    return out


def build_vocab(shards: ShardSet, train_rows: np.ndarray, compact: bool) -> VocabMap:
    """Compact map of every id in the training rows' inputs and targets plus all specials (or identity)."""
    full = int(shards.metadata.vocab_size)
    if not compact:
        return VocabMap.identity(full)
    present = count_ids(shards, train_rows, "input_ids", loss_only=False) \
        + count_ids(shards, train_rows, "target_ids", loss_only=False)
    return VocabMap.from_counts(present, keep=shards.metadata.special_tokens.values())


def model_config_for(shards: ShardSet, vocab: VocabMap, **sizes) -> M.GLMConfig:
    """A GLMConfig sized for the shards: positions up to seq_len, block positions up to seq_len + 1."""
    return M.GLMConfig(vocab_size=len(vocab), n_positions=shards.seq_len,
                       n_block_positions=shards.seq_len + 1, **sizes)
