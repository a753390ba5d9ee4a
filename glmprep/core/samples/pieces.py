"""Documents cut into pieces that fit a sample, and pieces held in columns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

import numpy as np

from glmprep.core.samples.arrays import exclusive_cumsum, segment_ranges
from glmprep.core.samples.sentences import SentenceTable


@dataclass(frozen=True)
class Piece:
    """A run of one document's tokens that fits in a sample."""

    key: str             # the document's key
    piece: int           # index of this piece in the document
    num_pieces: int
    tokens: np.ndarray   # text tokens only; [t] uint32
    ends: np.ndarray     # sentence ends of ``tokens``; [t] bool


def split_points(ends: np.ndarray, max_x_len: int) -> List[int]:
    """Cut offsets ``[0, …, t]`` of a document into pieces of at most ``max_x_len`` x-tokens.

    A cut goes after the last sentence end in the second half of the window, or
    mid-sentence when the window holds none.
    """
    t = len(ends)
    budget = max_x_len - 2  # room for ENC and eos whichever piece this is
    cuts = [0]
    while t - cuts[-1] > budget:
        lo, hi = cuts[-1] + budget // 2, cuts[-1] + budget
        found = np.flatnonzero(ends[lo:hi])
        cuts.append(lo + int(found[-1]) + 1 if len(found) else hi)
    cuts.append(t)
    return cuts


def split_document(key: str, tokens: np.ndarray, ends: np.ndarray, max_x_len: int) -> List[Piece]:
    """Cut a document into pieces that fit a sample; nothing is dropped."""
    cuts = split_points(ends, max_x_len) if len(tokens) + 2 > max_x_len else [0, len(tokens)]
    n = len(cuts) - 1
    return [Piece(key, i, n, tokens[a:b], ends[a:b]) for i, (a, b) in enumerate(zip(cuts, cuts[1:]))]


@dataclass
class PieceTable:
    """Pieces in columns: their text tokens back to back, one row per piece."""

    tokens: np.ndarray        # [T] uint32, every piece's text in order
    ends: np.ndarray          # [T] bool sentence ends
    keys: List[str]           # [P] document key of each piece
    piece: np.ndarray         # [P] index of the piece in its document
    num_pieces: np.ndarray    # [P]
    lengths: np.ndarray       # [P] text tokens

    @property
    def offsets(self) -> np.ndarray:
        return exclusive_cumsum(self.lengths)

    def has_enc(self, enc: str = "document") -> np.ndarray:
        """bool [P]: the piece opens with ENC (a document's first piece; every piece with ``enc="row"``)."""
        return (self.piece == 0) | (enc == "row")

    def has_eos(self) -> np.ndarray:
        """bool [P]: the piece closes with eos (a document's last piece)."""
        return self.piece == self.num_pieces - 1

    def x_lengths(self, enc: str = "document") -> np.ndarray:
        """[P] tokens of each piece in x: its text with its ENC and eos."""
        return self.lengths + self.has_enc(enc) + self.has_eos()

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, indices: np.ndarray) -> "PieceTable":
        """The pieces at ``indices``, in that order, as a new table."""
        indices = np.asarray(indices, dtype=np.int64)
        tokens_at = segment_ranges(self.offsets[indices], self.lengths[indices])
        return PieceTable(self.tokens[tokens_at], self.ends[tokens_at], [self.keys[i] for i in indices.tolist()],
                          self.piece[indices], self.num_pieces[indices], self.lengths[indices])

    @classmethod
    def concat(cls, tables: Sequence["PieceTable"]) -> "PieceTable":
        return cls(np.concatenate([t.tokens for t in tables]), np.concatenate([t.ends for t in tables]),
                   [k for t in tables for k in t.keys], np.concatenate([t.piece for t in tables]),
                   np.concatenate([t.num_pieces for t in tables]), np.concatenate([t.lengths for t in tables]))

    @classmethod
    def from_pieces(cls, pieces: Sequence[Piece]) -> "PieceTable":
        return cls(
            np.concatenate([p.tokens for p in pieces]).astype(np.uint32, copy=False) if pieces else np.zeros(0, np.uint32),
            np.concatenate([p.ends for p in pieces]).astype(bool, copy=False) if pieces else np.zeros(0, bool),
            [p.key for p in pieces], np.array([p.piece for p in pieces], dtype=np.int64),
            np.array([p.num_pieces for p in pieces], dtype=np.int64),
            np.array([len(p.tokens) for p in pieces], dtype=np.int64))

    @classmethod
    def from_documents(cls, keys: Sequence[str], tokens: Sequence[np.ndarray], max_x_len: int,
                       table: Optional[SentenceTable] = None,
                       ends: Optional[Sequence[np.ndarray]] = None,
                       cut: Optional[Callable[[List[str], List[np.ndarray], List[np.ndarray]],
                                              List[List[int]]]] = None) -> "PieceTable":
        """Documents -> pieces; only documents longer than ``max_x_len`` go through a Python loop.

        ``cut(keys, ends, tokens)`` gives the cut offsets ``[0, …, t]`` of each such document, all
        at once (default: ``split_points`` for pieces of at most ``max_x_len``).
        """
        lengths = np.array([len(t) for t in tokens], dtype=np.int64)
        # one document (a long one fills a chunk by itself) is used as it is, not copied
        if len(tokens) == 1:
            flat = np.asarray(tokens[0], dtype=np.uint32)
        else:
            flat = np.concatenate(tokens).astype(np.uint32, copy=False) if len(tokens) else np.zeros(0, np.uint32)
        if ends is not None:
            flat_ends = np.concatenate(ends).astype(bool, copy=False) if len(ends) else np.zeros(0, bool)
        elif table is not None:
            flat_ends = table.ends(flat, lengths)
        else:
            raise ValueError("PieceTable.from_documents needs a SentenceTable or the sentence ends")
        long_docs = np.flatnonzero(lengths + 2 > max_x_len)
        if not len(long_docs):
            ones = np.ones(len(keys), dtype=np.int64)
            return cls(flat, flat_ends, list(keys), np.zeros(len(keys), np.int64), ones, lengths)
        doc_offsets = exclusive_cumsum(lengths)
        spans = [(int(doc_offsets[d]), int(doc_offsets[d] + lengths[d])) for d in long_docs.tolist()]
        long_ends = [flat_ends[a:b] for a, b in spans]
        all_cuts = (cut([keys[d] for d in long_docs.tolist()], long_ends, [flat[a:b] for a, b in spans])
                    if cut is not None else [split_points(e, max_x_len) for e in long_ends])
        piece_keys, piece_index, piece_count, piece_len = [], [], [], []
        previous = 0
        for d, cuts in zip(long_docs.tolist(), all_cuts):
            piece_keys.extend(keys[previous:d])
            piece_index.extend([0] * (d - previous))
            piece_count.extend([1] * (d - previous))
            piece_len.extend(lengths[previous:d].tolist())
            n = len(cuts) - 1
            piece_keys.extend([keys[d]] * n)
            piece_index.extend(range(n))
            piece_count.extend([n] * n)
            piece_len.extend(np.diff(cuts).tolist())
            previous = d + 1
        piece_keys.extend(keys[previous:])
        piece_index.extend([0] * (len(keys) - previous))
        piece_count.extend([1] * (len(keys) - previous))
        piece_len.extend(lengths[previous:].tolist())
        return cls(flat, flat_ends, piece_keys, np.array(piece_index, np.int64),
                   np.array(piece_count, np.int64), np.array(piece_len, np.int64))
