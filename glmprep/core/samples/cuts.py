"""Where a long document is cut into pieces: each piece as long as its exact cost allows.

A piece's spans come from its own stream (``"<key>#<piece>"``), so before the piece is
cut its objective (draw 0) and the lengths of its blank spans are known, and so is its
exact cost in a sample, ``n + 2m``, for every place the cut could go. A piece is cut at
the longest length whose exact cost under its own objective fits ``seq_len``, moved
back to a sentence end when one lies within ``SENTENCE_END_SLACK`` of it. (Cutting for
the worst case of every objective left a fifth of every long document's rows empty.)
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from glmprep.core.rng import draw, piece_key, stream_base
from glmprep.core.samples.options import SampleOptions
from glmprep.core.samples.spans import SpanPlanner
from glmprep.schemas.shard import OBJECTIVES

# A cut moves back to the last sentence end within this share of seq_len (16 tokens at
# 512): at most that much of the row is left for other documents' pieces.
SENTENCE_END_SLACK = 1 / 32

_BLANK, _SENTENCE, _DOCUMENT = range(3)


class PieceCutter:
    """Cut offsets of long documents, piece by piece, from the pieces' own streams."""

    def __init__(self, options: SampleOptions, planner: SpanPlanner, char_start: Optional[np.ndarray] = None,
                 epoch: int = 0):
        self.options = options
        self.epoch = epoch
        # bool [vocab]: cuts only before a token that starts a character (span_boundaries character)
        self.char_start = char_start if options.span_boundaries == "character" else None
        self.planner = planner
        self.enc_every_piece = options.enc == "row"
        self.slack = max(1, int(options.seq_len * SENTENCE_END_SLACK))
        # Text tokens a piece may hold whatever its spans (worst case, ENC and eos counted).
        self._safe = [options.max_piece_len((o,)) - 2 for o in OBJECTIVES]

    def cuts(self, key: str, ends: np.ndarray, tokens: Optional[np.ndarray] = None) -> List[int]:
        """Offsets ``[0, …, t]`` cutting a document of sentence ends ``ends`` ([t] bool) and
        ``tokens`` (needed for character boundaries)."""
        return self.cuts_many([key], [ends], None if tokens is None else [tokens])[0]

    def cuts_many(self, keys: Sequence[str], ends: Sequence[np.ndarray],
                  tokens: Optional[Sequence[np.ndarray]] = None) -> List[List[int]]:
        """``cuts`` of several documents: round i cuts piece i of every document not yet cut
        to its end, all at once (a few array operations per round and objective; sentence
        pieces one by one), rather than a dozen small array operations per piece."""
        seq_len, slack = self.options.seq_len, self.slack
        doc_len = np.array([len(e) for e in ends], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(doc_len)[:-1]]).astype(np.int64)
        flat_ends = np.concatenate(list(ends) + [np.zeros(1, bool)]).astype(bool, copy=False)
        if self.char_start is not None and tokens is not None:
            boundary = self.char_start[np.concatenate(list(tokens) + [np.zeros(1, np.uint32)])]
        else:
            boundary = np.ones(len(flat_ends), dtype=bool)   # a cut may go before flat token p
        cuts: List[List[int]] = [[0] for _ in keys]
        active = np.arange(len(keys))
        done = np.zeros(len(keys), dtype=np.int64)           # text tokens cut off so far
        piece = 0
        while len(active):
            has_enc = int(piece == 0 or self.enc_every_piece)
            bases = np.array([stream_base(self.options.seed, piece_key(keys[d], piece, self.epoch))
                              for d in active.tolist()], dtype=np.uint64)
            objective = self.planner.objectives(bases)
            start, rest = offsets[active] + done[active], doc_len[active] - done[active]
            last = rest + has_enc + 3 <= seq_len               # the rest may be the last piece
            if last.any():
                last[last] = self._costs_many(objective[last], bases[last], flat_ends, start[last],
                                              rest[last, None], has_enc + 1)[:, 0] <= seq_len
            for d in active[last].tolist():
                cuts[d].append(int(doc_len[d]))
            more = ~last
            if more.any():
                length = self._cut_many(objective[more], bases[more], flat_ends, boundary, start[more],
                                        np.minimum(seq_len - 2 - has_enc, rest[more] - 1), has_enc)
                for d, n in zip(active[more].tolist(), length.tolist()):
                    done[d] += n
                    cuts[d].append(int(done[d]))
            active = active[more]
            piece += 1
        return cuts

    def _cut_many(self, objective, bases, flat_ends, boundary, start, longest, has_enc) -> np.ndarray:
        """Text tokens of pieces that are not their document's last (``longest``: the most each
        may hold): the longest that fits, or the last sentence end within the slack before it."""
        slack, rows = self.slack, np.arange(len(start))
        lo = np.maximum(np.minimum(np.array(self._safe)[objective], longest) - slack, 1)
        width = int((longest - lo).max()) + 1
        lengths = lo[:, None] + np.arange(width)[None, :]            # [D, W] candidate lengths
        valid = lengths <= longest[:, None]
        lengths = np.minimum(lengths, longest[:, None])
        fits = self._costs_many(objective, bases, flat_ends, start, lengths, has_enc) <= self.options.seq_len
        fits &= valid & boundary[start[:, None] + lengths]
        best = np.where(fits.any(axis=1), lengths[rows, width - 1 - np.argmax(fits[:, ::-1], axis=1)], lo)
        at_end = fits & flat_ends[start[:, None] + lengths - 1] & (lengths >= best[:, None] - slack)
        return np.where(at_end.any(axis=1), lengths[rows, width - 1 - np.argmax(at_end[:, ::-1], axis=1)], best)

    def _costs_many(self, objective, bases, flat_ends, start, lengths, specials) -> np.ndarray:
        """[D, W] exact ``n + 2m`` of piece d at ``lengths[d]`` (ascending) text tokens from flat
        position ``start[d]``, plus ``specials`` ENC/eos tokens."""
        x_len = lengths + specials
        costs = x_len + 2                                             # document: one span
        blank = np.flatnonzero(objective == _BLANK)
        if len(blank):
            costs[blank] = x_len[blank] + 2 * self._blank_counts_many(bases[blank], lengths[blank], x_len[blank])
        for d in np.flatnonzero(objective == _SENTENCE).tolist():
            a = int(start[d])
            costs[d] = x_len[d] + 2 * self._sentence_counts(bases[d:d + 1], flat_ends[a:a + int(lengths[d, -1])],
                                                            lengths[d], x_len[d])
        return costs

    def _blank_counts_many(self, bases: np.ndarray, text_len: np.ndarray, x_len: np.ndarray) -> np.ndarray:
        """[D, W] blank spans of piece d at each of ``text_len[d]``, as ``SpanPlanner.plan_blank``
        draws them: spans until the target is met (one searchsorted over every piece's running
        totals, set apart by offsets). When a draw does not fit its text it is drawn again there,
        with at most one span per target token, so such a length is given that worst case."""
        targets = self.planner.targets(text_len, x_len, "blank")
        draws = max(int(targets.max()), 1)
        covered = np.cumsum(self.planner.blank_lengths(bases[:, None], 1 + np.arange(draws)[None, :]), axis=1)
        apart = (int(covered[:, -1].max()) + 1) * np.arange(len(bases))[:, None]
        found = np.searchsorted((covered + apart).ravel(), (targets + apart).ravel(), side="left")
        counts = 1 + found.reshape(targets.shape) - draws * np.arange(len(bases))[:, None]
        free = text_len - np.take_along_axis(covered, counts - 1, axis=1) - (counts - 1)
        return np.where(free >= 0, counts, targets)

    def _sentence_counts(self, base: np.ndarray, ends: np.ndarray, lengths: np.ndarray,
                         x_len: np.ndarray) -> np.ndarray:
        """Sentence spans of pieces of these lengths, as ``SpanPlanner.plan_sentence`` takes them:
        a piece cut after ``l`` tokens holds the whole sentences ending before token ``l - 1`` and
        the one holding that token, cut there; sentence j draws key ``1 + j``."""
        inner = np.flatnonzero(ends[:int(lengths[-1]) - 1])   # ends a piece may hold whole
        starts = np.concatenate([[0], inner + 1])             # [S] start of sentence j
        last = np.searchsorted(inner, lengths - 1)            # [C] sentence holding token l - 1
        whole = np.append(inner + 1 - starts[:-1], 0)         # [S] length of sentence j when whole
        j = np.arange(len(starts))
        held = np.where(j < last[:, None], whole, 0)          # [C, S] tokens of sentence j in piece c
        held[np.arange(len(lengths)), last] = lengths - starts[last]
        order = np.argsort(draw(base, 1 + j), kind="stable")  # sentences in the order they are taken
        held = held[:, order]
        covered_before = np.cumsum(held, axis=1) - held
        targets = self.planner.targets(lengths, x_len, "sentence")
        return np.count_nonzero((held > 0) & (covered_before < targets[:, None]), axis=1)
