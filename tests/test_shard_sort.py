"""Joining a shard's documents into byte strings, and reading them back sorted by key
(in memory, or through sorted runs spilled to disk)."""
from __future__ import annotations

from hypothesis import example, given, settings, strategies as st

from glmprep.transforms.shard_sort import join_docs, sorted_docs, split_docs


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(st.characters(exclude_categories=())), st.binary())))
@example([("bad-path-\udcff:1", b"\x00ids"), ("", b"")])  # keys may hold lone surrogates
def test_joined_documents_split_back_as_they_were(docs):
    assert list(split_docs(join_docs(docs))) == docs


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=6), st.binary(max_size=12)), max_size=40), st.integers(1, 64))
def test_sorted_docs_spills_and_merges_to_the_same_order(docs, max_bytes):
    joined = [join_docs(docs[i:i + 7]) for i in range(0, len(docs), 7)]
    assert list(sorted_docs(joined, max_bytes)) == sorted(docs)
