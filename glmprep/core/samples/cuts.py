"""Where a long document is cut into pieces: each piece as long as its exact cost allows.

A piece's spans come from its own stream (``"<key>#<piece>"``), so before the piece is
cut its objective (draw 0) and the lengths of its blank spans are known, and so is its
exact cost in a sample, ``n + 2m``, for every place the cut could go. A piece is cut at
the longest length whose exact cost under its own objective fits ``seq_len``, moved
back to a sentence end when one lies within ``SENTENCE_END_SLACK`` of it. (Cutting for
the worst case of every objective left a fifth of every long document's rows empty.)
"""
from __future__ import annotations

from typing import List, Optional

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
        t, seq_len = len(ends), self.options.seq_len
        boundary = (self.char_start[tokens] if self.char_start is not None and tokens is not None
                    else np.ones(t, dtype=bool))   # [t] a cut may go before token i
        cuts = [0]
        while True:
            a, i = cuts[-1], len(cuts) - 1
            has_enc = int(i == 0 or self.enc_every_piece)
            base = np.array([stream_base(self.options.seed, piece_key(key, i, self.epoch))], dtype=np.uint64)
            objective = int(self.planner.objectives(base)[0])
            rest = t - a
            if rest + has_enc + 3 <= seq_len and self._costs(objective, base, ends[a:], np.array([rest]),
                                                             has_enc + 1)[0] <= seq_len:
                cuts.append(t)                       # the rest is the last piece
                return cuts
            longest = min(seq_len - 2 - has_enc, rest - 1)
            cuts.append(a + self._cut(objective, base, ends[a:a + longest], has_enc, boundary[a:a + longest + 1]))

    def _cut(self, objective: int, base: np.ndarray, ends: np.ndarray, has_enc: int, boundary: np.ndarray) -> int:
        """Text tokens of a piece that is not its document's last (``ends``: the most it may hold):
        the longest that fits, or the last sentence end within the slack before it."""
        # from the slack below the worst case (which always fits) up to the window
        lengths = np.arange(max(min(self._safe[objective], len(ends)) - self.slack, 1), len(ends) + 1)
        fits = self._costs(objective, base, ends, lengths, has_enc) <= self.options.seq_len
        fits &= boundary[lengths]
        best = int(lengths[fits][-1]) if fits.any() else int(lengths[0])
        at_end = fits & ends[lengths - 1] & (lengths >= best - self.slack)
        return int(lengths[at_end][-1]) if at_end.any() else best

    def _costs(self, objective: int, base: np.ndarray, ends: np.ndarray, lengths: np.ndarray,
               specials: int) -> np.ndarray:
        """Exact ``n + 2m`` of a piece of each of ``lengths`` (ascending) text tokens, all from the
        start of ``ends``, plus ``specials`` ENC/eos tokens."""
        x_len = lengths + specials
        if objective == _DOCUMENT:
            return x_len + 2
        if objective == _BLANK:
            return x_len + 2 * self._blank_counts(base, lengths, x_len)
        return x_len + 2 * self._sentence_counts(base, ends, lengths, x_len)

    def _blank_counts(self, base: np.ndarray, text_len: np.ndarray, x_len: np.ndarray) -> np.ndarray:
        """Blank spans of pieces of these lengths, as ``SpanPlanner.plan_blank`` draws them. When
        a draw does not fit its text it is drawn again there, with at most one span per target
        token, so such a length is given that worst case."""
        targets = self.planner.targets(text_len, x_len, "blank")
        drawn = self.planner.blank_lengths(base, 1 + np.arange(max(int(targets.max()), 1)))
        covered = np.cumsum(drawn)
        counts = 1 + np.searchsorted(covered, targets, side="left")   # spans until the target is met
        free = text_len - covered[counts - 1] - (counts - 1)
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
