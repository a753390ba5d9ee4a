"""Near-duplicate removal: MinHash signatures, LSH banding, verified pairs, keepers.

``NearDedup(options)`` turns a PCollection of ``(key, text)`` into ``(docs, rejects,
counts)``. Two documents are near-duplicates when their MinHash signatures collide in
an LSH band and their Jaccard similarity is at least ``options.threshold``, checked as
``options.verify`` says: ``"exact"`` (the two shingle-hash sets), ``"estimate"`` (the
signatures) or ``"none"``. Which near-duplicates stay is ``options.keepers`` (the
graph algorithms are in :mod:`glmprep.transforms.graph`):

- ``"independent"`` (default): a document is rejected (reason ``near_duplicate``, the
  keeper in ``kept_key``) only in favour of a kept document it is itself a
  near-duplicate of. In a chain A~B~C, B may go but A and C both stay;
- ``"components"``: near-duplicate is made transitive; each connected component keeps
  its smallest key, so a chain A~B~C keeps one of the three.

Steps; no key's work or memory grows with a bucket, and text crosses a shuffle packed:

1. signatures, in batches of at most ``SIGNATURE_BATCH_DOCS`` documents and
   ``SIGNATURE_BATCH_CHARS`` characters (peak memory is about 35 bytes per character of
   the batch), turned into the batch's band hashes (one element per batch);
2. a band sketch (:mod:`glmprep.core.band_sketch`, a lifted combiner of fixed size) says
   which band keys may be shared by two documents. A document whose band keys are all
   its own has no candidate pair: it is kept right here and crosses no further shuffle
   (on the shared corpora 97-99 % of the documents, and of the band keys);
3. the maybe shared band keys -> ``GroupByKey`` -> candidate pairs. A bucket of at most
   ``MAX_CLIQUE_BUCKET`` documents yields every pair; a bigger one (boilerplate shared
   by thousands of pages) a star from the member the keeper rule picks first (so a
   bucket of copies settles in one round) to every other member: linear, not quadratic.
   A star's partners are spread over ``ceil(partners / options.fan_out)`` sub-keys of
   its centre, by a hash of the partner's key; a bucket of one (a key the sketch let
   through) yields nothing;
   routing: each document with a maybe shared band key learns, in one grouping with
   its handle (``glmprep.transforms.text_runs``: its packed text, or where the text
   waits), the verification keys ``(left key, sub-key)`` it belongs to; with a request,
   its text is read back, its payload (shingle-hash set, or signature for
   ``"estimate"``) computed and sent only there; one without a request is kept there;
4. verification: at each ``(left, sub-key)``, the left payload against at most
   about ``fan_out`` right payloads (more only from small buckets: at most
   bands x ``MAX_CLIQUE_BUCKET``); pairs below the threshold go;
5. keepers (:class:`~glmprep.transforms.graph.SelectKeepers` or
   :class:`~glmprep.transforms.graph.ConnectedComponents`), rounds until nothing
   changes: ``options.finish_after`` in Beam and the rest on one worker when at most
   ``options.finish_limit`` messages are left, or at most ``options.rounds`` in Beam;
6. the decisions ``key -> keeper`` are joined back to the candidates' handles
   (``glmprep.transforms.decisions``); every kept document's text is read back (when it
   waits in a run) where it leaves near dedup.

Sub-keys rather than anchor documents: every partner is still verified against the
star's centre, so the result is the one an unbounded star gives (a test checks it),
while one anchor per few partners would verify against a different document and can
drop a partner that matches the centre.

Counters (namespace ``near_dedup``): ``near_dup_keepers``, ``near_dup_removed``,
``candidate_pairs``, ``pairs_verified`` (once per left and right member, however many
buckets pair them), ``pairs_below_threshold``, ``giant_buckets``, ``no_shingles``
(documents without a word: never near-duplicates), ``documents_without_shared_band``
(kept at step 2), ``near_dup_unconverged``. The
manifest gets the rounds used and the documents left unsettled (``counts``).
"""
from __future__ import annotations

import hashlib
import itertools
import math
from typing import Any, Callable, Iterable, Optional, Tuple

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from glmprep.core import band_sketch
from glmprep.core.lsh_bands import band_hashes, band_key
from glmprep.core.minhash import MinHashOptions, estimated_jaccard, signatures_of_hashes
from glmprep.core.shingles import batch_shingle_hashes, hash_set_jaccard, shingle_sets
from glmprep.core.options import add_option_arguments, build, option_values
from glmprep.core.records import pack_text, unpack_text
from glmprep.transforms.decisions import ApplyDecisions
from glmprep.transforms.text_runs import ResolveTexts, handles_of
from glmprep.transforms.graph import (COUNTER_NAMESPACE, ConnectedComponents, SelectKeepers,
                                      first_in_keeper_order)

