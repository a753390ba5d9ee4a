"""The NumPy trainer's forward+backward against the identical model in PyTorch on CPU.

    python bench/train_step.py [--data SHARDS] [--rounds 7] [--batches 4] [--threads 1] [--baseline REV] ...

Both sides get the same weights (``model.init_params``, seed 0), the same config and the same
batches (training batches of real shards, vocabulary compacted as ``glmprep train`` does; without
``--data`` the shards are built from the bundled sample with ``glmprep run``). Timed per side:
one forward+backward per batch (``model.loss_and_grads``; in PyTorch the loss and
``backward()``), no optimizer step. On the first batch the two must agree on the loss and every
gradient (float32, relative to each gradient's largest entry); otherwise the bench stops, as
the comparison would not be of the same work. Rounds interleave the sides (A B, B A, ...), so a
machine whose load drifts slows both; medians, min and max are of the per-round mean step time,
and the ratio NumPy / PyTorch is taken per round, of wall time and of the process's CPU time
(with one thread the CPU time is what a loaded machine's sharing distorts least).

Threads: ``--threads N`` (default 1) sets OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and
MKL_NUM_THREADS before NumPy or torch is imported, ``torch.set_num_threads(N)`` and, for this
tree's NumPy model, ``threads.use_threads(N)`` (N threads on the batch's parts, BLAS at one each),
as ``glmprep train --threads N`` does; the baseline gets BLAS at N threads, as it had.

Baseline: ``--baseline REV`` also times ``glmprep/trainer/model.py`` of commit REV (loaded from
``git show``; its imports come from this tree) in the same rounds, checked like this tree's
against PyTorch. The default is the version this tree's model.py replaced: HEAD's when the
working tree changes it, else the one before the last commit that changed it; ``--baseline
none`` times this tree and PyTorch only. torch is optional: without it only the NumPy sides run.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(REPO, "data", "sample")
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
GRAD_RTOL = 2e-3  # float32 on both sides, different summation orders
MODEL_PY = "glmprep/trainer/model.py"


def pin_threads(n: int) -> None:
    """BLAS and OpenMP thread counts; effective only before NumPy and torch are first imported."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(n)


def build_sample_shards(out: str, seq_len: int) -> None:
    """The bundled sample -> shards at ``out``, exactly as ``bench/train_e2e.py`` builds them."""
    cmd = [sys.executable, "-m", "glmprep", "run", "--input", os.path.join(SAMPLE, "*.jsonl.gz"),
           "--input", os.path.join(SAMPLE, "extra.parquet"), "--input", os.path.join(SAMPLE, "notes.txt"),
           "--text-mode", "paragraph", "--output", out, "--overwrite", "--seq-len", str(seq_len), "--quiet"]
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": REPO})


def training_batches(data: str, n: int, batch_size: int, **sizes):
    """(model config, params, n compacted training batches) as ``glmprep train`` would see them."""
    from glmprep.trainer import train as T
    from glmprep.trainer.data import BatchStream, open_shards, split_rows

    shards = open_shards(data)
    train_rows, _ = split_rows(shards, 0.1)
    vocab = T.build_vocab(shards, train_rows, compact=True)
    cfg = T.model_config_for(shards, vocab, **sizes)
    state = T.new_state(cfg, T.TrainConfig(), vocab)
    stream = BatchStream(shards, train_rows, batch_size, seed=123)
    return cfg, state.params, [T.compact_batch(next(stream), vocab) for _ in range(n)]


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", REPO, *args], check=True, capture_output=True, text=True).stdout


def default_baseline() -> str:
    """The model.py this tree's replaced: HEAD's if the working tree changes it, else the parent
    of the last commit that changed it."""
    if git("status", "--porcelain", "--", MODEL_PY).strip():
        return "HEAD"
    return git("log", "-1", "--format=%h", "--", MODEL_PY).strip() + "^"


