"""Helpers shared by the tests. Tests use only the repository's own data (data/sample), never ../shared."""
from __future__ import annotations

import os

import numpy as np

from glmprep.core.samples import SampleBuilder, SampleOptions, split_document
from glmprep.schemas.shard import ShardMetadata
from glmprep.core.tokenizer import GLMTokenizer, SpecialIds

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_DIR = os.path.join(REPO, "data", "sample")

# A small made-up vocabulary for builder tests: ordinary ids 0..999, specials after.
TOY_BASE_VOCAB = 1000
TOY_SPECIALS = SpecialIds.after(TOY_BASE_VOCAB)

# Characters for hypothesis texts that exercise words and shingles: Latin, CJK, kana, odd
# white space (NBSP, ideographic space, U+001C), case folding that changes length, an astral ideograph.
MIXED_TEXT_CHARACTERS = list("aAbZ .,\n\t\u00a0\u3000中文字。，İßカ") + ["\U00020000", "\x1c"]


def toy_metadata(options: SampleOptions, base_vocab: int = TOY_BASE_VOCAB) -> ShardMetadata:
    specials = SpecialIds.after(base_vocab)
    return ShardMetadata(
        tokenizer_name="toy", tokenizer_sha256="0" * 64, base_vocab_size=base_vocab,
        vocab_size=base_vocab + 8, special_tokens=specials.as_map(), seq_len=options.seq_len,
        objective_weights=dict(options.objective_weights), sample_options=options.to_metadata(),
        seed=options.seed)


def tokenizer_metadata(tok: GLMTokenizer, options: SampleOptions) -> ShardMetadata:
    return ShardMetadata(**tok.metadata(), seq_len=options.seq_len,
                         objective_weights=dict(options.objective_weights),
                         sample_options=options.to_metadata(), seed=options.seed)


def toy_samples(options: SampleOptions, documents: int, longest: int, seed: int = 0):
    """Samples built from ``documents`` random toy documents of 5..``longest`` tokens, a
    sentence end at about every tenth token."""
    rng = np.random.default_rng(seed)
    builder = SampleBuilder(options, TOY_SPECIALS)
    pieces = []
    for i in range(documents):
        tokens = rng.integers(0, TOY_BASE_VOCAB, int(rng.integers(5, longest))).astype(np.uint32)
        pieces += split_document(f"doc{i:03d}", tokens, rng.random(len(tokens)) < 0.1, builder.max_piece_len)
    return list(builder.pack_pieces(pieces))
