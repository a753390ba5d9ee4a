"""``glmprep report DIR``: look at a finished run before training on it.

Writes two files into the run's directory:

- ``report.html``: one self-contained page (plots are PNGs in ``data:`` URIs, styles
  inline, no external assets), readable offline or attached to a ticket;
- ``report.json``: every number that is plotted, for diffing two runs or for tests.

What each section is based on (the page says it too):

- **manifest.json** (exact, whole run): the funnel and reject reasons, span lengths,
  objective mix, per-objective masked ratio, sample fill, tokens per shard.
- **a sample of the shards** (``--sample-rows``, read in contiguous windows so that the
  pieces of a document stay together): kept documents' lengths (tokens of text, from
  ``source_lengths`` minus ENC/eos) and language (CJK share of the decoded text), and the
  masked ratio of each sample.
- **rejects/*.jsonl**: near-duplicate cluster sizes (a reject's ``kept_key`` names its
  cluster), and rejected documents' lengths: a duplicate has the length of the kept copy
  it names (exactly for exact duplicates, about for near-duplicates), any other reject the
  length of its preview, which is the whole text when shorter than the
  ``REJECT_PREVIEW_CHARS`` cut and a lower bound otherwise.

``write_samples_html`` renders chosen samples (Part A with numbered masks, each Part B
span in its mask's colour) for ``glmprep inspect --html``.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from apache_beam.io.filesystems import FileSystems

from glmprep.core.filters import FILTER_REASONS
from glmprep.core.inspect import spans_of_row, tokenizer_for
from glmprep.pipeline import manifest as manifest_lib
from glmprep.schemas.cjk import CJK_SCRIPT_RANGES, char_class
from glmprep.schemas.manifest import MANIFEST_NAME
from glmprep.schemas.rejects import REJECT_PREVIEW_CHARS, REJECTS_GLOB
from glmprep.schemas.stages import FUNNEL_STAGES, STAGE_LIST, STAGES
from glmprep.schemas.shard import OBJECTIVES, ShardFormatError, ShardReader
from glmprep.core.tokenizer import GLMTokenizer, TokenizerError

REPORT_VERSION = 1
HTML_NAME = "report.html"
JSON_NAME = "report.json"
# Rows of the shards read for the per-document and per-sample plots: a few seconds of
# work, and enough documents for a histogram with a few hundred in each language.
DEFAULT_SAMPLE_ROWS = 20_000
# Rows are read in windows this long at seeded random places of each shard: a document
# split into pieces lies in consecutive rows, so most documents are seen whole.
WINDOW_ROWS = 64
SAMPLE_SEED = 0
# A document is "ZH" when at least this share of its non-space characters are CJK:
# Chinese prose with Latin names, numbers and code stays far above it, English with a
# quoted Chinese phrase far below.
ZH_CJK_SHARE = 0.3
LANGUAGES = ("en", "zh")
# Rejects whose preview is tokenized for the length histogram (all are counted).
MAX_REJECTS_MEASURED = 50_000
EXAMPLE_SAMPLES = 3
DPI = 100

_CJK = re.compile(f"[{char_class(CJK_SCRIPT_RANGES)}]")
_SPACE = re.compile(r"\s")
_STAGE_LABEL = {s.name: s.after for s in STAGE_LIST}
_STAGE_COLOUR = {"read": "#8c564b", "clean": "#7f7f7f", "filter": "#d62728", "exact_dedup": "#ff7f0e",
                 "near_dedup": "#bcbd22", "tokenize": "#9467bd", "shards": "#e377c2"}
_OBJECTIVE_COLOUR = {"blank": "#1f77b4", "sentence": "#2ca02c", "document": "#9467bd"}


class ReportError(Exception):
    """The directory holds no finished run the report can read."""


# --------------------------------------------------------------------------- helpers
def language_of(text: str) -> str:
    """``"zh"`` when CJK characters are at least ``ZH_CJK_SHARE`` of the non-space ones.

    >>> language_of("The river rose."), language_of("河水上涨了。It rose.")
    ('en', 'zh')
    """
    chars = len(text) - len(_SPACE.findall(text))
    return "zh" if chars and len(_CJK.findall(text)) >= ZH_CJK_SHARE * chars else "en"


def length_edges(longest: int) -> np.ndarray:
    """Histogram edges in tokens, two per octave from 1: [1, 2, 3, 4, 6, 8, 11, 16, 23, ...]."""
    top = max(2, int(longest) + 1)
    edges = np.unique(np.round(2.0 ** (np.arange(0, 2 * math.log2(top) + 2) / 2)).astype(np.int64))
    return edges[: np.searchsorted(edges, top) + 1]


def chi2_sf(x: float, dof: int) -> float:
    """P(X ≥ x) for X ~ chi-square(dof), dof ≥ 1 (closed forms of the regularised gamma).

    >>> round(chi2_sf(3.84, 1), 3), round(chi2_sf(5.99, 2), 3)
    (0.05, 0.05)
    """
    half = x / 2.0
    if dof % 2 == 0:
        terms = [half ** i / math.factorial(i) for i in range(dof // 2)]
        return min(1.0, math.exp(-half) * math.fsum(terms))
    terms = [half ** (i - 0.5) / math.gamma(i + 0.5) for i in range(1, (dof + 1) // 2)]
    return min(1.0, math.erfc(math.sqrt(half)) + math.exp(-half) * math.fsum(terms))


def chi_square(observed: np.ndarray, expected: np.ndarray, min_expected: float = 5.0) -> Dict[str, float]:
    """Pearson's statistic after pooling the tail so that every cell expects ≥ ``min_expected``."""
    obs, exp = [], []
    acc_o = acc_e = 0.0
    for o, e in zip(observed, expected):
        acc_o, acc_e = acc_o + o, acc_e + e
        if acc_e >= min_expected:
            obs.append(acc_o)
            exp.append(acc_e)
            acc_o = acc_e = 0.0
    if obs and acc_e:  # leftover tail joins the last cell
        obs[-1] += acc_o
        exp[-1] += acc_e
    if len(obs) < 2:
        return {"statistic": 0.0, "dof": 0, "p_value": 1.0, "cells": len(obs)}
    o, e = np.array(obs), np.array(exp)
    stat = float(((o - e) ** 2 / e).sum())
    return {"statistic": round(stat, 3), "dof": len(o) - 1, "p_value": chi2_sf(stat, len(o) - 1), "cells": len(o)}


