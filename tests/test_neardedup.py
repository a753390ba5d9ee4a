import argparse
import dataclasses
import json
import random

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from glmprep.core.lsh_bands import band_hashes
from glmprep.core.minhash import KEEPER_MODES, MinHashOptions, estimated_jaccard, signature
from glmprep.core.shingles import jaccard, shingles
from glmprep.schemas.rejects import make_reject
from glmprep.transforms.graph import (COUNTER_NAMESPACE, ROUNDS_USED, UNSETTLED, ConnectedComponents,
                                      SelectKeepers, first_in_keeper_order, keeper_priority)
from glmprep.transforms.neardedup import NearDedup, add_neardedup_arguments, neardedup_options_from

VOCAB = [f"w{i}" for i in range(20000)]


def random_words(seed, n):
    rng = random.Random(seed)
    return [rng.choice(VOCAB) for _ in range(n)]


def replace_block(words, start, length, seed):
    """A copy of ``words`` with ``length`` words from ``start`` replaced by fresh ones."""
    return words[:start] + random_words(seed, length) + words[start + length:]


def reject(key, keeper, text):
    return make_reject(key, "near_dedup", "near_duplicate", "a near-duplicate of the kept document", text,
                       kept_key=keeper)


def read_lines(directory, prefix):
    return [json.loads(line) for path in sorted(directory.glob(prefix + "*"))
            for line in path.read_text(encoding="utf-8").splitlines()]


COMPONENTS = MinHashOptions(keepers="components")
INDEPENDENT = MinHashOptions(keepers="independent")


def first_kept(keys, options):
    """The key a cluster of copies keeps under ``options.keepers``."""
    return min(keys) if options.keepers == "components" else first_in_keeper_order(keys)


def counters_of(result):
    """{counter name: value summed over the steps that count it (e.g. every keeper round)}."""
    counters = {}
    for c in result.metrics().query(MetricsFilter().with_namespace(COUNTER_NAMESPACE))["counters"]:
        counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + c.committed
    return counters


def write_near_dedup(docs, options, directory, name=""):
    """Applies NearDedup to the PCollection ``docs`` and writes its outputs for :func:`read_near_dedup`."""
    out_docs, out_rejects, counts = docs | f"NearDedup{name}" >> NearDedup(options)
    for label, pcoll in (("kept", out_docs), ("rejects", out_rejects), ("counts", counts)):
        _ = (pcoll
             | f"{label}{name}/ToJson" >> beam.Map(json.dumps)
             | f"{label}{name}/Write" >> beam.io.WriteToText(str(directory / f"{label}{name}-")))


def read_near_dedup(directory, name=""):
    """(kept docs sorted, rejects sorted by key) as :func:`write_near_dedup` wrote them."""
    kept = sorted(tuple(doc) for doc in read_lines(directory, f"kept{name}-"))
    rejects = sorted(read_lines(directory, f"rejects{name}-"), key=lambda r: r["key"])
    return kept, rejects


def read_counts(directory, name=""):
    """The manifest counts NearDedup produced: {name: n}."""
    return dict(read_lines(directory, f"counts{name}-"))


def run_near_dedup(tmp_path, docs, options=MinHashOptions(), pipeline_options=None, with_counts=False):
    """Runs NearDedup; returns (kept docs, rejects, counters by name[, manifest counts])."""
    pipeline = TestPipeline(options=pipeline_options)
    write_near_dedup(pipeline | beam.Create(docs), options, tmp_path)
    result = pipeline.run()
    result.wait_until_finish()
    kept, rejects = read_near_dedup(tmp_path)
    counts = read_counts(tmp_path)
    for path in tmp_path.iterdir():
        path.unlink()
    if with_counts:
        return kept, rejects, counters_of(result), counts
    return kept, rejects, counters_of(result)


def assert_near_dedup(docs, expected_kept_keys, expected_rejects, options=MinHashOptions()):
    with TestPipeline() as pipeline:
        kept, rejects, _ = pipeline | beam.Create(docs) | NearDedup(options)
        assert_that(kept | beam.Keys(), equal_to(expected_kept_keys), label="Kept")
        assert_that(rejects, equal_to(expected_rejects), label="Rejects")


