import argparse
import json
import random

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from glmprep.minhash import MinHashOptions
from glmprep.records import make_reject
from glmprep.transforms.neardedup import (COUNTER_NAMESPACE, ConnectedComponents, NearDedup,
                                          add_neardedup_arguments, neardedup_options_from)

VOCAB = [f"w{i}" for i in range(20000)]


def random_words(seed, n):
    rng = random.Random(seed)
    return [rng.choice(VOCAB) for _ in range(n)]


def replace_block(words, start, length, seed):
    """A copy of ``words`` with ``length`` words from ``start`` replaced by fresh ones."""
    return words[:start] + random_words(seed, length) + words[start + length:]


def reject(key, keeper, text):
    return make_reject(key, "near_dedup", "near_duplicate", f"kept {keeper}", text)


def read_lines(directory, prefix):
    return [json.loads(line) for path in sorted(directory.glob(prefix + "*"))
            for line in path.read_text(encoding="utf-8").splitlines()]


def run_near_dedup(tmp_path, docs, options=MinHashOptions(), pipeline_options=None):
    """Runs NearDedup; returns (kept docs, rejects, counters by name)."""
    pipeline = TestPipeline(options=pipeline_options)
    out_docs, out_rejects = pipeline | beam.Create(docs) | NearDedup(options)
    out_docs | "DocsToJson" >> beam.Map(json.dumps) | "WriteDocs" >> beam.io.WriteToText(str(tmp_path / "kept"))
    out_rejects | "RejectsToJson" >> beam.Map(json.dumps) | "WriteRejects" >> beam.io.WriteToText(
        str(tmp_path / "rejects"))
    result = pipeline.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed
                for c in result.metrics().query(MetricsFilter().with_namespace(COUNTER_NAMESPACE))["counters"]}
    kept = sorted(tuple(doc) for doc in read_lines(tmp_path, "kept"))
    rejects = sorted(read_lines(tmp_path, "rejects"), key=lambda r: r["key"])
    for path in tmp_path.iterdir():
        path.unlink()
    return kept, rejects, counters


def assert_near_dedup(docs, expected_kept_keys, expected_rejects, options=MinHashOptions()):
    with TestPipeline() as pipeline:
        kept, rejects = pipeline | beam.Create(docs) | NearDedup(options)
        assert_that(kept | beam.Keys(), equal_to(expected_kept_keys), label="Kept")
        assert_that(rejects, equal_to(expected_rejects), label="Rejects")


def test_exact_copies_keep_the_smallest_key():
    text = " ".join(random_words(1, 200))
    docs = [("k2", text), ("k0", text), ("k1", text)]
    assert_near_dedup(docs, ["k0"], [reject("k1", "k0", text), reject("k2", "k0", text)])


def test_one_word_edits_are_near_duplicates_in_english_and_chinese():
    words = random_words(2, 300)
    edited = list(words)
    edited[150] = "changed"
    rng = random.Random(3)
    zh = "".join(rng.choice("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年") for _ in range(400))
    zh_edited = zh[:200] + "变" + zh[201:]
    docs = [("en/a", " ".join(words)), ("en/b", " ".join(edited)), ("zh/a", zh), ("zh/b", zh_edited)]
    assert_near_dedup(docs, ["en/a", "zh/a"],
                      [reject("en/b", "en/a", " ".join(edited)), reject("zh/b", "zh/a", zh_edited)])


def test_chain_is_one_component_with_one_keeper(tmp_path):
    # Each step replaces a fresh block of 20 of 1000 words: neighbours have Jaccard ~0.96
    # (banding misses such a pair with probability < 1e-3), the ends only ~0.75, so only
    # transitivity puts all six together.
    texts = [random_words(4, 1000)]
    for step in range(5):
        texts.append(replace_block(texts[-1], 150 * step, 20, 5 + step))
    docs = list(zip(["m", "c", "z", "b", "q", "d"], (" ".join(t) for t in texts)))
    kept, rejects, counters = run_near_dedup(tmp_path, docs)
    assert [key for key, _ in kept] == ["b"]
    assert [(r["key"], r["detail"]) for r in rejects] == [(k, "kept b") for k in "cdmqz"]
    assert counters["near_dup_clusters"] == 1
    assert counters["near_dup_removed"] == 5
    assert counters.get("near_dup_unconverged", 0) == 0


def test_long_chain_in_random_key_order_converges(tmp_path):
    rng = random.Random(8)
    words = random_words(9, 1000)
    chain = []
    for step in range(24):
        words = replace_block(words, (step * 97) % 900, 15, 100 + step)
        chain.append(" ".join(words))
    keys = [f"doc{i:02d}" for i in range(len(chain))]
    rng.shuffle(keys)
    kept, rejects, counters = run_near_dedup(tmp_path, list(zip(keys, chain)))
    assert [key for key, _ in kept] == ["doc00"]
    assert {r["detail"] for r in rejects} == {"kept doc00"} and len(rejects) == 23
    assert counters.get("near_dup_unconverged", 0) == 0


