"""One run per output directory: a live run's lock refuses the directory (with or
without --overwrite); a dead run's lock is taken over."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from glmprep.pipeline.cli import main
from glmprep.pipeline.lock import LockError, RunLock
from glmprep.pipeline.outdir import LOCK_NAME

from support import REPO, SAMPLE_DIR

ARGS = ["--input", os.path.join(SAMPLE_DIR, "en.jsonl.gz"), "--seq-len", "256", "--num-shards", "2",
        "--no-near-dedup", "--quiet"]
HOLDER = ("import sys, time; from glmprep.pipeline.lock import RunLock; lock = RunLock(sys.argv[1]); "
          "lock.acquire(); print('held', flush=True); sys.stdin.read()")


def run(out, *extra):
    return main(["run", "--output", str(out), *ARGS, *extra])


@pytest.fixture
def live_holder(tmp_path):
    """Another process holding ``tmp_path/out``'s lock until the test ends."""
    out = tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env=dict(os.environ, PYTHONPATH=REPO))
    assert child.stdout.readline().strip() == "held"
    yield out, child
    child.stdin.close()
    child.wait(timeout=60)


def test_a_live_run_is_refused_in_one_line(live_holder, capsys):
    out, child = live_holder
    assert run(out) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"is in use by a live run (pid {child.pid} on {socket.gethostname()}" in err


def test_overwrite_never_destroys_a_live_run(tmp_path, capsys):
    out = tmp_path / "out"
    assert run(out) == 0
    before = sorted(p.name for p in out.iterdir())
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env=dict(os.environ, PYTHONPATH=REPO))
    try:
        assert child.stdout.readline().strip() == "held"
        assert run(out, "--overwrite") == 2
        assert "live run" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir() if p.name != LOCK_NAME) == before
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    assert run(out, "--overwrite") == 0  # once it is gone


def test_a_dead_runs_lock_is_taken_over(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owner = {"pid": int(dead.stdout), "host": socket.gethostname(), "started": "2026-01-01T00:00:00Z"}
    (out / LOCK_NAME).write_text(json.dumps(owner))
    assert run(out) == 0
    err = capsys.readouterr().err
    assert f"took over the stale lock of pid {owner['pid']}" in err
    assert not (out / LOCK_NAME).exists()  # released at the end
    assert main(["validate", str(out)]) == 0


def test_the_lock_records_its_owner_and_is_exclusive(tmp_path):
    first = RunLock(str(tmp_path))
    first.acquire()
    try:
        owner = json.loads((tmp_path / LOCK_NAME).read_text())
        assert owner["pid"] == os.getpid()
        assert owner["host"] == socket.gethostname()
        assert owner["started"]
        with pytest.raises(LockError, match="live run"):
            RunLock(str(tmp_path)).acquire()  # a second open file description: refused too
    finally:
        first.release()
    assert not (tmp_path / LOCK_NAME).exists()
    again = RunLock(str(tmp_path))
    again.acquire()
    again.release()
