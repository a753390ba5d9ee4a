"""GLM blank-infilling samples from token documents (GLM_SPEC §2–§5). Pure NumPy.

One module per step, in the order a shard's documents go through them:

    options     SampleOptions: seq_len, objective mix, λ, mask ratio, ... (GLM_SPEC §3 defaults)
    sentences   SentenceTable: sentence ends in token arrays, English and Chinese
    pieces      documents -> pieces that fit a sample (cut at sentence ends); PieceTable
    spans       SpanPlanner: each piece's spans from the piece's own random stream
    packing     Packer: pieces -> samples, best-fit at their exact length after Part B
    layout      samples -> Part A / Part B columns, targets, loss mask, 2D positions
    builder     SampleBuilder: the steps above, many samples per NumPy pass

Vocabulary used throughout:

    x        the sample's uncorrupted tokens: each piece as [ENC] text [eos], where the
             ENC only opens a document's first piece and eos only closes its last one
    span     (start, length) in x; spans lie inside one piece's text, never on ENC/eos
    part_a   x with each span replaced by one mask token; ``sep = len(part_a)``
    part_b   per span, in a random order: input ``sop s_1..s_l``, target ``s_1..s_l eop``

Every random choice comes from the keyed stream of the sample (``glmprep.core.rng``), the
sample key being ``"<first document key>#<piece>"``; draw 0 picks the objective.
Everything after packing runs on whole batches of samples at once (columns, not rows):
per-sample Python work is a key hash and a packing step, so building samples is faster
than tokenizing them.
"""
from glmprep.core.samples.arrays import exclusive_cumsum, segment_ranges
from glmprep.core.samples.builder import SampleBuilder
from glmprep.core.samples.layout import SampleColumns, assemble, assemble_batch
from glmprep.core.samples.options import (DEFAULT_DOCUMENT_RATIO, DEFAULT_MASK_RATIO, DEFAULT_MAX_SPAN,
                                          DEFAULT_OBJECTIVE_WEIGHTS, DEFAULT_POISSON_LAMBDA,
                                          DEFAULT_SEQ_LEN, SampleOptions, masking_capacity)
from glmprep.core.samples.pieces import Piece, PieceTable, split_document, split_points
from glmprep.core.samples.sentences import SentenceTable, sentence_table
from glmprep.core.samples.spans import truncated_poisson_cdf, truncated_poisson_pmf

__all__ = [
    "DEFAULT_DOCUMENT_RATIO", "DEFAULT_MASK_RATIO", "DEFAULT_MAX_SPAN", "DEFAULT_OBJECTIVE_WEIGHTS",
    "DEFAULT_POISSON_LAMBDA", "DEFAULT_SEQ_LEN", "Piece", "PieceTable", "SampleBuilder",
    "SampleColumns", "SampleOptions", "SentenceTable", "assemble", "assemble_batch", "exclusive_cumsum",
    "masking_capacity", "segment_ranges", "sentence_table", "split_document", "split_points",
    "truncated_poisson_cdf", "truncated_poisson_pmf",
]
