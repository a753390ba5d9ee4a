import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from glmprep.core import band_sketch


def sketch_of(*parts):
    sketch = band_sketch.empty()
    for part in parts:
        sketch = band_sketch.add(sketch, np.asarray(part, dtype=np.uint64))
    return sketch


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=300), st.data())
def test_a_key_counted_twice_is_always_maybe_shared(keys, data):
    # every key twice, split over batches and merged in any order: none is missed
    keys = np.asarray(keys, dtype=np.uint64)
    order = data.draw(st.permutations(list(range(2 * len(keys)))))
    inserted = np.concatenate([keys, keys])[order]
    cut = data.draw(st.integers(0, len(inserted)))
    merged = band_sketch.merge(sketch_of(inserted[:cut]), sketch_of(inserted[cut:]))
    assert band_sketch.maybe_shared(merged, keys).all()


def test_keys_counted_once_are_almost_never_maybe_shared():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**63, size=100_000, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    shared = band_sketch.maybe_shared(sketch_of(keys[:50_000], keys[50_000:]), keys)
    assert shared.mean() < 0.001


def test_merge_is_the_same_in_any_order():
    rng = np.random.default_rng(1)
    parts = [rng.integers(0, 2**63, size=1000, dtype=np.uint64) for _ in range(3)]
    parts.append(parts[0][:10])  # a few keys in two parts
    a, b, c, d = (sketch_of(p) for p in parts)
    left = band_sketch.merge(band_sketch.merge(a, b), band_sketch.merge(c, d))
    right = band_sketch.merge(d, band_sketch.merge(c, band_sketch.merge(b, a)))
    assert all(np.array_equal(x, y) for x, y in zip(left, right))
