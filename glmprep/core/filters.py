"""Document quality filters (pure, no Beam), in the spirit of C4 and Gopher.

A rule looks at one cleaned document and either lets it pass (None) or names what is
wrong with it: the reject reason (the rule's name) and a detail with the measured value
and the threshold. The rules, in the order they are checked:

========================  =========================================================  ==============
reason                    rejects when                                               default
========================  =========================================================  ==============
``too_short``             fewer words than ``min_words``                             5
``too_long``              more words than ``max_words``                              100 000
``alpha_ratio``           fraction of words holding a letter < ``min_alpha_ratio``   0.8
``mean_word_length``      mean length of non-CJK words outside [min, max]            3 .. 10
``symbol_ratio``          (``#`` + ``...`` + ``…``) per word > ``max_symbol_ratio``  0.1
``bullet_lines``          fraction of lines starting with a bullet > max             0.9
``ellipsis_lines``        fraction of lines ending with an ellipsis > max            0.3
``duplicate_paragraphs``  characters in repeated paragraphs / all > max              0.2
``duplicate_lines``       characters in repeated lines / all > max                   0.2
``top_ngram_repetition``  characters covered by the top 2/3/4-gram > max             0.20/0.18/0.16
========================  =========================================================  ==============

Every rule after ``too_long`` is a ratio; ratios over a handful of words are noise
(a one-line quote ending in "..." is 100% ellipsis lines; "to be or not to be" is 50%
one repeated bigram), so they are only computed for texts of at least
``ratio_rules_min_words`` words (default 50, the shortest document Gopher's thresholds
were tuned on). Shorter texts are judged by length alone.

Words, for all rules: a whitespace-separated token is a word, except that in Chinese
and Japanese, which do not put spaces between words, every CJK ideograph or kana is a
word of its own; the non-CJK runs glued to CJK characters count as words only when they
hold a letter or digit, so "。" or "，" after a character is punctuation, like the
"." after an English word. Lengths are in characters (code points).

Each threshold is a module constant that reappears as the keyword default of its rule
function and of ``FilterOptions``; setting it to None turns that rule (or that bound)
off. ``QualityFilter(options).check(text)`` runs the enabled rules.
``add_filter_arguments`` / ``filter_options_from`` expose the same options on the
command line (``--min-words 20``, ``--max-words none``, ``--no-symbol-ratio``).
"""
from __future__ import annotations

import argparse
import dataclasses
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import filterfalse, repeat
from operator import itemgetter, mul
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from glmprep.core.options import Switch, add_option_arguments, build, number_or_none, option
from glmprep.schemas.cjk import CJK_LETTER_RANGES, char_class

# A one-line quote ("Simplicity is prerequisite for reliability.") is a real, useful
# document of 5-30 words; below 5 words a text is a title, a label or a fragment with
# nothing around a blank to infer it from. C4's 50-word minimum (on pages) would drop
# every short quote, caption and dialogue line.
MIN_WORDS = 5
# Gopher's upper bound; beyond it a "document" is almost always a dump, a log or a
# concatenation. Long real documents are split into samples later anyway.
MAX_WORDS = 100_000
# Ratio rules need enough text to be meaningful: 50 words is Gopher's minimum document
# length, so its ratio thresholds were calibrated on texts at least this long.
RATIO_RULES_MIN_WORDS = 50
# Gopher: real prose in space-separated languages has a mean word length of about 4-6;
# below 3 is letter soup or number tables, above 10 is URLs, hashes or glued words.
MIN_MEAN_WORD_LENGTH = 3.0
MAX_MEAN_WORD_LENGTH = 10.0
# Gopher: more than one hashtag or ellipsis per ten words is tag spam or a list of
# truncated teasers.
MAX_SYMBOL_RATIO = 0.1
# Gopher: when over 90% of lines are bullets the page is a menu or a link list.
MAX_BULLET_LINES = 0.9
# Gopher: when over 30% of lines end in an ellipsis the page is a list of truncated
# previews ("Read more...").
MAX_ELLIPSIS_LINES = 0.3
# Gopher: over 20% of characters in repeated paragraphs / lines means boilerplate
# (cookie banners, repeated footers, spam).
MAX_DUPLICATE_PARAGRAPH_CHARS = 0.2
MAX_DUPLICATE_LINE_CHARS = 0.2
# Gopher: the most frequent 2-, 3- and 4-gram may cover at most 20%, 18% and 16% of the
# characters. In Chinese, n-grams of characters: a frequent two-character word in a
# real paragraph covers well under 10%.
MAX_TOP_2GRAM_CHARS = 0.20
MAX_TOP_3GRAM_CHARS = 0.18
MAX_TOP_4GRAM_CHARS = 0.16
# Gopher: at least 80% of words must contain a letter (CJK characters are letters);
# number tables, code dumps and symbol art fall below.
MIN_ALPHA_RATIO = 0.8

# Line openers treated as bullets (after leading whitespace).
BULLETS = ("•", "●", "○", "◦", "▪", "▫", "■", "□", "‣", "⁃", "·", "►", "▶", "➢",
           "✓", "✔", "-", "*", "–", "—")
ELLIPSES = ("...", "…")

