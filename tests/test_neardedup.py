import argparse
import json
import random

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from glmprep.minhash import MinHashOptions, band_keys, estimated_jaccard, jaccard, shingles, signature
from glmprep.records import make_reject
from glmprep.transforms.neardedup import (COUNTER_NAMESPACE, NearDedup, SelectKeepers, add_neardedup_arguments,
                                          first_in_keeper_order, keeper_priority, neardedup_options_from)

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


def exact_jaccard(text_a, text_b, ngram=5):
    return jaccard(set(shingles(text_a, ngram)), set(shingles(text_b, ngram)))


def keys_in_keeper_order(n):
    """n document keys, the first kept first."""
    return sorted((f"k{i}" for i in range(n)), key=keeper_priority)


def test_exact_copies_keep_the_first_key_in_keeper_order():
    text = " ".join(random_words(1, 200))
    first, second, third = keys_in_keeper_order(3)
    docs = [(third, text), (first, text), (second, text)]
    assert_near_dedup(docs, [first], [reject(second, first, text), reject(third, first, text)])


def test_one_word_edits_are_near_duplicates_in_english_and_chinese():
    words = random_words(2, 300)
    edited = list(words)
    edited[150] = "changed"
    rng = random.Random(3)
    zh = "".join(rng.choice("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年") for _ in range(400))
    zh_edited = zh[:200] + "变" + zh[201:]
    en_first, en_second = sorted(["en/a", "en/b"], key=keeper_priority)
    zh_first, zh_second = sorted(["zh/a", "zh/b"], key=keeper_priority)
    texts = {"en/a": " ".join(words), "en/b": " ".join(edited), "zh/a": zh, "zh/b": zh_edited}
    assert_near_dedup(list(texts.items()), [en_first, zh_first],
                      [reject(en_second, en_first, texts[en_second]), reject(zh_second, zh_first, texts[zh_second])])


def chain_of_three():
    """Texts A, B, C: B is a near-duplicate of A and of C (Jaccard ~0.89), A and C are not (~0.79)."""
    a = random_words(4, 1000)
    b = replace_block(a, 100, 54, 5)
    c = replace_block(b, 600, 54, 6)
    texts = [" ".join(t) for t in (a, b, c)]
    assert exact_jaccard(texts[0], texts[1]) > 0.85 and exact_jaccard(texts[1], texts[2]) > 0.85
    assert exact_jaccard(texts[0], texts[2]) < 0.8
    return texts


def test_chain_removes_the_middle_and_keeps_both_ends(tmp_path):
    a, b, c = chain_of_three()
    first, second, last = keys_in_keeper_order(3)
    kept, rejects, counters = run_near_dedup(tmp_path, [(first, a), (second, c), (last, b)])
    # B comes last in keeper order: the ends are kept, B goes in favour of the first of them.
    assert kept == sorted([(first, a), (second, c)])
    assert [(r["key"], r["detail"]) for r in rejects] == [(last, f"kept {first}")]
    assert counters["near_dup_keepers"] == 2  # each end is kept and has B removed


def test_chain_whose_middle_comes_first_keeps_only_the_middle(tmp_path):
    a, b, c = chain_of_three()
    first, second, last = keys_in_keeper_order(3)
    kept, rejects, counters = run_near_dedup(tmp_path, [(second, a), (first, b), (last, c)])
    assert kept == [(first, b)]
    assert sorted((r["key"], r["detail"]) for r in rejects) == [(last, f"kept {first}"), (second, f"kept {first}")]
    assert counters["near_dup_removed"] == 2


def test_long_chain_settles_with_every_removed_document_next_to_a_kept_one(tmp_path):
    # Sequential names, each a revision of the previous one: the worst order for keeping
    # by key, settled in a few rounds because keeper order is a hash of the key.
    words = random_words(9, 1000)
    chain = {}
    for step in range(40):
        words = replace_block(words, (step * 97) % 900, 15, 100 + step)
        chain[f"rev-{step:04d}"] = " ".join(words)
    kept, rejects, counters = run_near_dedup(tmp_path, list(chain.items()))
    kept_keys = [key for key, _ in kept]
    assert counters.get("near_dup_unconverged", 0) == 0
    assert 2 <= len(kept_keys) < 20 and len(kept_keys) + len(rejects) == 40
    for r in rejects:
        keeper = r["detail"].removeprefix("kept ")
        assert keeper in kept_keys and exact_jaccard(chain[r["key"]], chain[keeper]) >= 0.8
    for x, y in zip(kept_keys, kept_keys[1:]):
        assert exact_jaccard(chain[x], chain[y]) < 0.9  # a pair this close is never missed by banding


