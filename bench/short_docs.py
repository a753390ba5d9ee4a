"""CPU microseconds per document of the per-document stages, on short documents, against
a baseline checkout measured in the same rounds.

    python bench/short_docs.py CORPUS.jsonl.gz ... [--baseline /path/to/other/checkout] [--rounds 5]

Each round times, in a fresh process per checkout (this one, then the baseline; the order
alternates from round to round), every stage over all documents of the corpora (e.g. the
shared fortunes corpora, one-line quotes and poems), as CPU time (``time.process_time``,
less disturbed than wall time by other processes on a shared machine), best of three
passes: cleaning, PII redaction, language identification one document at a time
(``identify``) and in batches as the pipeline runs it (``languages`` over
``BATCH_CHARS`` characters at a time; only where the checkout has it), the quality filter,
MinHash signatures and tokenization (256 documents a call, as the pipeline batches them).
``langid_as_run`` is the batched figure where the checkout has it, else the one by one;
``total_as_run`` sums the stages as a run goes through them. Printed: per stage the median
microseconds per document over rounds for each checkout, with the range, and this
checkout's median over the baseline's.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BATCH = 256  # documents per call of the batched stages (MinHash, tokenization)
# The stages as a run goes through them: language identification as the checkout's
# pipeline runs it (batched where it can), summed as ``total_as_run``.
PIPELINE_STAGES = ("clean", "pii", "langid_as_run", "filter", "minhash", "tokenize")


def time_stages(paths):
    """Stage name -> CPU microseconds per document, in this process (glmprep from sys.path)."""
    import corpus
    from glmprep.core.clean import clean_text
    from glmprep.core.filters import QualityFilter
    from glmprep.core.langid import LanguageIdentifier
    from glmprep.core.minhash import MinHashOptions, signatures
    from glmprep.core.pii import PiiRedactor
    from glmprep.core.tokenizer import GLMTokenizer

    texts = [record["text"] for path in paths for record in corpus.records(path)]
    redactor, identifier, quality_filter = PiiRedactor(), LanguageIdentifier(), QualityFilter()
    tokenizer, minhash = GLMTokenizer(), MinHashOptions()
    identifier.identify("warm up the model")
    stages = {
        "clean": lambda: [clean_text(text) for text in texts],
        "pii": lambda: [redactor.redact(text) for text in texts],
        "langid_one_by_one": lambda: [identifier.identify(text) for text in texts],
        "filter": lambda: [quality_filter.check(text) for text in texts],
        "minhash": lambda: [signatures(texts[i:i + BATCH], minhash) for i in range(0, len(texts), BATCH)],
        "tokenize": lambda: [tokenizer.encode_batch(texts[i:i + BATCH]) for i in range(0, len(texts), BATCH)],
    }
    if hasattr(identifier, "languages"):
        from glmprep.transforms.langid import BATCH_CHARS
        stages["langid_batched"] = lambda: [identifier.languages(batch) for batch in _batches(texts, BATCH_CHARS)]
    per_doc = {}
    for name, run in stages.items():
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            run()
            best = min(best, time.process_time() - start)
        per_doc[name] = best / len(texts) * 1e6
    per_doc["langid_as_run"] = per_doc.get("langid_batched", per_doc["langid_one_by_one"])
    per_doc["total_as_run"] = sum(per_doc[name] for name in PIPELINE_STAGES)
    return per_doc


def _batches(texts, max_chars):
    """Consecutive runs of ``texts`` holding about ``max_chars`` characters, as
    ``IdentifyLanguageDoFn`` cuts them."""
    batch, size = [], 0
    for text in texts:
        batch.append(text)
        size += len(text)
        if size >= max_chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def measure(root, paths):
    """``time_stages`` in a fresh process importing glmprep from ``root``."""
    bench_dir = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, bench_dir]))
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", *paths], env=env, cwd=root,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpora", nargs="+")
    parser.add_argument("--baseline", help="another checkout of glmprep to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(time_stages(args.corpora)))
        return
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    roots = {"this": here, **({"baseline": os.path.abspath(args.baseline)} if args.baseline else {})}
    results = {name: [] for name in roots}
    for round_ in range(args.rounds):
        order = list(roots) if round_ % 2 == 0 else list(reversed(roots))
        for name in order:
            results[name].append(measure(roots[name], args.corpora))
        print(f"round {round_ + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    stages = sorted({stage for runs in results.values() for run in runs for stage in run})
    print(f"\n{'stage':20s} " + "  ".join(f"{name + ' us/doc (range)':>26s}" for name in roots)
          + ("   this/baseline" if "baseline" in roots else ""))
    for stage in stages:
        cells, medians = [], {}
        for name in roots:
            values = [run[stage] for run in results[name] if stage in run]
            if not values:
                cells.append(f"{'-':>26s}")
                continue
            medians[name] = statistics.median(values)
            cells.append(f"{medians[name]:8.1f} ({min(values):6.1f}-{max(values):6.1f})".rjust(26))
        ratio = (f"   {medians['this'] / medians['baseline']:.2f}x"
                 if "this" in medians and "baseline" in medians else "")
        print(f"{stage:20s} " + "  ".join(cells) + ratio)


if __name__ == "__main__":
    main()
