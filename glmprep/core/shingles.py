"""Shingles of a text and their 32-bit hashes, the input of MinHash (pure NumPy).

A document is reduced to its set of *shingles*: runs of ``ngram`` consecutive words.
Words are what a reader of either language would count:

- the text is lower-cased, then cut at white space (``str.isspace``);
- every CJK character (ideographs, kana, CJK punctuation, full-width forms) is a word
  on its own, because Chinese and Japanese put no spaces between words and a
  dictionary segmenter would make the result depend on its version; five
  consecutive characters are roughly two or three Chinese words, which behaves like
  a five-word English shingle for near-duplicate purposes;
- any other run of non-space characters (Latin words, numbers, ``foo()``, Korean
  words, which are space-separated) is one word, punctuation included;
- except in a *CJK text*, one whose non-space characters are at least
  ``CJK_TEXT_SHARE`` CJK: there every non-space character is a word, ASCII included, so
  a shingle is a character 5-gram of the text without its white space. Chinese
  technical text embeds commands and options (``apt-get install -y``); counted as whole
  words they weigh as much as one Chinese character each, so an edit to the Chinese
  around them moved the shingle Jaccard well below the character 5-gram Jaccard a
  reader would measure, and pairs at 0.80-0.86 were missed.

A text with fewer than ``ngram`` words has one shingle, all its words. A text with no
words has no shingles (its MinHash signature is the empty one, ``minhash.py``).

Each shingle is hashed to 32 bits by :func:`shingle_hash` (a polynomial hash of the
code points modulo 2**64, finished with the MurmurHash3 64-bit mixer): deterministic
in every process and on every machine, unlike Python's ``hash()``. The vectorised
path (:func:`batch_shingle_hashes`) computes the same values as the per-shingle
reference functions (:func:`shingles`, :func:`shingle_hash`) without a Python loop.

The polynomial hash modulo 2**64 has known adversarial collisions (Thue-Morse
strings); for deduplication a collision only merges two shingles, it cannot crash.
"""
from __future__ import annotations

import functools
import re
from typing import List, Optional, Sequence, Tuple

import numpy as np

from glmprep.core.sorted_sets import sorted_distinct
from glmprep.core.text_pieces import cut_piece_end
from glmprep.schemas.cjk import CJK_SCRIPT_RANGES

_U64 = (1 << 64) - 1

# Odd 64-bit constants of the shingle hash: the per-code-point base, the per-word base
# and the length salt. Fixed forever: changing one changes every signature.
_CHAR_BASE = 0x9E3779B97F4A7C15
_WORD_BASE = 0xC2B2AE3D27D4EB4F
_LENGTH_SALT = 0x165667B19E3779F9
_CHAR_BASE_INV = pow(_CHAR_BASE, -1, 1 << 64)


# --- words ------------------------------------------------------------------------------

_WORD, _SPACE, _CJK = 0, 1, 2
# A text at least this share CJK (of its non-space characters) is shingled by characters.
# Chinese technical text is 20-95 % CJK (zh_debref: 5th percentile 0.2); English 0.
CJK_TEXT_SHARE = 0.1

# Code point ranges whose characters are each one word (glmprep.schemas.cjk).
_CJK_RANGES = CJK_SCRIPT_RANGES


def _space_code_points() -> List[int]:
    return [c for c in range(0x3000 + 1) if chr(c).isspace()]  # none above U+3000


@functools.lru_cache(maxsize=1)
def _char_classes() -> np.ndarray:
    """uint8 [0x110000]: _WORD, _SPACE or _CJK for every code point."""
    classes = np.zeros(0x110000, dtype=np.uint8)
    for lo, hi in _CJK_RANGES:
        classes[lo:hi + 1] = _CJK
    classes[_space_code_points()] = _SPACE
    return classes


def _range_class(ranges) -> str:
    return "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


_WORD_RE = re.compile(
    "[{cjk}]|[^{cjk}{space}]+".format(
        cjk=_range_class(_CJK_RANGES),
        space="".join(f"\\U{c:08x}" for c in _space_code_points())))


def is_cjk_text(lowered: str) -> bool:
    """Whether at least ``CJK_TEXT_SHARE`` of the non-space characters are CJK (reference)."""
    classes = _char_classes()
    cjk = sum(1 for ch in lowered if classes[ord(ch)] == _CJK)
    non_space = sum(1 for ch in lowered if not ch.isspace())
    return cjk > 0 and cjk >= CJK_TEXT_SHARE * non_space


