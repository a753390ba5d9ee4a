"""``glmprep inspect`` renders Part A, the spans next to their masks, and the position grid."""
from __future__ import annotations


from glmprep.pipeline.cli import main
from glmprep.core.inspect import Painter, render_sample, spans_of_row
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
    assert "objective=blank" in text and "river-1 (piece 1/1" in text
    for s in spans:
        assert f"[MASK]{s.number}" in text
        assert repr(tokenizer.decode(s.text_ids)) in text
    # Filling the numbered masks with the listed spans gives the document back.
    part_a = text.split("── Part A")[1].split("\n", 1)[1].split("\n── Part B")[0]
    for s in spans:
        part_a = part_a.replace(f"[MASK]{s.number}", tokenizer.decode(s.text_ids), 1)
    assert part_a == "ENC" + TEXT + "eos"
    grid = text.split("── tokens and 2D positions")[1]
    assert "  pos 0" in grid and "block" in grid and " loss" in grid


def test_cli_row_filters_and_errors(tokenizer, tmp_path, capsys):
    make_shard(tokenizer, tmp_path / "s.arrow")
    assert main(["inspect", str(tmp_path / "s.arrow"), "--row", "0", "--no-grid"]) == 0
    assert "Part B" in capsys.readouterr().out
    assert main(["inspect", str(tmp_path / "s.arrow"), "--objective", "document"]) == 1
    assert main(["inspect", str(tmp_path / "s.arrow"), "--row", "99"]) == 2
    assert "out of range" in capsys.readouterr().err
