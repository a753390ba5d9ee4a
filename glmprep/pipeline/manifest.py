"""The run's ``manifest.json``: shards, accounting of every document, options, versions.

Written by the pipeline itself (so a Dataflow job leaves one too), under a
temporary name renamed when complete. Everything in it is deterministic except
the ``run`` field (timestamps), which a local run adds at the end.
"""
from __future__ import annotations

import json
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
from apache_beam.io.filesystems import FileSystems

from glmprep.schemas.manifest import (FILL_KEY, MANIFEST_NAME, MANIFEST_VERSION, OBJECTIVE_STAT_KEYS,
                                     RUN_CONFIG_NAME, RUN_KEY, SHARD_ENTRY_KEYS, parse_manifest)
from glmprep.schemas.shard import OBJECTIVES
from glmprep.schemas.stages import FUNNEL_STAGES, stage
from glmprep.transforms.publish import attempt_temp, publish

UNREADABLE_SHOWN = 20  # unreadable files the terminal summary names


def glmprep_version() -> str:
    from glmprep import __version__
    return __version__


def library_versions() -> Dict[str, str]:
    import apache_beam
    import pyarrow
    import tiktoken
    versions = {"glmprep": glmprep_version(), "apache_beam": apache_beam.__version__,
                "pyarrow": pyarrow.__version__, "numpy": np.__version__,
                "tiktoken": getattr(tiktoken, "__version__", "unknown"),
                "python": ".".join(map(str, sys.version_info[:3]))}
    return versions


def sample_stats(shards: List[dict], seq_len: Optional[int]) -> Dict[str, object]:
    """The sample statistics of all ``shards`` together, and the same per epoch (``epochs``)."""
    epochs = sorted({s.get("epoch", 0) for s in shards}) or [0]
    return {**_sum_stats(shards, seq_len),
            "epochs": [_sum_stats([s for s in shards if s.get("epoch", 0) == e], seq_len) for e in epochs]}


def _sum_stats(shards: List[dict], seq_len: Optional[int]) -> Dict[str, object]:
    objectives = {o: {k: sum(s["objectives"][o][k] for s in shards)
                      for k in OBJECTIVE_STAT_KEYS} for o in OBJECTIVES}
    for counts in objectives.values() if seq_len else ():   # what padding to seq_len would not waste
        counts[FILL_KEY] = round(counts["tokens"] / (counts["rows"] * seq_len), 4) if counts["rows"] else 0.0
    spans = np.sum([s["blank_span_lengths"] for s in shards], axis=0).tolist() if shards else []
    fill = np.sum([s["fill_histogram"] for s in shards], axis=0).tolist() if shards else []
    return {"objectives": objectives, "blank_span_lengths": spans, "fill_histogram": fill}


# Stages that run only when an option asks for them: stage -> the option (in ``options``,
# ``RunConfig.describe()``) that is None or empty when the stage did not run.
OPTIONAL_STAGES = {"near_dedup": "near_dedup", "language": "language", "decontaminate": "decontaminate",
                   "mixing": "mixing"}


def stages_run(options: Dict[str, object]) -> List[str]:
    """The funnel stages a run with ``options`` ran, in pipeline order."""
    return [name for name in FUNNEL_STAGES
            if name not in OPTIONAL_STAGES or options.get(OPTIONAL_STAGES[name])]


def funnel_from(kept: int, reasons: Dict[str, int], ran: List[str],
                added: Optional[Dict[str, int]] = None) -> Dict[str, int]:
    """Documents left after each stage in ``ran``: what is kept plus what later stages
    rejected, less what later stages added (``added``: stage -> documents, the mixing
    stage's repeats).

    >>> reasons = {"read/malformed_json": 1, "filter/too_short": 2, "exact_dedup/exact_duplicate": 1}
    >>> funnel_from(5, reasons, ["read", "clean", "filter", "exact_dedup", "tokenize"])
    {'read': 8, 'clean': 8, 'filter': 6, 'exact_dedup': 5, 'tokenize': 5}
    >>> funnel_from(9, {"mixing/mixing_dropped": 1}, ["read", "tokenize", "mixing"], {"mixing": 5})
    {'read': 5, 'tokenize': 5, 'mixing': 9}
    """
    added = added or {}
    by_stage: Dict[str, int] = {}
    for reason, n in reasons.items():
        name = reason.split("/", 1)[0]
        by_stage[name] = by_stage.get(name, 0) + n
    names = list(ran)
    later = kept + sum(n for name, n in by_stage.items() if name != "read") - sum(added.values())
    funnel: Dict[str, int] = {}
    for name, next_name in zip(names, names[1:] + [None]):
        funnel[name] = later
        if next_name is not None:
            later += added.get(next_name, 0) - by_stage.get(next_name, 0)
    return funnel


