"""LSH bands: the (bands, rows) choice equals datasketch.MinHashLSH's; a band's key changes only
with its own rows."""
import numpy as np
import pytest
from datasketch import MinHashLSH

from glmprep.core.lsh_bands import PRECOMPUTED_BANDS, band_hashes, optimal_bands, search_bands
from glmprep.core.minhash import MinHashOptions, signatures

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


def test_band_hashes_agree_exactly_where_a_band_agrees():
    text = " ".join(f"w{i}" for i in range(200))
    sigs = signatures([text, text.replace("w150", "x150"), text])
    sigs[2, 13:26] += np.uint32(1)  # the third differs from the first in band 1 only (9 bands of 13 rows)
    hashes = band_hashes(sigs, 9, 13)
    same_rows = (sigs[0, :117].reshape(9, 13) == sigs[1, :117].reshape(9, 13)).all(axis=1)
    assert np.array_equal(hashes[0] == hashes[1], same_rows)
    assert np.array_equal(hashes[0] == hashes[2], np.arange(9) != 1)


def test_band_hashes_differ_between_bands_of_equal_rows():
    sigs = np.zeros((1, 20), dtype=np.uint32)  # every band the same rows
    assert len(set(band_hashes(sigs, 4, 5)[0].tolist())) == 4


@pytest.mark.parametrize("arguments", sorted(PRECOMPUTED_BANDS))
def test_precomputed_bands_equal_the_search(arguments):
    assert PRECOMPUTED_BANDS[arguments] == search_bands(*arguments)


def test_the_default_options_read_the_precomputed_bands():
    options = MinHashOptions()
    assert (0.8, 128, options.false_positive_weight, options.false_negative_weight) in PRECOMPUTED_BANDS
