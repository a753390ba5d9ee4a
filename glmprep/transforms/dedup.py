"""Exact deduplication on normalised text.

``ExactDedup``: documents whose normalised text is identical share a digest; the member
with the smallest key is kept and every other one is rejected (stage ``exact_dedup``)
with reason ``exact_duplicate`` and the kept key in the reject's ``kept_key`` field.
Keys are already unique (``UniqueKeys`` makes them so).

No step holds a digest's members, however many there are (a licence header copied a
million times), and no step holding many digests holds their texts:

1. ``NotKeeper``: the text-free ``(digest, key)`` records go through ``NotSmallest``
   (``glmprep.transforms.smallest``): a lifted combiner per digest reduces them to
   (smallest key, count), and every other key learns its keeper without a hot key
   (hot digests through a side input holding only them, the others grouped with their
   keeper, at most ``max_group`` + 1 small records per group). Each copy gets a
   decision ``(key, kept key)``.
2. ``ApplyDecisions`` (``glmprep.transforms.decisions``): documents and decisions meet
   in a group by document key, at most two values per group: a document without a
   decision is kept, one with a decision becomes the reject. A document goes there as
   its handle (``glmprep.transforms.text_runs``): a short text packed, a longer one a
   reference to the run file it waits in, read back once the decision is known.

A rejected copy's ``preview`` is its own text.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Optional

import apache_beam as beam

from glmprep.core.records import pack_text, unpack_text
from glmprep.transforms.decisions import ApplyDecisions
from glmprep.transforms.smallest import MAX_GROUP, NotSmallest
from glmprep.transforms.text_runs import ResolveTexts, SpillTextsDoFn

STAGE = "exact_dedup"
EXACT_DUPLICATE = "exact_duplicate"
DIGEST_PIECE_CHARS = 1 << 20  # a long text is folded a piece at a time: memory per piece, not per text
_SPACE = re.compile(r"\s")


def normalised_digest(text: str, piece_chars: int = DIGEST_PIECE_CHARS) -> bytes:
    """16-byte digest of the text with case folded and white space collapsed.

    >>> normalised_digest("Hello  World\\n") == normalised_digest("hello world")
    True
    """
    digest = hashlib.blake2b(digest_size=16)
    separator = b""
    for piece in _pieces_at_spaces(text, piece_chars):
        # str.split() splits on the same Unicode white space as the regex \\s+, in a fraction of the time
        words = " ".join(unicodedata.normalize("NFC", piece).casefold().split())
        if words:
            digest.update(separator + words.encode("utf-8", "surrogatepass"))
            separator = b" "
    return digest.digest()


def _pieces_at_spaces(text: str, size: int):
    """Consecutive pieces of ``text`` of about ``size`` characters, each ending just after a white
    space character (or at the end), so no word is cut and NFC, case folding and word splitting
    give the same result piece by piece as on the whole (white space never composes).

    >>> list(_pieces_at_spaces("ab cd ef", 2))
    ['ab ', 'cd ', 'ef']
    """
    start = 0
    while len(text) - start > size:
        match = _SPACE.search(text, start + size)
        while match is not None and not text[match.start()].isspace():
            match = _SPACE.search(text, match.start() + 1)
        if match is None:
            break
        yield text[start:match.end()]
        start = match.end()
    yield text[start:]


class ExactDedup(beam.PTransform):
    """PCollection[(key, text)] -> (docs, rejects); the docs ``(key, text)``, or with
    ``unpack=False`` ``(key, handle)`` as they left the join (for near dedup). With
    ``runs`` (a directory), texts longer than ``text_runs.INLINE_BYTES`` packed wait there
    and only their references cross the join (``glmprep.transforms.text_runs``)."""

    def __init__(self, max_group: int = MAX_GROUP, unpack: bool = True, runs: Optional[str] = None):
        super().__init__()
        self._max_group = max_group
        self._unpack = unpack
        self._runs = runs

    def expand(self, docs):
        key_to_handle = docs | "PackTexts" >> beam.Map(lambda doc: (doc[0], pack_text(doc[1])))
        if self._runs is not None:
            key_to_handle = key_to_handle | "SpillTexts" >> beam.ParDo(SpillTextsDoFn(self._runs))
        decisions = (docs
                     | "KeyByNormalisedDigest" >> beam.Map(lambda doc: (normalised_digest(doc[1]), doc[0]))
                     # ((digest, key), keeper) for every key that is not its digest's smallest
                     | "NotKeeper" >> NotSmallest(self._max_group)
                     | "Decision" >> beam.Map(lambda e: (e[0][1], e[1])))
        kept, rejects = (key_to_handle, decisions) | "Apply" >> ApplyDecisions(
            STAGE, EXACT_DUPLICATE, "the same normalised text as the kept document", STAGE, EXACT_DUPLICATE,
            runs=self._runs)
        if not self._unpack:
            return kept, rejects
        texts = (kept
                 | "Handles" >> beam.Map(lambda doc: (doc[1], doc[0]))
                 | "KeptTexts" >> ResolveTexts(self._runs)
                 | "UnpackKept" >> beam.Map(lambda e: (e[1], unpack_text(e[0]))))
        return texts, rejects
