"""glmprep.core.decontaminate: overlapping and non-overlapping documents, EN and ZH, items."""
from __future__ import annotations

import json

import numpy as np

from glmprep.core.decontaminate import BenchmarkIndex, item_ngrams, ngram_hashes, read_items, word_hashes

QUESTION = "Which of the following best describes the function of the mitochondria in a eukaryotic cell?"
ZH_QUESTION = "下列关于中华人民共和国宪法的说法中正确的是哪一项"


def index(**kwargs) -> BenchmarkIndex:
    return BenchmarkIndex.build([("mmlu.jsonl", "id bio-1", QUESTION), ("ceval.jsonl", "line 3", ZH_QUESTION),
                                 ("tiny.txt", "line 1", "too short")], **kwargs)


def test_overlapping_documents_name_their_item():
    idx = index()
    doc = "Study guide. WHICH of the following best describes the role of the mitochondria in a eukaryotic cell?"
    assert idx.first_match("Quiz: " + QUESTION.lower() + " (A) energy") == "mmlu.jsonl: id bio-1"
    assert idx.first_match(doc) is None  # every 13-gram of the item holds 'function'
    assert idx.first_match("练习题：下列关于中华人民共和国宪法的说法中，正确的是？") == "ceval.jsonl: line 3"


def test_non_overlapping_documents_pass():
    idx = index()
    assert idx.first_match("The mitochondria is the powerhouse of the cell, as every student learns.") is None
    assert idx.first_match("宪法是国家的根本法。") is None
    assert BenchmarkIndex().first_match(QUESTION) is None


def test_short_items_match_whole_and_very_short_not_at_all():
    assert item_ngrams("too short")[0] == 0
    length, _ = item_ngrams("what is the capital city of france today")
    assert length == 8
    idx = BenchmarkIndex.build([("q.txt", "line 1", "What is the capital city of France today?")])
    assert idx.first_match("Trivia: what is the capital city of France today? Paris.") == "q.txt: line 1"


def test_hashes_are_deterministic_and_window_exact():
    words = "a b c d a b c d".split()
    assert word_hashes(words).tolist() == word_hashes(words).tolist()
    grams = ngram_hashes(word_hashes(words), 4)
    assert grams[0] == grams[4] and len(np.unique(grams)) == 4


def test_the_first_item_owns_a_shared_ngram():
    idx = BenchmarkIndex.build([("a.txt", "line 2", QUESTION), ("b.txt", "line 1", QUESTION)])
    assert idx.first_match(QUESTION) == "a.txt: line 2" and len(idx.items) == 2


def test_read_items_jsonl_and_text():
    lines = [json.dumps({"id": "q7", "question": "Q?", "choices": ["x", "y"]}), "", json.dumps({"text": "T"})]
    assert list(read_items("b.jsonl", lines)) == [("id q7", "Q?\nx\ny"), ("line 3", "T")]
    assert list(read_items("b.txt", ["first item", "", "second"])) == [("line 1", "first item"), ("line 3", "second")]


def test_decontaminate_transform(tmp_path):
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from glmprep.transforms.decontaminate import Decontaminate

    bench_file = tmp_path / "mmlu.jsonl"
    bench_file.write_text(json.dumps({"id": "bio-1", "question": QUESTION, "choices": ["a", "b"]}) + "\n")
    text_file = tmp_path / "ceval.txt"
    text_file.write_text("\n" + ZH_QUESTION + "\n", encoding="utf-8")
    docs = [("clean", "A document about cells that shares nothing long with any question."),
            ("dirty", "Practice: " + QUESTION + " Answer: A"),
            ("zh", "题目：" + ZH_QUESTION + "？")]
    with TestPipeline() as p:
        kept, rejects, summary = p | beam.Create(docs) | Decontaminate([str(bench_file), str(text_file)])
        assert_that(summary | beam.Map(lambda s: (s["items"], s["ngram_words"])), equal_to([(2, 13)]),
                    label="Summary")
        assert_that(kept, equal_to(docs[:1]), label="Kept")
        assert_that(rejects | beam.Map(lambda r: (r["key"], r["stage"], r["reason"], r["detail"])),
                    equal_to([("dirty", "decontaminate", "contaminated", f"{bench_file}: id bio-1"),
                              ("zh", "decontaminate", "contaminated", f"{text_file}: line 2")]), label="Rejects")


