"""``glmprep validate``: check every GLM_SPEC §2/§6 invariant on every row of every shard.

The checks are vectorised over a whole shard: each token column is one flat NumPy
array plus offsets, and every rule is a handful of array expressions over it. A
rule that fails reports the shard, the first rows that break it and the values
seen. Rule names (what a failure is reported as):

    schema               shard opens, schema and metadata are glmprep's (format version, types,
                         Arrow buffers and offsets consistent, no nulls)
    metadata             metadata agrees across shards (but for each shard's epoch) and with the manifest
    row_lengths          all token columns of a row have the same length
    seq_len              1 ≤ len(input_ids) ≤ seq_len
    sep                  0 < sep < len(input_ids)
    vocab                every input and target id < vocab_size
    positions            position_ids < seq_len, block_position_ids ≤ seq_len
    objective            objective is blank/sentence/document with a positive weight
    loss_mask            0 on Part A, 1 on Part B
    part_a_positions     position_ids = 0..sep-1 and block_position_ids = 0 on Part A
    part_a_tokens        Part A holds no sop/eop/PAD and only the objective's mask token
    part_b_blocks        Part B is blocks that start with sop; block_position_ids count 1..l+1
    part_b_positions     a block's position_ids all equal the Part A position of one mask
    part_b_tokens        span tokens are ordinary tokens (no special id)
    targets              Part B targets are the next input of the block, eop at its end
    masks_match_blocks   each mask in Part A has exactly one block and vice versa
    sources              source_* lists agree in length; pieces are in range
    reconstruction       Part A with masks filled = the documents' tokens: x length equals
                         Σ source_lengths, ENC opens (only) first pieces (every piece when
                         sample_options.enc is "row"), eos closes (only) last pieces, no mask
                         or special inside text
    spans_in_documents   each span lies inside one piece's text
    blank_spans          blank: spans not adjacent, lengths ≤ max_span
    mask_ratio           blank/sentence: each piece has ≥ ceil(ratio · its length) tokens masked
                         (or as many as its text can hold)
    document_spans       document: one suffix span per piece, share within document_ratio
    manifest             the manifest is JSON of glmprep's shape, names only files inside its
                         directory, and its shards' sha256 are the files' (when one is present)
    accounting           documents_in = kept + rejected; rejects/ holds the manifest's counts per
                         reason; kept = distinct source_ids in the shards, and in each epoch's
                         shards with --epochs (core/accounting.py)

The first rules up to ``sources`` are ``glmprep.schemas.reader.shard_problems``, which every
reader of a shard applies when it opens one.
"""
from __future__ import annotations

import dataclasses
import glob
import os
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from glmprep.core.samples import exclusive_cumsum, masking_capacity, segment_ranges
from glmprep.schemas.manifest import MANIFEST_NAME, ManifestError, read_manifest_file, shard_path
from glmprep.schemas.reader import ShardReader, expand_paths, shard_problems
from glmprep.schemas.shard import OBJECTIVES, ShardFormatError
from glmprep.core.tokenizer import file_sha256
from glmprep.core.accounting import check_accounting

MAX_EXAMPLES_PER_RULE = 5


@dataclass
class Violation:
    shard: str
    rule: str
    rows: List[int]
    count: int
    detail: str

    def __str__(self) -> str:
        rows = ", ".join(map(str, self.rows)) + (" ..." if self.count > len(self.rows) else "")
        return f"{self.shard}: {self.rule}: {self.count} row(s) [{rows}]: {self.detail}"