def png_data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def new_figure(width: float = 9.0, height: float = 3.4):
    # Figure without pyplot: no global backend state, safe inside other programs.
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height))


# --------------------------------------------------------------------------- shard sample
@dataclass
class DocumentFacts:
    """One kept document as seen in the sampled rows."""

    num_pieces: int
    lengths: Dict[int, int] = field(default_factory=dict)   # piece -> tokens in x (ENC/eos included)
    texts: Dict[int, str] = field(default_factory=dict)     # piece -> decoded text

    @property
    def complete(self) -> bool:
        return len(self.lengths) == self.num_pieces

    def tokens(self) -> int:
        """Tokens of text: ENC opens the first piece and eos closes the last."""
        return sum(self.lengths.values()) - 2

    def language(self) -> str:
        return language_of("".join(self.texts[p] for p in sorted(self.texts)))


@dataclass
class ShardSample:
    rows_read: int = 0
    rows_total: int = 0
    masked_ratio: Dict[str, List[float]] = field(default_factory=lambda: {o: [] for o in OBJECTIVES})
    documents: Dict[str, DocumentFacts] = field(default_factory=dict)
    examples: List[Tuple[str, int]] = field(default_factory=list)  # (shard path, row)


def uncorrupted_tokens(row: Dict[str, object]) -> np.ndarray:
    """x of a sample: Part A with every mask replaced by its span's tokens."""
    ids, sep = row["input_ids"], row["sep"]
    pieces, start = [], 0
    for span in spans_of_row(row):  # in Part A order
        pieces.extend([ids[start:span.mask_position], span.text_ids])
        start = span.mask_position + 1
    pieces.append(ids[start:sep])
    return np.concatenate(pieces) if pieces else ids[:0]


