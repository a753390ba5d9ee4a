"""What a word is, for the quality rules: the characters, the splitting, the n-gram form.

A whitespace-separated token is a word, except that in Chinese and Japanese, which do not
put spaces between words, every CJK ideograph or kana (``glmprep.schemas.cjk``,
``CJK_LETTER_RANGES``) is a word of its own; the non-CJK runs glued to CJK characters
count as words only when they hold a letter or digit. A word's *ngram word* is the word
lowercased without leading/trailing punctuation. Two ways to find words, which agree:
``split_words`` (strings, word by word) and ``find_word_spans`` (positions, with NumPy
over the code points' class flags from ``char_tables``).

Every pattern here is linear in the text: character classes, possessive quantifiers, and
searches instead of anchored runs that could backtrack (see ``ngram_word``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from typing import Iterator, List, Optional, Tuple

import numpy as np

from glmprep.core.text_pieces import piece_end
from glmprep.schemas.cjk import CJK_LETTER_RANGES, char_class

# Chinese ideographs and Japanese kana: the letters that are each a word (glmprep.schemas.cjk).
_CJK_RANGES = char_class(CJK_LETTER_RANGES)
CJK_CHAR = re.compile(f"[{_CJK_RANGES}]")
# The words of a text holding CJK characters, in one pass: an alphanumeric CJK
# character; a whole whitespace-separated token without CJK; or, inside a token with
# CJK, a maximal non-CJK run that holds a letter or digit. Possessive quantifiers and
# the lookbehinds (a match starts only where a token or a run starts) keep it linear.
CJK_TEXT_WORD = re.compile(
    rf"[{_CJK_RANGES}](?<=[^\W_])"
    rf"|(?<!\S)[^\s{_CJK_RANGES}]++(?!\S)"
    rf"|(?<![^\s{_CJK_RANGES}])(?:[^\w\s{_CJK_RANGES}]|_)*+[^\W_{_CJK_RANGES}][^\s{_CJK_RANGES}]*+")
LETTER_CHAR = re.compile(r"[^\W\d_]")
# A letter or digit (str.isalnum). Searched for, never matched in runs: a pattern such as
# "[\W_]+$" restarts at every character of a punctuation run and backtracks over the rest
# of it, which is quadratic in the run's length (a word "a!!!…!a!" of 32k characters took
# 27 s; ngram_word finds the first and last letter or digit with two searches instead).
_ALNUM = re.compile(r"[^\W_]")
BLANK_LINE = re.compile(r"\n[ \t]*\n")
# Characters that are not alphanumeric ([\W_]): all of ASCII's, and a pattern for the rest.
_ASCII_NON_ALNUM = "".join(char for char in map(chr, range(128)) if not char.isalnum())
_NON_ASCII_NON_ALNUM = re.compile(r"[^\w\x00-\x7f]")
# The one character whose lowercase ends in a non-alphanumeric character ("İ" -> "i̇",
# a combining dot): ngram words keep that dot unless the word had punctuation to strip.
CAPITAL_I_WITH_DOT = "\u0130"
# Class flags of a code point (``char_tables``), as the word rules see it.
SPACE, ALNUM, LETTER, CJK = 1, 2, 4, 8


def split_words(text: str, cjk: Optional[bool] = None) -> List[str]:
    """Words as the rules count them (see the module docstring); ``cjk``: whether the
    text holds a CJK character, when the caller knows (``has_cjk(text)`` otherwise).

    >>> split_words("GLM infills blanks. 我们去公园，好吗？")
    ['GLM', 'infills', 'blanks.', '我', '们', '去', '公', '园', '好', '吗']
    >>> split_words("第3章 A4纸")
    ['第', '3', '章', 'A4', '纸']
    """
    if cjk is None:
        cjk = has_cjk(text)
    return CJK_TEXT_WORD.findall(text) if cjk else text.split()


def has_cjk(text: str) -> bool:
    """True when ``text`` holds a CJK character (``str.isascii`` answers at once for ASCII).

    >>> has_cjk("GLM"), has_cjk("GLM 模型")
    (False, True)
    """
    return not text.isascii() and CJK_CHAR.search(text) is not None


def is_cjk_word(word: str) -> bool:
    """True for a word that is one CJK character (as produced by ``split_words``)."""
    return CJK_CHAR.match(word) is not None


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


def ngram_words(words: List[str], text: str) -> List[str]:
    """The ngram words of ``words``, the words of ``text`` (or of a piece of it), empty
    ones dropped: ``ngram_word`` of each word; stripping every word by the text's
    ``edge_punctuation`` gives the same, faster, unless the text holds "İ".

    >>> ngram_words(["Buy", "now!", "..."], "Buy now! ...")
    ['buy', 'now']
    """
    if CAPITAL_I_WITH_DOT in text:
        return list(filter(None, map(ngram_word, words)))
    return list(filter(None, map(str.strip, map(str.lower, words), repeat(edge_punctuation(text)))))


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


@lru_cache(maxsize=None)
def char_tables() -> Tuple[np.ndarray, bytes, np.ndarray]:
    """Lookup tables over all code points, built on first use (about 0.1 s):

    - class flags (uint8 [0x110000]): ``SPACE`` where ``str.split`` splits, ``ALNUM`` for
      ``str.isalnum``, ``LETTER`` for a letter (``[^\\W\\d_]``), ``CJK`` as in ``CJK_CHAR``;
    - the same for bytes 0-255, as a ``bytes.translate`` table for ASCII texts;
    - lowercase (uint32 [0x110000]): the code point of ``chr(c).lower()``, with σ for ς
      (``str.lower`` picks either for Σ by context) and a stand-in for "İ" (whose
      lowercase is two characters; ``text_view`` keeps texts holding it word by word).
    """
    every_char = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    classes = np.zeros(0x110000, dtype=np.uint8)
    for flag, pattern in ((SPACE, r"\s"), (ALNUM, r"[^\W_]"), (LETTER, LETTER_CHAR.pattern),
                          (CJK, CJK_CHAR.pattern)):
        for run in re.finditer(f"(?:{pattern})+", every_char):
            classes[run.start():run.end()] |= flag
    one_to_one = every_char.replace(CAPITAL_I_WITH_DOT, "I").lower()
    lowercase = np.frombuffer(one_to_one.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).copy()
    lowercase[lowercase == ord("ς")] = ord("σ")
    return classes, classes[:256].tobytes(), lowercase


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


def text_codes(text: str) -> np.ndarray:
    """Code points of ``text``: uint8 [n_chars] when it is ASCII, else uint32 [n_chars]."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def text_classes(text: str, codes: Optional[np.ndarray] = None) -> np.ndarray:
    """Class flags of the code points of ``text`` (uint8 [n_chars], see ``char_tables``);
    ``codes``: its ``text_codes``, when the caller has them."""
    classes, ascii_classes, _ = char_tables()
    if text.isascii():
        return np.frombuffer(text.encode("ascii").translate(ascii_classes), dtype=np.uint8)
    return classes[text_codes(text) if codes is None else codes]


