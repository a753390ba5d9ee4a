import random

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st

from glmprep.core.minhash import (MinHashOptions, band_keys, batch_shingle_hashes, estimated_jaccard, hash_set_jaccard,
                             jaccard, optimal_bands, shingle_hash, shingle_hashes, shingle_sets, shingles, signature,
                             signatures, words, is_cjk_text)

EN = ("The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst "
      "of times; it was the age of wisdom, it was the age of foolishness.\n\nA second paragraph.")
ZH = "在 Debian 这种规模的项目中，很难避免遇到与你意见不和，或者难以合作的人。请接受这一事实，并保持礼貌。"
TEXTS = [EN, ZH, EN + "\n" + ZH, "Ünïcödé İstanbul\u00a0NBSP\u3000ideographic space", "two words", "", "  \n\t "]


def datasketch_signature(text, num_perm=128, seed=1, ngram=5):
    reference = MinHash(num_perm, seed, hashfunc=shingle_hash)
    reference.update_batch(shingles(text, ngram))
    return reference.hashvalues


@pytest.mark.parametrize("text", TEXTS)
def test_signature_equals_datasketch(text):
    assert np.array_equal(signature(text), datasketch_signature(text))


@pytest.mark.parametrize("num_perm,seed,ngram", [(64, 7, 3), (256, 42, 1), (17, 1, 8)])
def test_signature_equals_datasketch_for_other_settings(num_perm, seed, ngram):
    options = MinHashOptions(num_perm=num_perm, seed=seed, ngram=ngram)
    for text in (EN, ZH):
        assert np.array_equal(signature(text, options), datasketch_signature(text, num_perm, seed, ngram))


def test_signature_of_a_long_text_spans_several_chunks():
    rng = random.Random(3)
    text = " ".join(f"w{rng.randrange(100000)}" for _ in range(30000))
    assert np.array_equal(signature(text), datasketch_signature(text))


ALPHABET = st.sampled_from(list("aAbZ .,\n\t\u00a0\u3000中文字。，İßカ") + ["\U00020000", "\x1c"])


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=60), st.integers(1, 6))
def test_vectorised_shingle_hashes_equal_reference(text, ngram):
    assert shingle_hashes(text, ngram).tolist() == [shingle_hash(s) for s in shingles(text, ngram)]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET, max_size=40), max_size=12))
def test_batch_signatures_equal_one_at_a_time(texts):
    options = MinHashOptions(num_perm=16, ngram=2)
    batch = signatures(texts, options)
    assert batch.shape == (len(texts), 16)
    for text, sig in zip(texts, batch):
        assert np.array_equal(sig, signature(text, options))


def test_words_cjk_characters_are_words_other_runs_split_on_space():
    assert words("Hello, World! Some English words 中 ok") == [
        "hello,", "world!", "some", "english", "words", "中", "ok"]


def test_in_a_cjk_text_every_non_space_character_is_a_word():
    assert words("Debian 迷宫。x") == list("debian迷宫。x")
    text = "使用 apt-get install -y 命令安装软件包，然后运行 dpkg -l 查看"
    chars = "".join(text.lower().split())
    assert shingles(text, 5) == [tuple(chars[i:i + 5]) for i in range(len(chars) - 4)]
    assert not is_cjk_text("a long english sentence with one 字 in it")


def test_short_text_has_one_shingle_and_empty_text_none():
    assert shingles("a b", 5) == [("a", "b")]
    assert shingles(" \n ", 5) == []
    assert np.all(signature("") == np.uint32(0xFFFFFFFF))


def test_shingle_hash_is_fixed_across_processes_and_versions():
    # Changing these values silently changes every signature ever computed.
    assert shingle_hash(("hello", "world")) == 2686400022
    assert shingle_hash(("中", "文")) == 4069143330


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


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET, max_size=40), min_size=2, max_size=6), st.integers(1, 3))
def test_shingle_set_jaccard_equals_jaccard_of_shingles(texts, ngram):
    sets = shingle_sets(*batch_shingle_hashes(texts, ngram))
    for (text_a, set_a), (text_b, set_b) in zip(zip(texts, sets), zip(texts[1:], sets[1:])):
        assert set_a.tolist() == sorted({shingle_hash(s) for s in shingles(text_a, ngram)})
        expected = jaccard(set(shingles(text_a, ngram)), set(shingles(text_b, ngram)))
        assert hash_set_jaccard(set_a, set_b) == pytest.approx(expected)


def test_band_keys_change_only_where_the_signature_changes():
    sig = signature(EN)
    other = sig.copy()
    other[14] ^= 1  # row 1 of band 1 when rows == 13
    keys, other_keys = band_keys(sig, 9, 13), band_keys(other, 9, 13)
    assert len(keys) == 9
    assert all(len(k) == 10 for k in keys)
    assert [a == b for a, b in zip(keys, other_keys)] == [True, False] + [True] * 7
    assert len(set(keys)) == 9  # the band index is part of the key


def test_estimated_jaccard_is_close_to_exact():
    rng = random.Random(5)
    base = [f"w{rng.randrange(10**6)}" for _ in range(2000)]
    edited = list(base)
    for i in rng.sample(range(len(base)), 40):
        edited[i] = "x"
    a, b = " ".join(base), " ".join(edited)
    exact = jaccard(set(shingles(a, 5)), set(shingles(b, 5)))
    options = MinHashOptions(num_perm=256)
    estimate = estimated_jaccard(signature(a, options), signature(b, options))
    assert abs(estimate - exact) < 4 * np.sqrt(exact * (1 - exact) / 256)


@pytest.mark.parametrize("bad", [dict(num_perm=1), dict(ngram=0), dict(threshold=0.0), dict(threshold=1.5),
                                 dict(false_positive_weight=0.9, false_negative_weight=0.9),
                                 dict(verify="sometimes"), dict(keepers="largest")])
def test_options_reject_bad_values(bad):
    with pytest.raises(ValueError):
        MinHashOptions(**bad)
