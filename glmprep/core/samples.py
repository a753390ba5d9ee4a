"""GLM blank-infilling samples from token documents (GLM_SPEC §2–§5). Pure NumPy.

The flow for one shard's documents, in a fixed order:

    PieceTable.from_documents   documents -> pieces that fit a sample (cut at sentence ends)
    SampleBuilder._plans        each piece's blank / sentence spans, from the piece's own stream
    _Packer                     pieces -> samples, first-fit at their exact length after Part B
    SampleBuilder._build        samples -> placed spans -> Part A / Part B columns

Everything after packing runs on whole batches of samples at once (columns, not
rows): per-sample Python work is a key hash and a packing step, so building
samples is faster than tokenizing them.

Vocabulary used throughout:

    x        the sample's uncorrupted tokens: each piece as [ENC] text [eos], where the
             ENC only opens a document's first piece and eos only closes its last one
    span     (start, length) in x; spans lie inside one piece's text, never on ENC/eos
    part_a   x with each span replaced by one mask token; ``sep = len(part_a)``
    part_b   per span, in a random order: input ``sop s_1..s_l``, target ``s_1..s_l eop``

Every random choice comes from the keyed stream of the sample (``glmprep.core.rng``), the
sample key being ``"<first document key>#<piece>"``; draw 0 picks the objective.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from glmprep.core.rng import _GOLDEN, KeyedRandom, splitmix64
from glmprep.core.tokenizer import GLMTokenizer, SpecialIds

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
        capacity = int(masking_capacity(np.array([text_len]), objective, self.max_span)[0])
        return x_len + 2 * min(capacity, math.ceil(self.mask_ratio * x_len - 1e-9))

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
            "blank_span_lengths": "Poisson(lambda) truncated to 1..max_span, renormalised",
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
        raws = tokenizer.token_bytes
        cores = [raw.rstrip(b" \t\r\n").rstrip(_CLOSERS) for raw in raws]
        ascii_ends = tuple(bytes([c]) for c in _ASCII_ENDS)

        def table(values) -> np.ndarray:  # bool [vocab_size]; the specials are False
            column = np.zeros(tokenizer.vocab_size, dtype=bool)
            column[:len(raws)] = np.fromiter(values, dtype=bool, count=len(raws))
            return column

        # (bytes methods mapped over the tokens: no Python frame per token)
        newline = table(map(bytes.__contains__, raws, repeat(b"\n")))
        self.strong = newline | table(map(bytes.endswith, cores, repeat(_CJK_ENDS)))  # or a CJK terminator
        self.ascii_end = table(map(bytes.endswith, cores, repeat(ascii_ends)))  # needs white space next
        self.starts_space = table(map(bytes.isspace, map(itemgetter(slice(0, 1)), raws)))
        self.blank = table(map(bytes.isspace, raws))  # white space only

    def ends(self, tokens: np.ndarray, doc_lengths: Optional[np.ndarray] = None) -> np.ndarray:
        """bool [n]: True on the last token of each sentence.

        ``tokens`` may hold several documents back to back (``doc_lengths``); a
        document's last token always ends a sentence and nothing looks across.
        """
        n = len(tokens)
        if n == 0:
            return np.zeros(0, dtype=bool)
        last = np.cumsum(doc_lengths) - 1 if doc_lengths is not None else np.array([n - 1])
        next_space = np.ones(n, dtype=bool)
        next_space[:-1] = self.starts_space[tokens[1:]]
        next_space[last] = True
        ends = self.strong[tokens] | (self.ascii_end[tokens] & next_space)
        # Trailing white space belongs to the sentence before it (within a document).
        joins = np.zeros(n, dtype=bool)
        joins[:-1] = self.blank[tokens[1:]] & ends[1:]
        joins[last] = False
        ends &= ~joins
        ends[last] = True
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

    @property
    def x_lengths(self) -> np.ndarray:
        return self.lengths + (self.piece == 0) + (self.piece == self.num_pieces - 1)

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
                       ends: Optional[Sequence[np.ndarray]] = None) -> "PieceTable":
        """Documents -> pieces; only documents longer than a sample go through a Python loop."""
        lengths = np.array([len(t) for t in tokens], dtype=np.int64)
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
        piece_keys, piece_index, piece_count, piece_len = [], [], [], []
        previous = 0
        for d in long_docs.tolist():
            piece_keys.extend(keys[previous:d])
            piece_index.extend([0] * (d - previous))
            piece_count.extend([1] * (d - previous))
            piece_len.extend(lengths[previous:d].tolist())
            start = int(doc_offsets[d])
            cuts = split_points(flat_ends[start:start + int(lengths[d])], max_x_len)
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


# --------------------------------------------------------------------------- samples in columns
@dataclass
class SampleColumns:
    """Built samples, column by column (row i of a list column is ``values[offsets[i]:offsets[i+1]]``)."""

    input_ids: np.ndarray            # [N] uint32
    target_ids: np.ndarray           # [N] uint32
    loss_mask: np.ndarray            # [N] uint8
    position_ids: np.ndarray         # [N] int32
    block_position_ids: np.ndarray   # [N] int32
    offsets: np.ndarray              # [R+1] row boundaries in the token columns
    sep: np.ndarray                  # [R]
    objective: List[str]             # [R]
    source_ids: List[str]            # [P] pieces in row order
    source_piece: np.ndarray         # [P]
    source_num_pieces: np.ndarray    # [P]
    source_lengths: np.ndarray       # [P] x tokens of each piece
    source_offsets: np.ndarray       # [R+1] row boundaries in the source columns
    span_lengths: np.ndarray         # [K] every span, for statistics
    span_objective: np.ndarray       # [K] objective index (OBJECTIVES) of each span

    def __len__(self) -> int:
        return len(self.sep)

    def row(self, i: int) -> Dict[str, object]:
        """One sample as a dict of the shard's columns."""
        a, b = self.offsets[i], self.offsets[i + 1]
        c, d = self.source_offsets[i], self.source_offsets[i + 1]
        return {
            "input_ids": self.input_ids[a:b], "target_ids": self.target_ids[a:b],
            "loss_mask": self.loss_mask[a:b], "position_ids": self.position_ids[a:b],
            "block_position_ids": self.block_position_ids[a:b], "sep": int(self.sep[i]),
            "objective": self.objective[i], "source_ids": self.source_ids[c:d],
            "source_piece": self.source_piece[c:d], "source_num_pieces": self.source_num_pieces[c:d],
            "source_lengths": self.source_lengths[c:d],
        }

    def rows(self) -> Iterator[Dict[str, object]]:
        return (self.row(i) for i in range(len(self)))


