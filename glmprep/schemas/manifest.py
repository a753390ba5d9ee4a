"""The manifest contract: the file's name and version and the keys every reader relies on.

``<output>/manifest.json`` is written last by a run (``glmprep.pipeline.manifest``) and
read by ``validate``, ``stats``, ``report`` and the trainer. Its top-level keys are
``MANIFEST_KEYS`` (plus ``RUN_KEY``, added by a local run at its end); ``shards`` is a
list of objects with ``SHARD_ENTRY_KEYS``; ``totals`` has ``TOTALS_KEYS``; ``funnel``
maps each stage of ``glmprep.schemas.stages.FUNNEL_STAGES`` that ran to the documents
left after it.

To add a key: add it to the tuple it belongs to below (a test checks that a run's
manifest has exactly these keys) and bump ``MANIFEST_VERSION`` if a reader of older
manifests would misread the new one.
"""
from __future__ import annotations

MANIFEST_NAME = "manifest.json"
# 2: funnel keys are stage names (glmprep.schemas.stages), reject records carry kept_key.
MANIFEST_VERSION = 2
MANIFEST_KEYS = ("manifest_version", "shards", "totals", "funnel", "samples", "options", "versions")
RUN_KEY = "run"                    # timings and runner label: the one field that differs between runs
SHARD_ENTRY_KEYS = ("file", "rows", "tokens", "sha256", "documents", "document_tokens")
TOTALS_KEYS = ("documents_in", "documents_kept", "documents_rejected", "accounting_balanced",
               "rejected_by_reason", "exact_duplicates_removed", "near_duplicates_removed",
               "near_duplicate_clusters", "shards", "rows", "tokens", "document_tokens")
SAMPLES_KEYS = ("objectives", "blank_span_lengths", "fill_histogram")
OBJECTIVE_STAT_KEYS = ("rows", "tokens", "masked_tokens", "x_tokens", "spans")
FILL_KEY = "fill"                  # per objective, beside the sums: tokens / (rows · seq_len)
