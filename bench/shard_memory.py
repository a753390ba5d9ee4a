"""Peak memory of writing one shard: streamed (the default sort buffer) against the whole
shard sorted in memory (the writer before streaming), on the same synthetic documents.

    python bench/shard_memory.py [TOKENS ...]      # default: 5e6 5e7

Each measurement runs in a fresh process (``ru_maxrss`` only grows): it builds the shard's
packed documents, then reports how much one ``WriteShardDoFn.process`` call grew the
process, and the shard's sha256 (the two ways must write identical bytes).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IN_MEMORY = 1 << 40  # a sort buffer no shard fills: the whole shard is sorted in memory

MEASURE = r"""
import json, resource, sys, tempfile, time
import numpy as np
from glmprep.core.records import pack
from glmprep.core.samples import SampleOptions
from glmprep.transforms import shards
from glmprep.transforms.shard_sort import join_docs

n_tokens, sort_bytes = int(float(sys.argv[1])), int(sys.argv[2])
doc_len = 2000
base = np.random.default_rng(0).integers(0, 50000, doc_len * 64, dtype=np.uint32)
joined, batch = [], []
for i in range(n_tokens // doc_len):
    start = (i * 7919) % (len(base) - doc_len)
    batch.append((f"doc{i:09d}", pack(base[start:start + doc_len].tobytes())))
    if len(batch) == 1000:
        joined.append(join_docs(batch))
        batch = []
if batch:
    joined.append(join_docs(batch))
fn = shards.WriteShardDoFn(tempfile.mkdtemp(prefix="glmprep-bench-"), SampleOptions(seq_len=2048), None, {},
                           sort_bytes=sort_bytes)
fn.setup()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
[summary] = fn.process((0, joined), num_shards=1)
print(json.dumps({"packed_mb": sum(map(len, joined)) / 1e6, "seconds": time.perf_counter() - started,
                  "growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1e3,
                  "sha256": summary["sha256"]}))
"""


def measure(tokens: float, sort_bytes: int) -> dict:
    done = subprocess.run([sys.executable, "-c", MEASURE, str(tokens), str(sort_bytes)], capture_output=True,
                          text=True, check=True, env=dict(os.environ, PYTHONPATH=REPO))
    return json.loads(done.stdout.splitlines()[-1])


def main(argv) -> None:
    from glmprep.transforms.shard_sort import SORT_BYTES
    for tokens in [float(a) for a in argv] or [5e6, 5e7]:
        streamed, whole = measure(tokens, SORT_BYTES), measure(tokens, IN_MEMORY)
        same = "identical" if streamed["sha256"] == whole["sha256"] else "DIFFERENT"
        print(f"{tokens:,.0f} tokens ({streamed['packed_mb']:.0f} MB packed): writer grew the process "
              f"{streamed['growth_mb']:.0f} MB streamed, {whole['growth_mb']:.0f} MB sorted whole in memory "
              f"(ratio {streamed['growth_mb'] / max(whole['growth_mb'], 1):.2f}); "
              f"{streamed['seconds']:.1f} s vs {whole['seconds']:.1f} s; shards {same}")


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    main(sys.argv[1:])
