"""Span ends on character boundaries (``--span-boundaries character``).

Byte-level BPE splits some characters over two tokens (with cl100k a fifth of Chinese
blank spans started or ended inside a character), so a span's tokens do not always decode
on their own. In ``character`` mode each span end moves to the nearest token boundary that
is also a UTF-8 character boundary: outward first (the span grows by the bytes of the cut
character), inward when growing would make a blank span touch its neighbour or exceed
``max_span``, or a document span exceed its share, and shrinking only while the piece keeps
its masked-token target; a blank span that can do neither grows into its neighbour and the
two become one span (one span fewer: the sample only gets shorter). A boundary lies before every token whose first byte is not a UTF-8
continuation byte (``10xxxxxx``); pieces are cut on such boundaries in this mode.
"""
from __future__ import annotations

from typing import List

import numpy as np

SPAN_BOUNDARIES = ("token", "character")

_BLANK, _SENTENCE, _DOCUMENT = range(3)


def char_starts(token_bytes: List[bytes], vocab_size: int) -> np.ndarray:
    """bool [vocab_size]: the token starts a character (specials and empty tokens do)."""
    table = np.ones(vocab_size, dtype=bool)
    firsts = np.frombuffer(b"".join(t[:1] or b"\x00" for t in token_bytes), dtype=np.uint8)
    table[:len(token_bytes)] = (firsts & 0xC0) != 0x80
    return table


def align_spans(ok: np.ndarray, start: np.ndarray, length: np.ndarray, piece: np.ndarray,
                objective: np.ndarray, text_start: np.ndarray, text_end: np.ndarray,
                need: np.ndarray, max_span: int, document_max: np.ndarray):
    """Spans (``start``/``length`` in x, sorted by start; ``piece`` and ``objective`` index
    of each) moved onto boundaries: ``ok`` [len(x) + 1] is True where a boundary lies before
    x position p. ``need`` [P]: tokens a piece must keep masked; ``document_max`` [P]: the
    longest document span of a piece. Returns new (start, length) and which spans remain
    (a blank span that can move nowhere else grows into its neighbour and they become one)."""
    end = start + length
    positions = np.arange(len(ok))
    last_ok = np.maximum.accumulate(np.where(ok, positions, 0))                 # boundary ≤ p
    next_ok = np.minimum.accumulate(np.where(ok, positions, len(ok) - 1)[::-1])[::-1]  # ≥ p
    new_start, new_end = last_ok[start], next_ok[end]
    same_piece_before = np.append(False, piece[1:] == piece[:-1])
    same_piece_after = np.append(piece[1:] == piece[:-1], False)
    blank = objective == _BLANK
    prev_end = np.append(-1, new_end[:-1])
    next_start = np.append(new_start[1:], np.iinfo(np.int64).max)
    bad = (new_start < text_start[piece]) | (new_end > text_end[piece])
    bad |= (same_piece_before & (new_start < prev_end)) | (same_piece_after & (new_end > next_start))   # overlap
    bad |= blank & (((new_end - new_start) > max_span)
                    | (same_piece_before & (new_start <= prev_end))
                    | (same_piece_after & (new_end >= next_start)))
    bad |= (objective == _DOCUMENT) & ((new_end - new_start) > document_max[piece])
    if bad.any():
        masked = np.bincount(piece, weights=length, minlength=len(need)).astype(np.int64)
        surplus = masked - need
        merged = np.zeros(len(start), dtype=bool)
        for i in np.flatnonzero(bad).tolist():
            if merged[i]:
                continue
            new_start[i], new_end[i], surplus[piece[i]], into = _fit_one(
                i, start, end, new_start, new_end, piece, objective, text_start, text_end,
                last_ok, next_ok, int(surplus[piece[i]]), max_span, document_max)
            if into >= 0:                 # span i and its neighbour are one span now
                merged[into] = True
                new_start[into], new_end[into] = new_start[i], new_end[i]
        # a piece whose moved spans still break a rule keeps its spans as drawn (rare)
        keep = ~merged
        broken = _broken_pieces(new_start[keep], new_end[keep], piece[keep], objective[keep],
                                text_start, text_end, max_span)
        if len(broken):
            back = np.isin(piece, broken)
            new_start[back], new_end[back], keep[back] = start[back], end[back], True
        return new_start[keep], (new_end - new_start)[keep], keep
    return new_start, new_end - new_start, np.ones(len(start), dtype=bool)


def _broken_pieces(start, end, piece, objective, text_start, text_end, max_span) -> np.ndarray:
    """Pieces where spans overlap, blank spans touch or exceed max_span, or a span leaves its text."""
    same = piece[1:] == piece[:-1]
    gap = np.where(objective[1:] == _BLANK, 1, 0)
    clash = same & (start[1:] < end[:-1] + gap)
    bad = (start < text_start[piece]) | (end > text_end[piece]) | ((objective == _BLANK) & (end - start > max_span))
    return np.unique(np.concatenate([piece[1:][clash], piece[bad]]))


def _fit_one(i, start, end, new_start, new_end, piece, objective, text_start, text_end,
             last_ok, next_ok, surplus, max_span, document_max):
    """The nearest pair of boundaries around span i that keeps its rules (growing before
    shrinking); else it stays."""
    s, e, p = int(start[i]), int(end[i]), int(piece[i])
    lo, hi = int(text_start[p]), int(text_end[p])
    gap = 1 if objective[i] == _BLANK else 0   # blank spans keep a token between them; others may touch
    if i > 0 and piece[i - 1] == p:
        lo = max(lo, int(new_end[i - 1]) + gap)
    if i + 1 < len(piece) and piece[i + 1] == p:
        hi = min(hi, int(new_start[i + 1]) - gap)
    # boundaries around each end: the nearest outward, the next one out, the nearest inward
    starts = {int(last_ok[s]), int(last_ok[max(int(last_ok[s]) - 1, 0)]), int(next_ok[s])}
    ends = {int(next_ok[e]), int(next_ok[min(int(next_ok[e]) + 1, len(next_ok) - 1)]), int(last_ok[e])}
    for a, b in sorted(((a, b) for a in starts for b in ends), key=lambda ab: (abs(ab[0] - s) + abs(ab[1] - e),
                                                                              ab[0] > s, ab[1] < e)):
        lost = (e - s) - (b - a)
        if a < lo or b > hi or b <= a or (lost > 0 and lost > surplus):
            continue
        if objective[i] == _BLANK and b - a > max_span:
            continue
        if objective[i] == _DOCUMENT and (b - a > document_max[p] or b != e):
            continue
        return a, b, surplus - max(lost, 0), -1
    if objective[i] == _BLANK:   # last resort: grow into a neighbour and become one span with it
        grow_s, grow_e = int(last_ok[s]), int(next_ok[e])
        if i + 1 < len(piece) and piece[i + 1] == p and grow_e >= new_start[i + 1] - 1 \
                and grow_s >= lo and new_end[i + 1] - grow_s <= max_span:
            return grow_s, int(new_end[i + 1]), surplus, i + 1
        if i > 0 and piece[i - 1] == p and grow_s <= new_end[i - 1] + 1 \
                and grow_e <= hi and grow_e - new_start[i - 1] <= max_span:
            return int(new_start[i - 1]), grow_e, surplus, i - 1
    return s, e, surplus, -1
