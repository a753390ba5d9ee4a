"""Sentence ends in token arrays, from per-vocabulary lookup tables (GLM_SPEC §3 sentence)."""
from __future__ import annotations

from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from typing import Optional

import numpy as np

from glmprep.core.samples.boundaries import char_starts
from glmprep.core.tokenizer import GLMTokenizer

_ASCII_ENDS = b".?!;:"
_CJK_ENDS = tuple(c.encode() for c in "。？！；…")
_CLOSERS = b"\"')]" + "”’」』）》".encode()


class SentenceTable:
    """Per-vocabulary lookup tables that find sentence ends in token arrays.

    A token ends a sentence when it holds a newline, ends with a CJK terminator
    (``。？！；…``), or ends with an ASCII terminator (``. ? ! ; :``) and the next
    token starts with white space (so ``3.14`` and ``e.g`` inside words are not
    ends). Closing quotes and brackets after a terminator are allowed. A run of
    white-space-only tokens after an end joins the sentence it follows.
    """

    def __init__(self, tokenizer: GLMTokenizer):
        raws = tokenizer.token_bytes
        cores = [raw.rstrip(b" \t\r\n").rstrip(_CLOSERS) for raw in raws]
        ascii_ends = tuple(bytes([c]) for c in _ASCII_ENDS)

        def table(values) -> np.ndarray:  # bool [vocab_size]; the specials are False
            column = np.zeros(tokenizer.vocab_size, dtype=bool)
            column[:len(raws)] = np.fromiter(values, dtype=bool, count=len(raws))
            return column

        # (bytes methods mapped over the tokens: no Python frame per token)
        newline = table(map(bytes.__contains__, raws, repeat(b"\n")))
        self.strong = newline | table(map(bytes.endswith, cores, repeat(_CJK_ENDS)))  # or a CJK terminator
        self.ascii_end = table(map(bytes.endswith, cores, repeat(ascii_ends)))  # needs white space next
        self.starts_space = table(map(bytes.isspace, map(itemgetter(slice(0, 1)), raws)))
        self.blank = table(map(bytes.isspace, raws))  # white space only
        # (not a sentence rule: where characters start, for --span-boundaries character)
        self.char_start = char_starts(raws, tokenizer.vocab_size)

    def ends(self, tokens: np.ndarray, doc_lengths: Optional[np.ndarray] = None) -> np.ndarray:
        """bool [n]: True on the last token of each sentence.

        ``tokens`` may hold several documents back to back (``doc_lengths``); a
        document's last token always ends a sentence and nothing looks across.
        """
        n = len(tokens)
        if n == 0:
            return np.zeros(0, dtype=bool)
        last = np.cumsum(doc_lengths) - 1 if doc_lengths is not None else np.array([n - 1])
        next_space = np.ones(n, dtype=bool)
        next_space[:-1] = self.starts_space[tokens[1:]]
        next_space[last] = True
        ends = self.strong[tokens] | (self.ascii_end[tokens] & next_space)
        # Trailing white space belongs to the sentence before it (within a document).
        joins = np.zeros(n, dtype=bool)
        joins[:-1] = self.blank[tokens[1:]] & ends[1:]
        joins[last] = False
        ends &= ~joins
        ends[last] = True
        return ends


@lru_cache(maxsize=4)
def sentence_table(tokenizer: GLMTokenizer) -> SentenceTable:
    return SentenceTable(tokenizer)