def sample_row_numbers(num_rows: int, quota: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``quota`` row numbers of a shard, in windows of ``WINDOW_ROWS`` consecutive rows."""
    if quota >= num_rows:
        return np.arange(num_rows)
    full_windows = num_rows // WINDOW_ROWS
    if full_windows == 0:
        return np.arange(quota)
    windows = min(full_windows, max(1, quota // WINDOW_ROWS))
    starts = np.sort(rng.choice(full_windows, size=windows, replace=False)) * WINDOW_ROWS
    rows = (starts[:, None] + np.arange(WINDOW_ROWS)).ravel()  # [windows * WINDOW_ROWS]
    return rows[:quota]


def read_shard_sample(paths: Sequence[str], sample_rows: int, tokenizer: GLMTokenizer) -> ShardSample:
    """Per-document and per-sample facts of about ``sample_rows`` rows spread over ``paths``."""
    sample = ShardSample()
    rng = np.random.default_rng(SAMPLE_SEED)
    quota = max(1, -(-sample_rows // max(1, len(paths))))
    base = tokenizer.base_vocab_size
    for path in paths:
        reader = ShardReader(path)
        sample.rows_total += reader.num_rows
        for r in sample_row_numbers(reader.num_rows, quota, rng).tolist():
            row = reader.row(r)
            _add_row(sample, row, tokenizer, base)
            if len(sample.examples) < EXAMPLE_SAMPLES and row["objective"] == OBJECTIVES[len(sample.examples)]:
                sample.examples.append((path, r))
            sample.rows_read += 1
    return sample


def _add_row(sample: ShardSample, row: Dict[str, object], tokenizer: GLMTokenizer, base: int) -> None:
    x = uncorrupted_tokens(row)
    masked = sum(len(s.text_ids) for s in spans_of_row(row))
    sample.masked_ratio[row["objective"]].append(masked / max(1, len(x)))
    ends = np.cumsum(row["source_lengths"])
    for key, piece, pieces, end, length in zip(row["source_ids"], row["source_piece"].tolist(),
                                               row["source_num_pieces"].tolist(), ends.tolist(),
                                               row["source_lengths"].tolist()):
        ids = x[end - length:end]
        doc = sample.documents.setdefault(key, DocumentFacts(int(pieces)))
        doc.lengths[int(piece)] = int(length)
        doc.texts[int(piece)] = tokenizer.decode(ids[ids < base])


# --------------------------------------------------------------------------- rejects
def read_rejects(output_dir: str) -> Iterator[Dict[str, str]]:
    """Every reject record of the run, file by file."""
    pattern = FileSystems.join(output_dir, REJECTS_GLOB)
    files = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
    for path in files:
        with FileSystems.open(path) as fh:
            for line in io.TextIOWrapper(fh, encoding="utf-8"):
                if line.strip():
                    yield json.loads(line)


def kept_key(reject: Dict[str, str]) -> Optional[str]:
    """The key a duplicate was removed in favour of (its ``kept_key``), else None."""
    return reject.get("kept_key")


@dataclass
class RejectFacts:
    by_reason: Counter = field(default_factory=Counter)
    examples: Dict[str, List[str]] = field(default_factory=dict)      # reason -> first keys
    cluster_removed: Dict[str, Counter] = field(default_factory=lambda: {"exact": Counter(), "near": Counter()})
    # (language, basis) -> lengths in tokens; basis: exact | near_copy | lower_bound
    lengths: Dict[Tuple[str, str], List[int]] = field(default_factory=dict)
    unmeasured: Counter = field(default_factory=Counter)               # why a length is unknown


def gather_rejects(records: Iterable[Dict[str, str]], kept: Dict[str, Tuple[int, str]],
                   tokenizer: GLMTokenizer) -> RejectFacts:
    """Counts, cluster sizes and measurable lengths of rejects; ``kept``: key -> (tokens, language)."""
    facts = RejectFacts()
    measured = 0
    for r in records:
        reason = f"{r['stage']}/{r['reason']}"
        facts.by_reason[reason] += 1
        keys = facts.examples.setdefault(reason, [])
        if len(keys) < 2:
            keys.append(r["key"])
        twin = kept_key(r)
        if twin is not None and r["reason"] in ("exact_duplicate", "near_duplicate"):
            facts.cluster_removed["exact" if r["stage"] == "exact_dedup" else "near"][twin] += 1
        if measured >= MAX_REJECTS_MEASURED:
            facts.unmeasured["beyond the measured sample"] += 1
            continue
        measured += 1
        basis, tokens, language = _reject_length(r, twin, kept, tokenizer)
        if basis is None:
            facts.unmeasured[tokens] += 1
        else:
            facts.lengths.setdefault((language, basis), []).append(tokens)
    return facts


def _reject_length(r, twin, kept, tokenizer):
    """(basis, tokens, language) of a reject, or (None, why, None) when it cannot be measured."""
    if twin is not None and r["reason"] in ("exact_duplicate", "near_duplicate"):
        if twin not in kept:
            return None, "duplicate of a document outside the shard sample", None
        tokens, language = kept[twin]
        return ("exact" if r["reason"] == "exact_duplicate" else "near_copy"), tokens, language
    if r["stage"] == "read":
        return None, "read reject (the preview is the raw record)", None
    preview = r.get("preview", "")
    basis = "lower_bound" if len(preview) >= REJECT_PREVIEW_CHARS else "exact"
    return basis, len(tokenizer.encode(preview)), language_of(preview)


# --------------------------------------------------------------------------- numbers
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
        if stage == "filter":
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


def sample_options(manifest: Dict[str, object], reader_meta=None) -> Dict[str, object]:
    options = dict(manifest.get("options", {}).get("sample") or {})
    if not options and reader_meta is not None:  # a manifest without options: use the shard's
        options = dict(reader_meta.sample_options, seq_len=reader_meta.seq_len,
                       objective_weights=reader_meta.objective_weights)
    return options


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


def histogram(values: Sequence[float], edges: np.ndarray) -> List[int]:
    return np.histogram(np.asarray(values, dtype=np.float64), bins=edges)[0].tolist()


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


def build_numbers(output_dir: str, sample_rows: int = DEFAULT_SAMPLE_ROWS,
                  ranks_path: Optional[str] = None) -> Tuple[Dict[str, object], ShardSample, GLMTokenizer]:
    """Every number of the report (the content of ``report.json``)."""
    try:
        manifest = manifest_lib.read_manifest(output_dir)
    except (OSError, ValueError) as exc:
        raise ReportError(f"{output_dir}: no readable {MANIFEST_NAME} ({exc}); "
                          "is this the --output of a finished glmprep run?") from None
    paths = [FileSystems.join(output_dir, s["file"]) for s in manifest["shards"]]
    if not paths:
        raise ReportError(f"{output_dir}: the manifest lists no shards")
    try:
        first = ShardReader(paths[0])
        tokenizer = tokenizer_for(first, ranks_path)
    except (ShardFormatError, TokenizerError, OSError) as exc:
        raise ReportError(str(exc)) from None
    options = sample_options(manifest, first.metadata)
    sample = read_shard_sample(paths, sample_rows, tokenizer)
    kept = {k: (d.tokens(), d.language()) for k, d in sample.documents.items() if d.complete}
    rejects = gather_rejects(read_rejects(output_dir), kept, tokenizer)
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
        "masked_ratio": masked_ratio_numbers(manifest, sample, options),
        "objective_mix": objective_mix_numbers(manifest, options),
        "fill": fill_numbers(manifest, options),
        "shards": [{k: s[k] for k in ("file", "rows", "tokens", "documents", "document_tokens")}
                   for s in manifest["shards"]],
    }
    numbers["checks"]["rejects_files_match_manifest"] = (
        numbers["rejects"]["by_reason"] == manifest["totals"]["rejected_by_reason"])
    return numbers, sample, tokenizer


# --------------------------------------------------------------------------- plots
def plot_funnel(numbers) -> str:
    steps = numbers["funnel"]
    fig = new_figure(6.2, 0.36 * len(steps) + 1.0)
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(steps))[::-1]
    total = max(1, steps[0]["documents"])
    for yi, s in zip(y, steps):
        ax.barh(yi, s["documents"], color="#4c72b0", height=0.62)
        if s["removed"]:
            ax.barh(yi, s["removed"], left=s["documents"], color=_STAGE_COLOUR.get(s["stage"], "#999"),
                    height=0.62, alpha=0.85)
        note = f"{s['documents']:,}" + (f"   −{s['removed']:,} ({100 * s['removed'] / total:.1f} %)"
                                         if s["removed"] else "")
        ax.text(total * 1.01, yi, note, va="center", fontsize=8)
    ax.set_yticks(y, [s["step"] for s in steps], fontsize=9)
    ax.set_xlim(0, total * 1.45)
    ax.set_xlabel("documents (blue: left; coloured: removed by the step)")
    ax.set_title("Funnel: documents after each step")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return png_data_uri(fig)


def plot_reject_reasons(numbers) -> Optional[str]:
    reasons = numbers["rejects"]["by_reason"]
    if not reasons:
        return None
    items = sorted(reasons.items(), key=lambda kv: kv[1])
    fig = new_figure(6.2, 0.3 * len(items) + 1.0)
    ax = fig.add_subplot(1, 1, 1)
    colours = [_STAGE_COLOUR.get(name.split("/")[0], "#999") for name, _ in items]
    ax.barh(range(len(items)), [n for _, n in items], color=colours)
    for i, (_, n) in enumerate(items):
        ax.text(n, i, f" {n:,}", va="center", fontsize=8.5)
    ax.set_yticks(range(len(items)), [name for name, _ in items], fontsize=9)
    ax.set_xlabel("documents rejected")
    ax.set_title("Reject reasons (stage/reason)")
    ax.margins(x=0.12)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return png_data_uri(fig)


def plot_lengths(numbers) -> str:
    data = numbers["document_lengths"]
    edges = np.asarray(data["edges"], dtype=float)
    fig = new_figure(10, 3.6)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, lang in zip(axes, LANGUAGES):
        entry = data["languages"][lang]
        ax.stairs(entry["kept"], edges, fill=True, color="#4c72b0", alpha=0.55,
                  label=f"kept ({entry['kept_documents']:,})")
        styles = (("exact", "#d62728", "-", "rejected, exact length"),
                  ("near_copy", "#ff7f0e", "--", "rejected near-dup (≈ kept copy)"),
                  ("lower_bound", "#7f7f7f", ":", "rejected, ≥ (preview cut)"))
        for basis, colour, line, label in styles:
            n = entry[f"rejected_{basis}_documents"]
            if n:
                ax.stairs(entry[f"rejected_{basis}"], edges, color=colour, linestyle=line, linewidth=1.8,
                          label=f"{label} ({n:,})")
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1)
        ax.set_title(f"{lang.upper()} documents ({'≥' if lang == 'zh' else '<'} "
                     f"{100 * data['zh_cjk_share']:.0f} % CJK characters)")
        ax.set_xlabel("length (tokens)")
        ax.legend(fontsize=7, loc="upper right", framealpha=0.85)
        ax.set_ylim(0, max(2, max(entry["kept"] + [0])) * 8)  # headroom for the legend
    axes[0].set_ylabel("documents (log scale)")
    return png_data_uri(fig)


def plot_clusters(numbers) -> Optional[str]:
    clusters = numbers["duplicate_clusters"]
    if not any(c["clusters"] for k, c in clusters.items()):
        return None
    sizes = sorted({int(s) for c in clusters.values() for s in c["size_histogram"]})
    x = np.arange(len(sizes))
    fig = new_figure(6.2, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    for offset, (kind, colour) in zip((-0.2, 0.2), (("near", "#bcbd22"), ("exact", "#ff7f0e"))):
        counts = [clusters[kind]["size_histogram"].get(str(s), 0) for s in sizes]
        ax.bar(x + offset, counts, width=0.36, color=colour,
               label=f"{kind} duplicates ({clusters[kind]['clusters']:,} clusters)")
        for xi, c in zip(x + offset, counts):
            if c:
                ax.text(xi, c, f"{c:,}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [str(s) for s in sizes])
    ax.set_xlim(-0.8, len(sizes) - 0.2)
    ax.margins(y=0.35)
    ax.set_xlabel("cluster size (kept document + removed copies)")
    ax.set_ylabel("clusters")
    ax.set_title("Duplicate cluster sizes")
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    return png_data_uri(fig)


def plot_spans(numbers) -> Optional[str]:
    spans = numbers["span_lengths"]
    if not spans["total_spans"]:
        return None
    lengths = np.asarray(spans["lengths"])
    observed = np.asarray(spans["observed"], dtype=float) / spans["total_spans"]
    pmf = np.asarray(spans["expected_pmf"])
    shown = max(int(lengths[observed > 0].max()), int(lengths[pmf >= 1e-4].max())) + 1
    fig = new_figure(6.2, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(lengths[:shown], observed[:shown], color="#1f77b4", alpha=0.7,
           label=f"observed ({spans['total_spans']:,} blank spans)")
    ax.plot(lengths[:shown], pmf[:shown], "o-", color="#d62728", markersize=4,
            label=f"Poisson(λ={spans['poisson_lambda']:g}) truncated to 1..{spans['max_span']}")
    chi = spans["chi_square"]
    ax.set_title(f"mean {spans['observed_mean']:.2f} (expected {spans['expected_mean']:.2f}); "
                 f"χ² = {chi['statistic']:.1f}, {chi['dof']} dof, p = {chi['p_value']:.3g}", fontsize=10)
    ax.set_xlabel("span length (tokens)")
    ax.set_ylabel("share of spans")
    ax.legend(fontsize=8, frameon=False)
    return png_data_uri(fig)


def plot_masked_ratio(numbers) -> str:
    data = numbers["masked_ratio"]
    edges = np.asarray(data["edges"])
    fig = new_figure(10, 3.0)
    axes = fig.subplots(1, len(OBJECTIVES), sharex=True)
    for ax, o in zip(axes, OBJECTIVES):
        entry = data["objectives"][o]
        ax.stairs(entry["per_sample_histogram"], edges, fill=True, color=_OBJECTIVE_COLOUR[o], alpha=0.7)
        if o == "document" and data["document_ratio_option"]:
            lo, hi = data["document_ratio_option"]
            ax.axvspan(lo, hi, color="#999", alpha=0.15, label="document ratio option")
        elif data["mask_ratio_option"] is not None:
            ax.axvline(data["mask_ratio_option"], color="#d62728", linestyle="--", label="mask ratio option")
        whole = entry["whole_run_ratio"]
        ax.set_title(f"{o}: {100 * whole:.1f} % of x masked" if whole is not None else o, fontsize=10)
        ax.set_xlabel("masked tokens / x tokens per sample")
        ax.legend(fontsize=7.5, frameon=False)
    axes[0].set_ylabel("samples (in the shard sample)")
    return png_data_uri(fig)


def plot_mix(numbers) -> str:
    mix = numbers["objective_mix"]
    fig = new_figure(6.2, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(OBJECTIVES))
    for offset, key, colour, label in ((-0.27, "weight", "#bbbbbb", "configured weight"),
                                       (0.0, "row_share", "#4c72b0", "share of samples"),
                                       (0.27, "token_share", "#55a868", "share of tokens")):
        values = [mix[o][key] for o in OBJECTIVES]
        ax.bar(x + offset, values, width=0.26, color=colour, label=label)
        for xi, v in zip(x + offset, values):
            ax.text(xi, v, f"{100 * v:.0f}%", ha="center", va="bottom", fontsize=7.5)
    ax.set_xticks(x, [f"{o}\n{mix[o]['rows']:,} samples" for o in OBJECTIVES])
    ax.set_ylabel("share")
    ax.set_ylim(0, 1.0)
    ax.set_title("Objective mix")
    ax.legend(fontsize=8, frameon=False)
    return png_data_uri(fig)


def plot_fill(numbers) -> str:
    fill = numbers["fill"]
    fig = new_figure(6.2, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    ax.stairs(fill["histogram"], np.asarray(fill["bins"]) * 100, fill=True, color="#4c72b0", alpha=0.75)
    per_objective = ", ".join(f"{o} {100 * f:.1f} %" for o, f in fill.get("per_objective", {}).items() if f)
    ax.axvline(100 * fill["mean_fill"], color="#d62728", linestyle="--",
               label=f"mean fill {100 * fill['mean_fill']:.1f} % ({per_objective})")
    ax.set_xlabel(f"tokens used / seq_len ({fill['seq_len']}) %")
    ax.set_ylabel("samples")
    ax.set_title(f"Sample fill: padding to seq_len wastes {100 * fill['padding_waste']:.1f} % "
                 f"({fill['padding_tokens']:,} tokens)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    return png_data_uri(fig)


def plot_shards(numbers) -> str:
    shards = numbers["shards"]
    fig = new_figure(6.2, 3.0)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(shards))
    ax.bar(x, [s["tokens"] for s in shards], color="#55a868", width=0.8 if len(shards) > 1 else 0.4)
    ax.set_xlim(-0.5 - 0.5 * (len(shards) < 4), len(shards) - 0.5 + 0.5 * (len(shards) < 4))
    if len(shards) <= 16:
        for xi, s in zip(x, shards):
            ax.text(xi, s["tokens"], f"{s['tokens']:,}\n{s['rows']:,} rows", ha="center", va="bottom",
                    fontsize=7.5)
        ax.set_xticks(x, [s["file"].replace("part-", "").replace(".arrow", "") for s in shards],
                      fontsize=7.5, rotation=30 if len(shards) > 4 else 0)
    ax.set_ylabel("tokens")
    ax.set_xlabel("shard")
    ax.margins(y=0.25)
    ax.set_title(f"Tokens per shard ({len(shards)} shard{'s' * (len(shards) != 1)})")
    return png_data_uri(fig)


# --------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,"Noto Sans CJK SC",sans-serif;margin:24px auto;
max-width:1080px;color:#222;padding:0 16px;line-height:1.45}
h1{font-size:24px;margin-bottom:4px} h2{font-size:18px;margin-top:30px;border-bottom:1px solid #ddd}
.sub{color:#666;font-size:13px} .basis{color:#555;font-size:13px;margin:4px 0 8px}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.tile{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:105px}
.tile b{display:block;font-size:20px} .tile span{color:#666;font-size:12px}
img{max-width:100%;display:block;margin:6px 0}
table{border-collapse:collapse;font-size:13px;margin:6px 0} td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
td:first-child,th:first-child,.l{text-align:left} .ok{color:#2a7d2a} .bad{color:#c22;font-weight:bold}
.sample{border:1px solid #ddd;border-radius:6px;padding:10px 14px;margin:12px 0}
.sample h3{font-size:14px;margin:0 0 4px} .src{color:#666;font-size:12px;word-break:break-all}
.text{white-space:pre-wrap;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;
background:#fafafa;padding:8px;border-radius:4px;margin:4px 0}
.m{border-radius:3px;padding:0 3px;font-weight:bold;outline:1px solid rgba(0,0,0,.25)}
.sp{border-radius:3px;padding:0 1px} .hl{outline:2px solid #000}
.spans td{text-align:left;vertical-align:top} .spans td.n{text-align:right;white-space:nowrap}
.special{color:#777;font-size:10px;border:1px solid #bbb;border-radius:3px;padding:0 2px;margin:0 1px}
.bytes{color:#a33;font-size:10px;border:1px dashed #c88;border-radius:3px;padding:0 2px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:0 28px} .grid img{max-width:100%}
"""

# Hovering a mask or a span outlines the other one of the pair.
_JS = """
document.querySelectorAll('[data-s]').forEach(function(e){
  function mark(on){e.closest('.sample').querySelectorAll('[data-s="'+e.dataset.s+'"]')
    .forEach(function(o){o.classList.toggle('hl',on)})}
  e.addEventListener('mouseenter',function(){mark(true)});e.addEventListener('mouseleave',function(){mark(false)})});
"""


def span_colour(number: int) -> str:
    """A light colour per span number; the golden angle keeps neighbours apart."""
    return f"hsl({(number * 137.508) % 360:.0f},75%,80%)"


def tokens_html(ids: Sequence[int], tokenizer: GLMTokenizer) -> str:
    """Escaped text of ``ids``: special tokens as grey badges, and the bytes of a character
    that a span boundary cuts in two (byte-level BPE) as hex, never as U+FFFD."""
    table = tokenizer.token_bytes
    out, run = [], bytearray()
    for i in (int(t) for t in ids):
        if tokenizer.is_special(i):
            out.append(utf8_html(bytes(run)))
            run.clear()
            out.append(f'<span class="special">{html.escape(tokenizer.decode([i]))}</span>')
        else:
            run += table[i]
    out.append(utf8_html(bytes(run)))
    return "".join(out)


def utf8_html(data: bytes) -> str:
    """Escaped UTF-8 text; bytes that are not a whole character show as hex.

    >>> utf8_html("河".encode()[:2] + b" <ok>")
    '<span class="bytes" title="part of a UTF-8 character">e6 b2</span> &lt;ok&gt;'
    """
    pieces: List[Tuple[bool, object]] = []  # (is text, str or bytes)
    while data:
        try:
            pieces.append((True, data.decode("utf-8")))
            break
        except UnicodeDecodeError as exc:
            if exc.start:
                pieces.append((True, data[:exc.start].decode("utf-8")))
            if pieces and not pieces[-1][0]:  # one badge for a run of stray bytes
                pieces[-1] = (False, pieces[-1][1] + data[exc.start:exc.end])
            else:
                pieces.append((False, data[exc.start:exc.end]))
            data = data[exc.end:]
    return "".join(html.escape(v) if is_text else
                   f'<span class="bytes" title="part of a UTF-8 character">{v.hex(" ")}</span>'
                   for is_text, v in pieces)


def _mask_badge(row, span, tokenizer) -> str:
    name = html.escape(tokenizer.decode([row["input_ids"][span.mask_position]]))
    return (f'<span class="m" data-s="{span.number}" style="background:{span_colour(span.number)}">'
            f'{name}{span.number}</span>')


def render_sample_html(row: Dict[str, object], tokenizer: GLMTokenizer, title: str) -> str:
    """One sample: Part A with numbered masks, then each span beside its mask, same colours."""
    ids, sep = row["input_ids"], row["sep"]
    spans = spans_of_row(row)
    part_a, start = [], 0
    for s in spans:  # in Part A order
        part_a += [tokens_html(ids[start:s.mask_position], tokenizer), _mask_badge(row, s, tokenizer)]
        start = s.mask_position + 1
    part_a.append(tokens_html(ids[start:sep], tokenizer))
    rows = [f'<tr><td class="n">{_mask_badge(row, s, tokenizer)}</td>'
            f'<td class="n">b{s.block_order} · @{s.mask_position} · {len(s.text_ids)} tok</td>'
            f'<td><span class="sp" data-s="{s.number}" style="background:{span_colour(s.number)}">'
            f'{tokens_html(s.text_ids, tokenizer)}</span></td></tr>' for s in spans]
    esc = html.escape
    sources = ", ".join(f"{esc(k)} (piece {p + 1}/{n}, {l} tokens)" for k, p, n, l in zip(
        row["source_ids"], row["source_piece"].tolist(), row["source_num_pieces"].tolist(),
        row["source_lengths"].tolist()))
    return (f'<div class="sample"><h3>{esc(title)}objective={esc(row["objective"])} · length={len(ids)} · '
            f'sep={sep} · spans={len(spans)}</h3><div class="src">sources: {sources}</div>'
            f'<div class="basis">Part A (masks numbered in Part A order)</div>'
            f'<div class="text">{"".join(part_a)}</div>'
            f'<div class="basis">Part B spans, beside their masks (b = order in Part B, @ = mask position '
            f'in Part A)</div><table class="spans">{"".join(rows)}</table></div>')


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<style>{_CSS}</style></head><body>{body}<script>{_JS}</script></body></html>\n')


def write_samples_html(path: str, reader: ShardReader, rows: Sequence[int], tokenizer: GLMTokenizer) -> str:
    """Write ``rows`` of ``reader`` as one self-contained HTML page at ``path``."""
    name = os.path.basename(reader.path)
    body = [f"<h1>{html.escape(name)}: {len(rows)} sample(s)</h1>",
            '<p class="sub">Hover a mask or a span to see its pair. Special tokens show by name '
            '(ENC opens a document, eos closes it).</p>']
    body.extend(render_sample_html(reader.row(r), tokenizer, f"row {r}: ") for r in rows)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(_page(f"glmprep samples: {name}", "\n".join(body)))
    return path


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def is_number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def cell(v, tag="td"):  # numbers align right, text reads from the left
        return f"<{tag}>{v:,}</{tag}>" if is_number(v) else f"<{tag} class='l'>{html.escape(str(v))}</{tag}>"
    rows = list(rows)
    numeric = [is_number(v) for v in rows[0]] if rows else [False] * len(header)
    head = "".join(f"<th>{html.escape(h)}</th>" if n else cell(h, "th") for h, n in zip(header, numeric))
    body = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _section(title: str, image: Optional[str], basis: str, extra: str = "") -> str:
    img = f'<img alt="{html.escape(title)}" src="{image}">' if image else "<p><i>nothing to plot</i></p>"
    return f"<section><h2>{html.escape(title)}</h2><p class='basis'>{basis}</p>{img}{extra}</section>"


def _side_by_side(*sections: str) -> str:
    return "<div class='grid'>" + "".join(sections) + "</div>"


MANIFEST_BASIS = "From manifest.json: exact counts over the whole run."


def _header(numbers: Dict[str, object]) -> str:
    t, fill = numbers["totals"], numbers["fill"]
    tiles = [("documents in", f"{t['documents_in']:,}"), ("kept", f"{t['documents_kept']:,}"),
             ("rejected", f"{t['documents_rejected']:,}"), ("samples", f"{t['rows']:,}"),
             ("tokens", f"{t['tokens']:,}"), ("shards", f"{t['shards']:,}"),
             ("padding waste", f"{100 * fill['padding_waste']:.1f} %")]
    failed = [name for name, ok in numbers["checks"].items() if not ok]
    checks = (f"<span class='ok'>all {len(numbers['checks'])} consistency checks pass</span> (funnel rebuilt "
              f"from rejects = pipeline counts; in = kept + rejected; rejects/ = manifest)" if not failed else
              "<span class='bad'>failed checks: " + html.escape(", ".join(failed)) + "</span>")
    return (f"<h1>glmprep run report</h1><p class='sub'>{html.escape(numbers['run']['output'])} · glmprep "
            f"{html.escape(str(numbers['run']['glmprep_version']))} · report written "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}</p><div class='tiles'>"
            + "".join(f"<div class='tile'><b>{v}</b><span>{k}</span></div>" for k, v in tiles)
            + f"</div><p>{checks}</p>")


