"""The lock that keeps two runs out of one output directory.

``<output>/.glmprep.lock`` holds its owner as JSON: ``{"pid", "host", "started"}``.

Local directories: the owner also holds an exclusive ``flock`` on the file for as long
as it runs. The kernel drops that lock when the process dies, however it dies, so a
lock file nobody holds is stale (its run is gone): the next run takes it over and says
whose it was. A held lock refuses the directory with one line naming the owner, before
anything is read or removed, so ``--overwrite`` never touches a live run's files.

Other Beam filesystems (``gs://``) have no ``flock``: the lock is an object written
before the run and deleted after it. A lock object refuses the directory, naming its
owner; glmprep cannot tell from another machine (or from a launcher that died while its
Dataflow job goes on) whether that run is still working, so it never takes such a lock
over: delete the object by hand once the run is known to be gone. Checking for the
object and writing it are two steps, so two launchers starting in the same instant can
both pass; the lock guards against the common mistake, not against that race.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from typing import Dict, Iterator, Optional

from apache_beam.io.filesystems import FileSystems

from glmprep.pipeline.outdir import LOCK_NAME
from glmprep.transforms.publish import is_remote


class LockError(Exception):
    """The output directory is in use, not writable, or its lock cannot be taken (one line)."""


def owner_now() -> Dict[str, object]:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def describe_owner(owner: Optional[dict]) -> str:
    if not isinstance(owner, dict):
        return "an unknown run"
    return f"pid {owner.get('pid')} on {owner.get('host')}, started {owner.get('started')}"


def _parse(raw: bytes) -> Optional[dict]:
    try:
        owner = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def _not_writable(output: str, exc: OSError) -> LockError:
    return LockError(f"--output {output} is not writable ({exc.strerror or exc})")


class RunLock:
    """The lock of ``output``: ``acquire`` once, ``release`` at the end (or use ``hold``)."""

    def __init__(self, output: str):
        self.output = output
        self.path = FileSystems.join(output, LOCK_NAME) if is_remote(output) else os.path.join(output, LOCK_NAME)
        self.taken_over: Optional[dict] = None  # the stale owner whose lock this run took
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        if is_remote(self.output):
            self._acquire_remote()
        else:
            self._acquire_local()

    def _acquire_local(self) -> None:
        try:
            os.makedirs(self.output, exist_ok=True)
        except OSError as exc:
            raise LockError(f"--output {self.output} cannot be created ({exc.strerror or exc})") from None
        if os.path.islink(self.path):
            raise LockError(f"--output {self.output}: {LOCK_NAME} is a symbolic link; remove it")
        for _ in range(8):  # the file may be removed by its owner between open and flock
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise _not_writable(self.output, exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                owner = _parse(os.pread(fd, 4096, 0))
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise LockError(f"--output {self.output}: cannot lock {LOCK_NAME} ({exc.strerror})") from None
                raise LockError(f"--output {self.output} is in use by a live run ({describe_owner(owner)}); "
                                f"wait for it or choose another --output") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # we locked a file its owner had just removed: try the new one
                os.close(fd)
                continue
            previous = os.pread(fd, 4096, 0)
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(owner_now()).encode("utf-8"), 0)
            except OSError as exc:
                os.close(fd)
                raise _not_writable(self.output, exc) from None
            self._fd = fd
            self.taken_over = _parse(previous) if previous else None
            return
        raise LockError(f"--output {self.output}: {LOCK_NAME} keeps changing; is another run starting?")

    def _acquire_remote(self) -> None:
        if FileSystems.exists(self.path):
            with FileSystems.open(self.path) as fh:
                owner = _parse(fh.read(4096))
            raise LockError(f"--output {self.output} is locked by {describe_owner(owner)}; if that run is gone, "
                            f"delete {self.path}")
        try:
            with FileSystems.create(self.path) as fh:
                fh.write(json.dumps(owner_now()).encode("utf-8"))
        except Exception as exc:  # noqa: BLE001 - Beam raises filesystem-specific errors
            raise LockError(f"--output {self.output} is not writable ({exc})") from None
        self._fd = -1

    def release(self) -> None:
        if self._fd is None:
            return
        if is_remote(self.output):
            FileSystems.delete([self.path])
        else:
            try:
                if os.fstat(self._fd).st_ino == os.stat(self.path).st_ino:
                    os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self._fd)
        self._fd = None


@contextlib.contextmanager
def hold(output: str) -> Iterator[RunLock]:
    """``output``'s lock for the duration of the ``with`` block."""
    lock = RunLock(output)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
