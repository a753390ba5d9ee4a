"""MinHash signatures and LSH banding for near-duplicate detection (pure NumPy).

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
words has no shingles and an empty signature (every value at the maximum).

Each shingle is hashed to 32 bits by :func:`shingle_hash` (a polynomial hash of the
code points modulo 2**64, finished with the MurmurHash3 64-bit mixer): deterministic
in every process and on every machine, unlike Python's ``hash()``. The signature
applies exactly the permutations of ``datasketch.MinHash`` (version 2, default
scheme ``"affine32"``): the 32-bit hash is pre-mixed with the MurmurHash3 32-bit
finaliser, then ``a_k * h + b_k mod 2**32`` for ``k < num_perm`` with ``a_k`` odd and
``(a, b)`` drawn from ``numpy.random.RandomState(seed)``. So::

    signature(text, opts) == datasketch.MinHash(opts.num_perm, opts.seed,
                                                hashfunc=shingle_hash) updated with shingles(text)

which the tests assert. The vectorised path (:func:`shingle_hashes`) computes the
same values as the per-shingle reference functions without a Python loop.

The polynomial hash modulo 2**64 has known adversarial collisions (Thue-Morse
strings); for deduplication a collision only merges two shingles, it cannot crash.
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from glmprep.core.options import Switch, option
from glmprep.schemas.cjk import CJK_SCRIPT_RANGES

_U64 = (1 << 64) - 1

# Odd 64-bit constants of the shingle hash: the per-code-point base, the per-word base
# and the length salt. Fixed forever: changing one changes every signature.
_CHAR_BASE = 0x9E3779B97F4A7C15
_WORD_BASE = 0xC2B2AE3D27D4EB4F
_LENGTH_SALT = 0x165667B19E3779F9
_CHAR_BASE_INV = pow(_CHAR_BASE, -1, 1 << 64)

# Permutations x shingles computed per step: the temporary matrix stays at 4 MiB (a
# contiguous row per permutation, so the min-reduction runs along memory).
_CHUNK_ELEMENTS = 1 << 20

_MAX_HASH32 = np.uint32(0xFFFFFFFF)


# Ways of checking a candidate pair from LSH banding before it counts as near-duplicate.
VERIFY_MODES = ("exact", "estimate", "none")
# Ways of choosing which near-duplicates stay: one per connected component of the
# near-duplicate graph, or an independent set (each removed document has a kept neighbour).
KEEPER_MODES = ("components", "independent")


@dataclass(frozen=True)
class MinHashOptions:
    """Settings of near-duplicate detection; every worker derives the same hashes from them."""

    # --no-near-dedup: the run skips the stage (its options are None)
    SWITCHES = (Switch("--no-near-dedup", "skip near-duplicate removal"),)

    num_perm: int = option(  # signature length: Jaccard estimate std ~ sqrt(J(1-J)/num_perm)
        128, "MinHash signature length")
    ngram: int = option(     # words per shingle: larger is stricter about word order
        5, "words per shingle; each CJK character counts as a word, and in a text whose non-space "
           "characters are at least a tenth CJK every non-space character does")
    # seeds the permutations, same meaning as datasketch.MinHash(seed=); fixed, not --seed,
    # so changing the samples' seed never changes which documents are kept
    seed: int = 1
    threshold: float = option(
        0.8, "Jaccard similarity of word shingles at which documents are near-duplicates",
        flag="--near-dedup-threshold")
    # LSH band choice, as datasketch.MinHashLSH(weights=(fp, fn)). Missed pairs weigh 0.9
    # because verification removes the extra candidates afterwards: (14, 9) bands find
    # 87 % of pairs at Jaccard 0.8 and 97.5 % at 0.85, against 40 % and 69 % for 0.5/0.5.
    false_positive_weight: float = 0.1  # cost of a dissimilar pair becoming a candidate: 1 - fn
    false_negative_weight: float = option(  # cost of a similar pair never becoming one
        0.9, "weight of missed pairs when choosing LSH bands, in [0, 1]; false candidates weigh "
             "1 minus this. Higher finds more near-duplicates and verifies more candidate pairs",
        flag="--near-dedup-fn-weight")
    # "exact": Jaccard of the two shingle-hash sets (no estimation noise around the
    # threshold); "estimate": share of equal signature values (smaller shuffle, ~0.035 sd
    # at 0.8 with 128 permutations); "none": every candidate pair counts.
    verify: str = option(
        "exact", "check candidate pairs by the exact Jaccard of their shingle sets, by the "
                 "signature estimate (smaller shuffle, ~0.035 sd), or not at all",
        flag="--near-dedup-verify", choices=VERIFY_MODES)
    # "components": near-duplicate is made transitive, each connected component of the
    # verified pairs keeps its smallest key (a chain A~B~C keeps one document even when
    # A and C differ more than the threshold); "independent": a document goes only in
    # favour of a kept document it is itself a near-duplicate of (the chain may keep A and C).
    # The default is "independent": every removal then points at a kept document that is
    # verified ≥ threshold similar, which components cannot promise for chains.
    keepers: str = option(
        "independent", "components: one document (the smallest key) per connected component of "
                       "near-duplicates, so a chain A~B~C keeps one even if A and C differ more; "
                       "independent: remove a document only if a near-duplicate of it is kept",
        flag="--near-dedup-keepers", choices=KEEPER_MODES)
    # Keeper rounds at most (a Beam graph is unrolled, not looped); 12 settle chains of
    # thousands of revisions, and rounds after convergence run on (almost) nothing.
    rounds: int = option(
        12, "at most this many keeper rounds; they stop when nothing changes, and documents still "
            "undecided after the last are kept and counted in the manifest (near_dedup_unsettled)",
        flag="--near-dedup-rounds")
    # Candidate partners verified per key: a star's partners are spread over sub-keys of
    # its centre, so per-key work and memory are bounded by this, not by the bucket.
    fan_out: int = option(
        1000, "candidate partners verified per key: a bucket shared by more documents is verified "
              "on several sub-keys of its centre, so no worker's work or memory grows with the bucket",
        flag="--near-dedup-fan-out")

    def __post_init__(self):
        if self.num_perm < 2:
            raise ValueError(f"num_perm must be at least 2, got {self.num_perm}")
        if self.ngram < 1:
            raise ValueError(f"ngram must be at least 1, got {self.ngram}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        weights = (self.false_positive_weight, self.false_negative_weight)
        if any(not 0.0 <= w <= 1.0 for w in weights) or abs(sum(weights) - 1.0) > 1e-9:
            raise ValueError(f"false positive/negative weights must be in [0, 1] and sum to 1, got {weights}")
        if self.verify not in VERIFY_MODES:
            raise ValueError(f"verify must be one of {', '.join(VERIFY_MODES)}, got {self.verify!r}")
        if self.rounds < 1:
            raise ValueError(f"rounds must be at least 1, got {self.rounds}")
        if self.fan_out < 1:
            raise ValueError(f"fan_out must be at least 1, got {self.fan_out}")
        if self.keepers not in KEEPER_MODES:
            raise ValueError(f"keepers must be one of {', '.join(KEEPER_MODES)}, got {self.keepers!r}")

    @property
    def bands(self) -> Tuple[int, int]:
        """(bands, rows) of the LSH index, see :func:`optimal_bands`."""
        return optimal_bands(self.threshold, self.num_perm,
                             self.false_positive_weight, self.false_negative_weight)


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


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 32-bit finaliser, uint32 [n] -> uint32 [n]; datasketch's pre-mix."""
    h = h ^ (h >> np.uint32(16))
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


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


