"""The numbers of the report (``report.json``): everything plotted, from the manifest
(exact, whole run) and from the facts gathered from shards and rejects."""
from __future__ import annotations

from collections import Counter
from typing import Dict, List, Optional, Tuple

import numpy as np

from glmprep.core.filters import FILTER_REASONS
from glmprep.core.report.facts import (SAMPLE_SEED, WINDOW_ROWS, RejectFacts, ReportError, ShardSample,
                                       gather_rejects, read_rejects, read_shard_sample)
from glmprep.core.report.files import LocalFiles
from glmprep.core.report.stats import LANGUAGES, ZH_CJK_SHARE, chi_square, histogram, length_edges
from glmprep.core.tokenizer import GLMTokenizer, TokenizerError
from glmprep.core.view import tokenizer_for
from glmprep.schemas.manifest import MANIFEST_NAME, ManifestError, parse_manifest, shard_path
from glmprep.schemas.shard import OBJECTIVES, ShardFormatError
from glmprep.schemas.stages import FUNNEL_STAGES, STAGE_LIST, STAGES

REPORT_VERSION = 1
# Rows of the shards read for the per-document and per-sample plots: a few seconds of
# work, and enough documents for a histogram with a few hundred in each language.
DEFAULT_SAMPLE_ROWS = 20_000
# The longest span the span-length plot compares with the pmf (the pmf has one entry per length).
MAX_SPAN_SHOWN = 1 << 16
_STAGE_LABEL = {s.name: s.after for s in STAGE_LIST}


def funnel_steps(manifest: Dict[str, object]) -> List[Dict[str, object]]:
    """Documents left after each step, from the input records down to the kept documents.

    The filter stage is split by reason, in the order the rules are checked (a document
    is rejected by the first rule it fails).
    """
    reasons = manifest["totals"]["rejected_by_reason"]
    by_stage: Dict[str, Dict[str, int]] = {}
    for name, n in reasons.items():
        stage, _, reason = name.partition("/")
        by_stage.setdefault(stage, {})[reason] = n
    left = manifest["totals"]["documents_in"]
    steps = [{"step": "input records", "stage": None, "documents": left, "removed": 0, "reasons": {}}]
    for stage in STAGES:
        removed = by_stage.get(stage, {})
        if stage == "mixing":  # the mixing stage's repeats come on top
            left += manifest["totals"].get("documents_added", 0)
        if stage == "filter" and removed:
            order = [r for r in FILTER_REASONS if r in removed] + sorted(set(removed) - set(FILTER_REASONS))
            for reason in order:
                left -= removed[reason]
                steps.append({"step": f"filter: {reason}", "stage": stage, "documents": left,
                              "removed": removed[reason], "reasons": {reason: removed[reason]}})
            continue
        left -= sum(removed.values())
        steps.append({"step": _STAGE_LABEL[stage], "stage": stage, "documents": left,
                      "removed": sum(removed.values()), "reasons": dict(sorted(removed.items()))})
    return steps


def funnel_checks(manifest: Dict[str, object], steps: List[Dict[str, object]]) -> Dict[str, bool]:
    """The funnel rebuilt from reject counts agrees with the pipeline's own counts."""
    after = {s["stage"]: s["documents"] for s in steps if s["stage"]}  # last step of each stage
    pipeline_counts = manifest.get("funnel", {})
    checks = {f"funnel_{name}": pipeline_counts[name] == after[name]
              for name in FUNNEL_STAGES if name in pipeline_counts}
    checks["kept_equals_manifest"] = steps[-1]["documents"] == manifest["totals"]["documents_kept"]
    checks["accounting_balanced"] = bool(manifest["totals"]["accounting_balanced"])
    return checks


def sample_options(manifest: Dict[str, object], reader_meta) -> Dict[str, object]:
    """The run's sample options: the manifest's, over those the first shard records."""
    options = dict(reader_meta.sample_options, seq_len=reader_meta.seq_len,
                   objective_weights=reader_meta.objective_weights)
    options.update(manifest.get("options", {}).get("sample") or {})
    where = "options.sample of the manifest"
    if not 0 < options.get("poisson_lambda", 0):
        raise ReportError(f"{where}: poisson_lambda {options.get('poisson_lambda')} must be > 0")
    if not 0 < options.get("max_span", 0) <= MAX_SPAN_SHOWN:
        raise ReportError(f"{where}: max_span {options.get('max_span')} must be in 1..{MAX_SPAN_SHOWN}")
    if not 0 < options.get("seq_len", 0):
        raise ReportError(f"{where}: seq_len {options.get('seq_len')} must be > 0")
    if len(options.get("document_ratio") or ()) != 2:
        options["document_ratio"] = None
    return options


