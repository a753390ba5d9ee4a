"""Words and shingles of EN and ZH text, their fixed 32-bit hashes (vectorised = reference), and
exact Jaccard of shingle-hash sets."""
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glmprep.core.shingles import (batch_shingle_hashes, hash_set_jaccard, is_cjk_text, jaccard, shingle_hash,
                                   shingle_hashes, shingle_sets, shingles, words)

from support import MIXED_TEXT_CHARACTERS


ALPHABET = st.sampled_from(MIXED_TEXT_CHARACTERS)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=60), st.integers(1, 6))
def test_vectorised_shingle_hashes_equal_reference(text, ngram):
    assert shingle_hashes(text, ngram).tolist() == [shingle_hash(s) for s in shingles(text, ngram)]


def test_words_cjk_characters_are_words_other_runs_split_on_space():
    assert words("Hello, World! Some English words 中 ok") == [
        "hello,", "world!", "some", "english", "words", "中", "ok"]


def test_in_a_cjk_text_every_non_space_character_is_a_word():
    assert words("Debian 迷宫。x") == list("debian迷宫。x")
    text = "使用 apt-get install -y 命令安装软件包，然后运行 dpkg -l 查看"
    chars = "".join(text.lower().split())
    assert shingles(text, 5) == [tuple(chars[i:i + 5]) for i in range(len(chars) - 4)]
    assert not is_cjk_text("a long english sentence with one 字 in it")


def test_short_text_has_one_shingle_and_blank_text_none():
    assert shingles("a b", 5) == [("a", "b")]
    assert shingles(" \n ", 5) == []


def test_shingle_hash_is_fixed_across_processes_and_versions():
    # Changing these values silently changes every signature ever computed.
    assert shingle_hash(("hello", "world")) == 2686400022
    assert shingle_hash(("中", "文")) == 4069143330


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET, max_size=40), min_size=2, max_size=6), st.integers(1, 3))
def test_shingle_set_jaccard_equals_jaccard_of_shingles(texts, ngram):
    sets = shingle_sets(*batch_shingle_hashes(texts, ngram))
    for (text_a, set_a), (text_b, set_b) in zip(zip(texts, sets), zip(texts[1:], sets[1:])):
        assert set_a.tolist() == sorted({shingle_hash(s) for s in shingles(text_a, ngram)})
        expected = jaccard(set(shingles(text_a, ngram)), set(shingles(text_b, ngram)))
        assert hash_set_jaccard(set_a, set_b) == pytest.approx(expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(MIXED_TEXT_CHARACTERS + ["wordy"]), max_size=40).map("".join), max_size=4),
       st.integers(1, 6), st.integers(1, 12))
def test_long_texts_shingled_in_pieces_give_the_same_hashes(texts, ngram, piece_chars):
    import glmprep.core.shingles as shingles_module

    whole_hashes, whole_counts = batch_shingle_hashes(texts, ngram)
    before = shingles_module.PIECE_CHARS
    shingles_module.PIECE_CHARS = piece_chars  # every text longer than this goes in pieces
    try:
        hashes, counts = batch_shingle_hashes(texts, ngram)
    finally:
        shingles_module.PIECE_CHARS = before
    assert hashes.tolist() == whole_hashes.tolist()
    assert counts.tolist() == whole_counts.tolist()


RUN_CHARACTERS = st.sampled_from(list("abZ.,-éİß") + ["\U0001d400", "\x00"])  # no space, no CJK
BETWEEN_RUNS = st.sampled_from([" ", "\n", "\u3000", "中", "。", "カ", "x", ""])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet=RUN_CHARACTERS, max_size=30), BETWEEN_RUNS), max_size=8),
       st.integers(1, 6), st.integers(1, 8))
def test_words_longer_than_a_piece_are_cut_and_carried_on_with_the_same_hashes(runs, ngram, piece_chars):
    """Runs without a word boundary over several pieces (minified code, base64): pieces are
    cut inside the word and its hash is continued; CJK or not, the reference hashes."""
    import glmprep.core.shingles as shingles_module

    text = "".join(run + between for run, between in runs)
    with mock.patch.object(shingles_module, "PIECE_CHARS", piece_chars):
        hashes = shingle_hashes(text, ngram).tolist()
    assert hashes == [shingle_hash(s) for s in shingles(text, ngram)]


def test_a_long_run_is_read_in_pieces_of_at_most_piece_chars():
    import glmprep.core.shingles as shingles_module

    text = "x" * 5000 + " tail"
    seen = []
    code_points = shingles_module._code_points
    with mock.patch.object(shingles_module, "PIECE_CHARS", 100), \
            mock.patch.object(shingles_module, "_code_points", lambda t: seen.append(len(t)) or code_points(t)):
        hashes = shingle_hashes(text, 2).tolist()
    assert hashes == [shingle_hash(("x" * 5000, "tail"))]
    assert max(seen) <= 100
