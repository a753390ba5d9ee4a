"""Quality filter throughput (``QualityFilter.check``) against raw tiktoken, one core.

    python bench/filters.py [CORPUS.jsonl.gz ...] [--repeats 3] [--max-mb 32]

Corpora are gzip'd JSON Lines with a ``text`` field (default: the bundled sample,
data/sample/*.jsonl.gz). Each text goes through ``clean_text`` first, outside the timer,
as in the pipeline, which filters cleaned documents (those cleaning rejects are left out).
On the same texts, in the same run, it times:

- ``QualityFilter().check`` at the default options, one document at a time;
- the baseline: tiktoken ``encode_ordinary`` (cl100k_base, through ``GLMTokenizer.encode``,
  which calls it directly) on one thread.

Prints, per corpus and in total, MB/s (UTF-8 bytes of text per CPU second,
``time.process_time``) and documents/s of each, and the ratio filter / tiktoken.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, List, Tuple

import corpus

from glmprep.core.clean import clean_text
from glmprep.core.filters import QualityFilter
from glmprep.core.tokenizer import GLMTokenizer


def read_cleaned_texts(path: str, max_bytes: int) -> Tuple[List[str], int]:
    """Cleaned texts of a gzip JSON Lines file, up to about ``max_bytes`` of UTF-8, and
    their size in bytes."""
    texts, total = [], 0
    for record in corpus.records(path):
        result = clean_text(record["text"])
        if result.reject is not None:
            continue
        texts.append(result.text)
        total += len(result.text.encode("utf-8"))
        if total >= max_bytes:
            break
    return texts, total


def best_cpu_seconds(runs: List[Callable[[], None]], repeats: int) -> List[float]:
    """Best CPU time of each run over ``repeats`` rounds, the runs interleaved so that a
    busy shared machine slows them alike."""
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for i, run in enumerate(runs):
            start = time.process_time()
            run()
            best[i] = min(best[i], time.process_time() - start)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="*", default=corpus.SAMPLE)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timings per side")
    parser.add_argument("--max-mb", type=float, default=32.0, help="read at most this much per corpus")
    args = parser.parse_args(argv)
    if not args.corpora:
        parser.error("no corpus given and no bundled sample in data/sample/")

    quality_filter = QualityFilter()
    tokenizer = GLMTokenizer()  # loaded outside the timer

    def report(name: str, n_docs: int, n_bytes: int, filter_seconds: float, tiktoken_seconds: float):
        mb = n_bytes / 1e6
        print(f"{name:24s} {n_docs:6d} docs {mb:7.2f} MB   filter {mb / filter_seconds:7.2f} MB/s "
              f"{n_docs / filter_seconds:8.0f} docs/s   tiktoken {mb / tiktoken_seconds:6.2f} MB/s   "
              f"filter/tiktoken {tiktoken_seconds / filter_seconds:5.2f}x", flush=True)

    totals = [0, 0, 0.0, 0.0]  # docs, bytes, filter seconds, tiktoken seconds
    for path in args.corpora:
        texts, n_bytes = read_cleaned_texts(path, int(args.max_mb * 1e6))
        filter_seconds, tiktoken_seconds = best_cpu_seconds(
            [lambda: [quality_filter.check(text) for text in texts],
             lambda: [tokenizer.encode(text) for text in texts]], args.repeats)
        report(os.path.basename(path), len(texts), n_bytes, filter_seconds, tiktoken_seconds)
        for i, value in enumerate((len(texts), n_bytes, filter_seconds, tiktoken_seconds)):
            totals[i] += value
    if len(args.corpora) > 1:
        report("total", *totals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
