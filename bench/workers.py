"""``glmprep run --workers``: where ``auto`` switches to worker processes, and what the
second worker gives against what this machine can give two processes.

    python bench/workers.py [CORPUS.jsonl.gz ...] [--rounds 5] [--copies 2,8,32,64]
                            [--no-threshold] [--no-speedup] [--baseline-args "--min-shards 1"]

Every timing is the whole ``glmprep run`` command in a fresh process (Python start and
imports included: what a user waits for), near dedup off, in interleaved rounds (each
round times every configuration once, in alternating order); the summary gives medians
and ranges over rounds, with the load average.

Threshold: the bundled sample's JSONL records replicated ``--copies`` times (fresh ids,
gzip'd) at each size, ``--workers 1`` (one process) against ``--workers 2`` (two forked
worker processes) and ``--workers auto``: the smallest size where two workers win is where
``auto`` should switch (``AUTO_WORKERS_MIN_BYTES``, compared with the files' bytes as stored).

Speedup: the corpora (default: en_pydocs, en_perldoc and zh_debref from
/work/shared/corpora, 30.7 MB of long documents), ``--workers 1`` against ``--workers 2``,
and in the same rounds the machine's two-process ceiling: single-thread tiktoken over the
same texts in one process, against two processes encoding them at once (2 x one / two;
2.0 on two idle cores). Target: 1 -> 2 workers >= 1.7x. ``--baseline-args`` also times
both worker counts with those extra ``glmprep run`` flags in the same rounds (e.g.
``--min-shards 1``, the shard count before the floor) and prints their speedup beside.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
import tempfile
from typing import Dict, List, Sequence

import corpus
from pipeline import command_seconds, run_argv, run_together, tiktoken_seconds

from glmprep.core.tokenizer import GLMTokenizer
from glmprep.pipeline.options import AUTO_WORKERS_MIN_BYTES

SPEEDUP_TARGET = 1.7
LONG_DOCUMENTS = ("en_pydocs", "en_perldoc", "zh_debref")
# shared/ beside the repository (a clone in /work/main), or beside its worktrees' folder
SHARED_CORPORA = next((str(d / "shared" / "corpora") for d in (corpus.REPO.parent, corpus.REPO.parent.parent)
                       if (d / "shared" / "corpora").is_dir()), "shared/corpora")


def _encode_all(paths: Sequence[str], barrier, results) -> None:
    tokenizer, texts = GLMTokenizer(), corpus.texts(paths)  # loaded before the clock
    barrier.wait()
    results.put(tiktoken_seconds(tokenizer, texts))


def tiktoken_together(paths: Sequence[str], processes: int) -> float:
    """Wall seconds until the slowest of ``processes`` processes, started at one moment,
    has encoded every text of ``paths`` with one tiktoken thread."""
    return run_together(_encode_all, (list(paths),), processes)


def spread(values: Sequence[float], unit: str = "") -> str:
    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f}-{max(values):.2f})"


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def time_rounds(configs: Dict[str, List[str]], rounds: int, extra=None) -> Dict[str, List[float]]:
    """Seconds of every configuration's command, per round, alternating the order; ``extra``
    (name -> function returning a figure) is measured at the start of each round too."""
    times: Dict[str, List[float]] = {name: [] for name in list(configs) + list(extra or {})}
    for round_ in range(rounds):
        for name, measure in (extra or {}).items():
            times[name].append(measure())
        order = list(configs.items()) if round_ % 2 == 0 else list(configs.items())[::-1]
        for name, argv in order:
            times[name].append(command_seconds(argv))
        print(f"  round {round_ + 1} ({load()}): "
              + "  ".join(f"{name} {values[-1]:.2f}" for name, values in times.items()), flush=True)
    return times


def threshold(work: str, copies: Sequence[int], rounds: int) -> None:
    print(f"threshold: --workers 1 vs 2 vs auto (auto switches at {AUTO_WORKERS_MIN_BYTES / 2**10:.0f} KiB "
          f"as stored); whole command, seconds, median (range) of {rounds} rounds", flush=True)
    rows = []
    for n in copies:
        inputs, docs, text_bytes = corpus.replicate(corpus.SAMPLE, n, os.path.join(work, f"x{n}"))
        stored = sum(os.path.getsize(p) for p in inputs)
        out = os.path.join(work, "out")
        configs = {f"--workers {w}": run_argv(inputs, out, ["--workers", w], near_dedup=False)
                   for w in ("1", "2", "auto")}
        print(f" {n} copies: {docs:,} documents, {text_bytes / 1e6:.1f} MB of text, "
              f"{stored / 2**20:.2f} MiB stored", flush=True)
        times = time_rounds(configs, rounds)
        gains = [one / two for one, two in zip(times["--workers 1"], times["--workers 2"])]
        rows.append((n, stored, times, gains))
        shutil.rmtree(os.path.dirname(inputs[0]))
    print("\n  MiB stored | --workers 1 s | --workers 2 s | auto s | 1 -> 2 (per round)")
    for n, stored, times, gains in rows:
        print(f"  {stored / 2**20:10.2f} | {spread(times['--workers 1']):>13} | {spread(times['--workers 2']):>13} "
              f"| {spread(times['--workers auto']):>6} | {spread(gains, 'x')}")


def speedup(work: str, inputs: Sequence[str], rounds: int, baseline_args: Sequence[str] = ()) -> None:
    texts = corpus.texts(inputs)
    text_mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    del texts
    out = os.path.join(work, "out")
    configs = {f"--workers {w}": run_argv(inputs, out, ["--workers", w], near_dedup=False) for w in ("1", "2")}
    if baseline_args:
        configs.update({f"baseline {w}": run_argv(inputs, out, ["--workers", w, *baseline_args], near_dedup=False)
                        for w in ("1", "2")})
    print(f"speedup: {len(inputs)} file(s), {text_mb:.1f} MB of text; whole command, seconds; "
          f"tiktoken x1 / x2: one process encoding every text / two at once", flush=True)
    times = time_rounds(configs, rounds, {"tiktoken x1": lambda: tiktoken_together(inputs, 1),
                                          "tiktoken x2": lambda: tiktoken_together(inputs, 2)})
    gains = [one / two for one, two in zip(times["--workers 1"], times["--workers 2"])]
    ceilings = [2 * one / two for one, two in zip(times["tiktoken x1"], times["tiktoken x2"])]
    met = "met" if statistics.median(gains) >= SPEEDUP_TARGET else "MISSED"
    print(f"\n  --workers 1: {spread(times['--workers 1'], ' s')}, --workers 2: {spread(times['--workers 2'], ' s')}")
    print(f"  1 -> 2 workers: {spread(gains, 'x')} (target {SPEEDUP_TARGET}x: {met})")
    print(f"  machine's two-process ceiling (tiktoken): {spread(ceilings, 'x')}; "
          f"1 -> 2 workers / ceiling: {spread([g / c for g, c in zip(gains, ceilings)], 'x')}")
    if baseline_args:
        base_gains = [one / two for one, two in zip(times["baseline 1"], times["baseline 2"])]
        print(f"  with {' '.join(baseline_args)}: --workers 1 {spread(times['baseline 1'], ' s')}, --workers 2 "
              f"{spread(times['baseline 2'], ' s')}, 1 -> 2 workers {spread(base_gains, 'x')}; --workers 2 "
              f"against it: {spread([b / t for b, t in zip(times['baseline 2'], times['--workers 2'])], 'x')} "
              f"the time")
    print(f"  raw tiktoken, one thread: {spread([text_mb / s for s in times['tiktoken x1']], ' MB/s')}; "
          f"--workers 2 against it: {spread([one / two for one, two in zip(times['tiktoken x1'], times['--workers 2'])], 'x')}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpora", nargs="*", help="gzip'd JSONL corpora for the speedup (default: "
                                                   + ", ".join(LONG_DOCUMENTS) + " from the shared corpora)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default: 5)")
    parser.add_argument("--copies", default="2,8,32,64",
                        help="sizes of the threshold runs, as copies of the bundled sample (default: 2,8,32,64)")
    parser.add_argument("--no-threshold", action="store_true", help="skip the threshold runs")
    parser.add_argument("--no-speedup", action="store_true", help="skip the speedup runs")
    parser.add_argument("--baseline-args", default="", metavar="FLAGS",
                        help="speedup runs: also time both worker counts with these glmprep run flags "
                             "(e.g. \"--min-shards 1\") in the same rounds")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    inputs = args.corpora or [os.path.join(SHARED_CORPORA, f"{name}.jsonl.gz") for name in LONG_DOCUMENTS]
    if not args.no_speedup and not all(os.path.exists(p) for p in inputs):
        parser.error(f"corpora not found: {inputs}; name them, or pass --no-speedup")
    print(f"{os.cpu_count()} cores, {load()}", flush=True)
    work = tempfile.mkdtemp(prefix="glmprep-bench-workers-")
    try:
        if not args.no_threshold:
            threshold(work, [int(n) for n in args.copies.split(",")], args.rounds)
        if not args.no_speedup:
            speedup(work, inputs, args.rounds, shlex.split(args.baseline_args))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