def exact_jaccard(text_a, text_b, ngram=5):
    return jaccard(set(shingles(text_a, ngram)), set(shingles(text_b, ngram)))


def keys_in_keeper_order(n):
    """n document keys, the first kept first."""
    return sorted((f"k{i}" for i in range(n)), key=keeper_priority)


both_keeper_modes = pytest.mark.parametrize("options", [COMPONENTS, INDEPENDENT], ids=KEEPER_MODES)


def test_independent_keepers_are_the_default(tmp_path):
    # Every removal must point at a kept, verified near-duplicate (precision over chains):
    # on a chain A~B~C whose middle comes last, the default options keep both ends as
    # "independent" does, where "components" keeps one.
    a, b, c = chain_of_three()
    first, second, last = keys_in_keeper_order(3)
    docs = [(first, a), (second, c), (last, b)]
    kept_by_mode = {mode: run_near_dedup(tmp_path, docs, MinHashOptions(keepers=mode))[0] for mode in KEEPER_MODES}
    default_kept = run_near_dedup(tmp_path, docs)[0]
    assert default_kept == kept_by_mode["independent"]
    assert default_kept != kept_by_mode["components"]


@both_keeper_modes
def test_exact_copies_keep_one_copy(options):
    text = " ".join(random_words(1, 200))
    keys = ["k2", "k0", "k1", "k3"]
    keeper = first_kept(keys, options)
    assert keeper == ("k0" if options.keepers == "components" else keys_in_keeper_order(4)[0])
    assert_near_dedup([(key, text) for key in keys], [keeper],
                      [reject(key, keeper, text) for key in keys if key != keeper], options)


@both_keeper_modes
def test_one_word_edits_are_near_duplicates_in_english_and_chinese(options):
    words = random_words(2, 300)
    edited = list(words)
    edited[150] = "changed"
    rng = random.Random(3)
    zh = "".join(rng.choice("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年") for _ in range(400))
    zh_edited = zh[:200] + "变" + zh[201:]
    texts = {"en/a": " ".join(words), "en/b": " ".join(edited), "zh/a": zh, "zh/b": zh_edited}
    expected_kept, expected_rejects = [], []
    for lang in ("en", "zh"):
        keeper = first_kept([f"{lang}/a", f"{lang}/b"], options)
        removed = ({f"{lang}/a", f"{lang}/b"} - {keeper}).pop()
        expected_kept.append(keeper)
        expected_rejects.append(reject(removed, keeper, texts[removed]))
    assert_near_dedup(list(texts.items()), expected_kept, expected_rejects, options)


def chain_of_three(seed=4):
    """Texts A, B, C: B is a near-duplicate of A and of C (Jaccard ~0.89), A and C are not (~0.79)."""
    a = random_words(seed, 1000)
    b = replace_block(a, 100, 54, seed + 1)
    c = replace_block(b, 600, 54, seed + 2)
    texts = [" ".join(t) for t in (a, b, c)]
    assert exact_jaccard(texts[0], texts[1]) > 0.85
    assert exact_jaccard(texts[1], texts[2]) > 0.85
    assert exact_jaccard(texts[0], texts[2]) < 0.8
    return texts


def test_components_chain_is_one_component_keeping_its_smallest_key(tmp_path):
    # Three chains A~B~C (J(A, C) < 0.8), whose smallest key is on A, on B and on C. With
    # it on an end, the other end is removed in favour of a document it is not itself a
    # near-duplicate of: transitivity, as components mean.
    keys_of_abc = [("x/a", "x/b", "x/c"), ("y/b", "y/a", "y/c"), ("z/c", "z/b", "z/a")]
    docs = []
    for seed, keys in zip((4, 20, 40), keys_of_abc):
        docs += zip(keys, chain_of_three(seed))
    kept, rejects, counters = run_near_dedup(tmp_path, docs, COMPONENTS)
    assert [key for key, _ in kept] == ["x/a", "y/a", "z/a"]
    assert [(r["key"], r["kept_key"]) for r in rejects] == [
        (f"{chain}/{end}", f"{chain}/a") for chain in "xyz" for end in "bc"]
    assert counters["near_dup_keepers"] == 3
    assert counters["near_dup_removed"] == 6
    assert counters.get("near_dup_unconverged", 0) == 0


