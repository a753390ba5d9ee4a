"""ExactDedup: one document per normalised text, the smallest key kept, the others
rejected naming it in ``kept_key``; no group of copies is ever held."""
from __future__ import annotations

import hashlib
import os
import sys
import unicodedata

import apache_beam as beam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from glmprep.transforms.dedup import EXACT_DUPLICATE, STAGE, ExactDedup, normalised_digest


RUNNERS = {"in_memory": None,
           "2 workers": PipelineOptions(direct_running_mode="multi_processing", direct_num_workers=2)}


def summary(reject):
    return reject["key"], reject["stage"], reject["reason"], reject["kept_key"]


def test_normalised_digest_ignores_case_and_white_space_only():
    assert normalised_digest("A  b\tC\n") == normalised_digest("a b c")
    assert normalised_digest("a b c") != normalised_digest("a b d")
    assert normalised_digest("abc") != normalised_digest("a bc")


# white space of every kind (two with canonical decompositions), combining marks, letters that
# compose or case-fold into several, Hangul jamo that compose across starters
PIECE_ALPHABET = (" \t\n\r\x0b\x0c\x1c\x85\xa0\u2000\u2001\u2028\u3000"
                  "aAeE\u0301\u0308\u0327\u00df\u1e9e\u0130\u03a3\u1100\u1161\u11a8\u4e2d\u6587")


def whole_text_digest(text):
    """The digest as one fold of the whole text (what the pieces must reproduce)."""
    norm = " ".join(unicodedata.normalize("NFC", text).casefold().split())
    return hashlib.blake2b(norm.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=PIECE_ALPHABET, max_size=120), st.integers(min_value=1, max_value=9))
def test_digest_by_pieces_equals_the_whole_text_fold(text, piece_chars):
    assert normalised_digest(text, piece_chars=piece_chars) == whole_text_digest(text)


def test_copies_keep_the_smallest_key_and_name_it():
    docs = [("b", "Hello World"), ("a", "hello   world"), ("c", "HELLO WORLD\n"), ("d", "something else")]
    with TestPipeline() as p:
        kept, rejects = p | beam.Create(docs) | ExactDedup()
        assert_that(kept, equal_to([("a", "hello   world"), ("d", "something else")]), label="Kept")
        assert_that(rejects | beam.Map(summary), equal_to([("b", STAGE, EXACT_DUPLICATE, "a"),
                                                          ("c", STAGE, EXACT_DUPLICATE, "a")]),
                    label="Rejected")


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("max_group", [1000, 3])  # 3: the copies go through the hot side input
def test_ten_thousand_copies_keep_one(max_group, runner, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))  # workers unpickle this module's functions
    copies = [(f"copy-{i:05d}", "the same boilerplate") for i in range(10_000)]
    others = [(f"doc-{i}", f"ordinary document number {i}") for i in range(50)]
    pairs = [(f"pair-{i}-{j}", f"a text seen twice, {i}") for i in range(5) for j in range(2)]
    with TestPipeline(options=RUNNERS[runner]) as p:
        kept, rejects = p | beam.Create(copies[::-1] + others + pairs) | ExactDedup(max_group=max_group)
        assert_that(kept | beam.Keys(), equal_to(["copy-00000"] + [k for k, _ in others]
                                                 + [f"pair-{i}-0" for i in range(5)]), label="Kept")
        expected = ([(k, STAGE, EXACT_DUPLICATE, "copy-00000") for k, _ in copies[1:]]
                    + [(f"pair-{i}-1", STAGE, EXACT_DUPLICATE, f"pair-{i}-0") for i in range(5)])
        assert_that(rejects | beam.Map(summary), equal_to(expected), label="Rejected")
        previews = rejects | beam.Map(lambda r: r["preview"]) | beam.Distinct()
        assert_that(previews, equal_to(["the same boilerplate"] + [f"a text seen twice, {i}" for i in range(5)]),
                    label="Previews")


def test_a_reject_previews_its_own_text():
    docs = [("a", "Hello World"), ("b", "HELLO   world\n")]
    with TestPipeline() as p:
        kept, rejects = p | beam.Create(docs) | ExactDedup()
        assert_that(kept, equal_to([("a", "Hello World")]), label="Kept")
        assert_that(rejects | beam.Map(lambda r: (r["key"], r["kept_key"], r["preview"])),
                    equal_to([("b", "a", "HELLO   world\n")]), label="Rejected")


def test_distinct_texts_pass_untouched():
    docs = [(f"k{i}", f"text {i}") for i in range(30)]
    with TestPipeline() as p:
        kept, rejects = p | beam.Create(docs) | ExactDedup()
        assert_that(kept, equal_to(docs), label="Kept")
        assert_that(rejects, equal_to([]), label="Rejected")