MAX_CLIQUE_BUCKET = 20           # a bucket up to this size emits all its pairs (at most 190)
SIGNATURE_BATCH_DOCS = 256       # documents per vectorised signature call
# Characters per call, about 4.5 MB at peak. Longer batches are not faster: on the shared
# corpora (36 MB) signatures took 1.24-1.26 s of CPU in calls of 1 M characters (and a 4 MiB
# permutation matrix, minhash._CHUNK_ELEMENTS) and 1.15-1.18 s in calls of 128 K (and 1 MiB);
# with local runs' fixed malloc thresholds (pipeline/heap.py), under which each larger array
# is fresh pages, 1.73-1.77 s against 1.33-1.36 s. Past 1 M characters a batch would also
# leave the shingle hash's cached power tables.
SIGNATURE_BATCH_CHARS = (1 << 17) - SIGNATURE_BATCH_DOCS
CANDIDATE = "candidate"          # tag: the handles of documents with a candidate pair
CANDIDATE_DOC = "candidate_doc"  # tag: the handles of documents with a maybe shared band key
KEPT = "kept"                    # tag: lists of (key, handle) of documents kept without a pair


class BatchDocsDoFn(beam.DoFn):
    """(key, text, ...) -> lists of them, at most ``max_docs`` documents and ``max_chars``
    characters of text each (a longer document is a batch of its own)."""

    def __init__(self, max_docs: int = SIGNATURE_BATCH_DOCS, max_chars: int = SIGNATURE_BATCH_CHARS):
        self._max_docs = max_docs
        self._max_chars = max_chars

    def start_bundle(self):
        self._batch, self._chars = [], 0

    def process(self, doc):
        if self._batch and (len(self._batch) >= self._max_docs or self._chars + len(doc[1]) > self._max_chars):
            yield self._batch
            self._batch, self._chars = [], 0
        self._batch.append(doc)
        self._chars += len(doc[1])

    def finish_bundle(self):
        if self._batch:
            yield GlobalWindows.windowed_value(self._batch)
        self._batch, self._chars = [], 0


class BandBatchDoFn(beam.DoFn):
    """[(key, text, handle), ...] batch -> (keys, handles, band hashes uint64
    [n, bands]) of the documents with a shingle; those without one are kept here
    (``KEPT``, one list)."""

    def __init__(self, options: MinHashOptions, bands: Tuple[int, int]):
        self._options = options
        self._bands = bands  # (bands, rows): options.bands, computed once at construction
        self.no_shingles = Metrics.counter(COUNTER_NAMESPACE, "no_shingles")

    def process(self, batch):
        hashes, counts = batch_shingle_hashes([doc[1] for doc in batch], self._options.ngram)
        sigs = signatures_of_hashes(hashes, counts, self._options.num_perm, self._options.seed)
        with_shingles = np.flatnonzero(counts)
        without = np.flatnonzero(counts == 0)
        if len(without):
            self.no_shingles.inc(len(without))
            yield beam.pvalue.TaggedOutput(KEPT, [(batch[i][0], batch[i][2]) for i in without])
        if len(with_shingles):
            yield (tuple(batch[i][0] for i in with_shingles), tuple(batch[i][2] for i in with_shingles),
                   band_hashes(sigs[with_shingles], *self._bands))


class BandSketchFn(beam.CombineFn):
    """Band hashes of batches -> the :mod:`~glmprep.core.band_sketch` of all their band keys: which
    may be shared by two documents. O(1) state (4 MiB), lifted before the shuffle."""

    def create_accumulator(self):
        return None  # allocated on the first batch: a bundle without one sends nothing big

    def add_input(self, accumulator, hashes):
        return band_sketch.add(band_sketch.empty() if accumulator is None else accumulator, hashes)

    def merge_accumulators(self, accumulators):
        merged = None
        for accumulator in accumulators:
            if accumulator is not None:
                merged = accumulator if merged is None else band_sketch.merge(merged, accumulator)
        return merged

    def extract_output(self, accumulator):
        return band_sketch.empty() if accumulator is None else accumulator


