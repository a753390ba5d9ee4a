"""``glmprep run`` end to end on the bundled sample corpus, plus its up-front checks."""
from __future__ import annotations

import glob
import gzip
import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from glmprep.pipeline.cli import main
from glmprep.pipeline import workers
from glmprep.pipeline.manifest import read_manifest
from glmprep.pipeline.local import build_pipeline_options, tokenizer_threads_for
from glmprep.schemas.rejects import REJECT_FIELDS, REJECT_PREVIEW_CHARS
from glmprep.schemas.reader import ShardReader
from glmprep.core.validate import validate_paths

from support import SAMPLE_DIR

INPUTS = [os.path.join(SAMPLE_DIR, "*.jsonl.gz"), os.path.join(SAMPLE_DIR, "notes.txt"),
          os.path.join(SAMPLE_DIR, "extra.parquet")]
SMALL = ["--seq-len", "256", "--num-shards", "3", "--quiet"]


def run_args(output, *extra):
    args = ["run", "--output", str(output)]
    for pattern in INPUTS:
        args += ["--input", pattern]
    return args + SMALL + list(extra)


def input_records():
    """Documents in the sample inputs, counted without glmprep's readers."""
    n = 0
    for path in glob.glob(INPUTS[0]):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            n += sum(1 for line in fh if line.strip())
    with open(INPUTS[1], encoding="utf-8") as fh:
        n += 1  # text mode "file": the whole file is one document
    n += pq.read_metadata(INPUTS[2]).num_rows
    return n


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    assert main(run_args(out)) == 0
    return out


def shard_hashes(out):
    return {s["file"]: s["sha256"] for s in read_manifest(str(out))["shards"]}


def test_run_validates_and_accounts_for_every_document(first_run):
    report = validate_paths([str(first_run)])
    assert report.ok, [str(v) for v in report.violations]
    manifest = read_manifest(str(first_run))
    totals = manifest["totals"]
    assert totals["documents_in"] == input_records()
    assert totals["documents_in"] == totals["documents_kept"] + totals["documents_rejected"]
    assert totals["accounting_balanced"]
    assert len(manifest["shards"]) == 3 == totals["shards"]
    assert report.rows == totals["rows"]
    assert report.tokens == totals["tokens"]
    # every reject is on disk with a reason, and the counts agree
    rejects = [json.loads(line) for path in glob.glob(str(first_run / "rejects" / "*.jsonl"))
               for line in open(path, encoding="utf-8")]
    assert len(rejects) == totals["documents_rejected"]
    by_reason = {}
    for r in rejects:
        assert set(r) == set(REJECT_FIELDS)
        assert len(r["preview"]) <= REJECT_PREVIEW_CHARS
        by_reason[f"{r['stage']}/{r['reason']}"] = by_reason.get(f"{r['stage']}/{r['reason']}", 0) + 1
    assert by_reason == totals["rejected_by_reason"]


def test_duplicates_and_junk_are_rejected_with_reasons(first_run):
    rejects = {}
    for path in glob.glob(str(first_run / "rejects" / "*.jsonl")):
        for line in open(path, encoding="utf-8"):
            r = json.loads(line)
            rejects[r["key"]] = r
    # The sample corpus labels its injected documents by id suffix.
    dups = [k for k in rejects if k.endswith("-dup")]
    assert dups
    assert all(rejects[k]["reason"] == "exact_duplicate" for k in dups)
    assert all(rejects[k]["kept_key"] for k in dups)
    assert not any(rejects[k]["kept_key"].endswith("-dup") for k in dups)
    for suffix, reasons in (("-short", {"too_short"}), ("-bullets", {"bullet_lines"}),
                            ("-repeat", {"duplicate_lines"}), ("-ellipsis", {"ellipsis_lines"})):
        hits = [k for k in rejects if k.endswith(suffix)]
        assert len(hits) == 4, suffix
        assert {rejects[k]["reason"] for k in hits} == reasons, suffix


def test_chinese_and_messy_documents_survive(first_run):
    kept = set()
    for path in sorted(glob.glob(str(first_run / "*.arrow"))):
        for ids in ShardReader(path).table.column("source_ids").to_pylist():
            kept.update(ids)
    zh = [k for k in kept if k.startswith("zh-")]
    assert len(zh) > 250
    for suffix in ("-ansi", "-ctrl", "-crlf", "-tokens", "-long"):
        assert any(k.endswith(suffix) for k in kept), suffix


def test_second_run_gives_identical_shards(first_run, tmp_path):
    again = tmp_path / "again"
    assert main(run_args(again)) == 0
    assert shard_hashes(again) == shard_hashes(first_run)
    a, b = read_manifest(str(first_run)), read_manifest(str(again))
    a.pop("run"), b.pop("run")
    assert a == b


def test_multi_processing_gives_identical_shards(first_run, tmp_path):
    """Workers started by Beam (fresh interpreters)."""
    out = tmp_path / "mp"
    assert main(run_args(out, "--direct_running_mode=multi_processing", "--direct_num_workers=2",
                         "--no-fork-workers")) == 0
    assert shard_hashes(out) == shard_hashes(first_run)
    assert read_manifest(str(out))["run"]["runner"] == (
        "DirectRunner multi_processing, 2 worker processes started by Beam")


