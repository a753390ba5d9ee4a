"""Texts waiting in run files: handles out, the same packed texts back, and deduplication
through references giving exactly what it gives with the texts in the shuffles."""
from __future__ import annotations

import math
import os
import random

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from glmprep.core.minhash import MinHashOptions
from glmprep.core.records import pack_text
from glmprep.transforms.dedup import ExactDedup
from glmprep.transforms.neardedup import NearDedup
from glmprep.transforms.publish import OutputWriteError
from glmprep.transforms.text_runs import (ReadRunDoFn, ResolveTexts, RouteHandlesDoFn, SpillTextsDoFn, is_reference,
                                          run_path, spill_texts)
from glmprep.transforms.unique_keys import UniqueKeys

TWO_WORKERS = PipelineOptions(direct_running_mode="multi_processing", direct_num_workers=2)


def run_files(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".run"))


def test_short_texts_are_their_own_handles_and_long_ones_point_into_one_run(tmp_path):
    texts = [b"x" * 10, b"y" * 300, b"", b"z" * 70]
    handles = spill_texts(str(tmp_path), texts, inline_bytes=64)
    assert handles[0] == texts[0] and handles[2] == b""
    assert is_reference(handles[1]) and is_reference(handles[3])
    assert handles[1][0] == handles[3][0]  # one run per call
    assert len(run_files(tmp_path)) == 1
    with open(run_path(str(tmp_path), handles[1][0]), "rb") as fh:
        data = fh.read()
    for i in (1, 3):
        _, offset, length = handles[i]
        assert data[offset:offset + length] == texts[i]


def test_no_run_file_when_every_text_is_short(tmp_path):
    assert spill_texts(str(tmp_path), [b"a", b"b"], inline_bytes=64) == [b"a", b"b"]
    assert run_files(tmp_path) == []


def texts_of(n, seed=0):
    rng = random.Random(seed)
    return [(f"k{i:04d}", bytes(rng.randrange(256) for _ in range(rng.choice((0, 5, 63, 64, 65, 400)))))
            for i in range(n)]


@pytest.mark.parametrize("options", [None, TWO_WORKERS], ids=["in_memory", "2 workers"])
def test_spilled_and_resolved_texts_come_back_unchanged(tmp_path, options):
    docs = texts_of(300)
    directory = str(tmp_path)
    with TestPipeline(options=options) as p:
        resolved = (p | beam.Create(docs)
                    # a run every few documents: many runs, each read once
                    | beam.ParDo(SpillTextsDoFn(directory, max_bytes=1500, inline_bytes=64))
                    | "Handles" >> beam.Map(lambda doc: (doc[1], doc[0]))
                    | ResolveTexts(directory)
                    | "Docs" >> beam.Map(lambda e: (e[1], e[0])))
        assert_that(resolved, equal_to(docs))
    assert len(run_files(tmp_path)) > 3


@pytest.mark.parametrize("options", [None, TWO_WORKERS], ids=["in_memory", "2 workers"])
def test_a_run_is_read_back_a_piece_per_group(tmp_path, options):
    """With pieces of 2,000 bytes, one run of about 30 KB is some fifteen groups, each
    reading its own part of the run; every text comes back once."""
    directory = str(tmp_path)
    docs = [(f"k{i:03d}", f"text {i} ".encode() * 40) for i in range(100)]
    handles = spill_texts(directory, [packed for _, packed in docs], inline_bytes=64)
    assert len({h[0] for h in handles}) == 1
    pieces = {key for h in handles for key, _ in RouteHandlesDoFn(piece_bytes=2000).process((h, "k"))}
    assert len(pieces) == math.ceil(sum(len(p) for _, p in docs) / 2000)
    with beam.Pipeline(options=options) as p:
        resolved = (p | beam.Create([(h, key) for (key, _), h in zip(docs, handles)])
                    | ResolveTexts(directory, piece_bytes=2000)
                    | "Docs" >> beam.Map(lambda e: (e[1], e[0])))
        assert_that(resolved, equal_to(docs))


def test_a_run_cut_short_is_an_error_not_fewer_texts(tmp_path):
    (handle,) = spill_texts(str(tmp_path), [b"q" * 500], inline_bytes=64)
    name, offset, length = handle
    with open(run_path(str(tmp_path), name), "r+b") as fh:
        fh.truncate(length - 1)
    with pytest.raises(EOFError, match="ends before byte 500"):
        list(ReadRunDoFn(str(tmp_path)).process((f"{name}/0", [(offset, length, "k")])))


def test_a_reference_without_a_runs_directory_is_refused(tmp_path):
    with pytest.raises(Exception, match="no runs directory"):
        with TestPipeline() as p:
            _ = p | beam.Create([(("0" * 32, 0, 10), "k")]) | ResolveTexts(None)


CORPUS = ([(f"doc{i:03d}", f"document number {i} " + "some longer words here " * (i % 7) * 5) for i in range(60)]
          + [(f"copy{i}", "the same licence header, copied many times. " * 4) for i in range(25)]
          + [(f"near{i}", "a page about trains and stations " * 10 + f"edition {i}") for i in range(12)])


@pytest.mark.parametrize("options", [None, TWO_WORKERS], ids=["in_memory", "2 workers"])
def test_dedup_through_references_equals_dedup_through_texts(tmp_path, options):
    directory = str(tmp_path)
    records = CORPUS + [("doc001", "another text under an id already used"), ("doc002", CORPUS[2][1])]
    near = MinHashOptions(threshold=0.7)
    # (defined here: the 2-worker runner's workers cannot import this module)
    reject_summary = lambda r: (r["key"], r["stage"], r["reason"], r.get("kept_key"), r["preview"])  # noqa: E731
    with TestPipeline(options=options) as p:
        results = {}
        for name, runs in (("texts", None), ("runs", directory)):
            read = p | f"Create[{name}]" >> beam.Create(records)
            docs, key_rejects, _ = read | f"Keys[{name}]" >> UniqueKeys("keep", runs=runs)
            docs, exact_rejects = docs | f"Exact[{name}]" >> ExactDedup(unpack=False, runs=runs)
            docs, near_rejects, _ = docs | f"Near[{name}]" >> NearDedup(near, packed=True, runs=runs)
            rejects = ((key_rejects, exact_rejects, near_rejects) | f"Rejects[{name}]" >> beam.Flatten()
                       | f"Summary[{name}]" >> beam.Map(reject_summary))
            results[name] = (docs, rejects)
        texts_docs, texts_rejects = results["texts"]
        runs_docs, runs_rejects = results["runs"]

        def compare(_, docs, rejects, other_docs, other_rejects):
            return (sorted(docs) == sorted(other_docs), sorted(rejects) == sorted(other_rejects),
                    len(other_docs) + len(other_rejects), sorted({r[1] for r in other_rejects}))

        outcome = p | beam.Create([None]) | beam.Map(
            compare, beam.pvalue.AsList(texts_docs), beam.pvalue.AsList(texts_rejects),
            beam.pvalue.AsList(runs_docs), beam.pvalue.AsList(runs_rejects))
        # the same documents and rejects, every record accounted for, every stage rejecting
        assert_that(outcome, equal_to([(True, True, len(records), ["exact_dedup", "near_dedup", "read"])]))
    assert run_files(tmp_path)  # the texts did wait in runs


def test_a_run_that_cannot_be_written_is_one_clear_error(tmp_path):
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_bytes(b"")
    with pytest.raises(OutputWriteError, match="cannot write document texts to .*a-file"):
        spill_texts(str(not_a_directory), [b"w" * 100])
    assert sorted(os.listdir(tmp_path)) == ["a-file"]
