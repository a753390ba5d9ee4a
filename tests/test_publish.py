"""Retry-safe output: two attempts at one shard never share a file, publishing is an
atomic rename that never deletes the final name, and dead attempts' files are removed
at the end (glmprep/transforms/publish.py, used by WriteShardDoFn)."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from glmprep.transforms.publish import IN_PROGRESS_SUFFIX, attempt_temp, leftovers, publish, remove_leftovers
from glmprep.transforms.shards import SHARD_GLOB

from support import REPO

# One attempt of WriteShardDoFn on a fixed bundle. With "pause", it stops after its
# first write to the shard file (says "paused", waits for a line on stdin), then goes on.
ATTEMPT = r"""
import sys, tempfile
import numpy as np
from glmprep.core.records import pack
from glmprep.core.samples import SampleOptions
from glmprep.transforms import shards
from glmprep.transforms.shard_runs import write_run

def element():
    rng = np.random.default_rng(7)
    docs = [(f"doc{i:04d}", pack(rng.integers(0, 50000, 400, dtype=np.uint32).tobytes())) for i in range(400)]
    return 0, [ref for _, ref in write_run(tempfile.mkdtemp(), {0: docs})]

if sys.argv[2] == "pause":
    write = shards._HashingSink.write
    def pausing_write(self, data):
        n = write(self, data)
        if not getattr(self, "paused", False):
            self._fh.flush()
            self.paused = True
            print("paused", flush=True)
            sys.stdin.readline()
        return n
    shards._HashingSink.write = pausing_write

fn = shards.WriteShardDoFn(sys.argv[1], SampleOptions(seq_len=256), None, {})
fn.setup()
[summary] = fn.process(element(), num_shards=1)
print(summary["sha256"], flush=True)
"""


def start_attempt(out, mode):
    return subprocess.Popen([sys.executable, "-c", ATTEMPT, str(out), mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=REPO))


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("first_attempt_ends", ["killed", "finishes"])
def test_two_attempts_of_one_bundle_leave_one_correct_file(tmp_path, first_attempt_ends):
    first = start_attempt(tmp_path, "pause")
    try:
        assert first.stdout.readline().strip() == "paused"  # half-way through its shard
        [half_written] = tmp_path.glob("*" + IN_PROGRESS_SUFFIX)
        second = subprocess.run([sys.executable, "-c", ATTEMPT, str(tmp_path), "run"], capture_output=True,
                                text=True, env=dict(os.environ, PYTHONPATH=REPO), timeout=300)
        assert second.returncode == 0, second.stderr
        expected = second.stdout.split()[-1]
        final = tmp_path / "part-00000-of-00001.arrow"
        assert sha256(final) == expected
        assert half_written.exists()  # the second attempt wrote a file of its own
        if first_attempt_ends == "killed":
            first.kill()
        else:
            first.stdin.write("go\n")
            first.stdin.flush()
            assert first.wait(timeout=300) == 0
            assert first.stdout.read().split()[-1] == expected
    finally:
        if first.poll() is None:
            first.kill()
        first.wait()
    remove_leftovers(str(tmp_path), SHARD_GLOB)  # what the run does before its manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part-00000-of-00001.arrow"]
    assert sha256(tmp_path / "part-00000-of-00001.arrow") == expected


def test_attempt_names_are_unique_and_publish_replaces(tmp_path):
    final = str(tmp_path / "part-00000-of-00001.arrow")
    a, b = attempt_temp(final), attempt_temp(final)
    assert a != b
    assert a.startswith(final + ".")
    assert a.endswith(IN_PROGRESS_SUFFIX)
    for temp, text in ((a, "one"), (b, "two")):
        with open(temp, "w") as fh:
            fh.write(text)
    assert leftovers(str(tmp_path), SHARD_GLOB) == sorted([a, b])
    publish(a, final)
    publish(b, final)  # the later attempt replaces the earlier one in one step
    assert open(final).read() == "two"
    assert not leftovers(str(tmp_path), SHARD_GLOB)
