"""LSH bands: the (bands, rows) choice equals datasketch.MinHashLSH's; a band's key changes only
with its own rows."""
import pytest
from datasketch import MinHashLSH

from glmprep.core.lsh_bands import band_keys, optimal_bands
from glmprep.core.minhash import MinHashOptions, signature

EN = ("The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst "
      "of times; it was the age of wisdom, it was the age of foolishness.\n\nA second paragraph.")


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("num_perm", [32, 128, 256])
def test_bands_equal_datasketch(threshold, num_perm):
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    assert optimal_bands(threshold, num_perm) == (lsh.b, lsh.r)


@pytest.mark.parametrize("weights", [(0.2, 0.8), (0.7, 0.3)])
def test_bands_equal_datasketch_with_weights(weights):
    lsh = MinHashLSH(threshold=0.8, num_perm=128, weights=weights)
    options = MinHashOptions(false_positive_weight=weights[0], false_negative_weight=weights[1])
    assert options.bands == (lsh.b, lsh.r)


def test_default_bands_equal_datasketch_with_the_default_weights():
    options = MinHashOptions()
    lsh = MinHashLSH(threshold=0.8, num_perm=128,
                     weights=(options.false_positive_weight, options.false_negative_weight))
    assert options.bands == (lsh.b, lsh.r) == (14, 9)


def test_band_keys_change_only_where_the_signature_changes():
    sig = signature(EN)
    other = sig.copy()
    other[14] ^= 1  # row 1 of band 1 when rows == 13
    keys, other_keys = band_keys(sig, 9, 13), band_keys(other, 9, 13)
    assert len(keys) == 9
    assert all(len(k) == 10 for k in keys)
    assert [a == b for a, b in zip(keys, other_keys)] == [True, False] + [True] * 7
    assert len(set(keys)) == 9  # the band index is part of the key
