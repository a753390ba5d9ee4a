"""What glmprep owns in an output directory, and how ``--overwrite`` removes it.

glmprep recognises its own files by name and removes nothing else:

    part-NNNNN-of-NNNNN.arrow                shards (+ .<attempt>.inprogress while written);
                                             with --epochs K > 1 part-NNNNN-of-NNNNN-epoch-EEE.arrow
    manifest.json                            (+ .<attempt>.inprogress while written)
    run.toml                                 the run's options (``glmprep.pipeline.config``)
    report.html, report.json                 ``--report`` / ``glmprep report``
    rejects/rejects-NNNNN-of-NNNNN.jsonl     rejects (+ rejects-bundle.jsonl.<attempt>.inprogress
                                             while written, ``reject_files.py``)
    rejects/beam-temp-rejects-<id>/*         the rejects sink's files of an unfinished run of
                                             an earlier glmprep (Beam's text sink)
    .glmprep-shard-runs/run-<id>.run         tokenized documents on their way to the shard
                                             writers (``shard_runs.py``); removed before the manifest
    .glmprep.lock                            the lock of a run (``lock.py``)

Locally nothing is followed through a symbolic link: a link with one of these names
(``rejects`` and the runs directory too) is not glmprep's, so the run refuses the
directory rather than write or delete through it. Other Beam filesystems (``gs://``)
have no links.
"""
from __future__ import annotations

import os
import re
from typing import List

from apache_beam.io.filesystems import FileSystems

from glmprep.schemas.manifest import MANIFEST_NAME, RUN_CONFIG_NAME
from glmprep.schemas.rejects import REJECTS_DIR, REJECTS_FILE_PREFIX, REJECTS_FILE_SUFFIX
from glmprep.transforms.publish import IN_PROGRESS_SUFFIX, is_remote
from glmprep.transforms.reject_files import BUNDLE_FILE
from glmprep.transforms.shard_runs import RUN_NAME, RUNS_DIR, run_files

LOCK_NAME = ".glmprep.lock"
REPORT_NAMES = ("report.html", "report.json")  # glmprep.core.report's HTML_NAME and JSON_NAME
_ATTEMPT = r"(?:\.[0-9a-f]{32})?" + re.escape(IN_PROGRESS_SUFFIX)
_TOP = re.compile(r"part-\d{5,}-of-\d{5,}(?:-epoch-\d{3,})?\.arrow(?:%s)?|%s(?:%s)?|%s" % (
    _ATTEMPT, re.escape(MANIFEST_NAME), _ATTEMPT, "|".join(map(re.escape, REPORT_NAMES + (RUN_CONFIG_NAME,)))))
_REJECTS = re.compile(r"%s-\d{5,}-of-\d{5,}%s|%s\.[0-9a-f]{32}%s" % (
    re.escape(REJECTS_FILE_PREFIX), re.escape(REJECTS_FILE_SUFFIX), re.escape(BUNDLE_FILE), re.escape(IN_PROGRESS_SUFFIX)))
_BEAM_TEMP = re.compile(r"beam-temp-%s-[0-9a-f]+" % re.escape(REJECTS_FILE_PREFIX))
_BEAM_TEMP_FILE = re.compile(r"[0-9a-f-]{32,36}(?:\.%s)?(?:%s)?" % (re.escape(REJECTS_FILE_PREFIX),
                                                                       re.escape(REJECTS_FILE_SUFFIX)))


class OutputDirError(Exception):
    """The output directory holds something glmprep will not write or delete through."""


def own_files(output: str) -> List[str]:
    """glmprep's files in ``output`` (the module docstring lists them), the lock excluded;
    sorted, directories after their contents."""
    return _own_remote(output) if is_remote(output) else _own_local(output)


def remove_own_files(output: str) -> None:
    """Delete ``own_files(output)``: nothing else, and nothing through a link."""
    files = own_files(output)
    if is_remote(output):
        if files:
            FileSystems.delete(files)
        return
    for path in files:
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)  # a Beam temp directory or rejects/, emptied above; refuses if not empty
        else:
            os.unlink(path)


