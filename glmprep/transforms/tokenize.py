"""Tokenize documents: (key, text) -> (key, packed uint32 token ids), rejecting a text
with no tokens or one tiktoken fails on.

The ids travel packed (``records.pack``, a third of their size) from here to the shard
writers; ``unpack_tokens`` turns one value back into an array.
"""
from __future__ import annotations

import time
from typing import Optional

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from glmprep.core.records import pack, packed_size, unpack
from glmprep.core.tokenizer import EncodeError, cached_tokenizer
from glmprep.schemas.rejects import make_reject

TOKEN_DTYPE = np.uint32
TOKEN_BYTES = np.dtype(TOKEN_DTYPE).itemsize
# A text this long is encoded alone, straight into a uint32 array: tiktoken's batch encoder
# returns Python lists, about 36 bytes a token (a 48 MB text: ~14x its size in lists).
LONG_TEXT_CHARS = 1 << 20


def unpack_tokens(packed: bytes) -> np.ndarray:
    """uint32 [n_tokens] from one ``TokenizeDocuments`` output value."""
    return np.frombuffer(unpack(packed), dtype=TOKEN_DTYPE)


def packed_token_count(packed: bytes) -> int:
    """Number of token ids in one ``TokenizeDocuments`` output value (none decompressed)."""
    return packed_size(packed) // TOKEN_BYTES


class TokenizeBatchDoFn(beam.DoFn):
    """[(key, text), ...] -> (key, packed uint32 token ids); a text with no tokens, or one
    tiktoken fails on, is rejected.

    The tokenizer is loaded once per worker; a batch goes through tiktoken's batch
    encoder with ``num_threads`` threads. If that fails, the batch's texts are encoded one
    by one, so that only the failing one is rejected. A text of ``LONG_TEXT_CHARS`` or more
    is encoded by itself into an array (the same ids).
    """

    def __init__(self, ranks_path: Optional[str], num_threads: int = 1):
        self.ranks_path = ranks_path
        self.num_threads = num_threads
        self.tokens = Metrics.counter("tokenize", "tokens")
        self.msecs = Metrics.counter("tokenize", "msecs")
        self.failed_batches = Metrics.counter("tokenize", "failed_batches")

    def setup(self):
        self.tokenizer = cached_tokenizer(self.ranks_path)

    def process(self, batch):
        start = time.perf_counter()
        short = [text for _, text in batch if len(text) < LONG_TEXT_CHARS]
        try:
            encoded_short = iter(self.tokenizer.encode_batch(short, num_threads=self.num_threads))
        except EncodeError:
            self.failed_batches.inc()
            encoded_short = iter([self._encode_one(text) for text in short])
        encoded = [next(encoded_short) if len(text) < LONG_TEXT_CHARS else self._encode_one(text, as_array=True)
                   for _, text in batch]
        self.msecs.inc(int((time.perf_counter() - start) * 1000))
        for (key, text), ids in zip(batch, encoded):
            if isinstance(ids, EncodeError):
                yield beam.pvalue.TaggedOutput(
                    "rejects", make_reject(key, "tokenize", "tokenizer_error", str(ids)[:200], text))
                continue
            if len(ids) == 0:
                yield beam.pvalue.TaggedOutput(
                    "rejects", make_reject(key, "tokenize", "no_tokens", "the text encodes to 0 tokens", text))
                continue
            self.tokens.inc(len(ids))
            # packed from the array's own buffer: no bytes copy of the ids (40 MB for a 48 MB text)
            ids = np.ascontiguousarray(ids, dtype=TOKEN_DTYPE)
            yield key, pack(memoryview(ids).cast("B"))

    def _encode_one(self, text: str, as_array: bool = False):
        """The ids of ``text`` (a list, or a uint32 array), or the EncodeError tiktoken raised on it."""
        try:
            return self.tokenizer.encode_array(text) if as_array else self.tokenizer.encode(text)
        except EncodeError as exc:
            return exc


class TokenizeDocuments(beam.PTransform):
    """PCollection[(key, text)] -> (PCollection[(key, packed token ids)], rejects).

    The ids are uint32 bytes packed with ``records.pack`` (a third of the size on the way
    to the shard writers); ``unpack_tokens`` turns one back into an array.

    ``num_threads``: tiktoken threads per batch. More than one only pays where nothing
    else runs in parallel: two workers with two threads each tokenized 20 MB no faster
    than with one (tiktoken's threads scale poorly on shared cores)."""

    def __init__(self, ranks_path: Optional[str] = None, num_threads: int = 1):
        super().__init__()
        self.ranks_path = ranks_path
        self.num_threads = num_threads

    def expand(self, docs):
        result = (
            docs
            | "Batch" >> beam.BatchElements(min_batch_size=16, max_batch_size=256)
            | "Encode" >> beam.ParDo(TokenizeBatchDoFn(self.ranks_path, self.num_threads)).with_outputs("rejects", main="tokens")
        )
        return result.tokens, result.rejects