def _rejects_sections(numbers: Dict[str, object]) -> str:
    reasons = numbers["rejects"]
    funnel = _section(
        "Funnel", plot_funnel(numbers),
        f"{MANIFEST_BASIS} The filter stage is split by rule, in the order the rules are checked "
        f"(a document counts under the first rule it fails).")
    table = _table(["stage/reason", "documents", "example keys"],
                   [(r, n, ", ".join(reasons["example_keys"].get(r, []))) for r, n in
                    sorted(reasons["by_reason"].items(), key=lambda kv: -kv[1])])
    rejects = _section("Reject reasons", plot_reject_reasons(numbers),
                       f"From the {reasons['records']:,} records in rejects/.", table)
    return _side_by_side(funnel, rejects)


def _lengths_section(numbers: Dict[str, object]) -> str:
    lengths, s = numbers["document_lengths"], numbers["sample"]
    kept = sum(lengths["languages"][lang]["kept_documents"] for lang in LANGUAGES)
    unmeasured = "; ".join(f"{n:,} {why}" for why, n in lengths["rejected_unmeasured"].items()) or "none"
    return _section(
        "Document lengths", plot_lengths(numbers),
        f"<b>Kept</b>: the {kept:,} documents seen whole in {s['rows_read']:,} of {s['rows_total']:,} shard "
        f"rows (length = source_lengths of its pieces minus ENC and eos; "
        f"{lengths['kept_documents_incomplete']:,} documents cut by the sampling windows left out). "
        f"<b>Language</b>: ZH when ≥ {100 * ZH_CJK_SHARE:.0f} % of the non-space characters are CJK. "
        f"<b>Rejected</b>: a duplicate has the length of the kept copy its detail names (exactly for exact "
        f"duplicates, about for near-duplicates); any other reject is measured on its preview, the whole text "
        f"below {REJECT_PREVIEW_CHARS} characters and a lower bound at the cut. Not measurable: "
        f"{html.escape(unmeasured)}.")


