"""Rejects written where they are made (glmprep/transforms/reject_files.py): every reject
in exactly one published file, retried and dead attempts leaving nothing behind."""
import glob
import json
import os

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from glmprep.schemas.rejects import make_reject
from glmprep.transforms.publish import OutputWriteError
from glmprep.transforms.reject_files import (BUNDLE_FILE, FinalizeRejects, WriteRejectFilesDoFn, WriteRejects,
                                             finalize_rejects, rejects_dir)


def rejects(stage, reason, n, prefix):
    return [make_reject(f"{prefix}-{i}", stage, reason, f"detail {i}", f"text {i} \u4e2d\u6587")
            for i in range(n)]


def lines_in(directory):
    return sorted(line for path in glob.glob(os.path.join(directory, "rejects-*.jsonl"))
                  for line in open(path, encoding="utf-8"))


def attempt(directory, records, max_file_bytes=1 << 20, finish=True):
    """One attempt at a bundle, as a runner drives the DoFn; the records it passes on."""
    fn = WriteRejectFilesDoFn(directory, max_file_bytes=max_file_bytes)
    fn.start_bundle()
    out = [r for reject in records for r in fn.process(reject)]
    if finish:
        out += [windowed.value for windowed in fn.finish_bundle()]
    return out


@pytest.mark.parametrize("options", [[], ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]])
def test_every_stage_writes_its_rejects_and_one_step_publishes_them(tmp_path, options):
    filtered = rejects("filter", "too_short", 300, "f")
    duplicates = rejects("exact_dedup", "exact_duplicate", 500, "d")
    with beam.Pipeline(options=PipelineOptions(options)) as p:
        written = [p | f"Make{i}" >> beam.Create(batch) | f"Write{i}" >> WriteRejects(str(tmp_path))
                   for i, batch in enumerate((filtered, duplicates))]
        reasons = written | beam.Flatten() | FinalizeRejects(str(tmp_path))
        _ = reasons | beam.Map(lambda r: json.dump(r, open(tmp_path / "reasons.json", "w")))
    directory = rejects_dir(str(tmp_path))
    expected = sorted(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in filtered + duplicates)
    assert lines_in(directory) == expected
    assert json.load(open(tmp_path / "reasons.json")) == {"filter/too_short": 300, "exact_dedup/exact_duplicate": 500}
    names = sorted(os.listdir(directory))
    assert all(n.endswith(f"-of-{len(names):05d}.jsonl") for n in names), names
    assert not [n for n in names if n.endswith(".inprogress")]


def test_a_bundle_past_the_file_size_goes_on_in_another_file(tmp_path):
    records = attempt(str(tmp_path), rejects("filter", "too_long", 100, "x"), max_file_bytes=2000)
    assert len(records) > 5
    assert sum(counts["filter/too_long"] for _, counts in records) == 100
    finalize_rejects(str(tmp_path), records)
    assert len(lines_in(str(tmp_path))) == 100


def test_two_attempts_one_killed_half_way_leave_one_correct_copy(tmp_path):
    directory = str(tmp_path)
    bundle = rejects("clean", "empty", 50, "c")
    attempt(directory, bundle[:20], finish=False)  # killed: its file stays half-written
    kept = attempt(directory, bundle)  # the attempt the runner keeps
    assert len(glob.glob(os.path.join(directory, BUNDLE_FILE + ".*.inprogress"))) == 2
    assert finalize_rejects(directory, kept) == {"clean/empty": 50}
    assert lines_in(directory) == sorted(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in bundle)
    assert os.listdir(directory) == ["rejects-00000-of-00001.jsonl"]


def test_a_retried_finalize_finds_its_files_published(tmp_path):
    directory = str(tmp_path)
    records = attempt(directory, rejects("filter", "too_short", 10, "a")) + \
        attempt(directory, rejects("filter", "too_short", 5, "b"))
    first = finalize_rejects(directory, records)
    assert finalize_rejects(directory, records) == first == {"filter/too_short": 15}
    assert len(lines_in(directory)) == 15
    os.remove(os.path.join(directory, "rejects-00001-of-00002.jsonl"))
    with pytest.raises(OutputWriteError, match="gone before it was published"):
        finalize_rejects(directory, records)


def test_no_rejects_is_one_empty_file(tmp_path):
    assert finalize_rejects(str(tmp_path), []) == {}
    assert os.listdir(tmp_path) == ["rejects-00000-of-00001.jsonl"]
    assert (tmp_path / "rejects-00000-of-00001.jsonl").read_bytes() == b""


def test_an_unwritable_directory_is_one_clear_error(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the rejects directory should be")
    with pytest.raises(OutputWriteError, match="cannot write rejects to"):
        attempt(str(blocked / "rejects"), rejects("filter", "too_short", 1, "z"))
