"""The ``glmprep`` command line: one subcommand per job.

Each command lives next to the code it drives; a module listed in COMMAND_MODULES
exposes ``add_commands(subparsers)``, which adds its subparsers and sets
``func=handler`` on each. A handler takes the parsed namespace and returns an exit
code (0 ok, 1 check failed, 2 bad usage or input).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

from glmprep import __version__

COMMAND_MODULES = (
    "glmprep.pipeline.run",      # run
    "glmprep.pipeline.stats",    # stats
    "glmprep.validate",          # validate
    "glmprep.inspect",           # inspect
    "glmprep.trainer.cli",       # train, eval, infill
    "glmprep.report",            # report
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glmprep",
        description="Turn raw text into validated GLM blank-infilling Arrow shards, "
                    "check them, look at them, and train a small reference model on them.",
    )
    parser.add_argument("--version", action="version", version=f"glmprep {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not an absent command module
                raise
            continue
        module.add_commands(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    raw = list(sys.argv[1:] if argv is None else argv)
    args.argv_tail = raw[raw.index(args.command) + 1:]
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("glmprep: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head, less, ...: stop quietly
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
