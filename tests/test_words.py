"""Tests for glmprep.core.words: what a word is, its n-gram form, and the code point tables
the NumPy path reads."""
import re

from hypothesis import given, settings, strategies as st

from glmprep.core import words
from glmprep.core.words import is_cjk_word, ngram_word, split_words
from glmprep.schemas.cjk import CJK_LETTER_RANGES, char_class


def test_split_words_counts_cjk_characters_and_skips_glued_punctuation():
    assert split_words("他说：“你好。”") == ["他", "说", "你", "好"]
    assert split_words("Hello, world.") == ["Hello,", "world."]
    assert split_words("用GPU训练") == ["用", "GPU", "训", "练"]
    assert split_words("カタカナ") == ["カ", "タ", "カ", "ナ"]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_cjk_words_are_single_characters(text):
    for word in split_words(text):
        assert word
        assert word.strip() == word
        assert len(word) == 1 or not any(is_cjk_word(ch) for ch in word)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ9_!.«»İı\u0307ß中。-"), min_size=1, max_size=12))
def test_ngram_word_strips_what_the_edge_punctuation_regex_stripped(word):
    lowered = word.lower()
    expected = (lowered if word[0].isalnum() and word[-1].isalnum()
                else re.sub(r"^[\W_]+|[\W_]+$", "", lowered))  # fine on words this short
    assert ngram_word(word) == expected


def test_char_tables_agree_with_str_and_re_for_every_code_point():
    """The classes and lowercase ``LongTextView`` looks up are those the word-by-word
    path gets from ``str`` and ``re``."""
    classes, ascii_classes, lowercase = words.char_tables()
    letter, cjk = re.compile(r"[^\W\d_]"), re.compile(f"[{char_class(CJK_LETTER_RANGES)}]")
    for code in range(0x110000):
        char = chr(code)
        expected = (words.SPACE * char.isspace() | words.ALNUM * char.isalnum()
                    | words.LETTER * bool(letter.match(char)) | words.CJK * bool(cjk.match(char)))
        assert classes[code] == expected, hex(code)
        if char not in "İΣσς":
            assert chr(lowercase[code]) == char.lower(), hex(code)
    assert ascii_classes == classes[:256].tobytes()
    assert lowercase[ord("Σ")] == lowercase[ord("σ")] == lowercase[ord("ς")]


PIECE_WORDS = ["word", "GLM", "用", "训练", " ", "  ", "\n", "...", "(", "x1", "。", "中文", "_", "-a", "”"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECE_WORDS), max_size=40).map("".join), st.integers(1, 9))
def test_word_spans_found_in_pieces_equal_one_pass(text, piece_chars):
    """Pieces cut after a space or a CJK character, even next to punctuation glued to it."""
    has_cjk = words.has_cjk(text)
    whole = words.find_word_spans(words.text_classes(text), has_cjk)
    n_words, starts, ends = 0, [], []
    for lo, hi in words.piece_bounds(text, piece_chars):
        assert hi == len(text) or words.text_classes(text[hi - 1]) & (words.SPACE | words.CJK)
        piece = words.find_word_spans(words.text_classes(text[lo:hi]), has_cjk, words.piece_follows_word(text, lo))
        n_words += piece.n_words
        starts += (piece.ngram_starts + lo).tolist()
        ends += (piece.ngram_ends + lo).tolist()
    assert (n_words, starts, ends) == (whole.n_words, whole.ngram_starts.tolist(), whole.ngram_ends.tolist())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECE_WORDS + ["«Ça»", "(ΣΑΣ)", "x_"]), max_size=40).map("".join),
       st.integers(1, 9))
def test_words_of_pieces_equal_the_words_of_the_text(text, piece_chars):
    has_cjk = words.has_cjk(text)
    bounds = list(words.piece_bounds(text, piece_chars))
    pieces = [words.piece_words(text, lo, hi, has_cjk) for lo, hi in bounds]
    assert sum(pieces, []) == split_words(text)
    ngram_words = [words.ngram_words(piece, text[lo:hi]) for piece, (lo, hi) in zip(pieces, bounds)]
    assert sum(ngram_words, []) == words.ngram_words(split_words(text), text)