def _links_refused(output: str, name: str) -> None:
    raise OutputDirError(f"--output {output}: {name} is a symbolic link; glmprep does not write or delete "
                         f"through links (remove it or choose another --output)")


def _own_local(output: str) -> List[str]:
    found: List[str] = []
    if not os.path.isdir(output):
        return found
    for entry in sorted(os.scandir(output), key=lambda e: e.name):
        if _TOP.fullmatch(entry.name):
            if entry.is_symlink():
                _links_refused(output, entry.name)
            found.append(entry.path)
    found += _own_runs(output)
    rejects = os.path.join(output, REJECTS_DIR)
    if os.path.islink(rejects):
        _links_refused(output, REJECTS_DIR)
    if os.path.isdir(rejects):
        inside = []
        for entry in sorted(os.scandir(rejects), key=lambda e: e.name):
            if entry.is_symlink():
                if _REJECTS.fullmatch(entry.name) or _BEAM_TEMP.fullmatch(entry.name):
                    _links_refused(output, os.path.join(REJECTS_DIR, entry.name))
            elif entry.is_file() and _REJECTS.fullmatch(entry.name):
                inside.append(entry.path)
            elif entry.is_dir() and _BEAM_TEMP.fullmatch(entry.name):
                temp_files = [e.path for e in os.scandir(entry.path)
                              if not e.is_symlink() and e.is_file() and _BEAM_TEMP_FILE.fullmatch(e.name)]
                inside += sorted(temp_files) + [entry.path]
        found += inside
        remaining = {e.path for e in os.scandir(rejects)} - set(inside)
        if inside and not remaining:
            found.append(rejects)  # emptied by the removal: remove it too
    return found


def _own_runs(output: str) -> List[str]:
    """The run files in the local runs directory, then the directory if nothing else is in it."""
    runs = os.path.join(output, RUNS_DIR)
    if os.path.islink(runs):
        _links_refused(output, RUNS_DIR)
    if not os.path.isdir(runs):
        return []
    inside = run_files(output)
    return inside + ([runs] if len(inside) == len(os.listdir(runs)) else [])


def _own_remote(output: str) -> List[str]:
    patterns = ["part-*", MANIFEST_NAME + "*", "report.*", RUN_CONFIG_NAME, f"{REJECTS_DIR}/*",
                f"{REJECTS_DIR}/beam-temp-*/*", f"{RUNS_DIR}/*"]
    found: List[str] = []
    for result in FileSystems.match([FileSystems.join(output, p) for p in patterns]):
        for metadata in result.metadata_list:
            relative = metadata.path[len(output.rstrip("/")) + 1:]
            parts = relative.split("/")
            if (len(parts) == 1 and _TOP.fullmatch(parts[0])) or \
                    (len(parts) == 2 and parts[0] == REJECTS_DIR and _REJECTS.fullmatch(parts[1])) or \
                    (len(parts) == 3 and parts[0] == REJECTS_DIR and _BEAM_TEMP.fullmatch(parts[1])) or \
                    (len(parts) == 2 and parts[0] == RUNS_DIR and RUN_NAME.fullmatch(parts[1])):
                found.append(metadata.path)
    return sorted(set(found))


def remove_unfinished(output: str) -> None:
    """Remove what an unfinished run leaves half-written: attempt files (``*.inprogress``),
    the rejects sink's temporary directories and the shard writers' runs; finished shards
    stay (``--overwrite`` replaces them). Local directories only: remote ones are cleaned
    by the next run."""
    if is_remote(output) or not os.path.isdir(output):
        return
    unfinished = [p for p in _own_local(output) if p.endswith(IN_PROGRESS_SUFFIX)
                  or _BEAM_TEMP.fullmatch(os.path.basename(os.path.dirname(p)))
                  or _BEAM_TEMP.fullmatch(os.path.basename(p))
                  or os.path.basename(os.path.dirname(p)) == RUNS_DIR or os.path.basename(p) == RUNS_DIR]
    for path in unfinished:
        if os.path.isdir(path):
            os.rmdir(path)
        else:
            os.unlink(path)
    rejects = os.path.join(output, REJECTS_DIR)
    if os.path.isdir(rejects) and not os.path.islink(rejects) and not os.listdir(rejects):
        os.rmdir(rejects)
