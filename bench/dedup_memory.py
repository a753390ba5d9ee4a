"""Exact dedup and duplicate ids where Beam's pre-combine table matters: the largest
worker's peak RSS and the wall time of this tree against a baseline commit, in one run.

    python bench/dedup_memory.py [--baseline REV] [--docs 60000] [--doc-bytes 8192]
                                 [--workers 2] [--rounds 3] [--shapes stages,command]

Beam runs a lifted ``CombinePerKey`` through a pre-combine table of up to 100,000 keys
per bundle (a number of keys, not bytes). A combiner whose accumulators carry texts
holds up to that many documents in a worker; exact dedup's and duplicate ids' combiners
carried packed texts until the commit "Exact dedup: the lifted combiner per digest
carries (smallest key, count) only ..." (the default baseline is its parent). The
corpus makes the table full of distinct texts: ``--docs`` distinct English-like
documents of about ``--doc-bytes`` each (``scale.Texts``), one JSON Lines file.

The corpus is one JSON Lines file per worker. Each round runs the baseline and this tree
in turn, the order alternating, for each shape:

- ``stages``: the two stages alone, ``UniqueKeys`` then ``ExactDedup``, in a Beam
  pipeline of their own (each file read by one ``FlatMap`` call, so a bundle holds a
  file's documents, the case where the pre-combine table fills), with ``--workers``
  worker processes started by Beam; it writes the counts of kept and rejected documents,
  which must agree between the trees;
- ``command``: the whole ``python -m glmprep run`` with ``--workers`` forked worker
  processes, near dedup, language ID and PII off (stages that do not touch the two
  combiners).

The baseline is ``git archive REV`` unpacked in a temporary directory and run from
there. Printed: each run's seconds and largest worker's peak RSS (VmHWM, /proc sampled
every 50 ms, the launching process left out), then per shape the medians, the ratio this
tree / baseline (pair by pair, median) and the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from typing import Dict, List, Sequence

from memory import process_rss_bytes, run_sampling_peaks

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
MB = 1 << 20
TEXT_FREE_SUBJECT = "Exact dedup: the lifted combiner per digest carries (smallest key, count) only"
SHAPES = ("stages", "command")
RUN_OPTIONS = ["--no-near-dedup", "--no-language-id", "--no-pii", "--num-shards", "2", "--overwrite", "--quiet"]


def write_corpus(directory: str, files: int, docs: int, doc_bytes: int) -> List[str]:
    """``docs`` distinct documents of about ``doc_bytes`` each in ``files`` JSON Lines files."""
    from scale import Texts  # here, not at the top: scale puts this tree's glmprep first on sys.path

    texts = Texts(seed=60)
    words = max(1, round(doc_bytes / 6.25))  # scale.Texts' words average 6.25 bytes with the space
    paths = [os.path.join(directory, f"in-{f}.jsonl") for f in range(files)]
    for f, path in enumerate(paths):
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(f, docs, files):
                fh.write(json.dumps({"id": f"doc-{i:07d}", "text": texts.english(words)}) + "\n")
    return paths


def read_jsonl(path: str):
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            yield record["id"], record["text"]


def run_stages(output: str, paths: Sequence[str], workers: int) -> None:
    """UniqueKeys then ExactDedup of the glmprep on sys.path; writes their counts to ``output``."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from glmprep.transforms.dedup import ExactDedup
    from glmprep.transforms.unique_keys import UniqueKeys

    options = PipelineOptions(direct_running_mode="multi_processing", direct_num_workers=workers)
    with beam.Pipeline(options=options) as p:
        docs = p | beam.Create(list(paths)) | beam.Reshuffle() | "ReadFile" >> beam.FlatMap(read_jsonl)
        unique, duplicate_ids, _ = docs | UniqueKeys()
        kept, duplicates = unique | ExactDedup()
        counts = [pcoll | f"Count{name}" >> beam.combiners.Count.Globally() | f"Name{name}" >> beam.Map(
            lambda n, name: f"{name} {n}", name) for name, pcoll in
            (("kept", kept), ("duplicate_ids", duplicate_ids), ("duplicates", duplicates))]
        _ = counts | beam.Flatten() | beam.io.WriteToText(output, shard_name_template="")


