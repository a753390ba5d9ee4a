"""``glmprep stats DIR``: the run's funnel, rejects and samples from its manifest."""
from __future__ import annotations

import json
import sys

from glmprep.pipeline.manifest import read_manifest, stats_table
from glmprep.schemas.manifest import ManifestError


def _run(args) -> int:
    try:
        manifest = read_manifest(args.directory)
    except OSError as exc:
        print(f"glmprep stats: no readable manifest.json in {args.directory} ({exc})", file=sys.stderr)
        return 2
    except ManifestError as exc:
        print(f"glmprep stats: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(manifest["totals"], indent=2) if args.json else stats_table(manifest))
    return 0


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("stats", help="show a run's funnel and reject reasons",
                              description="Print the funnel (read -> cleaned -> filtered -> deduped -> "
                                          "tokenized -> kept), the rejects by stage/reason and the samples "
                                          "and tokens per objective, from DIR/manifest.json.")
    p.add_argument("directory", metavar="DIR", help="a glmprep run's output directory")
    p.add_argument("--json", action="store_true", help="print the totals as JSON")
    p.set_defaults(func=_run)