# Chinese ideographs and Japanese kana: the letters that are each a word (glmprep.schemas.cjk).
_CJK_RANGES = char_class(CJK_LETTER_RANGES)
_CJK_CHAR = re.compile(f"[{_CJK_RANGES}]")
# The words of a text holding CJK characters, in one pass: an alphanumeric CJK
# character; a whole whitespace-separated token without CJK; or, inside a token with
# CJK, a maximal non-CJK run that holds a letter or digit. Possessive quantifiers and
# the lookbehinds (a match starts only where a token or a run starts) keep it linear.
_CJK_TEXT_WORD = re.compile(
    rf"[{_CJK_RANGES}](?<=[^\W_])"
    rf"|(?<!\S)[^\s{_CJK_RANGES}]++(?!\S)"
    rf"|(?<![^\s{_CJK_RANGES}])(?:[^\w\s{_CJK_RANGES}]|_)*+[^\W_{_CJK_RANGES}][^\s{_CJK_RANGES}]*+")
_LETTER = re.compile(r"[^\W\d_]")
# A letter or digit (str.isalnum). Searched for, never matched in runs: a pattern such as
# "[\W_]+$" restarts at every character of a punctuation run and backtracks over the rest
# of it, which is quadratic in the run's length (a word "a!!!…!a!" of 32k characters took
# 27 s; ngram_word finds the first and last letter or digit with two searches instead).
_ALNUM = re.compile(r"[^\W_]")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# Characters that are not alphanumeric ([\W_]): all of ASCII's, and a pattern for the rest.
_ASCII_NON_ALNUM = "".join(char for char in map(chr, range(128)) if not char.isalnum())
_NON_ASCII_NON_ALNUM = re.compile(r"[^\w\x00-\x7f]")
# The one character whose lowercase ends in a non-alphanumeric character ("İ" -> "i̇",
# a combining dot): ngram words keep that dot unless the word had punctuation to strip.
_CAPITAL_I_WITH_DOT = "\u0130"
# Below this many ngram words, n-grams are counted as tuples in a Counter: NumPy's fixed
# cost per call (tens of microseconds per document) outweighs its speed per word.
NUMPY_MIN_WORDS = 500


def split_words(text: str) -> List[str]:
    """Words as the rules count them (see the module docstring).

    >>> split_words("GLM infills blanks. 我们去公园，好吗？")
    ['GLM', 'infills', 'blanks.', '我', '们', '去', '公', '园', '好', '吗']
    >>> split_words("第3章 A4纸")
    ['第', '3', '章', 'A4', '纸']
    """
    return _CJK_TEXT_WORD.findall(text) if has_cjk(text) else text.split()


def has_cjk(text: str) -> bool:
    """True when ``text`` holds a CJK character (``str.isascii`` answers at once for ASCII).

    >>> has_cjk("GLM"), has_cjk("GLM 模型")
    (False, True)
    """
    return not text.isascii() and _CJK_CHAR.search(text) is not None


def is_cjk_word(word: str) -> bool:
    """True for a word that is one CJK character (as produced by ``split_words``)."""
    return _CJK_CHAR.match(word) is not None


def ngram_word(word: str) -> str:
    """``word`` lowercased, without leading/trailing punctuation (possibly empty).

    >>> ngram_word("«Now!»"), ngram_word("__init__"), ngram_word("...")
    ('now', 'init', '')
    """
    lowered = word.lower()
    if word[0].isalnum() and word[-1].isalnum():
        return lowered
    first = _ALNUM.search(lowered)
    if first is None:
        return ""
    last = _ALNUM.search(lowered[::-1])  # one pass from the end, over a reversed copy
    return lowered[first.start():len(lowered) - last.start()]


def edge_punctuation(text: str) -> str:
    """Every non-alphanumeric character that can end a lowercased word of ``text``: the
    characters ``ngram_word`` strips, as a ``str.strip`` argument. All of ASCII's, plus
    the lowercase of the non-ASCII ones in ``text``.

    >>> sorted(set(edge_punctuation("«Ça va?»")) - set(edge_punctuation("")))
    ['«', '»']
    """
    if text.isascii():
        return _ASCII_NON_ALNUM
    return _ASCII_NON_ALNUM + "".join(set(_NON_ASCII_NON_ALNUM.findall(text))).lower()


def pair_keys(left: np.ndarray, right: np.ndarray, right_size: int) -> np.ndarray:
    """One int64 key per pair ``(left[i], right[i])``, equal exactly when the pairs are,
    for ``right`` ids in ``[0, right_size)``: ``left * right_size + right``. All ids here
    are below the number of words, so keys stay below 2**63 for any text that fits in
    memory.

    >>> pair_keys(np.array([0, 1, 1]), np.array([2, 0, 2]), 3).tolist()
    [2, 3, 5]
    """
    return left * right_size + right  # [n_pairs] int64


@dataclass(frozen=True)
class NgramCounts:
    """The distinct values of a sequence of n-gram keys, with their counts."""

    first_position: np.ndarray  # [n_distinct] int64: where each distinct n-gram first occurs
    counts: np.ndarray  # [n_distinct] int64: how often it occurs
    ids: np.ndarray  # [n_positions] int64: which distinct n-gram (0..n_distinct-1) is at each position

    def top(self) -> Tuple[int, int]:
        """``(first position, count)`` of the most frequent n-gram; among equally frequent
        ones, the one that occurs first (the one ``Counter.most_common(1)`` picks)."""
        top_count = self.counts.max()
        return int(self.first_position[self.counts == top_count].min()), int(top_count)


