"""The run's accounting checked against what is on disk (``glmprep validate DIR``).

A finished run's manifest promises three things, each checked here:

    documents_in + documents_added = documents_kept + documents_rejected   (and Σ rejected_by_reason;
        documents_added: the mixing stage's repeats, 0 without --source)
    rejects/rejects-*.jsonl hold exactly rejected_by_reason, reason by reason
    documents_kept = the number of distinct source_ids in the shards (and in each epoch's, --epochs)

Rejects are read one line at a time and source ids are kept as 16-byte digests, so
memory goes with the number of kept documents, not with the size of the shards.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
from typing import Dict, List, Mapping, Sequence, Tuple

from glmprep.schemas.rejects import REJECTS_DIR, REJECTS_FILE_PREFIX, REJECTS_FILE_SUFFIX, reason_key
from glmprep.schemas.reader import ShardReader
from glmprep.schemas.shard import ShardFormatError

MAX_PROBLEMS_SHOWN = 5


def rejects_on_disk(directory: str) -> Tuple[Dict[str, int], List[str]]:
    """("stage/reason" -> records in ``directory``/rejects/, problems found reading them)."""
    counts: Dict[str, int] = {}
    problems: List[str] = []
    pattern = os.path.join(directory, REJECTS_DIR, f"{REJECTS_FILE_PREFIX}-*{REJECTS_FILE_SUFFIX}")
    for path in sorted(glob.glob(pattern)):
        name = os.path.relpath(path, directory)
        with open(path, "rb") as fh:
            for number, line in enumerate(fh, 1):
                try:
                    reason = reason_key(json.loads(line))
                except (ValueError, TypeError, KeyError):
                    problems.append(f"{name} line {number} is not a reject record")
                    continue
                counts[reason] = counts.get(reason, 0) + 1
    return counts, problems


def distinct_source_ids(shard_paths: Sequence[str]) -> int:
    """Distinct ``source_ids`` over the readable shards among ``shard_paths``."""
    seen = set()
    for path in shard_paths:
        try:
            column = ShardReader(path).table.column("source_ids")
        except (ShardFormatError, OSError):
            continue  # reported by the shard checks
        for chunk in column.chunks:
            for key in chunk.values.to_pylist():
                seen.add(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest())
    return len(seen)


def check_accounting(manifest: Mapping[str, object], directory: str, shard_paths: Sequence[str]) -> List[str]:
    """What in ``directory`` contradicts ``manifest``'s accounting (empty: it holds)."""
    totals = manifest.get("totals")
    if not isinstance(totals, Mapping):
        return ["the manifest has no totals"]
    try:
        docs_in, kept, rejected = (int(totals[k]) for k in ("documents_in", "documents_kept", "documents_rejected"))
        by_reason = {str(k): int(v) for k, v in dict(totals["rejected_by_reason"]).items()}
    except (KeyError, TypeError, ValueError):
        return ["the manifest's totals lack documents_in, documents_kept, documents_rejected or rejected_by_reason"]
    try:
        added = int(totals.get("documents_added", 0))
    except (TypeError, ValueError):
        return ["the manifest's totals.documents_added is not a number"]
    problems = []
    if docs_in + added != kept + rejected:
        problems.append(f"documents_in {docs_in} + documents_added {added} ≠ documents_kept {kept} + "
                        f"documents_rejected {rejected}")
    if sum(by_reason.values()) != rejected:
        problems.append(f"rejected_by_reason sums to {sum(by_reason.values())}, documents_rejected is {rejected}")
    on_disk, unreadable = rejects_on_disk(directory)
    problems += unreadable[:MAX_PROBLEMS_SHOWN]
    for reason in sorted(set(on_disk) | set(by_reason)):
        if on_disk.get(reason, 0) != by_reason.get(reason, 0):
            problems.append(f"{REJECTS_DIR}/ holds {on_disk.get(reason, 0)} {reason} reject(s), "
                            f"the manifest counts {by_reason.get(reason, 0)}")
    distinct = distinct_source_ids(shard_paths)
    if distinct != kept:
        problems.append(f"the shards hold {distinct} distinct source_ids, documents_kept is {kept}")
    return problems + check_epochs(manifest, shard_paths, kept)


def check_epochs(manifest: Mapping[str, object], shard_paths: Sequence[str], kept: int) -> List[str]:
    """With --epochs K > 1: the manifest's shards form epochs 0..K-1 of as many files each, and
    every epoch's shards hold every kept document (its own distinct source_ids = kept)."""
    epoch_of = {s["file"]: s.get("epoch", 0) for s in manifest.get("shards", [])}
    epochs = sorted(set(epoch_of.values()))
    declared = manifest.get("totals", {}).get("epochs") or 1   # absent (older runs): one
    problems = []
    if len(epochs) > 1 or declared != 1:
        if epochs != list(range(declared)):
            problems.append(f"the manifest's shards belong to epochs {epochs}, totals.epochs is {declared}")
        files = [sum(1 for e in epoch_of.values() if e == epoch) for epoch in epochs]
        if len(set(files)) > 1:
            problems.append(f"the epochs have different numbers of shards: {files}")
        for epoch in epochs:
            paths = [p for p in shard_paths if epoch_of.get(os.path.basename(p)) == epoch]
            distinct = distinct_source_ids(paths)
            if distinct != kept:
                problems.append(f"epoch {epoch}'s shards hold {distinct} distinct source_ids, documents_kept is {kept}")
    return problems
