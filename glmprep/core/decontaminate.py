"""Benchmark decontamination (pure, no Beam): does a document share an n-gram with an
evaluation item?

Words are the quality filters' words (``glmprep.core.filters.split_words``: each CJK
character is a word, so Chinese is compared by characters), normalised by
``ngram_word`` (lowercased, edge punctuation stripped; words that were only
punctuation are dropped). An n-gram is ``n`` consecutive normalised words (default
``NGRAM`` = 13); an item shorter than ``n`` words but at least ``MIN_ITEM_WORDS`` long
counts as one n-gram of its own length, so short questions are found too.

N-grams are compared by a 64-bit hash: each word's blake2b, combined over the window by
a polynomial (NumPy, wrapping uint64 arithmetic), identical on every machine.
``BenchmarkIndex`` holds the sorted hashes of every item with, for each, the item it came
from; ``BenchmarkIndex.first_match(text)`` -> ``(file, item)`` of the first n-gram of the
text found in it, or None. "First" is the smallest ``ngram_rank``: the earliest position,
the longest n-gram among those starting there.

For benchmarks too large to hold whole on every worker, ``BloomFilter`` (a bit array of a
size the user sets) answers "maybe" or "no" per n-gram, and ``candidate_ngrams(text, ...)``
gives the hashes and ranks of a text's "maybe" n-grams, which the pipeline then checks
exactly against the benchmark's by a keyed join (``glmprep.transforms.decontaminate``).

Items come from ``read_items(path, lines)``: JSON Lines (the ``text`` field if there is
one, else every string value of the object but ``id``, lists included, joined by newlines; the item
is named by its ``id`` field or its line number) or plain text (one item per non-empty
line, named by line number).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from glmprep.core.filters import TextView
from glmprep.core.options import option
from glmprep.core.sorted_sets import sorted_distinct

CONTAMINATED = "contaminated"  # reject reason (stage "decontaminate")
DECONTAMINATE_REASONS = (CONTAMINATED,)
NGRAM = 13
MIN_ITEM_WORDS = 8
# Per worker, the benchmark's exact index up to this size, a Bloom filter of it beyond:
# 256 MB holds about 22 M n-grams exactly (some 200,000 items of 100 words).
MEMORY_MB = 256.0
INDEX_BYTES_PER_NGRAM = 12  # BenchmarkIndex: a uint64 hash and an int32 owner
# Bit positions per n-gram in the Bloom filter: near the best false-positive rate from 8
# to 24 bits per n-gram (0.8 % at 10 bits, 0.007 % at 24).
BLOOM_HASHES = 7
_MULTIPLIER = np.uint64(0x100000001B3)  # the FNV-1a 64-bit prime: odd, so no bit is lost


@dataclass(frozen=True)
class DecontaminateOptions:
    """Benchmark files to decontaminate against (none: the stage does not run)."""

    benchmark_files: List[str] = option(
        help="benchmark items (JSON Lines or text, one item per line; any Beam filesystem): documents "
             "sharing an n-gram with one are rejected with reason 'contaminated'. Repeat for more files",
        flag="--decontaminate", metavar="FILE", repeat=True, default_factory=list)
    benchmark_ngram: int = option(NGRAM, "words per n-gram (CJK: characters)", flag="--decontaminate-ngram",
                                  metavar="N")
    memory_mb: float = option(
        MEMORY_MB, "most memory the benchmark takes on each worker: its exact n-gram index (12 bytes per "
                   "n-gram) when that fits, else a Bloom filter of this size whose candidate n-grams are "
                   "checked by a keyed join (0: the keyed join alone)",
        flag="--decontaminate-memory-mb", metavar="MB")

    def __post_init__(self):
        if self.benchmark_ngram < 1:
            raise ValueError(f"benchmark_ngram must be ≥ 1, got {self.benchmark_ngram}")
        if not self.memory_mb >= 0:
            raise ValueError(f"--decontaminate-memory-mb must be ≥ 0, got {self.memory_mb}")


def normalised_words(text: str) -> List[str]:
    """The words n-grams are made of.

    >>> normalised_words("Which of the following is TRUE? 下列说法")
    ['which', 'of', 'the', 'following', 'is', 'true', '下', '列', '说', '法']
    """
    return TextView(text).ngram_words  # the filters' n-gram words: one definition of a word


# word -> its hash, shared by the documents a worker sees (words repeat across documents);
# cleared when full, so its memory stays bounded.
_WORD_HASHES: Dict[str, int] = {}
WORD_HASH_CACHE = 1 << 20


def _word_hash(word: str) -> int:
    value = int.from_bytes(hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
    if len(_WORD_HASHES) >= WORD_HASH_CACHE:
        _WORD_HASHES.clear()
    _WORD_HASHES[word] = value
    return value


def word_hashes(words: Sequence[str]) -> np.ndarray:
    """uint64 [n_words]: blake2b of each word (a cached hash for words seen before)."""
    cache = _WORD_HASHES
    return np.fromiter([cache[w] if w in cache else _word_hash(w) for w in words], dtype=np.uint64,
                       count=len(words))


def ngram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """uint64 [n_words - n + 1]: the hash of every window of ``n`` word hashes.

    >>> h = word_hashes("a b c a b c".split())
    >>> g = ngram_hashes(h, 3); bool(g[0] == g[3]), bool(g[0] == g[1])
    (True, False)
    """
    if len(hashes) < n:
        return np.zeros(0, dtype=np.uint64)
    windows = len(hashes) - n + 1
    out = np.zeros(windows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):  # out = sum_j hashes[i + j] * M^(n-1-j), wrapping
            out = out * _MULTIPLIER + hashes[j:j + windows]
    return out


def item_ngrams(text: str, n: int = NGRAM, min_item_words: int = MIN_ITEM_WORDS) -> Tuple[int, np.ndarray]:
    """(n-gram length used, unique hashes) of one evaluation item; (0, empty) when it is
    too short to be matched."""
    hashes = word_hashes(normalised_words(text))
    if len(hashes) >= n:
        return n, sorted_distinct(ngram_hashes(hashes, n))
    if len(hashes) >= min_item_words:
        return len(hashes), ngram_hashes(hashes, len(hashes))
    return 0, np.zeros(0, dtype=np.uint64)


def read_items(path: str, lines: Iterable[str]) -> Iterator[Tuple[str, str]]:
    """(item name, text) of each evaluation item in ``lines`` of the file ``path``."""
    is_jsonl = path.endswith((".jsonl", ".json", ".jsonl.gz", ".json.gz"))
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if not is_jsonl:
            yield f"line {number}", line.strip()
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise ValueError(f"{path} line {number}: not JSON ({line[:60]!r}...)") from None
        name = f"id {record['id']}" if isinstance(record, dict) and "id" in record else f"line {number}"
        yield name, _item_text(record)


def _item_text(record) -> str:
    if isinstance(record, dict) and isinstance(record.get("text"), str):
        return record["text"]
    strings: List[str] = []

    def collect(value):
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)
    collect({k: v for k, v in record.items() if k != "id"} if isinstance(record, dict) else record)
    return "\n".join(strings)


def ngram_rank(position: np.ndarray, length_index: int, n_lengths: int) -> np.ndarray:
    """int64 rank of an n-gram in a text: by position, then longest first (``length_index``
    into the lengths in use, longest first). The match a document is rejected for is the
    one of smallest rank.

    >>> ngram_rank(np.array([0, 5]), 1, 2).tolist()
    [1, 11]
    """
    return np.asarray(position, dtype=np.int64) * n_lengths + length_index


def text_ngrams(text: str, lengths: Sequence[int]) -> Iterator[Tuple[int, np.ndarray]]:
    """``(index into lengths, uint64 [windows] hashes)`` of ``text`` for each n-gram length."""
    words = word_hashes(normalised_words(text))
    for length_index, length in enumerate(lengths):
        grams = ngram_hashes(words, length)
        if len(grams):
            yield length_index, grams


@dataclass
class BenchmarkIndex:
    """Sorted n-gram hashes of every evaluation item, and which item each came from.

    ``hashes``: uint64 [n_ngrams], sorted; ``owners``: int32 [n_ngrams], index into
    ``items`` of the (first, in file and item order) item holding that n-gram;
    ``items``: ``"file: item name"`` strings; ``lengths``: the n-gram lengths in use
    (``n`` and the lengths of short items), longest first.
    Memory: ``INDEX_BYTES_PER_NGRAM`` (12) bytes per n-gram (a million 100-word items:
    1.1 GB; see the README)."""

    n: int = NGRAM
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    owners: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    items: List[str] = field(default_factory=list)
    lengths: Tuple[int, ...] = ()

    @classmethod
    def build(cls, items: Iterable[Tuple[str, str, str]], n: int = NGRAM,
              min_item_words: int = MIN_ITEM_WORDS) -> "BenchmarkIndex":
        """From ``(file, item name, text)`` in a fixed order."""
        def item_grams():
            for path, name, text in items:
                length, hashes = item_ngrams(text, n, min_item_words)
                if length:
                    yield f"{path}: {name}", length, hashes
        return cls.from_item_ngrams(item_grams(), n)

    @classmethod
    def from_item_ngrams(cls, items: Iterable[Tuple[str, int, np.ndarray]], n: int = NGRAM) -> "BenchmarkIndex":
        """From ``(label, n-gram length, unique hashes)`` of each matchable item, in file
        and item order (``item_ngrams``; the label is ``"file: item name"``)."""
        names: List[str] = []
        parts: List[np.ndarray] = []
        owners: List[np.ndarray] = []
        lengths = set()
        for label, length, hashes in items:
            lengths.add(length)
            parts.append(hashes)
            owners.append(np.full(len(hashes), len(names), dtype=np.int32))
            names.append(label)
        if not parts:
            return cls(n=n, items=names)
        all_hashes, all_owners = np.concatenate(parts), np.concatenate(owners)
        order = np.lexsort((all_owners, all_hashes))      # by hash, then first owner
        all_hashes, all_owners = all_hashes[order], all_owners[order]
        first = np.ones(len(all_hashes), dtype=bool)
        first[1:] = all_hashes[1:] != all_hashes[:-1]
        return cls(n=n, hashes=all_hashes[first], owners=all_owners[first], items=names,
                   lengths=tuple(sorted(lengths, reverse=True)))

    def first_match(self, text: str) -> Optional[str]:
        """The item (``"file: item name"``) owning the matching n-gram of ``text`` of
        smallest ``ngram_rank`` (earliest position, longest n-gram first), or None."""
        if not len(self.hashes):
            return None
        best: Optional[Tuple[int, int]] = None  # (rank, owner)
        for length_index, grams in text_ngrams(text, self.lengths):
            at = np.minimum(np.searchsorted(self.hashes, grams), len(self.hashes) - 1)
            hits = np.flatnonzero(self.hashes[at] == grams)
            if len(hits):
                rank = int(ngram_rank(hits[0], length_index, len(self.lengths)))
                if best is None or rank < best[0]:
                    best = (rank, int(self.owners[at[hits[0]]]))
        return None if best is None else self.items[best[1]]


class BloomFilter:
    """A set of n-gram hashes that may answer "maybe" for one it does not hold, never
    "no" for one it does; ``bits`` bits whatever the number of n-grams (0 bits: "maybe"
    to everything). ``BLOOM_HASHES`` positions per n-gram, by double hashing of the
    n-gram's own 64-bit hash. False positives, for m bits and N n-grams:
    (1 - exp(-k N / m)) ** k with k = ``BLOOM_HASHES``.

    >>> f = BloomFilter(1 << 12); f.add(np.array([1, 2, 3], dtype=np.uint64))
    >>> f.might_contain(np.array([2, 3, 99], dtype=np.uint64)).tolist()
    [True, True, False]
    """

    def __init__(self, bits: int, words: Optional[np.ndarray] = None):
        self.bits = int(bits)
        self.words = np.zeros((self.bits + 63) // 64, dtype=np.uint64) if words is None else words

    @classmethod
    def of_size(cls, memory_mb: float) -> "BloomFilter":
        """A filter of ``memory_mb`` megabytes (10^6 bytes)."""
        return cls(int(memory_mb * 1e6) // 8 * 64)

    def _positions(self, grams: np.ndarray) -> np.ndarray:
        """uint64 [n, BLOOM_HASHES] bit positions of each n-gram hash."""
        grams = np.asarray(grams, dtype=np.uint64)
        low, high = grams & np.uint64(0xFFFFFFFF), (grams >> np.uint64(32)) | np.uint64(1)  # [n] each
        steps = np.arange(BLOOM_HASHES, dtype=np.uint64)  # [k]
        with np.errstate(over="ignore"):
            return (low[:, None] + steps[None, :] * high[:, None]) % np.uint64(self.bits)

    def add(self, grams: np.ndarray) -> None:
        if self.bits and len(grams):
            at = self._positions(grams).ravel()
            np.bitwise_or.at(self.words, at >> np.uint64(6), np.uint64(1) << (at & np.uint64(63)))

    def might_contain(self, grams: np.ndarray) -> np.ndarray:
        """bool [n]: False where the n-gram is surely not in the set."""
        if not self.bits:
            return np.ones(len(grams), dtype=bool)
        at = self._positions(grams)  # [n, k]
        found = (self.words[at >> np.uint64(6)] >> (at & np.uint64(63))) & np.uint64(1)
        return found.all(axis=1)

    def merge(self, other: "BloomFilter") -> "BloomFilter":
        """The union, in place (both of the same size)."""
        np.bitwise_or(self.words, other.words, out=self.words)
        return self


def candidate_ngrams(text: str, lengths: Sequence[int], bloom: BloomFilter) -> Tuple[np.ndarray, np.ndarray]:
    """(uint64 hashes, int64 ``ngram_rank``) of the n-grams of ``text`` that ``bloom``
    may hold, for each of ``lengths`` (longest first); empty arrays when none."""
    hashes: List[np.ndarray] = []
    ranks: List[np.ndarray] = []
    for length_index, grams in text_ngrams(text, lengths):
        maybe = np.flatnonzero(bloom.might_contain(grams))
        if len(maybe):
            hashes.append(grams[maybe])
            ranks.append(ngram_rank(maybe, length_index, len(lengths)))
    if not hashes:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return np.concatenate(hashes), np.concatenate(ranks)
