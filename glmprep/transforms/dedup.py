"""Exact deduplication on normalised text.

``ExactDedup``: documents whose normalised text is identical share a digest; the member
with the smallest key is kept and every other one is rejected (stage ``exact_dedup``)
with reason ``exact_duplicate`` and the kept key in the reject's ``kept_key`` field.
Keys are already unique (``UniqueKeys`` makes them so).

No step holds a digest's members, however many there are (a licence header copied a
million times), and no step holding many digests holds their texts. Each document is a
record ``((digest, key), handle)``: its handle (``glmprep.transforms.text_runs``) is a
short text packed, or a reference to the run file a longer text waits in, read back
once the decision is known.

1. ``KeeperOfDigest``: the text-free ``(digest, key)`` records go through
   ``GroupSmallest`` (``glmprep.transforms.smallest``): a lifted combiner per digest
   reduces them to (smallest key, count). Digests of more than ``max_group`` documents
   are hot: a side input holding only them.
2. ``DecideHotCopies``: a copy of a hot digest is decided where it is, with its handle:
   rejected unless its key is the digest's smallest. Nothing of a hot digest is grouped
   but its keeper.
3. ``GroupByDigest``: every other document meets its digest's mark (the smallest key),
   at most ``max_group`` + 1 values per group: the mark's key is kept (a digest without
   a mark has one document), the others become rejects.

Every document crosses one grouping (``GroupByDigest``, or none for a hot copy) before
its text is read back: the decision never travels on its own to meet it.

A rejected copy's ``preview`` is its own text.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.records import pack_text, unpack_text
from glmprep.schemas.rejects import make_reject
from glmprep.transforms.smallest import MAX_GROUP, GroupSmallest
from glmprep.transforms.text_runs import ResolveTexts, SpillTextsDoFn

STAGE = "exact_dedup"
EXACT_DUPLICATE = "exact_duplicate"
REJECTS = "rejects"  # tag of the rejects outputs
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


class DecideHotCopyDoFn(beam.DoFn):
    """((digest, key), handle) -> on ``REJECTS`` (handle, (key, kept key)) when the digest
    is hot (in ``hot``: digest -> its smallest key) and the key is not that one; else
    (digest, (key, handle)) on the main output, to be decided in its digest's group."""

    def __init__(self):
        self.removed = Metrics.counter(STAGE, EXACT_DUPLICATE)

    def process(self, element, hot):
        (digest, key), handle = element
        kept_key = hot.get(digest)
        if kept_key is None or kept_key == key:
            yield digest, (key, handle)
            return
        self.removed.inc()
        yield beam.pvalue.TaggedOutput(REJECTS, (handle, (key, kept_key)))


class DecideGroupDoFn(beam.DoFn):
    """(digest, [(key, handle) | (kept key, None), ...]) -> (key, handle) for the kept
    document (the mark's key, or the only one when no mark came: a digest of one
    document, or a hot digest's keeper), and (handle, (key, kept key)) on ``REJECTS`` for
    every other. At most ``max_group`` + 1 values; read twice (Beam allows it), never held."""

    def __init__(self):
        self.removed = Metrics.counter(STAGE, EXACT_DUPLICATE)

    def process(self, element):
        _, values = element
        kept_key = next((key for key, handle in values if handle is None), None)
        for key, handle in values:
            if handle is None:
                continue
            if kept_key is None or key == kept_key:
                yield key, handle
            else:
                self.removed.inc()
                yield beam.pvalue.TaggedOutput(REJECTS, (handle, (key, kept_key)))


class ExactDedup(beam.PTransform):
    """PCollection[(key, text)] -> (docs, rejects); the docs ``(key, text)``, or with
    ``unpack=False`` ``(key, handle)`` as they were decided (for near dedup). With
    ``runs`` (a directory), texts longer than ``text_runs.INLINE_BYTES`` packed wait there
    and only their references cross the grouping (``glmprep.transforms.text_runs``)."""

    def __init__(self, max_group: int = MAX_GROUP, unpack: bool = True, runs: Optional[str] = None):
        super().__init__()
        self._max_group = max_group
        self._unpack = unpack
        self._runs = runs

    def expand(self, docs):
        # ((digest, key), handle) for every document
        records = docs | "DigestAndPack" >> beam.Map(
            lambda doc: ((normalised_digest(doc[1]), doc[0]), pack_text(doc[1])))
        if self._runs is not None:
            records = records | "SpillTexts" >> beam.ParDo(SpillTextsDoFn(self._runs))
        hot, marks = records | "Keys" >> beam.Keys() | "KeeperOfDigest" >> GroupSmallest(self._max_group)
        hot_decided = records | "DecideHotCopies" >> beam.ParDo(
            DecideHotCopyDoFn(), hot=beam.pvalue.AsDict(hot)).with_output_types(
            Tuple[Any, Any]).with_outputs(REJECTS, main="grouped")
        decided = (
            (hot_decided.grouped, marks | "AsMarks" >> beam.Map(lambda e: (e[0], (e[1], None))))
            | "FlattenCopiesAndMarks" >> beam.Flatten()
            # digest -> [(key, handle) | (kept key, None), ...]: at most max_group + 1 values
            | "GroupByDigest" >> beam.GroupByKey()
            | "DecideGroup" >> beam.ParDo(DecideGroupDoFn()).with_outputs(REJECTS, main="kept"))
        rejects = ((hot_decided[REJECTS], decided[REJECTS])
                   | "RejectTexts" >> ResolveTexts(self._runs)
                   | "Reject" >> beam.Map(lambda e: make_reject(
                       e[1][0], STAGE, EXACT_DUPLICATE, "the same normalised text as the kept document",
                       unpack_text(e[0]), kept_key=e[1][1])))
        if not self._unpack:
            return decided.kept, rejects
        texts = (decided.kept
                 | "Handles" >> beam.Map(lambda doc: (doc[1], doc[0]))
                 | "KeptTexts" >> ResolveTexts(self._runs)
                 | "UnpackKept" >> beam.Map(lambda e: (e[1], unpack_text(e[0]))))
        return texts, rejects
