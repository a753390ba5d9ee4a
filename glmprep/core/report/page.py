"""The report page (``report.html``): the header, the sections with their plots and what
each is based on, and a few example samples. One self-contained page: plots are PNG
``data:`` URIs, styles inline. Every value taken from the run (manifest, shards, rejects)
is escaped."""
from __future__ import annotations

import html
import os
import time
from typing import Dict, Iterable, Optional, Sequence

from glmprep.core.report.facts import ShardSample
from glmprep.core.report.files import LocalFiles
from glmprep.core.report.plots import (plot_clusters, plot_fill, plot_funnel, plot_lengths, plot_masked_ratio,
                                       plot_mix, plot_reject_reasons, plot_shards, plot_spans)
from glmprep.core.report.stats import LANGUAGES, ZH_CJK_SHARE
from glmprep.core.sample_html import page, render_sample_html
from glmprep.core.tokenizer import GLMTokenizer
from glmprep.schemas.rejects import REJECT_PREVIEW_CHARS

REPORT_CSS = """
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.tile{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:105px}
.tile b{display:block;font-size:20px} .tile span{color:#666;font-size:12px}
img{max-width:100%;display:block;margin:6px 0}
table{border-collapse:collapse;font-size:13px;margin:6px 0} td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
td:first-child,th:first-child,.l{text-align:left} .ok{color:#2a7d2a} .bad{color:#c22;font-weight:bold}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:0 28px} .grid img{max-width:100%}
"""


def esc(value: object) -> str:
    """Any value as escaped HTML text."""
    return html.escape(str(value))


def number(value: object) -> str:
    """An integer with thousands separators, anything else as escaped text."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else esc(value)


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
    tiles = [("documents in", number(t["documents_in"])), ("kept", number(t["documents_kept"])),
             ("rejected", number(t["documents_rejected"])), ("samples", number(t["rows"])),
             ("tokens", number(t["tokens"])), ("shards", number(t["shards"])),
             ("padding waste", f"{100 * fill['padding_waste']:.1f} %")]
    failed = [name for name, ok in numbers["checks"].items() if not ok]
    checks = (f"<span class='ok'>all {len(numbers['checks'])} consistency checks pass</span> (funnel rebuilt "
              f"from rejects = pipeline counts; in = kept + rejected; rejects/ = manifest)" if not failed else
              "<span class='bad'>failed checks: " + esc(", ".join(failed)) + "</span>")
    return (f"<h1>glmprep run report</h1><p class='sub'>{esc(numbers['run']['output'])} · glmprep "
            f"{esc(numbers['run']['glmprep_version'])} · report written "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}</p><div class='tiles'>"
            + "".join(f"<div class='tile'><b>{v}</b><span>{esc(k)}</span></div>" for k, v in tiles)
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
                       f"From the {number(reasons['records'])} records in rejects/.", table)
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
        f"<b>Rejected</b>: a duplicate has the length of the kept copy its kept_key names (exactly for exact "
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
        f"removed copies. Near-duplicate clusters: {number(clusters['near']['clusters'])} "
        f"(manifest: {number(clusters['near']['manifest_clusters'])}).",
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
            + _side_by_side(mix, fill) + _side_by_side(shards, "") + _epochs_section(numbers))


def _epochs_section(numbers: Dict[str, object]) -> str:
    """With --epochs K > 1: each epoch's span statistics (the same documents, masked afresh)."""
    epochs = numbers.get("epochs") or []
    if len(epochs) < 2:
        return ""
    return _section(
        "Span statistics per epoch", None,
        f"{MANIFEST_BASIS} One shard set per epoch (--epochs {len(epochs)}): the same documents, with "
        f"objectives, cuts, spans and Part B order drawn afresh. χ²: blank span lengths against the "
        f"truncated Poisson, as above.",
        _table(["epoch", "objective", "samples", "spans", "masked share", "fill", "blank spans",
                "mean blank span", "blank χ² p"],
               [(e["epoch"], o, c["rows"], c["spans"], c["masked_ratio"], c["fill"],
                 e["blank_spans"] if o == "blank" else "", e["blank_mean"] if o == "blank" else "",
                 (e["blank_chi_square"] or {}).get("p_value", "") if o == "blank" else "")
                for e in epochs for o, c in e["objectives"].items()]))


def _stage_sections(numbers: Dict[str, object]) -> str:
    """Languages, PII, decontamination and sources, as tables from the manifest."""
    stages, sections = numbers.get("stages") or {}, []
    if stages.get("languages"):
        sections.append(_section("Languages", None, f"{MANIFEST_BASIS} Identified by the language stage; kept "
                                 "and kept tokens from the shards' source_languages.", _table(
            ["language", "identified", "rejected", "kept", "kept tokens"],
            [(lang, n["identified"], n["rejected"], n["kept"], n["kept_tokens"])
             for lang, n in sorted(stages["languages"].items(), key=lambda kv: -kv[1]["kept_tokens"])])))
    if stages.get("pii"):
        sections.append(_section("PII replaced", None, MANIFEST_BASIS, _table(
            ["kind", "documents", "replacements"],
            [(kind, n["documents"], n["replacements"]) for kind, n in stages["pii"].items()])))
    if stages.get("decontamination"):
        d = stages["decontamination"]
        rejected = numbers["totals"]["rejected_by_reason"].get("decontaminate/contaminated", 0)
        sections.append(_section("Decontamination", None, MANIFEST_BASIS, _table(
            ["benchmark files", "items", f"distinct {d['ngram_words']}-grams", "documents rejected"],
            [(len(d["files"]), d["items"], d["ngrams"], rejected)])))
    if stages.get("mixing"):
        sections.append(_section("Sources before and after mixing", None, MANIFEST_BASIS, _table(
            ["source", "documents before", "tokens before", "target tokens", "rate", "documents after",
             "tokens after"],
            [(name, s["documents_before"], s["tokens_before"], s["target_tokens"], s["rate"],
              s["documents_after"], s["tokens_after"]) for name, s in stages["mixing"].items()])))
    return "".join(_side_by_side(*sections[i:i + 2]) for i in range(0, len(sections), 2))


def render_report_html(numbers: Dict[str, object], sample: ShardSample, tokenizer: GLMTokenizer,
                       files=LocalFiles) -> str:
    """The whole page; every value taken from the run is escaped."""
    body = [_header(numbers), _rejects_sections(numbers), _stage_sections(numbers), _lengths_section(numbers),
            _samples_sections(numbers)]
    if sample.examples:
        body.append("<h2>A few samples</h2><p class='basis'>One sample per objective from the shard sample; "
                    "<code>glmprep inspect SHARD --html FILE</code> renders more. Hover a mask or a span to "
                    "outline its pair.</p>")
        for path, r in sample.examples:
            body.append(render_sample_html(files.shard(path).row(r), tokenizer,
                                           f"{os.path.basename(path)} row {r}: "))
    return page("glmprep run report", "\n".join(body), REPORT_CSS)
