"""What the rules read a document through: ``TextView`` (word by word) and
``LongTextView`` (NumPy over the code points, a piece of the text at a time:
``piece_counts``), each value computed once and only when a rule asks for it;
``text_view`` picks one. Both give the same numbers (the tests compare them with a slow
reference).
"""
from __future__ import annotations

from collections import Counter
from itertools import filterfalse
from operator import mul
from typing import Dict, Iterable, Iterator, List, Optional, Pattern, Set, Tuple

import numpy as np

from glmprep.core.line_counts import ItemCounts, ItemPieces, count_items, count_items_in_pieces
from glmprep.core.ngram_counts import NgramCounts, count_ngrams, ngram_chars_bound, pair_keys, top_window
from glmprep.core.piece_counts import (LongTextCounts, Piece, bound_top_word_and_bigram, count_long_text,
                                      count_words_with_letter, text_pieces)
from glmprep.core.words import (BLANK_LINE, CAPITAL_I_WITH_DOT, CJK_CHAR, LETTER_CHAR, has_cjk, ngram_words,
                                piece_bounds, piece_words, split_words)

# Below this many ngram words, n-grams are counted as tuples in a Counter: NumPy's fixed
# cost per call (tens of microseconds per document) outweighs its speed per word.
NUMPY_MIN_WORDS = 500
# Below this many characters a text is split word by word (``TextView``): NumPy's fixed
# cost per call outweighs its speed per character.
NUMPY_MIN_CHARS = 2000
# Characters of a long text read at a time with NumPy (``count_long_text``): a pass over a
# piece holds about 40 bytes a character.
PIECE_CHARS = 1 << 20
# Characters of a long text split into word strings at a time when its n-grams are
# counted exactly: bounds the lists of one piece's words (about 100 bytes a word).
STRING_PIECE_CHARS = 1 << 16


class computed_once:
    """``functools.cached_property`` without its lock: a method whose value, computed on
    first access, is kept in the instance's ``__dict__``. Python 3.11's cached_property
    takes a lock on every first access (about 1 us); a view computes a dozen values per
    document and belongs to one thread. On the fortunes corpora's documents of 50 words
    and more (the ratio rules' texts), the lock took about an eighth of the filters' time."""

    def __init__(self, method):
        self.method = method
        self.__doc__ = method.__doc__

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.method(instance)
        return value


def text_view(text: str) -> "TextView":
    """The view the rules read ``text`` through: ``LongTextView`` from ``NUMPY_MIN_CHARS``
    characters on (unless the text holds "İ"), else ``TextView``."""
    if len(text) >= NUMPY_MIN_CHARS and CAPITAL_I_WITH_DOT not in text:
        return LongTextView(text)
    return TextView(text)