def test_components_long_chain_in_random_key_order_converges(tmp_path):
    # Each revision replaces 15 of 1000 words of the previous one: neighbours have
    # Jaccard ~0.93, documents ten steps apart well under 0.8; only transitivity joins them.
    rng = random.Random(8)
    words = random_words(9, 1000)
    chain = []
    for step in range(24):
        words = replace_block(words, (step * 97) % 900, 15, 100 + step)
        chain.append(" ".join(words))
    assert exact_jaccard(chain[0], chain[-1]) < 0.5
    keys = [f"doc{i:02d}" for i in range(len(chain))]
    rng.shuffle(keys)
    kept, rejects, counters = run_near_dedup(tmp_path, list(zip(keys, chain)), COMPONENTS)
    assert [key for key, _ in kept] == ["doc00"]
    assert {r["kept_key"] for r in rejects} == {"doc00"}
    assert len(rejects) == 23
    assert counters.get("near_dup_unconverged", 0) == 0


def test_independent_chain_removes_the_middle_and_keeps_both_ends(tmp_path):
    a, b, c = chain_of_three()
    first, second, last = keys_in_keeper_order(3)
    kept, rejects, counters = run_near_dedup(tmp_path, [(first, a), (second, c), (last, b)], INDEPENDENT)
    # B comes last in keeper order: the ends are kept, B goes in favour of the first of them.
    assert kept == sorted([(first, a), (second, c)])
    assert [(r["key"], r["kept_key"]) for r in rejects] == [(last, first)]
    assert counters["near_dup_keepers"] == 2  # each end is kept and has B removed


def test_independent_chain_whose_middle_comes_first_keeps_only_the_middle(tmp_path):
    a, b, c = chain_of_three()
    first, second, last = keys_in_keeper_order(3)
    kept, rejects, counters = run_near_dedup(tmp_path, [(second, a), (first, b), (last, c)], INDEPENDENT)
    assert kept == [(first, b)]
    assert sorted((r["key"], r["kept_key"]) for r in rejects) == [(last, first), (second, first)]
    assert counters["near_dup_removed"] == 2


def test_independent_long_chain_settles_with_every_removed_document_next_to_a_kept_one(tmp_path):
    # Sequential names, each a revision of the previous one: the worst order for keeping
    # by key, settled in a few rounds because keeper order is a hash of the key.
    words = random_words(9, 1000)
    chain = {}
    for step in range(40):
        words = replace_block(words, (step * 97) % 900, 15, 100 + step)
        chain[f"rev-{step:04d}"] = " ".join(words)
    kept, rejects, counters = run_near_dedup(tmp_path, list(chain.items()), INDEPENDENT)
    kept_keys = [key for key, _ in kept]
    assert counters.get("near_dup_unconverged", 0) == 0
    assert 2 <= len(kept_keys) < 20
    assert len(kept_keys) + len(rejects) == 40
    for r in rejects:
        keeper = r["kept_key"]
        assert keeper in kept_keys
        assert exact_jaccard(chain[r["key"]], chain[keeper]) >= 0.8
    for x, y in zip(kept_keys, kept_keys[1:]):
        assert exact_jaccard(chain[x], chain[y]) < 0.9  # a pair this close is never missed by banding


@both_keeper_modes
def test_giant_bucket_is_linear_not_quadratic(tmp_path, options):
    text = " ".join(random_words(10, 60))
    keys = [f"copy{i:04d}" for i in range(2000)]
    random.Random(16).shuffle(keys)
    keeper = first_kept(keys, options)
    kept, rejects, counters = run_near_dedup(tmp_path, [(key, text) for key in keys], options)
    assert kept == [(keeper, text)]
    assert len(rejects) == 1999
    assert {r["kept_key"] for r in rejects} == {keeper}
    bands = options.bands[0]
    assert counters["giant_buckets"] == bands
    assert counters["candidate_pairs"] == bands * 1999
    assert counters["near_dup_keepers"] == 1


