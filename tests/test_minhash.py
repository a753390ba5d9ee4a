"""MinHash signatures equal datasketch's, one text or many at once; the options refuse bad values."""
import random

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from glmprep.core.minhash import MinHashOptions, estimated_jaccard, signature, signatures
from glmprep.core.shingles import jaccard, shingle_hash, shingles

from support import MIXED_TEXT_CHARACTERS

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


def test_a_text_without_words_has_the_empty_signature():
    assert np.all(signature(" \n ") == np.uint32(0xFFFFFFFF))
    assert np.all(signature("") == np.uint32(0xFFFFFFFF))


ALPHABET = st.sampled_from(MIXED_TEXT_CHARACTERS)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET, max_size=40), max_size=12))
def test_batch_signatures_equal_one_at_a_time(texts):
    options = MinHashOptions(num_perm=16, ngram=2)
    batch = signatures(texts, options)
    assert batch.shape == (len(texts), 16)
    for text, sig in zip(texts, batch):
        assert np.array_equal(sig, signature(text, options))


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