class TextView:
    """One document's text with the pieces the rules need, each computed once, word by
    word (``LongTextView`` counts long texts with NumPy instead)."""

    def __init__(self, text: str):
        self.text = text

    @computed_once
    def has_cjk(self) -> bool:
        return has_cjk(self.text)

    @computed_once
    def words(self) -> List[str]:
        return split_words(self.text, self.has_cjk)

    @property
    def n_words(self) -> int:
        return len(self.words)

    @computed_once
    def cjk_word_count(self) -> int:
        """Words that are one CJK character: exactly the CJK characters of the text."""
        return len(CJK_CHAR.findall(self.text)) if self.has_cjk else 0

    @computed_once
    def word_chars(self) -> int:
        """Characters in all words."""
        return sum(map(len, self.words))

    @computed_once
    def lines(self) -> List[str]:
        """Non-blank lines, stripped."""
        return list(filter(None, map(str.strip, self.text.split("\n"))))

    @computed_once
    def paragraphs(self) -> List[str]:
        """Non-blank blocks separated by blank lines, stripped."""
        return list(filter(None, map(str.strip, BLANK_LINE.split(self.text))))

    def line_counts(self, prefixes: Tuple[str, ...], suffixes: Tuple[str, ...]) -> ItemCounts:
        r"""``ItemCounts`` of the ``lines``, counting those that start with one of
        ``prefixes`` or end with one of ``suffixes`` (none a prefix, or a suffix, of another).

        >>> TextView("• one\n\n  • two\nwait...\n• one").line_counts(("•",), ("...",))
        ItemCounts(n_items=4, chars=22, distinct_chars=17, n_starting=3, n_ending=1)
        """
        key = ("lines", prefixes, suffixes)
        if key not in self._item_counts:
            self._item_counts[key] = self._count_lines(prefixes, suffixes)
        return self._item_counts[key]

    def paragraph_counts(self) -> ItemCounts:
        """``ItemCounts`` of the ``paragraphs``."""
        if "paragraphs" not in self._item_counts:
            self._item_counts["paragraphs"] = self._count_paragraphs()
        return self._item_counts["paragraphs"]

    @computed_once
    def _item_counts(self) -> Dict[object, ItemCounts]:
        return {}

    def _count_lines(self, prefixes: Tuple[str, ...], suffixes: Tuple[str, ...]) -> ItemCounts:
        return count_items(self.lines, prefixes, suffixes)

    def _count_paragraphs(self) -> ItemCounts:
        return count_items(self.paragraphs)

    # --- n-grams ---

    @computed_once
    def ngram_words(self) -> List[str]:
        """Words lowercased and without leading/trailing punctuation, empty ones dropped,
        so that "Buy now!" and "buy now." repeat the same bigram (``ngram_words``)."""
        return ngram_words(self.words, self.text)

    @property
    def n_ngram_words(self) -> int:
        return len(self.ngram_words)

    @computed_once
    def ngram_chars(self) -> int:
        """Characters in all ngram words."""
        return sum(map(len, self.ngram_words))

    @computed_once
    def min_words_with_letter(self) -> int:
        """A lower bound on ``n_words_with_letter``, cheaper to count: the alphabetic
        (ngram) words surely hold a letter, and are often enough to pass ``alpha_ratio``."""
        return sum(map(str.isalpha, self.ngram_words))

    @computed_once
    def n_words_with_letter(self) -> int:
        """Words holding a letter: the alphabetic ngram words and the others with a letter
        (a word holds a letter exactly when its ngram word does: stripping removes none)."""
        others = filterfalse(str.isalpha, self.ngram_words)
        return self.min_words_with_letter + sum(1 for word in others if LETTER_CHAR.search(word))

    @computed_once
    def ngram_word_counts(self) -> Counter:
        """Occurrences of each distinct ngram word, in order of first occurrence."""
        return Counter(self.ngram_words)

    @computed_once
    def top_word_chars(self) -> int:
        """The most characters one distinct ngram word covers (count x length)."""
        word_to_count = self.ngram_word_counts
        return max(map(mul, word_to_count.values(), map(len, word_to_count)), default=0)

    @computed_once
    def ngram_word_ids(self) -> np.ndarray:
        """Each ngram word as the index of its distinct word (int64 [n_ngram_words])."""
        word_to_id = dict(zip(self.ngram_word_counts, range(len(self.ngram_word_counts))))
        return np.fromiter(map(word_to_id.__getitem__, self.ngram_words), dtype=np.int64,
                           count=len(self.ngram_words))

    @computed_once
    def bigram_counts(self) -> NgramCounts:
        """``count_ngrams`` of the bigrams of the ngram words (at least two)."""
        ids = self.ngram_word_ids  # [n_words]
        return count_ngrams(pair_keys(ids[:-1], ids[1:], len(self.ngram_word_counts)))

    @computed_once
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
            ngram_to_count = Counter(zip(*(words[i:] for i in range(n))))
            if len(ngram_to_count) == len(words) - n + 1:
                return words[:n], 1  # no n-gram repeats: the first one, as most_common picks
            ngram, count = ngram_to_count.most_common(1)[0]
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


