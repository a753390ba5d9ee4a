"""Scale-out of a local ``glmprep run``: time, MB/s and peak memory per worker at 1x, 2x
and 4x a synthetic corpus, with 1 and 2 worker processes; one large file read by 1 and
2 workers; adversarial shapes.

    python bench/scale.py [--base-mb 16] [--shapes scale,bigfile,adversarial] [--rounds 3] [--work DIR]

The corpus is generated (seeded, unique texts, so no document is a duplicate): half of
it one large uncompressed JSON Lines file (split into read ranges), the other half
gzip JSON Lines files; short (20-80 words) and long (2,000-8,000 words) documents,
English-like and Chinese-like. Every run is a fresh ``python -m glmprep run`` process in
``multi_processing`` mode with forked workers, near dedup on. Peak RSS is each
process's VmHWM in /proc (its exact peak), read every 50 ms: "largest worker" is the largest process other than the
launching one; "launcher" is the launching process. Read ranges per file are what
``glmprep.core.reading.files.split_file`` (the function the pipeline uses) makes of it.
The big file's runs, whose target is time, are timed alone (no /proc reading beside
them), ``--rounds`` times per worker count in alternating order; medians, and the range
of the ratios pair by pair.
"Beam alone" is the baseline for the workers' memory: the same files, same workers,
through a pipeline of Beam only that reads, reshuffles and groups the lines and counts
them. The local runner sends each worker its part of a grouped collection as one message,
so any pipeline that groups its documents grows the worker with the data on this runner.

Targets (issue 16): time 4x/1x <= 4.4; peak RSS of the largest worker 4x/1x <= 1.2;
every adversarial shape < 1 GB per worker; one big file 2 workers >= 1.6x as fast as 1.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Sequence, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from memory import process_rss_bytes, run_sampling_peaks  # noqa: E402 (bench/memory.py)

from glmprep.core.reading.files import InputFile, split_file  # noqa: E402
from glmprep.core.reading.options import ReadOptions  # noqa: E402

MB = 1 << 20


class Texts:
    """Seeded English-like and Chinese-like documents, none alike."""

    def __init__(self, seed: int = 16):
        self.rng = random.Random(seed)
        syllables = [c + v for c in "bcdfghklmnprstvwz" for v in "aeiou"]
        self.words = sorted({"".join(self.rng.choice(syllables) for _ in range(self.rng.randint(1, 3)))
                             for _ in range(20000)})
        self.hanzi = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]

    def english(self, n_words: int) -> str:
        words = self.rng.choices(self.words, k=n_words)
        for i in range(0, n_words, 12):
            words[i] = words[i].capitalize()
            if i:
                words[i - 1] += "."
        return " ".join(words) + "."

    def chinese(self, n_chars: int) -> str:
        chars = self.rng.choices(self.hanzi, k=n_chars)
        return "。".join("".join(chars[i:i + 20]) for i in range(0, n_chars, 20)) + "。"

    def document(self) -> str:
        long = self.rng.random() < 0.1
        n = self.rng.randint(2000, 8000) if long else self.rng.randint(20, 80)
        return self.english(n) if self.rng.random() < 0.6 else self.chinese(n)


def write_corpus(directory: str, total_mb: float, texts: Texts) -> List[str]:
    """Half ``total_mb`` as one large ``big.jsonl``, half as gzip files of 4 MB of text."""
    os.makedirs(directory, exist_ok=True)
    paths, n = [], 0

    def fill(fh, budget):
        nonlocal n
        written = 0
        while written < budget:
            line = json.dumps({"id": f"doc-{n}", "text": texts.document()}, ensure_ascii=False) + "\n"
            fh.write(line)
            written += len(line.encode())
            n += 1
    big = os.path.join(directory, "big.jsonl")
    with open(big, "w", encoding="utf-8") as fh:
        fill(fh, total_mb * MB / 2)
    paths.append(big)
    for part in range(max(1, round(total_mb / 2 / 4))):
        path = os.path.join(directory, f"part-{part:03d}.jsonl.gz")
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as fh:
            fill(fh, min(4 * MB, total_mb * MB / 2))
        paths.append(path)
    return paths


def peak_rss_bytes(pid: int) -> int:
    """A process's peak resident set so far (VmHWM: exact, where a sample of VmRSS every
    50 ms can miss a short peak), 0 if it is gone."""
    return process_rss_bytes(pid, "VmHWM")


def run(inputs: Sequence[str], output: str, workers: int, extra: Sequence[str] = (),
        sample_memory: bool = True) -> Dict[str, float]:
    """One ``glmprep run``: wall seconds, peak RSS of the launcher and of the largest worker.
    ``sample_memory=False`` times the run alone: reading /proc every 50 ms takes a few
    percent of a core, which a run with two busy workers on two cores pays in wall time."""
    command = [sys.executable, "-m", "glmprep", "run", "--output", output, "--overwrite", "--quiet",
               "--direct_running_mode=multi_processing", f"--direct_num_workers={workers}", *extra]
    for path in inputs:
        command += ["--input", path]
    env = dict(os.environ, PYTHONPATH=REPO)
    if not sample_memory:
        start = time.perf_counter()
        done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if done.returncode != 0:
            raise SystemExit(f"glmprep run failed ({done.returncode}):\n{done.stderr.decode()[-3000:]}")
        return {"seconds": time.perf_counter() - start}
    seconds, peaks, launcher, _ = run_sampling_peaks(command, env=env, rss=peak_rss_bytes)
    workers_rss = [rss for pid, rss in peaks.items() if pid != launcher]
    return {"seconds": seconds, "launcher_mb": peaks.get(launcher, 0) / MB,
            "worker_mb": max(workers_rss, default=0) / MB}


# The same files through a pipeline of Beam alone that only moves them: read, reshuffled,
# grouped by a hash of the line, counted. Its largest worker is the runner's own share of a
# worker's memory for this much data (the local runner hands a worker a grouped collection's
# part as one message), the baseline for glmprep's.
PASS_THROUGH = r"""
import sys, zlib
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
workers, paths = int(sys.argv[1]), sys.argv[2:]
options = PipelineOptions(["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"])
with beam.Pipeline(options=options) as p:
    lines = [p | f"Read{i}" >> beam.io.ReadFromText(path) for i, path in enumerate(paths)] | beam.Flatten()
    (lines
     | beam.Reshuffle()
     | beam.Map(lambda line: (zlib.crc32(line.encode()) % 4096, line))
     | beam.GroupByKey()
     | beam.FlatMap(lambda group: group[1])
     | beam.combiners.Count.Globally())
