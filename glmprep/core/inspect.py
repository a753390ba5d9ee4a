"""``glmprep inspect``: show samples of a shard the way a person wants to read them.

For each sample: the sources, Part A decoded with every mask numbered (``[MASK#3]``,
so text after a mask never runs into its number), each Part B span decoded next to
its mask, and the token grid (token, position_ids, block_position_ids, loss_mask)
aligned column by column. Byte-level BPE tokens that split a character show it
whole under the first of them; bytes of a character cut by a span boundary show as
hex (``‹e6 b2›``), never as U+FFFD. Colour on a terminal (``NO_COLOR`` turns it off).
"""
from __future__ import annotations

import os
import shutil
import sys
import unicodedata
from typing import Dict, List, Union

import numpy as np

from glmprep.core.tokenizer import GLMTokenizer, TokenizerError
from glmprep.core.view import (CONTINUED, Span, mask_label, plain_text, spans_of_row, token_cells, token_text,
                               tokenizer_for)
from glmprep.schemas.reader import ShardReader
from glmprep.schemas.shard import OBJECTIVES, ShardFormatError

_COLOURS = ("\033[1;31m", "\033[1;32m", "\033[1;34m", "\033[1;35m", "\033[1;36m", "\033[1;33m")
_RESET = "\033[0m"


class Painter:
    def __init__(self, colour: bool):
        self.colour = colour

    def span(self, number: int, text: str) -> str:
        if not self.colour:
            return text
        return f"{_COLOURS[(number - 1) % len(_COLOURS)]}{text}{_RESET}"


