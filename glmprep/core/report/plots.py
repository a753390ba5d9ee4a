"""The report's nine plots, each a function of ``report.json``'s numbers returning a PNG
``data:`` URI (or None when there is nothing to plot). matplotlib's Figure is used without
pyplot: no global backend state, safe inside other programs."""
from __future__ import annotations

import base64
import io
from typing import Optional

import numpy as np

from glmprep.core.report.stats import LANGUAGES
from glmprep.schemas.shard import OBJECTIVES

DPI = 100
_STAGE_COLOUR = {"read": "#8c564b", "clean": "#7f7f7f", "language": "#17becf", "decontaminate": "#393b79",
                 "mixing": "#637939", "filter": "#d62728", "exact_dedup": "#ff7f0e",
                 "near_dedup": "#bcbd22", "tokenize": "#9467bd", "shards": "#e377c2"}
_OBJECTIVE_COLOUR = {"blank": "#1f77b4", "sentence": "#2ca02c", "document": "#9467bd"}


def png_data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def new_figure(width: float = 9.0, height: float = 3.4):
    # Figure without pyplot: no global backend state, safe inside other programs.
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height))


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

