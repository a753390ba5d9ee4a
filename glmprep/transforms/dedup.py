"""Exact deduplication on normalised text.

``ExactDedup``: documents whose normalised text is identical share a digest; the member
with the smallest key is kept and every other one is rejected (stage ``exact_dedup``)
with reason ``exact_duplicate`` and the kept key in the reject's ``kept_key`` field.
Keys are already unique (``UniqueKeys`` makes them so).

No step holds a digest's members, however many there are (a licence header copied a
million times):

1. ``KeepSmallestKey``: a lifted combiner per digest reduces ``(key, packed text)`` to
   ``(smallest key, its packed text, count)``, so each worker sends one candidate per
   digest to the shuffle, not one per copy. Its output is the kept documents; this is
   the only shuffle text crosses.
2. The other members learn their keeper from a second, text-free stream
   ``(digest, key)``: digests with more than ``max_group`` members ("hot") are looked up
   in a side input holding only hot digests (at most documents / ``max_group``
   entries); every other digest is grouped with its keeper, at most ``max_group`` + 1
   small records per group.

A rejected copy's ``preview`` is its keeper's: the two texts are equal once case and
white space are normalised, and the copy's own text never crosses a shuffle.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

import apache_beam as beam
from apache_beam.metrics import Metrics

from glmprep.core.records import pack_text, unpack_text
from glmprep.schemas.rejects import REJECT_PREVIEW_CHARS, make_reject

STAGE = "exact_dedup"
EXACT_DUPLICATE = "exact_duplicate"
MAX_GROUP = 1000  # members of a digest grouped with their keeper; more go through the side input
REJECTS = "rejects"
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


class SmallestKeyFn(beam.CombineFn):
    """``(key, payload)`` values of one group -> ``(smallest key, its payload, count)``.

    O(1) state whatever the group's size; lifted by Beam before the shuffle.

    >>> fn = SmallestKeyFn()
    >>> fn.extract_output(fn.merge_accumulators([fn.add_input(fn.create_accumulator(), ("b", 2)),
    ...                                          fn.add_input(fn.add_input(None, ("c", 3)), ("a", 1))]))
    ('a', 1, 3)
    """

    def create_accumulator(self):
        return None

    def add_input(self, accumulator, element):
        key, payload = element
        if accumulator is None:
            return key, payload, 1
        best_key, best_payload, count = accumulator
        if key < best_key:
            return key, payload, count + 1
        return best_key, best_payload, count + 1

    def merge_accumulators(self, accumulators):
        merged = None
        for accumulator in accumulators:
            if accumulator is None:
                continue
            if merged is None:
                merged = accumulator
            else:
                best = accumulator if accumulator[0] < merged[0] else merged
                merged = best[0], best[1], merged[2] + accumulator[2]
        return merged

    def extract_output(self, accumulator):
        return accumulator


def duplicate_reject(key: str, kept_key: str, preview: str):
    return make_reject(key, STAGE, EXACT_DUPLICATE, "the same normalised text as the kept document",
                       preview, kept_key=kept_key)


class RejectHotCopiesDoFn(beam.DoFn):
    """(digest, key) -> a reject if the digest is hot (in ``hot``: digest -> (keeper,
    preview)) and key is not its keeper; else (digest, key) on the ``grouped`` output."""

    def __init__(self):
        self.duplicates = Metrics.counter(STAGE, EXACT_DUPLICATE)

    def process(self, element, hot):
        digest, key = element
        keeper = hot.get(digest)
        if keeper is None:
            yield beam.pvalue.TaggedOutput("grouped", (digest, (key, None)))
        elif key != keeper[0]:
            self.duplicates.inc()
            yield duplicate_reject(key, *keeper)


class RejectCopiesDoFn(beam.DoFn):
    """(digest, [(key, None) | (keeper, preview), ...]) -> a reject for every key but the
    keeper's. The values are read twice (Beam allows it), never held."""

    def __init__(self):
        self.duplicates = Metrics.counter(STAGE, EXACT_DUPLICATE)

    def process(self, element):
        _, members = element
        keeper = next((m for m in members if m[1] is not None), None)
        if keeper is None:  # a digest of one document
            return
        for key, preview in members:
            if preview is None and key != keeper[0]:
                self.duplicates.inc()
                yield duplicate_reject(key, *keeper)


class ExactDedup(beam.PTransform):
    """PCollection[(key, text)] -> (docs, rejects)."""

    def __init__(self, max_group: int = MAX_GROUP):
        super().__init__()
        self._max_group = max_group

    def expand(self, docs):
        max_group = self._max_group
        digest_to_doc = docs | "KeyByNormalisedDigest" >> beam.Map(
            lambda doc: (normalised_digest(doc[1]), (doc[0], pack_text(doc[1]))))
        # digest -> (smallest key, its packed text, count)
        digest_to_keeper = digest_to_doc | "KeepSmallestKey" >> beam.CombinePerKey(SmallestKeyFn())
        kept = digest_to_keeper | "UnpackKept" >> beam.Map(lambda e: (e[1][0], unpack_text(e[1][1])))
        # digest -> (keeper, preview) where the digest has copies
        repeated = (digest_to_keeper
                    | "Repeated" >> beam.Filter(lambda e: e[1][2] > 1)
                    | "KeeperPreview" >> beam.Map(lambda e: (e[0], (e[1][0], e[1][2] > max_group, unpack_text(
                        e[1][1])[:REJECT_PREVIEW_CHARS]))))
        hot = repeated | "Hot" >> beam.Filter(lambda e: e[1][1]) | "HotKeeper" >> beam.Map(
            lambda e: (e[0], (e[1][0], e[1][2])))
        routed = (digest_to_doc
                  | "DropTexts" >> beam.Map(lambda e: (e[0], e[1][0]))
                  | "RejectHotCopies" >> beam.ParDo(RejectHotCopiesDoFn(), hot=beam.pvalue.AsDict(hot))
                  .with_outputs("grouped", main="rejects"))
        keepers = (repeated | "NotHot" >> beam.Filter(lambda e: not e[1][1])
                   | "KeeperMessage" >> beam.Map(lambda e: (e[0], (e[1][0], e[1][2]))))
        grouped_rejects = (
            (keepers, routed.grouped)
            | "FlattenMembers" >> beam.Flatten()
            # digest -> [(key, None) | (keeper, preview), ...]: at most max_group + 1
            | "GroupByDigest" >> beam.GroupByKey()
            | "RejectCopies" >> beam.ParDo(RejectCopiesDoFn()))
        rejects = (routed.rejects, grouped_rejects) | "FlattenRejects" >> beam.Flatten()
        return kept, rejects
