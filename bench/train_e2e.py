"""End to end: shards from the bundled sample corpus train the NumPy GLM to beat a unigram model.

    python bench/train_e2e.py [--workdir DIR] [--steps 500] [--d-model 128] [--layers 2] ...

1. ``glmprep run`` on data/sample (JSONL, Parquet, plain text) -> shards, seq_len 256;
2. ``glmprep train`` holds out 10% of the documents and trains a small model;
3. ``glmprep eval`` prints held-out loss per objective next to the unigram baseline
   (training rows' Part B targets, add-one smoothed); the target is ≥ 1 nat below
   the unigram on the blank objective;
4. ``glmprep infill`` fills a blank in a sentence from the held-out documents' style;
5. forward+backward time per step of the NumPy model, and of the same model in PyTorch
   on CPU when torch is installed (for comparison only; the trainer never imports it;
   ``bench/train_step.py`` is the careful comparison: interleaved rounds, pinned threads).

Every command runs as a subprocess, exactly as a user would type it. Exit code 0 when
the blank target holds.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

from train_step import TorchGLM, mean_step_seconds

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(REPO, "data", "sample")
GLMPREP = [sys.executable, "-m", "glmprep"]
INFILL_TEXT = "In the garden, the [MASK] grow best in the spring."


def run(args, **kw) -> str:
    """Run a glmprep command, echo its stderr progress, return stdout."""
    print("$ glmprep " + " ".join(args), flush=True)
    done = subprocess.run(GLMPREP + list(args), stdout=subprocess.PIPE, text=True, **kw)
    if done.returncode:
        raise SystemExit(f"glmprep {args[0]} failed with exit code {done.returncode}")
    return done.stdout


def step_times(ckpt: str, data: str, batch_size: int, repeats: int = 5):
    """(seconds per forward+backward, tokens per batch, checkpoint, batches) of the NumPy model."""
    from glmprep.trainer import checkpoint
    from glmprep.trainer import model as M
    from glmprep.trainer.data import BatchStream, open_shards, split_rows
    from glmprep.trainer.train import compact_batch

    ck = checkpoint.load(ckpt)
    shards = open_shards(data, ck.tokenizer)
    tc = ck.state.train_cfg
    rows, _ = split_rows(shards, tc.eval_fraction, tc.split, tc.split_seed)
    stream = BatchStream(shards, rows, batch_size, seed=123)
    batches = [compact_batch(next(stream), ck.state.vocab) for _ in range(repeats)]
    step = lambda b: M.loss_and_grads(ck.state.params, ck.state.model_cfg, b)
    step(batches[0])  # warm up
    seconds = mean_step_seconds(step, batches)[0]
    return seconds, float(np.mean([b["lengths"].sum() for b in batches])), ck, batches


def torch_step_time(ck, batches):
    """The same model, batches and loss in PyTorch on CPU (train_step.TorchGLM); None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    model = TorchGLM(ck.state.model_cfg, ck.state.params)
    model.loss_and_grads(batches[0])  # warm up
    return mean_step_seconds(model.loss_and_grads, batches)[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", help="where shards and the checkpoint go (default: a temporary directory)")
    # The sample corpus packs into ~480 training rows of seq_len 256: 500 steps of 16 rows is
    # ~17 epochs; 1000 steps overfit (held-out blank loss 0.90 nats under unigram against 1.16).
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--eval-fraction", type=float, default=0.1)
    args = ap.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="glmprep-train-e2e-")
    shards, ckpt = os.path.join(workdir, "shards"), os.path.join(workdir, "ckpt")
    print(f"work directory: {workdir}")

    t0 = time.perf_counter()
    run(["run", "--input", os.path.join(SAMPLE, "*.jsonl.gz"), "--input", os.path.join(SAMPLE, "extra.parquet"),
         "--input", os.path.join(SAMPLE, "notes.txt"), "--text-mode", "paragraph",
         "--output", shards, "--overwrite", "--seq-len", str(args.seq_len), "--quiet"])
    print(f"shards built in {time.perf_counter() - t0:.1f} s\n")

    t0 = time.perf_counter()
    run(["train", "--data", shards, "--out", ckpt, "--steps", str(args.steps),
         "--batch-size", str(args.batch_size), "--d-model", str(args.d_model),
         "--layers", str(args.layers), "--heads", str(args.heads), "--lr", str(args.lr),
         "--eval-fraction", str(args.eval_fraction), "--log-every", "100"])
    train_seconds = time.perf_counter() - t0
    # The machine may be shared: the load average says how far tokens/s are from an idle machine's.
    print(f"training took {train_seconds / 60:.1f} min (load average {os.getloadavg()[1]:.1f} "
          f"on {os.cpu_count()} cores)\n")

    table = run(["eval", "--data", shards, "--checkpoint", ckpt])
    print(table)
    filled = run(["infill", "--checkpoint", ckpt, INFILL_TEXT, "--show-spans"])
    print(f"infill: {INFILL_TEXT!r}\n   ->  {filled}")

    seconds, tokens, ck, batches = step_times(ckpt, shards, args.batch_size)
    with open(os.path.join(ckpt, "loss.csv")) as fh:
        rates = [float(line.split(",")[5]) for line in fh.readlines()[1:]]
    print(f"NumPy forward+backward: {seconds * 1000:.0f} ms per step of {tokens:.0f} tokens "
          f"({tokens / seconds:,.0f} tokens/s); whole training loop {rates[-1]:,.0f} tokens/s")
    torch_seconds = torch_step_time(ck, batches)
    if torch_seconds is None:
        print("PyTorch: not installed, no comparison")
    else:
        print(f"PyTorch CPU forward+backward: {torch_seconds * 1000:.0f} ms per step; "
              f"NumPy / PyTorch = {seconds / torch_seconds:.2f}x")

    blank = re.search(r"^blank\s+\S+\s+(\S+)\s+(\S+)", table, re.M)
    gap = float(blank.group(2)) - float(blank.group(1))
    verdict = "met" if gap >= 1.0 else "NOT met"
    print(f"\nblank objective: {gap:.2f} nats below the unigram baseline (target ≥ 1): {verdict}")
    return 0 if gap >= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
