"""Filling ``[MASK]`` blanks in text with a trained model, the way GLM decodes.

    "The [MASK] sat on the [MASK]."  ->  pieces split on the literal marker
    Part A = ENC, tokens("The"), [MASK], tokens(" sat on the"), [MASK], tokens("."), eos
    for each blank, left to right: append sop at the blank's position (block position 1),
    then generate, block position 2, 3, ..., until eop; the finished span stays in Part B
    so later blanks see it (GLM_SPEC §2 attention).

The tokenizer never makes special ids from raw text, so the markers are found here,
by splitting the string, and their ids inserted by hand.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

from glmprep.trainer import model as M
from glmprep.trainer.train import TrainState

MASK_MARKER = "[MASK]"


def part_a_from_text(tokenizer, text: str) -> Tuple[List[int], List[int], List[List[int]]]:
    """(Part A ids, the mask positions in it, the token ids of the text pieces between masks)."""
    sp = tokenizer.specials
    texts = text.split(MASK_MARKER)
    # BPE words carry their leading space (" grows"), so a masked word took its space into the
    # span during training; "garden [MASK]" leaves that space to the blank the same way.
    texts = [t[:-1] if i < len(texts) - 1 and t.endswith(" ") else t for i, t in enumerate(texts)]
    pieces = [tokenizer.encode(p) for p in texts]
    part_a, masks = [sp.enc], []
    for i, piece in enumerate(pieces):
        if i:
            masks.append(len(part_a))
            part_a.append(sp.mask)
        part_a.extend(piece)
    part_a.append(sp.eos)
    return part_a, masks, pieces


def next_token(logits: np.ndarray, banned: np.ndarray, temperature: float, top_k: int,
               rng: np.random.Generator) -> int:
    """Greedy (temperature 0) or sampled from the top_k logits scaled by 1/temperature; [V] -> id."""
    logits = logits.astype(np.float64)
    logits[banned] = -np.inf
    if temperature <= 0:
        return int(np.argmax(logits))
    if 0 < top_k < len(logits):
        cutoff = np.partition(logits, -top_k)[-top_k]
        logits[logits < cutoff] = -np.inf
    p = np.exp((logits - logits.max()) / temperature)
    return int(rng.choice(len(p), p=p / p.sum()))


def fill_blanks(state: TrainState, tokenizer, text: str, max_span: int = 64, temperature: float = 0.0,
                top_k: int = 0, seed: int = 0) -> Tuple[str, List[str]]:
    """(text with every ``[MASK]`` replaced by generated tokens, the generated spans)."""
    sp, vocab, cfg = tokenizer.specials, state.vocab, state.model_cfg
    part_a, masks, pieces = part_a_from_text(tokenizer, text)
    if len(part_a) > cfg.n_positions:
        raise ValueError(f"the text is {len(part_a)} tokens; this model reads at most {cfg.n_positions}")
    # Nothing but text and eop may be generated: no masks, sop, ENC/eos/PAD, nor the unknown slot.
    banned = vocab.encode(np.array([sp.mask, sp.smask, sp.gmask, sp.sop, sp.enc, sp.eos, sp.pad]))
    banned = np.union1d(banned, [0] if vocab.compact else [])
    eop = int(vocab.encode(np.array([sp.eop]))[0])
    rng = np.random.default_rng(seed)
    ids = list(vocab.encode(np.array(part_a)))
    pos, bpos = list(range(len(part_a))), [0] * len(part_a)
    sep = len(part_a)
    spans: List[List[int]] = []
    limit = min(max_span, cfg.n_block_positions - 2)
    for mask_pos in masks:
        ids.append(int(vocab.encode(np.array([sp.sop]))[0]))
        pos.append(mask_pos)
        bpos.append(1)
        span: List[int] = []
        while len(span) < limit:
            logits = M.next_token_logits(state.params, cfg, np.array(ids), np.array(pos), np.array(bpos), sep)
            tok = next_token(logits, banned, temperature, top_k, rng)
            if tok == eop:
                break
            span.append(tok)
            ids.append(tok)
            pos.append(mask_pos)
            bpos.append(len(span) + 1)
        spans.append([int(t) for t in vocab.decode(np.array(span, dtype=np.int64))])
    out = [tokenizer.decode(pieces[0])]
    for span, piece in zip(spans, pieces[1:]):
        out.append(tokenizer.decode(span))
        out.append(tokenizer.decode(piece))
    return "".join(out), [tokenizer.decode(s) for s in spans]