# --------------------------------------------------------------------------- building
def _draw(bases: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Counter-based bits: draw ``counter`` of the stream starting at ``base`` (as KeyedRandom)."""
    with np.errstate(over="ignore"):
        return splitmix64(counters.astype(np.uint64) * _GOLDEN + bases)


def _uniform(bits: np.ndarray) -> np.ndarray:
    return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / float(1 << 53))


def _within(counts: np.ndarray) -> np.ndarray:
    """Index of each element within its group: counts [2, 3] -> [0, 1, 0, 1, 2]."""
    return np.arange(int(counts.sum())) - np.repeat(exclusive_cumsum(counts), counts)


# Rows built at once; bounds the memory of one batch of columns.
BUILD_BATCH_ROWS = 2048
# Document tokens gathered before pieces are cut and packed.
CHUNK_TOKENS = 1 << 20


# Counter ranges of a stream: draw 0 is a sample's objective, a piece's span draws start
# at 1, a sample's Part B order draws start here.
_ORDER_COUNTER = 1 << 40


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


class SampleBuilder:
    """Builds GLM samples from documents, many samples per NumPy pass.

    Randomness (GLM_SPEC §4) comes from counter-based streams keyed by
    ``(seed, "<document key>#<piece>")``. A sample's objective is draw 0 of its first
    piece's stream and its Part B order draws from that stream too; the spans inside a
    piece come from the piece's own stream, so they are known before packing and every
    sample is packed to its exact length after Part B.
    """

    def __init__(self, options: SampleOptions, specials: SpecialIds, table: Optional[SentenceTable] = None):
        self.options = options
        self.specials = specials
        self.table = table
        self.mask_ids = np.array([specials.mask, specials.smask, specials.gmask], dtype=np.uint32)
        weights = np.array([options.objective_weights.get(o, 0.0) for o in OBJECTIVES], dtype=np.float64)
        self._objective_cdf = np.cumsum(weights / weights.sum())
        self._objective_cdf[-1] = 1.0
        self._active = [weights[i] > 0 for i in range(len(OBJECTIVES))]
        self._span_cdf = truncated_poisson_cdf(float(options.poisson_lambda), int(options.max_span))
        self.max_piece_len = options.max_piece_len()
        self._seed_prefix = f"{options.seed}\x00".encode()

    # -- public entry points -------------------------------------------------------
    def build_documents(self, docs: Iterable[Tuple]) -> Iterator[SampleColumns]:
        """``(key, tokens)`` or ``(key, tokens, ends)`` documents, in order -> batches of samples.

        Documents are gathered into chunks; the packer's open samples carry over from one
        chunk to the next, so the samples do not depend on the chunking.
        """
        packer = _Packer(self.options.seq_len)
        carry: Optional[PieceTable] = None
        keys, tokens, ends = [], [], []
        size = 0
        for doc in docs:
            keys.append(doc[0])
            tokens.append(np.asarray(doc[1], dtype=np.uint32))
            if len(doc) > 2:
                ends.append(np.asarray(doc[2], dtype=bool))
            size += len(doc[1])
            if size >= CHUNK_TOKENS:
                table = PieceTable.from_documents(keys, tokens, self.max_piece_len, self.table, ends or None)
                table = table if carry is None else PieceTable.concat([carry, table])
                carry = yield from self._build_table(table, packer, start=0 if carry is None else len(carry),
                                                     final=False)
                keys, tokens, ends, size = [], [], [], 0
        if keys:
            table = PieceTable.from_documents(keys, tokens, self.max_piece_len, self.table, ends or None)
            start = 0 if carry is None else len(carry)
            carry = table if carry is None else PieceTable.concat([carry, table])
        else:
            start = 0 if carry is None else len(carry)
        if carry is not None and len(carry):
            yield from self._build_table(carry, packer, start=start, final=True)

    def pack_pieces(self, pieces: Iterable[Piece]) -> Iterator[Dict[str, object]]:
        """Pieces in order -> samples as dicts (the simple, row-at-a-time interface)."""
        pieces = list(pieces)
        if pieces:
            for batch in self._build_table(PieceTable.from_pieces(pieces), _Packer(self.options.seq_len),
                                           start=0, final=True):
                yield from batch.rows()

    def build_one(self, pieces: Sequence[Piece], objective: Optional[str] = None) -> Dict[str, object]:
        """All ``pieces`` in one sample (the objective drawn unless given)."""
        table = PieceTable.from_pieces(list(pieces))
        bases = self._bases(table)
        chosen = OBJECTIVES.index(objective) if objective else int(self._objectives(bases[:1])[0])
        plans = self._plans(table, bases, force=chosen)
        return self._build(table, bases, plans, np.array([0]), np.array([chosen])).row(0)

    # -- streams and plans ---------------------------------------------------------
    def _bases(self, table: PieceTable) -> np.ndarray:
        """Stream start of every piece: blake2b of ``seed \\0 key#piece`` (as glmprep.core.rng.stream_base)."""
        prefix = self._seed_prefix
        return np.array([int.from_bytes(hashlib.blake2b(prefix + key.encode("utf-8", "surrogatepass") + b"#%d" % piece,
                                                        digest_size=8).digest(), "little")
                         for key, piece in zip(table.keys, table.piece.tolist())], dtype=np.uint64)

    def _objectives(self, bases: np.ndarray) -> np.ndarray:
        """Objective index of a sample starting at each of these pieces (draw 0 of its stream)."""
        return np.searchsorted(self._objective_cdf, _uniform(_draw(bases, np.zeros(len(bases), np.int64))),
                               side="right")

    def _plans(self, table: PieceTable, bases: np.ndarray, force: Optional[int] = None) -> List[Optional[SpanPlan]]:
        """Blank and sentence spans of every piece (for the active objectives, or ``force``)."""
        active = [force == i for i in range(3)] if force is not None else self._active
        x_len = table.x_lengths
        return [self._plan_blank(table, bases, x_len) if active[0] else None,
                self._plan_sentence(table, bases, x_len) if active[1] else None,
                None]

    # -- packing -------------------------------------------------------------------
    def _build_table(self, table: PieceTable, packer: "_Packer", start: int, final: bool):
        """Pack pieces ``start:`` of ``table`` (those before are the packer's open samples,
        carried over) and build the closed samples; returns the pieces still open."""
        bases = self._bases(table)
        plans = self._plans(table, bases)
        x_len = table.x_lengths
        costs = [(x_len + 2 * plans[i].counts).tolist() if plans[i] is not None else None for i in range(2)]
        costs.append((x_len + 2).tolist())
        packer.pack(table.keys, (table.piece == 0).tolist(), (table.piece == table.num_pieces - 1).tolist(),
                    costs, self._objectives(bases).tolist(), start)
        closed = packer.closed + (packer.drain() if final else [])
        packer.closed = []
        carry = None
        if not final:
            carry_pieces = packer.renumber_open()
            carry = table.take(np.array(carry_pieces, dtype=np.int64)) if carry_pieces else None
        for lo in range(0, len(closed), BUILD_BATCH_ROWS):
            batch = closed[lo:lo + BUILD_BATCH_ROWS]
            order = np.array([p for pieces, _ in batch for p in pieces], dtype=np.int64)
            sizes = np.array([len(pieces) for pieces, _ in batch], dtype=np.int64)
            yield self._build(table.take(order), bases[order], [_plan_take(plan, order, len(table)) for plan in plans],
                              exclusive_cumsum(sizes), np.array([o for _, o in batch], dtype=np.int64))
        return carry

    # -- building ------------------------------------------------------------------
    def _build(self, table: PieceTable, bases: np.ndarray, plans, group_starts: np.ndarray,
               objectives: np.ndarray) -> SampleColumns:
        """Samples from pieces: sample r holds pieces ``group_starts[r]`` up to the next start."""
        sp = self.specials
        n_rows, n_pieces = len(group_starts), len(table)
        piece_row = np.repeat(np.arange(n_rows), np.diff(np.append(group_starts, n_pieces)))
        piece_objective = objectives[piece_row]
        has_enc = table.piece == 0
        has_eos = table.piece == table.num_pieces - 1
        x_len = table.lengths + has_enc + has_eos
        x_off = exclusive_cumsum(x_len)
        text_start = x_off + has_enc                       # where each piece's text sits in x
        # x: the texts with ENC inserted before first pieces and eos after last pieces
        # (at a shared position, the eos closing one piece goes before the next ENC).
        text_off = exclusive_cumsum(table.lengths)
        where = np.concatenate([(text_off + table.lengths)[has_eos], text_off[has_enc]])
        what = np.concatenate([np.full(int(has_eos.sum()), sp.eos), np.full(int(has_enc.sum()), sp.enc)])
        by_where = np.argsort(where, kind="stable")
        x = np.insert(table.tokens, where[by_where], what[by_where].astype(np.uint32))

        spans = []
        blank = np.flatnonzero(piece_objective == 0)
        if len(blank):
            spans.append(self._place_blank(plans[0], blank, bases))
        sentence = np.flatnonzero(piece_objective == 1)
        if len(sentence):
            keep = np.isin(plans[1].piece, sentence)
            spans.append((plans[1].piece[keep], plans[1].start[keep], plans[1].length[keep]))
        document = np.flatnonzero(piece_objective == 2)
        if len(document):
            spans.append(self._document_spans(table, document, bases))
        piece = np.concatenate([s[0] for s in spans])
        start = np.concatenate([s[1] for s in spans]) + text_start[piece]
        length = np.concatenate([s[2] for s in spans]).astype(np.int64)
        by_start = np.argsort(start, kind="stable")
        start, length, piece = start[by_start], length[by_start], piece[by_start]
        span_row = piece_row[piece]
        # Part B order: a random permutation of each sample's spans, from the sample's stream.
        sample_base = bases[group_starts]
        keys = _draw(sample_base[span_row], _ORDER_COUNTER + _within(np.bincount(span_row, minlength=n_rows)))
        # grouped by sample, random within it (one uint64 key: sample in the top 16 bits)
        order = np.argsort((span_row.astype(np.uint64) << np.uint64(48)) | (keys >> np.uint64(16)))
        row_x_len = np.bincount(piece_row, weights=x_len, minlength=n_rows).astype(np.int64)
        cols = assemble_batch(x, row_x_len, start, length, span_row, self.mask_ids[objectives[span_row]], order, sp)
        return SampleColumns(
            **cols, objective=[OBJECTIVES[o] for o in objectives.tolist()], source_ids=list(table.keys),
            source_piece=table.piece, source_num_pieces=table.num_pieces, source_lengths=x_len,
            source_offsets=np.append(group_starts, n_pieces), span_lengths=length,
            span_objective=objectives[span_row])

    def _targets(self, text_len: np.ndarray, x_len: np.ndarray, objective: str) -> np.ndarray:
        """Tokens to mask per piece: ceil(ratio · x_len), capped by what the piece can hold."""
        return np.minimum(masking_capacity(text_len, objective, self.options.max_span),
                          np.ceil(self.options.mask_ratio * x_len - 1e-9).astype(np.int64))

    def _plan_blank(self, table: PieceTable, bases: np.ndarray, x_len: np.ndarray) -> SpanPlan:
        """Poisson lengths drawn from each piece's stream until its target is met."""
        text_len = table.lengths
        targets = self._targets(text_len, x_len, "blank")
        draws = np.maximum(targets, 1)          # each span covers ≥ 1 token: enough draws
        draw_piece = np.repeat(np.arange(len(table)), draws)
        counters = 1 + _within(draws)
        lengths = np.searchsorted(self._span_cdf, _uniform(_draw(bases[draw_piece], counters)), side="right") + 1
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
            rng = KeyedRandom(self.options.seed, f"{table.keys[p]}#{int(table.piece[p])}/redraw")
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

    def _place_blank(self, plan: SpanPlan, chosen: np.ndarray, bases: np.ndarray):
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
        bits = _draw(bases[chosen][draw_piece], np.repeat(first_counter, draws) + _within(draws))
        value = (_uniform(bits) * slots[draw_piece]).astype(np.int64)
        if slots.max(initial=0) < 1 << 20 and draws.max(initial=0) < 1 << 20:
            # sort by (piece, value, draw order) through one int64 key
            by_value = np.argsort((draw_piece << 40) | (value << 20) | _within(draws))
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
        extra_piece, extra_value = [full.repeat(counts[full])], [_within(counts[full])]
        for i in short.tolist():
            rng = KeyedRandom(self.options.seed, f"{int(bases[chosen[i]])}/place")
            extra_piece.append(np.full(counts[i], i))
            extra_value.append(np.sort(np.argsort(rng.bits(int(slots[i])), kind="stable")[:counts[i]]))
        keep = ~np.isin(picked_piece, short)
        piece = np.concatenate([picked_piece[keep]] + extra_piece)
        value = np.concatenate([picked_value[keep]] + extra_value)
        return np.sort((piece << 32) | value) & 0xFFFFFFFF         # sorted by piece, then value

    def _plan_sentence(self, table: PieceTable, bases: np.ndarray, x_len: np.ndarray) -> SpanPlan:
        """Whole sentences in random order (the piece's stream) until its target is covered."""
        text_len = table.lengths
        targets = self._targets(text_len, x_len, "sentence")
        ends = table.ends.copy()
        local_end = np.cumsum(text_len) - 1
        ends[local_end] = True                               # sentences never cross pieces
        sent_end = np.flatnonzero(ends)
        sent_start = np.concatenate([[0], sent_end[:-1] + 1])
        sent_len = sent_end - sent_start + 1
        sent_piece = np.searchsorted(local_end, sent_start)
        keys = _draw(bases[sent_piece], 1 + _within(np.bincount(sent_piece, minlength=len(table))))
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

    def _document_spans(self, table: PieceTable, chosen: np.ndarray, bases: np.ndarray):
        """One suffix per piece, its share of the piece's text uniform on the ratio range (draw 1)."""
        lo, hi = self.options.document_ratio
        text_len = table.lengths[chosen]
        u = _uniform(_draw(bases[chosen], np.ones(len(chosen), dtype=np.int64)))
        lengths = np.minimum(np.clip(np.ceil((lo + (hi - lo) * u) * text_len - 1e-9).astype(np.int64), 1, None),
                             text_len)
        return chosen, text_len - lengths, lengths


def _plan_take(plan: Optional[SpanPlan], indices: np.ndarray, size: int) -> Optional[SpanPlan]:
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


# Samples kept open at once while packing: a piece goes to the first open sample it fits.
PACK_WINDOW = 8
# A sample with less room than this left is closed at once.
_NEARLY_FULL = 4


class _Packer:
    """First-fit packing over a window of open samples, in document order.

    A piece joins the oldest open sample it fits (the sample's exact length after
    Part B, ``n + 2m``, stays within seq_len) and that holds no other piece of its
    document (a document was split because it does not fit one sample), provided an
    ENC or eos separates it from the piece before it (so spans of two pieces never
    touch). When it fits
    none, it opens a sample, closing the oldest when ``PACK_WINDOW`` are open. A
    sample's objective is fixed by its first piece. Closed samples come out in the
    order they close.
    """

    def __init__(self, limit: int, window: int = PACK_WINDOW):
        self.limit = limit
        self.window = window
        self.open: List[list] = []      # [pieces, used, objective, key of the last piece, it ends with eos]
        self.closed: List[Tuple[List[int], int]] = []

    def pack(self, keys: List[str], opens: List[bool], closes: List[bool], costs: List[List[int]],
             first_objective: List[int], start: int) -> None:
        """Place pieces ``start:``; ``opens``/``closes``: the piece starts with ENC / ends with eos."""
        limit = self.limit
        for i in range(start, len(keys)):
            key = keys[i]
            for b in self.open:
                if b[3] != key and (b[4] or opens[i]) and b[1] + costs[b[2]][i] <= limit:
                    b[0].append(i)
                    b[1] += costs[b[2]][i]
                    b[3] = key
                    b[4] = closes[i]
                    if limit - b[1] < _NEARLY_FULL:
                        self.open.remove(b)
                        self.closed.append((b[0], b[2]))
                    break
            else:
                if len(self.open) == self.window:
                    oldest = self.open.pop(0)
                    self.closed.append((oldest[0], oldest[2]))
                objective = first_objective[i]
                self.open.append([[i], costs[objective][i], objective, key, closes[i]])

    def drain(self) -> List[Tuple[List[int], int]]:
        out = [(b[0], b[2]) for b in self.open]
        self.open = []
        return out

    def renumber_open(self) -> List[int]:
        """Pieces of the open samples, in order; the samples now refer to positions in that list."""
        pieces: List[int] = []
        for b in self.open:
            first = len(pieces)
            pieces.extend(b[0])
            b[0] = list(range(first, len(pieces)))
        return pieces


def assemble_batch(x: np.ndarray, row_x_len: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                   span_row: np.ndarray, mask_ids: np.ndarray, order: np.ndarray,
                   specials: SpecialIds) -> Dict[str, np.ndarray]:
    """Part A / Part B columns for many samples at once.

    ``x`` holds the samples' uncorrupted tokens back to back (``row_x_len`` each);
    spans are ``starts``/``lengths`` in ``x`` sorted by start, ``span_row`` their sample,
    ``mask_ids`` their mask token; ``order`` lists span indices grouped by sample in
    Part B order.
    """
    n_rows = len(row_x_len)
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    keep = np.ones(len(x), dtype=bool)
    keep[segment_ranges(starts, lengths)] = False
    keep[starts] = True                                       # each span leaves one mask behind
    part_a = np.asarray(x, dtype=np.uint32).copy()
    part_a[starts] = mask_ids
    part_a = part_a[keep]
    sep = row_x_len - np.bincount(span_row, weights=lengths - 1, minlength=n_rows).astype(np.int64)
    a_off = exclusive_cumsum(sep)
    mask_pos = starts - exclusive_cumsum(lengths - 1) - a_off[span_row]   # mask index within its Part A

    lens_b = lengths[order]
    block_lens = lens_b + 1                                   # sop + span tokens
    block_starts = exclusive_cumsum(block_lens)
    token_pos = segment_ranges(block_starts + 1, lens_b)
    tokens = np.asarray(x, dtype=np.uint32)[segment_ranges(starts[order], lens_b)]
    b_len = int(block_lens.sum())
    b_input = np.empty(b_len, dtype=np.uint32)
    b_input[block_starts] = specials.sop
    b_input[token_pos] = tokens
    b_target = np.empty(b_len, dtype=np.uint32)
    b_target[token_pos - 1] = tokens
    b_target[block_starts + lens_b] = specials.eop
    b_rows = np.bincount(span_row[order], weights=block_lens, minlength=n_rows).astype(np.int64)
    b_off = exclusive_cumsum(b_rows)

    row_len = sep + b_rows
    row_off = exclusive_cumsum(row_len)
    total = int(row_len.sum())
    index = np.int32 if total < 1 << 31 else np.int64          # half the memory traffic when it fits
    a_local = np.arange(len(part_a), dtype=index) - np.repeat(a_off.astype(index), sep)
    dest_a = a_local + np.repeat(row_off.astype(index), sep)
    dest_b = np.arange(b_len, dtype=index) + np.repeat((row_off + sep - b_off).astype(index), b_rows)
    input_ids = np.empty(total, dtype=np.uint32)
    input_ids[dest_a] = part_a
    input_ids[dest_b] = b_input
    target_ids = input_ids.copy()
    target_ids[dest_b] = b_target
    position_ids = np.empty(total, dtype=np.int32)
    position_ids[dest_a] = a_local
    position_ids[dest_b] = np.repeat(mask_pos[order], block_lens)
    block_position_ids = np.zeros(total, dtype=np.int32)
    block_position_ids[dest_b] = np.arange(1, b_len + 1, dtype=index) - np.repeat(
        block_starts.astype(index), block_lens)
    loss_mask = np.zeros(total, dtype=np.uint8)
    loss_mask[dest_b] = 1
    return {"input_ids": input_ids, "target_ids": target_ids, "loss_mask": loss_mask,
            "position_ids": position_ids, "block_position_ids": block_position_ids,
            "offsets": np.append(row_off, total), "sep": sep}


def assemble(x: np.ndarray, starts: np.ndarray, lengths: np.ndarray, mask_id: int,
             order: np.ndarray, specials: SpecialIds) -> Dict[str, object]:
    """Part A / Part B arrays of one sample; ``order`` is the Part B order of the spans.

    GLM paper example, x = x1..x6 (ids 1..6), spans [x3] and [x5, x6], Part B order (2, 1):

    >>> from glmprep.core.tokenizer import SpecialIds
    >>> sp = SpecialIds.after(100)
    >>> s = assemble(np.arange(1, 7), np.array([2, 4]), np.array([1, 2]), sp.mask, np.array([1, 0]), sp)
    >>> s["input_ids"].tolist()          # x1 x2 M x4 M | sop x5 x6 sop x3
    [1, 2, 100, 4, 100, 103, 5, 6, 103, 3]
    >>> s["position_ids"].tolist(), s["block_position_ids"].tolist()
    ([0, 1, 2, 3, 4, 4, 4, 4, 2, 2], [0, 0, 0, 0, 0, 1, 2, 3, 1, 2])
    """
    k = len(starts)
    cols = assemble_batch(np.asarray(x), np.array([len(x)]), np.asarray(starts), np.asarray(lengths),
                          np.zeros(k, dtype=np.int64), np.full(k, mask_id, dtype=np.uint32),
                          np.asarray(order), specials)
    out = {name: cols[name] for name in ("input_ids", "target_ids", "loss_mask", "position_ids",
                                         "block_position_ids")}
    out["sep"] = int(cols["sep"][0])
    return out
