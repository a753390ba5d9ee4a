"""Sample options (GLM_SPEC §3 defaults) and the worst-case room a piece takes in a sample."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from glmprep.core.options import number_pair, option, weights_of
from glmprep.core.recipes import RECIPES
from glmprep.core.samples.boundaries import SPAN_BOUNDARIES
from glmprep.core.tokenizer import parse_special_tokens
from glmprep.schemas.shard import OBJECTIVES

# GLM_SPEC §3 defaults.
DEFAULT_SEQ_LEN = 512
DEFAULT_POISSON_LAMBDA = 3.0
DEFAULT_MASK_RATIO = 0.15
DEFAULT_MAX_SPAN = 40
DEFAULT_DOCUMENT_RATIO = (0.5, 1.0)
# Where ENC goes: "document" opens a document's first piece only; "row" opens every piece,
# so every row starts with ENC as in GLM's reference (README: the choice of default).
ENC_PLACES = ("document", "row")
DEFAULT_ENC = "row"
# GLM's multi-task mix is a choice: half the samples teach short blanks (NLU-like
# infilling), the rest split between sentence infilling and long generation.
# README: why character is the default (Chinese spans that decode on their own).
DEFAULT_SPAN_BOUNDARIES = "character"
DEFAULT_OBJECTIVE_WEIGHTS = {"blank": 0.5, "sentence": 0.25, "document": 0.25}
# --epochs: each epoch is one more shard set written (and a pass over each shard's documents).
MAX_EPOCHS = 1000


@dataclass(frozen=True)
class SampleOptions:
    """How samples are built; recorded in every shard's metadata."""

    seq_len: int = option(DEFAULT_SEQ_LEN, "maximum sample length after Part B is added")  # n + 2m
    objective_weights: Dict[str, float] = option(
        help="mix of objectives per sample", parse=weights_of(OBJECTIVES), metavar="OBJ=W,...",
        default_factory=lambda: dict(DEFAULT_OBJECTIVE_WEIGHTS))
    poisson_lambda: float = option(  # blank span length ~ Poisson(λ) on 1..max_span
        DEFAULT_POISSON_LAMBDA, "mean blank span length λ")
    mask_ratio: float = option(      # blank/sentence: mask ≥ ceil(ratio · piece length)
        DEFAULT_MASK_RATIO, "share of tokens masked by blank and sentence spans")
    max_span: int = option(DEFAULT_MAX_SPAN, "longest blank span")  # inclusive
    document_ratio: Tuple[float, float] = option(
        DEFAULT_DOCUMENT_RATIO, "share of a document the gMASK suffix covers, uniform in this range",
        parse=number_pair, metavar="LOW,HIGH")
    seed: int = option(0, "seed of the GLM samples' random choices (objective, span lengths and "
                          "places, Part B order); not of a document's shard nor of near-dedup's "
                          "MinHash permutations (a fixed seed): --seed never changes which "
                          "documents are kept")
    enc: str = option(DEFAULT_ENC, "row: ENC opens every piece, so every row starts with ENC as in "
                                   "GLM's reference; document: only a document's first piece",
                      choices=ENC_PLACES)
    span_boundaries: str = option(
        DEFAULT_SPAN_BOUNDARIES, "character: span ends (and piece cuts) only where a token boundary is "
        "also a UTF-8 character boundary, so every span decodes on its own; token: any token boundary",
        choices=SPAN_BOUNDARIES)
    special_tokens: Optional[Dict[str, int]] = option(
        None, "a checkpoint's own special-token ids: a JSON map of glmprep's names ([MASK] [sMASK] "
              "[gMASK] sop eop ENC eos PAD) to ids, or a Hugging Face tokenizer_config.json "
              "(added_tokens_decoder, eos_token, pad_token); names it leaves out get ids after the "
              "highest (default: after the base vocabulary, in that order)", parse=parse_special_tokens,
        metavar="FILE", show_default=False)
    epochs: int = option(
        1, "write this many independently masked versions of the corpus, one shard set per epoch "
           "(objectives, cuts, spans and Part B order drawn afresh; tokens the same); 1 writes one "
           "set, named as always")
    recipe: Optional[str] = option(
        None, "one of GLM's published pre-training setups (README: recipes): sets the objective "
              "weights, λ, mask ratio, max span, document ratio and seq_len its source fixes; flags "
              "given explicitly (or in --config) override it", choices=tuple(RECIPES), show_default=False)

    def __post_init__(self):
        problems = []
        if self.seq_len < 8:
            problems.append(f"seq_len must be ≥ 8, got {self.seq_len}")
        unknown = set(self.objective_weights) - set(OBJECTIVES)
        if unknown:
            problems.append(f"unknown objectives {sorted(unknown)}; expected {OBJECTIVES}")
        weights = [self.objective_weights.get(o, 0.0) for o in OBJECTIVES]
        if any(w < 0 or not math.isfinite(w) for w in weights) or sum(weights) <= 0:
            problems.append(f"objective weights must be ≥ 0 with a positive sum, got {self.objective_weights}")
        if not self.poisson_lambda > 0:
            problems.append(f"poisson_lambda must be > 0, got {self.poisson_lambda}")
        if not 0 < self.mask_ratio < 1:
            problems.append(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
        if self.max_span < 1:
            problems.append(f"max_span must be ≥ 1, got {self.max_span}")
        lo, hi = self.document_ratio
        if not 0 < lo <= hi <= 1:
            problems.append(f"document_ratio must satisfy 0 < low ≤ high ≤ 1, got {self.document_ratio}")
        if self.recipe is not None and self.recipe not in RECIPES:
            problems.append(f"unknown recipe {self.recipe!r}; expected one of {', '.join(RECIPES)}")
        if not 1 <= self.epochs <= MAX_EPOCHS:
            problems.append(f"epochs must be in 1..{MAX_EPOCHS}, got {self.epochs}")
        if self.enc not in ENC_PLACES:
            problems.append(f"enc must be one of {ENC_PLACES}, got {self.enc!r}")
        if problems:
            raise ValueError("; ".join(problems))
        if self.max_piece_len() < 3:
            raise ValueError(f"seq_len {self.seq_len} is too small for mask_ratio {self.mask_ratio}")

    @property
    def active_objectives(self) -> Tuple[str, ...]:
        return tuple(o for o in OBJECTIVES if self.objective_weights.get(o, 0.0) > 0)

    def piece_cost(self, objective: str, x_len: int, text_len: int) -> int:
        """Worst-case tokens a piece occupies in a sample after the +2m growth."""
        if objective == "document":
            return x_len + 2
        # Each blank/sentence span covers ≥ 1 token and spans stop once the target is met.
        capacity = int(masking_capacity(np.array([text_len]), objective, self.max_span)[0])
        return x_len + 2 * min(capacity, math.ceil(self.mask_ratio * x_len - 1e-9))

    def max_piece_len(self, objectives: Optional[Sequence[str]] = None) -> int:
        """Largest piece (in x tokens, ENC and eos included) whose worst-case cost fits seq_len
        under every one of ``objectives`` (default: the active ones)."""
        objectives = self.active_objectives if objectives is None else objectives
        length = self.seq_len
        while length > 0 and max(self.piece_cost(o, length, length - 2) for o in objectives) > self.seq_len:
            length -= 1
        return length

    def to_metadata(self, epoch: int = 0) -> Dict[str, object]:
        """The options a shard records; with ``epochs`` > 1 also the shard's ``epoch`` (absent
        with one epoch, so those shards are byte for byte what they were before epochs)."""
        meta = {
            "poisson_lambda": self.poisson_lambda,
            "mask_ratio": self.mask_ratio,
            "max_span": self.max_span,
            "document_ratio": list(self.document_ratio),
            "enc": self.enc,
            "recipe": self.recipe,
            "span_boundaries": self.span_boundaries,
            "sample_key": "<first document key>#<piece>",
            "blank_span_lengths": "Poisson(lambda) truncated to 1..max_span, renormalised",
        }
        if self.epochs > 1:
            meta.update(epochs=self.epochs, epoch=epoch, sample_key="<first document key>#<piece>[@<epoch>, after 0]")
        return meta


def masking_capacity(text_lens: np.ndarray, objective: str, max_span: int) -> np.ndarray:
    """Most tokens a piece's spans can cover: sentence spans may touch, blank spans of at most
    ``max_span`` tokens need a gap between them (t = 5, max_span = 2: ``xx_xx`` -> 4)."""
    text_lens = np.asarray(text_lens, dtype=np.int64)
    if objective == "blank":
        return text_lens - text_lens // (max_span + 1)
    return text_lens

