"""The sample builder: documents -> pieces -> spans -> packed samples -> columns.

The flow for one shard's documents, in a fixed order:

    PieceTable.from_documents   documents -> pieces that fit a sample (cut at sentence ends)
    SpanPlanner.plan_*          each piece's blank / sentence spans, from the piece's own stream
    Packer                      pieces -> samples, best-fit at their exact length after Part B
    SampleBuilder._build        samples -> placed spans -> Part A / Part B columns (layout)
"""
from __future__ import annotations

import functools
import hashlib
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from glmprep.core.rng import draw, epoch_suffix
from glmprep.core.samples.arrays import exclusive_cumsum, within
from glmprep.core.samples.boundaries import align_spans
from glmprep.core.samples.cuts import PieceCutter
from glmprep.core.samples.layout import SampleColumns, assemble_batch
from glmprep.core.samples.options import SampleOptions
from glmprep.schemas.shard import OBJECTIVES
from glmprep.core.samples.packing import Packer
from glmprep.core.samples.pieces import Piece, PieceTable
from glmprep.core.samples.sentences import SentenceTable
from glmprep.core.samples.spans import SpanPlan, SpanPlanner, plan_take
from glmprep.core.tokenizer import SpecialIds

# Rows built at once; bounds the memory of one batch of columns.
BUILD_BATCH_ROWS = 2048
# Document tokens gathered before pieces are cut and packed.
CHUNK_TOKENS = 1 << 20


# Counter ranges of a stream: draw 0 is a sample's objective, a piece's span draws start
# at 1, a sample's Part B order draws start here.
_ORDER_COUNTER = 1 << 40



