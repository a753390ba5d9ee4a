"""How glmprep publishes a file: written under a name of its own attempt, then renamed.

A runner may run two attempts of one bundle at once (Dataflow retries a bundle whose
worker it believes lost while the old one may still run). Each attempt writes its own
temporary file, ``<final>.<attempt id>.inprogress``, so attempts never write into one
file; ``publish`` then moves it to the deterministic final name. Attempts write
identical bytes, so whichever publishes last wins harmlessly:

- local files: ``os.replace``, atomic: a reader sees the old complete file or the new one;
- other Beam filesystems (``gs://``): ``FileSystems.rename``, which for GCS is a copy
  over the final object followed by deleting the temporary one; a GCS object is
  replaced whole, so readers again see one complete version. Where a rename does not
  replace (some filesystems refuse an existing destination), an existing final file
  is the other attempt's identical one, and the temporary file is simply removed.

The final name is never deleted first. Temporary files of attempts that died are
removed at the end of the run (``remove_leftovers``).
"""
from __future__ import annotations

import os
import uuid
from typing import List

from apache_beam.io.filesystems import FileSystems

IN_PROGRESS_SUFFIX = ".inprogress"


def is_remote(path: str) -> bool:
    return "://" in path


def attempt_temp(final: str) -> str:
    """A temporary name for one attempt at writing ``final``, unique to the attempt."""
    return f"{final}.{uuid.uuid4().hex}{IN_PROGRESS_SUFFIX}"


def publish(temp: str, final: str) -> None:
    """Move the finished ``temp`` to ``final``, replacing an older ``final`` (see the module)."""
    if not is_remote(final):
        os.replace(temp, final)
        return
    try:
        FileSystems.rename([temp], [final])
    except Exception:  # Beam raises filesystem-specific errors (BeamIOError and others)
        if not FileSystems.exists(final):
            raise
        FileSystems.delete([temp])  # another attempt published the same bytes first


def discard(temp: str) -> None:
    """Remove an attempt's temporary file if it is there (after a failed write)."""
    try:
        if not is_remote(temp):
            os.remove(temp)
        elif FileSystems.exists(temp):
            FileSystems.delete([temp])
    except Exception:  # noqa: BLE001 - cleaning up must not hide the error that led here
        pass


def leftovers(directory: str, final_glob: str) -> List[str]:
    """Temporary files of attempts at files matching ``final_glob`` in ``directory``."""
    pattern = FileSystems.join(directory, final_glob + ".*" + IN_PROGRESS_SUFFIX)
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def remove_leftovers(directory: str, final_glob: str) -> int:
    """Remove the temporary files ``leftovers`` finds; returns how many."""
    found = leftovers(directory, final_glob)
    if found:
        FileSystems.delete(found)
    return len(found)


class OutputWriteError(OSError):
    """A file of the run's output could not be written (disk full, read-only, ...).

    Its message is one line naming the file; ``glmprep run`` prints it as the run's error."""


def write_failed(path: str, what: str, exc: OSError) -> OutputWriteError:
    """After ``exc`` (disk full, read-only, quota) while writing ``path``: the partial file
    removed, and the one-line error saying ``what`` could not be written there."""
    discard(path)
    return OutputWriteError(f"cannot write {what} to {path}: {exc.strerror or exc}")