def documents_added(counts: Dict[str, object], reasons: Dict[str, int]) -> int:
    """Documents the run added: the mixing stage's repeats (copies after the first)."""
    mixing = counts.get("mixing") or {}
    return (sum(s["documents_after"] - s["documents_before"] for s in mixing.values())
            + reasons.get("mixing/mixing_dropped", 0))


def languages_from(shards: List[dict], identified: Dict[str, object]) -> Dict[str, Dict[str, int]]:
    """Language -> documents identified and rejected by the language stage, and documents
    and document tokens kept in the shards."""
    out: Dict[str, Dict[str, int]] = {}
    for language, (documents, rejected) in identified.items():
        out[language] = {"identified": documents, "rejected": rejected, "kept": 0, "kept_tokens": 0}
    for shard in shards:
        for language, (documents, tokens) in shard.get("languages", {}).items():
            entry = out.setdefault(language, {"identified": 0, "rejected": 0, "kept": 0, "kept_tokens": 0})
            entry["kept"] += documents
            entry["kept_tokens"] += tokens
    return dict(sorted(out.items()))


def build_manifest(options: Dict[str, object], shards: List[dict], counts: Dict[str, int],
                   reasons: Dict[str, int], unreadable_files: Sequence[str] = ()) -> Dict[str, object]:
    read_rejects = sum(n for r, n in reasons.items() if r.startswith("read/"))
    # every epoch holds every kept document: documents are counted in epoch 0's shards
    first = [s for s in shards if s.get("epoch", 0) == 0]
    kept = sum(s["documents"] for s in first)
    added = documents_added(counts, reasons)
    funnel = funnel_from(kept, reasons, stages_run(options), {"mixing": added})
    docs_in = counts.get("read", 0) + read_rejects     # counted from the data, not derived
    rejected = sum(reasons.values())
    totals = {
        "documents_in": docs_in,
        "documents_added": added,
        "documents_kept": kept,
        "documents_rejected": rejected,
        "accounting_balanced": docs_in + added == kept + rejected,
        "rejected_by_reason": dict(sorted(reasons.items())),
        "exact_duplicates_removed": reasons.get("exact_dedup/exact_duplicate", 0),
        "near_duplicates_removed": reasons.get("near_dedup/near_duplicate", 0),
        "near_duplicate_clusters": counts.get("near_dup_clusters", 0),
        # kept, but worth a look: records sharing an id with another text, kept under a distinct key
        "warnings": {"duplicate_id_renamed": counts.get("duplicate_id_renamed", 0)},
        # the last keeper round that removed a document (finished rounds included), and
        # documents still undecided when the rounds stopped (kept)
        "near_dedup_rounds_used": counts.get("near_dedup_rounds_used", 0),
        "near_dedup_unsettled": counts.get("near_dedup_unsettled", 0),
        "shards": len(shards),
        "rows": sum(s["rows"] for s in shards),
        "tokens": sum(s["tokens"] for s in shards),
        "document_tokens": sum(s["document_tokens"] for s in first),
        "epochs": len({s.get("epoch", 0) for s in shards}) or 1,
    }
    return {
        "manifest_version": MANIFEST_VERSION,
        "shards": [{k: s.get(k, 0) if k == "epoch" else s[k] for k in SHARD_ENTRY_KEYS} for s in shards],
        "totals": totals,
        "unreadable_files": sorted(unreadable_files),
        "funnel": funnel,
        "samples": sample_stats(shards, options.get("sample", {}).get("seq_len")),
        "languages": languages_from(first, counts.get("languages") or {}),
        "pii": {kind: {"documents": d, "replacements": r}
                for kind, (d, r) in sorted((counts.get("pii") or {}).items())},
        "decontamination": counts.get("decontamination") or {},   # {}: the stage did not run
        "mixing": counts.get("mixing") or {},
        "options": options,
        "versions": library_versions(),
    }