"""


def pass_through(inputs: Sequence[str], workers: int) -> float:
    """Largest worker's peak RSS (MB) of ``PASS_THROUGH`` over ``inputs``."""
    _, peaks, launcher, _ = run_sampling_peaks([sys.executable, "-c", PASS_THROUGH, str(workers), *inputs],
                                                rss=peak_rss_bytes)
    return max((rss for pid, rss in peaks.items() if pid != launcher), default=0) / MB


def input_mb(paths: Sequence[str]) -> float:
    """Megabytes of text (decompressed)."""
    total = 0
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as fh:
            while True:
                chunk = fh.read(16 * MB)
                if not chunk:
                    break
                total += len(chunk)
    return total / MB


def ranges_of(path: str) -> int:
    return len(split_file(InputFile(path, os.path.getsize(path), 0.0), ReadOptions()))


def scale(work: str, base_mb: float, texts: Texts) -> None:
    print(f"## scale: base {base_mb:g} MB, factors 1/2/4, 1 and 2 workers")
    print("| corpus | MB | workers | seconds | MB/s | largest worker MB | launcher MB | big file ranges "
          "| Beam alone, largest worker MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    results: Dict[Tuple[int, int], Dict[str, float]] = {}
    for factor in (1, 2, 4):
        paths = write_corpus(os.path.join(work, f"x{factor}"), base_mb * factor, texts)
        size = input_mb(paths)
        for workers in (1, 2):
            r = run(paths, os.path.join(work, f"out-x{factor}-w{workers}"), workers)
            r["beam_alone_mb"] = pass_through(paths, workers)
            results[factor, workers] = r
            print(f"| {factor}x | {size:.0f} | {workers} | {r['seconds']:.1f} | {size / r['seconds']:.2f} | "
                  f"{r['worker_mb']:.0f} | {r['launcher_mb']:.0f} | {ranges_of(paths[0])} | "
                  f"{r['beam_alone_mb']:.0f} |", flush=True)
    for workers in (1, 2):
        t = results[4, workers]["seconds"] / results[1, workers]["seconds"]
        m = results[4, workers]["worker_mb"] / results[1, workers]["worker_mb"]
        b = results[4, workers]["beam_alone_mb"] / results[1, workers]["beam_alone_mb"]
        print(f"{workers} worker(s): time 4x/1x {t:.2f} (target <= 4.4), "
              f"largest worker RSS 4x/1x {m:.2f} (target <= 1.2; Beam alone moving the same files: {b:.2f})")


def big_file(work: str, base_mb: float, texts: Texts, rounds: int = 3) -> None:
    directory = os.path.join(work, "bigfile")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "one.jsonl")
    with open(path, "w", encoding="utf-8") as fh:
        n, written = 0, 0
        while written < base_mb * 2 * MB:
            line = json.dumps({"text": texts.document()}, ensure_ascii=False) + "\n"
            fh.write(line)
            written += len(line.encode())
            n += 1
    size = os.path.getsize(path) / MB
    # time is this shape's target: timed alone, in alternating order, the median of ``rounds``
    times = {1: [], 2: []}
    for round_ in range(rounds):
        for workers in ((1, 2) if round_ % 2 == 0 else (2, 1)):
            times[workers].append(run([path], os.path.join(work, f"out-big-w{workers}"), workers,
                                      ["--no-near-dedup"], sample_memory=False)["seconds"])
    one, two = ({"seconds": statistics.median(times[w]), "range": f"{min(times[w]):.1f}-{max(times[w]):.1f}"}
                for w in (1, 2))
    ratios = sorted(a / b for a, b in zip(times[1], times[2]))
    print(f"## one big file: {size:.0f} MB, {ranges_of(path)} read ranges, near dedup off")
    print(f"1 worker {one['seconds']:.1f} s ({one['range']}; {size / one['seconds']:.2f} MB/s), "
          f"2 workers {two['seconds']:.1f} s ({two['range']}; {size / two['seconds']:.2f} MB/s), "
          f"medians of {rounds}: {one['seconds'] / two['seconds']:.2f}x (pairs {ratios[0]:.2f}-{ratios[-1]:.2f}; "
          f"target >= 1.6)")


