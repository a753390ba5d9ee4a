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
text found in it, or None.

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

CONTAMINATED = "contaminated"  # reject reason (stage "decontaminate")
DECONTAMINATE_REASONS = (CONTAMINATED,)
NGRAM = 13
MIN_ITEM_WORDS = 8
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

    def __post_init__(self):
        if self.benchmark_ngram < 1:
            raise ValueError(f"benchmark_ngram must be ≥ 1, got {self.benchmark_ngram}")


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
        return n, np.unique(ngram_hashes(hashes, n))
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


@dataclass
class BenchmarkIndex:
    """Sorted n-gram hashes of every evaluation item, and which item each came from.

    ``hashes``: uint64 [n_ngrams], sorted; ``owners``: int32 [n_ngrams], index into
    ``items`` of the (first, in file and item order) item holding that n-gram;
    ``items``: ``"file: item name"`` strings; ``lengths``: the n-gram lengths in use
    (``n`` and the lengths of short items), longest first.
    Memory: 12 bytes per n-gram (a million 100-word items: 1.1 GB; see the README)."""

    n: int = NGRAM
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    owners: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    items: List[str] = field(default_factory=list)
    lengths: Tuple[int, ...] = ()

    @classmethod
    def build(cls, items: Iterable[Tuple[str, str, str]], n: int = NGRAM,
              min_item_words: int = MIN_ITEM_WORDS) -> "BenchmarkIndex":
        """From ``(file, item name, text)`` in a fixed order."""
        names: List[str] = []
        parts: List[np.ndarray] = []
        owners: List[np.ndarray] = []
        lengths = set()
        for path, name, text in items:
            length, hashes = item_ngrams(text, n, min_item_words)
            if length:
                lengths.add(length)
                parts.append(hashes)
                owners.append(np.full(len(hashes), len(names), dtype=np.int32))
                names.append(f"{path}: {name}")
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
        """The item (``"file: item name"``) owning the first matching n-gram of ``text``
        (earliest position, longest n-gram first), or None."""
        if not len(self.hashes):
            return None
        words = word_hashes(normalised_words(text))
        best: Optional[Tuple[int, int]] = None  # (position, owner)
        for length in self.lengths:
            grams = ngram_hashes(words, length)
            if not len(grams):
                continue
            at = np.minimum(np.searchsorted(self.hashes, grams), len(self.hashes) - 1)
            hits = np.flatnonzero(self.hashes[at] == grams)
            if len(hits) and (best is None or hits[0] < best[0]):
                best = (int(hits[0]), int(self.owners[at[hits[0]]]))
        return None if best is None else self.items[best[1]]
