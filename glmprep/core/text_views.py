"""What the rules read a document through: ``TextView`` (word by word) and
``LongTextView`` (NumPy over the code points), each piece computed once and only when a
rule asks for it; ``text_view`` picks one. Both give the same numbers (the tests compare
them with a slow reference).
"""
from __future__ import annotations

from collections import Counter
from functools import cached_property
from itertools import filterfalse, repeat
from operator import itemgetter, mul
from typing import List, Tuple

import numpy as np

from glmprep.core.ngram_counts import NgramCounts, count_ngrams, ngram_chars_bound, pair_keys, top_chars_bound
from glmprep.core.words import (BLANK_LINE, CAPITAL_I_WITH_DOT, CJK, CJK_CHAR, LETTER,
                                LETTER_CHAR, WordSpans, char_tables, edge_punctuation, find_word_spans,
                                has_cjk, ngram_word, split_words)

# Below this many ngram words, n-grams are counted as tuples in a Counter: NumPy's fixed
# cost per call (tens of microseconds per document) outweighs its speed per word.
NUMPY_MIN_WORDS = 500
# Below this many characters a text is split word by word (``TextView``): NumPy's fixed
# cost per call outweighs its speed per character.
NUMPY_MIN_CHARS = 2000
# Odd multipliers that mix a word's length and characters into a 32-bit n-gram key.
_KEY_MULTIPLIERS = np.array([0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1,
                             0xD3A2646C | 1], dtype=np.uint32)


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

    @cached_property
    def has_cjk(self) -> bool:
        return has_cjk(self.text)

    @cached_property
    def words(self) -> List[str]:
        return split_words(self.text, self.has_cjk)

    @property
    def n_words(self) -> int:
        return len(self.words)

    @cached_property
    def cjk_word_count(self) -> int:
        """Words that are one CJK character: exactly the CJK characters of the text."""
        return len(CJK_CHAR.findall(self.text)) if self.has_cjk else 0

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
        return list(filter(None, map(str.strip, BLANK_LINE.split(self.text))))

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
        if CAPITAL_I_WITH_DOT in self.text:
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
        return self.min_words_with_letter + sum(1 for word in others if LETTER_CHAR.search(word))

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
