"""TokenizeDocuments: token ids per document, and a counted rejection for a text without
tokens or one tiktoken fails on."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from glmprep.transforms.tokenize import TokenizeDocuments

DOCS = [(f"d{i:03d}", f"Document {i} talks about rivers. It has {i % 7} sentences! 中文句子{i}。")
        for i in range(60)] + [("empty-ish", "")]


def test_tokenize_rejects_texts_without_tokens():
    with TestPipeline() as p:
        tokens, rejects = p | beam.Create(DOCS) | TokenizeDocuments()
        assert_that(tokens | beam.Map(lambda kv: kv[0]), equal_to([k for k, t in DOCS if t]), label="kept")
        assert_that(rejects | beam.Map(lambda r: (r["key"], r["stage"], r["reason"])),
                    equal_to([("empty-ish", "tokenize", "no_tokens")]), label="rejected")


# tiktoken's regex overflows its stack on a million spaces between two words (issue 14).
HOSTILE_DOC = ("spaces", "a" + " " * 1_000_000 + "a")


@pytest.mark.parametrize("num_threads", [1, 2])  # 2: the threaded batch encoder fails as a whole
def test_tokenize_rejects_only_the_text_tiktoken_fails_on(num_threads):
    docs = DOCS[:20] + [HOSTILE_DOC] + DOCS[20:]
    with TestPipeline() as p:
        tokens, rejects = p | beam.Create(docs) | TokenizeDocuments(num_threads=num_threads)
        assert_that(tokens | beam.Map(lambda kv: kv[0]), equal_to([k for k, t in DOCS if t]), label="kept")
        assert_that(rejects | beam.Map(lambda r: (r["key"], r["stage"], r["reason"], "panicked" in r["detail"])),
                    equal_to([("empty-ish", "tokenize", "no_tokens", False),
                              ("spaces", "tokenize", "tokenizer_error", True)]), label="rejected")


def test_a_long_text_encoded_alone_gives_the_same_ids(monkeypatch):
    from glmprep.transforms import tokenize

    def packed(long_text_chars):
        monkeypatch.setattr(tokenize, "LONG_TEXT_CHARS", long_text_chars)
        fn = tokenize.TokenizeBatchDoFn(None)
        fn.setup()
        return list(fn.process(DOCS[:20] + [HOSTILE_DOC] + DOCS[20:]))

    batched, alone = packed(1 << 40), packed(50)  # 50: every document but the shortest alone
    assert [type(out) for out in batched] == [type(out) for out in alone]
    assert [out for out in batched if isinstance(out, tuple)] == [out for out in alone if isinstance(out, tuple)]
    assert [out.value["reason"] for out in alone if not isinstance(out, tuple)] == ["tokenizer_error", "no_tokens"]