def _word_spans(code_points: np.ndarray, text_starts: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """uint32 [n_chars] code points of texts joined by a space, the texts' first offsets
    int64 [n_texts] -> (starts, ends), int64 [n_words] each, ends exclusive."""
    cls = _char_classes()[code_points]                                   # [n_chars] uint8
    char_text = np.searchsorted(text_starts, np.arange(len(cls)), side="right") - 1   # [n_chars]
    cjk_chars = np.bincount(char_text, weights=cls == _CJK, minlength=len(text_starts))        # [n_texts]
    non_space = np.bincount(char_text, weights=cls != _SPACE, minlength=len(text_starts))     # [n_texts]
    cjk_text = (cjk_chars > 0) & (cjk_chars >= CJK_TEXT_SHARE * non_space)                     # [n_texts]
    one_char_words = (cls == _CJK) | ((cls == _WORD) & cjk_text[char_text])                  # [n_chars]
    is_word = np.zeros(len(cls) + 2, dtype=bool)                         # [n_chars + 2], padded
    is_word[1:-1] = (cls == _WORD) & ~one_char_words
    is_cjk = one_char_words                                              # [n_chars]
    starts = np.flatnonzero(is_cjk | (is_word[1:-1] & ~is_word[:-2]))    # [n_words]
    ends = np.flatnonzero(is_cjk | (is_word[1:-1] & ~is_word[2:])) + 1   # [n_words]
    return starts, ends


def _word_hashes(code_points: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """uint64 [n_words]: the word hash of every span, as :func:`_word_hash_int`."""
    n = len(code_points)
    prefix = np.zeros(n + 1, dtype=np.uint64)                            # [n_chars + 1]
    np.cumsum(code_points * _powers(_CHAR_BASE, n), out=prefix[1:])      # wraps mod 2**64
    # prefix[end] - prefix[start] = CHAR_BASE**start * poly(word); undo the shift.
    poly = (prefix[ends] - prefix[starts]) * _powers(_CHAR_BASE_INV, n)[starts]   # [n_words]
    poly += (ends - starts).astype(np.uint64) * np.uint64(_LENGTH_SALT)
    return _fmix64(poly)


def batch_shingle_hashes(texts: Sequence[str], ngram: int) -> Tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of many texts at once.

    Returns (hashes uint32 [n_shingles], counts int64 [n_texts]): the hashes of text i are
    the ``counts[i]`` values after those of texts 0..i-1, in text order.
    """
    lowered = [text.lower() for text in texts]       # per text: lower() may change lengths
    code_points = np.frombuffer("\n".join(lowered).encode("utf-32-le", "surrogatepass"), dtype="<u4")
    text_starts = np.cumsum([0] + [len(t) + 1 for t in lowered[:-1]])   # [n_texts] char offsets
    starts, ends = _word_spans(code_points, text_starts)                 # [n_words] x 2
    word_text = np.searchsorted(text_starts, starts, side="right") - 1    # [n_words]
    words_per_text = np.bincount(word_text, minlength=len(texts))        # [n_texts]
    first_word = np.cumsum(words_per_text) - words_per_text              # [n_texts]
    position = np.arange(len(starts)) - first_word[word_text]            # [n_words] index in text
    remaining = words_per_text[word_text] - position                     # [n_words] >= 1
    # A shingle starts at every word with ngram words left in its text, and at the first
    # word of a text shorter than ngram words (that shingle is the whole text).
    first = np.flatnonzero((remaining >= ngram) | ((position == 0) & (remaining < ngram)))
    width = np.minimum(remaining[first], ngram).astype(np.uint64)        # [n_shingles]
    word_hash = np.concatenate((_word_hashes(code_points, starts, ends),
                                np.zeros(ngram, dtype=np.uint64)))       # [n_words + ngram]
    acc = width * np.uint64(_LENGTH_SALT)                                # [n_shingles]
    power = 1
    for k in range(ngram):                                               # ngram steps, not shingles
        term = word_hash[first + k] * np.uint64(power)
        acc += term if k == 0 else np.where(width > k, term, np.uint64(0))
        power = (power * _WORD_BASE) & _U64
    hashes = (_fmix64(acc) >> np.uint64(32)).astype(np.uint32)
    return hashes, np.bincount(word_text[first], minlength=len(texts))


def shingle_hashes(text: str, ngram: int) -> np.ndarray:
    """uint32 [n_shingles]: ``[shingle_hash(s) for s in shingles(text, ngram)]``, vectorised."""
    return batch_shingle_hashes([text], ngram)[0]


# --- signatures -------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """(a, b), uint32 [num_perm] each: datasketch's ``affine32`` permutation parameters."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.flags.writeable = b.flags.writeable = False
    return a, b


def signatures_of_hashes(hashes: np.ndarray, counts: np.ndarray, num_perm: int = 128,
                         seed: int = 1) -> np.ndarray:
    """Shingle hashes of many texts (as :func:`batch_shingle_hashes` returns them) ->
    uint32 [n_texts, num_perm] MinHash signatures.

    A text without shingles gets the empty signature (all 0xFFFFFFFF), as datasketch does.
    """
    a, b = permutations(num_perm, seed)
    a_col, b_col = a[:, None], b[:, None]                                 # [num_perm, 1]
    sigs = np.full((len(counts), num_perm), _MAX_HASH32, dtype=np.uint32)
    nonempty = np.flatnonzero(counts)                                     # [n_nonempty]
    seg_starts = (np.cumsum(counts) - counts)[nonempty]                   # [n_nonempty] in hashes
    mixed = _fmix32(hashes.astype(np.uint32, copy=False))                 # [n_shingles]
    chunk = max(1, _CHUNK_ELEMENTS // num_perm)
    buf = np.empty((num_perm, min(len(mixed), chunk)), dtype=np.uint32)
    for lo in range(0, len(mixed), chunk):
        hi = min(lo + chunk, len(mixed))
        out = buf[:, :hi - lo]
        np.multiply(a_col, mixed[lo:hi], out=out)                         # [num_perm, chunk]
        out += b_col                                                      # wraps mod 2**32
        # texts whose shingles overlap [lo, hi), and where each begins inside the chunk
        first = np.searchsorted(seg_starts, lo, side="right") - 1
        last = np.searchsorted(seg_starts, hi, side="left") - 1
        texts = nonempty[first:last + 1]
        offsets = np.maximum(seg_starts[first:last + 1] - lo, 0)
        mins = np.minimum.reduceat(out, offsets, axis=1).T                # [n_texts_in_chunk, num_perm]
        sigs[texts] = np.minimum(sigs[texts], mins)
    return sigs


def signatures(texts: Sequence[str], options: MinHashOptions = MinHashOptions()) -> np.ndarray:
    """uint32 [n_texts, num_perm]: the MinHash signature of each text's shingle set.

    Batching short texts saves the fixed NumPy cost per call; the result is the same
    as one :func:`signature` per text.
    """
    hashes, counts = batch_shingle_hashes(texts, options.ngram)
    return signatures_of_hashes(hashes, counts, options.num_perm, options.seed)


def signature(text: str, options: MinHashOptions = MinHashOptions()) -> np.ndarray:
    """uint32 [num_perm]: the MinHash signature of the text's shingle set."""
    return signatures([text], options)[0]


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Share of equal signature positions; uint32 [num_perm] x 2 -> float in [0, 1]."""
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)


def shingle_sets(hashes: np.ndarray, counts: np.ndarray) -> List[np.ndarray]:
    """Shingle hashes of many texts (as :func:`batch_shingle_hashes` returns them) ->
    per text, uint32 [n_distinct]: its distinct shingle hashes, sorted.

    >>> shingle_sets(np.array([5, 3, 5, 9], dtype=np.uint32), np.array([3, 1]))
    [array([3, 5], dtype=uint32), array([9], dtype=uint32)]
    """
    ends = np.cumsum(counts)                                              # [n_texts]
    return [np.unique(hashes[end - count:end]) for end, count in zip(ends, counts)]


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


# --- LSH banding ------------------------------------------------------------------------

def _false_positive_area(threshold: float, bands: int, rows: int) -> float:
    """Integral over s in [0, threshold] of P(candidate | Jaccard s)."""
    from scipy.integrate import quad
    return quad(lambda s: 1 - (1 - s ** float(rows)) ** float(bands), 0.0, threshold)[0]


def _false_negative_area(threshold: float, bands: int, rows: int) -> float:
    """Integral over s in [threshold, 1] of P(not candidate | Jaccard s)."""
    from scipy.integrate import quad
    return quad(lambda s: 1 - (1 - (1 - s ** float(rows)) ** float(bands)), threshold, 1.0)[0]


@functools.lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, false_positive_weight: float = 0.5,
                  false_negative_weight: float = 0.5) -> Tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm minimising the weighted false
    positive + false negative areas under the LSH S-curve, as ``datasketch.MinHashLSH``.

    Same search order and the same integrals (scipy's ``quad``), so ties resolve the
    same way: the first (bands, rows) in (bands, rows) order with the smallest error.

    >>> optimal_bands(0.8, 128)
    (9, 13)
    """
    best_error, best = float("inf"), (0, 0)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            error = (false_positive_weight * _false_positive_area(threshold, bands, rows)
                     + false_negative_weight * _false_negative_area(threshold, bands, rows))
            if error < best_error:
                best_error, best = error, (bands, rows)
    return best


def band_keys(sig: np.ndarray, bands: int, rows: int) -> List[bytes]:
    """uint32 [num_perm] signature -> ``bands`` keys of 10 bytes: band index (2, big-endian)
    then a 64-bit hash of the band's ``rows`` values. Two documents share a key iff (up to
    a 2**-64 collision) they agree on every row of that band.
    """
    # One C-level hash per band: a per-row NumPy loop costs ~50 µs a document, which
    # dominates near dedup on corpora of short documents.
    raw = np.ascontiguousarray(sig[:bands * rows], dtype="<u4").tobytes()       # [bands * rows * 4]
    width = 4 * rows
    return [band.to_bytes(2, "big") + hashlib.blake2b(raw[width * band:width * (band + 1)],
                                                      digest_size=8).digest()
            for band in range(bands)]
