"""What near dedup costs the whole ``glmprep run`` command: time and summed PSS, on against off.

    python bench/neardedup_cost.py [--corpora DIR] [--rounds 4] [--workers 2]

Two inputs from the shared corpora folder (default ``../shared/corpora`` beside the
repository): ``long`` (en_pydocs, en_perldoc, zh_debref: long documents) and
``long+fortunes`` (the same plus en_fortunes and zh_fortunes: 21k one-line documents).
Each round measures, for each input, single-thread ``tiktoken`` over the same texts
(the raw floor) and then ``python -m glmprep run`` with near dedup off and on, in an
order that alternates from round to round (machine drift hits both alike), each a fresh
process with ``--workers`` DirectRunner workers (multi_processing, forked workers).

Each configuration runs twice per round, back to back. The timed run gives wall seconds
of the whole command (Python start and imports included) and its CPU seconds, user + sys
summed over the command and all its processes, each as last read from ``/proc/PID/stat``
every 50 ms (less sensitive to load than wall time; Beam's workers are never waited for,
so ``RUSAGE_CHILDREN`` would miss them). The memory run gives the peak of the summed PSS
of the command and all its processes (``/proc/PID/smaps_rollup`` every 50 ms; pages
shared by forked workers count once). They are apart because reading smaps_rollup walks
each process's page tables: sampled that often it made the command about 13 % slower
(median of 6 paired runs), which is in neither the baseline nor a user's run.
Printed per input, as medians with [min-max] over rounds:

- near dedup's overhead, ``on / off - 1`` per round, in wall time (target <= 20 %) and CPU;
- the command with near dedup on against raw tiktoken, MB/s over MB/s in the same
  round (target >= 0.8x on ``long``);
- summed PSS on / off per round (target <= 1.2x).

The load average at the start of every round is printed: figures from a loaded machine
are noisy; compare ratios, not absolute times.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Dict, List, Sequence, Tuple

import corpus
from memory import measure, stat_fields
from glmprep.core.tokenizer import GLMTokenizer

OVERHEAD_TARGET = 0.20
TIKTOKEN_TARGET = 0.8
PSS_TARGET = 1.2
LONG = ("en_pydocs", "en_perldoc", "zh_debref")
FORTUNES = ("en_fortunes", "zh_fortunes")


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_argv(inputs: Sequence[str], output: str, workers: int, near_dedup: bool) -> List[str]:
    return [a for p in inputs for a in ("--input", p)] + [
        "--output", output, "--overwrite", "--seq-len", "512", "--num-shards", "4", "--quiet",
        *([] if near_dedup else ["--no-near-dedup"]),
        "--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]


class CpuSample:
    """``rss(pid)`` for :func:`memory.measure` that notes the process's CPU seconds so far
    (user + sys, ``/proc/PID/stat``) and returns 0: the timed runs' sampler;
    ``cpu_seconds()``: their sum over every process seen, each at its last sample."""

    TICKS = os.sysconf("SC_CLK_TCK")

    def __init__(self):
        self._cpu: Dict[int, float] = {}

    def __call__(self, pid: int) -> int:
        fields = stat_fields(pid)
        if len(fields) > 12:
            self._cpu[pid] = (int(fields[11]) + int(fields[12])) / self.TICKS  # utime, stime
        return 0

    def cpu_seconds(self) -> float:
        return sum(self._cpu.values())


class TreeSample(CpuSample):
    """``CpuSample`` that returns the process's PSS: the memory runs' sampler."""

    def __call__(self, pid: int) -> int:
        super().__call__(pid)
        return pss_bytes(pid)


def tiktoken_mbps(tokenizer: GLMTokenizer, texts: List[str], text_mb: float) -> float:
    start = time.perf_counter()
    for text in texts:
        tokenizer.encode(text)
    return text_mb / (time.perf_counter() - start)


def spread(values: Sequence[float], fmt: str) -> str:
    return f"{format(statistics.median(values), fmt)} [{format(min(values), fmt)}-{format(max(values), fmt)}]"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", default=str(corpus.REPO.parent / "shared" / "corpora"),
                        help="folder of the shared corpora (default: ../shared/corpora beside the repository)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (default: 4)")
    parser.add_argument("--workers", type=int, default=2, help="DirectRunner workers (default: 2)")
    parser.add_argument("--only", choices=("long", "long+fortunes"), help="one input instead of both")
    args = parser.parse_args(argv)
    sets = {"long": LONG, "long+fortunes": LONG + FORTUNES}
    if args.only:
        sets = {args.only: sets[args.only]}
    inputs = {name: [os.path.join(args.corpora, f"{n}.jsonl.gz") for n in names] for name, names in sets.items()}
    missing = [p for paths in inputs.values() for p in paths if not os.path.exists(p)]
    if missing:
        parser.error(f"missing corpora: {', '.join(missing)}")
    texts = {name: corpus.texts(paths) for name, paths in inputs.items()}
    text_mb = {name: sum(len(t.encode("utf-8")) for t in ts) / 1e6 for name, ts in texts.items()}
    tokenizer = GLMTokenizer()
    work = tempfile.mkdtemp(prefix="glmprep-neardedup-cost-")
    runs: Dict[Tuple[str, bool], List[Tuple[float, int, float]]] = {(n, on): [] for n in inputs for on in (False, True)}
    raw: Dict[str, List[float]] = {n: [] for n in inputs}
    print(f"{os.cpu_count()} cores; {args.workers} worker(s); inputs: "
          + "; ".join(f"{n} {len(texts[n]):,} docs {text_mb[n]:.1f} MB" for n in inputs), flush=True)
    try:
        for round_ in range(args.rounds):
            print(f"round {round_ + 1}: load average {os.getloadavg()[0]:.1f}", flush=True)
            for name, paths in inputs.items():
                raw[name].append(tiktoken_mbps(tokenizer, texts[name], text_mb[name]))
                for on in ((False, True) if round_ % 2 == 0 else (True, False)):
                    command = run_argv(paths, os.path.join(work, "out"), args.workers, on)
                    sample = CpuSample()
                    seconds, cpu = measure(command, rss=sample)["seconds"], sample.cpu_seconds()
                    pss = measure(command, rss=TreeSample())["tree_rss"]
                    runs[(name, on)].append((seconds, pss, cpu))
                    print(f"  {name:>14} near dedup {'on ' if on else 'off'}: {seconds:6.1f} s  CPU {cpu:6.1f} s  "
                          f"{text_mb[name] / seconds:5.2f} MB/s  summed PSS {pss / 2**20:6.0f} MiB  "
                          f"(tiktoken {raw[name][-1]:.2f} MB/s)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nmedians [min-max] of {args.rounds} round(s), ratios pair by pair within a round:")
    for name in inputs:
        off, on = runs[(name, False)], runs[(name, True)]
        overhead = [a[0] / b[0] - 1 for a, b in zip(on, off)]
        cpu_overhead = [a[2] / b[2] - 1 for a, b in zip(on, off)]
        vs_raw = [(text_mb[name] / a[0]) / r for a, r in zip(on, raw[name])]
        vs_raw_off = [(text_mb[name] / b[0]) / r for b, r in zip(off, raw[name])]
        pss = [a[1] / b[1] for a, b in zip(on, off)]
        print(f"{name}: off {spread([b[0] for b in off], '.1f')} s, on {spread([a[0] for a in on], '.1f')} s; "
              f"tiktoken {spread(raw[name], '.2f')} MB/s")
        print(f"  near dedup overhead {spread([100 * x for x in overhead], '+.0f')} % "
              f"(target <= {100 * OVERHEAD_TARGET:.0f} %); in CPU seconds "
              f"{spread([100 * x for x in cpu_overhead], '+.0f')} % (off {spread([b[2] for b in off], '.1f')} s, "
              f"on {spread([a[2] for a in on], '.1f')} s)")
        print(f"  near dedup on: {spread(vs_raw, '.2f')}x raw tiktoken (off: {spread(vs_raw_off, '.2f')}x; "
              f"target >= {TIKTOKEN_TARGET}x on long)")
        print(f"  summed PSS on {spread([a[1] / 2**20 for a in on], '.0f')} MiB, off "
              f"{spread([b[1] / 2**20 for b in off], '.0f')} MiB: on/off {spread(pss, '.2f')}x "
              f"(target <= {PSS_TARGET}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