class LongTextView(TextView):
    """A ``TextView`` that reads a long text with NumPy a ``TextPiece`` at a time,
    holding no array over all its characters (a text of one piece is read once and
    kept), and bounds its top n-grams by hashing its ngram words into buckets; only when
    a bound could let an n-gram pass its limit does ``top_ngram`` count the n-grams
    exactly, from a 64-bit hash of each ngram word (``ngram_hashes``, ``top_window``):
    about 16 bytes a word at peak."""

    def _count_lines(self, prefixes: Tuple[str, ...], suffixes: Tuple[str, ...]) -> ItemCounts:
        if len(self.text) <= PIECE_CHARS:
            return super()._count_lines(prefixes, suffixes)
        return self._count_in_pieces(None, prefixes, suffixes)

    def _count_paragraphs(self) -> ItemCounts:
        if len(self.text) <= PIECE_CHARS:
            return super()._count_paragraphs()
        return self._count_in_pieces(BLANK_LINE)

    def _count_in_pieces(self, separator: Optional[Pattern[str]], prefixes: Tuple[str, ...] = (),
                         suffixes: Tuple[str, ...] = ()) -> ItemCounts:
        """``ItemCounts`` of the lines (``separator`` None) or paragraphs of a text over
        ``PIECE_CHARS`` characters, a piece at a time, with no string per item held."""
        pieces = ItemPieces(self.text, separator, PIECE_CHARS)
        return count_items_in_pieces(pieces, pieces.max_items, prefixes, suffixes)

    @computed_once
    def _one_piece(self) -> List[Piece]:
        return list(text_pieces(self.text, self.has_cjk, PIECE_CHARS))

    def _pieces(self) -> Iterable[Piece]:
        if len(self.text) <= PIECE_CHARS:
            return self._one_piece
        return text_pieces(self.text, self.has_cjk, PIECE_CHARS)

    @computed_once
    def counts(self) -> LongTextCounts:
        return count_long_text(self._pieces(), self.has_cjk)

    @property
    def n_words(self) -> int:
        return self.counts.n_words

    @property
    def word_chars(self) -> int:
        return self.counts.word_chars

    @property
    def cjk_word_count(self) -> int:
        return self.counts.cjk_word_count

    @property
    def n_ngram_words(self) -> int:
        return self.counts.n_ngram_words

    @property
    def ngram_chars(self) -> int:
        return self.counts.ngram_chars

    @property
    def min_words_with_letter(self) -> int:
        return self.counts.min_words_with_letter

    @computed_once
    def n_words_with_letter(self) -> int:
        return count_words_with_letter(self._pieces())

    @computed_once
    def bucket_bounds(self) -> Tuple[int, int]:
        """``bound_top_word_and_bigram``: the same for every n."""
        return bound_top_word_and_bigram(self._pieces(), self.n_ngram_words)

    def ngram_chars_bound(self, n: int) -> int:
        """``ngram_chars_bound`` from bucket bounds on the top word and the top bigram."""
        return ngram_chars_bound(n, *self.bucket_bounds)

    def _piece_ngram_words(self) -> Iterator[List[str]]:
        """The ngram words of the text, one piece of ``STRING_PIECE_CHARS`` at a time."""
        for lo, hi in piece_bounds(self.text, STRING_PIECE_CHARS):
            yield ngram_words(piece_words(self.text, lo, hi, self.has_cjk), self.text[lo:hi])

    @computed_once
    def ngram_hashes(self) -> np.ndarray:
        """Python's hash of each ngram word (int64 [n_ngram_words])."""
        hashes = np.empty(self.n_ngram_words, dtype=np.int64)
        at = 0
        for words in self._piece_ngram_words():
            hashes[at:at + len(words)] = np.fromiter(map(hash, words), dtype=np.int64, count=len(words))
            at += len(words)
        return hashes

    def _words_at(self, first: int, n: int, count: int) -> Optional[List[str]]:
        """The ngram words ``first..first+n-1``; None when one of their hashes is also the
        hash of another word (checked only for a repeated n-gram: ``count`` > 1)."""
        targets = self.ngram_hashes[first:first + n]  # [n]
        hash_to_words: Dict[int, Set[str]] = {}
        ngram: List[str] = []
        at = 0
        for words in self._piece_ngram_words():
            ngram += words[max(first - at, 0):max(first + n - at, 0)]
            if count < 2 and len(ngram) == n:
                break
            hashes = self.ngram_hashes[at:at + len(words)]  # [n_piece_words]
            for value in np.unique(targets):
                hash_to_words.setdefault(int(value), set()).update(
                    words[i] for i in np.flatnonzero(hashes == value))
            at += len(words)
        if any(len(words) > 1 for words in hash_to_words.values()):
            return None
        return ngram

    def top_ngram(self, n: int) -> Tuple[List[str], int]:
        """``TextView.top_ngram``, from ``top_window`` over ``ngram_hashes``; word by word
        when there are few words, or when distinct n-grams or words share a hash."""
        if self.n_ngram_words >= NUMPY_MIN_WORDS:
            found = top_window(self.ngram_hashes, n)
            ngram = None if found is None else self._words_at(found[0], n, found[1])
            if ngram is not None:
                return ngram, found[1]
        return super().top_ngram(n)
