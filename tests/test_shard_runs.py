"""Shard documents through run files: written sorted by shard, merged back in key order
whatever the number of runs and the fan-in, removed with the rest of a run's leftovers."""
from __future__ import annotations

import os

import pytest
from hypothesis import given, settings, strategies as st

from glmprep.pipeline import outdir
from glmprep.transforms.publish import OutputWriteError
from glmprep.transforms.shard_runs import RUN, RUNS_DIR, MergedRuns, read_section, remove_runs, runs_dir, write_run

DOCS = st.lists(st.tuples(st.text(max_size=6), st.binary(max_size=12)), max_size=60, unique_by=lambda d: d[0])


@settings(max_examples=40, deadline=None)
@given(DOCS, st.integers(1, 9), st.integers(2, 5), st.integers(1, 3))
def test_merged_runs_read_every_shard_in_key_order(tmp_path_factory, docs, per_run, fan_in, num_shards):
    directory = str(tmp_path_factory.mktemp("runs"))
    references = []
    for start in range(0, len(docs), per_run):  # one run per flush, every shard in each
        gathered = {}
        for i, doc in enumerate(docs[start:start + per_run], start):
            gathered.setdefault(i % num_shards, []).append(doc)
        references += write_run(directory, gathered)
    for shard in range(num_shards):
        sections = [ref[1:] for index, ref in references if index == shard]
        assert all(ref[0] == RUN for _, ref in references)
        merged = MergedRuns(sections, fan_in)
        try:
            expected = sorted(d for i, d in enumerate(docs) if i % num_shards == shard)
            assert list(merged) == expected
            assert list(merged) == expected  # read again (the next epoch)
            assert len(merged.sources) <= fan_in
        finally:
            merged.close()


def test_a_section_cut_short_is_an_error_not_fewer_documents(tmp_path):
    [(_, (_, path, offset, length))] = write_run(str(tmp_path), {0: [("a", b"123"), ("b", b"456")]})
    with open(path, "r+b") as fh:
        fh.truncate(length - 2)
    with pytest.raises(EOFError, match="ends"):
        list(read_section((path, offset, length)))


def test_a_run_that_cannot_be_written_is_one_error_naming_it(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(OutputWriteError, match="cannot write shard documents to .*file"):
        write_run(str(tmp_path / "file" / "runs"), {0: [("a", b"1")]})


def test_runs_are_removed_with_their_directory_and_nothing_else(tmp_path):
    write_run(runs_dir(str(tmp_path)), {0: [("a", b"1")], 3: [("b", b"2")]})
    write_run(runs_dir(str(tmp_path)), {1: [("c", b"3")]})
    (tmp_path / "keep.txt").write_text("not glmprep's")
    assert remove_runs(str(tmp_path)) == 2
    assert sorted(os.listdir(tmp_path)) == ["keep.txt"]
    assert remove_runs(str(tmp_path)) == 0


def test_runs_of_an_unfinished_run_are_glmprep_files(tmp_path):
    write_run(runs_dir(str(tmp_path)), {0: [("a", b"1")]})
    [run] = os.listdir(tmp_path / RUNS_DIR)
    assert outdir.own_files(str(tmp_path)) == [str(tmp_path / RUNS_DIR / run), str(tmp_path / RUNS_DIR)]
    outdir.remove_unfinished(str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_a_runs_directory_holding_other_files_is_not_removed_whole(tmp_path):
    write_run(runs_dir(str(tmp_path)), {0: [("a", b"1")]})
    (tmp_path / RUNS_DIR / "notes.txt").write_text("someone else's")
    outdir.remove_own_files(str(tmp_path))
    assert os.listdir(tmp_path / RUNS_DIR) == ["notes.txt"]
    write_run(runs_dir(str(tmp_path)), {0: [("a", b"1")]})
    assert remove_runs(str(tmp_path)) == 1
    assert os.listdir(tmp_path / RUNS_DIR) == ["notes.txt"]


def test_a_linked_runs_directory_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "out" / RUNS_DIR)
    with pytest.raises(outdir.OutputDirError, match="symbolic link"):
        outdir.own_files(str(tmp_path / "out"))
