"""``glmprep report DIR``: look at a finished run before training on it.

Writes two files into the run's directory:

- ``report.html``: one self-contained page (plots are PNGs in ``data:`` URIs, styles
  inline, no external assets), readable offline or attached to a ticket;
- ``report.json``: every number that is plotted, for diffing two runs or for tests.

The package, one idea a module, in the order data flows:

    files     how the run's files are reached (an opener the wiring layer may replace)
    facts     a sample of the shards and the reject records
    stats     small statistics (language, histogram edges, chi-square)
    numbers   report.json: the manifest's exact counts and the facts, with consistency checks
    plots     the nine plots, from the numbers
    page      report.html
    cli       ``write_report`` and the ``report`` command

What each section is based on (the page says it too): **manifest.json** (exact, whole
run) for the funnel and reject reasons, span lengths, objective mix, per-objective masked
ratio, sample fill, tokens per shard; **a sample of the shards** (``--sample-rows``) for
kept documents' lengths and language and per-sample masked ratios; **rejects/*.jsonl**
for near-duplicate cluster sizes and rejected documents' lengths.
"""
from glmprep.core.report.cli import HTML_NAME, JSON_NAME, add_commands, write_report  # noqa: F401
from glmprep.core.report.facts import ReportError  # noqa: F401
from glmprep.core.report.numbers import build_numbers  # noqa: F401
