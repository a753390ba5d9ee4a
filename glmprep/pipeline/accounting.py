"""The accounting of a run as one composite transform: ``rejects/`` and ``manifest.json``.

    {"read":    documents the readers produced,
     "rejects": every stage's rejects,
     "shards":  one summary per written shard,
     "stage_counts": (manifest key, small dict) of the optional stages (optional)}
        --WriteAccounting--> rejects/rejects-*.jsonl, then (once shards and rejects are
                             final) manifest.json

Only counts and the per-shard summaries reach one worker: the reject reasons are
counted per stage/reason, the documents read are counted once, and the funnel
(documents after each stage) follows from those and the kept count.
"""
from __future__ import annotations

import json
from typing import Dict

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from glmprep.pipeline import manifest as manifest_lib
from glmprep.schemas.rejects import REJECTS_DIR, REJECTS_FILE_PREFIX, REJECTS_FILE_SUFFIX
from glmprep.transforms.publish import remove_leftovers
from glmprep.transforms.shard_runs import remove_runs
from glmprep.transforms.shards import SHARD_GLOB


UNREADABLE = ("read", "unreadable_file")


def _reject_reason(reject) -> str:
    return f"{reject['stage']}/{reject['reason']}"


def _write_manifest(unused, rejects_files, output, **manifest_parts):
    """Every shard and the rejects are final here: remove the temporary files of shard
    attempts that died (``publish.py``) and the shard writers' runs (``shard_runs.py``),
    then write the manifest."""
    del rejects_files  # a dependency only: the rejects are final
    remove_leftovers(output, SHARD_GLOB)
    remove_runs(output)
    return manifest_lib.write_manifest(unused, output=output, **manifest_parts)


class WriteAccounting(beam.PTransform):
    """{"read", "rejects", "shards"[, "counts"]} (see the module docstring) -> the written manifest."""

    def __init__(self, output: str, options: Dict[str, object], near_dedup: bool):
        super().__init__()
        self.output = output
        self.options = options
        self.near_dedup = near_dedup

    def expand(self, parts):
        rejects, summaries = parts["rejects"], parts["shards"]
        # The one count of documents taken from the data itself: what the readers produced.
        # The manifest checks it against kept + rejected, so no document goes unaccounted.
        read_count = (parts["read"]
                      | "CountRead" >> beam.CombineGlobally(beam.combiners.CountCombineFn()).without_defaults()
                      | "NameRead" >> beam.Map(lambda n: ("read", n)))  # absent when nothing was read
        rejects_files = (
            rejects
            | "RejectToJson" >> beam.Map(lambda r: json.dumps(r, ensure_ascii=False, sort_keys=True))
            | "WriteRejects" >> beam.io.WriteToText(
                FileSystems.join(self.output, REJECTS_DIR, REJECTS_FILE_PREFIX),
                file_name_suffix=REJECTS_FILE_SUFFIX, shard_name_template="-SSSSS-of-NNNNN"))
        # stage/reason -> count
        reasons = (rejects
                   | "RejectReason" >> beam.Map(_reject_reason)
                   | "CountReasons" >> beam.combiners.Count.PerElement())
        counts = [read_count] + ([parts["stage_counts"]] if "stage_counts" in parts else [])
        if self.near_dedup:
            counts.append(rejects
                          | "NearDupKeepers" >> beam.Filter(lambda r: r["stage"] == "near_dedup")
                          | "KeeperKey" >> beam.Map(lambda r: r["kept_key"])
                          | "DistinctKeepers" >> beam.Distinct()
                          | "CountClusters" >> beam.combiners.Count.Globally()
                          | "NameClusters" >> beam.Map(lambda n: ("near_dup_clusters", n)))
        # The paths of files that broke while read: few (at most one per input file).
        unreadable = (rejects
                      | "UnreadableFiles" >> beam.Filter(lambda r: (r["stage"], r["reason"]) == UNREADABLE)
                      | "UnreadablePath" >> beam.Map(lambda r: r["key"]))
        return (parts["read"].pipeline
                | "Once" >> beam.Create([None])
                | "WriteManifest" >> beam.Map(
                    _write_manifest, output=self.output, options=self.options,
                    shards=beam.pvalue.AsList(summaries),
                    # The final rejects file names: only there once the rejects sink has
                    # renamed its files, so the manifest (the sign of a finished run) is
                    # written after shards *and* rejects are final.
                    rejects_files=beam.pvalue.AsList(rejects_files),
                    counts=beam.pvalue.AsDict(counts | "FlattenCounts" >> beam.Flatten()),
                    reasons=beam.pvalue.AsDict(reasons),
                    unreadable_files=beam.pvalue.AsList(unreadable)))