def count_ngrams(keys: np.ndarray) -> NgramCounts:
    """Count int64 ``keys`` (shape [n_positions], at least one) by sorting them.

    >>> counted = count_ngrams(np.array([7, 5, 5, 7, 9]))
    >>> counted.first_position.tolist(), counted.counts.tolist(), counted.ids.tolist()
    ([1, 0, 4], [2, 2, 1], [1, 0, 0, 1, 2])
    >>> counted.top()
    (0, 2)
    """
    order = np.argsort(keys, kind="stable")  # [n_positions]; equal keys stay in text order
    sorted_keys = keys[order]  # [n_positions]
    is_first = np.empty(len(keys), dtype=bool)  # [n_positions]: starts a run of equal keys
    is_first[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=is_first[1:])
    run_starts = np.flatnonzero(is_first)  # [n_distinct]
    ids = np.empty(len(keys), dtype=np.int64)  # [n_positions]
    ids[order] = np.cumsum(is_first) - 1
    return NgramCounts(first_position=order[run_starts],
                       counts=np.diff(run_starts, append=len(keys)), ids=ids)


def ngram_chars_bound(n: int, word_chars: int, bigram_chars: int) -> int:
    """An upper bound on count x characters of any n-gram (n = 2, 3, 4), given upper
    bounds on what one distinct word and one distinct bigram cover: an n-gram occurs at
    most as often as each word and each bigram in it, so it covers at most n times what
    the top word covers, and at most what its halves cover (a 4-gram: two bigrams; a
    3-gram: a bigram and a word).

    >>> [ngram_chars_bound(n, 100, 150) for n in (2, 3, 4)]
    [150, 250, 300]
    """
    halves = {2: bigram_chars, 3: bigram_chars + word_chars, 4: 2 * bigram_chars}
    return min(n * word_chars, halves[n])


class TextView:
    """One document's text with the pieces the rules need, each computed once, word by
    word (``LongTextView`` counts long texts with NumPy instead)."""

    def __init__(self, text: str):
        self.text = text

    @cached_property
    def has_cjk(self) -> bool:
        return has_cjk(self.text)

    @cached_property
    def words(self) -> List[str]:
        """``split_words(text)``."""
        return _CJK_TEXT_WORD.findall(self.text) if self.has_cjk else self.text.split()

    @property
    def n_words(self) -> int:
        return len(self.words)

    @cached_property
    def cjk_word_count(self) -> int:
        """Words that are one CJK character: exactly the CJK characters of the text."""
        return len(_CJK_CHAR.findall(self.text)) if self.has_cjk else 0

    @cached_property
    def word_chars(self) -> int:
        """Characters in all words."""
        return sum(map(len, self.words))

    @cached_property
    def lines(self) -> List[str]:
        """Non-blank lines, stripped."""
        return list(filter(None, map(str.strip, self.text.split("\n"))))

    @cached_property
    def paragraphs(self) -> List[str]:
        """Non-blank blocks separated by blank lines, stripped."""
        return list(filter(None, map(str.strip, _BLANK_LINE.split(self.text))))

    def count_lines_starting_with(self, prefixes: Tuple[str, ...]) -> int:
        r"""How many ``lines`` start with one of ``prefixes`` (none a prefix of another),
        counted in one string of every line's start instead of line by line.

        >>> TextView("• one\n\n  • two\nthree -").count_lines_starting_with(("•", "-"))
        2
        """
        width = max(map(len, prefixes))
        starts = "\n" + "\n".join(map(itemgetter(slice(width)), self.lines))
        return sum(starts.count("\n" + prefix) for prefix in prefixes)

    def count_lines_ending_with(self, suffixes: Tuple[str, ...]) -> int:
        r"""How many ``lines`` end with one of ``suffixes`` (none a suffix of another).

        >>> TextView("wait...\nmore…\n. ..").count_lines_ending_with(("...", "…"))
        2
        """
        width = max(map(len, suffixes))
        ends = "\n".join(map(itemgetter(slice(-width, None)), self.lines)) + "\n"
        return sum(ends.count(suffix + "\n") for suffix in suffixes)

    # --- n-grams ---

    @cached_property
    def ngram_words(self) -> List[str]:
        """Words lowercased and without leading/trailing punctuation, empty ones dropped,
        so that "Buy now!" and "buy now." repeat the same bigram (``ngram_word`` of each
        word; stripping every word by the text's ``edge_punctuation`` gives the same)."""
        if _CAPITAL_I_WITH_DOT in self.text:
            return list(filter(None, map(ngram_word, self.words)))
        lowered = map(str.lower, self.words)
        return list(filter(None, map(str.strip, lowered, repeat(edge_punctuation(self.text)))))

    @property
    def n_ngram_words(self) -> int:
        return len(self.ngram_words)

    @cached_property
    def ngram_chars(self) -> int:
        """Characters in all ngram words."""
        return sum(map(len, self.ngram_words))

    @cached_property
    def min_words_with_letter(self) -> int:
        """A lower bound on ``n_words_with_letter``, cheaper to count: the alphabetic
        (ngram) words surely hold a letter, and are often enough to pass ``alpha_ratio``."""
        return sum(map(str.isalpha, self.ngram_words))

    @cached_property
    def n_words_with_letter(self) -> int:
        """Words holding a letter: the alphabetic ngram words and the others with a letter
        (a word holds a letter exactly when its ngram word does: stripping removes none)."""
        others = filterfalse(str.isalpha, self.ngram_words)
        return self.min_words_with_letter + sum(1 for word in others if _LETTER.search(word))

    @cached_property
    def ngram_word_counts(self) -> Counter:
        """Occurrences of each distinct ngram word, in order of first occurrence."""
        return Counter(self.ngram_words)

    @cached_property
    def top_word_chars(self) -> int:
        """The most characters one distinct ngram word covers (count x length)."""
        word_to_count = self.ngram_word_counts
        return max(map(mul, word_to_count.values(), map(len, word_to_count)), default=0)

    @cached_property
    def ngram_word_ids(self) -> np.ndarray:
        """Each ngram word as the index of its distinct word (int64 [n_ngram_words])."""
        word_to_id = dict(zip(self.ngram_word_counts, range(len(self.ngram_word_counts))))
        return np.fromiter(map(word_to_id.__getitem__, self.ngram_words), dtype=np.int64,
                           count=len(self.ngram_words))

    @cached_property
    def bigram_counts(self) -> NgramCounts:
        """``count_ngrams`` of the bigrams of the ngram words (at least two)."""
        ids = self.ngram_word_ids  # [n_words]
        return count_ngrams(pair_keys(ids[:-1], ids[1:], len(self.ngram_word_counts)))

    @cached_property
    def top_bigram_chars(self) -> int:
        """The most characters one distinct bigram covers (count x characters)."""
        lengths = np.fromiter(map(len, self.ngram_words), dtype=np.int64,
                              count=len(self.ngram_words))  # [n_words]
        bigram_chars = lengths[:-1] + lengths[1:]  # [n_words - 1]
        bigrams = self.bigram_counts
        return int((bigrams.counts * bigram_chars[bigrams.first_position]).max())

    def ngram_chars_bound(self, n: int) -> int:
        """An upper bound on count x characters of any n-gram (n = 2, 3, 4), from
        ``ngram_chars_bound``. Short texts stop at the top word: counting their n-grams
        outright is cheaper than counting bigrams for a bound."""
        if self.n_ngram_words < NUMPY_MIN_WORDS:
            return n * self.top_word_chars
        return ngram_chars_bound(n, self.top_word_chars, self.top_bigram_chars)

    def top_ngram(self, n: int) -> Tuple[List[str], int]:
        """The most frequent n-gram of the ngram words (n = 2, 3, 4; at least n words)
        and its count; among equally frequent ones, the one that occurs first (the one
        ``Counter.most_common(1)`` picks). Short texts count tuples of words; longer
        ones sort integer keys (see ``NgramCounts.top``): a 3-gram is keyed as
        (bigram, word), a 4-gram as (bigram, bigram)."""
        words = self.ngram_words
        if len(words) < NUMPY_MIN_WORDS:
            ngram, count = Counter(zip(*(words[i:] for i in range(n)))).most_common(1)[0]
            return list(ngram), count
        bigrams = self.bigram_counts
        if n == 2:
            first, count = bigrams.top()
        elif n == 3:
            keys = pair_keys(bigrams.ids[:-1], self.ngram_word_ids[2:], len(self.ngram_word_counts))
            first, count = count_ngrams(keys).top()
        else:
            first, count = count_ngrams(pair_keys(bigrams.ids[:-2], bigrams.ids[2:],
                                                  len(bigrams.counts))).top()
        return words[first:first + n], count


