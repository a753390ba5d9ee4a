"""Hot keys in deduplication: memory and time when one text is copied many times, and
when one LSH bucket holds very many near-identical documents.

    python bench/hotkeys.py [--copies 10000,1000000] [--bucket 100000] [--ordinary 20000]
                            [--workers 1,2]

Shapes, each a JSON Lines corpus of short documents (so a million fits this machine):

- ``copies N``: ``--ordinary`` ordinary documents plus N copies of one boilerplate text
  (distinct ids): exact dedup's hot digest;
- ``bucket N``: N documents that differ from one text in one word each: every LSH band
  has one bucket of N documents (near dedup's hot star centre);
- ``distinct N`` (``--distinct``): the control of ``copies N``: as many documents of the
  same length, all different. Beam's local runner keeps every shuffled collection in
  memory, so its processes grow with the corpus whatever the keys; copies N against
  distinct N is the cost of the hot key alone.

Every shape runs ``glmprep run`` (near dedup on) with the DirectRunner in
multi_processing mode for each worker count. Reported: wall time and the peak RSS of
the largest single process (the launcher, which holds Beam's local shuffles, or a
worker), from each process's VmHWM in /proc sampled every 50 ms, plus its role.
The ratio of interest is the peak at the largest copy count over the peak at the
smallest (target <= 1.2x), and the bucket's peak (target < 1 GB per worker). Its baseline,
per shape: the largest worker of a pipeline of Beam alone that reads the same file,
reshuffles and groups its lines and counts them (``scale.PASS_THROUGH``): the local runner
sends a worker its part of a grouped collection as one message, so that worker grows with
the corpus in any pipeline that groups documents.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
from typing import Dict, Sequence

from memory import run_sampling_peaks
from scale import pass_through, peak_rss_bytes

VOCAB = [f"w{i}" for i in range(30000)]


def measure(args: Sequence[str]) -> Dict[str, object]:
    """Run ``python -m glmprep run ARGS``: seconds, the largest process's peak RSS and its role."""
    seconds, peaks, launcher, launcher_maxrss = run_sampling_peaks(
        [sys.executable, "-m", "glmprep", "run", *args], rss=peak_rss_bytes)
    peaks[launcher] = max(peaks.get(launcher, 0), launcher_maxrss)  # exact for the launcher
    worker_peaks = [rss for pid, rss in peaks.items() if pid != launcher]
    largest_worker = max(worker_peaks, default=0)
    return {"seconds": seconds, "launcher": peaks[launcher], "worker": largest_worker,
            "largest": max(peaks[launcher], largest_worker)}


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def write_copies(path: str, copies: int, ordinary: int) -> int:
    rng = random.Random(1)
    boilerplate = words(random.Random(0), 40)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(ordinary):
            fh.write(json.dumps({"id": f"doc-{i:07d}", "text": words(rng, 40 + rng.randrange(40))}) + "\n")
        for i in range(copies):
            fh.write(json.dumps({"id": f"copy-{i:07d}", "text": boilerplate}) + "\n")
    return ordinary + copies


def write_distinct(path: str, n: int, ordinary: int) -> int:
    rng = random.Random(1)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(ordinary):
            fh.write(json.dumps({"id": f"doc-{i:07d}", "text": words(rng, 40 + rng.randrange(40))}) + "\n")
        for i in range(n):
            fh.write(json.dumps({"id": f"other-{i:07d}", "text": words(rng, 40)}) + "\n")
    return ordinary + n


def write_bucket(path: str, n: int) -> int:
    base = words(random.Random(2), 60).split()
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            edited = list(base)
            edited[i % len(base)] = f"edit{i}"  # one word of 60: Jaccard about 0.9 to the base
            fh.write(json.dumps({"id": f"near-{i:07d}", "text": " ".join(edited)}) + "\n")
    return n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", default="10000,1000000", help="copy counts of one text (default: 10000,1000000)")
    parser.add_argument("--ordinary", type=int, default=20000, help="ordinary documents beside the copies")
    parser.add_argument("--bucket", type=int, default=100000, help="near-identical documents in one bucket")
    parser.add_argument("--distinct", default="", help="control shapes: as many distinct texts (e.g. 1000000)")
    parser.add_argument("--workers", default="1,2", help="worker counts (default: 1,2)")
    args = parser.parse_args(argv)
    copies = [int(n) for n in args.copies.split(",") if n]
    workers = [int(n) for n in args.workers.split(",")]
    shapes = [(f"copies {n:,}", lambda path, n=n: write_copies(path, n, args.ordinary)) for n in copies]
    shapes += [(f"distinct {n:,}", lambda path, n=n: write_distinct(path, n, args.ordinary))
               for n in (int(x) for x in args.distinct.split(",") if x)]
    if args.bucket:
        shapes.append((f"bucket {args.bucket:,}", lambda path: write_bucket(path, args.bucket)))

    work = tempfile.mkdtemp(prefix="glmprep-hotkeys-")
    results: Dict[tuple, Dict[str, object]] = {}
    try:
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work skews the timings)")
        for label, write in shapes:
            path = os.path.join(work, "in.jsonl")
            docs = write(path)
            for n in workers:
                out = os.path.join(work, "out")
                figures = measure(["--input", path, "--output", out, "--overwrite", "--quiet", "--num-shards", "2",
                                   "--direct_running_mode=multi_processing", f"--direct_num_workers={n}"])
                shutil.rmtree(out, ignore_errors=True)
                figures["beam_alone"] = pass_through([path], n) * 2**20
                results[(label, n)] = figures
                print(f"{label:>18} ({docs:>9,} docs), {n} worker(s): {figures['seconds']:7.1f} s   peak RSS "
                      f"launcher {figures['launcher'] / 2**20:6.0f} MiB, largest worker "
                      f"{figures['worker'] / 2**20:6.0f} MiB (Beam alone moving the file: "
                      f"{figures['beam_alone'] / 2**20:6.0f} MiB)", flush=True)
            os.unlink(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if len(copies) >= 2:
        low, high = f"copies {copies[0]:,}", f"copies {copies[-1]:,}"
        for n in workers:
            for role in ("worker", "launcher"):
                ratio = results[(high, n)][role] / max(1, results[(low, n)][role])
                print(f"{n} worker(s): peak RSS of the {role} at {copies[-1]:,} / {copies[0]:,} copies = "
                      f"{ratio:.2f}x (target <= 1.2x)")
            alone = results[(high, n)]["beam_alone"] / max(1, results[(low, n)]["beam_alone"])
            print(f"{n} worker(s): Beam alone moving the same files, largest worker {alone:.2f}x")
    for copy_count in copies:  # the hot digest's own cost: copies N against N distinct texts
        control = f"distinct {copy_count:,}"
        for n in workers:
            if (control, n) in results:
                hot = results[(f"copies {copy_count:,}", n)]
                ratios = ", ".join(f"{role} {hot[role] / max(1, results[(control, n)][role]):.2f}x"
                                   for role in ("worker", "launcher"))
                print(f"{n} worker(s): peak RSS at {copy_count:,} copies / {copy_count:,} distinct texts: {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
