"""The accounting of a run as one composite transform: ``rejects/`` and ``manifest.json``.

    {"read":         documents the readers produced,
     "reject_files": every stage's written rejects files (``reject_files.WriteRejects``),
     "unreadable":   paths of files that broke while read (``UnreadablePaths`` of the readers' rejects),
     "near_dup_rejects": near dedup's rejects (optional: for the clusters' count),
     "shards":       one summary per written shard,
     "stage_counts": (manifest key, small dict) of the optional stages (optional)}
        --WriteAccounting--> rejects/rejects-*.jsonl published, then (once shards and
                             rejects are final) manifest.json

Only counts and the per-shard summaries reach one worker: each stage writes its own
rejects where it makes them and passes on one (file, counts per stage/reason) per file,
the documents read are counted once, and the funnel (documents after each stage)
follows from those and the kept count.
"""
from __future__ import annotations

from typing import Dict

import apache_beam as beam

from glmprep.pipeline import manifest as manifest_lib
from glmprep.transforms.publish import remove_leftovers
from glmprep.transforms.reject_files import FinalizeRejects
from glmprep.transforms.shard_runs import remove_runs
from glmprep.transforms.shards import SHARD_GLOB


UNREADABLE = ("read", "unreadable_file")


def _write_manifest(unused, output, **manifest_parts):
    """Every shard and the rejects are final here (``reasons`` comes from publishing
    the rejects): remove the temporary files of shard attempts that died
    (``publish.py``) and the shard writers' runs (``shard_runs.py``), then write the manifest."""
    remove_leftovers(output, SHARD_GLOB)
    remove_runs(output)
    return manifest_lib.write_manifest(unused, output=output, **manifest_parts)


class UnreadablePaths(beam.PTransform):
    """A reader's rejects -> the paths of the files that broke while read: few (at most
    one per input file)."""

    def expand(self, rejects):
        return (rejects
                | "UnreadableFiles" >> beam.Filter(lambda r: (r["stage"], r["reason"]) == UNREADABLE)
                | "UnreadablePath" >> beam.Map(lambda r: r["key"]))


class WriteAccounting(beam.PTransform):
    """The parts in the module docstring -> the written manifest."""

    def __init__(self, output: str, options: Dict[str, object], near_dedup: bool):
        super().__init__()
        self.output = output
        self.options = options
        self.near_dedup = near_dedup

    def expand(self, parts):
        summaries = parts["shards"]
        # The one count of documents taken from the data itself: what the readers produced.
        # The manifest checks it against kept + rejected, so no document goes unaccounted.
        read_count = (parts["read"]
                      | "CountRead" >> beam.CombineGlobally(beam.combiners.CountCombineFn()).without_defaults()
                      | "NameRead" >> beam.Map(lambda n: ("read", n)))  # absent when nothing was read
        # stage/reason -> count, once every stage's rejects files are published
        reasons = parts["reject_files"] | "FinalizeRejects" >> FinalizeRejects(self.output)
        counts = [read_count] + ([parts["stage_counts"]] if "stage_counts" in parts else [])
        if self.near_dedup:
            counts.append(parts["near_dup_rejects"]
                          | "KeeperKey" >> beam.Map(lambda r: r["kept_key"])
                          | "DistinctKeepers" >> beam.Distinct()
                          | "CountClusters" >> beam.combiners.Count.Globally()
                          | "NameClusters" >> beam.Map(lambda n: ("near_dup_clusters", n)))
        return (parts["read"].pipeline
                | "Once" >> beam.Create([None])
                | "WriteManifest" >> beam.Map(
                    _write_manifest, output=self.output, options=self.options,
                    shards=beam.pvalue.AsList(summaries),
                    # Only there once every rejects file is published, so the manifest (the
                    # sign of a finished run) is written after shards *and* rejects are final.
                    reasons=beam.pvalue.AsSingleton(reasons),
                    counts=beam.pvalue.AsDict(counts | "FlattenCounts" >> beam.Flatten()),
                    unreadable_files=beam.pvalue.AsList(parts["unreadable"])))