def test_giant_bucket_is_linear_not_quadratic(tmp_path):
    text = " ".join(random_words(10, 60))
    keys = [f"copy{i:04d}" for i in range(2000)]
    keeper = first_in_keeper_order(keys)
    kept, rejects, counters = run_near_dedup(tmp_path, [(key, text) for key in keys])
    assert kept == [(keeper, text)]
    assert len(rejects) == 1999 and {r["detail"] for r in rejects} == {f"kept {keeper}"}
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


@pytest.mark.parametrize("verify,removed", [("none", ["b"]), ("exact", [])])
def test_verification_drops_pairs_far_below_the_threshold(tmp_path, verify, removed):
    # Jaccard ~0.58. Weighting only false negatives makes banding call nearly any pair a
    # candidate; verification against the 0.9 threshold drops this one.
    words = random_words(11, 400)
    docs = [("a", " ".join(words)), ("b", " ".join(replace_block(words, 100, 100, 12)))]
    options = MinHashOptions(threshold=0.9, false_positive_weight=0.0, false_negative_weight=1.0, verify=verify)
    _, rejects, counters = run_near_dedup(tmp_path, docs, options)
    assert [r["key"] for r in rejects] == removed
    assert counters.get("pairs_below_threshold", 0) == (0 if verify == "none" else 1)


def test_exact_verification_drops_a_pair_the_estimate_lets_through(tmp_path):
    words = random_words(12, 400)
    docs = [("a", " ".join(words)), ("b", " ".join(replace_block(words, 100, 44, 1012)))]
    (_, a), (_, b) = docs
    sig_a, sig_b = signature(a), signature(b)
    bands, rows = MinHashOptions().bands
    assert set(band_keys(sig_a, bands, rows)) & set(band_keys(sig_b, bands, rows))  # a candidate pair
    assert exact_jaccard(a, b) < 0.8 <= estimated_jaccard(sig_a, sig_b)            # 0.784 vs 0.875
    _, rejects, _ = run_near_dedup(tmp_path, docs, MinHashOptions(verify="estimate"))
    assert [r["key"] for r in rejects] == ["b"]
    kept, rejects, counters = run_near_dedup(tmp_path, docs, MinHashOptions(verify="exact"))
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


def greedy_keepers(nodes, edges):
    """Reference: keep documents one at a time in keeper order, unless a kept one is a neighbour."""
    neighbours = {n: set() for n in nodes}
    for u, v in edges:
        neighbours[u].add(v)
        neighbours[v].add(u)
    kept = set()
    for node in sorted(nodes, key=keeper_priority):
        if not neighbours[node] & kept:
            kept.add(node)
    return kept, neighbours


def test_select_keepers_matches_sequential_greedy():
    rng = random.Random(15)
    nodes = [f"n{i:03d}" for i in range(120)]
    edges = [tuple(rng.sample(nodes, 2)) for _ in range(150)]
    kept, neighbours = greedy_keepers(nodes, edges)
    touched = {n for edge in edges for n in edge}

    def check(decisions):
        removed = dict(decisions)
        assert set(removed) == touched - kept  # the same removals as one-at-a-time greedy
        assert all(keeper in kept and keeper in neighbours[key] for key, keeper in removed.items())

    with TestPipeline() as pipeline:
        decisions = pipeline | beam.Create(edges) | SelectKeepers()
        assert_that(decisions, check)


def test_command_line_options():
    parser = argparse.ArgumentParser()
    add_neardedup_arguments(parser)
    assert neardedup_options_from(parser.parse_args([])) == MinHashOptions()
    options = neardedup_options_from(parser.parse_args([
        "--near-dedup-threshold", "0.7", "--num-perm", "64", "--ngram", "3",
        "--near-dedup-fn-weight", "0.7", "--near-dedup-verify", "estimate"]))
    assert (options.threshold, options.num_perm, options.ngram) == (0.7, 64, 3)
    assert (options.false_positive_weight, options.false_negative_weight, options.verify) == (0.3, 0.7, "estimate")
    assert neardedup_options_from(parser.parse_args(["--no-near-dedup"])) is None
    with pytest.raises(ValueError, match="--near-dedup-threshold"):
        neardedup_options_from(parser.parse_args(["--near-dedup-threshold", "1.5"]))
    with pytest.raises(ValueError, match="weights"):
        neardedup_options_from(parser.parse_args(["--near-dedup-fn-weight", "1.5"]))
    with pytest.raises(SystemExit):
        parser.parse_args(["--near-dedup-verify", "maybe"])
