"""What the quality rules count of a long text, a piece of it at a time (``LongTextView``).

A piece (``piece_bounds``) is read with NumPy as a ``TextPiece``: its code points, class
flags and word spans. A run of characters longer than a piece, without a space or a CJK
character (minified code, base64), is one word at most: it is a ``RunPiece``, its word's
facts found a piece at a time (``run_word``), so no array spans the whole run. Both kinds
answer the same questions (``counts``, ``words_with_letter``, ``ngram_word_keys``), which
the functions below sum over a text.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterable, Iterator, List, Tuple, Union

import numpy as np

from glmprep.core.ngram_counts import TopCharsBound
from glmprep.core.words import (CJK, LETTER, SPACE, RunWord, WordSpans, char_tables, find_word_spans, piece_bounds,
                                piece_follows_word, run_word, text_classes, text_codes)

# Odd multipliers that mix a word's length and characters into a 32-bit n-gram key.
_KEY_MULTIPLIERS = np.array([0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1,
                             0xD3A2646C | 1], dtype=np.uint32)


@dataclass(frozen=True)
class LongTextCounts:
    """What the rules need of a long text's words, summed over its pieces."""

    n_words: int
    word_chars: int
    cjk_word_count: int
    n_ngram_words: int
    ngram_chars: int
    min_words_with_letter: int  # ngram words whose first letter or digit is a letter


@dataclass(frozen=True)
class TextPiece:
    """One piece of a long text (``piece_bounds``) as NumPy sees it."""

    codes: np.ndarray  # [n_chars] code points (``text_codes``)
    classes: np.ndarray  # [n_chars] uint8 class flags
    spans: WordSpans  # its words, in the piece's positions

    def counts(self, has_cjk: bool) -> LongTextCounts:
        spans = self.spans
        return LongTextCounts(
            n_words=spans.n_words, word_chars=spans.word_chars,
            cjk_word_count=int(np.count_nonzero(self.classes & CJK)) if has_cjk else 0,
            n_ngram_words=len(spans.ngram_starts), ngram_chars=int((spans.ngram_ends - spans.ngram_starts).sum()),
            min_words_with_letter=int(np.count_nonzero(self.classes[spans.ngram_starts] & LETTER)))

    def words_with_letter(self) -> int:
        """Words holding a letter: a word's letters lie within its ngram word."""
        letters_before = np.zeros(len(self.classes) + 1, dtype=np.int64)  # [n_chars + 1]
        np.cumsum((self.classes & LETTER) != 0, out=letters_before[1:])
        starts, ends = self.spans.ngram_starts, self.spans.ngram_ends
        return int(np.count_nonzero(letters_before[ends] > letters_before[starts]))

    def ngram_word_keys(self) -> Tuple[np.ndarray, np.ndarray]:
        """``ngram_word_keys`` and lengths of the piece's ngram words."""
        starts, ends = self.spans.ngram_starts, self.spans.ngram_ends  # [n_ngram_words] each
        lengths, last = ends - starts, ends - 1  # [n_ngram_words] each
        edges = (starts, np.minimum(starts + 1, last), np.maximum(last - 1, starts), last)
        return ngram_word_keys(lengths, [self.codes[at] for at in edges]), lengths


@dataclass(frozen=True)
class RunPiece:
    """A run of characters longer than a piece of a long text, without a space or a CJK
    character (minified code, base64): one word at most (``run_word``), found a piece at
    a time; the code points of its ngram word's edges are all its keys need."""

    word: RunWord
    edge_codes: Tuple[int, int, int, int]  # of its ngram word's characters 0, 1, -2, -1 (as TextPiece's keys)

    def counts(self, has_cjk: bool) -> LongTextCounts:
        word, ngram = self.word, int(self.word.ngram_start >= 0)
        return LongTextCounts(n_words=int(word.is_word), word_chars=word.chars if word.is_word else 0,
                              cjk_word_count=0, n_ngram_words=ngram, ngram_chars=word.ngram_end - word.ngram_start,
                              min_words_with_letter=ngram and int(bool(char_tables()[0][self.edge_codes[0]] & LETTER)))

    def words_with_letter(self) -> int:
        return int(self.word.holds_letter)

    def ngram_word_keys(self) -> Tuple[np.ndarray, np.ndarray]:
        if self.word.ngram_start < 0:
            return np.empty(0, np.uint32), np.empty(0, np.int64)
        lengths = np.array([self.word.ngram_end - self.word.ngram_start])  # [1]
        return ngram_word_keys(lengths, [np.array([code], np.uint32) for code in self.edge_codes]), lengths


