"""The ``glmprep`` command line: one subcommand per job.

Each command lives next to the code it drives; the module COMMANDS names for it
exposes ``add_commands(subparsers)``, which adds its subparsers and sets
``func=handler`` on each. A handler takes the parsed namespace and returns an exit
code (0 ok, 1 check failed, 2 bad usage or input). Only the module of the command
being run is imported (``glmprep validate`` does not load Beam); ``--help`` loads all.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

from glmprep import __version__

# command -> the module that adds it, in the order --help lists them
COMMANDS = {
    "run": "glmprep.pipeline.run",
    "stats": "glmprep.pipeline.stats",
    "validate": "glmprep.core.validate",
    "inspect": "glmprep.core.inspect",
    "train": "glmprep.trainer.cli",
    "eval": "glmprep.trainer.cli",
    "infill": "glmprep.trainer.cli",
    "report": "glmprep.core.report",
}


class CommandParser(argparse.ArgumentParser):
    """A command's parser: exact option names only (no abbreviations, which would also
    swallow Beam's), and a bad command line ends with one line and exit code 2."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser with ``command``'s subparser, or with every command's when None."""
    parser = argparse.ArgumentParser(
        prog="glmprep",
        description="Turn raw text into validated GLM blank-infilling Arrow shards, "
                    "check them, look at them, and train a small reference model on them.",
    )
    parser.add_argument("--version", action="version", version=f"glmprep {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    modules = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not an absent command module
                raise
            continue
        module.add_commands(subparsers)
    return parser


def _quiet_optional_gcp(record: logging.LogRecord) -> bool:
    """Drop Beam's import-time warning that the GCP client libraries are absent: a base install
    (without ``[gcp]``) is meant to lack them, and nothing glmprep runs locally needs them."""
    return not str(record.msg).startswith("apitools not found")


def main(argv: Optional[List[str]] = None) -> int:
    """Run one command; Ctrl-C at any moment (also while Beam or a command's modules are
    still being imported) exits 130 with one line."""
    if _quiet_optional_gcp not in logging.getLogger().filters:
        logging.getLogger().addFilter(_quiet_optional_gcp)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("glmprep: interrupted", file=sys.stderr)
        return 130


def _main(argv: Optional[List[str]]) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    # the command is the first argument that is not an option (glmprep takes none with a value)
    command = next((arg for arg in raw if not arg.startswith("-")), None)
    parser = build_parser(command)
    args, extra = parser.parse_known_args(raw)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if extra and not getattr(args, "accepts_extra", False):
        return _unknown_arguments(args.command, parser, extra)
    args.extra = extra
    args.argv_tail = raw[raw.index(args.command) + 1:]
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # output piped into head, less, ...: stop quietly
        sys.stderr.close()
        return 0


def _unknown_arguments(command: str, parser: argparse.ArgumentParser, extra: List[str]) -> int:
    """One line naming each unknown option with the closest known one."""
    from glmprep.pipeline.options import closest_option
    sub = parser._subparsers._group_actions[0].choices[command]  # the command's own parser
    known = [s for a in sub._actions for s in a.option_strings if s.startswith("--")]
    described = []
    for token in extra:
        name = token.split("=", 1)[0]
        guess = closest_option(name, known) if name.startswith("-") else None
        described.append(f"{name} (did you mean {guess}?)" if guess else name)
    print(f"glmprep {command}: unrecognized arguments: {', '.join(described)} "
          f"(see glmprep {command} --help)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
