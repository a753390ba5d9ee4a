"""``glmprep inspect`` renders Part A, the spans next to their masks, and the position grid."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from glmprep.pipeline.cli import main
from glmprep.core.inspect import Painter, render_sample
from glmprep.core.view import CONTINUED, plain_text, spans_of_row, token_cells, token_text
from glmprep.core.samples import SampleBuilder, SampleOptions, sentence_table, split_document
from glmprep.schemas.shard import write_shard

from support import tokenizer_metadata

TEXT = "The river rose after rain. Did the bridge hold? It did! Engineers checked it twice. " * 3


def make_shard(tokenizer, path):
    options = SampleOptions(seq_len=128, objective_weights={"blank": 1.0}, seed=1)
    tokens = tokenizer.encode_array(TEXT)
    builder = SampleBuilder(options, tokenizer.specials)
    pieces = split_document("river-1", tokens, sentence_table(tokenizer).ends(tokens), builder.max_piece_len)
    samples = list(builder.pack_pieces(pieces))
    write_shard(str(path), samples, tokenizer_metadata(tokenizer, options))
    return samples


def test_render_shows_masks_spans_and_grid(tokenizer, tmp_path):
    sample = make_shard(tokenizer, tmp_path / "s.arrow")[0]
    spans = spans_of_row(sample)
    text = render_sample(sample, tokenizer, Painter(colour=False))
    assert "objective=blank" in text
    assert "river-1 (piece 1/1" in text
    for s in spans:
        assert f"[MASK#{s.number}]" in text
        assert repr(tokenizer.decode(s.text_ids)) in text
    # Filling the numbered masks with the listed spans gives the document back.
    part_a = text.split("── Part A")[1].split("\n", 1)[1].split("\n── Part B")[0]
    for s in spans:
        part_a = part_a.replace(f"[MASK#{s.number}]", tokenizer.decode(s.text_ids), 1)
    assert part_a == "ENC" + TEXT + "eos"
    grid = text.split("── tokens and 2D positions")[1]
    assert "  pos 0" in grid
    assert "block" in grid
    assert " loss" in grid


def test_cli_row_filters_and_errors(tokenizer, tmp_path, capsys):
    make_shard(tokenizer, tmp_path / "s.arrow")
    assert main(["inspect", str(tmp_path / "s.arrow"), "--row", "0", "--no-grid"]) == 0
    assert "Part B" in capsys.readouterr().out
    assert main(["inspect", str(tmp_path / "s.arrow"), "--objective", "document"]) == 1
    assert main(["inspect", str(tmp_path / "s.arrow"), "--row", "99"]) == 2
    assert "out of range" in capsys.readouterr().err


ZH_TEXT = "河水在雨后上涨了。桥梁经受住了考验吗？工程师们检查了两次，确认它安然无恙。" * 2


def zh_sample(tokenizer, objective="blank"):
    options = SampleOptions(seq_len=256, objective_weights={objective: 1.0}, seed=3)
    tokens = tokenizer.encode_array(ZH_TEXT)
    builder = SampleBuilder(options, tokenizer.specials)
    pieces = split_document("zh-1", tokens, sentence_table(tokenizer).ends(tokens), builder.max_piece_len)
    return next(iter(builder.pack_pieces(pieces))), options


def test_chinese_tokens_show_the_characters_they_form_never_u_fffd(tokenizer):
    sample, _ = zh_sample(tokenizer)
    ids = sample["input_ids"]
    assert any(len(tokenizer.token_bytes[i].decode("utf-8", "replace")) and
               "\ufffd" in tokenizer.token_bytes[i].decode("utf-8", "replace")
               for i in ids if not tokenizer.is_special(int(i)))  # the text has byte-fragment tokens
    text = render_sample(sample, tokenizer, Painter(colour=False), width=10_000)
    assert "\ufffd" not in text
    grid_tokens = text.split("── tokens and 2D positions")[1].splitlines()[1]
    cells = grid_tokens.split()[1:]
    # Every character of the text is shown whole in some cell; continuations are marked.
    shown = "".join(c for c in cells if c not in ("↤", "|↤"))
    for ch in "河水桥梁工程师检查确认安然无恙":
        assert ch in shown
    assert "↤" in grid_tokens


def test_cells_group_split_characters_and_hex_cut_bytes(tokenizer):
    river = "河".encode()
    first = tokenizer.token_bytes.index(river[:2]) if river[:2] in tokenizer.token_bytes else None
    if first is None:  # cl100k holds 河 whole: make the cut with single-byte tokens instead
        first = tokenizer.token_bytes.index(river[:1])
        rest = [tokenizer.token_bytes.index(river[1:2]), tokenizer.token_bytes.index(river[2:])]
    else:
        rest = [tokenizer.token_bytes.index(river[2:])]
    cells = token_cells([first] + rest, tokenizer)
    assert cells[0] == river
    assert set(cells[1:]) == {CONTINUED}
    cut = token_cells([first], tokenizer)                 # a character the row's end cuts
    assert plain_text(cut[0]).startswith("‹e6")
    assert token_text([first], tokenizer).startswith("‹e6")


def test_mask_numbers_are_delimited_from_the_text(tokenizer):
    sample, _ = zh_sample(tokenizer, "sentence")
    text = render_sample(sample, tokenizer, Painter(colour=False), grid=False)
    part_a = text.split("── Part A")[1].split("\n", 1)[1].split("\n── Part B")[0]
    numbers = re.findall(r"\[sMASK#(\d+)\]", part_a)
    assert numbers
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)]
    assert "[sMASK]" not in part_a


def test_html_page_has_the_position_grid(tokenizer, tmp_path):
    sample, options = zh_sample(tokenizer)
    path = tmp_path / "zh.arrow"
    write_shard(str(path), [sample], tokenizer_metadata(tokenizer, options))
    out = tmp_path / "zh.html"
    assert main(["inspect", str(path), "--html", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    parser = TableRows()
    parser.feed(page)
    grid = [r for r in parser.rows if r and r[0] in ("token", "pos", "block", "loss")]
    by_label = {}
    for r in grid:
        by_label.setdefault(r[0], []).extend(r[1:])
    length = len(sample["input_ids"])
    assert {k: len(v) for k, v in by_label.items()} == {k: length for k in ("token", "pos", "block", "loss")}
    assert by_label["pos"] == [str(int(v)) for v in sample["position_ids"]]
    assert by_label["block"] == [str(int(v)) for v in sample["block_position_ids"]]
    assert by_label["loss"] == [str(int(v)) for v in sample["loss_mask"]]
    assert "\ufffd" not in page
    assert "河" in "".join(by_label["token"])


class TableRows(HTMLParser):
    """The text of each table row's cells."""

    def __init__(self):
        super().__init__()
        self.rows, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
