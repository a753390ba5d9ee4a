"""``glmprep validate`` catches each broken rule: one corruption per rule."""
from __future__ import annotations

import copy
import dataclasses
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glmprep.pipeline.cli import main
from glmprep.core.samples import SampleOptions, assemble
from glmprep.schemas.reader import ShardReader
from glmprep.schemas.shard import samples_to_table, write_shard
from glmprep.core.tokenizer import file_sha256
from glmprep.schemas.manifest import TOTALS_KEYS
from glmprep.core.validate import validate_paths, validate_reader

from support import TOY_BASE_VOCAB, TOY_SPECIALS as SP, toy_metadata, toy_samples

OPTIONS = SampleOptions(seq_len=64, seed=4)
META = toy_metadata(OPTIONS)


@pytest.fixture(scope="module")
def good_samples():
    samples = toy_samples(OPTIONS, documents=60, longest=120)
    assert {s["objective"] for s in samples} == {"blank", "sentence", "document"}
    return samples


def check(samples, meta=META):
    return validate_reader(ShardReader.from_table(samples_to_table(samples, meta)))


def first_row(samples, objective=None, multi_span=False):
    for i, s in enumerate(samples):
        spans = int((s["input_ids"][s["sep"]:] == SP.sop).sum())
        if (objective is None or s["objective"] == objective) and (spans > 1 or not multi_span):
            return i
    raise AssertionError("no such sample")


def part_b_token(s):
    """Index of a span token (not sop) in Part B."""
    sep = s["sep"]
    return sep + 1 + int(np.flatnonzero(s["input_ids"][sep + 1:] != SP.sop)[0])


def set_at(key, index_fn, value_fn):
    def corrupt(s):
        arr = np.array(s[key], dtype=np.int64)
        i = index_fn(s)
        arr[i] = value_fn(s, arr[i])
        s[key] = arr
    return corrupt


def with_sample(**changes):
    def corrupt(s):
        s.update({k: (v(s) if callable(v) else v) for k, v in changes.items()})
    return corrupt


def rebuilt_blank(adjacent: bool, tiny: bool):
    """A hand-made one-document blank sample with chosen spans (for span-rule violations)."""
    text = np.arange(1, 41, dtype=np.uint32)
    x = np.concatenate([[SP.enc], text, [SP.eos]]).astype(np.uint32)
    if adjacent:
        starts, lengths = np.array([3, 5, 10, 20]), np.array([2, 3, 1, 2])  # 3-4 and 5-7 touch
    elif tiny:
        starts, lengths = np.array([5]), np.array([1])                     # 1 of 42 masked
    s = assemble(x, starts, lengths, SP.mask, np.arange(len(starts)), SP)
    s.update(objective="blank", source_ids=["hand"], source_piece=np.array([0]),
             source_num_pieces=np.array([1]), source_lengths=np.array([len(x)]))
    return s


def document_not_suffix(_):
    text = np.arange(1, 21, dtype=np.uint32)
    x = np.concatenate([[SP.enc], text, [SP.eos]]).astype(np.uint32)
    s = assemble(x, np.array([3]), np.array([15]), SP.gmask, np.array([0]), SP)
    s.update(objective="document", source_ids=["hand"], source_piece=np.array([0]),
             source_num_pieces=np.array([1]), source_lengths=np.array([len(x)]))
    return s


CORRUPTIONS = {
    "row_lengths": (None, lambda s: s.update(target_ids=np.append(s["target_ids"], 1))),
    "seq_len": (None, lambda s: s.update({k: np.concatenate([s[k], s[k][-1:].repeat(70)])
                                          for k in ("input_ids", "target_ids", "loss_mask",
                                                    "position_ids", "block_position_ids")})),
    "sep": (None, with_sample(sep=0)),
    "vocab": (None, set_at("input_ids", lambda s: 0, lambda s, v: TOY_BASE_VOCAB + 50)),
    "objective": (None, with_sample(objective="banana")),
    "loss_mask": (None, set_at("loss_mask", lambda s: s["sep"] + 1, lambda s, v: 0)),
    "part_a_positions": (None, set_at("position_ids", lambda s: 1, lambda s, v: v + 3)),
    "part_a_tokens": (None, set_at("input_ids", lambda s: 1, lambda s, v: SP.sop)),
    "part_b_blocks": (None, set_at("block_position_ids", part_b_token, lambda s, v: v + 1)),
    "part_b_positions": (None, set_at("position_ids", part_b_token, lambda s, v: v + 1)),
    "part_b_tokens": (None, lambda s: [set_at(k, part_b_token, lambda s, v: SP.pad)(s)
                                       for k in ("input_ids",)] and
                      set_at("target_ids", lambda s: part_b_token(s) - 1, lambda s, v: SP.pad)(s)),
    "targets": (None, set_at("target_ids", lambda s: s["sep"] + 1, lambda s, v: (v + 1) % TOY_BASE_VOCAB)),
    "masks_match_blocks": ("blank", set_at("input_ids",
                                           lambda s: int(np.flatnonzero(s["input_ids"][:s["sep"]] == SP.mask)[0]),
                                           lambda s, v: 7)),
    "sources": (None, with_sample(source_piece=lambda s: s["source_num_pieces"] + 1)),
    "reconstruction": (None, with_sample(source_lengths=lambda s: np.asarray(s["source_lengths"]) + 1)),
    "blank_spans": (None, lambda s: s.update(rebuilt_blank(adjacent=True, tiny=False))),
    "mask_ratio": (None, lambda s: s.update(rebuilt_blank(adjacent=False, tiny=True))),
    "document_spans": (None, lambda s: s.update(document_not_suffix(s))),
}