def test_giant_bucket_is_linear_not_quadratic(tmp_path):
    text = " ".join(random_words(10, 60))
    docs = [(f"copy{i:04d}", text) for i in range(2000)]
    kept, rejects, counters = run_near_dedup(tmp_path, docs)
    assert kept == [("copy0000", text)]
    assert len(rejects) == 1999 and {r["detail"] for r in rejects} == {"kept copy0000"}
    bands = MinHashOptions().bands[0]
    assert counters["giant_buckets"] == bands
    assert counters["candidate_pairs"] == bands * 1999


def test_unrelated_documents_and_documents_without_words_are_all_kept(tmp_path):
    docs = [(f"d{i}", " ".join(random_words(100 + i, 80))) for i in range(30)] + [("empty", ""), ("blank", " \n")]
    kept, rejects, counters = run_near_dedup(tmp_path, docs)
    assert kept == sorted(docs)
    assert rejects == []
    assert counters.get("near_dup_removed", 0) == 0
    assert counters["no_shingles"] == 2


def test_verification_drops_pairs_below_the_threshold(tmp_path):
    # Jaccard ~0.58. Weighting only false negatives makes banding call nearly any pair a
    # candidate; verification against the 0.9 threshold then drops this one.
    words = random_words(11, 400)
    docs = [("a", " ".join(words)), ("b", " ".join(replace_block(words, 100, 100, 12)))]
    eager = dict(threshold=0.9, false_positive_weight=0.0, false_negative_weight=1.0)
    _, rejects, _ = run_near_dedup(tmp_path, docs, MinHashOptions(**eager, verify=False))
    assert [r["key"] for r in rejects] == ["b"]
    kept, rejects, counters = run_near_dedup(tmp_path, docs, MinHashOptions(**eager, verify=True))
    assert len(kept) == 2 and rejects == []
    assert counters["pairs_below_threshold"] == 1


def corpus_with_clusters(seed):
    rng = random.Random(seed)
    docs = []
    for cluster in range(12):
        words = random_words(1000 + cluster, 300)
        for copy in range(rng.randint(1, 4)):
            edited = list(words)
            for i in rng.sample(range(300), 2):
                edited[i] = "edit"
            docs.append((f"c{cluster:02d}-{rng.randrange(10**6):06d}", " ".join(edited)))
    rng.shuffle(docs)
    return docs


def test_keeper_is_deterministic_across_runs_input_orders_and_runners(tmp_path):
    docs = corpus_with_clusters(13)
    first = run_near_dedup(tmp_path, docs)
    shuffled = list(docs)
    random.Random(14).shuffle(shuffled)
    assert run_near_dedup(tmp_path, shuffled)[:2] == first[:2]
    multi = PipelineOptions(direct_running_mode="multi_processing", direct_num_workers=2)
    assert run_near_dedup(tmp_path, docs, pipeline_options=multi)[:2] == first[:2]
    kept_keys = [key for key, _ in first[0]]
    assert len({key.split("-")[0] for key in kept_keys}) == len(kept_keys) == 12


def test_connected_components_match_union_find():
    rng = random.Random(15)
    nodes = [f"n{i:03d}" for i in range(120)]
    edges = [tuple(rng.sample(nodes, 2)) for _ in range(90)]
    parent = {n: n for n in nodes}

    def find(n):
        while parent[n] != n:
            n = parent[n]
        return n

    for u, v in edges:
        ru, rv = find(u), find(v)
        parent[max(ru, rv)] = min(ru, rv)
    touched = {n for edge in edges for n in edge}
    expected = [(n, find(n)) for n in touched if find(n) != n]
    with TestPipeline() as pipeline:
        labels = pipeline | beam.Create(edges) | ConnectedComponents()
        assert_that(labels, equal_to(expected))


def test_command_line_options():
    parser = argparse.ArgumentParser()
    add_neardedup_arguments(parser)
    assert neardedup_options_from(parser.parse_args([])) == MinHashOptions()
    options = neardedup_options_from(parser.parse_args(["--near-dedup-threshold", "0.7", "--num-perm", "64",
                                                        "--ngram", "3"]))
    assert (options.threshold, options.num_perm, options.ngram) == (0.7, 64, 3)
    assert neardedup_options_from(parser.parse_args(["--no-near-dedup"])) is None
    with pytest.raises(ValueError, match="--near-dedup-threshold"):
        neardedup_options_from(parser.parse_args(["--near-dedup-threshold", "1.5"]))
