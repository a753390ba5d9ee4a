"""Same input + same options => byte-identical shards and manifest (GLM_SPEC §4), whichever
runner mode, however many workers, in whatever order the input files are listed and
however the input is split into files. Only the manifest's ``run`` field (timestamps)
may differ, and ``options.inputs``, which records the patterns as given.

The corpus is a subset of the bundled sample (English JSONL, 120 Chinese records, the
text file and the Parquet file); near dedup is off except in the test about it.
"""
from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import json
import os
import shutil

import pytest

from glmprep.pipeline.cli import main

from support import SAMPLE_DIR

OPTIONS = ["--seq-len", "256", "--num-shards", "3", "--quiet"]
ZH_RECORDS = 120


def jsonl_lines(path):
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [line for line in fh if line.strip()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two layouts of the same records: ``whole`` (4 files) and ``split`` (7 files)."""
    root = tmp_path_factory.mktemp("corpus")
    en = jsonl_lines(os.path.join(SAMPLE_DIR, "en.jsonl.gz"))
    zh = jsonl_lines(os.path.join(SAMPLE_DIR, "zh.jsonl.gz"))[:ZH_RECORDS]
    whole, split = root / "whole", root / "split"
    whole.mkdir(), split.mkdir()
    shutil.copy(os.path.join(SAMPLE_DIR, "en.jsonl.gz"), whole / "en.jsonl.gz")
    (whole / "zh.jsonl").write_text("".join(zh), encoding="utf-8")
    # the same records in more files, other compressions; keys come from the id field
    third = len(en) // 3
    with gzip.open(split / "en-1.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write("".join(en[:third]))
    (split / "en-2.jsonl").write_text("".join(en[third:2 * third]), encoding="utf-8")
    with bz2.open(split / "en-3.jsonl.bz2", "wt", encoding="utf-8") as fh:
        fh.write("".join(en[2 * third:]))
    (split / "zh-1.jsonl").write_text("".join(zh[:50]), encoding="utf-8")
    (split / "zh-2.jsonl").write_text("".join(zh[50:]), encoding="utf-8")
    # the text file's key is its path: both layouts use the bundled one
    shared = [os.path.join(SAMPLE_DIR, "notes.txt"), os.path.join(SAMPLE_DIR, "extra.parquet")]
    return {"whole": [str(whole / "en.jsonl.gz"), str(whole / "zh.jsonl")] + shared,
            "split": sorted(glob.glob(str(split / "*"))) + shared}


class Runs:
    """Runs the pipeline once per variant and remembers the output directory."""

    def __init__(self, root, corpus):
        self.root, self.corpus, self.outputs = root, corpus, {}

    def get(self, name, inputs, *extra):
        if name not in self.outputs:
            out = self.root / name
            args = ["run", "--output", str(out)] + [a for p in inputs for a in ("--input", p)]
            assert main(args + OPTIONS + list(extra)) == 0, name
            self.outputs[name] = out
        return self.outputs[name]

    def baseline(self):
        return self.get("baseline", self.corpus["whole"], "--no-near-dedup")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, corpus):
    return Runs(tmp_path_factory.mktemp("runs"), corpus)


def shard_bytes(out):
    """shard file name -> sha256 of its bytes, as read from disk."""
    return {os.path.basename(p): hashlib.sha256(open(p, "rb").read()).hexdigest()
            for p in sorted(glob.glob(str(out / "*.arrow")))}


def manifest(out, drop_inputs=False):
    with open(out / "manifest.json", encoding="utf-8") as fh:
        data = json.load(fh)
    assert "run" in data
    data.pop("run")
    if drop_inputs:
        data["options"].pop("inputs")
    return data


def rejects(out):
    return sorted(line for p in glob.glob(str(out / "rejects" / "*.jsonl")) for line in open(p, encoding="utf-8"))


def assert_same_output(a, b, drop_inputs=False):
    assert shard_bytes(a)
    assert shard_bytes(a) == shard_bytes(b)
    assert manifest(a, drop_inputs) == manifest(b, drop_inputs)
    assert rejects(a) == rejects(b)


def test_baseline_is_not_trivial(runs):
    out = runs.baseline()
    data = manifest(out)
    assert len(shard_bytes(out)) == 3
    assert data["totals"]["rows"] > 100
    assert data["totals"]["documents_rejected"] > 0
    assert data["totals"]["accounting_balanced"]


def test_two_runs(runs):
    again = runs.get("again", runs.corpus["whole"], "--no-near-dedup")
    assert_same_output(runs.baseline(), again)


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_in_memory_vs_multi_processing(runs, workers):
    out = runs.get(f"mp{workers}", runs.corpus["whole"], "--no-near-dedup",
                   "--direct_running_mode=multi_processing", f"--direct_num_workers={workers}")
    assert_same_output(runs.baseline(), out)


def test_input_files_in_another_order(runs):
    out = runs.get("reversed", list(reversed(runs.corpus["whole"])), "--no-near-dedup")
    assert_same_output(runs.baseline(), out, drop_inputs=True)
    assert sorted(manifest(out)["options"]["inputs"]) == sorted(manifest(runs.baseline())["options"]["inputs"])


def test_input_split_into_more_files(runs):
    out = runs.get("split", runs.corpus["split"], "--no-near-dedup")
    assert len(runs.corpus["split"]) > len(runs.corpus["whole"])
    assert_same_output(runs.baseline(), out, drop_inputs=True)


def test_near_dedup_in_memory_vs_two_workers(runs):
    """Near dedup (buckets, connected components, keepers) adds no dependence on workers."""
    a = runs.get("near", runs.corpus["whole"])
    b = runs.get("near_mp2", list(reversed(runs.corpus["split"])),
                 "--direct_running_mode=multi_processing", "--direct_num_workers=2")
    assert manifest(a)["totals"]["near_duplicates_removed"] > 0
    assert_same_output(a, b, drop_inputs=True)


def test_shard_count_from_tokens_in_memory_vs_two_workers(runs):
    """With ``--num-shards 0`` the count comes from the total tokens (a global sum), never
    from the workers or the input's layout."""
    derived = ["--no-near-dedup", "--num-shards", "0", "--tokens-per-shard", "30000"]
    a = runs.get("derived", runs.corpus["whole"], *derived)
    b = runs.get("derived_mp2", list(reversed(runs.corpus["split"])), *derived,
                 "--direct_running_mode=multi_processing", "--direct_num_workers=2")
    assert len(shard_bytes(a)) > 1
    assert_same_output(a, b, drop_inputs=True)
