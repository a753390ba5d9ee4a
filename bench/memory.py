"""Peak memory of a local ``glmprep run`` on 1x, 2x and 4x a benchmark corpus.

    python bench/memory.py [CORPUS.jsonl.gz ...] [--base-copies 8] [--scales 1,2,4]
                           [--near-dedup] [-- EXTRA RUN ARGS ...]

Without corpora, 1x is the bundled sample's JSONL records replicated ``--base-copies``
times with fresh ids (see corpus.py), 2x twice as many copies, and so on. With corpora
(e.g. /work/shared/corpora/*.jsonl.gz), 1x is those files once, 2x twice (fresh ids).

Each run is a child process (``python -m glmprep run``, DirectRunner, in_memory mode
unless Beam options are passed after ``--``). Two figures per run:

- ``max RSS``: the child's own peak resident set (``os.wait4`` rusage, exact); with
  multi_processing workers this is the largest single process;
- ``tree RSS``: the peak of the summed RSS of the child and all its descendants,
  sampled from /proc every 50 ms (catches worker processes; may miss short spikes).

A tiny run (one copy of 20 records) is measured first: the fixed cost of Python, Beam
and the tokenizer, so growth can be read above it. Target: 4x the data uses < 1.5x the
memory of 1x.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Sequence

import corpus

TARGET_RATIO = 1.5
SAMPLE_INTERVAL_S = 0.05


def stat_fields(pid) -> List[str]:
    """The fields of ``/proc/PID/stat`` after the command name (state, ppid, ...); empty when
    the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def process_tree(root: int) -> List[int]:
    """``root`` and its descendants' pids, from /proc."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = stat_fields(entry)
            if len(fields) > 1 and fields[1].isdigit():
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def process_rss_bytes(pid: int, field: str = "VmRSS") -> int:
    """VmRSS of one process, or another kB field of /proc/PID/status such as VmHWM (its peak so
    far); 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss_bytes(root: int, rss=process_rss_bytes) -> int:
    """Summed VmRSS (or another ``rss(pid)``) of ``root`` and its descendants, from /proc."""
    return sum(rss(pid) for pid in process_tree(root))


def run_sampling_peaks(command: Sequence[str], env=None, rss=process_rss_bytes, cwd=None):
    """Run ``command`` (in ``cwd``) while sampling ``rss(pid)`` of it and its descendants every
    SAMPLE_INTERVAL_S.

    Returns ``(seconds, {pid: largest rss seen}, the command's pid, its own ru_maxrss in bytes)``;
    exits with the command's stderr tail when it fails.
    """
    start = time.perf_counter()
    child = subprocess.Popen(list(command), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks: Dict[int, int] = {}
    done = threading.Event()

    def sample():
        while not done.is_set():
            for pid in process_tree(child.pid):
                peaks[pid] = max(peaks.get(pid, 0), rss(pid))
            done.wait(SAMPLE_INTERVAL_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    returncode = os.waitstatus_to_exitcode(status)
    if returncode != 0:
        raise SystemExit(f"glmprep run failed ({returncode}):\n{stderr.decode()[-3000:]}")
    return seconds, peaks, child.pid, usage.ru_maxrss * 1024


def measure(args: Sequence[str], rss=process_rss_bytes) -> Dict[str, float]:
    """Run ``python -m glmprep run ARGS``; returns seconds, max_rss and tree_rss (bytes; the peak
    of the summed ``rss(pid)`` over the process tree, VmRSS unless told)."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "glmprep", "run", *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_bytes(child.pid, rss))
            done.wait(SAMPLE_INTERVAL_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"glmprep run failed ({child.returncode}):\n{stderr.decode()[-3000:]}")
    return {"seconds": time.perf_counter() - start, "max_rss": usage.ru_maxrss * 1024, "tree_rss": peak[0]}


def build_corpus(sources: Sequence[str], copies: int, directory: str, limit: int = 0):
    if limit:
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "tiny.jsonl")
        records = [r for r in corpus.records(sources[0])][:limit]
        with open(path, "w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        return [path], len(records), sum(len(r["text"].encode()) for r in records)
    return corpus.replicate(sources, copies, directory)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpora", nargs="*", help="gzip'd JSONL corpora (default: the bundled sample)")
    parser.add_argument("--base-copies", type=int, default=8,
                        help="copies of the bundled sample that make 1x (default: 8)")
    parser.add_argument("--scales", default="1,2,4", help="multiples of the corpus (default: 1,2,4)")
    parser.add_argument("--near-dedup", action="store_true",
                        help="keep near dedup on (replicated copies are near duplicates: most are dropped)")
    args = parser.parse_args(argv)
    scales = [int(s) for s in args.scales.split(",")]
    sources = args.corpora or corpus.SAMPLE
    base = 1 if args.corpora else args.base_copies
    run_options = ["--seq-len", "512", "--num-shards", "4", "--quiet"] + ([] if args.near_dedup else ["--no-near-dedup"])

    work = tempfile.mkdtemp(prefix="glmprep-memory-")
    try:
        rows = []
        for label, copies, limit in [("tiny", 1, 20)] + [(f"{s}x", base * s, 0) for s in scales]:
            inputs, docs, text_bytes = build_corpus(sources, copies, os.path.join(work, f"in-{label}"), limit)
            out = os.path.join(work, f"out-{label}")
            run_args = [a for p in inputs for a in ("--input", p)] + ["--output", out] + run_options + extra
            figures = measure(run_args)
            shutil.rmtree(out)
            rows.append((label, docs, text_bytes, figures))
            print(f"{label:>5}: {docs:>9,} docs {text_bytes / 1e6:8.1f} MB text  "
                  f"max RSS {figures['max_rss'] / 2**20:7.0f} MiB  tree RSS {figures['tree_rss'] / 2**20:7.0f} MiB  "
                  f"{figures['seconds']:6.1f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    tiny, one = rows[0][3], rows[1][3]
    print()
    print("scale   max RSS / 1x   tree RSS / 1x   growth above the tiny run / 1x's")
    for label, _, _, figures in rows[1:]:
        growth = (figures["max_rss"] - tiny["max_rss"]) / max(1, one["max_rss"] - tiny["max_rss"])
        print(f"{label:>5}   {figures['max_rss'] / one['max_rss']:12.2f}   "
              f"{figures['tree_rss'] / one['tree_rss']:13.2f}   {growth:10.2f}")
    last_label, _, _, last = rows[-1]
    ratio = last["max_rss"] / one["max_rss"]
    verdict = "meets" if ratio < TARGET_RATIO else "MISSES"
    print(f"\n{last_label} uses {ratio:.2f}x the memory of 1x: {verdict} the target (< {TARGET_RATIO}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