def load_baseline_model(rev: str, directory: str):
    """``glmprep/trainer/model.py`` of commit ``rev`` as a module of its own (imports: this tree's)."""
    path = os.path.join(directory, "baseline_model.py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(git("show", f"{rev}:{MODEL_PY}"))
    spec = importlib.util.spec_from_file_location("baseline_model", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


class TorchGLM:
    """The trainer's GLM (model.py) written with torch ops: same parameters, mask and loss."""

    def __init__(self, cfg, params):
        import torch
        self.torch, self.cfg = torch, cfg
        self.P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}

    def loss(self, b):
        torch, cfg, P = self.torch, self.cfg, self.P
        F = torch.nn.functional
        D, H = cfg.d_model, cfg.n_heads
        ln = lambda x, pre: F.layer_norm(x, (D,), P[pre + ".g"], P[pre + ".b"], cfg.ln_eps)
        ids, positions = torch.from_numpy(b["input_ids"]), torch.from_numpy(b["position_ids"])
        B, T = ids.shape
        x = P["wte"][ids] + P["wpe"][positions[:, 0]] + P["wbpe"][positions[:, 1]]
        q_i, k_i = torch.arange(T)[None, :, None], torch.arange(T)[None, None, :]
        sep = torch.from_numpy(b["sep"])[:, None, None]
        length = torch.from_numpy(b["lengths"])[:, None, None]
        mask = (((k_i < sep) | (k_i <= q_i)) & (k_i < length))[:, None]
        for i in range(cfg.n_layers):
            h = ln(x, f"h{i}.ln_1") @ P[f"h{i}.attn.w_qkv"] + P[f"h{i}.attn.b_qkv"]
            q, k, v = h.view(B, T, 3, H, D // H).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            x = x + a.transpose(1, 2).reshape(B, T, D) @ P[f"h{i}.attn.w_o"] + P[f"h{i}.attn.b_o"]
            h = F.gelu(ln(x, f"h{i}.ln_2") @ P[f"h{i}.mlp.w_fc"] + P[f"h{i}.mlp.b_fc"], approximate="tanh")
            x = x + h @ P[f"h{i}.mlp.w_proj"] + P[f"h{i}.mlp.b_proj"]
        h = ln(x, "ln_f")
        sel = torch.from_numpy(b["loss_mask"]).bool()
        return F.cross_entropy(h[sel] @ P["wte"].T, torch.from_numpy(b["target_ids"])[sel])

    def loss_and_grads(self, b):
        for p in self.P.values():
            p.grad = None
        loss = self.loss(b)
        loss.backward()
        return loss.item(), {k: p.grad for k, p in self.P.items()}


def check_same(name, model, cfg, params, torch_model, batch) -> float:
    """Largest relative gradient difference between ``model`` and PyTorch on ``batch``; exits if over GRAD_RTOL."""
    import numpy as np

    loss, grads, _ = model.loss_and_grads(params, cfg, batch)
    t_loss, t_grads = torch_model.loss_and_grads(batch)
    worst = 0.0
    for k, g in grads.items():
        if g.dtype != np.float32:
            raise SystemExit(f"gradient {k} is {g.dtype}, not float32")
        t = t_grads[k].numpy()
        worst = max(worst, float(np.abs(g - t).max() / max(np.abs(t).max(), 1e-12)))
    if abs(loss - t_loss) > 1e-4 * abs(t_loss) or worst > GRAD_RTOL:
        raise SystemExit(f"{name} and PyTorch disagree: loss {loss:.6f} vs {t_loss:.6f}, "
                         f"largest relative gradient difference {worst:.1e} (limit {GRAD_RTOL:g})")
    print(f"same work: loss {loss:.6f} ({name}) vs {t_loss:.6f} (PyTorch); "
          f"largest relative gradient difference {worst:.1e} over {len(grads)} parameters")
    return worst


def mean_step_seconds(step, batches):
    """(wall, CPU) seconds per batch; CPU is this process's, all threads."""
    wall, cpu = time.perf_counter(), time.process_time()
    for b in batches:
        step(b)
    return (time.perf_counter() - wall) / len(batches), (time.process_time() - cpu) / len(batches)


def summary(values) -> str:
    return f"median {statistics.median(values):.4g} (min {min(values):.4g}, max {max(values):.4g})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="shards (default: built from data/sample into a temporary directory)")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds (each times both sides)")
    ap.add_argument("--batches", type=int, default=4, help="batches per side per round")
    ap.add_argument("--threads", type=int, default=1, help="threads per side: BLAS / OpenMP / torch / trainer")
    ap.add_argument("--baseline", help="commit whose model.py is also timed (default: the version this "
                                       "tree's replaced, see above; 'none': no baseline)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=256, help="of the shards built from the sample")
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    args = ap.parse_args(argv)
    pin_threads(args.threads)

    from glmprep.trainer import model as M
    from glmprep.trainer import threads
    work = tempfile.mkdtemp(prefix="glmprep-train-step-")
    data = args.data
    if not data:
        data = os.path.join(work, "shards")
        build_sample_shards(data, args.seq_len)
    cfg, params, batches = training_batches(data, args.batches, args.batch_size, d_model=args.d_model,
                                            n_layers=args.layers, n_heads=args.heads)
    tokens = sum(int(b["lengths"].sum()) for b in batches) / len(batches)
    shape = batches[0]["input_ids"].shape
    print(f"model: d_model {cfg.d_model}, {cfg.n_layers} layers, {cfg.n_heads} heads, vocabulary "
          f"{cfg.vocab_size}; {len(batches)} batches of {shape[0]} rows, padded length ~{shape[1]}, "
          f"{tokens:.0f} tokens each; timed: forward+backward per batch, no optimizer step")
    blas = threads.use_threads(args.threads)
    print(f"threads: {', '.join(f'{v}={args.threads}' for v in THREAD_VARIABLES)}; this tree: "
          f"threads.use_threads({args.threads}), {len(M.batch_parts(batches[0]))} parts per batch, "
          f"BLAS threads read back: {blas}")
    models = {"NumPy": M}
    baseline = default_baseline() if args.baseline is None else args.baseline
    if baseline != "none":
        models["baseline"] = load_baseline_model(baseline, work)
        print(f"baseline: {MODEL_PY} of {baseline} ({git('log', '-1', '--format=%h %s', baseline).strip()[:90]}), "
              f"BLAS at {args.threads} thread(s)")
    # Before a side's rounds: this tree's model runs with BLAS at one thread per pool thread, the
    # baseline (which has no pool) with BLAS at --threads.
    setup = {"NumPy": lambda: threads.set_blas_threads(1), "baseline": lambda: threads.set_blas_threads(args.threads)}
    sides = {name: (lambda b, m=m: m.loss_and_grads(params, cfg, b)) for name, m in models.items()}
    try:
        import torch
    except ImportError:
        print("PyTorch: not installed; timing the NumPy side(s) only")
    else:
        torch.set_num_threads(args.threads)
        print(f"PyTorch: torch.set_num_threads({args.threads})")
        torch_model = TorchGLM(cfg, params)
        for name, m in models.items():
            setup[name]()
            check_same(name, m, cfg, params, torch_model, batches[0])
        sides["PyTorch"] = torch_model.loss_and_grads
    for name, step in sides.items():
        setup.get(name, lambda: None)()
        step(batches[0])  # warm up
    wall, cpu = {name: [] for name in sides}, {name: [] for name in sides}
    load = [os.getloadavg()[0]]
    for r in range(args.rounds):
        for name in (list(sides) if r % 2 == 0 else list(reversed(sides))):
            setup.get(name, lambda: None)()
            w, c = mean_step_seconds(sides[name], batches)
            wall[name].append(w)
            cpu[name].append(c)
        load.append(os.getloadavg()[0])
    for name in sides:
        print(f"{name:8s} wall ms per step: {summary([s * 1000 for s in wall[name]])}; "
              f"{tokens / statistics.median(wall[name]):,.0f} tokens/s; "
              f"CPU ms per step: {summary([s * 1000 for s in cpu[name]])}")
    pairs = [(a, b) for a, b in (("NumPy", "PyTorch"), ("baseline", "PyTorch"), ("NumPy", "baseline"))
             if a in sides and b in sides]
    for a, b in pairs:
        for label, t in (("wall", wall), ("CPU", cpu)):
            ratios = [x / y for x, y in zip(t[a], t[b])]
            print(f"{a} / {b}, {label} time: {summary(ratios)} over {args.rounds} rounds")
    print(f"load average (1 min) during the rounds: {min(load):.1f}-{max(load):.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