def _samples_sections(numbers: Dict[str, object]) -> str:
    clusters = numbers["duplicate_clusters"]
    span_section = _section(
        "Blank span lengths", plot_spans(numbers),
        f"{MANIFEST_BASIS} Every blank-objective span against the truncated Poisson pmf, λ and max_span "
        f"from the run's options; χ² pools the tail so that every cell expects ≥ 5 spans.")
    cluster_section = _section(
        "Duplicate clusters", plot_clusters(numbers),
        f"From rejects/: a duplicate's kept_key names its cluster; size = the kept document + its "
        f"removed copies. Near-duplicate clusters: {clusters['near']['clusters']:,} "
        f"(manifest: {clusters['near']['manifest_clusters']}).",
        _table(["kind", "largest clusters: kept document", "size"],
               [(k, c["kept"], c["size"]) for k in ("near", "exact") for c in clusters[k]["largest"][:2]]))
    ratio = numbers["masked_ratio"]
    ratio_section = _section(
        "Masked ratio per objective", plot_masked_ratio(numbers),
        f"Titles: whole run, from manifest.json (masked tokens / x tokens; x = the sample's text with "
        f"ENC/eos). Histograms: one value per sample, over the {numbers['sample']['rows_read']:,} sampled rows.",
        _table(["objective", "whole run", "min per sample", "max per sample", "sampled rows"],
               [(o, e["whole_run_ratio"], e["per_sample_min"], e["per_sample_max"], e["sampled_rows"])
                for o, e in ratio["objectives"].items()]))
    mix = _section("Objective mix", plot_mix(numbers),
                   f"{MANIFEST_BASIS} Weights: the configured objective weights, normalised.")
    fill = _section("Sample fill", plot_fill(numbers),
                    f"{MANIFEST_BASIS} Fill = sample length / seq_len, 5 % bins. Padding waste assumes every "
                    f"sample is padded to seq_len (a loader padding to the longest of a batch wastes less).")
    shards = _section("Tokens per shard", plot_shards(numbers), MANIFEST_BASIS)
    return (_side_by_side(span_section, cluster_section) + ratio_section
            + _side_by_side(mix, fill) + _side_by_side(shards, ""))