def adversarial(work: str, texts: Texts, shard_tokens: int, chosen: Sequence[str]) -> None:
    print("## adversarial shapes (2 workers)")
    print("| shape | MB | seconds | largest worker MB | launcher MB | under 1 GB |")
    print("|---|---|---|---|---|---|")
    shapes = []
    if "many" in chosen:
        d = os.path.join(work, "adv-many")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "many.jsonl"), "w", encoding="utf-8") as fh:
            for i in range(256):  # 0.6 MB each, under the too_long limit (100,000 words)
                fh.write(json.dumps({"id": f"m{i}", "text": texts.english(95000)}) + "\n")
        shapes.append(("256 documents of 0.6 MB", [os.path.join(d, "many.jsonl")], []))
    if "huge" in chosen:
        d = os.path.join(work, "adv-huge")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "huge.jsonl"), "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": "huge", "text": texts.english(8_000_000)}) + "\n")
        shapes.append(("one 50 MB document, too_long off", [os.path.join(d, "huge.jsonl")],
                       ["--max-words", "none"]))
    if "shard" in chosen:
        d = os.path.join(work, "adv-shard")
        paths = write_corpus(d, shard_tokens / 50e6 * 200, texts)  # ~4 bytes a token
        shapes.append((f"one shard of ~{shard_tokens / 1e6:.0f}M tokens", paths,
                       ["--num-shards", "1", "--no-near-dedup"]))
    for name, paths, extra in shapes:
        size = input_mb(paths)
        r = run(paths, os.path.join(work, "out-" + name.split()[0] + name.split()[-1]), 2, extra)
        print(f"| {name} | {size:.0f} | {r['seconds']:.1f} | {r['worker_mb']:.0f} | {r['launcher_mb']:.0f} | "
              f"{'yes' if r['worker_mb'] < 1024 else 'NO'} |", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-mb", type=float, default=16)
    parser.add_argument("--shapes", default="scale,bigfile,adversarial")
    parser.add_argument("--shard-tokens", type=float, default=50e6,
                        help="tokens of the one-shard shape (default 50M)")
    parser.add_argument("--adversarial", default="many,huge,shard",
                        help="which adversarial shapes: many (256 x 0.6 MB), huge (one 50 MB document), "
                             "shard (one shard of --shard-tokens)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs per worker count of the big file, in alternating order (default 3)")
    parser.add_argument("--work", help="directory for corpora and outputs (default: a temporary one)")
    args = parser.parse_args(argv)
    work = args.work or tempfile.mkdtemp(prefix="glmprep-scale-")
    texts = Texts()
    try:
        shapes = args.shapes.split(",")
        if "scale" in shapes:
            scale(work, args.base_mb, texts)
        if "bigfile" in shapes:
            big_file(work, args.base_mb, texts, args.rounds)
        if "adversarial" in shapes:
            adversarial(work, texts, args.shard_tokens, args.adversarial.split(","))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
