"""The record layout of shard run files: records written and read back as they were."""
from __future__ import annotations

import io

from hypothesis import example, given, settings, strategies as st

from glmprep.transforms.shard_sort import read_docs, read_run, spill_docs, spill_to_temp

RECORDS = st.lists(st.tuples(st.text(st.characters(exclude_categories=())), st.binary()))


@settings(max_examples=200, deadline=None)
@given(RECORDS, st.binary(max_size=5))
@example([("bad-path-\udcff:1", b"\x00ids"), ("", b"")], b"")  # keys may hold lone surrogates
def test_records_read_back_as_they_were_written(docs, after):
    fh = io.BytesIO()
    length = spill_docs(docs, fh)
    fh.write(after)  # what follows a section is not read
    fh.seek(0)
    assert list(read_docs(fh, length)) == docs


@settings(max_examples=50, deadline=None)
@given(RECORDS)
def test_a_temporary_run_reads_back_whole_and_again(docs):
    run = spill_to_temp(docs)
    try:
        assert list(read_run(run)) == docs
        assert list(read_run(run)) == docs
    finally:
        run.close()