# --- long texts: words as spans of code points, counted with NumPy ---

# Below this many characters a text is split word by word (``TextView``): NumPy's fixed
# cost per call outweighs its speed per character.
NUMPY_MIN_CHARS = 2000
# Class flags of a code point (``char_tables``), as the word rules see it.
SPACE, ALNUM, LETTER, CJK = 1, 2, 4, 8
# Odd multipliers that mix a word's length and characters into a 32-bit n-gram key.
_KEY_MULTIPLIERS = np.array([0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1,
                             0xD3A2646C | 1], dtype=np.uint32)


@lru_cache(maxsize=None)
def char_tables() -> Tuple[np.ndarray, bytes, np.ndarray]:
    """Lookup tables over all code points, built on first use (about 0.1 s):

    - class flags (uint8 [0x110000]): ``SPACE`` where ``str.split`` splits, ``ALNUM`` for
      ``str.isalnum``, ``LETTER`` for a letter (``[^\\W\\d_]``), ``CJK`` as in ``_CJK_CHAR``;
    - the same for bytes 0-255, as a ``bytes.translate`` table for ASCII texts;
    - lowercase (uint32 [0x110000]): the code point of ``chr(c).lower()``, with σ for ς
      (``str.lower`` picks either for Σ by context) and a stand-in for "İ" (whose
      lowercase is two characters; ``text_view`` keeps texts holding it word by word).
    """
    every_char = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    classes = np.zeros(0x110000, dtype=np.uint8)
    for flag, pattern in ((SPACE, r"\s"), (ALNUM, r"[^\W_]"), (LETTER, _LETTER.pattern),
                          (CJK, _CJK_CHAR.pattern)):
        for run in re.finditer(f"(?:{pattern})+", every_char):
            classes[run.start():run.end()] |= flag
    one_to_one = every_char.replace(_CAPITAL_I_WITH_DOT, "I").lower()
    lowercase = np.frombuffer(one_to_one.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).copy()
    lowercase[lowercase == ord("ς")] = ord("σ")
    return classes, classes[:256].tobytes(), lowercase


def text_view(text: str) -> "TextView":
    """The view the rules read ``text`` through: ``LongTextView`` from ``NUMPY_MIN_CHARS``
    characters on (unless the text holds "İ"), else ``TextView``."""
    if len(text) >= NUMPY_MIN_CHARS and _CAPITAL_I_WITH_DOT not in text:
        return LongTextView(text)
    return TextView(text)


