"""Tests for glmprep.pipeline.manifest against the contract in glmprep.schemas.manifest:
the keys a manifest has, the funnel, the atomic write and what an earlier run left."""
import json

import pytest

from glmprep.pipeline import manifest as manifest_lib
from glmprep.schemas.manifest import (MANIFEST_KEYS, MANIFEST_NAME, MANIFEST_VERSION, OBJECTIVE_STAT_KEYS,
                                      RUN_KEY, SAMPLES_KEYS, SHARD_ENTRY_KEYS, TOTALS_KEYS)
from glmprep.schemas.shard import OBJECTIVES
from glmprep.schemas.stages import FUNNEL_STAGES


def shard_summary(name: str, documents: int) -> dict:
    """A shard summary as WriteShards produces one (the fields build_manifest reads)."""
    return {"file": name, "rows": 2, "tokens": 30, "sha256": "0" * 64, "documents": documents,
            "document_tokens": 25,
            "objectives": {o: dict.fromkeys(OBJECTIVE_STAT_KEYS, 1) for o in OBJECTIVES},
            "blank_span_lengths": [0, 2, 1], "fill_histogram": [1, 1]}


REASONS = {"read/malformed_json": 1, "filter/too_short": 2, "exact_dedup/exact_duplicate": 1}


def build(documents_read: int) -> dict:
    shards = [shard_summary("part-00000-of-00002.arrow", 3), shard_summary("part-00001-of-00002.arrow", 2)]
    counts = {"read": documents_read}  # documents the readers produced; read rejects come on top
    return manifest_lib.build_manifest({"near_dedup": None}, shards, counts, REASONS)


@pytest.fixture
def manifest():
    return build(8)


def test_manifest_has_exactly_the_contract_keys(manifest):
    assert tuple(manifest) == MANIFEST_KEYS
    assert tuple(manifest["totals"]) == TOTALS_KEYS
    assert tuple(manifest["samples"]) == SAMPLES_KEYS
    assert all(tuple(entry) == SHARD_ENTRY_KEYS for entry in manifest["shards"])
    assert manifest["manifest_version"] == MANIFEST_VERSION


def test_totals_balance_and_sum_the_shards(manifest):
    totals = manifest["totals"]
    assert totals["documents_in"] == 9
    assert totals["documents_kept"] == 5
    assert totals["documents_rejected"] == 4
    assert totals["accounting_balanced"] is True
    assert totals["rows"] == 4
    assert manifest["samples"]["blank_span_lengths"] == [0, 4, 2]
    assert manifest["samples"]["objectives"]["blank"]["spans"] == 2


def test_funnel_counts_documents_left_after_each_stage():
    funnel = manifest_lib.funnel_from(5, REASONS, manifest_lib.stages_run({"near_dedup": {"threshold": 0.8}}))
    assert funnel == {"read": 8, "clean": 8, "filter": 6, "exact_dedup": 5, "near_dedup": 5, "tokenize": 5}
    assert set(funnel) <= set(FUNNEL_STAGES)
    assert "near_dedup" not in manifest_lib.funnel_from(5, REASONS, manifest_lib.stages_run({"near_dedup": None}))


def test_one_document_unaccounted_for_unbalances_the_totals():
    assert build(9)["totals"]["accounting_balanced"] is False     # 10 in, 5 kept + 4 rejected


def test_stats_table_labels_every_funnel_stage(manifest):
    table = manifest_lib.stats_table(manifest)
    for label in ("cleaned", "filtered", "exact deduped", "tokenized", "kept in shards"):
        assert label in table
    assert "in = kept + rejected: yes" in table
    assert "in = kept + rejected: NO" in manifest_lib.stats_table(build(9))


def test_write_and_finish_run_round_trip(tmp_path, manifest):
    out = str(tmp_path)
    manifest_lib.write_json_atomically(str(tmp_path / MANIFEST_NAME), manifest)
    finished = manifest_lib.finish_run(out, started=0.0, runner="DirectRunner in_memory")
    assert manifest_lib.read_manifest(out) == finished
    assert finished[RUN_KEY]["runner"] == "DirectRunner in_memory"
    assert {k: v for k, v in finished.items() if k != RUN_KEY} == json.loads(json.dumps(manifest))
    assert not list(tmp_path.glob("*.inprogress"))
