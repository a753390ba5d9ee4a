"""Sorted distinct values, as np.unique gives them, without its hash table."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from glmprep.core.sorted_sets import sorted_distinct


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(st.sampled_from([np.uint32, np.uint64, np.int64]), st.integers(0, 300),
                  elements=st.integers(0, 40)))
def test_sorted_distinct_is_np_unique(values):
    before = values.copy()
    got = sorted_distinct(values)
    expected = np.unique(values)
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected)
    assert np.array_equal(values, before)  # the input is left as it was