def _starts_runs(mask: np.ndarray, continues: np.ndarray) -> np.ndarray:
    """Where runs of ``mask`` (bool [n]) start, runs being cut wherever ``continues``
    (bool [n - 1]: position i + 1 may continue i's run) is False: bool [n]."""
    starts = mask.copy()
    starts[1:] &= ~continues
    return starts


def _ends_runs(mask: np.ndarray, continues: np.ndarray) -> np.ndarray:
    """Where runs of ``mask`` end (their last position), as ``_starts_runs``: bool [n]."""
    ends = mask.copy()
    ends[:-1] &= ~continues
    return ends


@dataclass(frozen=True)
class WordSpans:
    """Where the words of a text are, in code points (see ``find_word_spans``)."""

    n_words: int
    word_chars: int  # characters in all words
    ngram_starts: np.ndarray  # [n_ngram_words] int64: first letter or digit of each word holding one
    ngram_ends: np.ndarray  # [n_ngram_words] int64: one past its last letter or digit


def find_word_spans(classes: np.ndarray, has_cjk: bool) -> WordSpans:
    """The words of a text (as ``split_words`` finds them) from the class flags of its
    code points (uint8 [n_chars], see ``char_tables``), without a string per word. The
    span from a word's first to its last letter or digit is its ngram word, lowercased.

    >>> spans = find_word_spans(char_tables()[0][[ord(c) for c in "(GLM) 用GPU训练 ..."]], True)
    >>> spans.n_words, spans.ngram_starts.tolist(), spans.ngram_ends.tolist()
    (6, [1, 6, 7, 10, 11], [4, 7, 10, 11, 12])
    """
    n_chars = len(classes)
    in_word = (classes & SPACE) == 0  # [n_chars]
    # pieces: runs of non-space characters, cut around each CJK character
    may_join = in_word & ((classes & CJK) == 0) if has_cjk else in_word  # [n_chars]
    joined = may_join[:-1] & may_join[1:]  # [n_chars - 1]: i + 1 is in i's piece
    piece_starts = np.flatnonzero(_starts_runs(in_word, joined))  # [n_pieces]
    piece_ends = np.flatnonzero(_ends_runs(in_word, joined)) + 1  # [n_pieces]
    # runs of letters and digits inside a piece; the first and last of each piece bound its ngram word
    alnum = (classes & ALNUM) != 0  # [n_chars]
    alnum_joined = joined & alnum[:-1] & alnum[1:]  # [n_chars - 1]
    run_starts_mask = _starts_runs(alnum, alnum_joined)  # [n_chars]
    run_starts = np.flatnonzero(run_starts_mask)  # [n_runs]
    run_ends = np.flatnonzero(_ends_runs(alnum, alnum_joined)) + 1  # [n_runs]
    runs_before = np.zeros(n_chars + 1, dtype=np.int64)  # [n_chars + 1]: runs starting before i
    np.cumsum(run_starts_mask, out=runs_before[1:])
    first_run, end_run = runs_before[piece_starts], runs_before[piece_ends]  # [n_pieces] each
    has_alnum = end_run > first_run  # [n_pieces]
    if has_cjk:
        # a piece without letters or digits is a word only as a whole token without CJK
        whole_token = (((classes[piece_starts] & CJK) == 0)
                       & ((piece_starts == 0) | ~in_word[piece_starts - 1])
                       & ((piece_ends == n_chars) | ~in_word[np.minimum(piece_ends, n_chars - 1)]))
        is_word = has_alnum | whole_token  # [n_pieces]
        piece_starts, piece_ends = piece_starts[is_word], piece_ends[is_word]  # [n_words]
    return WordSpans(n_words=len(piece_starts), word_chars=int((piece_ends - piece_starts).sum()),
                     ngram_starts=run_starts[first_run[has_alnum]],
                     ngram_ends=run_ends[end_run[has_alnum] - 1])


def top_chars_bound(keys: np.ndarray, chars: np.ndarray) -> int:
    """An upper bound on count x characters of the most covering distinct item, from a
    uint32 key per occurrence that equal items share (distinct ones may too) and its
    characters (int64; the same for all occurrences of an item): items are summed by
    bucket (the top bits of the key), and a bucket holds every occurrence of its items.

    >>> top_chars_bound(np.array([7, 7, 2**31], dtype=np.uint32), np.array([3, 3, 5]))
    6
    """
    bits = int(np.clip(2 + len(keys).bit_length(), 10, 22))  # about 4 buckets per occurrence
    buckets = keys >> np.uint32(32 - bits)  # [n_occurrences]
    return int(np.bincount(buckets, weights=chars).max())  # sums of small ints: exact in float64