def test_good_samples_pass(good_samples):
    report = check(good_samples)
    assert report.ok, [str(v) for v in report.violations]
    assert report.rows == len(good_samples)


@pytest.mark.parametrize("rule", sorted(CORRUPTIONS))
def test_each_rule_catches_its_corruption(good_samples, rule):
    objective, corrupt = CORRUPTIONS[rule]
    samples = copy.deepcopy(good_samples)
    row = first_row(samples, objective)
    corrupt(samples[row])
    report = check(samples)
    rules = {v.rule for v in report.violations}
    assert rule in rules, [str(v) for v in report.violations]
    hit = next(v for v in report.violations if v.rule == rule)
    assert row in hit.rows


def test_spans_crossing_into_enc_are_caught():
    x = np.concatenate([[SP.enc], np.arange(1, 11), [SP.eos]]).astype(np.uint32)
    s = assemble(x, np.array([0]), np.array([3]), SP.mask, np.array([0]), SP)
    s.update(objective="blank", source_ids=["d"], source_piece=np.array([0]),
             source_num_pieces=np.array([1]), source_lengths=np.array([len(x)]))
    rules = {v.rule for v in check([s]).violations}
    assert {"spans_in_documents", "part_b_tokens"} <= rules


def write_run(directory, samples, meta=META):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "part-00000-of-00001.arrow")
    counts = write_shard(path, samples, meta)
    kept = len({key for sample in samples for key in sample["source_ids"]})
    manifest = {"shards": [{"file": os.path.basename(path), "sha256": file_sha256(path), **counts}],
                "totals": {**{key: 0 for key in TOTALS_KEYS}, "documents_in": kept, "documents_kept": kept,
                           "accounting_balanced": True, "rejected_by_reason": {}, "warnings": {}}}
    with open(os.path.join(directory, "manifest.json"), "w") as fh:
        json.dump(manifest, fh)
    return path


def test_cli_exit_codes_and_summary(tmp_path, good_samples, capsys):
    good = tmp_path / "good"
    write_run(str(good), good_samples)
    assert main(["validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK:")
    assert f"{len(good_samples)} rows" in out

    bad = tmp_path / "bad"
    samples = copy.deepcopy(good_samples)
    CORRUPTIONS["targets"][1](samples[3])
    write_run(str(bad), samples)
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "FAIL part-00000-of-00001.arrow: targets: 1 row(s) [3]" in out

    assert main(["validate", str(tmp_path / "nothing-here")]) == 2


def test_manifest_checks(tmp_path, good_samples):
    path = write_run(str(tmp_path), good_samples)
    with open(path, "ab") as fh:
        fh.write(b"x")  # shard bytes no longer match the manifest's sha256
    assert "manifest" in {v.rule for v in validate_paths([str(tmp_path)]).violations}
    os.remove(tmp_path / "manifest.json")
    report = validate_paths([str(tmp_path)])
    assert any(v.rule == "manifest" and "did not finish" in v.detail for v in report.violations)


def test_not_a_shard_and_mixed_metadata(tmp_path, good_samples):
    junk = tmp_path / "junk.arrow"
    junk.write_bytes(b"not arrow at all")
    assert {v.rule for v in validate_paths([str(junk)]).violations} == {"schema"}
    a, b = tmp_path / "a.arrow", tmp_path / "b.arrow"
    write_shard(str(a), good_samples[:5], META)
    write_shard(str(b), good_samples[:5], dataclasses.replace(META, seed=99))
    assert "metadata" in {v.rule for v in validate_paths([str(a), str(b)]).violations}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.sampled_from(["input_ids", "target_ids", "loss_mask", "position_ids",
                                                 "block_position_ids", "sep", "source_lengths", "source_piece",
                                                 "source_num_pieces"]),
                                st.integers(0, 10 ** 6), st.one_of(st.integers(0, 70), st.integers(0, 1200))),
                      min_size=1, max_size=6))
def test_fuzzed_values_are_violations_never_a_crash(good_samples, edits):
    """Any values the reader's checks let through (ids, positions, lengths in range) give
    violations or an OK report, never an exception from a later rule."""
    samples = copy.deepcopy(good_samples[:12])
    for column, where, value in edits:
        s = samples[where % len(samples)]
        if column == "sep":
            s["sep"] = value % (len(s["input_ids"]) + 1)
        else:
            arr = np.array(s[column], dtype=np.int64)
            arr[where % len(arr)] = value if column not in ("loss_mask",) else value % 2
            s[column] = arr
    check(samples)
