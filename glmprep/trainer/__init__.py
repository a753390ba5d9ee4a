"""glmprep.trainer: the bundled NumPy reference GLM (GLM_SPEC §7), no PyTorch.

It proves that shards teach a model, and it is the executable definition of how a
shard is meant to be read. One idea per module:

    data.py        shards -> held-out split -> shuffled, padded batches (memory-mapped)
    vocab.py       vocabulary compaction: only the ids the training rows use
    model.py       GLMConfig, forward and backward by hand (2D positions, the sep mask)
    train.py       AdamW, clipping, warmup + cosine, accumulation, evaluation, unigram baseline
    checkpoint.py  model.npz + config.json, exact resume
    infill.py      fill [MASK] blanks from sop to eop
    cli.py         glmprep train / eval / infill
"""