@both_keeper_modes
def test_unrelated_documents_and_documents_without_words_are_all_kept(tmp_path, options):
    docs = [(f"d{i}", " ".join(random_words(100 + i, 80))) for i in range(30)] + [("empty", ""), ("blank", " \n")]
    kept, rejects, counters = run_near_dedup(tmp_path, docs, options)
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
    assert (band_hashes(np.stack([sig_a]), bands, rows) == band_hashes(np.stack([sig_b]), bands, rows)).any()  # a candidate pair
    assert exact_jaccard(a, b) < 0.8 <= estimated_jaccard(sig_a, sig_b)            # 0.784 vs 0.875
    _, rejects, _ = run_near_dedup(tmp_path, docs, MinHashOptions(verify="estimate"))
    assert [r["key"] for r in rejects] == ["b"]
    kept, rejects, counters = run_near_dedup(tmp_path, docs, MinHashOptions(verify="exact"))
    assert len(kept) == 2
    assert rejects == []
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


def test_keepers_are_deterministic_across_input_orders_and_runners(tmp_path):
    docs = corpus_with_clusters(13)
    shuffled = list(docs)
    random.Random(14).shuffle(shuffled)
    clusters = {}
    for key, _ in docs:
        clusters.setdefault(key.split("-")[0], []).append(key)
    multi = PipelineOptions(direct_running_mode="multi_processing", direct_num_workers=2)
    # Both keeper modes in each pipeline: one runner start-up per runner.
    for run, (inputs, pipeline_options) in enumerate([(shuffled, None), (docs, multi)]):
        pipeline = TestPipeline(options=pipeline_options)
        pcoll = pipeline | beam.Create(inputs)
        for options in (COMPONENTS, INDEPENDENT):
            write_near_dedup(pcoll, options, tmp_path / str(run), options.keepers)
        pipeline.run().wait_until_finish()
    for options in (COMPONENTS, INDEPENDENT):
        in_memory = read_near_dedup(tmp_path / "0", options.keepers)
        assert read_near_dedup(tmp_path / "1", options.keepers) == in_memory
        kept_keys = [key for key, _ in in_memory[0]]
        assert kept_keys == sorted(first_kept(keys, options) for keys in clusters.values())
        assert len(in_memory[1]) == len(docs) - 12


def union_find_keepers(edges):
    """Reference: {node: smallest key of its component} for every node of an edge."""
    parent = {n: n for edge in edges for n in edge}

    def find(n):
        while parent[n] != n:
            n = parent[n]
        return n

    for u, v in edges:
        ru, rv = find(u), find(v)
        parent[max(ru, rv)] = min(ru, rv)
    return {n: find(n) for n in parent}


def test_connected_components_match_union_find():
    rng = random.Random(15)
    nodes = [f"n{i:03d}" for i in range(120)]
    edges = [tuple(rng.sample(nodes, 2)) for _ in range(90)]
    expected = [(n, root) for n, root in union_find_keepers(edges).items() if n != root]
    with TestPipeline() as pipeline:
        decisions, _ = pipeline | beam.Create(edges) | ConnectedComponents()
        assert_that(decisions, equal_to(expected))


def test_unconverged_components_keep_more_but_never_remove_a_keeper():
    # A path in key order needs about log2(n) rounds; one round leaves it unsettled.
    nodes = [f"n{i:03d}" for i in range(64)]
    edges = list(zip(nodes, nodes[1:]))

    def check(decisions):
        removed = dict(decisions)
        assert 0 < len(removed) < 63
        assert all(keeper < key and keeper not in removed for key, keeper in removed.items())

    pipeline = TestPipeline()
    decisions, _ = pipeline | beam.Create(edges) | ConnectedComponents(rounds=1)
    assert_that(decisions, check)
    result = pipeline.run()
    result.wait_until_finish()
    assert counters_of(result)["near_dup_unconverged"] > 0


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
        decisions, _ = pipeline | beam.Create(edges) | SelectKeepers()
        assert_that(decisions, check)