class SampleBuilder:
    """Builds GLM samples from documents, many samples per NumPy pass.

    Randomness (GLM_SPEC §4) comes from counter-based streams keyed by
    ``(seed, "<document key>#<piece>")``. A sample's objective is draw 0 of its first
    piece's stream and its Part B order draws from that stream too; the spans inside a
    piece come from the piece's own stream, so they are known before packing and every
    sample is packed to its exact length after Part B.
    """

    def __init__(self, options: SampleOptions, specials: SpecialIds, table: Optional[SentenceTable] = None,
                 epoch: int = 0):
        self.options = options
        self.specials = specials
        self.table = table
        self.epoch = epoch
        self.mask_ids = np.array([specials.mask, specials.smask, specials.gmask], dtype=np.uint32)
        self._active = [options.objective_weights.get(o, 0.0) > 0 for o in OBJECTIVES]
        self.spans = SpanPlanner(options, epoch)
        self.cutter = PieceCutter(options, self.spans, table.char_start if table is not None else None, epoch)
        self.max_piece_len = options.max_piece_len()
        self._seed_prefix = f"{options.seed}\x00".encode()
        self._epoch_suffix = epoch_suffix(epoch).encode()
        # the packer of each build (a benchmark may swap in another policy)
        self.new_packer = functools.partial(Packer, options.seq_len)

    # -- public entry points -------------------------------------------------------
    def build_documents(self, docs: Iterable[Tuple]) -> Iterator[SampleColumns]:
        """``(key, tokens)`` or ``(key, tokens, ends)`` documents, in order -> batches of samples.

        Documents are gathered into chunks; the packer's open samples carry over from one
        chunk to the next, so the samples do not depend on the chunking.
        """
        packer = self.new_packer()
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
                table = self._pieces(keys, tokens, ends)
                table = table if carry is None else PieceTable.concat([carry, table])
                carry = yield from self._build_table(table, packer, start=0 if carry is None else len(carry),
                                                     final=False)
                keys, tokens, ends, size = [], [], [], 0
        if keys:
            table = self._pieces(keys, tokens, ends)
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
            for batch in self._build_table(PieceTable.from_pieces(pieces), self.new_packer(),
                                           start=0, final=True):
                yield from batch.rows()

    def build_one(self, pieces: Sequence[Piece], objective: Optional[str] = None) -> Dict[str, object]:
        """All ``pieces`` in one sample (the objective drawn unless given)."""
        table = PieceTable.from_pieces(list(pieces))
        bases = self._bases(table)
        chosen = OBJECTIVES.index(objective) if objective else int(self.spans.objectives(bases[:1])[0])
        plans = self._plans(table, bases, force=chosen)
        return self._build(table, bases, plans, np.array([0]), np.array([chosen])).row(0)

    def _pieces(self, keys, tokens, ends) -> PieceTable:
        """Documents -> pieces, long ones cut at their exact cost."""
        return PieceTable.from_documents(keys, tokens, self.max_piece_len, self.table, ends or None,
                                         cut=self.cutter.cuts_many)

    # -- streams and plans ---------------------------------------------------------
    def _bases(self, table: PieceTable) -> np.ndarray:
        """Stream start of every piece: blake2b of ``seed \\0 key#piece[@epoch]`` (as
        ``glmprep.core.rng.stream_base`` of ``piece_key``)."""
        prefix, suffix = self._seed_prefix, self._epoch_suffix
        return np.array([int.from_bytes(hashlib.blake2b(prefix + key.encode("utf-8", "surrogatepass")
                                                        + b"#%d" % piece + suffix, digest_size=8).digest(), "little")
                         for key, piece in zip(table.keys, table.piece.tolist())], dtype=np.uint64)

    def _plans(self, table: PieceTable, bases: np.ndarray, force: Optional[int] = None) -> List[Optional[SpanPlan]]:
        """Blank and sentence spans of every piece (for the active objectives, or ``force``)."""
        active = [force == i for i in range(3)] if force is not None else self._active
        x_len = table.x_lengths(self.options.enc)
        return [self.spans.plan_blank(table, bases, x_len) if active[0] else None,
                self.spans.plan_sentence(table, bases, x_len) if active[1] else None,
                None]

    def _on_characters(self, x, table, start, length, piece, piece_objective, text_start, x_len):
        """Spans moved onto character boundaries (``boundaries.align_spans``), keeping each
        piece's masked-token target and document share."""
        ok = np.append(self.table.char_start[x], True)          # [len(x) + 1] boundary before x[p]
        text_len = table.lengths
        lo, hi = self.options.document_ratio
        need = np.where(piece_objective == 2, np.ceil(lo * text_len - 1e-9).astype(np.int64),
                        np.where(piece_objective == 0, self.spans.targets(text_len, x_len, "blank"),
                                 self.spans.targets(text_len, x_len, "sentence")))
        document_max = np.ceil(hi * text_len - 1e-9).astype(np.int64)
        return align_spans(ok, start, length, piece, piece_objective[piece], text_start, text_start + text_len,
                           need, self.options.max_span, document_max)

    # -- packing -------------------------------------------------------------------
    def _build_table(self, table: PieceTable, packer: "Packer", start: int, final: bool):
        """Pack pieces ``start:`` of ``table`` (those before are the packer's open samples,
        carried over) and build the closed samples; returns the pieces still open."""
        bases = self._bases(table)
        plans = self._plans(table, bases)
        x_len = table.x_lengths(self.options.enc)
        # [3, P] exact n + 2m of every piece under every objective (inactive ones: never chosen)
        costs = np.full((len(OBJECTIVES), len(table)), self.options.seq_len + 1, dtype=np.int64)
        for i, plan in enumerate(plans[:2]):
            if plan is not None:
                costs[i] = x_len + 2 * plan.counts
        costs[2] = x_len + 2
        objectives = self.spans.objectives(bases)
        own = costs[objectives, np.arange(len(table))]
        if (own[start:] > self.options.seq_len).any():   # the cutter and the planner disagree: a bug
            p = start + int(np.flatnonzero(own[start:] > self.options.seq_len)[0])
            raise RuntimeError(f"piece {table.keys[p]}#{int(table.piece[p])} costs {int(own[p])} tokens, "
                               f"more than seq_len {self.options.seq_len}")
        packer.pack(table.keys, table.has_enc(self.options.enc).tolist(), table.has_eos().tolist(),
                    costs.tolist(), objectives.tolist(), start)
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
            yield self._build(table.take(order), bases[order], [plan_take(plan, order, len(table)) for plan in plans],
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
        has_enc = table.has_enc(self.options.enc)
        has_eos = table.has_eos()
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
            spans.append(self.spans.place_blank(plans[0], blank, bases))
        sentence = np.flatnonzero(piece_objective == 1)
        if len(sentence):
            keep = np.isin(plans[1].piece, sentence)
            spans.append((plans[1].piece[keep], plans[1].start[keep], plans[1].length[keep]))
        document = np.flatnonzero(piece_objective == 2)
        if len(document):
            spans.append(self.spans.document_spans(table, document, bases))
        piece = np.concatenate([s[0] for s in spans])
        start = np.concatenate([s[1] for s in spans]) + text_start[piece]
        length = np.concatenate([s[2] for s in spans]).astype(np.int64)
        by_start = np.argsort(start, kind="stable")
        start, length, piece = start[by_start], length[by_start], piece[by_start]
        if self.options.span_boundaries == "character" and self.table is not None:
            start, length, keep = self._on_characters(x, table, start, length, piece, piece_objective,
                                                      text_start, x_len)
            piece = piece[keep]
        span_row = piece_row[piece]
        # Part B order: a random permutation of each sample's spans, from the sample's stream.
        sample_base = bases[group_starts]
        keys = draw(sample_base[span_row], _ORDER_COUNTER + within(np.bincount(span_row, minlength=n_rows)))
        # grouped by sample, random within it (one uint64 key: sample in the top 16 bits)
        order = np.argsort((span_row.astype(np.uint64) << np.uint64(48)) | (keys >> np.uint64(16)))
        row_x_len = np.bincount(piece_row, weights=x_len, minlength=n_rows).astype(np.int64)
        cols = assemble_batch(x, row_x_len, start, length, span_row, self.mask_ids[objectives[span_row]], order, sp)
        return SampleColumns(
            **cols, objective=[OBJECTIVES[o] for o in objectives.tolist()], source_ids=list(table.keys),
            source_piece=table.piece, source_num_pieces=table.num_pieces, source_lengths=x_len,
            source_offsets=np.append(group_starts, n_pieces), span_lengths=length,
            span_objective=objectives[span_row])

