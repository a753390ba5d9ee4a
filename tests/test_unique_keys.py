"""UniqueKeys (the step after the readers): one document per key; the same id with a
different text is kept under a distinct key (or, with policy reject, rejected); the same
id with the same text is one document, the copies rejected as duplicate_id."""
from __future__ import annotations

import os
import sys

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from glmprep.core.records import pack_text, unpack_text
from glmprep.transforms.unique_keys import (DUPLICATE_ID, DUPLICATE_ID_RENAMED, ENTRY_BYTES, MergeLocalCopiesDoFn,
                                            UniqueKeys, distinct_key, text_digest)

RUNNERS = {"in_memory": None,
           "2 workers": PipelineOptions(direct_running_mode="multi_processing", direct_num_workers=2)}


def renamed(key, text):
    return distinct_key(key, text_digest(text))


def by_digest(texts):
    return sorted(texts, key=text_digest)


def test_different_texts_under_one_id_are_all_kept_and_counted():
    texts = by_digest(["zebra text", "apple text", "mango text"])
    docs = [("a", t) for t in texts[::-1]] + [("b", "only b")]
    with TestPipeline() as p:
        kept, rejects, counts = p | beam.Create(docs) | UniqueKeys()
        assert_that(kept, equal_to([("a", texts[0]), (renamed("a", texts[1]), texts[1]),
                                    (renamed("a", texts[2]), texts[2]), ("b", "only b")]), label="Kept")
        assert_that(rejects, equal_to([]), label="Rejected")
        assert_that(counts, equal_to([(DUPLICATE_ID_RENAMED, 2)]), label="Counts")


def test_ids_repeated_across_two_files_with_different_texts_are_all_kept():
    # two files that both number their records from 0 (the reader keys them by id)
    first = [(str(i), f"first file record {i}") for i in range(100)]
    second = [(str(i), f"second file record {i}") for i in range(100)]
    with TestPipeline() as p:
        kept, rejects, counts = p | beam.Create(first + second) | UniqueKeys()
        keys = kept | beam.Keys()
        assert_that(keys | "Distinct" >> beam.Distinct() | beam.combiners.Count.Globally(), equal_to([200]),
                    label="DistinctKeys")
        assert_that(kept | beam.Values(), equal_to([t for _, t in first + second]), label="Texts")
        assert_that(rejects, equal_to([]), label="Rejected")
        assert_that(counts, equal_to([(DUPLICATE_ID_RENAMED, 100)]), label="Warnings")


def test_reject_policy_keeps_one_text_per_id():
    texts = by_digest(["zebra text", "apple text", "mango text"])
    docs = [("a", t) for t in texts] + [("b", "only b")]
    with TestPipeline() as p:
        kept, rejects, counts = p | beam.Create(docs) | UniqueKeys(policy="reject")
        assert_that(kept, equal_to([("a", texts[0]), ("b", "only b")]), label="Kept")
        summary = rejects | beam.Map(lambda r: (r["key"], r["stage"], r["reason"], r["preview"], r["kept_key"],
                                                "a different text" in r["detail"]))
        assert_that(summary, equal_to([("a", "read", DUPLICATE_ID, texts[1], "a", True),
                                       ("a", "read", DUPLICATE_ID, texts[2], "a", True)]), label="Rejected")
        assert_that(counts, equal_to([]), label="Counts")


@pytest.mark.parametrize("max_group", [1000, 2])  # 2: the repeated ids go through the hot side input
def test_same_id_and_same_text_is_one_document(max_group):
    docs = [("a", "same")] * 5 + [("c", "other"), ("c", "other text"), ("c", "other")]
    with TestPipeline() as p:
        kept, rejects, counts = p | beam.Create(docs) | UniqueKeys(max_group=max_group)
        first, later = by_digest(["other", "other text"])
        assert_that(kept, equal_to([("a", "same"), ("c", first), (renamed("c", later), later)]), label="Kept")
        summary = rejects | beam.Map(lambda r: (r["key"], r["reason"], r["kept_key"], "the same text" in r["detail"]))
        assert_that(summary, equal_to([("a", DUPLICATE_ID, "a", True)] * 4 + [
            ("c", DUPLICATE_ID, "c" if first == "other" else renamed("c", "other"), True)]), label="Rejected")
        assert_that(counts, equal_to([(DUPLICATE_ID_RENAMED, 1)]), label="Counts")


