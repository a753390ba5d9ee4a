"""Documents' texts waiting in run files while only references cross the shuffles.

Deduplication joins documents with decisions by key. If the packed texts themselves went
through those joins, a runner that hands a stage its grouped input as one message (the
DirectRunner does) would give each worker its whole share of the corpus at once, so a
worker's memory would grow with the data. Instead, a step that would send texts into a
shuffle writes them to a *run file* and sends a *handle* in their place:

- a packed text of at most ``INLINE_BYTES`` is its own handle (``bytes``): its
  reference would save little;
- a longer one is written to a run file and its handle is the reference
  ``(run name, offset, length)`` (a ``tuple``).

``spill_texts`` writes the texts a step holds (a bundle's, at most a configured number
of bytes) as one run and returns their handles; ``SpillTextsDoFn`` does that for a
stream of ``(key, packed text)``. After the join, ``ResolveTexts`` turns handles back
into packed texts: references are grouped by piece of run file (the texts starting in one
``PIECE_BYTES`` of a run: a group's size is bounded by that, not by the data) and each
piece is read once, in offset order. Pieces rather than whole runs, so that the step
after (tokenization, for the kept documents) spreads over the workers evenly: a run
holds a whole bundle's texts, and a few runs of different sizes would leave a worker
idle while another reads the largest. Small pieces (256 KB of packed text), because the
runner gives each worker the same number of groups, and a piece's cost (its tokens)
varies with its language and its texts' lengths: with 1 MB pieces, two workers tokenizing
one 128 MB file were 17 % apart in CPU time; with 256 KB pieces, 0-4 %. Packed texts
come along through the same grouping, a bundle's in one batch, so that the texts reach
the next step only from there: never through a flatten, which a runner may hold whole.

Runs live in the output's runs directory beside the shard writers' (``shard_runs``),
under the same kind of name: a name unique to the flush that wrote it, never changed
once written, read only after the shuffle that carries its references (so a retried
bundle writes a run of its own and a dead attempt's run is referenced by nothing). They
are removed with the shard runs once shards and rejects are final.
"""
from __future__ import annotations

import uuid
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from glmprep.transforms.bundle_buffer import BundleBufferDoFn
from glmprep.transforms.shard_runs import create_run, run_path

INLINE_BYTES = 64       # a packed text at most this long travels as itself (its reference is as long)
SPILL_BYTES = 16 << 20  # packed texts a bundle holds before writing them as one run
PIECE_BYTES = 1 << 18   # of a run: the texts starting in one piece are one group of ``ResolveTexts``
INLINE_BATCH_BYTES = 1 << 20  # packed texts gathered into one element on their way through ``ResolveTexts``
INLINE_PREFIX = "texts-"      # the group name of such a batch (a piece's: "<run name>/<piece>")
ENTRY_BYTES = 100             # a gathered text's cost beside its bytes: tuple, payload, list slot

_WRITTEN = Metrics.counter("text_runs", "bytes_written")  # packed text bytes written to runs

Reference = Tuple[str, int, int]   # (run name: 32 hex digits, offset, length)
Handle = Union[bytes, Reference]   # a packed text, or where it waits


def is_reference(handle: Handle) -> bool:
    return isinstance(handle, tuple)


def spill_texts(directory: str, packed_texts: Sequence[bytes], inline_bytes: int = INLINE_BYTES) -> List[Handle]:
    """The handles of ``packed_texts``, in order: the short ones themselves, the others
    references into one new run file in ``directory`` (no file when none is long)."""
    handles: List[Handle] = list(packed_texts)
    long_ones = [i for i, packed in enumerate(packed_texts) if len(packed) > inline_bytes]
    if not long_ones:
        return handles
    _WRITTEN.inc(sum(len(packed_texts[i]) for i in long_ones))

    def write(fh, name):
        offset = 0
        for i in long_ones:
            fh.write(packed_texts[i])
            handles[i] = (name, offset, len(packed_texts[i]))
            offset += len(packed_texts[i])

    create_run(directory, "document texts", write)
    return handles


