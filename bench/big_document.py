"""Peak memory of each stage on one large document (issue 16: target <= 10x its size).

    python bench/big_document.py [--mb 48] [--stages read,clean,...] [--language en|zh]
                                 [--shape text|lines|run]

Each stage runs in a fresh process, through the DoFn (or core function) the pipeline
calls, on one document of ``--mb`` MB of text, with ``too_long`` off. The process first
builds the stage (tokenizer, fastText model, ...) and the stage's input, warms the stage
up on a small document, resets its peak RSS (``/proc/self/clear_refs``), runs the stage
once and reports the growth of VmHWM over the RSS just before: what the stage adds on top
of what the worker already holds (its input). Printed as MB and as a multiple of the
document's UTF-8 size; the baseline, in the same run, is the cost of one copy of the
text (``text.encode()``), measured the same way.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MB = 1 << 20
STAGES = ("copy", "read", "clean", "pii", "language", "filter", "filter_exact", "digest", "minhash", "shingle_set",
          "tokenize", "shards")

CHILD = r"""
import json, os, sys, tempfile, time
sys.path.insert(0, os.path.join(sys.argv[4], "bench"))
from scale import Texts
stage, mb, language, shape = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[5]

def status(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

texts = Texts()
make = texts.english if language == "en" else texts.chinese
per_unit = len(make(1000).encode()) / 1000
text = make(int(mb * (1 << 20) / per_unit))
small = make(2000)
if shape == "lines":  # one word (English) or one character (Chinese) a line
    text, small = ("\n".join(t.split()) if language == "en" else "\n".join(t) for t in (text, small))
elif shape == "run":  # no space, no line break: one run of characters no word boundary cuts
    text, small = ("".join(t.split()) for t in (text, small))
key = "big"

if stage == "copy":
    run = lambda doc: [doc[1].encode()]
elif stage == "read":
    from glmprep.core.reading.files import InputFile, read_range, split_file, open_local as open_input
    from glmprep.core.reading.options import ReadOptions
    directory = tempfile.mkdtemp(prefix="glmprep-bigdoc-")
    def write(name, t):
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": key, "text": t}, ensure_ascii=False) + "\n")
        return path
    big_path, small_path = write("big.jsonl", text), write("small.jsonl", small)
    del text
    options = ReadOptions(max_record_bytes=4 * os.path.getsize(big_path))
    def run(path):
        out = []
        for rng in split_file(InputFile(path, os.path.getsize(path), 0.0), options, open_input):
            out.extend(read_range(rng, options, open_input, lambda name: None))
        return out
    run(small_path)
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    out = run(big_path)
    size = os.path.getsize(big_path)
    print(json.dumps({"stage": stage, "mb": size / (1 << 20), "growth": (status("VmHWM") - before) / (1 << 20),
                      "outputs": len(out)}))
    sys.exit(0)
elif stage == "clean":
    from glmprep.transforms.clean import CleanTextDoFn
    fn = CleanTextDoFn()
    run = lambda doc: list(fn.process(doc))
elif stage == "pii":
    from glmprep.core.pii import PiiOptions
    from glmprep.transforms.pii import RedactPiiDoFn
    fn = RedactPiiDoFn(PiiOptions())
    fn.setup()
    run = lambda doc: list(fn.process(doc))
elif stage == "language":
    from glmprep.core.langid import LanguageOptions
    from glmprep.transforms.langid import IdentifyLanguageDoFn
    fn = IdentifyLanguageDoFn(LanguageOptions())
    fn.setup()
    run = lambda doc: list(fn.process(doc))
elif stage == "filter":
    from glmprep.core.filters import FilterOptions
    from glmprep.transforms.clean import CheckQualityDoFn
    fn = CheckQualityDoFn(FilterOptions(max_words=None))
    run = lambda doc: list(fn.process(doc))
elif stage == "filter_exact":  # top n-gram limits no bound can clear: the n-grams are counted
    from glmprep.core.filters import FilterOptions
    from glmprep.transforms.clean import CheckQualityDoFn
    fn = CheckQualityDoFn(FilterOptions(max_words=None, max_top_2gram_chars=1e-4, max_top_3gram_chars=1e-4,
                                        max_top_4gram_chars=1e-4))
    run = lambda doc: list(fn.process(doc))
elif stage == "digest":
    from glmprep.core.records import pack_text
    from glmprep.transforms.dedup import normalised_digest
    run = lambda doc: [(normalised_digest(doc[1]), (doc[0], pack_text(doc[1])))]
elif stage == "minhash":  # what near dedup computes of every document: its signature
    from glmprep.core.minhash import MinHashOptions, signatures
    run = lambda doc: list(signatures([doc[1]], MinHashOptions()))
elif stage == "shingle_set":  # and of a document with a candidate pair: its shingle set
    from glmprep.core.shingles import batch_shingle_hashes, shingle_sets
    run = lambda doc: [shingle_sets(*batch_shingle_hashes([doc[1]], 5))[0].tobytes()]
elif stage == "tokenize":
    from glmprep.transforms.tokenize import TokenizeBatchDoFn
    fn = TokenizeBatchDoFn(None)
    fn.setup()
    run = lambda doc: list(fn.process([doc]))
elif stage == "shards":
    from glmprep.core.samples import SampleOptions
    from glmprep.transforms.shard_runs import write_run
    from glmprep.transforms.shards import WriteShardDoFn
    from glmprep.transforms.tokenize import TokenizeBatchDoFn
    tokenize = TokenizeBatchDoFn(None)
    tokenize.setup()
    fn = WriteShardDoFn(tempfile.mkdtemp(prefix="glmprep-bigdoc-"), SampleOptions(), None, {})
    fn.setup()
    runs = tempfile.mkdtemp(prefix="glmprep-bigdoc-runs-")
    def joined(t):  # the document written to a run file, as the pipeline's bundles do
        [(k, packed)] = tokenize.process([(key, t)])
        return (0, [ref for _, ref in write_run(runs, {0: [(k, packed)]})])
    size = len(text.encode())
    small_element, element = joined(small), joined(text)
    del text
    list(fn.process(small_element, num_shards=1))
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    [summary] = fn.process(element, num_shards=1)
    print(json.dumps({"stage": stage, "mb": size / (1 << 20), "growth": (status("VmHWM") - before) / (1 << 20),
                      "outputs": 1, "sha256": summary["sha256"]}))
    sys.exit(0)
run((key, small))
size = len(text.encode())
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
started = time.perf_counter()
out = run((key, text))
print(json.dumps({"stage": stage, "mb": size / (1 << 20), "growth": (status("VmHWM") - before) / (1 << 20),
                  "outputs": len(out), "seconds": time.perf_counter() - started}))
"""


def measure(stage: str, mb: float, language: str, shape: str = "text") -> dict:
    # glibc's dynamic mmap threshold would serve a stage's buffers from heap pages an earlier
    # free left resident, hiding them from the peak: fixed thresholds return freed memory.
    env = dict(os.environ, PYTHONPATH=REPO, MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    done = subprocess.run([sys.executable, "-c", CHILD, stage, str(mb), language, REPO, shape], capture_output=True,
                          text=True, env=env)
    if done.returncode != 0:
        return {"stage": stage, "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=48, help="size of the document in MB of UTF-8 text")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--language", choices=("en", "zh"), default="en")
    parser.add_argument("--shape", choices=("text", "lines", "run"), default="text",
                        help="text: sentences (default); lines: one word (zh: one character) a line; "
                             "run: the text without white space, one run no word boundary cuts")
    args = parser.parse_args(argv)
    print("| stage | document MB | peak growth MB | x document | x one copy (baseline) | seconds |")
    print("|---|---|---|---|---|---|")
    copy = None
    for stage in ["copy"] + [s for s in args.stages.split(",") if s != "copy"]:
        r = measure(stage, args.mb, args.language, args.shape)
        if "error" in r:
            print(f"| {stage} | | failed: {r['error']} | | | |", flush=True)
            continue
        if stage == "copy":
            copy = r["growth"]
        ratio = r["growth"] / r["mb"]
        print(f"| {stage} | {r['mb']:.1f} | {r['growth']:.0f} | {ratio:.1f} | "
              f"{r['growth'] / copy if copy else float('nan'):.1f} | "
              + (f"{r['seconds']:.1f} |" if "seconds" in r else " |")
              + (f" sha256 {r['sha256'][:12]}" if "sha256" in r else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