def render_report_html(numbers: Dict[str, object], sample: ShardSample, tokenizer: GLMTokenizer) -> str:
    body = [_header(numbers), _rejects_sections(numbers), _lengths_section(numbers), _samples_sections(numbers)]
    if sample.examples:
        body.append("<h2>A few samples</h2><p class='basis'>One sample per objective from the shard sample; "
                    "<code>glmprep inspect SHARD --html FILE</code> renders more. Hover a mask or a span to "
                    "outline its pair.</p>")
        for path, r in sample.examples:
            body.append(render_sample_html(ShardReader(path).row(r), tokenizer,
                                           f"{os.path.basename(path)} row {r}: "))
    return _page("glmprep run report", "\n".join(body))


def write_report(output_dir: str, sample_rows: int = DEFAULT_SAMPLE_ROWS,
                 ranks_path: Optional[str] = None) -> Tuple[str, str]:
    """Write ``report.html`` and ``report.json`` into ``output_dir``; returns their paths."""
    numbers, sample, tokenizer = build_numbers(output_dir, sample_rows, ranks_path)
    html_path, json_path = FileSystems.join(output_dir, HTML_NAME), FileSystems.join(output_dir, JSON_NAME)
    page = render_report_html(numbers, sample, tokenizer)
    with FileSystems.create(json_path) as fh:
        fh.write((json.dumps(numbers, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    with FileSystems.create(html_path) as fh:
        fh.write(page.encode("utf-8"))
    return html_path, json_path


# --------------------------------------------------------------------------- command
def _run(args) -> int:
    if args.sample_rows < 1:
        print("glmprep report: --sample-rows must be ≥ 1", file=sys.stderr)
        return 2
    try:
        html_path, json_path = write_report(args.dir, args.sample_rows, args.tokenizer)
    except ReportError as exc:
        print(f"glmprep report: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {html_path}\nwrote {json_path}")
    return 0


def add_commands(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="write report.html and report.json for a finished run",
        description="Plots of a finished run: funnel and reject reasons, document lengths (EN/ZH, kept vs "
                    "rejected), duplicate clusters, blank span lengths against the truncated Poisson, masked "
                    "ratio per objective, objective mix, sample fill and tokens per shard. Writes one "
                    "self-contained report.html and report.json (every number plotted) into DIR.")
    p.add_argument("dir", metavar="DIR", help="the --output directory of a glmprep run")
    p.add_argument("--sample-rows", type=int, default=DEFAULT_SAMPLE_ROWS, metavar="N",
                   help=f"shard rows read for per-document and per-sample plots (default: {DEFAULT_SAMPLE_ROWS})")
    p.add_argument("--tokenizer", default=None, metavar="RANKS_FILE",
                   help="the ranks file the shards were made with (default: cl100k_base offline)")
    p.set_defaults(func=_run)