class SpillTextsDoFn(BundleBufferDoFn):
    """(key, packed text) -> (key, handle), the key anything small: a bundle's texts held
    up to ``max_bytes``, then written as one run (``spill_texts``); handles are passed on
    only once their run is closed."""

    def __init__(self, directory: str, max_bytes: int = SPILL_BYTES, inline_bytes: int = INLINE_BYTES):
        super().__init__(max_bytes)
        self.directory = directory
        self.inline_bytes = inline_bytes

    def empty(self) -> list:
        return []

    def process(self, doc):
        self.held.append(doc)
        yield from self.added(len(doc[1]) + ENTRY_BYTES)

    def drain(self, docs):
        handles = spill_texts(self.directory, [packed for _, packed in docs], self.inline_bytes)
        return [(key, handle) for (key, _), handle in zip(docs, handles)]


class RouteHandlesDoFn(BundleBufferDoFn):
    """(handle, payload) -> ("run name/piece", (offset, length, payload)) for a reference
    (``piece``: ``offset // piece_bytes``); packed
    texts are gathered, up to ``max_bytes`` per bundle, into (batch name, [(packed,
    payload), ...]) under a name of their own, so that every text reaches the step after
    the grouping from the grouping itself (a flatten of texts would be held whole by a
    runner that materialises it)."""

    def __init__(self, max_bytes: int = INLINE_BATCH_BYTES, piece_bytes: int = PIECE_BYTES):
        super().__init__(max_bytes)
        self.piece_bytes = piece_bytes

    def empty(self) -> list:
        return []

    def process(self, element):
        handle, payload = element
        if is_reference(handle):
            name, offset, length = handle
            yield f"{name}/{offset // self.piece_bytes}", (offset, length, payload)
            return
        self.held.append(element)
        yield from self.added(len(handle) + ENTRY_BYTES)

    def drain(self, held):
        return [(INLINE_PREFIX + uuid.uuid4().hex, held)] if held else []


class ReadRunDoFn(beam.DoFn):
    """("run name/piece", [(offset, length, payload), ...]) -> (packed text, payload) each,
    the piece read once in offset order; (batch name, [[(packed text, payload), ...]]) ->
    its items."""

    def __init__(self, directory: str):
        self.directory = directory

    def process(self, element):
        group, wanted = element
        if group.startswith(INLINE_PREFIX):
            for batch in wanted:
                yield from batch
            return
        path = run_path(self.directory, group.partition("/")[0])
        fh = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
        try:
            for offset, length, payload in sorted(wanted, key=lambda w: (w[0], w[1])):
                fh.seek(offset)
                packed = fh.read(length)
                if len(packed) != length:
                    raise EOFError(f"the run of document texts {path} ends before byte {offset + length}")
                yield packed, payload
        finally:
            fh.close()


class ResolveTexts(beam.PTransform):
    """PCollection[(handle, payload)], or a tuple of them, -> PCollection[(packed text,
    payload)]. The handles of several collections are routed each where it is and meet in
    the one grouping (no flatten of handles before it). Without a directory every handle
    must be a packed text (nothing was spilled)."""

    def __init__(self, directory: Optional[str], piece_bytes: int = PIECE_BYTES):
        super().__init__()
        self.directory = directory
        self.piece_bytes = piece_bytes

    def expand(self, pcolls):
        pcolls = pcolls if isinstance(pcolls, tuple) else (pcolls,)
        if self.directory is None:
            flat = pcolls[0] if len(pcolls) == 1 else pcolls | "FlattenHandles" >> beam.Flatten()
            return flat | "AsPacked" >> beam.Map(_packed_only)
        routed = [pcoll | (f"RouteHandles{i}" if i else "RouteHandles") >> beam.ParDo(
                      RouteHandlesDoFn(piece_bytes=self.piece_bytes))
                  for i, pcoll in enumerate(pcolls)]
        return (routed
                | "FlattenRouted" >> beam.Flatten()
                # "run/piece" -> [(offset, length, payload), ...]: the texts starting in one piece;
                # batch name -> [one bundle's packed texts, at most INLINE_BATCH_BYTES]
                | "GroupByRun" >> beam.GroupByKey()
                | "ReadRuns" >> beam.ParDo(ReadRunDoFn(self.directory)))


def _packed_only(element):
    handle, payload = element
    if is_reference(handle):
        raise ValueError("a reference to a run of document texts, but no runs directory was given")
    return handle, payload


def handles_of(docs: Iterable[Tuple[str, Handle]]) -> Iterable[Tuple[Handle, str]]:
    """[(key, handle), ...] -> (handle, key) each: the shape ``ResolveTexts`` takes."""
    for key, handle in docs:
        yield handle, key