def display_width(text: str) -> int:
    """Terminal columns: CJK and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def _visible(text: str) -> str:
    return text.replace("\n", "⏎").replace("\t", "⇥")


def render_sample(row: Dict[str, object], tokenizer: GLMTokenizer, painter: Painter,
                  width: int = 100, grid: bool = True, title: str = "") -> str:
    sep = row["sep"]
    ids = row["input_ids"]
    spans = spans_of_row(row)
    out = [f"{title}objective={row['objective']}  length={len(ids)}  sep={sep}  spans={len(spans)}"]
    sources = ", ".join(f"{k} (piece {p + 1}/{n}, {l} tokens)" for k, p, n, l in zip(
        row["source_ids"], row["source_piece"], row["source_num_pieces"], row["source_lengths"]))
    out.append(f"sources: {sources}")

    # Part A, masks numbered and coloured.
    part_a, start = [], 0
    for s in spans:  # in Part A order
        part_a.append(token_text(ids[start:s.mask_position], tokenizer))
        part_a.append(painter.span(s.number, _label(ids, s, tokenizer)))
        start = s.mask_position + 1
    part_a.append(token_text(ids[start:sep], tokenizer))
    out.append("── Part A " + "─" * 40)
    out.append("".join(part_a))
    out.append("── Part B (spans by mask; [b] = order in Part B) " + "─" * 10)
    for s in spans:
        text = _visible(token_text(s.text_ids, tokenizer))
        out.append(f"  {painter.span(s.number, _label(ids, s, tokenizer)):>10s} [b{s.block_order}] "
                   f"@{s.mask_position:<5d} {len(s.text_ids):>3d} tok  {painter.span(s.number, repr(text))}")
    if grid:
        out.append(f"── tokens and 2D positions ({CONTINUED} = bytes of the characters to the left, "
                   "‹..› = bytes of a cut character) " + "─" * 4)
        out.extend(_grid(row, tokenizer, painter, spans, width))
    return "\n".join(out)


def _label(ids, span: Span, tokenizer: GLMTokenizer) -> str:
    return mask_label(tokenizer.decode([ids[span.mask_position]]), span.number)


def _cell_text(cell: Union[str, bytes]) -> str:
    return _visible(plain_text(cell)) if isinstance(cell, bytes) else cell


def _grid(row, tokenizer, painter, spans, width) -> List[str]:
    """Columns of (token, position, block position, loss) wrapped to ``width``."""
    ids, sep = row["input_ids"], row["sep"]
    pieces = [_cell_text(c) for c in token_cells(ids, tokenizer)]
    span_of_b = np.zeros(len(ids), dtype=np.int64)
    starts = np.flatnonzero(row["block_position_ids"] == 1)
    number_at = {s.mask_position: s.number for s in spans}
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else len(ids)
        span_of_b[s:e] = number_at.get(int(row["position_ids"][s]), 0)
    columns = []
    for i, piece in enumerate(pieces):
        if i < sep and i in number_at:
            piece = mask_label(piece, number_at[i])
        cells = [_clip(piece) or "·", str(row["position_ids"][i]), str(row["block_position_ids"][i]),
                 str(row["loss_mask"][i])]
        w = max(display_width(c) for c in cells)
        number = number_at.get(i) if i < sep else int(span_of_b[i]) or None
        columns.append((cells, w, number, i == sep))
    lines: List[str] = []
    labels = ("token", "pos", "block", "loss")
    line_cells: List[List[str]] = [[] for _ in labels]
    used = 6
    for cells, w, number, at_sep in columns:
        if used + w + 1 > width and line_cells[0]:
            lines.extend(f"{labels[r]:>5s} " + " ".join(line_cells[r]) for r in range(4))
            lines.append("")
            line_cells = [[] for _ in labels]
            used = 6
        for r, c in enumerate(cells):
            text = pad(c, w)
            if at_sep:
                text = "|" + text
            line_cells[r].append(painter.span(number, text) if number else text)
        used += w + 1 + at_sep
    if line_cells[0]:
        lines.extend(f"{labels[r]:>5s} " + " ".join(line_cells[r]) for r in range(4))
    return lines


def _clip(text: str, width: int = 12) -> str:
    """At most ``width`` columns, a cut marked with …"""
    if display_width(text) <= width:
        return text
    out = ""
    for ch in text:
        if display_width(out + ch) > width - 1:
            break
        out += ch
    return out + "…"


def select_rows(reader: ShardReader, args) -> List[int]:
    rows = np.arange(reader.num_rows)
    if args.objective:
        rows = rows[np.asarray(reader.column("objective"), dtype=object)[rows] == args.objective]
    if args.source_id:
        ids = reader.table.column("source_ids").to_pylist()
        rows = np.array([r for r in rows if any(args.source_id in k for k in ids[r])], dtype=np.int64)
    if args.row is not None:
        if not 0 <= args.row < reader.num_rows:
            raise IndexError(f"row {args.row} is out of range: the shard has {reader.num_rows} rows")
        return [args.row]
    if args.sample:
        rng = np.random.default_rng(args.seed)
        return sorted(rng.choice(rows, size=min(args.sample, len(rows)), replace=False).tolist())
    return rows[:1].tolist()


def _run(args) -> int:
    try:
        reader = ShardReader(args.shard)
        tokenizer = tokenizer_for(reader, args.tokenizer)
        rows = select_rows(reader, args)
    except (ShardFormatError, TokenizerError, IndexError, OSError) as exc:
        print(f"glmprep inspect: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print("glmprep inspect: no sample matches the filters", file=sys.stderr)
        return 1
    if args.html:
        from glmprep.core.sample_html import write_samples_html
        write_samples_html(args.html, reader, rows, tokenizer)
        print(f"wrote {len(rows)} sample(s) to {args.html}")
        return 0
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR") and not args.no_colour
    width = shutil.get_terminal_size((120, 20)).columns
    painter = Painter(colour)
    for r in rows:
        print(render_sample(reader.row(r), tokenizer, painter, width=width, grid=not args.no_grid,
                            title=f"{os.path.basename(args.shard)} row {r}: "))
        print()
    return 0


def add_commands(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect", help="show samples of a shard: Part A with masks, Part B spans, 2D positions",
        description="Decode samples of a shard: Part A with each mask numbered, each Part B span next to "
                    "its mask, and the token / position_ids / block_position_ids / loss_mask grid.")
    p.add_argument("shard", metavar="SHARD", help="a part-*.arrow shard")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--row", type=int, default=None, help="show this row (0-based)")
    which.add_argument("--sample", type=int, default=None, metavar="K",
                       help="show K random rows (after the filters), chosen with --seed")
    p.add_argument("--seed", type=int, default=0, help="seed for --sample (default: 0)")
    p.add_argument("--objective", choices=OBJECTIVES, help="only samples of this objective")
    p.add_argument("--source-id", default=None, metavar="TEXT",
                   help="only samples with a source document id containing TEXT")
    p.add_argument("--html", default=None, metavar="FILE",
                   help="write the chosen samples as one HTML page instead of printing them")
    p.add_argument("--no-grid", action="store_true", help="leave out the token/position grid")
    p.add_argument("--no-colour", "--no-color", action="store_true", help="no ANSI colours")
    p.add_argument("--tokenizer", default=None, metavar="RANKS_FILE",
                   help="the ranks file the shard was made with (default: cl100k_base offline)")
    p.set_defaults(func=_run)