def epoch_numbers(manifest: Dict[str, object], options: Dict[str, object]) -> List[Dict[str, object]]:
    """Per epoch of ``--epochs`` (one entry with one epoch): rows, masked share, spans and fill per
    objective, and the blank span lengths against the truncated Poisson."""
    seq_len = int(options["seq_len"])
    out = []
    for e, stats in enumerate(manifest["samples"].get("epochs") or [manifest["samples"]]):
        spans = span_numbers({"samples": stats}, options)
        out.append({"epoch": e, "blank_spans": spans["total_spans"], "blank_mean": spans["observed_mean"],
                    "blank_chi_square": spans["chi_square"],
                    "objectives": {o: {"rows": c["rows"], "spans": c["spans"],
                                       "masked_ratio": round(c["masked_tokens"] / c["x_tokens"], 4) if c["x_tokens"] else None,
                                       "fill": round(c["tokens"] / (c["rows"] * seq_len), 4) if c["rows"] else 0.0}
                                   for o, c in stats["objectives"].items()}})
    return out


def span_numbers(manifest: Dict[str, object], options: Dict[str, object]) -> Dict[str, object]:
    from glmprep.core.samples import truncated_poisson_pmf
    lam, max_span = float(options["poisson_lambda"]), int(options["max_span"])
    observed = np.asarray(manifest["samples"]["blank_span_lengths"], dtype=np.int64)[1:max_span + 1]
    observed = np.pad(observed, (0, max_span - len(observed)))
    total = int(observed.sum())
    pmf = truncated_poisson_pmf(lam, max_span)
    lengths = np.arange(1, max_span + 1)
    return {
        "poisson_lambda": lam, "max_span": max_span, "lengths": lengths.tolist(),
        "observed": observed.tolist(), "total_spans": total,
        "expected_pmf": [round(float(p), 8) for p in pmf],
        "observed_mean": round(float((lengths * observed).sum() / total), 4) if total else None,
        "expected_mean": round(float((lengths * pmf).sum()), 4),
        "chi_square": chi_square(observed, pmf * total) if total else None,
    }


def masked_ratio_numbers(manifest, sample: ShardSample, options) -> Dict[str, object]:
    edges = np.linspace(0.0, 1.0, 41)
    out = {"edges": edges.round(3).tolist(), "mask_ratio_option": options.get("mask_ratio"),
           "document_ratio_option": options.get("document_ratio"), "objectives": {}}
    for o in OBJECTIVES:
        s = manifest["samples"]["objectives"][o]
        ratios = sample.masked_ratio[o]
        out["objectives"][o] = {
            "masked_tokens": s["masked_tokens"], "x_tokens": s["x_tokens"],
            "whole_run_ratio": round(s["masked_tokens"] / s["x_tokens"], 4) if s["x_tokens"] else None,
            "sampled_rows": len(ratios), "per_sample_histogram": histogram(ratios, edges),
            "per_sample_min": round(min(ratios), 4) if ratios else None,
            "per_sample_max": round(max(ratios), 4) if ratios else None,
        }
    return out


def objective_mix_numbers(manifest, options) -> Dict[str, object]:
    objectives = manifest["samples"]["objectives"]
    rows = sum(v["rows"] for v in objectives.values())
    tokens = sum(v["tokens"] for v in objectives.values())
    weights = options.get("objective_weights", {})
    weight_sum = sum(weights.values()) or 1.0
    return {o: {"rows": objectives[o]["rows"], "tokens": objectives[o]["tokens"],
                "row_share": round(objectives[o]["rows"] / rows, 4) if rows else 0.0,
                "token_share": round(objectives[o]["tokens"] / tokens, 4) if tokens else 0.0,
                "weight": round(weights.get(o, 0.0) / weight_sum, 4)} for o in OBJECTIVES}


def fill_numbers(manifest, options) -> Dict[str, object]:
    seq_len = int(options["seq_len"])
    rows, tokens = manifest["totals"]["rows"], manifest["totals"]["tokens"]
    fill = rows and tokens / (rows * seq_len)
    return {"seq_len": seq_len, "bins": [round(i / 20, 2) for i in range(21)],
            "histogram": list(manifest["samples"]["fill_histogram"]), "rows": rows, "tokens": tokens,
            "mean_fill": round(fill, 4), "padding_waste": round(1 - fill, 4) if rows else 0.0,
            "padding_tokens": rows * seq_len - tokens,
            "per_objective": {o: round(c["tokens"] / (c["rows"] * seq_len), 4) if c["rows"] else 0.0
                              for o, c in manifest["samples"]["objectives"].items()}}


def length_numbers(sample: ShardSample, rejects: RejectFacts) -> Dict[str, object]:
    kept = {lang: [] for lang in LANGUAGES}
    for doc in sample.documents.values():
        if doc.complete:
            kept[doc.language()].append(doc.tokens())
    longest = max([1] + [v for vs in kept.values() for v in vs] + [v for vs in rejects.lengths.values() for v in vs])
    edges = length_edges(longest)
    out = {"edges": edges.tolist(), "languages": {}, "zh_cjk_share": ZH_CJK_SHARE,
           "kept_documents_seen": len(sample.documents),
           "kept_documents_incomplete": sum(not d.complete for d in sample.documents.values()),
           "rejected_unmeasured": dict(rejects.unmeasured)}
    for lang in LANGUAGES:
        entry = {"kept": histogram(kept[lang], edges), "kept_documents": len(kept[lang]),
                 "kept_tokens": int(sum(kept[lang]))}
        for basis in ("exact", "near_copy", "lower_bound"):
            values = rejects.lengths.get((lang, basis), [])
            entry[f"rejected_{basis}"] = histogram([max(1, v) for v in values], edges)
            entry[f"rejected_{basis}_documents"] = len(values)
        out["languages"][lang] = entry
    return out