def piece_bounds(text: str, size: int) -> Iterator[Tuple[int, int]]:
    """``(lo, hi)`` of consecutive pieces of ``text`` of about ``size`` characters, each
    ending just after a space or a CJK character (or at the end of the text): no word
    continues past either, so the pieces hold the words of the text (``piece_words``,
    ``find_word_spans`` with ``piece_follows_word``).

    >>> list(piece_bounds("ab cd 中文ef", 4))
    [(0, 3), (3, 7), (7, 10)]
    """
    def boundaries(a: int, b: int) -> np.ndarray:
        return np.flatnonzero(text_classes(text[a:b]) & (SPACE | CJK)) + a

    lo = 0
    while lo < len(text):
        hi = piece_end(len(text), lo, size, boundaries)
        yield lo, hi
        lo = hi


def piece_words(text: str, lo: int, hi: int, cjk: bool) -> List[str]:
    """``split_words`` of the piece ``text[lo:hi]`` (from ``piece_bounds``): the words of
    ``text`` that lie there (the pattern looks behind ``lo`` into the text).

    >>> [piece_words("中.文 ab", lo, hi, True) for lo, hi in piece_bounds("中.文 ab", 1)]
    [['中'], ['文'], [], ['ab']]
    """
    return CJK_TEXT_WORD.findall(text, lo, hi) if cjk else text[lo:hi].split()


