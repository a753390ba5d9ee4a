"""Local worker processes forked from one warm template instead of started cold.

With ``--direct_running_mode=multi_processing`` Beam starts every SDK worker as
``python -m apache_beam.runners.worker.sdk_worker_main``: a fresh interpreter that imports
Beam (1-2 s here), then loads the tokenizer and builds glmprep's lookup tables (about 0.5 s)
before its first element. On a small machine that is half of a run over tens of megabytes.

``WorkerTemplate`` forks the launching process once, before the runner starts any thread
or gRPC server. That copy (the template) imports the worker modules, loads the tokenizer
and the tables, then waits. Beam still starts each worker with a shell command (so the
runner, its worker handlers and its exit-code checks are Beam's own), but the command is
this file run with ``python -S``: a stdlib-only client that asks the template for a worker,
passes on the environment Beam gave it (control, logging and options endpoints) and exits
with the worker's exit code. The worker is a fork of the template, already warm, which
runs Beam's ``sdk_worker_main.main`` as the cold worker would.

Linux only (``available()``), and only from a process that has no other thread yet
(``shared_template``); otherwise, or with ``--no-fork-workers``, each worker is a fresh
interpreter (``cold_command``) running the same worker main. Either way a worker ignores
Ctrl-C (the launcher's runner stops it) and leaves reporting a failed instruction to the
launcher. Remote runners never use this.
"""
from __future__ import annotations

import atexit
import gc
import json
import os
import select
import shlex
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from typing import Callable, Dict, Optional

_ENV_END = b"\n"            # the client's environment is one JSON line
_UNKNOWN_EXIT = 1           # a worker that died without saying how


def available() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


