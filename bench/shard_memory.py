"""Peak memory of writing one shard from its run files, at each size asked for: the writer's
growth should not depend on the shard's size. Against a baseline of the same run: the first
size (5 M tokens by default). Also: the same shard merged with a fan-in of 2 (many local
pre-merges) must write identical bytes.

    python bench/shard_memory.py [TOKENS ...]      # default: 5e6 5e7

Each measurement runs in a fresh process (``ru_maxrss`` only grows): it writes the shard's
packed documents as run files of 1,000 documents (``shard_runs.write_run``, as the
pipeline's bundles do), then reports how much one ``WriteShardDoFn.process`` call grew the
process, and the shard's sha256.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MEASURE = r"""
import json, resource, shutil, sys, tempfile, time
import numpy as np
from glmprep.core.records import pack
from glmprep.core.samples import SampleOptions
from glmprep.transforms import shards
from glmprep.transforms.shard_runs import write_run

n_tokens, fan_in = int(float(sys.argv[1])), int(sys.argv[2])
runs = tempfile.mkdtemp(prefix="glmprep-bench-runs-")
doc_len = 2000
base = np.random.default_rng(0).integers(0, 50000, doc_len * 64, dtype=np.uint32)
sections, batch, packed_bytes = [], [], 0
for i in range(n_tokens // doc_len):
    start = (i * 7919) % (len(base) - doc_len)
    batch.append((f"doc{(i * 7919) % 10**9:09d}", pack(base[start:start + doc_len].tobytes())))
    packed_bytes += len(batch[-1][1])
    if len(batch) == 1000:
        sections += [ref for _, ref in write_run(runs, {0: batch})]
        batch = []
if batch:
    sections += [ref for _, ref in write_run(runs, {0: batch})]
del batch
out = tempfile.mkdtemp(prefix="glmprep-bench-")
fn = shards.WriteShardDoFn(out, SampleOptions(seq_len=2048), None, {},
                           fan_in=fan_in)
fn.setup()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
[summary] = fn.process((0, sections), num_shards=1)
print(json.dumps({"packed_mb": packed_bytes / 1e6, "runs": len(sections), "seconds": time.perf_counter() - started,
                  "growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1e3,
                  "sha256": summary["sha256"]}))
shutil.rmtree(runs)
shutil.rmtree(out)
"""


def measure(tokens: float, fan_in: int) -> dict:
    done = subprocess.run([sys.executable, "-c", MEASURE, str(tokens), str(fan_in)], capture_output=True,
                          text=True, check=True, env=dict(os.environ, PYTHONPATH=REPO))
    return json.loads(done.stdout.splitlines()[-1])


def main(argv) -> None:
    from glmprep.transforms.shard_runs import FAN_IN
    baseline = None
    for tokens in [float(a) for a in argv] or [5e6, 5e7]:
        merged, pairwise = measure(tokens, FAN_IN), measure(tokens, 2)
        same = "identical" if merged["sha256"] == pairwise["sha256"] else "DIFFERENT"
        baseline = baseline or merged
        print(f"{tokens:,.0f} tokens ({merged['packed_mb']:.0f} MB packed, {merged['runs']} runs): writer grew "
              f"the process {merged['growth_mb']:.0f} MB ({merged['growth_mb'] / max(baseline['growth_mb'], 1):.2f}x "
              f"the first size's), {merged['seconds']:.1f} s; with fan-in 2 {pairwise['growth_mb']:.0f} MB, "
              f"{pairwise['seconds']:.1f} s; shards {same}")


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    main(sys.argv[1:])