class LongTextView(TextView):
    """A ``TextView`` that finds the words of a long text with NumPy over its code points
    (``find_word_spans``) and bounds its top n-grams by hashing its ngram words into
    buckets (``top_chars_bound``); only when a bound could let an n-gram pass its limit
    does ``top_ngram`` count the n-grams exactly, word by word."""

    @cached_property
    def codes(self) -> np.ndarray:
        """Code points (uint8 [n_chars] for ASCII texts, else uint32 [n_chars])."""
        if self.text.isascii():
            return np.frombuffer(self.text.encode("ascii"), dtype=np.uint8)
        return np.frombuffer(self.text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)

    @cached_property
    def classes(self) -> np.ndarray:
        """Class flags of the code points (uint8 [n_chars], see ``char_tables``)."""
        classes, ascii_classes, _ = char_tables()
        if self.text.isascii():
            return np.frombuffer(self.text.encode("ascii").translate(ascii_classes), dtype=np.uint8)
        return classes[self.codes]

    @cached_property
    def spans(self) -> WordSpans:
        return find_word_spans(self.classes, self.has_cjk)

    @property
    def n_words(self) -> int:
        return self.spans.n_words

    @cached_property
    def word_chars(self) -> int:
        return self.spans.word_chars

    @cached_property
    def cjk_word_count(self) -> int:
        return int(np.count_nonzero(self.classes & CJK)) if self.has_cjk else 0

    @property
    def n_ngram_words(self) -> int:
        return len(self.spans.ngram_starts)

    @cached_property
    def ngram_lengths(self) -> np.ndarray:
        """Characters in each ngram word (int64 [n_ngram_words])."""
        return self.spans.ngram_ends - self.spans.ngram_starts

    @cached_property
    def ngram_chars(self) -> int:
        return int(self.ngram_lengths.sum())

    @cached_property
    def min_words_with_letter(self) -> int:
        """Words whose first letter or digit is a letter (a lower bound on those with one)."""
        return int(np.count_nonzero(self.classes[self.spans.ngram_starts] & LETTER))

    @cached_property
    def n_words_with_letter(self) -> int:
        letters_before = np.zeros(len(self.classes) + 1, dtype=np.int64)  # [n_chars + 1]
        np.cumsum((self.classes & LETTER) != 0, out=letters_before[1:])
        starts, ends = self.spans.ngram_starts, self.spans.ngram_ends  # letters lie within these
        return int(np.count_nonzero(letters_before[ends] > letters_before[starts]))

    @cached_property
    def ngram_keys(self) -> np.ndarray:
        """A key per ngram word (uint32 [n_ngram_words]) that equal ngram words share: a
        mix of its length and its first two and last two lowercase characters."""
        lowercase = char_tables()[2]
        starts, ends = self.spans.ngram_starts, self.spans.ngram_ends  # [n_ngram_words] each
        last = ends - 1
        keys = self.ngram_lengths.astype(np.uint32) * _KEY_MULTIPLIERS[0]  # [n_ngram_words]
        for multiplier, at in zip(_KEY_MULTIPLIERS[1:], (starts, np.minimum(starts + 1, last),
                                                          np.maximum(last - 1, starts), last)):
            keys += lowercase[self.codes[at]] * multiplier
        return keys

    @cached_property
    def bucket_bounds(self) -> Tuple[int, int]:
        """Upper bounds on count x characters of the top word and of the top bigram
        (``top_chars_bound``), the same for every n."""
        keys, lengths = self.ngram_keys, self.ngram_lengths  # [n_ngram_words] each
        bigram_keys = keys[:-1] * _KEY_MULTIPLIERS[5] + keys[1:]  # [n_ngram_words - 1]
        return top_chars_bound(keys, lengths), top_chars_bound(bigram_keys, lengths[:-1] + lengths[1:])

    def ngram_chars_bound(self, n: int) -> int:
        """``ngram_chars_bound`` from bucket bounds on the top word and the top bigram."""
        return ngram_chars_bound(n, *self.bucket_bounds)


# --- rules: (view, thresholds...) -> None to pass, or a detail string to reject ---

def too_short(view: TextView, min_words: Optional[int] = MIN_WORDS) -> Optional[str]:
    n_words = view.n_words
    if min_words is not None and n_words < min_words:
        return f"{n_words} words < {min_words}"
    return None


def too_long(view: TextView, max_words: Optional[int] = MAX_WORDS) -> Optional[str]:
    n_words = view.n_words
    if max_words is not None and n_words > max_words:
        return f"{n_words} words > {max_words}"
    return None


def alpha_ratio(view: TextView, min_alpha_ratio: Optional[float] = MIN_ALPHA_RATIO) -> Optional[str]:
    if min_alpha_ratio is None or not view.n_words:
        return None
    if view.min_words_with_letter / view.n_words >= min_alpha_ratio:
        return None  # enough words surely hold a letter: skip counting them exactly
    ratio = view.n_words_with_letter / view.n_words
    if ratio < min_alpha_ratio:
        return f"{ratio:.2f} of words have a letter < {min_alpha_ratio}"
    return None


def mean_word_length(view: TextView,
                     min_mean_word_length: Optional[float] = MIN_MEAN_WORD_LENGTH,
                     max_mean_word_length: Optional[float] = MAX_MEAN_WORD_LENGTH) -> Optional[str]:
    """Mean length of the non-CJK words; skipped when they are under half of the words
    (mostly Chinese text: its few Latin words say nothing about its quality)."""
    n_latin_words = view.n_words - view.cjk_word_count
    if not n_latin_words or 2 * n_latin_words < view.n_words:
        return None
    latin_chars = view.word_chars - view.cjk_word_count
    mean = latin_chars / n_latin_words
    if min_mean_word_length is not None and mean < min_mean_word_length:
        return f"mean word length {mean:.2f} < {min_mean_word_length}"
    if max_mean_word_length is not None and mean > max_mean_word_length:
        return f"mean word length {mean:.2f} > {max_mean_word_length}"
    return None


def symbol_ratio(view: TextView, max_symbol_ratio: Optional[float] = MAX_SYMBOL_RATIO) -> Optional[str]:
    if max_symbol_ratio is None or not view.n_words:
        return None
    n_symbols = view.text.count("#") + sum(view.text.count(ellipsis) for ellipsis in ELLIPSES)
    ratio = n_symbols / view.n_words
    if ratio > max_symbol_ratio:
        return f"{n_symbols} '#'/ellipses per {view.n_words} words = {ratio:.2f} > {max_symbol_ratio}"
    return None