def test_distinct_keys_pass_untouched():
    docs = [(f"k{i}", f"text {i % 3}") for i in range(20)]  # equal texts are ExactDedup's job
    with TestPipeline() as p:
        kept, rejects, counts = p | beam.Create(docs) | UniqueKeys()
        assert_that(kept, equal_to(docs), label="Kept")
        assert_that(rejects, equal_to([]), label="Rejected")
        assert_that(counts, equal_to([]), label="Counts")


def record(key, text):
    return (key, text_digest(text)), pack_text(text)


def merge_bundle(fn, records):
    """One bundle through MergeLocalCopiesDoFn: the entries it emits, in order, in flushes."""
    fn.start_bundle()
    flushes = [list(fn.process(r)) for r in records]
    flushes.append([windowed.value for windowed in fn.finish_bundle()])
    return [flush for flush in flushes if flush]


def test_a_bundle_merges_identical_records_into_one_entry_sorted():
    records = [record("b", "bee")] * 3 + [record("a", "ay"), record("b", "other"), record("a", "ay")]
    [entries] = merge_bundle(MergeLocalCopiesDoFn(), records)
    assert [(k, copies, unpack_text(packed)) for (k, _), (copies, packed) in entries] == sorted(
        [("a", 2, "ay"), ("b", 3, "bee"), ("b", 1, "other")])
    assert [e[0] for e in entries] == sorted(e[0] for e in entries)


def test_a_bundle_holds_at_most_max_bytes_of_entries():
    records = [record(f"k{i:03d}", f"text number {i:03d}") for i in range(100)] * 2
    entry_size = ENTRY_BYTES + len("k000") + len(pack_text("text number 000"))
    fn = MergeLocalCopiesDoFn(max_bytes=10 * entry_size)
    flushes = merge_bundle(fn, records)
    assert max(len(flush) for flush in flushes) <= 10
    copies = {}
    for flush in flushes:
        for (key, _), (n, _) in flush:
            copies[key] = copies.get(key, 0) + n
    assert copies == {f"k{i:03d}": 2 for i in range(100)}


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("max_group, merge_bytes", [
    (1000, 32 << 20),
    (2, 1),  # every record its own entry: 5,000 entries of one (id, text), the key through the hot side input
])
def test_five_thousand_copies_of_a_record_and_ids_repeated_across_files(runner, max_group, merge_bytes,
                                                                       monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))  # workers unpickle this module's functions
    licence, other = by_digest(["the same licence header", "another licence header"])
    copies = [("licence", licence)] * 5_000
    others = [("licence", other)] * 3  # a later text of the hot id, copied too
    first = [(str(i), f"first file record {i}") for i in range(50)]
    second = [(str(i), f"second file record {i}") for i in range(50)]
    expected_kept = [("licence", licence), (renamed("licence", other), other)]
    for i in range(50):
        low, high = by_digest([first[i][1], second[i][1]])
        expected_kept += [(str(i), low), (renamed(str(i), high), high)]
    with TestPipeline(options=RUNNERS[runner]) as p:
        kept, rejects, counts = (p | beam.Create(copies[:2_500] + others + first + copies[2_500:] + second)
                                 | UniqueKeys(max_group=max_group, merge_bytes=merge_bytes))
        assert_that(kept, equal_to(expected_kept), label="Kept")
        assert_that(rejects | beam.Map(lambda r: (r["key"], r["stage"], r["reason"], r["kept_key"], r["preview"])),
                    equal_to([("licence", "read", DUPLICATE_ID, "licence", licence)] * 4_999
                             + [("licence", "read", DUPLICATE_ID, renamed("licence", other), other)] * 2),
                    label="Rejected")
        assert_that(counts, equal_to([(DUPLICATE_ID_RENAMED, 51)]), label="Warnings")


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="duplicate-id policy"):
        UniqueKeys(policy="merge")
