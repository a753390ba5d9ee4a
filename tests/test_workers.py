"""Local workers forked from a warm template (``glmprep.pipeline.workers``).

The end-to-end check (a ``glmprep run`` whose workers are forked gives the same shards)
is in test_pipeline.py; these tests hold the template's own promises: the worker gets the
environment its launcher was given, the launcher exits with the worker's code, the
template never outlives the process that started it, and it is not forked from a process
that already runs threads.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from glmprep.pipeline import workers

pytestmark = pytest.mark.skipif(not workers.available(), reason="forked workers are Linux only")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def launch(template, env):
    """Run the shell command Beam would run to start a worker; returns the finished process."""
    return subprocess.run(template.command(), shell=True, env=env, capture_output=True, text=True, timeout=60)


def gone(pid, seconds=20.0):
    """True once ``pid`` no longer exists (or is a zombie nobody reaped)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().split(") ")[1].startswith("Z"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def write_env_and_exit(path):
    def worker_main():
        with open(path, "w") as fh:
            fh.write(f"{os.environ.get('CONTROL_API_SERVICE_DESCRIPTOR')}|{os.environ.get('WARM')}")
        sys.exit(3)
    return worker_main


def test_worker_gets_the_launchers_environment_and_its_exit_code_is_the_launchers(tmp_path):
    out = tmp_path / "env.txt"
    template = workers.WorkerTemplate(warm=lambda: os.environ.__setitem__("WARM", "yes"),
                                      worker_main=write_env_and_exit(str(out)))
    try:
        env = {"PATH": os.environ["PATH"], "CONTROL_API_SERVICE_DESCRIPTOR": "url: 'localhost:1234'"}
        done = launch(template, env)
        assert done.returncode == 3, done.stderr
        # the launcher's environment replaces the template's (WARM was set by warm(), in the template)
        assert out.read_text() == "url: 'localhost:1234'|None"
        again = launch(template, dict(env, CONTROL_API_SERVICE_DESCRIPTOR="url: 'localhost:99'"))
        assert again.returncode == 3
        assert out.read_text() == "url: 'localhost:99'|None"
    finally:
        template.close()
    assert gone(template.pid)
    assert not os.path.exists(template.address)


def test_what_the_template_built_is_frozen_out_of_the_workers_garbage_collection(tmp_path):
    import gc

    out, built = tmp_path / "frozen.txt", {}

    def warm():
        built["frozen_before"] = gc.get_freeze_count()
        built["tables"] = [[i] for i in range(10_000)]  # long-lived, as the tokenizer's are

    def worker_main():
        out.write_text(str(gc.get_freeze_count() - built["frozen_before"]))
    template = workers.WorkerTemplate(warm=warm, worker_main=worker_main)
    try:
        assert launch(template, {"PATH": os.environ["PATH"]}).returncode == 0
    finally:
        template.close()
    assert int(out.read_text()) >= 10_000


def test_a_worker_that_raises_fails_its_launcher(tmp_path):
    def worker_main():
        raise RuntimeError("worker broke")
    template = workers.WorkerTemplate(warm=lambda: None, worker_main=worker_main)
    try:
        assert launch(template, {"PATH": os.environ["PATH"]}).returncode == 1
    finally:
        template.close()


def test_launcher_without_a_template_says_so():
    done = subprocess.run([sys.executable, "-S", workers.__file__, "/nonexistent/template.sock"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "no worker template at /nonexistent/template.sock" in done.stderr
    assert "--no-fork-workers" in done.stderr


def test_template_ends_with_the_process_that_started_it(tmp_path):
    """Even when that process dies without closing it (here: os._exit)."""
    script = textwrap.dedent("""
        import os, sys
        from glmprep.pipeline import workers
        template = workers.WorkerTemplate(warm=lambda: None)
        print(template.pid, template.address, flush=True)
        os._exit(0)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    pid, address = done.stdout.split()
    assert gone(int(pid)), "the template outlived its launcher"
    assert not os.path.exists(os.path.dirname(address))


def test_no_template_is_forked_from_a_process_running_threads(monkeypatch):
    monkeypatch.setattr(workers, "_template", None)
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert workers.shared_template(warm=lambda: None) is None
    finally:
        release.set()
        thread.join()


def test_a_garbled_request_does_not_stop_the_template(tmp_path):
    import socket
    out = tmp_path / "env.txt"
    template = workers.WorkerTemplate(warm=lambda: None, worker_main=write_env_and_exit(str(out)))
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(template.address)
            conn.sendall(b"not json\n")
            assert conn.recv(64) == b""  # hung up on, no worker forked
        done = launch(template, {"PATH": os.environ["PATH"], "CONTROL_API_SERVICE_DESCRIPTOR": "x"})
        assert done.returncode == 3
        assert out.read_text() == "x|None"
    finally:
        template.close()


def test_closing_does_not_hang_on_a_fork_that_holds_the_pipe():
    """A process forked (without exec) after the template started keeps the template's
    end-of-file from coming; ``close`` must still end the template, promptly."""
    template = workers.WorkerTemplate(warm=lambda: None, worker_main=lambda: None)
    holder = os.fork()
    if holder == 0:  # holds every inherited descriptor, the template's pipe among them
        time.sleep(30)
        os._exit(0)
    try:
        start = time.monotonic()
        template.close(grace_seconds=0.5)
        assert time.monotonic() - start < 10
        assert gone(template.pid)
        assert not os.path.exists(template.address)
    finally:
        os.kill(holder, 9)
        os.waitpid(holder, 0)


def readers_of(path):
    """Pids of the processes that have ``path`` open."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == path:
                    pids.append(int(pid))
                    break
            except OSError:
                continue
    return pids


@pytest.mark.parametrize("start", [[], ["--no-fork-workers"]], ids=["forked_workers", "fresh_workers"])
def test_a_file_changed_while_a_worker_reads_it_is_a_reject_and_a_warning_on_the_terminal(tmp_path, start):
    """Its modification time moves while a worker process reads it: the run still ends
    with 0, the file is one ``file_changed`` reject, and the warning the worker prints
    reaches the launcher's stderr, once."""
    import gzip
    import json

    path = str(tmp_path / "moving.jsonl.gz")
    with gzip.open(path, "wt", encoding="utf-8") as fh:  # one range: read by one worker, for seconds
        for i in range(40_000):
            fh.write(json.dumps({"id": f"d{i}", "text": f"Document number {i} says something. " * 8}) + "\n")
    out = tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-m", "glmprep", "run", "--input", path, "--output", str(out),
                              "--no-near-dedup", "--quiet", "--direct_running_mode=multi_processing",
                              "--direct_num_workers=2", *start],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not readers_of(path) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        assert child.poll() is None, "the run ended before its input could be changed"
        assert child.pid not in readers_of(path), "the launcher reads the file itself"
        os.utime(path, (time.time() + 60, time.time() + 60))
        err = child.communicate(timeout=300)[1]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("glmprep: warning:")]
    assert len(warnings) == 1, err
    assert f"{path}: changed while it was read" in warnings[0]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["totals"]["rejected_by_reason"].get("read/file_changed") == 1
    assert manifest["totals"]["accounting_balanced"]


# --- --workers auto|N (issue 21, item 3) ---

def sample_run(out, *extra):
    from glmprep.pipeline.cli import main
    from support import SAMPLE_DIR
    return main(["run", "--input", os.path.join(SAMPLE_DIR, "*.jsonl.gz"), "--output", str(out),
                 "--seq-len", "256", "--num-shards", "2", "--no-near-dedup", "--quiet", *extra])


def shard_digests(out):
    import hashlib
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("part-*.arrow"))}