def test_bloom_filter_never_misses_and_zero_bits_say_maybe():
    from glmprep.core.decontaminate import BloomFilter, candidate_ngrams, item_ngrams

    _, grams = item_ngrams(QUESTION)
    bloom = BloomFilter(1 << 16)
    bloom.add(grams)
    assert bloom.might_contain(grams).all()
    others = np.arange(1, 10_001, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    assert bloom.might_contain(others).mean() < 0.01   # 65,536 bits for a dozen n-grams
    assert BloomFilter(0).might_contain(others).all()
    half = BloomFilter(1 << 16).merge(bloom)
    assert half.might_contain(grams).all()
    hashes, ranks = candidate_ngrams("Quiz: " + QUESTION, (13,), bloom)
    assert len(hashes) == len(grams) and ranks.tolist() == [13 * 0 + 0 + r for r in range(1, len(grams) + 1)]


SHORT_ITEM = "What is the capital city of France today?"


def check_decontaminate(tmp_path, docs, kept_keys, rejected, index, **kwargs):
    """Runs ``Decontaminate`` on ``docs`` and asserts the kept keys, the ``(key, detail)``
    of the rejects and the summary (with ``index`` as the way taken)."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from glmprep.transforms.decontaminate import Decontaminate

    first = tmp_path / "mmlu.jsonl"
    first.write_text(json.dumps({"id": "bio-1", "question": QUESTION, "choices": ["a", "b"]}) + "\n"
                     + json.dumps({"id": "geo-1", "question": SHORT_ITEM}) + "\n")
    second = tmp_path / "ceval.txt"
    second.write_text(ZH_QUESTION + "\n" + QUESTION + "\n", encoding="utf-8")  # QUESTION again: mmlu owns it
    texts = dict(docs)
    with TestPipeline() as p:
        kept, rejects, summary = p | beam.Create(docs) | Decontaminate([str(first), str(second)], **kwargs)
        assert_that(kept, equal_to([(k, texts[k]) for k in kept_keys]), label="Kept")
        assert_that(rejects | beam.Map(lambda r: (r["key"], r["detail"], r["preview"] == texts[r["key"]][:200])),
                    equal_to([(k, d, True) for k, d in rejected.items()]), label="Rejects")
        assert_that(summary | beam.Map(lambda s: (s["index"], s["items"], s["ngram_words"], s["files"])),
                    equal_to([(index, 4, 13, [str(first), str(second)])]), label="Summary")


def stage_docs():
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi".split()
    docs = [(f"clean-{i}", " ".join(words[i:] + words[:i]) + " the end of a clean text.") for i in range(12)]
    docs += [("long", "Practice: " + QUESTION + " Answer: A"),
             ("short-first", "Trivia: " + SHORT_ITEM + " Also: " + QUESTION),
             ("long-first", QUESTION + " and then " + SHORT_ITEM),
             ("zh", "题目：" + ZH_QUESTION + "？"),
             ("near-miss", "Which of the following best describes the role of the mitochondria in a cell?")]
    # a hash many documents share (hot with max_group=2)
    docs += [(f"copy-{i}", f"Copy {i}: {QUESTION}") for i in range(6)]
    return docs


def test_side_input_and_keyed_join_reject_the_same_documents(tmp_path):
    """The exact index, Bloom filters that flag most n-grams or a few, and none at all
    (the join alone; with max_group=2 the shared hash goes through the side input of hot
    hashes) reject the same documents for the same items."""
    docs = stage_docs()
    mmlu, ceval = tmp_path / "mmlu.jsonl", tmp_path / "ceval.txt"
    rejected = {"long": f"{mmlu}: id bio-1", "short-first": f"{mmlu}: id geo-1", "long-first": f"{mmlu}: id bio-1",
                "zh": f"{ceval}: line 1", **{f"copy-{i}": f"{mmlu}: id bio-1" for i in range(6)}}
    kept = [k for k, _ in docs if k not in rejected]
    assert "near-miss" in kept
    check_decontaminate(tmp_path, docs, kept, rejected, "side input")
    for kwargs in ({"memory_mb": 0}, {"memory_mb": 0, "max_group": 2}, {"memory_mb": 1e-4}):
        check_decontaminate(tmp_path, docs, kept, rejected, "join", **kwargs)
