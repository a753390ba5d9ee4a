"""Spans of every piece, drawn from the piece's own random stream (GLM_SPEC §3).

Blank and sentence spans are planned per piece before packing (so a sample's exact
length ``n + 2m`` is known when it is packed); blank spans are placed and document
spans drawn once the pieces of a sample are known.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np

from glmprep.core.rng import KeyedRandom, draw, piece_key, unit
from glmprep.core.samples.arrays import exclusive_cumsum, within
from glmprep.core.samples.options import SampleOptions, masking_capacity
from glmprep.core.samples.pieces import PieceTable
from glmprep.schemas.shard import OBJECTIVES

# When a piece is too short to place the drawn blank spans, the draw is repeated
# this many times before falling back to the fewest spans that reach the target.
_BLANK_REDRAWS = 8


@lru_cache(maxsize=16)
def truncated_poisson_cdf(lam: float, max_span: int) -> np.ndarray:
    """CDF over lengths 1..max_span of Poisson(lam) restricted there and renormalised."""
    k = np.arange(1, max_span + 1)
    log_pmf = k * math.log(lam) - lam - np.array([math.lgamma(i + 1) for i in k])
    pmf = np.exp(log_pmf - log_pmf.max())
    cdf = np.cumsum(pmf / pmf.sum())
    cdf[-1] = 1.0
    return cdf


def truncated_poisson_pmf(lam: float, max_span: int) -> np.ndarray:
    """pmf over 1..max_span (index 0 is length 1)."""
    cdf = truncated_poisson_cdf(lam, max_span)
    return np.diff(np.concatenate([[0.0], cdf]))


@dataclass
class SpanPlan:
    """Spans drawn for every piece of a table under one objective, before packing.

    Span counts are known before packing, so a sample is packed to its exact length
    ``n + 2m`` instead of a worst case. Blank spans are not yet placed (``start`` is
    filled in when the sample is built).
    """

    piece: np.ndarray     # [K] piece of each span, sorted
    start: np.ndarray     # [K] start within the piece's text (sentence, document); unused for blank
    length: np.ndarray    # [K]
    counts: np.ndarray    # [P] spans per piece
    free: np.ndarray      # [P] blank: unmasked tokens beyond the mandatory gaps
    draws: np.ndarray     # [P] blank: length draws consumed (placement draws follow them)


class SpanPlanner:
    """Draws the spans of pieces under one set of options; every draw comes from the
    stream of the piece (``bases``: one stream start per piece of the table)."""

    def __init__(self, options: SampleOptions, epoch: int = 0):
        self.options = options
        self.epoch = epoch
        self._span_cdf = truncated_poisson_cdf(float(options.poisson_lambda), int(options.max_span))
        weights = np.array([options.objective_weights.get(o, 0.0) for o in OBJECTIVES], dtype=np.float64)
        self._objective_cdf = np.cumsum(weights / weights.sum())
        self._objective_cdf[-1] = 1.0

    def objectives(self, bases: np.ndarray) -> np.ndarray:
        """Objective index of a sample starting at each of these pieces (draw 0 of its stream)."""
        return np.searchsorted(self._objective_cdf, unit(draw(bases, np.zeros(len(bases), np.int64))),
                               side="right")

    def blank_lengths(self, bases: np.ndarray, counters: np.ndarray) -> np.ndarray:
        """Blank span lengths: draw ``counters`` of each stream through the truncated Poisson."""
        return np.searchsorted(self._span_cdf, unit(draw(bases, counters)), side="right") + 1

    def targets(self, text_len: np.ndarray, x_len: np.ndarray, objective: str) -> np.ndarray:
        """Tokens to mask per piece: ceil(ratio · x_len), capped by what the piece can hold."""
        return np.minimum(masking_capacity(text_len, objective, self.options.max_span),
                          np.ceil(self.options.mask_ratio * x_len - 1e-9).astype(np.int64))

    def plan_blank(self, table: PieceTable, bases: np.ndarray, x_len: np.ndarray) -> SpanPlan:
        """Poisson lengths drawn from each piece's stream until its target is met."""
        text_len = table.lengths
        targets = self.targets(text_len, x_len, "blank")
        draws = np.maximum(targets, 1)          # each span covers ≥ 1 token: enough draws
        draw_piece = np.repeat(np.arange(len(table)), draws)
        counters = 1 + within(draws)
        lengths = self.blank_lengths(bases[draw_piece], counters)
        excl = np.cumsum(lengths) - lengths
        covered_before = excl - np.repeat(excl[exclusive_cumsum(draws)], draws)
        keep = covered_before < np.repeat(targets, draws)
        span_piece, lengths = draw_piece[keep], lengths[keep].astype(np.int64)
        counts = np.bincount(span_piece, minlength=len(table))
        totals = np.bincount(span_piece, weights=lengths, minlength=len(table)).astype(np.int64)
        free = text_len - totals - np.maximum(counts - 1, 0)
        bad = np.flatnonzero(free < 0)
        if len(bad):
            span_piece, lengths = self._redraw(table, span_piece, lengths, counts, free, bad, targets)
        return SpanPlan(span_piece, np.zeros(len(lengths), np.int64), lengths, counts, free, draws)

    def _redraw(self, table, span_piece, lengths, counts, free, bad, targets):
        """Pieces whose draw does not fit: draw again from a side stream, then fall back
        to the fewest even spans that reach the target. Updates ``counts`` and ``free``."""
        redrawn_piece, redrawn = [], []
        for p in bad.tolist():
            target, room = int(targets[p]), int(table.lengths[p])
            rng = KeyedRandom(self.options.seed,
                              piece_key(table.keys[p], int(table.piece[p]), self.epoch) + "/redraw")
            for _ in range(_BLANK_REDRAWS):
                drawn = np.searchsorted(self._span_cdf, rng.uniform(target), side="right") + 1
                drawn = drawn[:int(np.searchsorted(np.cumsum(drawn), target)) + 1]
                if drawn.sum() + len(drawn) - 1 <= room:
                    break
            else:
                k = -(-target // self.options.max_span)
                drawn = np.full(k, target // k) + (np.arange(k) < target % k)
            redrawn_piece.append(np.full(len(drawn), p))
            redrawn.append(drawn.astype(np.int64))
            counts[p] = len(drawn)
            free[p] = room - drawn.sum() - (len(drawn) - 1)
        keep = ~np.isin(span_piece, bad)
        span_piece = np.concatenate([span_piece[keep]] + redrawn_piece)
        lengths = np.concatenate([lengths[keep]] + redrawn)
        by_piece = np.argsort(span_piece, kind="stable")
        return span_piece[by_piece], lengths[by_piece]

    def place_blank(self, plan: SpanPlan, chosen: np.ndarray, bases: np.ndarray):
        """Uniform placement of the planned spans of ``chosen`` pieces (non-adjacent)."""
        keep = np.isin(plan.piece, chosen)
        span_piece, lengths = plan.piece[keep], plan.length[keep]
        counts, free = plan.counts[chosen], plan.free[chosen]
        # Which k of free + k slots hold spans; slot draws follow the piece's length draws.
        slot_index = self._choose_slots(chosen, free + counts, counts, bases, 1 + plan.draws[chosen])
        # span i of a piece starts after (slot_i - i) free tokens, i gaps and the spans before
        # it, i.e. at slot_i + (tokens of the spans before it)
        excl = np.cumsum(lengths) - lengths
        first = exclusive_cumsum(counts)[counts > 0]
        spans_before = excl - np.repeat(excl[first], counts[counts > 0])
        return span_piece, slot_index + spans_before, lengths

    def _choose_slots(self, chosen, slots, counts, bases, first_counter):
        """A uniformly random k-subset of ``range(slots)`` per piece, sorted; concatenated.

        Draws ``k + margin`` slot numbers with replacement and keeps the first k distinct
        ones in draw order (a uniform k-subset), so only ~k values are sorted, not every
        slot. A piece left with fewer than k distinct draws (rare) is redone from a
        side stream by ranking every slot.
        """
        margin = np.ceil(2.0 * counts * counts / np.maximum(slots, 1)).astype(np.int64) + 4
        draws = np.where(counts == slots, 0, counts + margin)      # all slots taken: nothing to draw
        draw_piece = np.repeat(np.arange(len(chosen)), draws)
        bits = draw(bases[chosen][draw_piece], np.repeat(first_counter, draws) + within(draws))
        value = (unit(bits) * slots[draw_piece]).astype(np.int64)
        if slots.max(initial=0) < 1 << 20 and draws.max(initial=0) < 1 << 20:
            # sort by (piece, value, draw order) through one int64 key
            by_value = np.argsort((draw_piece << 40) | (value << 20) | within(draws))
        else:
            by_value = np.lexsort((np.arange(len(value)), value, draw_piece))
        first = np.ones(len(value), dtype=bool)
        sv, sp = value[by_value], draw_piece[by_value]
        first[by_value[1:]] = (sv[1:] != sv[:-1]) | (sp[1:] != sp[:-1])
        rank = np.cumsum(first) - 1                                 # distinct draws so far, per piece
        rank -= np.repeat(np.append(0, np.cumsum(first))[exclusive_cumsum(draws)], draws)
        taken = first & (rank < counts[draw_piece])
        got = np.bincount(draw_piece[taken], minlength=len(chosen))
        picked_piece, picked_value = draw_piece[taken], value[taken]
        full = np.flatnonzero(counts == slots)
        short = np.flatnonzero((got < counts) & (counts < slots))
        extra_piece, extra_value = [full.repeat(counts[full])], [within(counts[full])]
        for i in short.tolist():
            rng = KeyedRandom(self.options.seed, f"{int(bases[chosen[i]])}/place")
            extra_piece.append(np.full(counts[i], i))
            extra_value.append(np.sort(np.argsort(rng.bits(int(slots[i])), kind="stable")[:counts[i]]))
        keep = ~np.isin(picked_piece, short)
        piece = np.concatenate([picked_piece[keep]] + extra_piece)
        value = np.concatenate([picked_value[keep]] + extra_value)
        return np.sort((piece << 32) | value) & 0xFFFFFFFF         # sorted by piece, then value

    def plan_sentence(self, table: PieceTable, bases: np.ndarray, x_len: np.ndarray) -> SpanPlan:
        """Whole sentences in random order (the piece's stream) until its target is covered."""
        text_len = table.lengths
        targets = self.targets(text_len, x_len, "sentence")
        ends = table.ends.copy()
        local_end = np.cumsum(text_len) - 1
        ends[local_end] = True                               # sentences never cross pieces
        sent_end = np.flatnonzero(ends)
        sent_start = np.concatenate([[0], sent_end[:-1] + 1])
        sent_len = sent_end - sent_start + 1
        sent_piece = np.searchsorted(local_end, sent_start)
        keys = draw(bases[sent_piece], 1 + within(np.bincount(sent_piece, minlength=len(table))))
        order = np.lexsort((keys, sent_piece))
        lens_in_order = sent_len[order]
        piece_in_order = sent_piece[order]
        first = np.searchsorted(piece_in_order, np.arange(len(table)))
        excl = np.cumsum(lens_in_order) - lens_in_order
        covered_before = excl - excl[first[piece_in_order]]
        picked = np.sort(order[covered_before < targets[piece_in_order]])
        piece = sent_piece[picked]
        counts = np.bincount(piece, minlength=len(table))
        return SpanPlan(piece, sent_start[picked] - exclusive_cumsum(text_len)[piece],
                        sent_len[picked].astype(np.int64), counts, np.zeros(len(table), np.int64),
                        np.zeros(len(table), np.int64))

    def document_spans(self, table: PieceTable, chosen: np.ndarray, bases: np.ndarray):
        """One suffix per piece, its share of the piece's text uniform on the ratio range (draw 1)."""
        lo, hi = self.options.document_ratio
        text_len = table.lengths[chosen]
        u = unit(draw(bases[chosen], np.ones(len(chosen), dtype=np.int64)))
        lengths = np.minimum(np.clip(np.ceil((lo + (hi - lo) * u) * text_len - 1e-9).astype(np.int64), 1, None),
                             text_len)
        return chosen, text_len - lengths, lengths


def plan_take(plan: Optional[SpanPlan], indices: np.ndarray, size: int) -> Optional[SpanPlan]:
    """The plan of the pieces at ``indices`` (of ``size``), renumbered in that order."""
    if plan is None:
        return None
    new_index = np.full(size, -1, dtype=np.int64)
    new_index[indices] = np.arange(len(indices))
    mapped = new_index[plan.piece]
    keep = np.flatnonzero(mapped >= 0)
    keep = keep[np.argsort(mapped[keep], kind="stable")]
    return SpanPlan(mapped[keep], plan.start[keep], plan.length[keep], plan.counts[indices],
                    plan.free[indices], plan.draws[indices])