def write_json_atomically(path: str, data: Dict[str, object]) -> None:
    temp = attempt_temp(path)
    with FileSystems.create(temp) as fh:
        fh.write((json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
    publish(temp, path)


def write_manifest(_, output: str, options, shards, counts, reasons, unreadable_files=()) -> Dict[str, object]:
    # one small summary per shard file, epoch by epoch
    shards = sorted(shards, key=lambda s: (s.get("epoch", 0), s["file"]))
    manifest = build_manifest(options, shards, dict(counts), dict(reasons), list(unreadable_files))
    write_json_atomically(FileSystems.join(output, MANIFEST_NAME), manifest)
    return manifest


def read_manifest(output: str, require=("shards", "totals", "samples")) -> Dict[str, object]:
    """``output``/manifest.json through Beam's file systems, its shape checked
    (``glmprep.schemas.manifest.ManifestError``, one line, when it is not what glmprep writes)."""
    path = FileSystems.join(output, MANIFEST_NAME)
    with FileSystems.open(path) as fh:
        return parse_manifest(fh.read(), path, require)


def finish_run(output: str, started: float, runner: str = "",
               command_line: Optional[List[str]] = None,
               workers: Optional[Dict[str, object]] = None) -> Dict[str, object]:
    """Add how the run went (timing and ``runner``, e.g. "DirectRunner multi_processing, 2
    workers forked from a warm template"; the fields that may differ between runs giving
    the same shards) and the exact ``glmprep run`` arguments to the manifest."""
    manifest = read_manifest(output)
    finished = time.time()
    manifest[RUN_KEY] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                       "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished)),
                       "seconds": round(finished - started, 3), "runner": runner}
    if workers is not None:  # how --workers was resolved (pipeline.local.WorkersChoice)
        manifest[RUN_KEY]["workers"] = workers
    if command_line is not None:
        manifest[RUN_KEY].update(command_line=list(command_line), config=RUN_CONFIG_NAME)
    write_json_atomically(FileSystems.join(output, MANIFEST_NAME), manifest)
    return manifest


def stats_table(manifest: Dict[str, object]) -> str:
    """The run's funnel, rejects and samples as an aligned text table."""
    totals = manifest["totals"]
    lines = ["stage                         documents"]
    funnel = manifest.get("funnel", {})
    lines.append(f"  {'input records':28s}{totals['documents_in']:>10,}")
    for name in FUNNEL_STAGES:
        if name in funnel:
            lines.append(f"  {stage(name).after:28s}{funnel[name]:>10,}")
    lines.append(f"  {'kept in shards':28s}{totals['documents_kept']:>10,}")
    lines.append("")
    lines.append("rejected (stage/reason)       documents")
    for reason, n in totals["rejected_by_reason"].items():
        lines.append(f"  {reason:28s}{n:>10,}")
    lines.append(f"  {'total':28s}{totals['documents_rejected']:>10,}")
    balanced = "yes" if totals["accounting_balanced"] else "NO"
    if totals.get("documents_added"):
        lines.append(f"  {'added (mixing repeats)':28s}{totals['documents_added']:>10,}")
        lines.append(f"  in + added = kept + rejected: {balanced}")
    else:
        lines.append(f"  in = kept + rejected: {balanced}")
    unreadable = manifest.get("unreadable_files") or []
    if unreadable:
        lines.append(f"  unreadable files: {len(unreadable):,} (one read/unreadable_file reject each; "
                     f"records before the break are kept)")
        lines.extend(f"    {path}" for path in unreadable[:UNREADABLE_SHOWN])
        if len(unreadable) > UNREADABLE_SHOWN:
            lines.append(f"    ... and {len(unreadable) - UNREADABLE_SHOWN:,} more (rejects/, reason unreadable_file)")
    if totals.get("near_duplicate_clusters"):
        lines.append(f"  near-duplicate clusters: {totals['near_duplicate_clusters']:,}")
    if totals.get("near_dedup_rounds_used"):
        lines.append(f"  near-dedup keeper rounds used: {totals['near_dedup_rounds_used']}, documents left "
                     f"unsettled (kept): {totals.get('near_dedup_unsettled', 0):,}")
    renamed = totals.get("warnings", {}).get("duplicate_id_renamed", 0)
    if renamed:
        lines.append(f"  warning: {renamed:,} records shared an id with another text, kept as ID~<digest>")
    lines.append("")
    lines.append("objective        samples        tokens   masked %   spans   fill %")
    for o, s in manifest["samples"]["objectives"].items():
        share = 100.0 * s["masked_tokens"] / s["x_tokens"] if s["x_tokens"] else 0.0
        fill = 100.0 * s.get("fill", 0.0)
        lines.append(f"  {o:12s}{s['rows']:>10,}{s['tokens']:>14,}{share:>10.1f}{s['spans']:>8,}{fill:>9.1f}")
    lines.append(f"  {'total':12s}{totals['rows']:>10,}{totals['tokens']:>14,}")
    lines.append(f"shards: {totals['shards']}   document tokens: {totals['document_tokens']:,}")
    lines += epoch_lines(manifest)
    lines += stage_lines(manifest)
    if "seconds" in manifest.get("run", {}):
        lines.append(f"time: {manifest['run']['seconds']:.1f} s")
    return "\n".join(lines)


def epoch_lines(manifest: Dict[str, object]) -> List[str]:
    """With --epochs K > 1: each epoch's rows, masked share, spans, mean blank span and fill."""
    epochs = manifest["samples"].get("epochs") or []
    if len(epochs) < 2:
        return []
    lines = ["", f"epochs: {len(epochs)} shard sets (the same documents, masked afresh in each)",
             "epoch objective    samples   masked %   spans  mean blank span   fill %"]
    for e, stats in enumerate(epochs):
        spans = np.asarray(stats["blank_span_lengths"], dtype=np.float64)
        mean_span = float((spans * np.arange(len(spans))).sum() / spans.sum()) if spans.sum() else 0.0
        for o, c in stats["objectives"].items():
            share = 100.0 * c["masked_tokens"] / c["x_tokens"] if c["x_tokens"] else 0.0
            blank = f"{mean_span:>17.2f}" if o == "blank" else " " * 17
            lines.append(f"  {e:<4d}{o:10s}{c['rows']:>10,}{share:>11.1f}{c['spans']:>8,}{blank}"
                         f"{100.0 * c.get('fill', 0.0):>9.1f}")
    return lines


def stage_lines(manifest: Dict[str, object]) -> List[str]:
    """The language, PII, decontamination and mixing sections of ``stats_table``."""
    lines: List[str] = []
    if manifest.get("languages"):
        lines += ["", "language     identified   rejected       kept    kept tokens"]
        for language, n in manifest["languages"].items():
            lines.append(f"  {language:10s}{n['identified']:>11,}{n['rejected']:>11,}{n['kept']:>11,}"
                         f"{n['kept_tokens']:>15,}")
    if manifest.get("pii"):
        lines += ["", "PII replaced     documents   replacements"]
        for kind, n in manifest["pii"].items():
            lines.append(f"  {kind:14s}{n['documents']:>10,}{n['replacements']:>15,}")
    if manifest.get("decontamination"):
        d = manifest["decontamination"]
        lines += ["", f"decontamination: {d['items']:,} items, {d['ngrams']:,} distinct {d['ngram_words']}-grams "
                      f"from {len(d['files'])} file(s)"
                      + (f", checked by {d['index']}" if d.get("index") else "") + "; contaminated documents rejected: "
                      f"{manifest['totals']['rejected_by_reason'].get('decontaminate/contaminated', 0):,}"]
    if manifest.get("mixing"):
        lines += ["", "source        docs before  tokens before   target tokens     rate   docs after   tokens after"]
        for name, s in manifest["mixing"].items():
            lines.append(f"  {name:12s}{s['documents_before']:>11,}{s['tokens_before']:>15,}{s['target_tokens']:>16,}"
                         f"{s['rate']:>9.3f}{s['documents_after']:>13,}{s['tokens_after']:>15,}")
    return lines


def print_summary(manifest: Dict[str, object], out=None) -> None:
    print(stats_table(manifest), file=out or sys.stdout)
