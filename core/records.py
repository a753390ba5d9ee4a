"""Element shapes shared by every pipeline stage.

A document travels through the pipeline as ``(key, text)``: ``key`` is a stable,
runner-independent string (the id field, or ``source path:line``), ``text`` is str.

A rejected document becomes a reject record (a plain dict, JSON-serialisable) that
ends up in ``rejects/`` and in the manifest's counts. Every stage that drops a
document emits exactly one reject record for it: docs_in = kept + Σ rejected.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

Doc = Tuple[str, str]

REJECT_PREVIEW_CHARS = 200

# Stage names, in pipeline order; a reject's ``stage`` is one of these.
STAGES = ("read", "clean", "filter", "exact_dedup", "near_dedup", "tokenize", "pack")


def make_reject(key: str, stage: str, reason: str, detail: str = "",
                text: Optional[str] = None) -> Dict[str, str]:
    """One reject record.

    >>> make_reject("a.jsonl:3", "filter", "too_short", "4 words < 50", "hi there")["preview"]
    'hi there'
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    return {
        "key": key,
        "stage": stage,
        "reason": reason,
        "detail": detail,
        "preview": (text or "")[:REJECT_PREVIEW_CHARS],
    }
