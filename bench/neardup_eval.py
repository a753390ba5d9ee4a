"""Precision and recall of NearDedup on the labelled evaluation set, per language and keeper mode.

    python bench/neardup_eval.py [--data DIR] [--threshold 0.8] [--num-perm 128]
                                 [--false-negative-weight W] [--verify exact|estimate|none]

Runs ``NearDedup`` (Beam DirectRunner) over each ``<lang>.jsonl.gz`` made by
bench/make_neardup_eval.py, once per keeper mode (``components``, the default, then
``independent``), and compares with the ground truth: the exact Jaccard similarity of
the shingle sets of every pair of documents: glmprep's 5-word shingles for English, character
5-grams of the text without white space for Chinese (``zh``: the bundled sample; ``zh_debref``:
Chinese technical text with embedded ASCII from the shared corpus).

Definitions, for one language:

- *true pairs*: unordered pairs {x, y} with exact Jaccard >= threshold;
- *removed pairs*: {removed, keeper} for every rejected document, keeper being the
  document it was removed in favour of (named in its reject record; kept in the output);
- *pair precision* = share of removed pairs that are true pairs. With components a
  document goes in favour of its component's smallest key, which may be a chain of
  near-duplicates away and below the threshold: such a pair counts as a false positive;
- *pair recall* = share of true pairs of which at most one document is left in the
  output (the duplication is gone).

Per document, to read the numbers (a chain A~B~C with A !~ C is where they differ):

- *document precision* = share of removed documents that have a true pair with some
  document left in the output (their content survives, whoever they were removed for);
- *document recall* = share of documents in a true pair that are removed or have no
  true pair left in the output.

Also printed: the (bands, rows) used, candidate and verified pair counts, the time of
each NearDedup run, recall of true pairs above threshold + 0.05, keepers and documents
left unconverged after the unrolled rounds.
"""
from __future__ import annotations

import argparse
import gzip
import json
import pathlib
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from itertools import combinations

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from glmprep.core.minhash import KEEPER_MODES, VERIFY_MODES, MinHashOptions
from glmprep.core.shingles import jaccard, shingles
from glmprep.transforms.graph import COUNTER_NAMESPACE
from glmprep.transforms.neardedup import NearDedup

REPO = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "bench" / "data" / "neardup_eval"
DEFAULTS = MinHashOptions()