def piece_follows_word(text: str, lo: int) -> bool:
    """Whether the piece of ``text`` that starts at ``lo`` follows a word's character
    (a CJK character: the piece before it ends there), for ``find_word_spans``."""
    return lo > 0 and not char_tables()[0][ord(text[lo - 1])] & SPACE


@dataclass(frozen=True)
class RunWord:
    """What ``find_word_spans`` finds of a run of characters longer than a piece (``run_word``)."""

    is_word: bool
    chars: int
    ngram_start: int  # first letter or digit, in the text's positions; -1 when there is none
    ngram_end: int  # one past its last letter or digit; -1 when there is none
    holds_letter: bool


def run_word(text: str, lo: int, hi: int, has_cjk: bool, chunk: int) -> RunWord:
    """The word ``text[lo:hi]`` is, a run of characters without a space or a CJK character
    that starts a piece (``piece_bounds``) and ends before a space, a CJK character or the
    end of the text (a piece that long is such a run and the character after it), as
    ``find_word_spans`` would find it, with class flags of ``chunk`` characters at a time.
    Without CJK in the text it is a word; with, only when it holds a letter or digit or
    is a whole token.

    >>> run_word("中.ab!! x", 1, 6, True, 2)
    RunWord(is_word=True, chars=5, ngram_start=2, ngram_end=4, holds_letter=True)
    """
    first, last, holds_letter = -1, -1, False
    for a in range(lo, hi, chunk):
        classes = text_classes(text[a:min(a + chunk, hi)])  # [<= chunk]
        alnum = np.flatnonzero(classes & ALNUM)  # [n_alnum]
        if len(alnum):
            first = a + int(alnum[0]) if first < 0 else first
            last = a + int(alnum[-1])
        holds_letter = holds_letter or bool(np.any(classes & LETTER))
    ends_token = hi == len(text) or bool(char_tables()[0][ord(text[hi])] & SPACE)
    whole_token = not piece_follows_word(text, lo) and ends_token
    return RunWord(is_word=not has_cjk or first >= 0 or whole_token, chars=hi - lo, ngram_start=first,
                   ngram_end=last + 1 if last >= 0 else -1, holds_letter=holds_letter)


def find_word_spans(classes: np.ndarray, has_cjk: bool, follows_word: bool = False) -> WordSpans:
    """The words of a text (as ``split_words`` finds them) from the class flags of its
    code points (uint8 [n_chars], see ``char_tables``), without a string per word. The
    span from a word's first to its last letter or digit is its ngram word, lowercased.
    For a piece of a text (``piece_bounds``): ``follows_word`` from ``piece_follows_word``,
    and positions are the piece's.

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
                       & np.where(piece_starts == 0, not follows_word, ~in_word[piece_starts - 1])
                       & ((piece_ends == n_chars) | ~in_word[np.minimum(piece_ends, n_chars - 1)]))
        is_word = has_alnum | whole_token  # [n_pieces]
        piece_starts, piece_ends = piece_starts[is_word], piece_ends[is_word]  # [n_words]
    return WordSpans(n_words=len(piece_starts), word_chars=int((piece_ends - piece_starts).sum()),
                     ngram_starts=run_starts[first_run[has_alnum]],
                     ngram_ends=run_ends[end_run[has_alnum] - 1])
