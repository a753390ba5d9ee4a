"""MinHash signatures of shingle sets, and the settings of near-duplicate detection (pure NumPy).

A document is reduced to its set of shingles (``shingles.py``: runs of ``ngram`` words,
each hashed to 32 bits by ``shingle_hash``); LSH banding of the signatures is in
``lsh_bands.py``. The signature applies exactly the permutations of ``datasketch.MinHash``
(version 2, default scheme ``"affine32"``): the 32-bit hash is pre-mixed with the
MurmurHash3 32-bit finaliser, then ``a_k * h + b_k mod 2**32`` for ``k < num_perm`` with
``a_k`` odd and ``(a, b)`` drawn from ``numpy.random.RandomState(seed)``. So::

    signature(text, opts) == datasketch.MinHash(opts.num_perm, opts.seed,
                                                hashfunc=shingle_hash) updated with shingles(text)

which the tests assert. A text with no words has no shingles and the empty signature
(every value at the maximum).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

from glmprep.core.lsh_bands import optimal_bands
from glmprep.core.options import Switch, option
from glmprep.core.shingles import batch_shingle_hashes

# Permutations x shingles computed per step: the temporary matrix stays at 1 MiB (a
# contiguous row per permutation, so the min-reduction runs along memory), within the CPU's
# caches and at the size where local runs' malloc maps a block of its own (pipeline/heap.py).
# Measured with the batches of neardedup.SIGNATURE_BATCH_CHARS: see there.
_CHUNK_ELEMENTS = 1 << 18

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
    # Keeper rounds at most (a Beam graph is unrolled, not looped), of --near-dedup-keepers
    # components: 12 settle chains of thousands of documents in key order, and a round
    # after convergence re-emits the converged stars.
    rounds: int = option(
        12, "components keepers: at most this many rounds; they stop when nothing changes, and "
            "documents still undecided after the last are kept and counted in the manifest "
            "(near_dedup_unsettled)",
        flag="--near-dedup-rounds")
    # Independent keepers: rounds in Beam, then the rest on one worker. Every round is two
    # shuffles that run even when empty (~30 ms each on the local runner). Simulated on
    # 1e5-document graphs (a chain of revisions in key order, clusters of edited copies,
    # random graphs of degree 2 to 50), 2 rounds leave 1e-3 to 2e-2 of the links between
    # undecided documents, 3 leave 0 to 2.4e-3; a larger corpus may want more rounds so
    # that its rest fits --near-dedup-finish-limit.
    finish_after: int = option(
        3, "independent keepers: keeper rounds in Beam before the undecided rest is gathered on "
           "one worker and finished there (the same rounds, until nothing changes)",
        flag="--near-dedup-finish-after")
    # Messages of the undecided documents (one per document, one per link to an undecided
    # near-duplicate: about two per pair) the finishing worker holds at most: ~190 bytes
    # each in its sets (measured: 94 MB for 500,000 with 40-character keys), besides the
    # grouped messages, which Dataflow pages in. After 3 rounds that is the rest of a graph
    # of 1e8 links or more (see finish_after). A larger rest is not finished: its
    # documents are kept and counted as near_dedup_unsettled.
    finish_limit: int = option(
        500_000, "independent keepers: finish the rounds on one worker when the undecided "
                 "documents have at most this many messages (one per document and one per link "
                 "to an undecided near-duplicate); otherwise they are kept and counted in the "
                 "manifest (near_dedup_unsettled). 0 never finishes",
        flag="--near-dedup-finish-limit")
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
        if self.finish_after < 0:
            raise ValueError(f"finish_after must be at least 0, got {self.finish_after}")
        if self.finish_limit < 0:
            raise ValueError(f"finish_limit must be at least 0, got {self.finish_limit}")
        if self.fan_out < 1:
            raise ValueError(f"fan_out must be at least 1, got {self.fan_out}")
        if self.keepers not in KEEPER_MODES:
            raise ValueError(f"keepers must be one of {', '.join(KEEPER_MODES)}, got {self.keepers!r}")

    @property
    def bands(self) -> Tuple[int, int]:
        """(bands, rows) of the LSH index, see :func:`optimal_bands`."""
        return optimal_bands(self.threshold, self.num_perm,
                             self.false_positive_weight, self.false_negative_weight)


# --- signatures -------------------------------------------------------------------------

def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 32-bit finaliser, uint32 [n] -> uint32 [n]; datasketch's pre-mix."""
    h = h ^ (h >> np.uint32(16))
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


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
