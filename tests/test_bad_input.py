"""Every kind of bad input in one ``glmprep run``: the run finishes, and each record is
kept or rejected with the stated reason; nothing is lost (docs_in = kept + rejected).

The inputs and their expected outcomes come from ``bad_inputs.py`` (also used by the soak).
"""
from __future__ import annotations

import glob
import json
import os
from collections import Counter

import numpy as np
import pytest

from glmprep.pipeline.cli import main
from glmprep.pipeline.manifest import read_manifest
from glmprep.schemas.reader import ShardReader
from glmprep.core.validate import validate_paths

from bad_inputs import BIG_DOC_MB, KEPT, expected_records, write_bad_inputs
from support import SAMPLE_DIR


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    """One run over all bad inputs plus a good file; returns (cases, output dir, exit code, input dir)."""
    inputs = tmp_path_factory.mktemp("bad")
    cases = write_bad_inputs(str(inputs), big_mb=BIG_DOC_MB)
    out = tmp_path_factory.mktemp("run") / "out"
    code = main(["run", "--input", str(inputs / "*"), "--input", os.path.join(SAMPLE_DIR, "extra.parquet"),
                 "--output", str(out), "--seq-len", "256", "--num-shards", "2", "--quiet"])
    # the 50 MB document is not needed after the run
    os.remove(inputs / "huge.jsonl")
    return cases, out, code, str(inputs)


def load_rejects(out):
    return [json.loads(line) for path in sorted(glob.glob(str(out / "rejects" / "*.jsonl")))
            for line in open(path, encoding="utf-8")]


def load_rows(out):
    return [row for path in sorted(glob.glob(str(out / "*.arrow"))) for row in ShardReader(path)]


def document_tokens(row, specials):
    """The row's text tokens with every mask filled by its span, cut at ENC/eos:
    one array per document piece."""
    ids, positions, sep = row["input_ids"].astype(np.int64), row["position_ids"], row["sep"]
    starts = np.flatnonzero(ids[sep:] == specials["sop"]) + sep
    ends = np.append(starts[1:], len(ids))
    span_at = {int(positions[s]): ids[s + 1:e] for s, e in zip(starts, ends)}
    x = np.concatenate([span_at[p] if p in span_at else ids[p:p + 1] for p in range(sep)])
    boundary = (x == specials["ENC"]) | (x == specials["eos"])
    pieces = np.split(x[~boundary], np.flatnonzero(boundary) - np.arange(boundary.sum()))
    return [piece for piece in pieces if len(piece)]


def test_the_run_finishes(bad_run):
    _, out, code, _ = bad_run
    assert code == 0
    assert os.path.exists(out / "manifest.json")


def test_accounting_holds_and_matches_our_own_count(bad_run):
    cases, out, _, _ = bad_run
    totals = read_manifest(str(out))["totals"]
    sample_rows = 40  # extra.parquet
    assert totals["documents_in"] == expected_records(cases) + sample_rows
    assert totals["accounting_balanced"]
    assert totals["documents_in"] == totals["documents_kept"] + totals["documents_rejected"]
    assert len(load_rejects(out)) == totals["documents_rejected"]


def test_each_bad_record_is_rejected_with_its_reason(bad_run):
    cases, out, _, bad_dir = bad_run
    expected = Counter((key, outcome) for case in cases for key, outcome in case.outcomes if outcome != KEPT)
    rejects = load_rejects(out)
    ours = {key for case in cases for key, _ in case.outcomes}
    actual = Counter((r["key"], f"{r['stage']}/{r['reason']}") for r in rejects if r["key"] in ours)
    assert actual == expected
    # nothing of the bad inputs is rejected under a key we did not expect
    assert not [r for r in rejects if r["key"] not in ours and r["key"].startswith(bad_dir)]
    for r in rejects:
        assert r["detail"], r


@pytest.mark.parametrize("name", ["malformed JSON line in the middle of a good file", "truncated gzip file",
                                  "missing / null / non-string / numeric text field", "NUL bytes",
                                  "mixed CRLF", "ANSI escapes", "GLM special-token strings in the text",
                                  "duplicate ids", "lone surrogates (JSON \\ud800 escapes)",
                                  "invalid UTF-8 in a JSON line", "Parquet row with a null text"])
def test_good_records_beside_bad_ones_are_kept(bad_run, name):
    cases, out, _, _ = bad_run
    kept = {key for row in load_rows(out) for key in row["source_ids"]}
    case = next(c for c in cases if c.name == name)
    wanted = {key for key, outcome in case.outcomes if outcome == KEPT}
    assert wanted
    assert wanted <= kept


def test_every_kept_key_is_an_expected_one(bad_run):
    cases, out, _, _ = bad_run
    kept = {key for row in load_rows(out) for key in row["source_ids"]}
    ours = {key for case in cases for key, outcome in case.outcomes if outcome == KEPT}
    assert ours <= kept
    assert all(k in ours or k.startswith("pq-") for k in kept)
    duplicated = [k for k in kept if k.startswith("dup-")]
    assert sorted(duplicated) == sorted(k for k, outcome in next(c for c in cases if c.name == "duplicate ids")
                                        .outcomes if outcome == KEPT)  # dup-diff twice, under two keys


def test_unreadable_inputs_are_reported_with_their_path(bad_run):
    cases, out, _, _ = bad_run
    by_key = {r["key"]: r for r in load_rejects(out)}
    paths = [p for case in cases for p in case.unreadable]
    assert len(paths) >= 4  # truncated x2, directory, dangling symlink (+ chmod 000 when not root)
    for path in paths:
        assert by_key[path]["reason"] == "unreadable_file"
        assert by_key[path]["detail"].startswith(path + ": ")


def test_truncated_gzip_says_where_it_broke(bad_run):
    cases, out, _, _ = bad_run
    path = next(c for c in cases if c.name == "truncated gzip file").unreadable[0]
    detail = {r["key"]: r for r in load_rejects(out)}[path]["detail"]
    assert "after the record at byte" in detail
    assert "(2 documents kept)" in detail
    assert "truncated" in detail


def test_the_huge_document_is_rejected_as_too_long(bad_run):
    _, out, _, _ = bad_run
    reject = {r["key"]: r for r in load_rejects(out)}["huge-doc"]
    assert reject["reason"] == "too_long"
    assert "words > 100000" in reject["detail"]
    assert len(reject["preview"]) <= 200


def test_output_validates(bad_run):
    _, out, _, _ = bad_run
    report = validate_paths([str(out)])
    assert report.ok, [str(v) for v in report.violations]


def test_kept_text_is_clean_and_special_strings_stay_text(bad_run, tokenizer):
    _, out, _, _ = bad_run
    specials = tokenizer.specials.as_map()
    texts = {}
    for row in load_rows(out):
        ids = row["input_ids"]
        assert not np.isin(ids[:row["sep"]], [specials["sop"], specials["eop"], specials["PAD"]]).any()
        pieces = [tokenizer.decode(p) for p in document_tokens(row, specials)]
        for key in row["source_ids"]:
            texts.setdefault(key, []).extend(pieces)
    everything = "".join(t for ts in texts.values() for t in ts)
    for bad in ("\x1b", "\r", "\x00"):
        assert bad not in everything
    special_text = "".join(texts["special-mask"] + texts["special-endoftext"] + texts["special-words"])
    for literal in ("[MASK]", "[sMASK]", "[gMASK]", "<|endoftext|>", "<|fim_prefix|>", "sop ", " eop ENC eos PAD"):
        assert literal in special_text, literal
    assert "\U0001f600" in "".join(texts["surrogate-pair"])