@dataclass
class Report:
    shards: int = 0
    rows: int = 0
    tokens: int = 0
    objectives: Dict[str, int] = field(default_factory=lambda: {o: 0 for o in OBJECTIVES})
    violations: List[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


class _ShardCheck:
    """All rules over one shard; ``fail`` records the rows where a boolean row-array is True."""

    def __init__(self, reader: ShardReader, report: Report):
        self.r = reader
        self.meta = reader.metadata
        self.report = report
        self.name = os.path.basename(reader.path)
        self.sp = self.meta.special_tokens

    def fail(self, rule: str, bad_rows: np.ndarray, detail) -> None:
        rows = np.flatnonzero(bad_rows) if bad_rows.dtype == bool else np.unique(bad_rows)
        if len(rows):
            text = detail(int(rows[0])) if callable(detail) else detail
            self.report.violations.append(
                Violation(self.name, rule, rows[:MAX_EXAMPLES_PER_RULE].tolist(), len(rows), text))

    def run(self) -> None:
        r, meta, sp = self.r, self.meta, self.sp
        n_rows = r.num_rows
        self.report.shards += 1
        self.report.rows += n_rows
        if n_rows == 0:
            return
        cols = {name: r.flat(name) for name in
                ("input_ids", "target_ids", "loss_mask", "position_ids", "block_position_ids")}
        inp, off = cols["input_ids"]
        lengths = np.diff(off)
        self.report.tokens += int(lengths.sum())
        # The rules every reader relies on (lengths, sep, vocab, positions, objective, sources);
        # the rules below index the columns together, so they run only when these hold.
        problems = shard_problems(r, MAX_EXAMPLES_PER_RULE)
        for p in problems:
            self.report.violations.append(Violation(self.name, p.rule, p.rows, p.count, p.detail))
        if any(p.rule == "row_lengths" for p in problems):
            return
        sep = r.column("sep").astype(np.int64)
        objective = np.asarray(r.column("objective"), dtype=object)
        for o in OBJECTIVES:
            self.report.objectives[o] += int((objective == o).sum())
        weights = meta.objective_weights
        known = np.array([o in OBJECTIVES and weights.get(o, 0) > 0 for o in objective])
        self.fail("objective", np.isin(objective, OBJECTIVES) & ~known,
                  lambda i: f"objective {objective[i]!r} has no positive weight in {weights}")
        if problems:
            return

        row = np.repeat(np.arange(n_rows), lengths)                      # row of each token
        local = np.arange(len(inp)) - np.repeat(off[:-1], lengths)       # index within the row
        in_b = local >= np.repeat(sep, lengths)
        loss, pos, blk = cols["loss_mask"][0], cols["position_ids"][0].astype(np.int64), \
            cols["block_position_ids"][0].astype(np.int64)
        tgt = cols["target_ids"][0]

        def rows_where(mask: np.ndarray) -> np.ndarray:
            return np.unique(row[mask])

        self.fail("loss_mask", rows_where(loss != in_b.astype(loss.dtype)), "loss_mask must be 0 on Part A, 1 on Part B")
        self.fail("part_a_positions", rows_where(~in_b & ((pos != local) | (blk != 0))),
                  "Part A needs position_ids 0..sep-1 and block_position_ids 0")
        mask_of = {o: sp[{"blank": "[MASK]", "sentence": "[sMASK]", "document": "[gMASK]"}[o]] for o in OBJECTIVES}
        obj_mask = np.array([mask_of.get(o, -1) for o in objective], dtype=np.int64)
        is_mask_a = ~in_b & (inp >= meta.base_vocab_size) & np.isin(inp, list(mask_of.values()))
        wrong_mask = is_mask_a & (inp != np.repeat(obj_mask, lengths))
        # (PAD may be eos's id too, and eos belongs in Part A)
        not_in_a = [sp["sop"], sp["eop"]] + ([sp["PAD"]] if sp["PAD"] != sp["eos"] else [])
        bad_special_a = ~in_b & np.isin(inp, not_in_a)
        self.fail("part_a_tokens", rows_where(wrong_mask | bad_special_a),
                  "Part A holds sop/eop/PAD or another objective's mask")

        # Part B blocks.
        block_start = in_b & (inp == sp["sop"])
        first_b = off[:-1] + sep
        self.fail("part_b_blocks", inp[first_b] != sp["sop"], "Part B must open with sop")
        bidx = np.flatnonzero(in_b)
        block_id = np.cumsum(block_start)[bidx] - 1                     # global block of each B token
        bstarts = np.flatnonzero(block_start)
        expected_blk = bidx - bstarts[np.maximum(block_id, 0)] + 1
        self.fail("part_b_blocks", rows_where_idx(row, bidx, blk[bidx] != expected_blk),
                  "block_position_ids must count 1..l+1 along each block")
        self.fail("part_b_positions", rows_where_idx(row, bidx, pos[bidx] != pos[bstarts[np.maximum(block_id, 0)]]),
                  "position_ids must be constant within a Part B block")
        span_tok = bidx[~block_start[bidx]]
        self.fail("part_b_tokens", rows_where_idx(row, span_tok, inp[span_tok] >= meta.base_vocab_size),
                  "a span token is a special id")
        row_end = off[1:] - 1
        next_start = np.append(bstarts[1:], len(inp))
        block_end = np.minimum(next_start - 1, row_end[row[bstarts]])   # last index of each block
        nxt = np.minimum(bidx + 1, len(inp) - 1)
        is_block_last = np.zeros(len(inp), dtype=bool)
        is_block_last[block_end] = True
        expected_tgt = np.where(is_block_last[bidx], sp["eop"], inp[nxt])
        self.fail("targets", rows_where_idx(row, bidx, tgt[bidx] != expected_tgt),
                  "Part B target must be the next input of the block, eop at its end")

        # Masks <-> blocks.
        mask_idx = np.flatnonzero(is_mask_a)
        mask_key = row[mask_idx] * (meta.seq_len + 1) + local[mask_idx]
        block_key = row[bstarts] * (meta.seq_len + 1) + pos[bstarts]
        mk, bk = np.sort(mask_key), np.sort(block_key)
        if len(mk) != len(bk) or not np.array_equal(mk, bk):
            mask_rows = np.bincount(row[mask_idx], minlength=n_rows)
            block_rows = np.bincount(row[bstarts], minlength=n_rows)
            bad = mask_rows != block_rows
            if not bad.any():
                bad = np.isin(np.arange(n_rows), np.setxor1d(mk, bk) // (meta.seq_len + 1))
            self.fail("masks_match_blocks", bad,
                      lambda i: f"{mask_rows[i]} masks in Part A, {block_rows[i]} blocks in Part B")
            return
        self._check_sources(n_rows)
        self._check_reconstruction(inp, off, lengths, row, local, sep, objective, is_mask_a,
                                   mask_idx, mask_key, bstarts, block_key, block_end)

    def _check_sources(self, n_rows: int) -> None:
        r = self.r
        names = ("source_piece", "source_num_pieces", "source_lengths")
        n_ids = np.array([len(v) for v in r.table.column("source_ids").to_pylist()])
        flat = {name: r.flat(name) for name in names}
        for name in names:
            self.fail("sources", np.diff(flat[name][1]) != n_ids, f"{name} and source_ids differ in length")
        self.fail("sources", n_ids == 0, "a sample without source_ids")
        piece, num = flat["source_piece"][0], flat["source_num_pieces"][0]
        src_row = np.repeat(np.arange(n_rows), np.diff(flat["source_piece"][1]))
        if len(piece) == len(num):
            self.fail("sources", np.unique(src_row[piece >= num]), "source_piece ≥ source_num_pieces")

    def _check_reconstruction(self, inp, off, lengths, row, local, sep, objective, is_mask_a,
                              mask_idx, mask_key, bstarts, block_key, block_end) -> None:
        r, meta, sp = self.r, self.meta, self.sp
        n_rows = r.num_rows
        # Each Part A token contributes itself, each mask its block's span tokens.
        a_idx = np.flatnonzero(np.arange(len(inp)) < np.repeat(off[:-1] + sep, lengths))
        order = np.argsort(block_key, kind="stable")
        mask_block = order[np.searchsorted(block_key[order], mask_key)]  # block of each mask
        span_len = block_end[mask_block] - bstarts[mask_block]
        src = a_idx.copy()
        n_out = np.ones(len(a_idx), dtype=np.int64)
        where_mask = np.searchsorted(a_idx, mask_idx)
        src[where_mask] = bstarts[mask_block] + 1
        n_out[where_mask] = span_len
        x = inp[segment_ranges(src, n_out)]
        x_row_len = np.bincount(row[a_idx], weights=n_out, minlength=n_rows).astype(np.int64)

        s_lens, s_off = r.flat("source_lengths")
        s_lens = s_lens.astype(np.int64)
        expected_len = np.add.reduceat(s_lens, s_off[:-1]) if len(s_lens) else np.zeros(n_rows, np.int64)
        expected_len[np.diff(s_off) == 0] = 0
        bad_len = x_row_len != expected_len
        self.fail("reconstruction", bad_len,
                  lambda i: f"Part A + Part B rebuild {x_row_len[i]} tokens, source_lengths sum to {expected_len[i]}")
        if bad_len.any():
            return
        piece, num = r.flat("source_piece")[0].astype(np.int64), r.flat("source_num_pieces")[0].astype(np.int64)
        p_start = exclusive_cumsum(s_lens)                                # global x start of each piece
        p_end = p_start + s_lens - 1
        x_row = np.repeat(np.arange(n_rows), x_row_len)
        # ENC opens a document's first piece, or every piece with --enc row (so every row)
        enc_every_piece = meta.sample_options.get("enc", "document") == "row"
        has_enc = (piece == 0) | enc_every_piece
        want_enc = np.zeros(len(x), dtype=bool)
        want_enc[p_start[has_enc & (s_lens > 0)]] = True
        want_eos = np.zeros(len(x), dtype=bool)
        want_eos[p_end[(piece == num - 1) & (s_lens > 0)]] = True
        self.fail("reconstruction", np.unique(x_row[(x == sp["ENC"]) != want_enc]),
                  "ENC must open exactly every piece" if enc_every_piece
                  else "ENC must open exactly the first piece of each document")
        self.fail("reconstruction", np.unique(x_row[(x == sp["eos"]) != want_eos]),
                  "eos must close exactly the last piece of each document")
        other_special = (x >= meta.base_vocab_size) & (x != sp["ENC"]) & (x != sp["eos"])
        self.fail("reconstruction", np.unique(x_row[other_special]),
                  "a mask or another special id is left after filling the masks")

        # Where each span sits in x, and which piece holds it.
        a_x_start = exclusive_cumsum(n_out)                               # global x index of each A token
        span_start = a_x_start[where_mask]
        span_last = span_start + span_len - 1
        p_of_start = np.searchsorted(p_start, span_start, side="right") - 1
        p_of_last = np.searchsorted(p_start, span_last, side="right") - 1
        m_row = row[mask_idx]
        self.fail("spans_in_documents", np.unique(m_row[(p_of_start != p_of_last) | (span_len < 1)]),
                  "a span crosses a document piece boundary or is empty")
        self.fail("spans_in_documents", np.unique(m_row[want_enc[span_start] | want_eos[span_last]]),
                  "a span covers ENC or eos")

        opts = meta.sample_options
        m_obj = objective[m_row]
        blank = m_obj == "blank"
        max_span = int(opts.get("max_span", 1 << 30))
        adjacent = np.zeros(len(mask_idx), dtype=bool)
        adjacent[1:] = (mask_idx[1:] == mask_idx[:-1] + 1) & (m_row[1:] == m_row[:-1])
        self.fail("blank_spans", np.unique(m_row[blank & ((span_len > max_span) | adjacent)]),
                  f"blank spans must be ≤ max_span {max_span} and not adjacent")

        ratio = float(opts.get("mask_ratio", 0.0))
        p_text_len = s_lens - has_enc - (piece == num - 1)
        src_row = np.repeat(np.arange(n_rows), np.diff(s_off))
        masked = np.bincount(p_of_start, weights=span_len, minlength=len(s_lens))
        p_obj = objective[src_row]
        capacity = np.where(p_obj == "blank", masking_capacity(p_text_len, "blank", max_span), p_text_len)
        need = np.minimum(capacity, np.ceil(ratio * s_lens - 1e-9))
        low = np.isin(p_obj, ["blank", "sentence"]) & (masked < need)
        self.fail("mask_ratio", np.unique(src_row[low]),
                  lambda i: f"a document piece has fewer masked tokens than ceil({ratio} · its length)")

        doc = m_obj == "document"
        lo, hi = opts.get("document_ratio", (0.0, 1.0))
        p_text_end = p_end - (piece == num - 1)
        sp_piece = p_of_start
        bad_doc = doc & ((span_last != p_text_end[sp_piece])
                         | (span_len < np.ceil(lo * p_text_len[sp_piece] - 1e-9))
                         | (span_len > np.ceil(hi * p_text_len[sp_piece] - 1e-9)))
        spans_per_piece = np.bincount(sp_piece[doc], minlength=len(s_lens))
        doc_rows = objective[src_row] == "document"
        self.fail("document_spans", np.union1d(np.unique(m_row[bad_doc]),
                                               np.unique(src_row[doc_rows & (spans_per_piece != 1) & (p_text_len > 0)])),
                  f"document: one suffix span per piece with a share in [{lo}, {hi}]")


def rows_where_idx(row: np.ndarray, idx: np.ndarray, bad: np.ndarray) -> np.ndarray:
    return np.unique(row[idx[bad]])


def _check_manifest(directory: str, shard_paths: List[str], report: Report) -> None:
    path = os.path.join(directory, MANIFEST_NAME)
    if not os.path.exists(path):
        report.violations.append(Violation(MANIFEST_NAME, "manifest", [], 0,
                                           f"{directory} has no manifest.json: the run did not finish"))
        return
    try:
        manifest = read_manifest_file(directory, require=("shards",))
    except (ManifestError, OSError) as exc:
        report.violations.append(Violation(MANIFEST_NAME, "manifest", [], 0, str(exc)))
        return
    for problem in check_accounting(manifest, directory, shard_paths):
        report.violations.append(Violation(MANIFEST_NAME, "accounting", [], 0, problem))
    listed = {s["file"]: s for s in manifest["shards"]}
    present = {os.path.basename(p) for p in shard_paths if os.path.dirname(os.path.abspath(p)) == os.path.abspath(directory)}
    for name in sorted(set(listed) ^ present):
        where = "listed in the manifest but missing" if name in listed else "present but not in the manifest"
        report.violations.append(Violation(name, "manifest", [], 0, where))
    for name in sorted(set(listed) & present):
        entry, full = listed[name], shard_path(directory, listed[name])
        digest = file_sha256(full)
        if digest != entry.get("sha256"):
            report.violations.append(Violation(name, "manifest", [], 0,
                                               f"sha256 {digest[:12]}… ≠ manifest {str(entry.get('sha256'))[:12]}…"))


def same_run_metadata(a, b) -> bool:
    """Metadata of two shards of one run: equal but for the epoch of each (``--epochs``)."""
    def without_epoch(meta):
        return dataclasses.replace(meta, sample_options={k: v for k, v in meta.sample_options.items()
                                                         if k != "epoch"})
    return a == b or without_epoch(a) == without_epoch(b)


def validate_reader(reader: ShardReader, report: Optional[Report] = None) -> Report:
    """Check one shard (file-backed or in memory)."""
    report = report or Report()
    _ShardCheck(reader, report).run()
    return report


def validate_paths(paths: Sequence[str]) -> Report:
    report = Report()
    shard_paths = expand_paths(paths)
    first_meta = None
    for path in shard_paths:
        try:
            reader = ShardReader(path, check=False)  # the rules are checked below, each reported
        except (ShardFormatError, OSError) as exc:
            report.violations.append(Violation(os.path.basename(path), "schema", [], 0, str(exc)))
            continue
        if first_meta is None:
            first_meta = reader.metadata
        elif not same_run_metadata(reader.metadata, first_meta):
            report.violations.append(Violation(os.path.basename(path), "metadata", [], 0,
                                               "metadata differs from the first shard's"))
        _ShardCheck(reader, report).run()
    for d in sorted({p for p in paths if os.path.isdir(p)}):
        _check_manifest(d, [p for p in shard_paths if os.path.dirname(p) == d.rstrip("/") or
                            os.path.dirname(os.path.abspath(p)) == os.path.abspath(d)], report)
    return report


def print_report(report: Report, out=None) -> None:
    out = out or sys.stdout
    for v in report.violations:
        print(f"FAIL {v}", file=out)
    mix = ", ".join(f"{o} {n}" for o, n in report.objectives.items())
    status = "OK" if report.ok else f"{len(report.violations)} violation(s)"
    print(f"{status}: {report.shards} shard(s), {report.rows} rows, {report.tokens} tokens checked "
          f"({mix})", file=out)


def _run(args) -> int:
    missing = [p for p in args.paths if not os.path.exists(p) and not glob.glob(p)]
    if missing:
        print(f"glmprep validate: no such file or directory: {' '.join(missing)}", file=sys.stderr)
        return 2
    paths = expand_paths(args.paths)
    if not paths:
        print(f"glmprep validate: no shards found in {' '.join(args.paths)}", file=sys.stderr)
        return 2
    report = validate_paths(args.paths)
    print_report(report)
    return 0 if report.ok else 1


def add_commands(subparsers) -> None:
    p = subparsers.add_parser(
        "validate", help="check every GLM_SPEC invariant on every row of every shard",
        description="Check shards against the GLM sample contract (GLM_SPEC §2, §6): layout, positions, "
                    "targets, masks, reconstruction of every document, span rules per objective, and the "
                    "manifest's row counts and sha256. Exit 0 if all hold, 1 on any violation, 2 if no "
                    "shard is found.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="shard files, globs or output directories")
    p.set_defaults(func=_run)
