"""How a sample reads to a person, for ``inspect`` (terminal and HTML) and ``report``.

- ``spans_of_row``: the spans of a sample numbered in Part A order, with their mask;
- ``uncorrupted_tokens``: x, Part A with every mask filled by its span;
- ``mask_label``: a mask's name with its number, delimited from the text around it;
- ``utf8_pieces`` / ``token_cells``: byte-level BPE tokens shown as the characters they
  form together; bytes that form no whole character show as hex, never as U+FFFD;
- ``tokenizer_for``: the tokenizer a shard was made with.
"""
from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from glmprep.core.tokenizer import GLMTokenizer, TokenizerError, cached_tokenizer
from glmprep.schemas.reader import ShardReader

# A cell of the grid that continues the characters its left neighbour shows: the bytes of
# a character split between byte-level BPE tokens.
CONTINUED = "↤"


@dataclass
class Span:
    number: int          # 1-based, in Part A order
    mask_position: int   # index of its mask in Part A
    text_ids: np.ndarray
    block_order: int     # where its block sits in Part B (0 = first)


def spans_of_row(row: Dict[str, object]) -> List[Span]:
    """The spans of a sample, numbered in Part A order."""
    ids, sep = row["input_ids"], row["sep"]
    pos, block = row["position_ids"], row["block_position_ids"]
    starts = np.flatnonzero(block[sep:] == 1) + sep
    ends = np.append(starts[1:], len(ids))
    found = sorted((int(pos[s]), k, ids[s + 1:e]) for k, (s, e) in enumerate(zip(starts, ends)))
    return [Span(i + 1, p, t, k) for i, (p, k, t) in enumerate(found)]


def uncorrupted_tokens(row: Dict[str, object]) -> np.ndarray:
    """x of a sample: Part A with every mask replaced by its span's tokens."""
    ids, sep = row["input_ids"], row["sep"]
    pieces, start = [], 0
    for span in spans_of_row(row):  # in Part A order
        pieces.extend([ids[start:span.mask_position], span.text_ids])
        start = span.mask_position + 1
    pieces.append(ids[start:sep])
    return np.concatenate(pieces) if pieces else ids[:0]


def mask_label(name: str, number: int) -> str:
    """A mask and its number, closed so that text after it cannot run into the number.

    >>> mask_label("[sMASK]", 44) + "44."
    '[sMASK#44]44.'
    """
    return f"{name[:-1]}#{number}]" if name.endswith("]") else f"{name}#{number}"


def utf8_pieces(data: bytes) -> List[Tuple[bool, Union[str, bytes]]]:
    """``data`` as (True, text) for whole UTF-8 characters and (False, bytes) for runs of
    bytes that form none (a character cut by a span boundary).

    >>> utf8_pieces("河".encode()[:2] + b" ok")
    [(False, b'\\xe6\\xb2'), (True, ' ok')]
    """
    pieces: List[Tuple[bool, Union[str, bytes]]] = []
    while data:
        try:
            pieces.append((True, data.decode("utf-8")))
            break
        except UnicodeDecodeError as exc:
            if exc.start:
                pieces.append((True, data[:exc.start].decode("utf-8")))
            if pieces and not pieces[-1][0]:  # one piece for a run of stray bytes
                pieces[-1] = (False, pieces[-1][1] + data[exc.start:exc.end])
            else:
                pieces.append((False, data[exc.start:exc.end]))
            data = data[exc.end:]
    return pieces


def hex_chip(data: bytes) -> str:
    """Stray bytes for a terminal: ``‹e6 b2›``."""
    return "‹" + data.hex(" ") + "›"


def plain_text(data: bytes) -> str:
    """UTF-8 ``data`` with stray bytes as hex chips instead of U+FFFD."""
    return "".join(v if is_text else hex_chip(v) for is_text, v in utf8_pieces(data))


def token_text(ids: Sequence[int], tokenizer: GLMTokenizer) -> str:
    """Decoded ``ids``: special tokens by name, a character cut at either end as hex chips."""
    out, run = [], bytearray()
    for i in (int(t) for t in ids):
        if tokenizer.is_special(i):
            out.append(plain_text(bytes(run)))
            run.clear()
            out.append(tokenizer.decode([i]))
        else:
            run += tokenizer.token_bytes[i]
    out.append(plain_text(bytes(run)))
    return "".join(out)


def token_cells(ids: Sequence[int], tokenizer: GLMTokenizer) -> List[Union[str, bytes]]:
    """One grid cell per token: ``bytes`` to show as UTF-8 text (stray bytes as hex), or a
    ``str`` shown as it is (a special token's name, or ``CONTINUED``).

    A token whose bytes end inside a character waits for the tokens that complete it: the
    first token of such a run shows all the characters the run forms together, the others
    ``CONTINUED``. A run that never completes (cut by a special token or the row's end, or
    not UTF-8) shows each token's own bytes.
    """
    table = tokenizer.token_bytes
    cells: List[Union[str, bytes]] = []
    group: List[int] = []             # cells of tokens whose bytes wait for a character's end
    pending = bytearray()

    def close(complete: bool) -> None:
        if complete and len(group) > 1:
            cells[group[0]] = bytes(pending)
            for g in group[1:]:
                cells[g] = CONTINUED
        group.clear()
        pending.clear()

    for i in (int(t) for t in ids):
        if tokenizer.is_special(i):
            close(complete=False)
            cells.append(tokenizer.decode([i]))
            continue
        cells.append(table[i])
        group.append(len(cells) - 1)
        pending.extend(table[i])
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        try:
            decoder.decode(bytes(pending))
        except UnicodeDecodeError:    # not UTF-8: these bytes form no character
            close(complete=False)
            continue
        if decoder.getstate()[0] == b"":  # every character of the run is whole
            close(complete=True)
    close(complete=False)
    return cells


def tokenizer_for(reader: ShardReader, ranks_path: Optional[str]) -> GLMTokenizer:
    # the shard's special-token map is the truth (a checkpoint's own ids, --special-tokens)
    tok = cached_tokenizer(ranks_path, tuple(sorted(reader.metadata.special_tokens.items())))
    if tok.ranks_sha256 != reader.metadata.tokenizer_sha256:
        raise TokenizerError(
            f"{reader.path} was made with tokenizer {reader.metadata.tokenizer_name} "
            f"(sha256 {reader.metadata.tokenizer_sha256[:12]}…); pass its ranks file with --tokenizer")
    return tok
