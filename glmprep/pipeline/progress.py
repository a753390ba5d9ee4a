"""Progress of a local run while Beam's DirectRunner blocks in ``pipeline.run()``.

Beam's local runner reports metrics only when the pipeline has finished, and in
``multi_processing`` mode the DoFns run in worker subprocesses. So progress travels
through a directory instead:

- DoFns call ``note(name, n)`` (``docs_read``, ``bytes_read``, ``kept``, ``rejected``).
  Each process adds to its own in-memory tally and, at most once per
  ``FLUSH_SECONDS``, rewrites ``<dir>/<pid>.json`` with its running totals. With no
  progress directory set (remote runners, tests, library use) ``note`` only checks a flag.
- ``reporting(...)`` (used around ``pipeline.run()``) makes the directory, exports it
  to the workers in ``GLMPREP_PROGRESS_DIR`` (subprocesses inherit the environment),
  and runs a thread that sums the files and prints: one line rewritten in place
  (``\\r``) on a terminal, a plain line every ``PLAIN_INTERVAL_SECONDS`` otherwise.

Documents are counted as they are read, and so is their text (UTF-8 bytes, uncompressed:
a gzip'd file counts what it expands to), so the line moves within a file.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from typing import Dict, Iterator, Optional, TextIO

import apache_beam as beam

ENV_VAR = "GLMPREP_PROGRESS_DIR"
# A worker rewrites its progress file at most this often: per-element cost stays a
# dict update and a clock read.
FLUSH_SECONDS = 1.0
TTY_INTERVAL_SECONDS = 0.5
PLAIN_INTERVAL_SECONDS = 5.0

DOCS_READ = "docs_read"
BYTES_READ = "bytes_read"
KEPT = "kept"
REJECTED = "rejected"


class _Tally:
    """This process's running counts and where they go (one per process)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.configured = False
        self.path: Optional[str] = None
        self.counts: Dict[str, int] = {}
        self.next_flush = 0.0
        self.atexit_registered = False

    def configure(self, directory: Optional[str]) -> None:
        with self.lock:
            self.counts = {}
            self.path = os.path.join(directory, f"{os.getpid()}.json") if directory else None
            self.next_flush = 0.0
            self.configured = True
            if self.path and not self.atexit_registered:
                atexit.register(self.flush)
                self.atexit_registered = True

    def add(self, name: str, n: int) -> None:
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + n
            now = time.monotonic()
            if now >= self.next_flush:
                self._write()
                self.next_flush = now + FLUSH_SECONDS

    def flush(self) -> None:
        with self.lock:
            if self.path:
                self._write()

    def _write(self) -> None:
        temp = f"{self.path}.{threading.get_ident()}.tmp"
        try:
            with open(temp, "w", encoding="utf-8") as fh:
                json.dump(self.counts, fh)
            os.replace(temp, self.path)  # readers never see half a file
        except OSError:
            pass  # the run went on and removed the directory: progress is best effort


_tally = _Tally()


def note(name: str, n: int = 1) -> None:
    """Add ``n`` to this process's count ``name`` (cheap; a no-op unless a run reports progress)."""
    if not _tally.configured:
        _tally.configure(os.environ.get(ENV_VAR))
    if _tally.path is not None:
        _tally.add(name, n)


def _note_element(element, name: str):
    note(name)
    return element


class CountProgress(beam.PTransform):
    """Pass elements through unchanged, counting each as ``name`` for the progress line."""

    def __init__(self, name: str):
        super().__init__()
        self._name = name

    def expand(self, pcoll):
        return pcoll | "Note" >> beam.Map(_note_element, self._name)


def read_totals(directory: str) -> Dict[str, int]:
    """Sum of every process's latest counts in ``directory``."""
    totals: Dict[str, int] = {}
    try:
        names = os.listdir(directory)
    except OSError:
        return totals
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as fh:
                counts = json.load(fh)
        except (OSError, ValueError):
            continue  # being replaced right now: its next version is read next time
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + int(value)
    return totals


def format_line(totals: Dict[str, int], seconds: float) -> str:
    """``12.0 s  read 1,204 docs  kept 980  rejected 31  3.2 MB at 0.27 MB/s`` (MB of text read)."""
    mb = totals.get(BYTES_READ, 0) / 1e6
    rate = mb / seconds if seconds > 0 else 0.0
    return (f"{seconds:6.1f} s  read {totals.get(DOCS_READ, 0):,} docs  kept {totals.get(KEPT, 0):,}  "
            f"rejected {totals.get(REJECTED, 0):,}  {mb:,.1f} MB at {rate:,.2f} MB/s")


class ProgressReporter:
    """A thread printing the totals of a progress directory until ``stop()``."""

    def __init__(self, directory: str, out: TextIO, in_place: bool, interval: float):
        self.directory = directory
        self.out = out
        self.in_place = in_place
        self.interval = interval
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._width = 0
        self._thread = threading.Thread(target=self._loop, name="glmprep-progress", daemon=True)

    def start(self) -> "ProgressReporter":
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.show()

    def show(self) -> None:
        line = format_line(read_totals(self.directory), time.monotonic() - self.started)
        if self.in_place:
            self.out.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            self.out.write("progress: " + line + "\n")
        self.out.flush()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        _tally.flush()  # this process's last counts (the in-memory runner's workers are threads here)
        self.show()
        if self.in_place:
            self.out.write("\n")
            self.out.flush()


@contextlib.contextmanager
def reporting(enabled: bool = True, out: Optional[TextIO] = None,
              interval: Optional[float] = None) -> Iterator[Optional[ProgressReporter]]:
    """Report progress of the pipeline run inside the ``with`` block (to stderr by default)."""
    if not enabled:
        yield None
        return
    out = out or sys.stderr
    in_place = bool(getattr(out, "isatty", lambda: False)())
    if interval is None:
        interval = TTY_INTERVAL_SECONDS if in_place else PLAIN_INTERVAL_SECONDS
    directory = tempfile.mkdtemp(prefix="glmprep-progress-")
    previous = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = directory
    _tally.configure(directory)
    reporter = ProgressReporter(directory, out, in_place, interval).start()
    try:
        yield reporter
    finally:
        reporter.stop()
        if previous is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = previous
        _tally.configure(previous)
        shutil.rmtree(directory, ignore_errors=True)