def bullet_lines(view: TextView, max_bullet_lines: Optional[float] = MAX_BULLET_LINES) -> Optional[str]:
    return _line_fraction(view.lines, view.count_lines_starting_with(BULLETS),
                          max_bullet_lines, "start with a bullet")


def ellipsis_lines(view: TextView, max_ellipsis_lines: Optional[float] = MAX_ELLIPSIS_LINES) -> Optional[str]:
    return _line_fraction(view.lines, view.count_lines_ending_with(ELLIPSES),
                          max_ellipsis_lines, "end with an ellipsis")


def duplicate_paragraphs(view: TextView,
                         max_duplicate_paragraph_chars: Optional[float] = MAX_DUPLICATE_PARAGRAPH_CHARS
                         ) -> Optional[str]:
    return _duplicate_chars(view.paragraphs, max_duplicate_paragraph_chars, "paragraphs")


def duplicate_lines(view: TextView,
                    max_duplicate_line_chars: Optional[float] = MAX_DUPLICATE_LINE_CHARS) -> Optional[str]:
    return _duplicate_chars(view.lines, max_duplicate_line_chars, "lines")


def top_ngram_repetition(view: TextView,
                         max_top_2gram_chars: Optional[float] = MAX_TOP_2GRAM_CHARS,
                         max_top_3gram_chars: Optional[float] = MAX_TOP_3GRAM_CHARS,
                         max_top_4gram_chars: Optional[float] = MAX_TOP_4GRAM_CHARS) -> Optional[str]:
    """Gopher's top n-gram coverage: characters in all occurrences of the most frequent
    n-gram (of ``TextView.ngram_words``) over characters in all words."""
    total_chars = view.ngram_chars
    limits = ((2, max_top_2gram_chars), (3, max_top_3gram_chars), (4, max_top_4gram_chars))
    for n, limit in limits:
        if limit is None or view.n_ngram_words < n or not total_chars:
            continue
        if view.ngram_chars_bound(n) / total_chars <= limit:
            continue  # no n-gram can cover enough characters: skip counting them
        ngram, count = view.top_ngram(n)
        if count < 2:
            continue
        coverage = count * sum(map(len, ngram)) / total_chars
        if coverage > limit:
            shown = " ".join(ngram) if not all(map(is_cjk_word, ngram)) else "".join(ngram)
            return f"top {n}-gram {shown!r} x{count} covers {coverage:.2f} of characters > {limit}"
    return None


def _line_fraction(lines: List[str], n_matching: int,
                   limit: Optional[float], what: str) -> Optional[str]:
    if limit is None or not lines:
        return None
    fraction = n_matching / len(lines)
    if fraction > limit:
        return f"{fraction:.2f} of {len(lines)} lines {what} > {limit}"
    return None


def _duplicate_chars(items: List[str], limit: Optional[float], what: str) -> Optional[str]:
    """Characters in the second and later occurrences of an item, over all characters."""
    if limit is None:
        return None
    total_chars = sum(map(len, items))
    duplicate_chars = total_chars - sum(map(len, set(items)))
    if total_chars and duplicate_chars / total_chars > limit:
        return f"{duplicate_chars / total_chars:.2f} of characters in repeated {what} > {limit}"
    return None


@dataclass(frozen=True)
class Rule:
    """A rule function, its reject reason and the ``FilterOptions`` fields it takes
    (passed as keyword arguments of the same name)."""

    reason: str
    check: Callable[..., Optional[str]]
    option_fields: Tuple[str, ...]
    is_ratio: bool  # only applied to texts of at least ratio_rules_min_words words


RULES: Tuple[Rule, ...] = (
    Rule("too_short", too_short, ("min_words",), False),
    Rule("too_long", too_long, ("max_words",), False),
    Rule("alpha_ratio", alpha_ratio, ("min_alpha_ratio",), True),
    Rule("mean_word_length", mean_word_length, ("min_mean_word_length", "max_mean_word_length"), True),
    Rule("symbol_ratio", symbol_ratio, ("max_symbol_ratio",), True),
    Rule("bullet_lines", bullet_lines, ("max_bullet_lines",), True),
    Rule("ellipsis_lines", ellipsis_lines, ("max_ellipsis_lines",), True),
    Rule("duplicate_paragraphs", duplicate_paragraphs, ("max_duplicate_paragraph_chars",), True),
    Rule("duplicate_lines", duplicate_lines, ("max_duplicate_line_chars",), True),
    Rule("top_ngram_repetition", top_ngram_repetition,
         ("max_top_2gram_chars", "max_top_3gram_chars", "max_top_4gram_chars"), True),
)
FILTER_REASONS = tuple(rule.reason for rule in RULES)


def _option(default, help_text: str):
    """A threshold option: ``--<field-name> N``, or ``none`` to turn it off."""
    kind = int if isinstance(default, int) else float
    return option(default, f"{help_text}; 'none' turns it off", parse=number_or_none(kind))


