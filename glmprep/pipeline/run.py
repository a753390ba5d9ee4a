"""``glmprep run``: the command. Checks up front, runs ``GLMPrep`` and summarises.

The pipeline itself is ``glmprep.pipeline.api.GLMPrep``; the checks before any work are
``checks.py``; how a local run is started is ``local.py``.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Sequence

from apache_beam.options.pipeline_options import StandardOptions

from glmprep.pipeline import manifest as manifest_lib
from glmprep.pipeline import progress
from glmprep.pipeline.api import GLMPrep
from glmprep.pipeline.checks import UsageError, check_up_front, config_from
from glmprep.pipeline.local import build_pipeline_options, describe_runner, is_local, new_pipeline
from glmprep.pipeline.config import resolve, write_run_config
from glmprep.pipeline.options import GLMPrepOptions, add_run_arguments, parse_run_arguments

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def run(argv: Sequence[str], quiet: bool = False) -> int:
    """Run the pipeline with ``argv`` (glmprep and Beam flags); returns an exit code."""
    try:
        values, beam_flags = resolve(parse_run_arguments(argv))
        options = build_pipeline_options(beam_flags, values)
        opts = options.view_as(GLMPrepOptions)
        cfg = config_from(opts)
        dry_run = bool(options.get_all_options().get("dry_run"))
        check_up_front(cfg, opts.overwrite, offline=dry_run)
    except UsageError as exc:
        print(f"glmprep run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not dry_run:
        write_run_config(cfg.output, values, beam_flags, argv)
    started = time.time()
    try:
        pipeline = new_pipeline(options)
    except ValueError as exc:  # Beam's validation of runner options (project, region, ...)
        print(f"glmprep run: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    _ = pipeline | "GLMPrep" >> GLMPrep(cfg)
    local = is_local(options)
    with progress.reporting(enabled=local and not (quiet or opts.quiet)):
        result = pipeline.run()
        result.wait_until_finish()
    if dry_run:
        if not (quiet or opts.quiet):
            print(f"glmprep run: dry run: the {options.view_as(StandardOptions).runner} job graph was "
                  "built and validated; nothing was submitted or written", file=sys.stderr)
        return EXIT_OK
    if not local and not os.path.exists(os.path.join(cfg.output, manifest_lib.MANIFEST_NAME)):
        return EXIT_OK  # a remote job: nothing local to summarise
    manifest = manifest_lib.finish_run(cfg.output, started, describe_runner(options, pipeline), list(argv))
    if not (quiet or opts.quiet):
        manifest_lib.print_summary(manifest)
    if opts.report:
        from glmprep.core.report import write_report
        write_report(cfg.output)
    return EXIT_OK


def _run_command(args) -> int:
    return run(args.argv_tail)


def add_commands(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="run the pipeline: raw text -> GLM shards",
        description="Read documents, clean, filter, deduplicate (exact and near), tokenize, build GLM "
                    "blank-infilling samples and write Arrow shards, manifest.json and rejects/. "
                    "Any Apache Beam option is accepted too, e.g. --runner=DataflowRunner --project=... "
                    "or --direct_running_mode=multi_processing --direct_num_workers=2 (default runner: "
                    "DirectRunner).")
    add_run_arguments(p)
    p.set_defaults(func=_run_command, accepts_extra=True)
