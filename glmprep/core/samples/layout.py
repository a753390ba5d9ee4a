"""The GLM sample layout (GLM_SPEC §2): Part A, Part B, targets, loss mask, 2D positions.

Everything here runs on whole batches of samples at once (columns, not rows).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional

import numpy as np

from glmprep.core.samples.arrays import exclusive_cumsum, segment_ranges
from glmprep.core.tokenizer import SpecialIds


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
    source_languages: Optional[List[str]] = None  # [P] language of each piece (the shard writer sets it)

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
