"""The output directory: only glmprep's own files are replaced, never through a link;
a read-only or full disk ends the run with one line and no half-written file."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from glmprep.pipeline import outdir
from glmprep.pipeline.cli import main

from support import SAMPLE_DIR

ARGS = ["--input", os.path.join(SAMPLE_DIR, "en.jsonl.gz"), "--seq-len", "256", "--num-shards", "2",
        "--no-near-dedup", "--quiet"]


def run(out, *extra):
    return main(["run", "--output", str(out), *ARGS, *extra])


def one_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def finished(tmp_path):
    out = tmp_path / "out"
    assert run(out) == 0
    return out


def test_own_files_are_recognised_by_name(tmp_path):
    names = ["manifest.json", "part-00000-of-00002.arrow", "part-00001-of-00002.arrow.0123456789abcdef0123456789abcdef.inprogress",
             "report.html", "rejects/rejects-00000-of-00001.jsonl",
             "rejects/rejects-bundle.jsonl.0123456789abcdef0123456789abcdef.inprogress",
             "rejects/beam-temp-rejects-52c790e4ed7611f1/017f2a60-387e-4b23-816a-026f16035275.rejects.jsonl"]
    strangers = ["notes.txt", "part-final.arrow", "rejects/mine.jsonl", "manifest.json.bak",
                 "rejects/rejects-bundle.jsonl.mine.inprogress"]
    for name in names + strangers:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = {os.path.relpath(p, tmp_path) for p in outdir.own_files(str(tmp_path))}
    assert found == set(names) | {"rejects/beam-temp-rejects-52c790e4ed7611f1"}
    outdir.remove_own_files(str(tmp_path))
    left = {os.path.relpath(os.path.join(d, f), tmp_path) for d, _, files in os.walk(tmp_path) for f in files}
    assert left == set(strangers)


def test_overwrite_keeps_files_glmprep_did_not_write(finished, capsys):
    for name in ("notes.txt", "part-final.arrow.bak", "rejects/mine.jsonl"):
        (finished / name).write_text("mine")
    assert run(finished, "--overwrite") == 0
    for name in ("notes.txt", "part-final.arrow.bak", "rejects/mine.jsonl"):
        assert (finished / name).read_text() == "mine"
    assert main(["validate", str(finished)]) == 0


def test_overwrite_never_deletes_through_a_symlinked_rejects(finished, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("keep")
    (elsewhere / "rejects-00000-of-00001.jsonl").write_text("keep")
    for path in (finished / "rejects").iterdir():
        path.unlink()
    (finished / "rejects").rmdir()
    (finished / "rejects").symlink_to(elsewhere, target_is_directory=True)
    assert run(finished, "--overwrite") == 2
    assert "rejects is a symbolic link" in one_line(capsys.readouterr().err)
    assert sorted(p.name for p in elsewhere.iterdir()) == ["precious.txt", "rejects-00000-of-00001.jsonl"]
    assert (elsewhere / "precious.txt").read_text() == "keep"
    assert (finished / "manifest.json").exists()  # refused before anything was removed


@pytest.fixture
def tmpfs(tmp_path):
    """A mount point factory: a real tmpfs (``mount`` needs root), removed afterwards."""
    mounted = []

    def make(options):
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield make
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)


def test_read_only_output_is_refused_up_front(tmpfs, capsys):
    point = tmpfs("ro,size=1m")
    assert run(point / "out") == 2
    assert "Read-only file system" in one_line(capsys.readouterr().err)
    assert run(point) == 2  # an existing directory, too
    assert f"--output {point} is not writable (Read-only file system)" in one_line(capsys.readouterr().err)


def test_disk_full_ends_with_one_line_and_no_partial_file(tmpfs, capsys):
    point = tmpfs("size=512k")  # the two shards take about 1.2 MB
    assert run(point / "out") == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("glmprep run: failed: cannot write shard")
    assert "No space left on device" in line
    left = [os.path.join(d, f) for d, dirs, files in os.walk(point) for f in files + dirs]
    assert not [p for p in left if p.endswith(".inprogress") or "beam-temp" in p or p.endswith("manifest.json")]
    assert not (point / "out" / outdir.LOCK_NAME).exists()


@pytest.mark.parametrize("start", [[], ["--no-fork-workers"]], ids=["forked_workers", "fresh_workers"])
def test_disk_full_with_worker_processes_ends_with_one_line(tmpfs, start):
    """The same with worker processes (forked from the template, as ``glmprep run`` does
    in a fresh process, or fresh interpreters): a worker's own traceback never reaches
    the terminal."""
    point = tmpfs("size=512k")
    done = subprocess.run([sys.executable, "-m", "glmprep", "run", "--output", str(point / "out"), *ARGS,
                           "--direct_running_mode=multi_processing", "--direct_num_workers=2", *start],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    line = one_line(done.stderr)
    assert line.startswith("glmprep run: failed: cannot write shard")
    assert "No space left on device" in line
    left = [os.path.join(d, f) for d, dirs, files in os.walk(point) for f in files + dirs]
    assert not [p for p in left if p.endswith(".inprogress") or "beam-temp" in p or p.endswith("manifest.json")]
    assert not (point / "out" / outdir.LOCK_NAME).exists()