def words(text: str) -> List[str]:
    """The words of ``text`` as defined in the module docstring (reference, not the hot path).

    >>> words("Hello, World! Some English words 中 ok")
    ['hello,', 'world!', 'some', 'english', 'words', '中', 'ok']
    >>> words("运行 apt-get 安装")
    ['运', '行', 'a', 'p', 't', '-', 'g', 'e', 't', '安', '装']
    """
    lowered = text.lower()
    if is_cjk_text(lowered):
        return [ch for ch in lowered if not ch.isspace()]
    return _WORD_RE.findall(lowered)


def shingles(text: str, ngram: int) -> List[Tuple[str, ...]]:
    """Runs of ``ngram`` consecutive words, in text order, repeats kept (reference).

    >>> shingles("a b c d", 3)
    [('a', 'b', 'c'), ('b', 'c', 'd')]
    >>> shingles("a b", 3)
    [('a', 'b')]
    """
    ws = words(text)
    if len(ws) <= ngram:
        return [tuple(ws)] if ws else []
    return [tuple(ws[i:i + ngram]) for i in range(len(ws) - ngram + 1)]


# --- hashing ----------------------------------------------------------------------------

def _fmix64_int(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _U64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _U64
    return h ^ (h >> 33)


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 64-bit finaliser, uint64 [n] -> uint64 [n] (wrapping arithmetic)."""
    h = h ^ (h >> np.uint64(33))
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _word_hash_int(word: str) -> int:
    poly = 0
    power = 1
    for ch in word:
        poly = (poly + ord(ch) * power) & _U64
        power = (power * _CHAR_BASE) & _U64
    return _fmix64_int((poly + len(word) * _LENGTH_SALT) & _U64)


def shingle_hash(shingle: Sequence[str]) -> int:
    """32-bit hash of one shingle (a sequence of words); the reference for :func:`shingle_hashes`.

    word hash  w = fmix64(sum_j ord(c_j) * CHAR_BASE**j + len(word) * SALT)        mod 2**64
    shingle    s = fmix64(sum_k w_k * WORD_BASE**k + len(shingle) * SALT) >> 32   mod 2**64

    Use it as ``datasketch.MinHash(hashfunc=shingle_hash)``.
    """
    acc = 0
    power = 1
    for word in shingle:
        acc = (acc + _word_hash_int(word) * power) & _U64
        power = (power * _WORD_BASE) & _U64
    return _fmix64_int((acc + len(shingle) * _LENGTH_SALT) & _U64) >> 32


# Characters of one long text shingled at a time: a piece's working arrays take about 77 bytes
# a character of Chinese text (a word per character), so 1 M-character pieces made the shingle
# set of a 48 MB Chinese document cost 18.6x its size; 256 K-character pieces bound them to ~20 MB.
PIECE_CHARS = 1 << 18
_POWER_CACHE_LIMIT = 1 << 20  # entries (8 MiB); a longer batch computes its own table
_power_tables = {}


def _powers(base: int, n: int) -> np.ndarray:
    """uint64 [n]: base**0 .. base**(n-1) mod 2**64, from a cached read-only table."""
    table = _power_tables.get(base)
    if table is None or len(table) < n:
        size = n if n > _POWER_CACHE_LIMIT else min(max(2 * n, 1 << 14), _POWER_CACHE_LIMIT)
        table = np.full(size, base, dtype=np.uint64)
        table[0] = 1
        table = np.cumprod(table, dtype=np.uint64)                       # wraps mod 2**64
        table.flags.writeable = False
        if size <= _POWER_CACHE_LIMIT:
            _power_tables[base] = table
    return table[:n]


def _word_spans(code_points: np.ndarray, text_starts: np.ndarray,
                cjk_text: Optional[bool] = None) -> Tuple[np.ndarray, np.ndarray]:
    """uint32 [n_chars] code points of texts joined by a space, the texts' first offsets
    int64 [n_texts] -> (starts, ends), int64 [n_words] each, ends exclusive. ``cjk_text``
    given: the code points are (a piece of) one text, CJK text or not as it says."""
    cls = _char_classes()[code_points]                                   # [n_chars] uint8
    is_cjk = cls == _CJK                                                 # [n_chars]
    if cjk_text is None:
        cjk_texts = _cjk_texts(cls, is_cjk, text_starts)                 # [n_texts]
        one_char_words = is_cjk                                          # [n_chars]
        if cjk_texts.any():
            lengths = np.diff(np.append(text_starts, len(cls)))          # [n_texts], separator included
            one_char_words = is_cjk | ((cls == _WORD) & np.repeat(cjk_texts, lengths))
    else:
        one_char_words = is_cjk | ((cls == _WORD) & cjk_text)            # [n_chars]
    is_word = np.zeros(len(cls) + 2, dtype=bool)                         # [n_chars + 2], padded
    if not one_char_words.any():
        # Runs of word characters only (most batches): each begins and ends where is_word changes.
        np.equal(cls, _WORD, out=is_word[1:-1])
        edges = np.flatnonzero(is_word[1:] != is_word[:-1])             # [2 n_words]
        return edges[0::2], edges[1::2]
    is_word[1:-1] = (cls == _WORD) & ~one_char_words
    starts = np.flatnonzero(one_char_words | (is_word[1:-1] & ~is_word[:-2]))    # [n_words]
    ends = np.flatnonzero(one_char_words | (is_word[1:-1] & ~is_word[2:])) + 1   # [n_words]
    return starts, ends


def _cjk_texts(cls: np.ndarray, is_cjk: np.ndarray, text_starts: np.ndarray) -> np.ndarray:
    """bool [n_texts]: which of the texts joined in ``cls`` (their classes, uint8 [n_chars];
    ``is_cjk`` = ``cls == _CJK``) are CJK texts, as :func:`is_cjk_text` says; each text's
    counts are differences of running sums at its bounds (a text without a CJK character
    is none, so a batch without one needs no counting)."""
    if not is_cjk.any():
        return np.zeros(len(text_starts), dtype=bool)
    bounds = np.append(text_starts, len(cls))                            # [n_texts + 1]

    def per_text(flags: np.ndarray) -> np.ndarray:                       # bool [n_chars] -> int64 [n_texts]
        running = np.zeros(len(flags) + 1, dtype=np.int64)
        np.cumsum(flags, out=running[1:])
        return np.diff(running[bounds])

    return _cjk_share(per_text(is_cjk), per_text(cls != _SPACE))


def _cjk_share(cjk_chars, non_space_chars):
    """The CJK-text rule of :func:`is_cjk_text` on character counts (ints, or int arrays
    per text): at least one CJK character, and at least ``CJK_TEXT_SHARE`` of the non-space ones."""
    return (cjk_chars > 0) & (cjk_chars >= CJK_TEXT_SHARE * non_space_chars)


def _word_hashes(code_points: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """uint64 [n_words]: the word hash of every span, as :func:`_word_hash_int`."""
    return _finish_words(_word_polynomials(code_points, starts, ends), ends - starts)


def _word_polynomials(code_points: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """uint64 [n_words]: sum_j ord(c_j) * CHAR_BASE**j of every span's characters."""
    n = len(code_points)
    prefix = np.zeros(n + 1, dtype=np.uint64)                            # [n_chars + 1]
    np.cumsum(code_points * _powers(_CHAR_BASE, n), out=prefix[1:])      # wraps mod 2**64
    # prefix[end] - prefix[start] = CHAR_BASE**start * poly(word); undo the shift.
    return (prefix[ends] - prefix[starts]) * _powers(_CHAR_BASE_INV, n)[starts]   # [n_words]


def _finish_words(polynomials: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """uint64 [n_words]: word hashes from the words' polynomials (uint64) and lengths (int)."""
    return _fmix64(polynomials + lengths.astype(np.uint64) * np.uint64(_LENGTH_SALT))


def _shingles_of_words(word_hash: np.ndarray, first: np.ndarray, width: np.ndarray, ngram: int) -> np.ndarray:
    """uint32 [n_shingles]: the hash of each shingle of ``width`` words from word ``first``.
    ``word_hash`` uint64 [n_words + ngram], padded; ``first`` int64, ``width`` uint64 [n_shingles]."""
    acc = width * np.uint64(_LENGTH_SALT)                                # [n_shingles]
    power = 1
    for k in range(ngram):                                               # ngram steps, not shingles
        term = word_hash[first + k] * np.uint64(power)
        acc += term if k == 0 else np.where(width > k, term, np.uint64(0))
        power = (power * _WORD_BASE) & _U64
    return (_fmix64(acc) >> np.uint64(32)).astype(np.uint32)


def batch_shingle_hashes(texts: Sequence[str], ngram: int) -> Tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of many texts at once.

    Returns (hashes uint32 [n_shingles], counts int64 [n_texts]): the hashes of text i are
    the ``counts[i]`` values after those of texts 0..i-1, in text order. A text of more than
    ``PIECE_CHARS`` characters is shingled a piece at a time (the same hashes), so the
    working arrays (about 40 bytes a character) stay within a piece.
    """
    lowered = [text.lower() for text in texts]       # per text: lower() may change lengths
    parts: List[Tuple[np.ndarray, np.ndarray]] = []
    short: List[str] = []
    for text in lowered:
        if len(text) > PIECE_CHARS:
            if short:
                parts.append(_short_texts_hashes(short, ngram))
                short = []
            hashes = _long_text_hashes(text, ngram)
            parts.append((hashes, np.array([len(hashes)], dtype=np.int64)))
        else:
            short.append(text)
    if short or not parts:
        parts.append(_short_texts_hashes(short, ngram))
    if len(parts) == 1:
        return parts[0]
    return (np.concatenate([h for h, _ in parts]).astype(np.uint32, copy=False),
            np.concatenate([c for _, c in parts]).astype(np.int64, copy=False))


def _short_texts_hashes(lowered: Sequence[str], ngram: int) -> Tuple[np.ndarray, np.ndarray]:
    """``batch_shingle_hashes`` of lower-cased texts, all in one pass."""
    code_points = np.frombuffer("\n".join(lowered).encode("utf-32-le", "surrogatepass"), dtype="<u4")
    text_starts = np.cumsum([0] + [len(t) + 1 for t in lowered[:-1]])   # [n_texts] char offsets
    starts, ends = _word_spans(code_points, text_starts)                 # [n_words] x 2
    word_text = np.searchsorted(text_starts, starts, side="right") - 1    # [n_words]
    words_per_text = np.bincount(word_text, minlength=len(lowered))      # [n_texts]
    first_word = np.cumsum(words_per_text) - words_per_text              # [n_texts]
    position = np.arange(len(starts)) - first_word[word_text]            # [n_words] index in text
    remaining = words_per_text[word_text] - position                     # [n_words] >= 1
    # A shingle starts at every word with ngram words left in its text, and at the first
    # word of a text shorter than ngram words (that shingle is the whole text).
    first = np.flatnonzero((remaining >= ngram) | ((position == 0) & (remaining < ngram)))
    width = np.minimum(remaining[first], ngram).astype(np.uint64)        # [n_shingles]
    word_hash = np.concatenate((_word_hashes(code_points, starts, ends),
                                np.zeros(ngram, dtype=np.uint64)))       # [n_words + ngram]
    hashes = _shingles_of_words(word_hash, first, width, ngram)
    return hashes, np.bincount(word_text[first], minlength=len(lowered))


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _long_text_hashes(lowered: str, ngram: int) -> np.ndarray:
    """uint32 [n_shingles]: the shingle hashes of one lower-cased text, a piece of at most
    ``PIECE_CHARS`` characters at a time. Pieces end at word boundaries, or inside a word
    longer than a piece (a run with no space, minified code): its polynomial and length so
    far carry on into the next piece. The last ``ngram - 1`` word hashes of a piece begin
    the next one's shingles."""
    classes = _char_classes()
    cjk = non_space = 0
    for lo in range(0, len(lowered), PIECE_CHARS):                       # the whole text decides
        cls = classes[_code_points(lowered[lo:lo + PIECE_CHARS])]
        cjk += int(np.count_nonzero(cls == _CJK))
        non_space += int(np.count_nonzero(cls != _SPACE))
    cjk_text = bool(_cjk_share(cjk, non_space))
    out: List[np.ndarray] = []
    carry = np.zeros(0, dtype=np.uint64)                                 # [< ngram] last word hashes
    begun = _BegunWord()
    lo = 0
    while lo < len(lowered):
        hi = _piece_end(lowered, lo, cjk_text)
        code_points = _code_points(lowered[lo:hi])
        starts, ends = _word_spans(code_points, np.zeros(1, dtype=np.int64), cjk_text)
        cut = hi < len(lowered) and not cjk_text and classes[ord(lowered[hi - 1])] == _WORD   # inside a word
        words = np.concatenate((carry, begun.words(code_points, starts, ends, cut)))   # [n_words]
        n_full = len(words) - ngram + 1
        if n_full > 0:
            padded = np.concatenate((words, np.zeros(ngram, dtype=np.uint64)))
            out.append(_shingles_of_words(padded, np.arange(n_full), np.full(n_full, ngram, np.uint64), ngram))
        carry = words[max(0, len(words) - ngram + 1):]
        lo = hi
    if not out and len(carry):  # fewer than ngram words in all: one shingle of all of them
        padded = np.concatenate((carry, np.zeros(ngram, dtype=np.uint64)))
        out.append(_shingles_of_words(padded, np.zeros(1, np.int64), np.full(1, len(carry), np.uint64), ngram))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.uint32)


class _BegunWord:
    """The word a piece of a long text ends inside (cut there: no boundary within a piece),
    as its polynomial and length so far, continued by the next piece."""

    def __init__(self):
        self.polynomial, self.length = 0, 0                              # length 0: no word begun

    def words(self, code_points: np.ndarray, starts: np.ndarray, ends: np.ndarray, cut: bool) -> np.ndarray:
        """uint64 [n_words]: the hashes of the words a piece (``code_points``, word spans
        ``starts``/``ends``) finishes, the begun word first (continued when the piece starts
        with a word character); the piece's last word begins the next one when the piece
        ends inside it (``cut``)."""
        polynomials, lengths = _word_polynomials(code_points, starts, ends), ends - starts   # [n_words] each
        if self.length:
            if _char_classes()[code_points[0]] == _WORD:                 # continued
                shifted = (int(polynomials[0]) * pow(_CHAR_BASE, self.length, 1 << 64) + self.polynomial) & _U64
                polynomials[0], lengths[0] = shifted, lengths[0] + self.length
            else:                                                        # it ended with the last piece
                polynomials = np.concatenate(([np.uint64(self.polynomial)], polynomials))
                lengths = np.concatenate(([self.length], lengths))
            self.polynomial, self.length = 0, 0
        if cut:
            self.polynomial, self.length = int(polynomials[-1]), int(lengths[-1])
            polynomials, lengths = polynomials[:-1], lengths[:-1]
        return _finish_words(polynomials, lengths)


def _piece_end(lowered: str, lo: int, cjk_text: bool) -> int:
    """Where the piece starting at ``lo`` ends: just after a character no word continues
    past (a space, or a character that is a word of its own), or, in a word longer than a
    piece, ``PIECE_CHARS`` characters on."""
    def word_ends(a: int, b: int) -> np.ndarray:                          # offsets in [a, b)
        cls = _char_classes()[_code_points(lowered[a:b])]
        return np.flatnonzero((cls == _SPACE) | (cls == _CJK) | ((cls == _WORD) & cjk_text)) + a

    return cut_piece_end(len(lowered), lo, PIECE_CHARS, word_ends)


def shingle_hashes(text: str, ngram: int) -> np.ndarray:
    """uint32 [n_shingles]: ``[shingle_hash(s) for s in shingles(text, ngram)]``, vectorised."""
    return batch_shingle_hashes([text], ngram)[0]


# --- exact Jaccard ----------------------------------------------------------------------

def shingle_sets(hashes: np.ndarray, counts: np.ndarray) -> List[np.ndarray]:
    """Shingle hashes of many texts (as :func:`batch_shingle_hashes` returns them) ->
    per text, uint32 [n_distinct]: its distinct shingle hashes, sorted.

    >>> shingle_sets(np.array([5, 3, 5, 9], dtype=np.uint32), np.array([3, 1]))
    [array([3, 5], dtype=uint32), array([9], dtype=uint32)]
    """
    ends = np.cumsum(counts)                                              # [n_texts]
    return [sorted_distinct(hashes[end - count:end]) for end, count in zip(ends, counts)]


def hash_set_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted, distinct uint32 hash arrays (1.0 for two empty ones).

    Equals :func:`jaccard` of the shingle sets unless two shingles share a 32-bit hash.
    """
    union = len(a) + len(b)
    if not union:
        return 1.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (union - common)


def jaccard(a: set, b: set) -> float:
    """Exact Jaccard similarity |a & b| / |a | b| of two sets (1.0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 1.0
