"""Samples as HTML, for ``glmprep inspect --html`` and the report's example samples.

Each sample: its sources, Part A with every mask a numbered badge, each Part B span beside
its mask in the same colour, and the grid of tokens with position_ids, block_position_ids
and loss_mask (GLM_SPEC §2). Every value from a shard is escaped; bytes of a character cut
by a span boundary show as hex chips. ``page`` wraps a body in one self-contained page.
"""
from __future__ import annotations

import html
import os
from typing import Dict, List, Sequence, Union

from glmprep.core.tokenizer import GLMTokenizer
from glmprep.core.view import CONTINUED, mask_label, spans_of_row, token_cells, utf8_pieces
from glmprep.schemas.reader import ShardReader

# Tokens per row of the position grid: wide enough to read a sentence, narrow enough for a page.
GRID_COLUMNS = 24

SAMPLE_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,"Noto Sans CJK SC",sans-serif;margin:24px auto;
max-width:1080px;color:#222;padding:0 16px;line-height:1.45}
h1{font-size:24px;margin-bottom:4px} h2{font-size:18px;margin-top:30px;border-bottom:1px solid #ddd}
.sub{color:#666;font-size:13px} .basis{color:#555;font-size:13px;margin:4px 0 8px}
.sample{border:1px solid #ddd;border-radius:6px;padding:10px 14px;margin:12px 0}
.sample h3{font-size:14px;margin:0 0 4px} .src{color:#666;font-size:12px;word-break:break-all}
.text{white-space:pre-wrap;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;
background:#fafafa;padding:8px;border-radius:4px;margin:4px 0}
.m{border-radius:3px;padding:0 3px;font-weight:bold;outline:1px solid rgba(0,0,0,.25)}
.sp{border-radius:3px;padding:0 1px} .hl{outline:2px solid #000}
.spans td{text-align:left;vertical-align:top} .spans td.n{text-align:right;white-space:nowrap}
.special{color:#777;font-size:10px;border:1px solid #bbb;border-radius:3px;padding:0 2px;margin:0 1px}
.bytes{color:#a33;font-size:10px;border:1px dashed #c88;border-radius:3px;padding:0 2px}
table.pos{border-collapse:collapse;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px;margin:2px 0 6px}
table.pos td,table.pos th{border:1px solid #e4e4e4;padding:1px 3px;text-align:center;white-space:pre}
table.pos th{color:#666;font-weight:normal;text-align:right} table.pos td.sep{border-left:2px solid #c22}
"""

# Hovering a mask or a span outlines the other one of the pair.
_JS = """
document.querySelectorAll('[data-s]').forEach(function(e){
  function mark(on){e.closest('.sample').querySelectorAll('[data-s="'+e.dataset.s+'"]')
    .forEach(function(o){o.classList.toggle('hl',on)})}
  e.addEventListener('mouseenter',function(){mark(true)});e.addEventListener('mouseleave',function(){mark(false)})});
"""


def span_colour(number: int) -> str:
    """A light colour per span number; the golden angle keeps neighbours apart."""
    return f"hsl({(number * 137.508) % 360:.0f},75%,80%)"


def utf8_html(data: bytes) -> str:
    """Escaped UTF-8 text; bytes that are not a whole character show as hex.

    >>> utf8_html("河".encode()[:2] + b" <ok>")
    '<span class="bytes" title="part of a UTF-8 character">e6 b2</span> &lt;ok&gt;'
    """
    return "".join(html.escape(v) if is_text else
                   f'<span class="bytes" title="part of a UTF-8 character">{v.hex(" ")}</span>'
                   for is_text, v in utf8_pieces(data))


def special_html(name: str) -> str:
    return f'<span class="special">{html.escape(name)}</span>'


def tokens_html(ids: Sequence[int], tokenizer: GLMTokenizer) -> str:
    """Escaped text of ``ids``: special tokens as grey badges, and the bytes of a character
    that a span boundary cuts in two (byte-level BPE) as hex, never as U+FFFD."""
    out, run = [], bytearray()
    for i in (int(t) for t in ids):
        if tokenizer.is_special(i):
            out.append(utf8_html(bytes(run)))
            run.clear()
            out.append(special_html(tokenizer.decode([i])))
        else:
            run += tokenizer.token_bytes[i]
    out.append(utf8_html(bytes(run)))
    return "".join(out)


def mask_badge(row: Dict[str, object], span, tokenizer: GLMTokenizer) -> str:
    name = html.escape(mask_label(tokenizer.decode([row["input_ids"][span.mask_position]]), span.number))
    return (f'<span class="m" data-s="{span.number}" style="background:{span_colour(span.number)}">'
            f'{name}</span>')


def _cell_html(cell: Union[str, bytes]) -> str:
    if isinstance(cell, bytes):
        return utf8_html(cell).replace("\n", "⏎").replace("\t", "⇥") or "·"
    return html.escape(cell) if cell == CONTINUED else special_html(cell)


def grid_html(row: Dict[str, object], tokenizer: GLMTokenizer) -> str:
    """The token / position_ids / block_position_ids / loss_mask grid, ``GRID_COLUMNS`` tokens
    per table; a token of a span or its mask takes the span's colour, a red line marks sep."""
    ids, sep = row["input_ids"], int(row["sep"])
    spans = spans_of_row(row)
    number_at: Dict[int, int] = {s.mask_position: s.number for s in spans}
    block_number = [0] * len(ids)
    current = 0
    for i in range(sep, len(ids)):                      # Part B: the span of each block
        if int(row["block_position_ids"][i]) == 1:
            current = number_at.get(int(row["position_ids"][i]), 0)
        block_number[i] = current
    cells = token_cells(ids, tokenizer)
    labels = (("token", None), ("pos", "position_ids"), ("block", "block_position_ids"), ("loss", "loss_mask"))
    tables: List[str] = []
    for start in range(0, len(ids), GRID_COLUMNS):
        lines = []
        for label, column in labels:
            tds = []
            for i in range(start, min(start + GRID_COLUMNS, len(ids))):
                number = number_at.get(i) if i < sep else block_number[i]
                style = f' style="background:{span_colour(number)}" data-s="{number}"' if number else ""
                cls = ' class="sep"' if i == sep else ""
                value = _cell_html(cells[i]) if column is None else str(int(row[column][i]))
                tds.append(f"<td{cls}{style}>{value}</td>")
            lines.append(f"<tr><th>{label}</th>{''.join(tds)}</tr>")
        tables.append(f'<table class="pos">{"".join(lines)}</table>')
    return "".join(tables)


def render_sample_html(row: Dict[str, object], tokenizer: GLMTokenizer, title: str) -> str:
    """One sample: Part A with numbered masks, each span beside its mask (same colours), the grid."""
    ids, sep = row["input_ids"], row["sep"]
    spans = spans_of_row(row)
    part_a, start = [], 0
    for s in spans:  # in Part A order
        part_a += [tokens_html(ids[start:s.mask_position], tokenizer), mask_badge(row, s, tokenizer)]
        start = s.mask_position + 1
    part_a.append(tokens_html(ids[start:sep], tokenizer))
    rows = [f'<tr><td class="n">{mask_badge(row, s, tokenizer)}</td>'
            f'<td class="n">b{s.block_order} · @{s.mask_position} · {len(s.text_ids)} tok</td>'
            f'<td><span class="sp" data-s="{s.number}" style="background:{span_colour(s.number)}">'
            f'{tokens_html(s.text_ids, tokenizer)}</span></td></tr>' for s in spans]
    esc = html.escape
    sources = ", ".join(f"{esc(k)} (piece {p + 1}/{n}, {l} tokens)" for k, p, n, l in zip(
        row["source_ids"], row["source_piece"].tolist(), row["source_num_pieces"].tolist(),
        row["source_lengths"].tolist()))
    return (f'<div class="sample"><h3>{esc(title)}objective={esc(row["objective"])} · length={len(ids)} · '
            f'sep={sep} · spans={len(spans)}</h3><div class="src">sources: {sources}</div>'
            f'<div class="basis">Part A (masks numbered in Part A order)</div>'
            f'<div class="text">{"".join(part_a)}</div>'
            f'<div class="basis">Part B spans, beside their masks (b = order in Part B, @ = mask position '
            f'in Part A)</div><table class="spans">{"".join(rows)}</table>'
            f'<div class="basis">Tokens and 2D positions (red line: sep, where Part B starts; '
            f'{CONTINUED} = bytes of the characters to the left)</div>{grid_html(row, tokenizer)}</div>')


def page(title: str, body: str, css: str = "") -> str:
    """One self-contained page: styles and script inline, nothing fetched."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<style>{SAMPLE_CSS}{css}</style></head><body>{body}<script>{_JS}</script></body></html>\n')


def write_samples_html(path: str, reader: ShardReader, rows: Sequence[int], tokenizer: GLMTokenizer) -> str:
    """Write ``rows`` of ``reader`` as one self-contained HTML page at ``path``."""
    name = os.path.basename(reader.path)
    body = [f"<h1>{html.escape(name)}: {len(rows)} sample(s)</h1>",
            '<p class="sub">Hover a mask or a span to see its pair. Special tokens show by name '
            '(ENC opens a document, eos closes it).</p>']
    body.extend(render_sample_html(reader.row(r), tokenizer, f"row {r}: ") for r in rows)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(page(f"glmprep samples: {name}", "\n".join(body)))
    return path