def read_docs(path: pathlib.Path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [(r["id"], r["text"]) for r in map(json.loads, f)]


def character_grams(text: str, n: int):
    """Character n-grams of the lower-cased text without its white space: what a reader of
    Chinese compares (independent of glmprep's shingling)."""
    chars = "".join(text.lower().split())
    return [chars[i:i + n] for i in range(len(chars) - n + 1)] or ([chars] if chars else [])


def exact_similar_pairs(docs, ngram: int, threshold: float, by_characters: bool = False):
    """{(x, y): jaccard} for x < y with exact Jaccard >= threshold (of glmprep's shingles, or
    with ``by_characters`` of character n-grams); only pairs that share a shingle are
    compared (an inverted index), which is exact since others have Jaccard 0."""
    grams = (lambda text: character_grams(text, ngram)) if by_characters else (lambda text: shingles(text, ngram))
    shingle_sets = {key: set(grams(text)) for key, text in docs}
    shingle_to_keys = defaultdict(set)
    for key, sset in shingle_sets.items():
        for shingle in sset:
            shingle_to_keys[shingle].add(key)
    sharing = {pair for keys in shingle_to_keys.values() for pair in combinations(sorted(keys), 2)}
    similarities = {(x, y): jaccard(shingle_sets[x], shingle_sets[y]) for x, y in sharing}
    return {pair: sim for pair, sim in similarities.items() if sim >= threshold}, similarities


def run_near_dedup(docs, options: MinHashOptions):
    """(key -> keeper for every rejected document, counters by name, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        pipeline = beam.Pipeline(options=PipelineOptions(runner="DirectRunner"))
        _, rejects, _ = pipeline | beam.Create(docs) | NearDedup(options)
        (rejects
         | beam.Map(lambda r: json.dumps([r["key"], r["kept_key"]]))
         | beam.io.WriteToText(f"{tmp}/rejects"))
        result = pipeline.run()
        result.wait_until_finish()
        seconds = time.perf_counter() - started
        counters = defaultdict(int)  # summed over the steps that count the same name
        for c in result.metrics().query(MetricsFilter().with_namespace(COUNTER_NAMESPACE))["counters"]:
            counters[c.key.metric.name] += c.committed
        removed_to_keeper = dict(json.loads(line) for path in pathlib.Path(tmp).glob("rejects*")
                                 for line in path.read_text(encoding="utf-8").splitlines())
        return removed_to_keeper, counters, seconds


def evaluate(docs, true_pairs, similarities, options: MinHashOptions) -> None:
    """Runs NearDedup with ``options`` and prints its precision and recall."""
    removed_to_keeper, counters, seconds = run_near_dedup(docs, options)
    kept = {key for key, _ in docs} - removed_to_keeper.keys()

    removed_pairs = [tuple(sorted(pair)) for pair in removed_to_keeper.items()]
    correct = sum(pair in true_pairs for pair in removed_pairs)
    precision = correct / len(removed_pairs) if removed_pairs else 1.0
    recalled = sum(not (x in kept and y in kept) for x, y in true_pairs)
    recall = recalled / len(true_pairs) if true_pairs else 1.0

    # key -> {key of a true pair, ...}
    near = defaultdict(set)
    for x, y in true_pairs:
        near[x].add(y)
        near[y].add(x)
    doc_justified = sum(bool(near[key] & kept) for key in removed_to_keeper)
    doc_precision = doc_justified / len(removed_to_keeper) if removed_to_keeper else 1.0
    doc_resolved = sum(key not in kept or not near[key] & kept for key in near)
    doc_recall = doc_resolved / len(near) if near else 1.0

    clear = [pair for pair, sim in true_pairs.items() if sim >= options.threshold + 0.05]
    clear_recall = sum(not (x in kept and y in kept) for x, y in clear) / len(clear) if clear else 1.0
    false_pairs = [similarities.get(p, 0.0) for p in removed_pairs if p not in true_pairs]

    print(f"  keepers={options.keepers}: {len(removed_pairs)} removed, "
          f"{counters.get('near_dup_keepers', 0)} keepers; {counters.get('candidate_pairs', 0)} candidate "
          f"pairs, {counters.get('pairs_below_threshold', 0)} below threshold; NearDedup {seconds:.1f} s")
    print(f"    pair precision {precision:.3f} ({correct}/{len(removed_pairs)})   "
          f"pair recall {recall:.3f} ({recalled}/{len(true_pairs)})")
    print(f"    document precision {doc_precision:.3f} ({doc_justified}/{len(removed_to_keeper)})   "
          f"document recall {doc_recall:.3f} ({doc_resolved}/{len(near)})   "
          f"pair recall >= {options.threshold + 0.05:.2f}: {clear_recall:.3f}")
    if false_pairs:
        print(f"    removed pairs below threshold: exact Jaccard min {min(false_pairs):.3f}, "
              f"mean {sum(false_pairs) / len(false_pairs):.3f}")
    print(f"    unconverged after {options.rounds} rounds: {counters.get('near_dup_unconverged', 0)} documents")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=pathlib.Path, default=DEFAULT_DATA)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--ngram", type=int, default=5)
    parser.add_argument("--false-negative-weight", type=float, default=DEFAULTS.false_negative_weight,
                        help="LSH band choice weight of missed pairs (false positive weight = 1 - this)")
    parser.add_argument("--verify", choices=VERIFY_MODES, default=DEFAULTS.verify)
    args = parser.parse_args(argv)
    options = MinHashOptions(threshold=args.threshold, num_perm=args.num_perm, ngram=args.ngram,
                             false_negative_weight=args.false_negative_weight,
                             false_positive_weight=round(1.0 - args.false_negative_weight, 12),
                             verify=args.verify)
    print(f"threshold {options.threshold}, num_perm {options.num_perm}, weights fp/fn "
          f"{options.false_positive_weight}/{options.false_negative_weight}: "
          f"bands x rows = {options.bands[0]} x {options.bands[1]}, verify={options.verify}")
    for lang in ("en", "zh", "zh_debref"):
        path = args.data / f"{lang}.jsonl.gz"
        if not path.exists():
            sys.exit(f"{path} not found: run bench/make_neardup_eval.py first")
        docs = read_docs(path)
        chinese = lang.startswith("zh")
        true_pairs, similarities = exact_similar_pairs(docs, options.ngram, options.threshold, chinese)
        truth = "character 5-gram" if chinese else "5-word shingle"
        print(f"{lang}: {len(docs)} docs, {len(true_pairs)} true pairs ({truth} Jaccard >= {options.threshold})")
        for keepers in KEEPER_MODES:  # the default first
            evaluate(docs, true_pairs, similarities, replace(options, keepers=keepers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
