"""glmprep.core.mixing: source specs, targets, deterministic sampling by key hash."""
from __future__ import annotations

import pytest

from glmprep.core.mixing import (MixOptions, SourceSpec, copies, copy_keys, mixing_rates, mixing_targets,
                                 parse_source, read_mixture, source_key, source_of, unit_hash)


def test_parse_source_forms():
    assert parse_source("web=data/*.jsonl.gz") == SourceSpec("web", ("data/*.jsonl.gz",))
    assert parse_source("web=gs://b/x/*.gz:2").weight == 2.0
    assert parse_source("web=gs://b/x/*.gz").inputs == ("gs://b/x/*.gz",)
    assert parse_source("code=a.jsonl:tokens=1.5k").tokens == 1500
    for bad in ("=x", "web", "we b=x", "web=x:0"):
        with pytest.raises(ValueError):
            parse_source(bad)


def test_mixture_file():
    sources, total = read_mixture('{"sources": [{"name": "a", "inputs": ["x"], "weight": 1},'
                                  ' {"name": "b", "inputs": ["y", "z"], "tokens": 10}], "tokens": 99}')
    assert [s.name for s in sources] == ["a", "b"] and sources[1].inputs == ("y", "z") and total == 99


def test_targets_and_rates():
    options = MixOptions((SourceSpec("a", ("x",), weight=1.0), SourceSpec("b", ("y",), weight=1.0)),
                         total_tokens=1000)
    assert mixing_targets({"a": 100, "b": 900}, options) == {"a": 500, "b": 500}
    assert mixing_rates({"a": 100, "b": 900}, options) == {"a": 5.0, "b": 500 / 900}
    assert mixing_rates({"a": 0, "b": 900}, options)["a"] == 0.0
    with pytest.raises(ValueError, match="repeat"):
        MixOptions((SourceSpec("a", ("x",)), SourceSpec("a", ("y",))))


def test_sampling_is_by_key_and_hits_the_rate():
    keys = [f"src/doc{i}" for i in range(20_000)]
    taken = [copies(k, 0.3, seed=0) for k in keys]
    assert taken == [copies(k, 0.3, seed=0) for k in keys]
    assert abs(sum(taken) / len(keys) - 0.3) < 0.02           # binomial sd 0.003
    assert taken != [copies(k, 0.3, seed=1) for k in keys]      # the seed matters
    assert {copies(k, 2.5, 0) for k in keys} == {2, 3}
    assert 0.0 <= min(unit_hash(0, k) for k in keys) and max(unit_hash(0, k) for k in keys) < 1.0


def test_keys_name_the_source_and_repeats_differ():
    key = source_key("wiki", "dump/a.jsonl:4")
    assert source_of(key) == "wiki"
    assert copy_keys(key, 3) == [key, key + "~mix1", key + "~mix2"]
    assert all(source_of(k) == "wiki" for k in copy_keys(key, 3))


def test_mix_sources_transform_balances():
    import apache_beam as beam
    import numpy as np
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from glmprep.core.records import pack
    from glmprep.transforms.mixing import MixSources

    def doc(key, n_tokens):
        return key, pack(np.arange(1, n_tokens + 1, dtype=np.uint32).tobytes())

    tokens = [doc(f"small/{i}", 10) for i in range(20)] + [doc(f"big/{i}", 10) for i in range(200)]
    options = MixOptions((SourceSpec("small", ("x",), weight=1.0), SourceSpec("big", ("y",), weight=1.0)))
    rates = {"small": 5.5, "big": 0.55}
    expected_small = sum(copies(f"small/{i}", rates["small"], 0) for i in range(20))
    expected_big = sum(copies(f"big/{i}", rates["big"], 0) for i in range(200))
    with TestPipeline() as p:
        mixed, rejects, summary = p | beam.Create(tokens) | MixSources(options)
        counts = mixed | "Sources" >> beam.Map(lambda kv: source_of(kv[0])) | "PerSource" >> beam.combiners.Count.PerElement()
        assert_that(counts, equal_to([("small", expected_small), ("big", expected_big)]), label="Counts")
        keys = mixed | "Keys" >> beam.Map(lambda kv: kv[0]) | "CountKeys" >> beam.combiners.Count.Globally()
        distinct = mixed | "Keys2" >> beam.Map(lambda kv: kv[0]) | beam.Distinct() | "CountDistinct" >> beam.combiners.Count.Globally()
        assert_that(distinct, equal_to([expected_small + expected_big]), label="DistinctKeys")
        assert_that(keys, equal_to([expected_small + expected_big]), label="Keys")
        assert_that(rejects | "Reasons" >> beam.Map(lambda r: (r["stage"], r["reason"])) | "PerReason" >> beam.combiners.Count.PerElement(),
                    equal_to([(("mixing", "mixing_dropped"), 200 - sum(copies(f"big/{i}", 0.55, 0) > 0
                                                                        for i in range(200)))]), label="Dropped")

        def check(summaries):
            [s] = summaries
            assert s["small"]["documents_before"] == 20 and s["small"]["target_tokens"] == 1100
            assert s["small"]["documents_after"] == expected_small and s["big"]["rate"] == 0.55
            # accounting: before - dropped + repeats = after, per source
            assert s["big"]["tokens_after"] == 10 * expected_big
        assert_that(summary, check, label="Summary")