@dataclass(frozen=True)
class FilterOptions:
    """Every quality threshold; None turns a rule (or one bound of it) off.
    Why each default: see the module constants."""

    # --no-<reason> turns a rule off: every field it takes becomes None
    SWITCHES = tuple(Switch("--no-" + rule.reason.replace("_", "-"), f"turn off the {rule.reason} rule",
                            dict.fromkeys(rule.option_fields)) for rule in RULES)

    min_words: Optional[int] = _option(MIN_WORDS, "reject texts with fewer words (too_short)")
    max_words: Optional[int] = _option(MAX_WORDS, "reject texts with more words (too_long)")
    ratio_rules_min_words: Optional[int] = _option(
        RATIO_RULES_MIN_WORDS, "apply the ratio rules (all but too_short/too_long) only to "
                               "texts with at least this many words; none = to every text")
    min_alpha_ratio: Optional[float] = _option(
        MIN_ALPHA_RATIO, "reject when a smaller fraction of words hold a letter (alpha_ratio)")
    min_mean_word_length: Optional[float] = _option(
        MIN_MEAN_WORD_LENGTH, "reject when non-CJK words are shorter on average (mean_word_length)")
    max_mean_word_length: Optional[float] = _option(
        MAX_MEAN_WORD_LENGTH, "reject when non-CJK words are longer on average (mean_word_length)")
    max_symbol_ratio: Optional[float] = _option(
        MAX_SYMBOL_RATIO, "reject when there are more '#' and ellipses per word (symbol_ratio)")
    max_bullet_lines: Optional[float] = _option(
        MAX_BULLET_LINES, "reject when a larger fraction of lines start with a bullet (bullet_lines)")
    max_ellipsis_lines: Optional[float] = _option(
        MAX_ELLIPSIS_LINES, "reject when a larger fraction of lines end with an ellipsis (ellipsis_lines)")
    max_duplicate_paragraph_chars: Optional[float] = _option(
        MAX_DUPLICATE_PARAGRAPH_CHARS,
        "reject when a larger fraction of characters are in repeated paragraphs (duplicate_paragraphs)")
    max_duplicate_line_chars: Optional[float] = _option(
        MAX_DUPLICATE_LINE_CHARS,
        "reject when a larger fraction of characters are in repeated lines (duplicate_lines)")
    max_top_2gram_chars: Optional[float] = _option(
        MAX_TOP_2GRAM_CHARS, "reject when the most frequent 2-gram covers a larger fraction "
                             "of characters (top_ngram_repetition)")
    max_top_3gram_chars: Optional[float] = _option(
        MAX_TOP_3GRAM_CHARS, "same for the most frequent 3-gram (top_ngram_repetition)")
    max_top_4gram_chars: Optional[float] = _option(
        MAX_TOP_4GRAM_CHARS, "same for the most frequent 4-gram (top_ngram_repetition)")

    def __post_init__(self):
        for threshold in dataclasses.fields(self):
            value = getattr(self, threshold.name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or value < 0):
                raise ValueError(f"filter option {threshold.name} must be a non-negative number "
                                 f"or None, got {value!r}")
        for low, high in (("min_words", "max_words"),
                          ("min_mean_word_length", "max_mean_word_length")):
            low_value, high_value = getattr(self, low), getattr(self, high)
            if low_value is not None and high_value is not None and low_value > high_value:
                raise ValueError(f"filter option {low}={low_value} is above {high}={high_value}")


class QualityFilter:
    """Runs the enabled rules of ``RULES`` in order; the first one that fires decides.

    >>> QualityFilter().check("Too short.")
    ('too_short', '2 words < 5')
    >>> QualityFilter(FilterOptions(min_words=None)).check("Too short.") is None
    True
    """

    def __init__(self, options: Optional[FilterOptions] = None):
        self.options = options or FilterOptions()
        self._rules: List[Tuple[Rule, Dict[str, Any]]] = []
        for rule in RULES:
            kwargs = {name: getattr(self.options, name) for name in rule.option_fields}
            if any(value is not None for value in kwargs.values()):
                self._rules.append((rule, kwargs))
        self._length_rules = [(rule, kwargs) for rule, kwargs in self._rules if not rule.is_ratio]
        self._ratio_rules = [(rule, kwargs) for rule, kwargs in self._rules if rule.is_ratio]

    @property
    def reasons(self) -> Tuple[str, ...]:
        """Reasons of the enabled rules, in checking order."""
        return tuple(rule.reason for rule, _ in self._rules)

    def check(self, text: str) -> Optional[Tuple[str, str]]:
        """None when ``text`` passes every enabled rule, else ``(reason, detail)``."""
        view = text_view(text)
        verdict = _first_rejection(view, self._length_rules)
        if verdict is not None or not self._ratio_rules:
            return verdict
        min_words = self.options.ratio_rules_min_words
        if min_words is not None and view.n_words < min_words:
            return None
        return _first_rejection(view, self._ratio_rules)


def _first_rejection(view: TextView, rules: List[Tuple[Rule, Dict[str, Any]]]
                     ) -> Optional[Tuple[str, str]]:
    for rule, kwargs in rules:
        detail = rule.check(view, **kwargs)
        if detail is not None:
            return rule.reason, detail
    return None


# --- command line ---

def add_filter_arguments(parser) -> None:
    """Add one ``--<option-name>`` per ``FilterOptions`` field and one ``--no-<reason>``
    per rule to an argparse-style parser (also Beam's ``_add_argparse_args`` parser)."""
    add_option_arguments(parser, FilterOptions, "quality filters")


def filter_options_from(source: Union[argparse.Namespace, Mapping[str, Any], Any]) -> FilterOptions:
    """``FilterOptions`` from parsed arguments (a Namespace, Beam ``PipelineOptions`` or
    a dict). Missing fields keep their defaults; strings such as "none" or "0.3" are
    parsed; ``no_<reason>=True`` turns that rule off. Other keys are ignored."""
    return build(FilterOptions, source)
