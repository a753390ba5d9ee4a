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

# Most (piece, sentence L) rows times sentences one step of sentence costs lays out
# (arrays of 8 bytes a cell): more are costed in several steps.
SENTENCE_CELLS = 1 << 19

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
        to its end, all at once (a few array operations per round and objective), rather than a
        dozen small array operations per piece."""
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
        sentence = np.flatnonzero(objective == _SENTENCE)
        if len(sentence):
            costs[sentence] = x_len[sentence] + 2 * self._sentence_counts(
                bases[sentence], flat_ends, start[sentence], lengths[sentence], x_len[sentence])
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

    def _sentence_counts(self, bases: np.ndarray, flat_ends: np.ndarray, start: np.ndarray,
                         lengths: np.ndarray, x_len: np.ndarray) -> np.ndarray:
        """[D, W] sentence spans of piece d at each of ``lengths[d]`` (ascending) text tokens from
        flat position ``start[d]``, as ``SpanPlanner.plan_sentence`` takes them: a piece cut
        after ``l`` tokens holds the whole sentences ending before token ``l - 1`` and the one
        holding that token (sentence L), cut there; sentence j draws key ``1 + j``, and the
        sentences are taken in the order of their keys until the target is covered.

        The lengths of one piece share a few sentences L; each (piece, L) is one row of
        ``_sentence_rows``. Pieces with about as many sentences go together, in groups whose
        rows times sentences stay within ``SENTENCE_CELLS``."""
        longest = lengths[:, -1]
        at = np.arange(max(int(longest.max()) - 1, 0))
        # [D, longest - 1] the sentence ends a piece may hold whole (before its last candidate
        # token); a piece is at most seq_len long and a chunk's pieces hold CHUNK_TOKENS
        inner = (at[None, :] < longest[:, None] - 1) & flat_ends[np.minimum(start[:, None] + at, len(flat_ends) - 1)]
        ends_before = np.zeros((len(bases), len(at) + 1), np.int64)
        np.cumsum(inner, axis=1, out=ends_before[:, 1:])
        last = ends_before[np.arange(len(bases))[:, None], lengths - 1]  # [D, W] sentence L holding token l - 1
        new = np.ones(lengths.shape, bool)                            # [D, W] a length whose L is new (last ascends)
        new[:, 1:] = last[:, 1:] != last[:, :-1]
        sentences = ends_before[:, -1] + 1                            # [D] sentences a piece may hold
        rows = np.count_nonzero(new, axis=1)                          # [D] its distinct L
        counts = np.zeros(lengths.shape, np.int64)
        for group in self._sentence_groups(rows, sentences):
            counts[group] = self._sentence_rows(bases[group], inner[group], ends_before[group], last[group],
                                                new[group], lengths[group], x_len[group], int(sentences[group].max()))
        return counts

    @staticmethod
    def _sentence_groups(rows: np.ndarray, sentences: np.ndarray):
        """Index groups of pieces (all of them at once when they fit) whose rows times their
        most sentences stay within ``SENTENCE_CELLS`` (at least one piece a group), pieces of
        about as many sentences together."""
        if int(rows.sum()) * int(sentences.max()) <= SENTENCE_CELLS:
            yield slice(None)
            return
        by_size = np.argsort(sentences, kind="stable")
        rows_before = np.cumsum(rows[by_size])
        first = 0
        while first < len(by_size):  # the longest group from ``first`` within the bound
            base = rows_before[first - 1] if first else 0
            cells = (rows_before[first:] - base) * sentences[by_size[first:]]
            end = first + max(1, int(np.searchsorted(cells, SENTENCE_CELLS, side="right")))
            yield by_size[first:end]
            first = end

    def _sentence_rows(self, bases, inner, ends_before, last, new, lengths, x_len, sentences) -> np.ndarray:
        """``_sentence_counts`` of a group of pieces of at most ``sentences`` sentences (the
        others padded: a padded sentence is taken after every real one and holds nothing).

        For each (piece, L), its sentences are laid out in the order they are taken, with
        what the whole ones among ``0 … L-1`` cover before each; a length ``l`` only adds
        ``l - start(L)`` after L's place. A length's count is then two searches in that row
        (the sentences before L's place against the target, those after it against the
        target less L's part) and whether L itself starts short of the target."""
        pieces, width = lengths.shape
        piece = np.arange(pieces)[:, None]
        j = np.arange(sentences)
        ends = np.zeros((pieces, sentences + 1), np.int64)            # [D, S + 1] sentence ends, padded
        rows, cols = np.nonzero(inner)
        ends[rows, ends_before[rows, cols + 1]] = cols + 1           # sentence k ends after token cols
        ends[:, 1:] = np.maximum.accumulate(ends[:, 1:], axis=1)     # padding: empty sentences
        starts = ends[:, :-1]                                         # [D, S] start of sentence j
        whole = ends[:, 1:] - starts                                  # [D, S] its length when whole
        keys = draw(bases[:, None], 1 + j[None, :])
        keys[j[None, :] > ends_before[:, -1:]] = np.iinfo(np.uint64).max   # padding last
        order = np.argsort(keys, axis=1, kind="stable")               # [D, S] sentence taken k-th
        place = np.empty_like(order)                                  # [D, S] where sentence j is taken
        place[piece, order] = j
        # one row per distinct (piece, L), in order (``new``: a length that starts one);
        # ``row`` [D, W] is each length's
        row = np.cumsum(new).reshape(pieces, width) - 1
        row_piece, row_last = np.nonzero(new)[0], last[new]
        taken = order[row_piece]                                      # [U, S] sentence taken k-th
        member = taken < row_last[:, None]                            # a whole sentence of the piece
        values = np.where(member, whole[row_piece[:, None], taken], 0)
        before = np.cumsum(values, axis=1) - values                   # [U, S] what whole ones cover before k
        members_before = np.zeros((len(row_piece), sentences + 1), np.int64)
        np.cumsum(member, axis=1, out=members_before[:, 1:])
        members_before = members_before.ravel()                       # row u, place k: [u * (S + 1) + k]
        targets = self.planner.targets(lengths, x_len, "sentence")    # [D, W]
        part = lengths - starts[piece, last]                          # [D, W] tokens of L held
        top = int(before.max()) + 2                                   # rows set apart for one search
        apart = (before + top * np.arange(len(row_piece))[:, None]).ravel()
        both = np.clip(np.stack([targets, targets - part]), 0, top - 1) + top * row
        reach = np.searchsorted(apart, both, side="left") - sentences * row   # first place reaching each
        own = place[row_piece, row_last][row]                         # [D, W] L's place in the row
        at = (sentences + 1) * row
        before_own = members_before[at + np.minimum(reach[0], own)]
        after_own = members_before[at + np.maximum(reach[1], own + 1)] - members_before[at + own + 1]
        return before_own + after_own + (before.ravel()[sentences * row + own] < targets)
