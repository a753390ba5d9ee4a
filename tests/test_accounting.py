"""``glmprep validate DIR`` checks the run's accounting against what is on disk
(glmprep/core/accounting.py): one tampering per promise, on a real run of the sample."""
from __future__ import annotations

import glob
import json
import os
import shutil

import pytest

from glmprep.core.accounting import check_accounting, distinct_source_ids, rejects_on_disk
from glmprep.core.validate import validate_paths
from glmprep.pipeline.cli import main

from support import SAMPLE_DIR


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("acc") / "out"
    assert main(["run", "--input", os.path.join(SAMPLE_DIR, "*.jsonl.gz"), "--output", str(out),
                 "--seq-len", "256", "--num-shards", "2", "--quiet"]) == 0
    return out


@pytest.fixture
def run_copy(finished_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    return copy


def manifest_of(directory):
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))


def accounting_problems(directory):
    return [v.detail for v in validate_paths([str(directory)]).violations if v.rule == "accounting"]


def test_a_finished_run_balances(finished_run):
    manifest = manifest_of(finished_run)
    assert check_accounting(manifest, str(finished_run), glob.glob(str(finished_run / "*.arrow"))) == []
    on_disk, problems = rejects_on_disk(str(finished_run))
    assert on_disk == manifest["totals"]["rejected_by_reason"]
    assert not problems
    assert distinct_source_ids(glob.glob(str(finished_run / "*.arrow"))) == manifest["totals"]["documents_kept"]
    assert validate_paths([str(finished_run)]).ok


def test_deleted_rejects_are_caught(run_copy):
    shutil.rmtree(run_copy / "rejects")
    problems = accounting_problems(run_copy)
    assert problems
    assert all("rejects/ holds 0" in p for p in problems)


def test_one_missing_reject_line_is_caught(run_copy):
    path = sorted(glob.glob(str(run_copy / "rejects" / "rejects-*.jsonl")))[0]
    with open(path, encoding="utf-8") as fh:
        lines = fh.readlines()
    reason = "{stage}/{reason}".format(**json.loads(lines[0]))
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(lines[1:])
    [problem] = accounting_problems(run_copy)
    assert reason in problem
    assert "the manifest counts" in problem


def test_edited_documents_in_is_caught(run_copy):
    manifest = manifest_of(run_copy)
    manifest["totals"]["documents_in"] += 1
    (run_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    [problem] = accounting_problems(run_copy)
    assert problem.startswith("documents_in")
    assert main(["validate", str(run_copy)]) == 1


def test_kept_count_must_match_the_shards(run_copy):
    manifest = manifest_of(run_copy)
    for key in ("documents_in", "documents_kept"):  # still balanced, but not what the shards hold
        manifest["totals"][key] += 3
    (run_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    [problem] = accounting_problems(run_copy)
    assert "distinct source_ids" in problem


def test_garbage_in_rejects_is_caught(run_copy):
    with open(run_copy / "rejects" / "rejects-00000-of-00001.jsonl", "a", encoding="utf-8") as fh:
        fh.write("not json\n")
    assert any("is not a reject record" in p for p in accounting_problems(run_copy))