class EmitBandKeysDoFn(beam.DoFn):
    """(keys, handles, band hashes) batch, the band sketch -> (band key, key) for
    every band key the sketch says may be shared, and (handle, key) of each document
    with one (``CANDIDATE_DOC``); the documents whose band keys are all their own are kept
    here (``KEPT``, one list per batch of handles): they have no candidate pair,
    so they cross no further shuffle, and no element of their own crosses a stage."""

    def __init__(self):
        self.single = Metrics.counter(COUNTER_NAMESPACE, "documents_without_shared_band")

    def process(self, batch, sketch):
        keys, handles, hashes = batch
        shared = band_sketch.maybe_shared(sketch, hashes)                      # [n, bands]
        any_shared = shared.any(axis=1)                                        # [n]
        singles = np.flatnonzero(~any_shared)
        if len(singles):
            self.single.inc(len(singles))
            yield beam.pvalue.TaggedOutput(KEPT, [(keys[i], handles[i]) for i in singles])
        candidates = np.flatnonzero(any_shared)
        for i in candidates:
            key = keys[i]
            yield beam.pvalue.TaggedOutput(CANDIDATE_DOC, (handles[i], key))
            for band in np.flatnonzero(shared[i]):
                yield band_key(int(band), int(hashes[i, band])), key