def measure(tree: str, shape: str, paths: Sequence[str], work: str, workers: int) -> Dict[str, object]:
    """One run of ``shape`` with the package in ``tree``: seconds, the largest worker's and the
    launcher's peak RSS, and (stages) the counts written."""
    output = os.path.join(work, "out")
    if shape == "stages":
        command = [sys.executable, os.path.join(BENCH, "dedup_memory.py"), "--run-stages", output,
                   "--workers", str(workers), *paths]
    else:
        command = [sys.executable, "-m", "glmprep", "run", "--output", output, *RUN_OPTIONS,
                   "--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
        command += [a for path in paths for a in ("--input", path)]
    seconds, peaks, launcher, _ = run_sampling_peaks(
        command, env=dict(os.environ, PYTHONPATH=os.pathsep.join([tree, BENCH])), cwd=tree,
        rss=lambda pid: process_rss_bytes(pid, "VmHWM"))
    counts = ""
    if shape == "stages":
        with open(output, encoding="utf-8") as fh:
            counts = ", ".join(sorted(fh.read().split("\n")[:-1]))
        os.unlink(output)
    shutil.rmtree(output, ignore_errors=True)
    return {"seconds": seconds, "worker": max((rss for pid, rss in peaks.items() if pid != launcher), default=0),
            "launcher": peaks.get(launcher, 0), "counts": counts}


def default_baseline() -> str:
    """The parent of the commit that took the texts out of the combiners: the last whose
    combiners carried them (found by its subject, so rebases do not change the answer)."""
    found = subprocess.run(["git", "-C", REPO, "log", "--format=%H", "--fixed-strings", f"--grep={TEXT_FREE_SUBJECT}"],
                           check=True, capture_output=True, text=True).stdout.split()
    if not found:
        raise SystemExit(f"no commit with the subject {TEXT_FREE_SUBJECT!r}: give --baseline")
    return found[-1][:12] + "^"


def unpack_baseline(rev: str, directory: str) -> str:
    """The ``glmprep`` package of commit ``rev``, unpacked under ``directory``."""
    os.makedirs(directory, exist_ok=True)
    archive = subprocess.run(["git", "-C", REPO, "archive", rev, "glmprep"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
    return directory


def report(shape: str, base: List[Dict[str, object]], this: List[Dict[str, object]]) -> None:
    print(f"{shape}:")
    for field, unit, scale_by in (("worker", "MiB", MB), ("launcher", "MiB", MB), ("seconds", "s", 1)):
        medians = [statistics.median(f[field] for f in runs) / scale_by for runs in (base, this)]
        ratio = statistics.median(t[field] / max(1, b[field]) for b, t in zip(base, this))
        print(f"  {field:>8}: baseline {medians[0]:7.1f} {unit}, this tree {medians[1]:7.1f} {unit}, "
              f"this tree / baseline {ratio:.2f}x (median of {len(base)} pairs)")
    if shape == "stages":
        agree = {f["counts"] for f in base + this}
        print(f"  counts {'agree' if len(agree) == 1 else 'DIFFER'}: {' | '.join(sorted(agree))}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", help="commit to compare with (default: the parent of the commit that took "
                                           "the texts out of the combiners)")
    parser.add_argument("--docs", type=int, default=60000, help="distinct documents (default: 60000)")
    parser.add_argument("--doc-bytes", type=int, default=8192, help="bytes per document (default: 8192)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of baseline and this tree (default: 3)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"of {SHAPES} (default: both)")
    parser.add_argument("--run-stages", metavar="OUTPUT", help=argparse.SUPPRESS)  # the stages shape's child
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_stages:
        run_stages(args.run_stages, args.paths, args.workers)
        return 0
    shapes = [shape for shape in args.shapes.split(",") if shape]
    args.baseline = args.baseline or default_baseline()
    work = tempfile.mkdtemp(prefix="glmprep-dedup-memory-")
    try:
        trees = {"baseline": unpack_baseline(args.baseline, os.path.join(work, "baseline")), "this tree": REPO}
        paths = write_corpus(work, args.workers, args.docs, args.doc_bytes)
        size = sum(os.path.getsize(path) for path in paths)
        print(f"{args.docs:,} documents, {size / MB:.0f} MiB in {len(paths)} files, {args.workers} workers; "
              f"baseline {args.baseline}; load average {os.getloadavg()[0]:.1f}", flush=True)
        results: Dict[tuple, List[Dict[str, object]]] = {(shape, name): [] for shape in shapes for name in trees}
        for r in range(args.rounds):
            for shape in shapes:
                for name in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
                    figures = measure(trees[name], shape, paths, work, args.workers)
                    results[(shape, name)].append(figures)
                    print(f"round {r + 1} {shape:>7} {name:>9}: {figures['seconds']:6.1f} s, largest worker "
                          f"{figures['worker'] / MB:6.0f} MiB, launcher {figures['launcher'] / MB:6.0f} MiB, "
                          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for shape in shapes:
        report(shape, results[(shape, "baseline")], results[(shape, "this tree")])
    print(f"load average now {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