@pytest.mark.skipif(not workers.available(), reason="forked workers are Linux only")
def test_forked_workers_give_identical_shards(first_run, tmp_path):
    """The command as a user runs it, in a fresh process: its workers are forked from a
    warm template (pipeline/workers.py), which is gone when the command ends."""
    out, scratch = tmp_path / "forked", tmp_path / "tmp"
    scratch.mkdir()
    args = run_args(out, "--direct_running_mode=multi_processing", "--direct_num_workers=2")
    done = subprocess.run([sys.executable, "-m", "glmprep.pipeline.cli", *args], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, TMPDIR=str(scratch)))
    assert done.returncode == 0, done.stderr
    assert shard_hashes(out) == shard_hashes(first_run)
    assert read_manifest(str(out))["run"]["runner"] == (
        "DirectRunner multi_processing, 2 worker processes forked from a warm template")
    assert not list(scratch.iterdir())  # the template removed its socket on its way out
    assert "Discarding unparseable args" not in done.stderr  # workers' known-harmless start-up noise


def test_stats_prints_the_funnel(first_run, capsys):
    assert main(["stats", str(first_run)]) == 0
    out = capsys.readouterr().out
    assert "exact_dedup/exact_duplicate" in out
    assert "in = kept + rejected: yes" in out


def test_dataflow_job_builds_offline(tmp_path):
    """The Dataflow graph is built and validated without submitting anything."""
    code = main(["run", "--input", INPUTS[0], "--output", "gs://my-bucket/glmprep-test",
                 "--runner=DataflowRunner", "--dry_run=True", "--no_auth", "--sdk_location=container",
                 "--project=my-project", "--region=us-central1", "--temp_location=gs://my-bucket/tmp",
                 "--staging_location=gs://my-bucket/staging"])
    assert code == 0


@pytest.mark.parametrize("args, message", [
    (["--input", "/nonexistent/*.jsonl"], "matches no file"),
    (["--input", INPUTS[0], "--tokenizer", "/nonexistent.tiktoken"], "tokenizer ranks file not found"),
    (["--input", INPUTS[0], "--mask-ratio", "1.5"], "--mask-ratio"),
    (["--input", INPUTS[0], "--near-dedup-threshold", "1.5"], "near-dedup"),
    (["--output", "x"], "--input is required"),
])
def test_bad_command_lines_stop_before_work(tmp_path, capsys, args, message):
    if "--output" not in args:
        args = args + ["--output", str(tmp_path / "out")]
    assert main(["run"] + args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_existing_run_needs_overwrite(first_run, capsys):
    assert main(run_args(first_run)) == 2
    assert "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize("flags, threads", [
    ([], 2),  # in_memory: one process
    (["--direct_running_mode=multi_processing", "--direct_num_workers=1"], 2),
    (["--direct_running_mode=multi_processing", "--direct_num_workers=2"], 1),
    (["--direct_running_mode=multi_threading", "--direct_num_workers=2"], 1),
    (["--runner=DataflowRunner"], 1),
    (["--tokenizer-threads", "1"], 1),  # chosen: wins over the automatic choice
    (["--direct_running_mode=multi_processing", "--direct_num_workers=2", "--tokenizer-threads=3"], 3),
])
def test_tokenizer_threads_only_where_a_core_would_idle(flags, threads, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert tokenizer_threads_for(build_pipeline_options(flags)) == threads


def test_negative_tokenizer_threads_is_a_usage_error(tmp_path, capsys):
    argv = ["run", "--input", str(tmp_path / "*.jsonl"), "--output", str(tmp_path / "out"),
            "--tokenizer-threads", "-1"]
    assert main(argv) == 2
    assert "--tokenizer-threads must be ≥ 0" in capsys.readouterr().err


def test_run_options_make_each_view_once_and_views_stay_live():
    import pickle

    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    options = build_pipeline_options(["--direct_num_workers=2", "--seq-len", "128"])
    assert options.view_as(DirectOptions) is options.view_as(DirectOptions)
    options.view_as(DirectOptions).direct_num_workers = 3  # a change through one view ...
    assert options.get_all_options()["direct_num_workers"] == 3  # ... is the options' own
    assert options.view_as(StandardOptions).runner == "DirectRunner"
    again = pickle.loads(pickle.dumps(options))  # the views are not part of the state
    assert "_views" not in again.__dict__
    assert again.get_all_options()["direct_num_workers"] == 3
    assert again.get_all_options()["seq_len"] == 128


def test_unreadable_files_are_named_in_the_terminal_summary(tmp_path, capsys):
    broken = tmp_path / "broken.jsonl.gz"
    whole = open(os.path.join(SAMPLE_DIR, "en.jsonl.gz"), "rb").read()
    broken.write_bytes(whole[:len(whole) // 2])  # a truncated gzip: read up to the break
    out = tmp_path / "out"
    assert main(["run", "--input", str(broken), "--input", INPUTS[1], "--output", str(out),
                 "--seq-len", "256", "--no-near-dedup"]) == 0
    summary = capsys.readouterr().out
    assert "unreadable files: 1" in summary
    assert f"    {broken}" in summary
    assert read_manifest(str(out))["unreadable_files"] == [str(broken)]


def test_portable_runner_gives_identical_shards_and_manifest(first_run, tmp_path):
    """Beam's portable Job API with its in-process job service: a second runner."""
    out = tmp_path / "portable"
    assert main(run_args(out, "--runner=PortableRunner", "--job_endpoint=embed",
                         "--environment_type=LOOPBACK")) == 0
    assert shard_hashes(out) == shard_hashes(first_run)
    a, b = read_manifest(str(first_run)), read_manifest(str(out))
    assert b.pop("run")["runner"] == "PortableRunner"
    a.pop("run")
    assert a == b