def sub_key(key: str, subs: int) -> int:
    """Which of ``subs`` sub-keys of a star's centre verifies the partner ``key``."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") % subs


class EmitVerifyRequestsDoFn(beam.DoFn):
    """(band key, [key, ...]) -> (doc, (left, sub-key)): where each member of a candidate
    pair sends its payload. The left member of a pair is asked for every sub-key it
    leads once, a right member for the one verifying it.

    All pairs (smaller key on the left) of a bucket of at most ``max_clique`` documents;
    a star from ``first(members)`` in a bigger one, its partners spread over
    ``ceil(partners / fan_out)`` sub-keys. The grouped values are read in passes,
    never held.
    """

    def __init__(self, max_clique: int, fan_out: int, first: Callable[[Iterable[str]], str]):
        self._max_clique = max_clique
        self._fan_out = fan_out
        self._first = first
        self.candidate_pairs = Metrics.counter(COUNTER_NAMESPACE, "candidate_pairs")
        self.giant_buckets = Metrics.counter(COUNTER_NAMESPACE, "giant_buckets")

    def process(self, element):
        _, keys = element
        head = sorted(set(itertools.islice(keys, self._max_clique + 1)))
        if len(head) <= self._max_clique:
            for left in head[:-1]:
                yield left, (left, 0)
            for left, right in itertools.combinations(head, 2):
                self.candidate_pairs.inc()
                yield right, (left, 0)
            return
        self.giant_buckets.inc()
        root = self._first(keys)
        partners = sum(1 for _ in keys) - 1
        subs = math.ceil(partners / self._fan_out)
        for sub in range(subs):
            yield root, (root, sub)
        self.candidate_pairs.inc(partners)
        for key in keys:
            if key != root:
                yield key, (root, sub_key(key, subs))


def shingle_set_payload(text: str, options: MinHashOptions) -> bytes:
    hashes, counts = batch_shingle_hashes([text], options.ngram)
    return shingle_sets(hashes, counts)[0].tobytes()


def signature_payload(text: str, options: MinHashOptions) -> bytes:
    hashes, counts = batch_shingle_hashes([text], options.ngram)
    return signatures_of_hashes(hashes, counts, options.num_perm, options.seed)[0].tobytes()


class RouteCandidateDoFn(beam.DoFn):
    """(key, [('doc', handle) | ('to', (left, sub)), ...]) -> without a request the
    document, kept (``KEPT``, a list of one); with one, (key, handle) on ``CANDIDATE`` and
    (handle, (key, its requests, sorted)): where its payload goes, once its text is back.

    Every sub-key the document leads (``left == key``) gets its payload. As a right
    member it is verified once per left member: buckets of different sizes that share a
    star's centre spread the partners over different numbers of sub-keys, and small
    buckets ask for ``(left, 0)``, so one pair can be asked for at several sub-keys of the
    same left. The left's payload goes to each of them, so any one verifies the pair; the
    smallest is kept (on a bucket of 10^5 edited copies, 18 % fewer payloads sent and
    pairs verified). A sub-key then gets a subset of the partners it was asked for."""

    def process(self, element):
        key, values = element
        handle, leads, lefts = None, set(), {}
        for tag, value in values:
            if tag == "doc":
                handle = value
            elif value[0] == key:
                leads.add(value)
            else:
                left, sub = value
                lefts[left] = min(sub, lefts.get(left, sub))
        if handle is None:  # requests for a document filtered out before (cannot happen)
            return
        if not leads and not lefts:
            yield beam.pvalue.TaggedOutput(KEPT, [(key, handle)])
            return
        yield beam.pvalue.TaggedOutput(CANDIDATE, (key, handle))
        yield handle, (key, sorted(leads.union(lefts.items())))


class SendPayloadDoFn(beam.DoFn):
    """(packed text, (key, requests)) -> ((left, sub), ('L', payload)) or ((left, sub),
    ('R', key, payload)) per request."""

    def __init__(self, payload: Callable[[str, MinHashOptions], bytes], options: MinHashOptions):
        self._payload = payload
        self._options = options

    def process(self, element):
        packed, (key, destinations) = element
        payload = self._payload(unpack_text(packed), self._options)
        for destination in destinations:
            yield destination, ("L", payload) if destination[0] == key else ("R", key, payload)


def no_payload(text: str, options: MinHashOptions) -> bytes:
    return b""


def estimated_similarity(sig_a: bytes, sig_b: bytes) -> float:
    """Two signatures as bytes -> estimated Jaccard similarity."""
    return estimated_jaccard(np.frombuffer(sig_a, dtype=np.uint32), np.frombuffer(sig_b, dtype=np.uint32))


def exact_similarity(set_a: bytes, set_b: bytes) -> float:
    """Two shingle-hash sets as bytes -> their exact Jaccard similarity."""
    return hash_set_jaccard(np.frombuffer(set_a, dtype=np.uint32), np.frombuffer(set_b, dtype=np.uint32))


class KeepSimilarPairsDoFn(beam.DoFn):
    """((left, sub), [('L', payload) | ('R', right, payload), ...]) -> (left, right) for
    every right whose payload is ``similarity``-close enough to the left one. Two passes
    over the values: one to find the left payload, one to compare."""

    def __init__(self, threshold: float, similarity):
        self._threshold = threshold
        self._similarity = similarity
        self.below = Metrics.counter(COUNTER_NAMESPACE, "pairs_below_threshold")
        self.verified = Metrics.counter(COUNTER_NAMESPACE, "pairs_verified")

    def process(self, element):
        (left, _), values = element
        left_payload = next((v[1] for v in values if v[0] == "L"), None)
        if left_payload is None:
            return
        verified = below = 0
        for value in values:
            if value[0] == "R":
                verified += 1
                if self._similarity(left_payload, value[2]) >= self._threshold:
                    yield left, value[1]
                else:
                    below += 1
        self.verified.inc(verified)
        if below:
            self.below.inc(below)


def tag(name):
    return lambda element: (element[0], (name, element[1]))


class NearDedup(beam.PTransform):
    """PCollection[(key, text)] -> (docs, rejects, counts): one document per near-duplicate
    component, or (``keepers="independent"``) removes documents that have a kept
    near-duplicate; counts: rounds used and unsettled documents for the manifest. With
    ``packed=True`` the input is ``(key, handle)`` as exact dedup leaves it (a
    packed text or a reference into ``runs``: ``glmprep.transforms.text_runs``): its
    text read for shingling, its handle passed on instead of the text packed again."""

    def __init__(self, options: MinHashOptions = MinHashOptions(), max_clique: int = MAX_CLIQUE_BUCKET,
                 packed: bool = False, runs: Optional[str] = None):
        super().__init__()
        self._options = options
        self._max_clique = max_clique
        self._packed = packed
        self._runs = runs

    def expand(self, docs):
        options = self._options
        by_components = options.keepers == "components"
        # (key, text, handle): the text for shingling, the handle to pass on
        if self._packed:
            docs = (docs
                    | "Handles" >> beam.Map(lambda doc: (doc[1], doc))
                    | "TextsForShingles" >> ResolveTexts(self._runs)
                    | "UnpackForShingles" >> beam.Map(lambda e: (e[1][0], unpack_text(e[0]), e[1][1])))
        else:
            docs = docs | "PackTexts" >> beam.Map(lambda doc: (doc[0], doc[1], pack_text(doc[1])))
        batches = (
            docs
            | "BatchDocs" >> beam.ParDo(BatchDocsDoFn())
            | "BandBatches" >> beam.ParDo(BandBatchDoFn(options, options.bands)).with_outputs(KEPT, main="batches"))
        # Without defaults: no batch, no sketch and no reader of it (a stage less than a
        # default would cost every run).
        sketch = (batches.batches
                  | "BandHashes" >> beam.Map(lambda batch: batch[2])
                  | "SketchBands" >> beam.CombineGlobally(BandSketchFn()).without_defaults())
        shared = batches.batches | "EmitBandKeys" >> beam.ParDo(
            EmitBandKeysDoFn(), sketch=beam.pvalue.AsSingleton(sketch, default_value=None)).with_output_types(
            Tuple[Any, Any]).with_outputs(
            CANDIDATE_DOC, KEPT, main="band_keys")
        requests = (
            shared.band_keys
            # band key -> [key, ...]
            | "GroupByBand" >> beam.GroupByKey()
            | "EmitVerifyRequests" >> beam.ParDo(EmitVerifyRequestsDoFn(
                self._max_clique, options.fan_out, min if by_components else first_in_keeper_order)))
        payload = {"exact": shingle_set_payload, "estimate": signature_payload, "none": no_payload}[options.verify]
        routed = (
            (shared[CANDIDATE_DOC] | "TagDocs" >> beam.Map(lambda e: (e[1], ("doc", e[0]))),
             requests | "TagRequests" >> beam.Map(tag("to")))
            | "FlattenDocsAndRequests" >> beam.Flatten()
            # key -> [('doc', handle) | ('to', (left, sub)), ...]
            | "GroupByDoc" >> beam.GroupByKey()
            | "RouteCandidates" >> beam.ParDo(RouteCandidateDoFn()).with_output_types(
                Tuple[Any, Any]).with_outputs(CANDIDATE, KEPT, main="requests"))
        # the candidates' texts read back (a run at a time) where their payloads are made
        payloads = (routed.requests
                    | "CandidateTexts" >> ResolveTexts(self._runs)
                    | "SendPayloads" >> beam.ParDo(SendPayloadDoFn(payload, options)).with_output_types(
                        Tuple[Any, Any]))
        if options.verify == "none":
            pairs = (payloads
                     | "RightsOnly" >> beam.Filter(lambda e: e[1][0] == "R")
                     | "Pair" >> beam.Map(lambda e: (e[0][0], e[1][1])))
        else:
            similarity = estimated_similarity if options.verify == "estimate" else exact_similarity
            pairs = (payloads
                     # (left, sub) -> [('L', payload) | ('R', right, payload), ...]
                     | "GroupByVerifyKey" >> beam.GroupByKey()
                     | "KeepSimilarPairs" >> beam.ParDo(KeepSimilarPairsDoFn(options.threshold, similarity)))
        keepers = (ConnectedComponents(options.rounds) if by_components
                   else SelectKeepers(options.finish_after, options.finish_limit))
        key_to_keeper, counts = pairs | "Keepers" >> keepers
        decided, rejects = (routed[CANDIDATE], key_to_keeper) | "Apply" >> ApplyDecisions(
            "near_dedup", "near_duplicate", "a near-duplicate of the kept document", COUNTER_NAMESPACE,
            "near_dup_removed", runs=self._runs)
        # Read back and unpacked after the flatten, so in the stage that uses the
        # documents: they cross the stage boundary as handles, in lists.
        kept = ((batches[KEPT], shared[KEPT], routed[KEPT], decided | "AsLists" >> beam.Map(lambda doc: [doc]))
                | "FlattenKept" >> beam.Flatten()
                | "KeptHandles" >> beam.FlatMap(handles_of)
                | "KeptTexts" >> ResolveTexts(self._runs)
                | "UnpackKept" >> beam.Map(lambda e: (e[1], unpack_text(e[0]))).with_output_types(Tuple[str, str]))
        return kept, rejects, counts


# --- command line -------------------------------------------------------------------------

def add_neardedup_arguments(parser) -> None:
    """The flags of ``MinHashOptions`` (``--near-dedup-threshold``, ``--num-perm``, ...)
    and ``--no-near-dedup``, generated from its fields."""
    add_option_arguments(parser, MinHashOptions, "near-duplicate removal")


def neardedup_options_from(namespace) -> Optional[MinHashOptions]:
    """The parsed options -> MinHashOptions, or None with --no-near-dedup.

    Raises ValueError naming the bad flag (e.g. a threshold outside (0, 1]).
    """
    values = option_values(namespace)
    fn_weight = values.get("false_negative_weight")
    fn_weight = MinHashOptions.false_negative_weight if fn_weight is None else float(fn_weight)
    if not 0.0 <= fn_weight <= 1.0:
        raise ValueError(f"--near-dedup-fn-weight must be in [0, 1] (the weights of missed and "
                         f"false pairs sum to 1), got {fn_weight}")
    return build(MinHashOptions, values, false_positive_weight=round(1.0 - fn_weight, 12))
