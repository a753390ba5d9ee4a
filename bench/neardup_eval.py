"""Precision and recall of NearDedup on the labelled evaluation set, per language.

    python bench/neardup_eval.py [--data DIR] [--threshold 0.8] [--num-perm 128] [--false-negative-weight 0.5]

Runs ``NearDedup`` (Beam DirectRunner) over each ``<lang>.jsonl.gz`` made by
bench/make_neardup_eval.py and compares with the ground truth: the exact Jaccard
similarity of the shingle sets (glmprep.minhash.shingles) of every pair of documents.

Definitions, for one language:

- *true pairs*: unordered pairs {x, y} with exact Jaccard >= threshold;
- *removed pairs*: (keeper, removed) for every rejected document, keeper being the key
  named in its reject record (the smallest key of its component);
- *precision* = share of removed pairs that are true pairs;
- *recall* = share of true pairs whose two documents ended in the same component (one
  of them, or both, removed in favour of the same keeper), i.e. the duplication is gone.

Also printed, to read the numbers: precision counted per removed document against its
whole component (the removed document has a true pair with some member: transitivity
can legitimately link two copies that are each >= threshold to the source but not to
each other), and recall of true pairs above threshold + 0.05.
"""
from __future__ import annotations

import argparse
import gzip
import json
import pathlib
import sys
import tempfile
from collections import defaultdict
from itertools import combinations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from glmprep.minhash import MinHashOptions, jaccard, shingles
from glmprep.transforms.neardedup import NearDedup

REPO = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "bench" / "data" / "neardup_eval"


def read_docs(path: pathlib.Path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [(r["id"], r["text"]) for r in map(json.loads, f)]


def exact_similar_pairs(docs, ngram: int, threshold: float):
    """{(x, y): jaccard} for x < y with exact Jaccard >= threshold; only pairs that share a
    shingle are compared (an inverted index), which is exact since others have Jaccard 0."""
    shingle_sets = {key: set(shingles(text, ngram)) for key, text in docs}
    shingle_to_keys = defaultdict(set)
    for key, sset in shingle_sets.items():
        for shingle in sset:
            shingle_to_keys[shingle].add(key)
    sharing = {pair for keys in shingle_to_keys.values() for pair in combinations(sorted(keys), 2)}
    similarities = {(x, y): jaccard(shingle_sets[x], shingle_sets[y]) for x, y in sharing}
    return {pair: sim for pair, sim in similarities.items() if sim >= threshold}, similarities


def run_near_dedup(docs, options: MinHashOptions):
    """key -> keeper for every rejected document."""
    with tempfile.TemporaryDirectory() as tmp:
        with beam.Pipeline(options=PipelineOptions(runner="DirectRunner")) as pipeline:
            _, rejects = pipeline | beam.Create(docs) | NearDedup(options)
            (rejects
             | beam.Map(lambda r: json.dumps([r["key"], r["detail"].removeprefix("kept ")]))
             | beam.io.WriteToText(f"{tmp}/rejects"))
        return dict(json.loads(line) for path in pathlib.Path(tmp).glob("rejects*")
                    for line in path.read_text(encoding="utf-8").splitlines())


def evaluate(lang: str, docs, options: MinHashOptions) -> None:
    true_pairs, similarities = exact_similar_pairs(docs, options.ngram, options.threshold)
    removed_to_keeper = run_near_dedup(docs, options)
    component = {key: removed_to_keeper.get(key, key) for key, _ in docs}

    removed_pairs = [tuple(sorted(pair)) for pair in removed_to_keeper.items()]
    correct = sum(pair in true_pairs for pair in removed_pairs)
    precision = correct / len(removed_pairs) if removed_pairs else 1.0
    recalled = sum(component[x] == component[y] for x, y in true_pairs)
    recall = recalled / len(true_pairs) if true_pairs else 1.0

    members = defaultdict(set)
    for key, root in component.items():
        members[root].add(key)
    justified = sum(any(tuple(sorted((key, other))) in true_pairs for other in members[root] if other != key)
                    for key, root in removed_to_keeper.items())
    clear = [pair for pair, sim in true_pairs.items() if sim >= options.threshold + 0.05]
    clear_recall = sum(component[x] == component[y] for x, y in clear) / len(clear) if clear else 1.0
    false_pairs = [similarities.get(p, 0.0) for p in removed_pairs if p not in true_pairs]

    print(f"{lang}: {len(docs)} docs, {len(true_pairs)} true pairs (Jaccard >= {options.threshold}), "
          f"{len(removed_pairs)} removed")
    print(f"  precision {precision:.3f} ({correct}/{len(removed_pairs)})   "
          f"recall {recall:.3f} ({recalled}/{len(true_pairs)})")
    print(f"  per removed document vs its component: precision {justified / max(len(removed_pairs), 1):.3f}   "
          f"recall of pairs >= {options.threshold + 0.05:.2f}: {clear_recall:.3f}")
    if false_pairs:
        print(f"  removed pairs below threshold: exact Jaccard min {min(false_pairs):.3f}, "
              f"mean {sum(false_pairs) / len(false_pairs):.3f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=pathlib.Path, default=DEFAULT_DATA)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--ngram", type=int, default=5)
    parser.add_argument("--false-negative-weight", type=float, default=0.5,
                        help="LSH band choice weight of missed pairs (false positive weight = 1 - this)")
    args = parser.parse_args(argv)
    options = MinHashOptions(threshold=args.threshold, num_perm=args.num_perm, ngram=args.ngram,
                             false_negative_weight=args.false_negative_weight,
                             false_positive_weight=1.0 - args.false_negative_weight)
    print(f"bands x rows = {options.bands[0]} x {options.bands[1]}, verify={options.verify}")
    for lang in ("en", "zh"):
        path = args.data / f"{lang}.jsonl.gz"
        if not path.exists():
            sys.exit(f"{path} not found: run bench/make_neardup_eval.py first")
        evaluate(lang, read_docs(path), options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
