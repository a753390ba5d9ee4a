"""UniqueKeys (the step after the readers): one document per key, the others rejected as duplicate_id."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from glmprep.transforms.unique_keys import DUPLICATE_ID, UniqueKeys


def test_different_texts_under_one_id_keep_the_smallest():
    docs = [("a", "zebra text"), ("b", "only b"), ("a", "apple text"), ("a", "mango text")]
    with TestPipeline() as p:
        kept, rejects = p | beam.Create(docs) | UniqueKeys()
        assert_that(kept, equal_to([("a", "apple text"), ("b", "only b")]), label="Kept")
        summary = rejects | beam.Map(lambda r: (r["key"], r["stage"], r["reason"], r["preview"],
                                                r["detail"].startswith("kept a:") and "a different text" in r["detail"]))
        assert_that(summary, equal_to([("a", "read", DUPLICATE_ID, "zebra text", True),
                                       ("a", "read", DUPLICATE_ID, "mango text", True)]),
                    label="Rejected")


def test_same_id_and_same_text_is_a_duplicate_id_saying_so():
    docs = [("a", "same"), ("a", "same"), ("c", "other")]
    with TestPipeline() as p:
        kept, rejects = p | beam.Create(docs) | UniqueKeys()
        assert_that(kept, equal_to([("a", "same"), ("c", "other")]), label="Kept")
        assert_that(rejects | beam.Map(lambda r: (r["key"], r["reason"], "the same text" in r["detail"])),
                    equal_to([("a", DUPLICATE_ID, True)]), label="Rejected")


def test_distinct_keys_pass_untouched():
    docs = [(f"k{i}", f"text {i % 3}") for i in range(20)]  # equal texts are ExactDedup's job
    with TestPipeline() as p:
        kept, rejects = p | beam.Create(docs) | UniqueKeys()
        assert_that(kept, equal_to(docs), label="Kept")
        assert_that(rejects, equal_to([]), label="Rejected")