def run_section(out):
    import json
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))["run"]


def test_workers_auto_keeps_a_small_input_in_one_process(tmp_path):
    assert sample_run(tmp_path / "auto") == 0
    run = run_section(tmp_path / "auto")
    assert run["runner"] == "DirectRunner in_memory"
    assert run["workers"]["requested"] == "auto"
    assert run["workers"]["processes"] == 1
    assert run["workers"]["decided_by"] == "input size"
    assert 0 < run["workers"]["input_bytes"] < run["workers"]["auto_min_bytes"]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="auto picks one process on one core")
def test_workers_auto_gives_a_large_input_a_worker_per_core_and_the_same_shards(tmp_path, monkeypatch):
    from glmprep.pipeline import local

    assert sample_run(tmp_path / "one", "--workers", "1") == 0
    monkeypatch.setattr(local, "AUTO_WORKERS_MIN_BYTES", 1)  # every input is large now
    assert sample_run(tmp_path / "auto") == 0
    run = run_section(tmp_path / "auto")
    cores = len(os.sched_getaffinity(0))
    assert run["workers"]["processes"] == cores
    assert run["runner"].startswith(f"DirectRunner multi_processing, {cores} worker processes")
    assert run["workers"]["auto_min_bytes"] == 1
    assert shard_digests(tmp_path / "auto") == shard_digests(tmp_path / "one")
    assert run_section(tmp_path / "one")["workers"] == {"requested": "1", "processes": 1, "decided_by": "--workers"}


def test_workers_n_runs_n_worker_processes(tmp_path):
    assert sample_run(tmp_path / "three", "--workers", "3") == 0
    run = run_section(tmp_path / "three")
    assert run["runner"].startswith("DirectRunner multi_processing, 3 worker processes")
    assert run["workers"]["decided_by"] == "--workers"


def test_beams_running_mode_decides_over_auto(tmp_path):
    assert sample_run(tmp_path / "beam", "--direct_running_mode=multi_processing", "--direct_num_workers=2") == 0
    run = run_section(tmp_path / "beam")
    assert run["workers"] == {"requested": "auto", "processes": 2, "decided_by": "--direct_running_mode"}


@pytest.mark.parametrize("extra, message", [
    (["--workers", "0"], "--workers must be auto or a whole number ≥ 1, got '0'"),
    (["--workers", "many"], "--workers must be auto or a whole number ≥ 1, got 'many'"),
    (["--workers", "2", "--direct_running_mode=in_memory"], "give one of them"),
])
def test_bad_workers_is_one_line(tmp_path, capsys, extra, message):
    assert sample_run(tmp_path / "bad", *extra) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert message in err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("body, code", [("print('ran'); sys.exit(3)", 3), ("print('ran')", 0),
                                        ("print('ran'); raise ValueError('boom')", 1)])
def test_a_worker_exits_with_its_code_and_without_the_interpreters_finalization(body, code):
    """A worker (forked or started cold) ends through ``_exit_now``: what it printed is
    flushed, its exit code kept, and the interpreter's finalization skipped (Beam's gRPC
    threads may still be in C code then; finalizing under them has aborted a worker)."""
    script = ("import atexit, sys\n"
              "from glmprep.pipeline import workers\n"
              "atexit.register(lambda: print('finalized'))\n"
              "def main():\n"
              f"    {body}\n"
              "workers._exit_now(workers._exit_code_of(main))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=REPO))
    assert done.returncode == code, done.stderr
    assert done.stdout == "ran\n"
    assert ("ValueError: boom" in done.stderr) == (code == 1)
