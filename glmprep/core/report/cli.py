"""``glmprep report DIR``: write ``report.html`` and ``report.json`` into a finished run."""
from __future__ import annotations

import json
import sys
from typing import Optional, Tuple

from glmprep.core.report.facts import ReportError
from glmprep.core.report.files import LocalFiles
from glmprep.core.report.numbers import DEFAULT_SAMPLE_ROWS, build_numbers
from glmprep.core.report.page import render_report_html

HTML_NAME = "report.html"
JSON_NAME = "report.json"


def write_report(output_dir: str, sample_rows: int = DEFAULT_SAMPLE_ROWS, ranks_path: Optional[str] = None,
                 files=LocalFiles) -> Tuple[str, str]:
    """Write ``report.html`` and ``report.json`` into ``output_dir`` (reached through ``files``,
    see ``glmprep.core.report.files``); returns their paths. ReportError (one line) when the
    run's files are missing or malformed."""
    numbers, sample, tokenizer = build_numbers(output_dir, sample_rows, ranks_path, files)
    html_path, json_path = files.join(output_dir, HTML_NAME), files.join(output_dir, JSON_NAME)
    page = render_report_html(numbers, sample, tokenizer, files)
    with files.create(json_path) as fh:
        fh.write((json.dumps(numbers, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    with files.create(html_path) as fh:
        fh.write(page.encode("utf-8"))
    return html_path, json_path


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