Piece = Union[TextPiece, RunPiece]


def ngram_word_keys(lengths: np.ndarray, edge_codes: List[np.ndarray]) -> np.ndarray:
    """A uint32 key per ngram word that equal ngram words share: a mix of its length
    (int64 [n]) and its first two and last two characters lowercased (``edge_codes``:
    four uint32 [n] arrays of code points)."""
    lowercase = char_tables()[2]
    keys = lengths.astype(np.uint32) * _KEY_MULTIPLIERS[0]  # [n]
    for multiplier, codes in zip(_KEY_MULTIPLIERS[1:], edge_codes):
        keys += lowercase[codes] * multiplier
    return keys


def text_pieces(text: str, has_cjk: bool, size: int) -> Iterator[Piece]:
    """The ``TextPiece`` of each piece of about ``size`` characters of ``text``, one at a time; a
    longer piece (``piece_bounds``: a run without a boundary and the boundary after it)
    gives a ``RunPiece`` of the run, then a ``TextPiece`` of that boundary."""
    for lo, hi in piece_bounds(text, size):
        if hi - lo > size:
            run_end = hi - 1 if char_tables()[0][ord(text[hi - 1])] & (SPACE | CJK) else hi
            yield run_piece(text, lo, run_end, has_cjk, size)
            lo = run_end
        if lo < hi:
            piece = text[lo:hi]
            codes = text_codes(piece)  # [n_chars]
            classes = text_classes(piece, codes)  # [n_chars]
            yield TextPiece(codes, classes, find_word_spans(classes, has_cjk, piece_follows_word(text, lo)))


def run_piece(text: str, lo: int, hi: int, has_cjk: bool, size: int) -> RunPiece:
    """The ``RunPiece`` of the run ``text[lo:hi]`` (``run_word``, ``size`` characters at a time)."""
    word = run_word(text, lo, hi, has_cjk, size)
    first, last = word.ngram_start, word.ngram_end - 1
    edges = (first, min(first + 1, last), max(last - 1, first), last)
    return RunPiece(word, tuple(ord(text[at]) for at in edges) if first >= 0 else (0, 0, 0, 0))


def count_long_text(pieces: Iterable[Piece], has_cjk: bool) -> LongTextCounts:
    """``LongTextCounts`` of a text from its pieces."""
    sums = dict.fromkeys((f.name for f in fields(LongTextCounts)), 0)
    for piece in pieces:
        counts = piece.counts(has_cjk)
        for name in sums:
            sums[name] += getattr(counts, name)
    return LongTextCounts(**sums)


def count_words_with_letter(pieces: Iterable[Piece]) -> int:
    """Words holding a letter, from a text's pieces."""
    return sum(piece.words_with_letter() for piece in pieces)


def bound_top_word_and_bigram(pieces: Iterable[Piece], n_words: int) -> Tuple[int, int]:
    """Upper bounds on count x characters of a text's top ngram word and top bigram
    (``TopCharsBound``), from its pieces and its number of ngram words, by the
    ``ngram_word_keys`` of the words."""
    word_bound, bigram_bound = TopCharsBound(n_words), TopCharsBound(n_words)
    last_key, last_length = np.empty(0, np.uint32), np.empty(0, np.int64)  # the previous piece's last word
    for piece in pieces:
        keys, lengths = piece.ngram_word_keys()  # [n_ngram_words] each
        word_bound.add(keys, lengths)
        if len(last_key):  # the bigram across the pieces' border
            keys, lengths = np.concatenate((last_key, keys)), np.concatenate((last_length, lengths))
        bigram_bound.add(keys[:-1] * _KEY_MULTIPLIERS[5] + keys[1:], lengths[:-1] + lengths[1:])
        if len(keys):
            last_key, last_length = keys[-1:], lengths[-1:]
    return word_bound.value(), bigram_bound.value()