class WorkerTemplate:
    """A warm process that forks Beam SDK workers on request (see the module docstring)."""

    def __init__(self, warm: Callable[[], None], worker_main: Optional[Callable[[], None]] = None):
        """``warm`` runs in the template before it forks any worker; each worker runs
        ``worker_main`` (default: Beam's ``sdk_worker_main.main``) and exits with 0, or with
        the code it raised ``SystemExit`` with, or 1 on any other exception."""
        self._dir = tempfile.mkdtemp(prefix="glmprep-workers-")
        self.address = os.path.join(self._dir, "template.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self.address)
            listener.listen(64)  # requests queue here while the template warms up
        except OSError:
            listener.close()
            _remove(self.address, self._dir)
            raise
        parent_alive_r, self._parent_alive_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the template: never returns into the caller's code
            code = 0
            try:
                os.close(self._parent_alive_w)
                _serve(listener, parent_alive_r, warm, worker_main or _beam_worker_main)
            except BaseException:  # noqa: BLE001 - report, then leave without unwinding the caller
                traceback.print_exc()
                code = 1
            finally:
                _remove(self.address, self._dir)
                os._exit(code)
        listener.close()
        os.close(parent_alive_r)
        atexit.register(self.close)

    def command(self) -> str:
        """The shell command Beam runs to start one worker (``exec``: the launcher replaces
        the shell, so the process Beam waits for, or kills, is the launcher itself)."""
        return "exec " + " ".join(shlex.quote(part) for part in
                                  (sys.executable, "-S", os.path.abspath(__file__), self.address))

    def close(self, grace_seconds: float = 2.0) -> None:
        """Stop the template (running workers finish on their own). Idempotent."""
        if self._parent_alive_w is None:
            return
        os.close(self._parent_alive_w)  # the template sees end-of-file, cleans up and exits
        self._parent_alive_w = None
        # A process forked from this one after the template started (without exec) holds
        # the pipe open too, so end-of-file may not come: wait a little, then kill.
        deadline = time.monotonic() + grace_seconds
        try:
            while not os.waitpid(self.pid, os.WNOHANG)[0]:
                if time.monotonic() > deadline:
                    os.kill(self.pid, signal.SIGKILL)
                    os.waitpid(self.pid, 0)
                    _remove(self.address, self._dir)
                    return
                time.sleep(0.005)
        except ChildProcessError:
            pass


_COLD = "--cold"  # this file's argument for a worker started as a fresh interpreter


def cold_command() -> str:
    """The shell command for a worker that is not forked: a fresh interpreter that imports
    Beam itself, as Beam's own command does, and runs the forked worker's main. SIGINT is
    ignored from the start (``trap``; the interpreter keeps an ignored SIGINT ignored), so
    a Ctrl-C during its imports cannot print a traceback either."""
    return "trap '' INT; exec " + " ".join(shlex.quote(part) for part in
                                             (sys.executable, "-m", "glmprep.pipeline.workers", _COLD))


_template: Optional[WorkerTemplate] = None


def shared_template(warm: Callable[[], None]) -> Optional[WorkerTemplate]:
    """This process's template, started on first use and reused by later runs; ``warm`` is
    called in the template (a later run's own tables are built by its workers).

    None when forking is unavailable, or when the first use comes after this process has
    started threads: a runner that ran before (Beam's gRPC servers and thread pools) may
    hold locks a fork would copy in their locked state. ``glmprep run`` and every run of
    ``bench/pipeline.py`` start in a fresh process, so they always get a template."""
    global _template
    if _template is None:
        if not available() or threading.active_count() > 1:
            return None
        try:
            _template = WorkerTemplate(warm)
        except OSError:  # e.g. a socket path over the system's limit under a long TMPDIR
            return None
    return _template


def _remove(address: str, directory: str) -> None:
    for remove, path in ((os.unlink, address), (os.rmdir, directory)):
        try:
            remove(path)
        except OSError:
            pass


def _serve(listener: socket.socket, parent_alive_r: int, warm: Callable[[], None],
           worker_main: Callable[[], None]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the launcher's to handle
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished workers
    try:
        warm()
    except Exception:  # noqa: BLE001 - a worker builds what is missing itself
        traceback.print_exc()
    # What the template holds outlives every worker: frozen, a worker's full garbage
    # collection skips it (0.1 s each, and it copied every page it walked).
    gc.freeze()
    while True:
        ready, _, _ = select.select([listener, parent_alive_r], [], [])
        if parent_alive_r in ready:
            return  # the launching process closed its end: it finished, or died
        conn, _ = listener.accept()
        env = _receive_env(conn)
        if env is None:
            conn.close()
            continue
        if os.fork() == 0:
            listener.close()
            os.close(parent_alive_r)
            _run_worker(conn, env, worker_main)  # does not return
        conn.close()


def _receive_env(conn: socket.socket) -> Optional[Dict[str, str]]:
    """The launcher's environment, or None when it hung up or sent something else."""
    data = b""
    while not data.endswith(_ENV_END):
        chunk = conn.recv(1 << 16)
        if not chunk:
            return None
        data += chunk
    try:
        env = json.loads(data)
    except ValueError:
        return None
    return env if isinstance(env, dict) else None


# Warnings every local worker logs at start-up that say nothing about a glmprep run: the
# workers get glmprep's options inside the pickled transforms, not by re-parsing the flags,
# and glmprep registers no Beam schemas or logical types.
_KNOWN_HARMLESS = {"apache_beam.options.pipeline_options": "Discarding unparseable args",
                   "apache_beam.runners.worker.sdk_worker_main": "No semi_persistent_directory found"}


def _drop_message_starting(prefix: str):
    return lambda record: not str(record.msg).startswith(prefix)


class _WithoutInstructionTracebacks:
    """A worker's stderr without the traceback Beam's worker prints for a failed
    instruction (``print(traceback_string, file=sys.stderr)``): the same text goes back to
    the runner in the instruction's response, which ``glmprep run`` reports in one line.
    Everything else a worker writes to stderr passes through."""

    def __init__(self, stream):
        self._stream = stream
        self._dropping_newline = False

    def write(self, text: str) -> int:
        if text.startswith("Traceback (most recent call last)"):
            self._dropping_newline = True  # print() writes its end="\n" separately
            return len(text)
        if self._dropping_newline and text == "\n":
            self._dropping_newline = False
            return len(text)
        self._dropping_newline = False
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _beam_worker_main() -> None:
    import logging
    logging.getLogger().handlers.clear()  # as in a fresh interpreter: Beam adds its own
    sys.stderr = _WithoutInstructionTracebacks(sys.stderr)
    for name, prefix in _KNOWN_HARMLESS.items():
        logging.getLogger(name).addFilter(_drop_message_starting(prefix))
    from apache_beam.runners.worker import sdk_worker_main
    sdk_worker_main.main([])


def _exit_code_of(worker_main: Callable[[], None]) -> int:
    """Run ``worker_main``; the exit code it ended with (a traceback printed if it raised)."""
    try:
        worker_main()
        return 0
    except SystemExit as exc:
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else _UNKNOWN_EXIT
    except BaseException:  # noqa: BLE001 - report, exit non-zero so the runner fails the stage
        traceback.print_exc()
        return _UNKNOWN_EXIT


def _exit_now(code: int) -> None:
    """Flush what the worker printed and exit without the interpreter's finalization: Beam's
    gRPC threads may still be running C code then, and finalizing under them can abort the
    process ("PyGILState_Release ... finalizing") with a dozen lines on the run's stderr,
    seen when a Ctrl-C stopped a run whose workers were started cold."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _run_worker(conn: socket.socket, env: Dict[str, str], worker_main: Callable[[], None]) -> None:
    """Be the worker Beam asked for: its environment, then the worker main."""
    code = _UNKNOWN_EXIT
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # SIGINT stays ignored (as in the template): Ctrl-C is the launcher's to handle,
        # and its runner stops the workers; a worker of its own would print a traceback.
        os.environ.clear()
        os.environ.update(env)
        code = _exit_code_of(worker_main)
    finally:
        try:
            conn.sendall(b"%d" % code)
        except OSError:
            pass
        _exit_now(code)


def _client(address: str) -> int:
    """Run by Beam in place of a worker: hand the environment to the template, wait for the
    forked worker and exit with its code. Ctrl-C is the launcher's to handle (its runner
    stops the workers): the client, like the worker it stands for, ignores it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(address)
    except OSError as exc:
        print(f"glmprep: no worker template at {address} ({exc}); the process that started "
              "the run has ended. Rerun, or use --no-fork-workers.", file=sys.stderr)
        return _UNKNOWN_EXIT
    conn.sendall(json.dumps(dict(os.environ)).encode() + _ENV_END)
    reply = b""
    while True:
        chunk = conn.recv(64)
        if not chunk:
            break
        reply += chunk
    return int(reply) if reply.strip().isdigit() else _UNKNOWN_EXIT


if __name__ == "__main__":
    if sys.argv[1:] == [_COLD]:
        _exit_now(_exit_code_of(_beam_worker_main))
    else:
        sys.exit(_client(sys.argv[1]))
