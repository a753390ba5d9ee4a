"""Shard size and read speed per compression, and glmprep.loader's batches/s on one core.

    python bench/loader.py RUN_DIR [RUN_DIR ...] [--batch-size 16] [--batches 400]

Each RUN_DIR is a ``glmprep run`` output (e.g. the same corpus written with
``--compression none``, ``lz4`` and ``zstd``). Per run it prints bytes per token (shard
bytes / tokens in the manifest), the time to open the shards and read every token column
(tokens/s), and GLMLoader batches/s. The baseline, measured in the same run on the same
shards, is the plain way of reading rows with pyarrow (``Table.take(rows).to_pylist()``
and padding in Python); the loader's figure is printed as a ratio to it. Run it under
``taskset -c 0`` for one core.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import pyarrow as pa

from glmprep.loader import GLMLoader, open_shards
from glmprep.schemas.shard import TOKEN_COLUMNS


def size_per_token(run_dir: str):
    with open(os.path.join(run_dir, "manifest.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)
    tokens = manifest["totals"]["tokens"]
    size = sum(os.path.getsize(os.path.join(run_dir, s["file"])) for s in manifest["shards"])
    return size / tokens, tokens, manifest["options"].get("compression", "none")


def read_all(run_dir: str) -> float:
    """Seconds to open the shards and touch every token column value."""
    start = time.perf_counter()
    shards = open_shards(run_dir)
    total = 0
    for name in TOKEN_COLUMNS:
        for values, _ in shards.column_chunks(name):
            total += int(values.sum(dtype=np.int64))
    return time.perf_counter() - start


def loader_rate(run_dir: str, batch_size: int, n: int) -> float:
    batches = iter(GLMLoader(run_dir, batch_size, seed=0))
    next(batches)  # opening and the first epoch's order are not per-batch costs
    start = time.perf_counter()
    for _ in range(n):
        next(batches)
    return n / (time.perf_counter() - start)


def baseline_rate(run_dir: str, batch_size: int, n: int) -> float:
    """Rows through pyarrow's Python objects, padded with NumPy: what a user writes first."""
    shards = open_shards(run_dir)
    tables = [r.table for r in shards.readers]
    table = pa.concat_tables(tables)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(n):
        rows = table.take(rng.integers(0, table.num_rows, batch_size)).to_pylist()
        L = max(len(r["input_ids"]) for r in rows)
        batch = {name: np.zeros((len(rows), L), np.int64) for name in TOKEN_COLUMNS}
        for b, r in enumerate(rows):
            for name in TOKEN_COLUMNS:
                batch[name][b, :len(r[name])] = r[name]
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3, help="medians of this many interleaved rounds")
    args = parser.parse_args()
    timings = {run: [] for run in args.runs}
    for _ in range(args.rounds):
        for run in args.runs:  # interleaved, so load on the machine hits every run alike
            timings[run].append((read_all(run), loader_rate(run, args.batch_size, args.batches),
                                 baseline_rate(run, args.batch_size, max(args.batches // 8, 1))))
    print(f"{'compression':<12} {'bytes/token':>11} {'read all (s)':>12} {'M tokens/s':>10} "
          f"{'loader b/s':>10} {'pyarrow rows b/s':>16} {'ratio':>6}")
    for run in args.runs:
        per_token, tokens, compression = size_per_token(run)
        seconds, rate, base = (statistics.median(column) for column in zip(*timings[run]))
        print(f"{compression:<12} {per_token:>11.2f} {seconds:>12.2f} {tokens / seconds / 1e6:>10.1f} "
              f"{rate:>10.0f} {base:>16.0f} {rate / base:>6.1f}")


if __name__ == "__main__":
    main()