def test_select_keepers_on_a_star_with_repeated_pairs_matches_sequential_greedy():
    """A star's centre with 3,000 neighbours, some pairs given twice and in both
    directions (a star and a small bucket can both yield a pair), plus a chain through
    partners: the rounds read each node's messages in passes (no neighbour sets), and a
    repeated pair changes nothing."""
    rng = random.Random(16)
    nodes = [f"p{i:04d}" for i in range(3000)]
    centre = min(nodes + ["hub"], key=keeper_priority)
    edges = [(centre, n) for n in nodes if n != centre]
    edges += [(b, a) for a, b in rng.sample(edges, 300)] + rng.sample(edges, 300)
    edges += [tuple(rng.sample(nodes, 2)) for _ in range(200)]
    kept, neighbours = greedy_keepers(set(nodes) | {centre}, edges)
    touched = {n for edge in edges for n in edge}

    def check(decisions):
        removed = dict(decisions)
        assert len(removed) == len(decisions)  # one decision per removed document
        assert set(removed) == touched - kept
        assert all(keeper in kept and keeper in neighbours[key] for key, keeper in removed.items())

    with TestPipeline() as pipeline:
        decisions, _ = pipeline | beam.Create(edges) | SelectKeepers()
        assert_that(decisions, check)


def test_command_line_options():
    parser = argparse.ArgumentParser()
    add_neardedup_arguments(parser)
    assert neardedup_options_from(parser.parse_args([])) == MinHashOptions()
    options = neardedup_options_from(parser.parse_args([
        "--near-dedup-threshold", "0.7", "--num-perm", "64", "--ngram", "3",
        "--near-dedup-fn-weight", "0.7", "--near-dedup-verify", "estimate", "--near-dedup-keepers", "independent"]))
    assert (options.threshold, options.num_perm, options.ngram) == (0.7, 64, 3)
    assert (options.false_positive_weight, options.false_negative_weight, options.verify) == (0.3, 0.7, "estimate")
    assert options.keepers == "independent"
    options = neardedup_options_from(parser.parse_args([
        "--near-dedup-rounds", "5", "--near-dedup-finish-after", "0", "--near-dedup-finish-limit", "10"]))
    assert (options.rounds, options.finish_after, options.finish_limit) == (5, 0, 10)
    with pytest.raises(ValueError, match="--near-dedup-finish-limit"):
        neardedup_options_from(parser.parse_args(["--near-dedup-finish-limit", "-1"]))
    assert neardedup_options_from(parser.parse_args(["--no-near-dedup"])) is None
    with pytest.raises(ValueError, match="--near-dedup-threshold"):
        neardedup_options_from(parser.parse_args(["--near-dedup-threshold", "1.5"]))
    with pytest.raises(ValueError, match="weights"):
        neardedup_options_from(parser.parse_args(["--near-dedup-fn-weight", "1.5"]))
    with pytest.raises(SystemExit):
        parser.parse_args(["--near-dedup-verify", "maybe"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--near-dedup-keepers", "largest"])


def near_identical_bucket(n, seed=30):
    """n documents that differ from one text in one word each: one LSH bucket per band."""
    words = random_words(seed, 200)
    docs = []
    for i in range(n):
        edited = list(words)
        edited[i % 200] = f"edit{i}"
        docs.append((f"near{i:04d}", " ".join(edited)))
    return docs


@both_keeper_modes
def test_bucket_verified_on_small_sub_keys_equals_the_unbounded_star(tmp_path, options):
    docs = near_identical_bucket(2000)
    bounded = run_near_dedup(tmp_path, docs, dataclasses.replace(options, fan_out=50))
    unbounded = run_near_dedup(tmp_path, docs, dataclasses.replace(options, fan_out=10 ** 9))
    assert bounded[0] == unbounded[0]
    assert len(bounded[0]) == 1
    assert bounded[1] == unbounded[1]
    assert len(bounded[1]) == 1999
    assert bounded[2]["candidate_pairs"] == unbounded[2]["candidate_pairs"]
    # Buckets of different sizes sharing a centre spread its partners over different
    # sub-keys; each left and right member is still verified once, as unbounded.
    assert bounded[2]["pairs_verified"] == unbounded[2]["pairs_verified"]


def test_a_pair_asked_for_at_several_sub_keys_of_one_left_is_verified_at_one():
    from glmprep.transforms.neardedup import RouteCandidateDoFn
    values = [("to", ("a", 3)), ("doc", b"handle"), ("to", ("a", 0)), ("to", ("b", 1)),
              ("to", ("k", 1)), ("to", ("k", 0)), ("to", ("a", 0))]
    out = list(RouteCandidateDoFn().process(("k", values)))
    assert out[0].tag == "candidate" and out[0].value == ("k", b"handle")
    # every sub-key k leads gets its payload; as a right member, one per left
    assert out[1:] == [(b"handle", ("k", [("a", 0), ("b", 1), ("k", 0), ("k", 1)]))]


def test_routing_sends_payloads_to_at_most_fan_out_partners_per_key():
    from glmprep.transforms.neardedup import EmitVerifyRequestsDoFn
    keys = [f"k{i:04d}" for i in range(1001)]
    requests = list(EmitVerifyRequestsDoFn(20, 100, min).process((b"band", keys)))
    per_destination = {}
    for _, destination in requests:
        per_destination[destination] = per_destination.get(destination, 0) + 1
    assert len(per_destination) == 10
    assert all(d[0] == "k0000" for d in per_destination)
    assert max(per_destination.values()) < 200  # about 100 partners (+1: the centre) each


@pytest.mark.parametrize("options", [COMPONENTS, INDEPENDENT], ids=KEEPER_MODES)
def test_a_chain_needing_more_rounds_than_allowed_reports_unsettled_documents(tmp_path, options):
    words = random_words(9, 1000)
    chain = []
    for step in range(40):
        words = replace_block(words, (step * 97) % 900, 15, 100 + step)
        chain.append(" ".join(words))
    # key order along the chain: the worst case for components; keeper-order ranks for
    # independent keepers, so that each round settles only the chain's local firsts
    keys = ([f"doc{i:02d}" for i in range(40)] if options.keepers == "components"
            else keys_in_keeper_order(40)[::2] + keys_in_keeper_order(40)[1::2])
    docs = list(zip(keys, chain))
    *_, settled = run_near_dedup(tmp_path, docs, options, with_counts=True)
    assert settled.get(UNSETTLED, 0) == 0
    assert settled[ROUNDS_USED] > 1
    # one round in Beam, and for independent keepers a rest too large to finish on one worker
    one_round = dataclasses.replace(options, rounds=1, finish_after=1, finish_limit=0)
    kept, rejects, counters, counts = run_near_dedup(tmp_path, docs, one_round, with_counts=True)
    assert counts[UNSETTLED] > 0
    assert counts[UNSETTLED] == counters["near_dup_unconverged"]
    assert counts[ROUNDS_USED] == 1
    kept_keys = {key for key, _ in kept}
    assert all(r["kept_key"] in kept_keys for r in rejects)  # never a removed keeper


def test_packed_input_gives_what_text_input_gives():
    """``NearDedup(packed=True)`` on (key, packed text), as exact dedup leaves documents before
    it (their packed bytes go on instead of the text packed again): the same kept documents
    and rejects as from the texts."""
    from glmprep.core.records import pack_text
    words = random_words(5, 300)
    edited = list(words)
    edited[100] = "changed"
    docs = [("a", " ".join(words)), ("b", " ".join(edited)), ("c", " ".join(random_words(6, 200))),
            ("d", "!!! ..."), ("e", "")]
    removed = first_removed(docs)
    expected_kept = sorted(doc for doc in docs if doc[0] != removed)
    expected_rejects = [reject(removed, ({"a", "b"} - {removed}).pop(), dict(docs)[removed])]
    with TestPipeline() as pipeline:
        kept, rejects, _ = pipeline | "Texts" >> beam.Create(docs) | "FromTexts" >> NearDedup(INDEPENDENT)
        kept_p, rejects_p, _ = (pipeline | "Packed" >> beam.Create([(key, pack_text(text)) for key, text in docs])
                                | "FromPacked" >> NearDedup(INDEPENDENT, packed=True))
        assert_that(kept, equal_to(expected_kept), label="Kept")
        assert_that(kept_p, equal_to(expected_kept), label="KeptFromPacked")
        assert_that(rejects, equal_to(expected_rejects), label="Rejects")
        assert_that(rejects_p, equal_to(expected_rejects), label="RejectsFromPacked")


def first_removed(docs):
    """Of the near-duplicates a and b, the one independent keepers remove."""
    return ({"a", "b"} - {first_kept(["a", "b"], INDEPENDENT)}).pop()