def cluster_numbers(rejects: RejectFacts, manifest) -> Dict[str, object]:
    out = {}
    for kind, removed in rejects.cluster_removed.items():
        sizes = Counter(n + 1 for n in removed.values())  # the kept document + its removed copies
        out[kind] = {"clusters": len(removed), "documents_removed": int(sum(removed.values())),
                     "size_histogram": {str(k): sizes[k] for k in sorted(sizes)},
                     "largest": [{"kept": k, "size": n + 1} for k, n in removed.most_common(5)]}
    out["near"]["manifest_clusters"] = manifest["totals"].get("near_duplicate_clusters")
    return out


def build_numbers(output_dir: str, sample_rows: int = DEFAULT_SAMPLE_ROWS, ranks_path: Optional[str] = None,
                  files=LocalFiles) -> Tuple[Dict[str, object], ShardSample, GLMTokenizer]:
    """Every number of the report (the content of ``report.json``); ``files`` reaches the run."""
    manifest_path = files.join(output_dir, MANIFEST_NAME)
    try:
        with files.open(manifest_path) as fh:
            manifest = parse_manifest(fh.read(), manifest_path, require=("shards", "totals", "samples"))
    except OSError as exc:
        raise ReportError(f"{output_dir}: no readable {MANIFEST_NAME} ({exc}); "
                          "is this the --output of a finished glmprep run?") from None
    except ManifestError as exc:
        raise ReportError(str(exc)) from None
    try:   # with --epochs, epoch 0's shards: each document once (the per-epoch numbers are the manifest's)
        paths = [shard_path(output_dir, s, files.join) for s in manifest["shards"] if s.get("epoch", 0) == 0]
    except ManifestError as exc:
        raise ReportError(str(exc)) from None
    if not paths:
        raise ReportError(f"{manifest_path}: the manifest lists no shards")
    try:
        first = files.shard(paths[0])
        tokenizer = tokenizer_for(first, ranks_path)
        sample = read_shard_sample(paths, sample_rows, tokenizer, files)
    except (ShardFormatError, TokenizerError, OSError) as exc:
        raise ReportError(str(exc)) from None
    kept = {k: (d.tokens(), d.language()) for k, d in sample.documents.items() if d.complete}
    rejects = gather_rejects(read_rejects(output_dir, files), kept, tokenizer)
    return numbers_of(output_dir, manifest, first.metadata, sample, rejects), sample, tokenizer


def numbers_of(output_dir: str, manifest: Dict[str, object], shard_meta, sample: ShardSample,
               rejects: RejectFacts) -> Dict[str, object]:
    """The numbers from a checked manifest (``parse_manifest``), the first shard's metadata
    and the facts gathered from shards and rejects."""
    options = sample_options(manifest, shard_meta)
    steps = funnel_steps(manifest)
    numbers = {
        "report_version": REPORT_VERSION,
        "run": {"output": output_dir, "manifest_run": manifest.get("run"), "options": options,
                "glmprep_version": manifest.get("versions", {}).get("glmprep")},
        "totals": manifest["totals"],
        "sample": {"rows_read": sample.rows_read, "rows_total": sample.rows_total,
                   "window_rows": WINDOW_ROWS, "seed": SAMPLE_SEED},
        "funnel": steps,
        "checks": funnel_checks(manifest, steps),
        "rejects": {"by_reason": dict(sorted(rejects.by_reason.items())),
                    "records": int(sum(rejects.by_reason.values())),
                    "example_keys": rejects.examples},
        "document_lengths": length_numbers(sample, rejects),
        "duplicate_clusters": cluster_numbers(rejects, manifest),
        "span_lengths": span_numbers(manifest, options),
        "epochs": epoch_numbers(manifest, options),
        "masked_ratio": masked_ratio_numbers(manifest, sample, options),
        "objective_mix": objective_mix_numbers(manifest, options),
        "fill": fill_numbers(manifest, options),
        "shards": [{k: s.get(k, 0) if k != "file" else s[k] for k in ("file", "rows", "tokens", "documents",
                                                                         "document_tokens")}
                   for s in manifest["shards"]],
        "stages": {key: manifest.get(key) for key in ("languages", "pii", "decontamination", "mixing")},
    }
    numbers["checks"]["rejects_files_match_manifest"] = (
        numbers["rejects"]["by_reason"] == manifest["totals"]["rejected_by_reason"])
    return numbers
