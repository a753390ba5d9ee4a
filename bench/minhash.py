"""Signature throughput: glmprep.core.minhash vs datasketch.MinHash.update_batch, one core.

    python bench/minhash.py [CORPUS.jsonl.gz ...] [--num-perm 128] [--ngram 5] [--max-mb 4]

Corpora are gzip'd JSON Lines with a ``text`` field (default: the bundled sample,
data/sample/*.jsonl.gz). For every document both sides get the same shingle set:

- ours: texts -> ``signatures(batch)`` in batches of up to ``--batch`` documents, as the
  Beam transform calls it (word splitting, shingle hashing, permutations);
- datasketch: the shingles are prepared *outside* the timer (``shingles(text)`` joined
  and UTF-8 encoded), then ``MinHash(num_perm, seed).update_batch(shingles)`` with its
  default SHA-1 hash is timed. This flatters datasketch: its shingling cost is not counted.

Prints MB/s (UTF-8 bytes of text per second) of each and the ratio ours / datasketch.
Results are checked for equality on a few documents by running datasketch with
``hashfunc=shingle_hash`` too.
"""
from __future__ import annotations

import argparse
import gzip
import json
import pathlib
import sys
import time

import numpy as np
from datasketch import MinHash

from glmprep.core.minhash import MinHashOptions, signature, signatures
from glmprep.core.shingles import shingle_hash, shingles

REPO = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_CORPORA = sorted((REPO / "data" / "sample").glob("*.jsonl.gz"))


def read_texts(path: pathlib.Path, max_bytes: int):
    """Texts of a gzip JSON Lines file, up to about ``max_bytes`` of UTF-8."""
    texts, total = [], 0
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            text = json.loads(line)["text"]
            texts.append(text)
            total += len(text.encode("utf-8"))
            if total >= max_bytes:
                break
    return texts, total


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_corpus(path: pathlib.Path, options: MinHashOptions, max_bytes: int, batch: int,
                 repeats: int) -> None:
    texts, n_bytes = read_texts(path, max_bytes)
    for text in texts[:20]:
        reference = MinHash(options.num_perm, options.seed, hashfunc=shingle_hash)
        reference.update_batch(shingles(text, options.ngram))
        if not np.array_equal(reference.hashvalues, signature(text, options)):
            sys.exit(f"{path}: signature differs from datasketch's")

    def run_ours():
        for lo in range(0, len(texts), batch):
            signatures(texts[lo:lo + batch], options)

    prepared = [[" ".join(s).encode("utf-8") for s in shingles(text, options.ngram)] for text in texts]

    def run_datasketch():
        for shingle_bytes in prepared:
            MinHash(options.num_perm, options.seed).update_batch(shingle_bytes)

    # Best of `repeats`, interleaved, so a busy shared machine slows both sides alike.
    ours, theirs = float("inf"), float("inf")
    for _ in range(repeats):
        ours = min(ours, _timed(run_ours))
        theirs = min(theirs, _timed(run_datasketch))

    mb = n_bytes / 1e6
    print(f"{path.name:28s} {len(texts):6d} docs {mb:7.2f} MB   ours {mb / ours:7.2f} MB/s   "
          f"datasketch {mb / theirs:6.2f} MB/s   ratio {theirs / ours:5.2f}x")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="*", type=pathlib.Path, default=DEFAULT_CORPORA)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--ngram", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64, help="documents per signatures() call")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timings per side")
    parser.add_argument("--max-mb", type=float, default=4.0, help="read at most this much per corpus")
    args = parser.parse_args(argv)
    if not args.corpora:
        parser.error("no corpus given and no bundled sample in data/sample/")
    options = MinHashOptions(num_perm=args.num_perm, ngram=args.ngram)
    for path in args.corpora:
        bench_corpus(path, options, int(args.max_mb * 1e6), args.batch, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
