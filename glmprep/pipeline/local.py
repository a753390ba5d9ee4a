"""Local-runner plumbing: Beam options for ``glmprep run`` and the local engine it runs on.

Local runs go straight to the FnApiRunner (the engine the DirectRunner picks for batch
pipelines); multi-process runs fork their workers from a warm template (``workers.py``).
"""
from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import (DirectOptions, PipelineOptions, PortableOptions, StandardOptions,
                                                  TypeOptions)
from apache_beam.portability import python_urns
from apache_beam.runners.portability.fn_api_runner import fn_runner

from glmprep.pipeline import heap, signatures, workers
from glmprep.pipeline.options import AUTO_WORKERS_MIN_BYTES, GLMPrepOptions, UsageError


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


def build_pipeline_options(flags: Sequence[str], values: Optional[Dict[str, object]] = None
                           ) -> PipelineOptions:
    """Beam options for ``glmprep run`` from flags (and glmprep option values by dest, which
    win over the flags): DirectRunner unless another runner is named, and no
    construction-time type check. GLMPrep's composition is fixed and type-checked by the
    test suite (TestPipeline keeps the check on); checking it again costs 0.3 s of every
    run's start-up and cannot find anything about the user's data."""
    options = RunOptions(list(flags), **(values or {}))
    std = options.view_as(StandardOptions)
    if not std.runner:
        std.runner = "DirectRunner"
    options.view_as(TypeOptions).pipeline_type_check = False
    return options


def is_local(options: PipelineOptions) -> bool:
    return options.view_as(StandardOptions).runner in ("DirectRunner", "direct")


def loops_back(options: PipelineOptions) -> bool:
    """Whether a portable run's SDK workers run inside this process (``--environment_type=LOOPBACK``)."""
    return (options.view_as(PortableOptions).environment_type or "").upper() == "LOOPBACK"


def local_workers(options: PipelineOptions) -> Tuple[str, int]:
    """(running mode, workers) of a local run, Beam's defaults resolved: no mode is
    ``in_memory`` (one worker), and 0 workers is one per core."""
    direct = options.view_as(DirectOptions)
    mode = direct.direct_running_mode or "in_memory"
    return mode, 1 if mode == "in_memory" else direct.direct_num_workers or os.cpu_count() or 1


@dataclass(frozen=True)
class WorkersChoice:
    """How many worker processes a local run got, and why (the manifest's ``run.workers``)."""

    requested: str               # --workers as given: "auto" or a count
    processes: int
    decided_by: str              # "input size", "--workers" or "--direct_running_mode"
    input_bytes: Optional[int] = None  # what auto measured

    def describe(self) -> Dict[str, object]:
        described = {"requested": self.requested, "processes": self.processes, "decided_by": self.decided_by}
        if self.input_bytes is not None:
            described.update(input_bytes=self.input_bytes, auto_min_bytes=AUTO_WORKERS_MIN_BYTES)
        return described


def choose_workers(options: PipelineOptions, patterns: Sequence[str], beam_flags: Sequence[str]
                   ) -> Optional[WorkersChoice]:
    """Apply ``--workers`` to a local run's Beam options (None for a remote runner): one
    process (``in_memory``) or N worker processes (``multi_processing``). ``auto`` gives
    inputs of ``AUTO_WORKERS_MIN_BYTES`` or more, as stored, one worker per usable core.
    Beam's own ``--direct_running_mode``, when among ``beam_flags``, decides instead; it
    and a count are contradictory (UsageError)."""
    if not is_local(options):
        return None
    requested = str(options.view_as(GLMPrepOptions).workers).strip().lower()
    if requested != "auto" and not (requested.isdigit() and int(requested) >= 1):
        raise UsageError(f"--workers must be auto or a whole number ≥ 1, got {requested!r}")
    direct = options.view_as(DirectOptions)
    if any(flag.split("=")[0] == "--direct_running_mode" for flag in beam_flags):
        if requested != "auto":
            raise UsageError(f"--workers {requested} and --direct_running_mode={direct.direct_running_mode} "
                             "both choose the workers; give one of them")
        return WorkersChoice(requested, local_workers(options)[1], "--direct_running_mode")
    input_bytes = None
    if requested == "auto":
        input_bytes = input_size(patterns)
        processes = usable_cores() if input_bytes >= AUTO_WORKERS_MIN_BYTES else 1
    else:
        processes = int(requested)
    if processes > 1:
        direct.direct_running_mode, direct.direct_num_workers = "multi_processing", processes
    else:
        direct.direct_running_mode = "in_memory"
    return WorkersChoice(requested, processes, "input size" if input_bytes is not None else "--workers",
                         input_bytes)


def input_size(patterns: Sequence[str]) -> int:
    """Bytes as stored of the distinct files ``patterns`` match."""
    sizes = {}
    for result in FileSystems.match(list(patterns)):
        for metadata in result.metadata_list:
            sizes[metadata.path] = metadata.size_in_bytes
    return sum(sizes.values())


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


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
    unless ``--no-fork-workers`` is given. Local runs remember the signatures Beam reads
    off DoFn methods (``signatures.py``), and so do the template's forks. Local runs, and
    portable runs whose workers loop back into this process, fix glibc's memory thresholds
    first (``heap.py``), so the runner and its workers give freed buffers back."""
    if is_local(options) or loops_back(options):
        heap.fix_thresholds()  # freed buffers go back to the system (heap.py), in the workers too
    if not is_local(options):
        return beam.Pipeline(options=options)
    signatures.remember()  # Beam reads each DoFn's method signatures again and again (signatures.py)
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
    if not multi_processing:
        return beam.Pipeline(runner=fn_runner.FnApiRunner(provision_info=provision_info), options=options)
    template = workers.shared_template(lambda: warm_worker(opts.tokenizer)) if opts.fork_workers else None
    command = template.command() if template is not None else workers.cold_command()
    runner = _WorkerCommandRunner(command, forked=template is not None, provision_info=provision_info)
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
    from glmprep.core.words import char_tables
    from glmprep.core.samples import sentence_table
    from glmprep.core.tokenizer import cached_tokenizer
    char_tables()
    sentence_table(cached_tokenizer(ranks_path))


class _WorkerCommandRunner(fn_runner.FnApiRunner):
    """The FnApiRunner, starting its Python subprocess workers with ``worker_command``
    instead of Beam's ``python -m apache_beam.runners.worker.sdk_worker_main``: a fork of
    the template (``forked``), or a fresh interpreter running the same worker main
    (``workers.cold_command``)."""

    def __init__(self, worker_command: str, forked: bool, **kwargs):
        super().__init__(**kwargs)
        self.worker_command = worker_command
        self.forked = forked
        self.forked_environments = 0  # environments whose workers the template forks

    def run_via_runner_api(self, pipeline_proto, options):
        beam_command = f"{sys.executable} -m apache_beam.runners.worker.sdk_worker_main".encode()
        for environment in pipeline_proto.components.environments.values():
            if environment.urn == python_urns.SUBPROCESS_SDK and environment.payload == beam_command:
                environment.payload = self.worker_command.encode()
                self.forked_environments += self.forked
        return super().run_via_runner_api(pipeline_proto, options)
