"""``glmprep run``: the command. Checks up front, runs ``GLMPrep`` and summarises.

The pipeline itself is ``glmprep.pipeline.api.GLMPrep``; the checks before any work are
``checks.py``; how a local run is started is ``local.py``.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import time
from typing import Optional, Sequence

from apache_beam.options.pipeline_options import StandardOptions

from glmprep.pipeline import manifest as manifest_lib
from glmprep.pipeline import outdir, progress
from glmprep.pipeline.api import GLMPrep
from glmprep.pipeline.checks import UsageError, check_inputs, config_from, prepare_output
from glmprep.pipeline.lock import LockError, RunLock, describe_owner
from glmprep.pipeline.local import (WorkersChoice, build_pipeline_options, choose_workers, describe_runner,
                                    is_local, new_pipeline, tokenizer_threads_for)
from glmprep.pipeline.config import resolve, write_run_config
from glmprep.pipeline.options import GLMPrepOptions, add_run_arguments, parse_run_arguments
from glmprep.transforms.publish import OutputWriteError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def run(argv: Sequence[str], quiet: bool = False) -> int:
    """Run the pipeline with ``argv`` (glmprep and Beam flags); returns an exit code.

    Every way a run ends prints at most one line of error: a usage problem (2), a
    failed write or a failed pipeline (1), Ctrl-C (130). The output's lock is held from
    before the previous run's files are touched until the summary is written."""
    try:
        values, beam_flags = resolve(parse_run_arguments(argv))
        options = build_pipeline_options(beam_flags, values)
        opts = options.view_as(GLMPrepOptions)
        cfg = config_from(opts)
        offline = bool(options.get_all_options().get("dry_run"))
        quiet = quiet or opts.quiet
        check_inputs(cfg, offline)
        workers = choose_workers(options, cfg.all_inputs(), beam_flags)
        cfg.tokenizer_threads = tokenizer_threads_for(opts)  # follows the worker count chosen
        held = None if offline else RunLock(cfg.output)
        if held is not None:
            held.acquire()
    except (UsageError, LockError) as exc:
        print(f"glmprep run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if held is not None and held.taken_over is not None:
            print(f"glmprep run: took over the stale lock of {describe_owner(held.taken_over)} "
                  f"(that run is gone)", file=sys.stderr)
        prepare_output(cfg.output, opts.overwrite, offline)
        if not offline:
            write_run_config(cfg.output, values, beam_flags, argv)
        return _run_pipeline(cfg, options, quiet, opts.report, offline, argv, workers)
    except UsageError as exc:
        print(f"glmprep run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _discard_unfinished(cfg.output)
        print(f"glmprep run: interrupted; {cfg.output} is unfinished (no manifest.json)", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if held is not None:
            held.release()


def _run_pipeline(cfg, options, quiet: bool, report: bool, dry_run: bool, argv: Sequence[str],
                  workers: Optional[WorkersChoice]) -> int:
    started = time.time()
    try:
        pipeline = new_pipeline(options)
    except ValueError as exc:  # Beam's validation of runner options (project, region, ...)
        print(f"glmprep run: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    _ = pipeline | "GLMPrep" >> GLMPrep(cfg)
    local = is_local(options)
    quiet_tracebacks = _DropWorkerTracebacks()
    for name in TRACEBACK_LOGGERS:
        logging.getLogger(name).addFilter(quiet_tracebacks)
    try:
        with progress.reporting(enabled=local and not quiet):
            result = pipeline.run()
            result.wait_until_finish()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a worker raised, as one line
        if interrupted(exc):
            raise KeyboardInterrupt from None
        _discard_unfinished(cfg.output)
        print(f"glmprep run: failed: {failure_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        for name in TRACEBACK_LOGGERS:
            logging.getLogger(name).removeFilter(quiet_tracebacks)
    if dry_run:
        if not quiet:
            print(f"glmprep run: dry run: the {options.view_as(StandardOptions).runner} job graph was "
                  "built and validated; nothing was submitted or written", file=sys.stderr)
        return EXIT_OK
    if not local and not os.path.exists(os.path.join(cfg.output, manifest_lib.MANIFEST_NAME)):
        return EXIT_OK  # a remote job: nothing local to summarise
    manifest = manifest_lib.finish_run(cfg.output, started, describe_runner(options, pipeline), list(argv),
                                       workers=workers.describe() if workers is not None else None)
    if not quiet:
        manifest_lib.print_summary(manifest)
    if report:
        from glmprep.core.report import write_report
        write_report(cfg.output)
    return EXIT_OK


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is how Ctrl-C came back through Beam (a worker's or a runner
    thread's KeyboardInterrupt, wrapped or as text)."""
    for link in _chain(exc):
        if isinstance(link, KeyboardInterrupt) or "KeyboardInterrupt" in str(link):
            return True
    return False


def failure_line(exc: BaseException) -> str:
    """One line for a failed run: a glmprep ``OutputWriteError``'s message when one is in
    ``exc`` (as an object or in a worker's traceback text), else the last line of it."""
    for link in _chain(exc):
        if isinstance(link, OutputWriteError):
            return str(link).splitlines()[0].split(" [while running")[0]
    text = str(exc)
    found = re.search(r"OutputWriteError: ([^\n]*)", text)
    if found:
        return found.group(1).split(" [while running")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _discard_unfinished(output: str) -> None:
    """Remove this run's half-written files (``outdir.remove_unfinished``)."""
    try:
        outdir.remove_unfinished(output)
    except (OSError, outdir.OutputDirError):  # cleaning up must not hide why the run ended
        pass


# Beam logs a failing DoFn's traceback (in the process, and for each worker process)
# before the run raises it; ``glmprep run`` reports the failure itself, in one line.
TRACEBACK_LOGGERS = ("apache_beam.runners.common", "apache_beam.runners.portability.local_job_service")


class _DropWorkerTracebacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info or "Traceback (most recent call last)" in record.getMessage())


def _run_command(args) -> int:
    return run(args.argv_tail)


def add_commands(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="run the pipeline: raw text -> GLM shards",
        description="Read documents, clean, filter, deduplicate (exact and near), tokenize, build GLM "
                    "blank-infilling samples and write Arrow shards, manifest.json and rejects/. "
                    "Local runs pick their worker processes with --workers (default auto). Any Apache "
                    "Beam option is accepted too, e.g. --runner=DataflowRunner --project=... (default "
                    "runner: DirectRunner).")
    add_run_arguments(p)
    p.set_defaults(func=_run_command, accepts_extra=True)
