"""The one list of pipeline stages, in pipeline order.

A stage's ``name`` is the same word everywhere: a reject record's ``stage``, the Beam
counter namespace of its transforms, the manifest's ``funnel`` key (documents left after
it) and the ``stage/reason`` prefix of ``totals.rejected_by_reason``. ``after`` is how
``glmprep stats`` and the report label the documents left after it.

To add a stage: add one ``Stage(...)`` line below at its place in the pipeline (and its
reject reasons to ``glmprep.schemas.rejects``). Stages that drop nothing (``shards``)
have no funnel entry of their own: what leaves them is the kept documents.

>>> STAGES[:3], stage("exact_dedup").after
(('read', 'clean', 'pii'), 'exact deduped')
"""
from __future__ import annotations

from typing import NamedTuple, Tuple


class Stage(NamedTuple):
    name: str      # reject records, counters, funnel keys
    after: str     # label of the documents left after the stage
    meaning: str   # what the stage does, in a few words
    drops: bool    # whether it can reject a document (has a funnel entry)


STAGE_LIST: Tuple[Stage, ...] = (
    Stage("read", "read", "parse input files into (key, text) documents", True),
    Stage("clean", "cleaned", "make text canonical (NFC, line breaks, control characters)", True),
    Stage("pii", "redacted", "replace emails, IP addresses, phone, identity and card numbers", False),
    Stage("language", "language kept", "identify the language; keep --languages", True),
    Stage("filter", "filtered", "C4/Gopher-style quality rules", True),
    Stage("decontaminate", "decontaminated", "drop documents sharing an n-gram with a benchmark item", True),
    Stage("exact_dedup", "exact deduped", "drop identical texts after case folding", True),
    Stage("near_dedup", "near deduped", "drop MinHash near-duplicates", True),
    Stage("tokenize", "tokenized", "byte-level BPE", True),
    Stage("mixing", "mixed", "sample sources to their weights or token budgets (repeats added)", True),
    Stage("shards", "kept in shards", "pack, build samples, write Arrow shards", False),
)
STAGES: Tuple[str, ...] = tuple(s.name for s in STAGE_LIST)
# The manifest's funnel: documents left after each stage that can drop one.
FUNNEL_STAGES: Tuple[str, ...] = tuple(s.name for s in STAGE_LIST if s.drops)
_BY_NAME = {s.name: s for s in STAGE_LIST}


def stage(name: str) -> Stage:
    """The stage called ``name``; ValueError naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; expected one of {STAGES}") from None
