"""What ``glmprep run`` checks before any work starts: one clear line per problem."""
from __future__ import annotations

import os

from apache_beam.io.filesystems import FileSystems

from glmprep.core.filters import filter_options_from
from glmprep.core.tokenizer import SpecialIds, TokenizerError, default_ranks_path, load_ranks
from glmprep.pipeline import outdir
from glmprep.pipeline.api import RunConfig
from glmprep.pipeline.local import tokenizer_threads_for
from glmprep.pipeline.options import UsageError, job_options_from, path_options_from, sample_options_from
from glmprep.pipeline.stage_options import StageOptions
from glmprep.transforms.neardedup import neardedup_options_from
from glmprep.core.reading.options import read_options_from
from glmprep.transforms.unique_keys import key_options_from


__all__ = ["UsageError", "check_up_front", "config_from"]  # UsageError: glmprep.pipeline.options


def config_from(opts) -> RunConfig:
    """The ``RunConfig`` of parsed options (``GLMPrepOptions``); UsageError naming the flag."""
    try:
        paths, job = path_options_from(opts), job_options_from(opts)
        stages = StageOptions.from_args(opts, list(paths.input), sample_options_from(opts).seed)
        return RunConfig(
            inputs=list(paths.input), output=paths.output, sample=sample_options_from(opts),
            read=read_options_from(opts), duplicate_ids=key_options_from(opts).duplicate_ids,
            filters=filter_options_from(opts),
            near_dedup=neardedup_options_from(opts), tokenizer=job.tokenizer,
            num_shards=job.num_shards, tokens_per_shard=job.tokens_per_shard, min_shards=job.min_shards,
            tokenizer_threads=tokenizer_threads_for(opts), language=stages.language, pii=stages.pii,
            decontaminate=tuple(stages.decontaminate.benchmark_files),
            decontaminate_ngram=stages.decontaminate.benchmark_ngram,
            decontaminate_memory_mb=stages.decontaminate.memory_mb, mixing=stages.mixing,
            compression=job.compression)
    except ValueError as exc:  # contradictory or out-of-range options
        raise UsageError(str(exc)) from None


def is_remote(path: str) -> bool:
    return "://" in path


def check_up_front(cfg: RunConfig, overwrite: bool, offline: bool = False) -> None:
    """Errors that must stop the run before any work: one clear line each; then, with
    ``overwrite``, the previous run's files are removed. (``glmprep run`` holds the
    output's lock, ``lock.py``, between the two steps.)

    ``offline`` (a Dataflow ``--dry_run``) skips the checks that would list remote storage.
    """
    check_inputs(cfg, offline)
    prepare_output(cfg.output, overwrite, offline)


def check_inputs(cfg: RunConfig, offline: bool = False) -> None:
    """The inputs, options and output path, checked before the output is touched."""
    if not cfg.all_inputs():
        raise UsageError("--input is required (a file, glob or gs:// pattern), or --source / --mixture")
    if not cfg.output:
        raise UsageError("--output is required (a directory)")
    for pattern in cfg.all_inputs() + list(cfg.decontaminate):
        if offline and is_remote(pattern):
            continue
        try:
            matched = FileSystems.match([pattern])[0].metadata_list
        except Exception as exc:  # Beam raises filesystem-specific errors
            raise UsageError(f"cannot list input {pattern}: {exc}") from None
        if not matched:
            raise UsageError(f"input {pattern} matches no file")
        if not is_remote(pattern) and os.path.isdir(pattern):
            # Beam matches a directory named exactly; reading it would only reject it
            raise UsageError(f"input {pattern} is a directory; give a glob such as {os.path.join(pattern, '*')}")
    if cfg.tokenizer is not None and not is_remote(cfg.tokenizer):
        # a bad ranks file would otherwise fail every worker in the middle of the run
        try:
            load_ranks(cfg.tokenizer)
        except (TokenizerError, OSError) as exc:
            raise UsageError(str(exc)) from None
    if cfg.sample.special_tokens and not (cfg.tokenizer and is_remote(cfg.tokenizer)):
        # ids colliding with the base vocabulary or with each other: one line, before any work
        try:
            ranks = load_ranks(cfg.tokenizer or default_ranks_path())
            SpecialIds.from_map(max(ranks.values()) + 1, cfg.sample.special_tokens)
        except (TokenizerError, OSError) as exc:
            raise UsageError(f"--special-tokens: {exc}") from None
    if cfg.num_shards < 0 or cfg.tokens_per_shard <= 0 or cfg.min_shards < 1:
        raise UsageError("--num-shards must be ≥ 0, --tokens-per-shard > 0 and --min-shards ≥ 1")
    if not is_remote(cfg.output):
        _check_output_directory(cfg.output)


def prepare_output(output: str, overwrite: bool, offline: bool = False) -> None:
    """Refuse an output holding a run (or links glmprep would write through); with
    ``overwrite``, remove that run's files: glmprep's own only (``outdir.py``)."""
    if offline and is_remote(output):
        return
    try:
        previous = outdir.own_files(output)
        if previous and not overwrite:
            raise UsageError(f"{output} already holds a run ({len(previous)} file(s), e.g. "
                             f"{os.path.relpath(previous[0], output) if not is_remote(output) else previous[0]}); "
                             f"pass --overwrite to replace it")
        if previous:
            outdir.remove_own_files(output)
    except outdir.OutputDirError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"--output {output}: cannot remove the previous run ({exc})") from None


def _check_output_directory(output: str) -> None:
    """A local ``--output`` must be a directory or creatable as one."""
    if os.path.lexists(output) and not os.path.isdir(output):
        raise UsageError(f"--output {output} exists and is not a directory")
    ancestor = os.path.dirname(os.path.abspath(output))
    while not os.path.lexists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise UsageError(f"--output {output} cannot be created: {ancestor} is not a directory")
