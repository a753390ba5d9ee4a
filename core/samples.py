"""GLM blank-infilling samples from token documents (GLM_SPEC §2–§5). Pure NumPy.

The flow for one shard's documents, in a fixed order:

    split_document   a document's tokens -> pieces that fit a sample (cut at sentence ends)
    pack_pieces      pieces -> groups of pieces, each group one sample (cost-aware)
    SampleBuilder    a group -> spans (per objective) -> Part A / Part B arrays

Vocabulary used throughout:

    x        the sample's uncorrupted tokens: each piece as [ENC] text [eos], where the
             ENC only opens a document's first piece and eos only closes its last one
    span     (start, length) in x; spans lie inside one piece's text, never on ENC/eos
    part_a   x with each span replaced by one mask token; ``sep = len(part_a)``
    part_b   per span, in a random order: input ``sop s_1..s_l``, target ``s_1..s_l eop``

Every random choice comes from ``KeyedRandom(seed, sample key)``, the sample key
being ``"<first document key>#<piece>"``; the first draw picks the objective.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from glmprep.rng import KeyedRandom
from glmprep.tokenizer import GLMTokenizer, SpecialIds

OBJECTIVES = ("blank", "sentence", "document")

# GLM_SPEC §3 defaults.
DEFAULT_SEQ_LEN = 512
DEFAULT_POISSON_LAMBDA = 3.0
DEFAULT_MASK_RATIO = 0.15
DEFAULT_MAX_SPAN = 40
DEFAULT_DOCUMENT_RATIO = (0.5, 1.0)
# GLM's multi-task mix is a choice: half the samples teach short blanks (NLU-like
# infilling), the rest split between sentence infilling and long generation.
DEFAULT_OBJECTIVE_WEIGHTS = {"blank": 0.5, "sentence": 0.25, "document": 0.25}
# When a piece is too short to place the drawn blank spans, the draw is repeated
# this many times before falling back to the fewest spans that reach the target.
_BLANK_REDRAWS = 8


@dataclass(frozen=True)
class SampleOptions:
    """How samples are built; recorded in every shard's metadata."""

    seq_len: int = DEFAULT_SEQ_LEN                  # max len(input_ids) = n + 2m
    objective_weights: Dict[str, float] = field(default_factory=lambda: dict(DEFAULT_OBJECTIVE_WEIGHTS))
    poisson_lambda: float = DEFAULT_POISSON_LAMBDA  # blank span length ~ Poisson(λ) on 1..max_span
    mask_ratio: float = DEFAULT_MASK_RATIO          # blank/sentence: mask ≥ ceil(ratio · piece length)
    max_span: int = DEFAULT_MAX_SPAN                # longest blank span (inclusive)
    document_ratio: Tuple[float, float] = DEFAULT_DOCUMENT_RATIO  # gMASK suffix share of a piece
    seed: int = 0

    def __post_init__(self):
        problems = []
        if self.seq_len < 8:
            problems.append(f"seq_len must be ≥ 8, got {self.seq_len}")
        unknown = set(self.objective_weights) - set(OBJECTIVES)
        if unknown:
            problems.append(f"unknown objectives {sorted(unknown)}; expected {OBJECTIVES}")
        weights = [self.objective_weights.get(o, 0.0) for o in OBJECTIVES]
        if any(w < 0 or not math.isfinite(w) for w in weights) or sum(weights) <= 0:
            problems.append(f"objective weights must be ≥ 0 with a positive sum, got {self.objective_weights}")
        if not self.poisson_lambda > 0:
            problems.append(f"poisson_lambda must be > 0, got {self.poisson_lambda}")
        if not 0 < self.mask_ratio < 1:
            problems.append(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
        if self.max_span < 1:
            problems.append(f"max_span must be ≥ 1, got {self.max_span}")
        lo, hi = self.document_ratio
        if not 0 < lo <= hi <= 1:
            problems.append(f"document_ratio must satisfy 0 < low ≤ high ≤ 1, got {self.document_ratio}")
        if problems:
            raise ValueError("; ".join(problems))
        if self.max_piece_len() < 3:
            raise ValueError(f"seq_len {self.seq_len} is too small for mask_ratio {self.mask_ratio}")

    @property
    def active_objectives(self) -> Tuple[str, ...]:
        return tuple(o for o in OBJECTIVES if self.objective_weights.get(o, 0.0) > 0)

    def piece_cost(self, objective: str, x_len: int, text_len: int) -> int:
        """Worst-case tokens a piece occupies in a sample after the +2m growth."""
        if objective == "document":
            return x_len + 2
        # Each blank/sentence span covers ≥ 1 token and spans stop once the target is met.
        return x_len + 2 * min(text_len, math.ceil(self.mask_ratio * x_len))

    def max_piece_len(self) -> int:
        """Largest piece (in x tokens, ENC and eos included) whose cost fits seq_len."""
        length = self.seq_len
        while length > 0 and max(self.piece_cost(o, length, length - 2)
                                 for o in self.active_objectives) > self.seq_len:
            length -= 1
        return length

    def to_metadata(self) -> Dict[str, object]:
        return {
            "poisson_lambda": self.poisson_lambda,
            "mask_ratio": self.mask_ratio,
            "max_span": self.max_span,
            "document_ratio": list(self.document_ratio),
            "sample_key": "<first document key>#<piece>",
            "blank_span_lengths": f"Poisson(lambda) truncated to 1..max_span, renormalised",
        }


# --------------------------------------------------------------------------- helpers
def exclusive_cumsum(a: np.ndarray) -> np.ndarray:
    """[3, 1, 2] -> [0, 3, 4]."""
    out = np.zeros(len(a), dtype=np.int64)
    np.cumsum(a[:-1], out=out[1:])
    return out


def segment_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated aranges: starts [5, 10], lengths [2, 3] -> [5, 6, 10, 11, 12]."""
    total = int(lengths.sum())
    return np.repeat(starts - exclusive_cumsum(lengths), lengths) + np.arange(total)


def masking_capacity(text_lens: np.ndarray, objective: str, max_span: int) -> np.ndarray:
    """Most tokens a piece's spans can cover: sentence spans may touch, blank spans of at most
    ``max_span`` tokens need a gap between them (t = 5, max_span = 2: ``xx_xx`` -> 4)."""
    text_lens = np.asarray(text_lens, dtype=np.int64)
    if objective == "blank":
        return text_lens - text_lens // (max_span + 1)
    return text_lens


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


# --------------------------------------------------------------------------- sentences
_ASCII_ENDS = b".?!;:"
_CJK_ENDS = tuple(c.encode() for c in "。？！；…")
_CLOSERS = b"\"')]" + "”’」』）》".encode()


class SentenceTable:
    """Per-vocabulary lookup tables that find sentence ends in token arrays.

    A token ends a sentence when it holds a newline, ends with a CJK terminator
    (``。？！；…``), or ends with an ASCII terminator (``. ? ! ; :``) and the next
    token starts with white space (so ``3.14`` and ``e.g`` inside words are not
    ends). Closing quotes and brackets after a terminator are allowed. A run of
    white-space-only tokens after an end joins the sentence it follows.
    """

    def __init__(self, tokenizer: GLMTokenizer):
        size = tokenizer.vocab_size
        self.strong = np.zeros(size, dtype=bool)      # newline or CJK terminator
        self.ascii_end = np.zeros(size, dtype=bool)   # needs white space next
        self.starts_space = np.zeros(size, dtype=bool)
        self.blank = np.zeros(size, dtype=bool)       # white space only
        for i in range(tokenizer.base_vocab_size):
            raw = tokenizer._enc.decode_single_token_bytes(i)
            core = raw.rstrip(b" \t\r\n").rstrip(_CLOSERS)
            self.strong[i] = b"\n" in raw or core.endswith(_CJK_ENDS)
            self.ascii_end[i] = bool(core) and core[-1:] in [bytes([c]) for c in _ASCII_ENDS]
            self.starts_space[i] = raw[:1].isspace()
            self.blank[i] = raw.isspace()

    def ends(self, tokens: np.ndarray) -> np.ndarray:
        """bool [n]: True on the last token of each sentence (the final token always)."""
        n = len(tokens)
        if n == 0:
            return np.zeros(0, dtype=bool)
        next_space = np.ones(n, dtype=bool)
        next_space[:-1] = self.starts_space[tokens[1:]]
        ends = self.strong[tokens] | (self.ascii_end[tokens] & next_space)
        # Trailing white space belongs to the sentence before it.
        ends[:-1] &= ~(self.blank[tokens[1:]] & ends[1:])
        ends[-1] = True
        return ends


@lru_cache(maxsize=4)
def sentence_table(tokenizer: GLMTokenizer) -> SentenceTable:
    return SentenceTable(tokenizer)


# --------------------------------------------------------------------------- pieces
@dataclass(frozen=True)
class Piece:
    """A run of one document's tokens that fits in a sample."""

    key: str             # the document's key
    piece: int           # index of this piece in the document
    num_pieces: int
    tokens: np.ndarray   # text tokens only; [t] uint32
    ends: np.ndarray     # sentence ends of ``tokens``; [t] bool

    @property
    def has_enc(self) -> bool:
        return self.piece == 0

    @property
    def has_eos(self) -> bool:
        return self.piece == self.num_pieces - 1

    @property
    def x_len(self) -> int:
        return len(self.tokens) + self.has_enc + self.has_eos

    @property
    def sample_key(self) -> str:
        return f"{self.key}#{self.piece}"


def split_document(key: str, tokens: np.ndarray, ends: np.ndarray, max_x_len: int) -> List[Piece]:
    """Cut a document into pieces of at most ``max_x_len`` x-tokens.

    A cut goes after the last sentence end in the second half of the window, or
    mid-sentence when the window holds none. Nothing is dropped.
    """
    t = len(tokens)
    if t + 2 <= max_x_len:
        return [Piece(key, 0, 1, tokens, ends)]
    budget = max_x_len - 2  # room for ENC and eos whichever piece this is
    cuts = [0]
    while t - cuts[-1] > budget:
        lo, hi = cuts[-1] + budget // 2, cuts[-1] + budget
        found = np.flatnonzero(ends[lo:hi])
        cuts.append(lo + int(found[-1]) + 1 if len(found) else hi)
    cuts.append(t)
    n = len(cuts) - 1
    return [Piece(key, i, n, tokens[a:b], ends[a:b]) for i, (a, b) in enumerate(zip(cuts, cuts[1:]))]


# --------------------------------------------------------------------------- building
class SampleBuilder:
    """Turns groups of pieces into GLM samples (dicts with the shard's columns)."""

    def __init__(self, options: SampleOptions, specials: SpecialIds):
        self.options = options
        self.specials = specials
        self.mask_ids = {"blank": specials.mask, "sentence": specials.smask, "document": specials.gmask}
        weights = np.array([options.objective_weights.get(o, 0.0) for o in OBJECTIVES], dtype=np.float64)
        self._objective_cdf = np.cumsum(weights / weights.sum())
        self._objective_cdf[-1] = 1.0
        self._span_cdf = truncated_poisson_cdf(float(options.poisson_lambda), int(options.max_span))
        self.max_piece_len = options.max_piece_len()

    # -- packing ----------------------------------------------------------------------
    def objective_for(self, rng: KeyedRandom) -> str:
        """The objective of a sample: the first draw of its stream."""
        return OBJECTIVES[int(np.searchsorted(self._objective_cdf, rng.uniform(1)[0], side="right"))]

    def pack_pieces(self, pieces: Iterable[Piece]) -> Iterator[Dict[str, object]]:
        """Greedy, order-preserving packing; yields one built sample per group."""
        group: List[Piece] = []
        used = 0
        rng = objective = None
        for piece in pieces:
            # Pieces of one document go to different samples: a document was split because it
            # does not fit one sample, and spans on both sides of a cut would touch.
            if group and piece.key != group[-1].key:
                cost = self.options.piece_cost(objective, piece.x_len, len(piece.tokens))
                if used + cost <= self.options.seq_len:
                    group.append(piece)
                    used += cost
                    continue
            if group:
                yield self.build(group, rng, objective)
            rng = KeyedRandom(self.options.seed, piece.sample_key)
            objective = self.objective_for(rng)
            group = [piece]
            used = self.options.piece_cost(objective, piece.x_len, len(piece.tokens))
        if group:
            yield self.build(group, rng, objective)

    def build_one(self, pieces: Sequence[Piece], objective: Optional[str] = None) -> Dict[str, object]:
        """Build one sample from ``pieces`` (objective drawn unless given)."""
        rng = KeyedRandom(self.options.seed, pieces[0].sample_key)
        drawn = self.objective_for(rng)
        return self.build(pieces, rng, objective or drawn)

    # -- one sample ----------------------------------------------------------------------
    def build(self, pieces: Sequence[Piece], rng: KeyedRandom, objective: str) -> Dict[str, object]:
        sp = self.specials
        x_lens = np.array([p.x_len for p in pieces], dtype=np.int64)
        text_lens = np.array([len(p.tokens) for p in pieces], dtype=np.int64)
        x_starts = exclusive_cumsum(x_lens)
        text_starts = x_starts + np.array([p.has_enc for p in pieces], dtype=np.int64)
        parts = []
        for p in pieces:
            if p.has_enc:
                parts.append(np.array([sp.enc], dtype=np.uint32))
            parts.append(p.tokens.astype(np.uint32, copy=False))
            if p.has_eos:
                parts.append(np.array([sp.eos], dtype=np.uint32))
        x = np.concatenate(parts)

        if objective == "blank":
            starts, lengths = self._blank_spans(rng, x_lens, text_lens)
        elif objective == "sentence":
            ends = np.concatenate([p.ends for p in pieces]) if pieces else np.zeros(0, bool)
            starts, lengths = self._sentence_spans(rng, x_lens, text_lens, ends)
        else:
            starts, lengths = self._document_spans(rng, text_lens)
        # Span offsets are within each piece's text; move them into x.
        piece_of_span, starts = starts
        starts = starts + text_starts[piece_of_span]
        order = np.argsort(rng.bits(len(starts)), kind="stable")
        sample = assemble(x, starts, lengths, self.mask_ids[objective], order, sp)
        sample["objective"] = objective
        sample["source_ids"] = [p.key for p in pieces]
        sample["source_piece"] = np.array([p.piece for p in pieces], dtype=np.uint32)
        sample["source_num_pieces"] = np.array([p.num_pieces for p in pieces], dtype=np.uint32)
        sample["source_lengths"] = x_lens.astype(np.uint32)
        return sample

    def _targets(self, x_lens: np.ndarray, text_lens: np.ndarray, objective: str) -> np.ndarray:
        """Tokens to mask per piece: ceil(ratio · x_len), capped by what the piece can hold."""
        return np.minimum(masking_capacity(text_lens, objective, self.options.max_span),
                          np.ceil(self.options.mask_ratio * x_lens - 1e-9).astype(np.int64))

    def _blank_spans(self, rng, x_lens, text_lens):
        """Poisson span lengths drawn until each piece's target is met, placed uniformly.

        Returns ((piece index per span, start within the piece's text), lengths),
        spans sorted by piece then start.
        """
        targets = self._targets(x_lens, text_lens, "blank")
        # Each span covers ≥ 1 token, so ``target`` draws always suffice for a piece.
        draws = np.maximum(targets, 1)
        lengths = np.searchsorted(self._span_cdf, rng.uniform(int(draws.sum())), side="right") + 1
        piece = np.repeat(np.arange(len(targets)), draws)
        seg0 = exclusive_cumsum(draws)
        covered_before = np.cumsum(lengths) - lengths - np.repeat(np.cumsum(lengths)[seg0] - lengths[seg0], draws)
        keep = (covered_before < np.repeat(targets, draws))
        piece, lengths = piece[keep], lengths[keep].astype(np.int64)
        counts = np.bincount(piece, minlength=len(targets))
        totals = np.bincount(piece, weights=lengths, minlength=len(targets)).astype(np.int64)
        free = text_lens - totals - np.maximum(counts - 1, 0)
        bad = np.flatnonzero(free < 0)
        if len(bad):
            piece, lengths, counts, free = self._redraw_blank(rng, piece, lengths, counts, free,
                                                              bad, targets, text_lens)
        return self._place(rng, piece, lengths, counts, free), lengths

    def _redraw_blank(self, rng, piece, lengths, counts, free, bad, targets, text_lens):
        """Pieces whose draw does not fit: draw again, then fall back to the fewest spans."""
        by_piece = {i: lengths[piece == i] for i in range(len(targets))}
        for i in bad:
            target, room = int(targets[i]), int(text_lens[i])
            for _ in range(_BLANK_REDRAWS):
                drawn = np.searchsorted(self._span_cdf, rng.uniform(target), side="right") + 1
                drawn = drawn[:int(np.searchsorted(np.cumsum(drawn), target)) + 1]
                if drawn.sum() + len(drawn) - 1 <= room:
                    break
            else:
                k = -(-target // self.options.max_span)
                drawn = np.full(k, target // k) + (np.arange(k) < target % k)
            by_piece[i] = drawn.astype(np.int64)
            counts[i] = len(drawn)
            free[i] = room - drawn.sum() - (len(drawn) - 1)
        piece = np.repeat(np.arange(len(targets)), counts)
        lengths = np.concatenate([by_piece[i] for i in range(len(targets))]).astype(np.int64)
        return piece, lengths, counts, free

    def _place(self, rng, piece, lengths, counts, free):
        """Uniform non-adjacent placement: per piece choose which of free+k slots are spans."""
        slots = free + counts
        slot_piece = np.repeat(np.arange(len(counts)), slots)
        keys = rng.bits(int(slots.sum()))
        order = np.lexsort((keys, slot_piece))              # by piece, then random key
        rank = np.arange(len(order)) - np.repeat(exclusive_cumsum(slots), slots)
        chosen = order[rank < np.repeat(counts, slots)]     # k random slots per piece
        slot_index = np.sort(chosen) - np.repeat(exclusive_cumsum(slots), counts)
        # span i of a piece starts after (slot_i - i) free tokens, i gaps and the spans before it,
        # i.e. at slot_i + (tokens of the spans before it)
        spans_before = np.cumsum(lengths) - lengths - np.repeat(
            (np.cumsum(lengths) - lengths)[exclusive_cumsum(counts)[counts > 0]], counts[counts > 0])
        starts = slot_index + spans_before
        return piece, starts

    def _sentence_spans(self, rng, x_lens, text_lens, ends):
        """Whole sentences in random order until each piece's target is covered."""
        targets = self._targets(x_lens, text_lens, "sentence")
        ends = ends.copy()
        text_piece_end = np.cumsum(text_lens) - 1
        ends[text_piece_end[text_lens > 0]] = True          # sentences never cross pieces
        sent_end = np.flatnonzero(ends)
        sent_start = np.concatenate([[0], sent_end[:-1] + 1]) if len(sent_end) else sent_end
        sent_len = sent_end - sent_start + 1
        sent_piece = np.searchsorted(text_piece_end, sent_start)
        order = np.lexsort((rng.bits(len(sent_len)), sent_piece))
        lens_in_order = sent_len[order]
        piece_in_order = sent_piece[order]
        seg0 = np.searchsorted(piece_in_order, np.arange(len(text_lens)))
        csum = np.cumsum(lens_in_order) - lens_in_order
        covered_before = csum - csum[seg0[piece_in_order]]
        chosen = np.sort(order[covered_before < targets[piece_in_order]])
        piece = sent_piece[chosen]
        text_offset = exclusive_cumsum(text_lens)
        return (piece, sent_start[chosen] - text_offset[piece]), sent_len[chosen].astype(np.int64)

    def _document_spans(self, rng, text_lens):
        """One suffix per piece, its share of the piece's text uniform on the ratio range."""
        lo, hi = self.options.document_ratio
        ratio = lo + (hi - lo) * rng.uniform(len(text_lens))
        lengths = np.clip(np.ceil(ratio * text_lens - 1e-9).astype(np.int64), 1, None)
        has_text = text_lens > 0
        piece = np.flatnonzero(has_text)
        lengths = np.minimum(lengths, text_lens)[has_text]
        return (piece, text_lens[has_text] - lengths), lengths


def assemble(x: np.ndarray, starts: np.ndarray, lengths: np.ndarray, mask_id: int,
             order: np.ndarray, specials: SpecialIds) -> Dict[str, object]:
    """Part A / Part B arrays for spans (sorted by start) of ``x``; ``order`` is the Part B order.

    GLM paper example, x = x1..x6 (ids 1..6), spans [x3] and [x5, x6], Part B order (2, 1):

    >>> from glmprep.tokenizer import SpecialIds
    >>> sp = SpecialIds.after(100)
    >>> s = assemble(np.arange(1, 7), np.array([2, 4]), np.array([1, 2]), sp.mask, np.array([1, 0]), sp)
    >>> s["input_ids"].tolist()          # x1 x2 M x4 M | sop x5 x6 sop x3
    [1, 2, 100, 4, 100, 103, 5, 6, 103, 3]
    >>> s["position_ids"].tolist(), s["block_position_ids"].tolist()
    ([0, 1, 2, 3, 4, 4, 4, 4, 2, 2], [0, 0, 0, 0, 0, 1, 2, 3, 1, 2])
    """
    n, k = len(x), len(starts)
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    span_tokens = segment_ranges(starts, lengths)            # x positions inside spans, in x order
    keep = np.ones(n, dtype=bool)
    keep[span_tokens] = False
    keep[starts] = True                                      # each span leaves one mask behind
    part_a = np.asarray(x, dtype=np.uint32).copy()
    part_a[starts] = mask_id
    part_a = part_a[keep]
    sep = len(part_a)
    mask_pos = starts - exclusive_cumsum(lengths - 1)        # where each span's mask sits in Part A

    lens_b = lengths[order]
    block_lens = lens_b + 1                                  # sop + tokens
    block_starts = exclusive_cumsum(block_lens)
    token_pos = segment_ranges(block_starts + 1, lens_b)     # Part B slots holding span tokens
    tokens = np.asarray(x, dtype=np.uint32)[segment_ranges(starts[order], lens_b)]
    b_len = int(block_lens.sum())
    b_input = np.empty(b_len, dtype=np.uint32)
    b_input[block_starts] = specials.sop
    b_input[token_pos] = tokens
    b_target = np.empty(b_len, dtype=np.uint32)
    b_target[token_pos - 1] = tokens
    b_target[block_starts + lens_b] = specials.eop

    total = sep + b_len
    position_ids = np.empty(total, dtype=np.int64)
    position_ids[:sep] = np.arange(sep)
    position_ids[sep:] = np.repeat(mask_pos[order], block_lens)
    block_position_ids = np.zeros(total, dtype=np.int64)
    block_position_ids[sep:] = np.arange(b_len) - np.repeat(block_starts, block_lens) + 1
    loss_mask = np.zeros(total, dtype=np.uint8)
    loss_mask[sep:] = 1
    return {
        "input_ids": np.concatenate([part_a, b_input]),
        "target_ids": np.concatenate([part_a, b_target]),
        "loss_mask": loss_mask,
        "position_ids": position_ids,
        "block_position_ids": block_position_ids,
        "sep": sep,
    }
