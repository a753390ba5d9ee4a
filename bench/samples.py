"""Sample building speed against raw tiktoken, measured in the same run.

    python bench/samples.py [CORPUS.jsonl.gz ...]

Default corpus: the bundled sample (data/sample/*.jsonl.gz). Prints
  - raw tiktoken ``encode_ordinary`` tokens/s on one thread (the baseline),
  - sample building tokens/s per objective at seq_len 512 and 2048 on one core
    (sentence ends + splitting + packing + spans + Part A/Part B arrays, from
    token arrays to finished samples; document tokens per second),
  - the ratio of each to the baseline. Target: blank ≥ 3× tiktoken.
  - with ``--fill``, instead: how full rows are (tokens / (rows · seq_len)) per corpus and
    objective at ``--seq-len``, each corpus's documents packed in key order as one shard, in
    three layouts: pieces cut for every objective's worst case (``split_document``) and packed
    first-fit over 8 open rows (the first baseline); pieces cut at their exact cost, packed
    the same way (the second); exact cuts packed best-fit over ``PACK_WINDOW`` rows (glmprep's).
Each figure is the best of ``--repeat`` timings of CPU time (``time.process_time``):
both sides run on one thread, and CPU time is what one core spends, which other
processes on a shared machine disturb far less than wall time.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
import time

import numpy as np

import corpus

from glmprep.core.samples.packing import PACK_WINDOW, Packer
from glmprep.core.samples import SampleBuilder, SampleOptions, sentence_table, split_document
from glmprep.schemas.shard import OBJECTIVES
from glmprep.core.tokenizer import GLMTokenizer


def best_of(repeat, fn):
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def build_all(builder, docs):
    return sum(len(batch) for batch in builder.build_documents(docs))


def fill(builder, docs, worst_case=False):
    """Share of seq_len the rows fill on average: tokens / (rows · seq_len). ``worst_case``:
    pieces cut for the worst case of every objective (``split_document``)."""
    if worst_case:
        pieces = [p for key, tokens, ends in docs for p in split_document(key, tokens, ends, builder.max_piece_len)]
        lengths = [len(row["input_ids"]) for row in builder.pack_pieces(pieces)]
        return sum(lengths) / len(lengths) / builder.options.seq_len
    rows = tokens = 0
    for batch in builder.build_documents(docs):
        rows += len(batch)
        tokens += int(batch.offsets[-1])
    return tokens / max(rows, 1) / builder.options.seq_len


def print_fill(paths, seq_len, tok):
    """Fill per corpus and objective (and the default mix): worst-case cuts, then exact cuts."""
    table = sentence_table(tok)
    mixes = [(o, {o: 1.0}) for o in OBJECTIVES] + [("mix", None)]
    print(f"fill at seq_len {seq_len}: tokens / (rows · seq_len); each cell: worst-case cuts, first-fit "
          f"over 8 rows / exact cuts, first-fit over 8 / exact cuts, best-fit over {PACK_WINDOW} (ratio to the first)")
    print(f"{'corpus':>22s} " + " ".join(f"{name:>30s}" for name, _ in mixes))
    for path in paths:
        texts = corpus.texts([path])
        docs = sorted((f"doc{i:07d}", np.asarray(e, dtype=np.uint32))
                      for i, e in enumerate(tok.encode_batch(texts)) if len(e))
        docs = [(key, tokens, table.ends(tokens)) for key, tokens in docs]
        cells = []
        for _, weights in mixes:
            options = SampleOptions(seq_len=seq_len) if weights is None else SampleOptions(
                seq_len=seq_len, objective_weights=weights)
            builder = SampleBuilder(options, tok.specials, table)
            after = fill(builder, docs)
            builder.new_packer = functools.partial(Packer, seq_len, 8, first_fit=True)
            first, exact = fill(builder, docs, worst_case=True), fill(builder, docs)
            cells.append(f"{first:.1%} / {exact:.1%} / {after:.1%} ({after / first:.2f}×)")
        print(f"{os.path.basename(path):>22s} " + " ".join(f"{c:>30s}" for c in cells))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", nargs="*", help="gzip JSON Lines files with a 'text' field")
    parser.add_argument("--repeat", type=int, default=3, help="timings per figure; the best is kept")
    parser.add_argument("--fill", action="store_true", help="print how full rows are instead of speeds")
    parser.add_argument("--seq-len", type=int, default=512, help="seq_len of --fill (default: 512)")
    args = parser.parse_args(argv)
    paths = args.corpora or corpus.SAMPLE
    tok = GLMTokenizer()
    if args.fill:
        print_fill(paths, args.seq_len, tok)
        return 0
    texts = corpus.texts(paths)
    enc = tok._enc
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6

    encoded = []
    t_tok = best_of(args.repeat, lambda: encoded.__setitem__(slice(None), [enc.encode_ordinary(t) for t in texts]))
    n_tokens = sum(len(e) for e in encoded)
    base = n_tokens / t_tok
    print(f"corpus: {len(texts):,} documents, {mb:.1f} MB, {n_tokens:,} tokens ({', '.join(map(os.path.basename, paths))})")
    print(f"raw tiktoken encode_ordinary, 1 thread: {base / 1e6:6.2f} M tokens/s  ({mb / t_tok:.1f} MB/s)")

    docs = [(f"doc{i:07d}", np.asarray(e, dtype=np.uint32)) for i, e in enumerate(encoded) if e]
    table = sentence_table(tok)
    print(f"{'seq_len':>8s} {'objective':>10s} {'M tokens/s':>11s} {'samples/s':>10s} {'× tiktoken':>11s}")
    for seq_len in (512, 2048):
        for objective in OBJECTIVES:
            builder = SampleBuilder(SampleOptions(seq_len=seq_len, objective_weights={objective: 1.0}), tok.specials, table)
            rows = [0]
            t = best_of(args.repeat, lambda: rows.__setitem__(0, build_all(builder, docs)))
            rate = n_tokens / t
            print(f"{seq_len:>8d} {objective:>10s} {rate / 1e6:>11.2f} {rows[0] / t:>10.0f} {rate / base:>10.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
