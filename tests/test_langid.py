"""glmprep.core.langid: each language on hand-made strings, options, determinism."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from glmprep.core.langid import (UNDETERMINED, LanguageIdentifier, LanguageOptions, parse_languages,
                                 script_language)


@pytest.mark.parametrize("text, language", [
    ("The pipeline reads documents, cleans them and writes training shards.", "en"),
    ("流水线读取文档，清洗之后写出训练用的分片文件。", "zh"),
    ("使用 apt-get install 安装软件包，然后编辑 /etc/apt/sources.list 文件。", "zh"),
    ("Le chat est assis sur le tapis et regarde les oiseaux dans le jardin.", "fr"),
    ("Die Katze sitzt auf der Matte und schaut den Vögeln im Garten zu.", "de"),
    ("猫はマットの上に座って、庭の鳥を見ています。", "ja"),
    ("Debian 参考手册 (第一版)", "zh"),  # lid.176 says ja: no kana, so zh
])
def test_each_language(text, language):
    assert LanguageIdentifier().identify(text)[0] == language


def test_score_is_a_rounded_probability_and_repeats():
    identifier = LanguageIdentifier()
    language, score = identifier.identify("A plain English sentence about the weather today.")
    assert language == "en" and 0.5 < score <= 1.0 and round(score, 3) == score
    assert identifier.identify("A plain English sentence about the weather today.") == (language, score)


def test_no_letters_is_undetermined():
    assert LanguageIdentifier().identify("123 456 -- !!") == (UNDETERMINED, 0.0)


def test_only_the_head_is_read():
    text = "This document is written in English. " * 10 + "这是中文。" * 2000
    assert LanguageIdentifier(max_chars=300).identify(text)[0] == "en"
    assert LanguageIdentifier().identify(text)[0] == "zh"


BATCH_TEXTS = [
    "The pipeline reads documents, cleans them and writes training shards.",
    "流水线读取文档，清洗之后写出训练用的分片文件。", "猫はマットの上に座って、庭の鳥を見ています。",
    "Debian 参考手册 (第一版)", "使用 apt-get install 安装软件包", "", "   ", "123 456 -- !!", "。，！",
    "Le chat est assis sur le tapis.", "line one\nline two\n\nline three", "x", "Ünïcödé wörds",
    "This document is written in English. " * 10 + "这是中文。" * 2000, "a" * 5000, "\t\x0b\x0c\r",
]


@pytest.mark.parametrize("max_chars", [4000, 300, 1])
def test_languages_of_a_batch_are_those_of_one_text_at_a_time(max_chars):
    identifier = LanguageIdentifier(max_chars=max_chars)
    assert identifier.languages(BATCH_TEXTS) == [identifier.identify(text)[0] for text in BATCH_TEXTS]
    assert identifier.languages([]) == [] and identifier.languages(["123"]) == [UNDETERMINED]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
                | st.lists(st.sampled_from(BATCH_TEXTS[:10] + ["ΣΟΦΟΣ", "Привет мир", "안녕하세요"]),
                           max_size=8).map(" ".join), max_size=12))
def test_languages_of_any_batch_are_those_of_one_text_at_a_time(texts):
    identifier = LanguageIdentifier()
    assert identifier.languages(texts) == [identifier.identify(text)[0] for text in texts]


@pytest.mark.parametrize("options", [LanguageOptions(), LanguageOptions(("en", "zh")),
                                     LanguageOptions(None, 0.5), LanguageOptions(("en",), 0.2)])
@pytest.mark.parametrize("language", ["en", "zh", "fr", UNDETERMINED])
def test_a_language_that_may_not_be_rejected_is_kept_at_any_score(options, language):
    verdicts = [options.check(language, score / 1000) for score in range(1001)]
    assert options.may_reject(language) == any(verdict is not None for verdict in verdicts)


def test_options_check():
    options = LanguageOptions(languages=parse_languages("zh,en"), min_score=0.5)
    assert options.languages == ("en", "zh")
    assert options.check("en", 0.9) is None
    assert options.check("fr", 0.99) == "fr 0.990 not in en,zh"
    assert options.check("zh", 0.3) == "zh 0.300 < min score 0.5"
    assert LanguageOptions().check("fr", 0.1) is None
    assert parse_languages("all") is None
    with pytest.raises(ValueError):
        parse_languages("english")
    with pytest.raises(ValueError):
        LanguageOptions(min_score=2)


def test_script_baseline():
    assert script_language("纯中文文本")[0] == "zh" and script_language("plain")[0] == "en"


def test_identify_language_transform():
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from glmprep.transforms.langid import IdentifyLanguage

    docs = [("en", "The pipeline reads documents, cleans them and writes training shards."),
            ("zh", "流水线读取文档，清洗之后写出训练用的分片文件。"),
            ("fr", "Le chat est assis sur le tapis et regarde les oiseaux dans le jardin.")]
    with TestPipeline() as p:
        kept, rejects, identified = p | beam.Create(docs) | IdentifyLanguage(LanguageOptions(("en", "zh")))
        assert_that(kept, equal_to([(key, text, key) for key, text in docs[:2]]), label="Kept")
        assert_that(rejects | beam.Map(lambda r: (r["key"], r["stage"], r["reason"], r["detail"].split()[0])),
                    equal_to([("fr", "language", "language", "fr")]), label="Rejects")
        assert_that(identified, equal_to([("en", (1, 0)), ("zh", (1, 0)), ("fr", (1, 1))]), label="Identified")


@pytest.mark.parametrize("max_chars", [1, 100, 1 << 18])
@pytest.mark.parametrize("options", [LanguageOptions(), LanguageOptions(("en", "zh")), LanguageOptions(None, 0.9)])
def test_identify_language_transform_in_batches(max_chars, options):
    """Whether documents are identified one, a few or all at a time, the same outputs as
    one by one (scores in the reject details included)."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from glmprep.transforms.langid import IdentifyLanguageDoFn, LANGUAGES, REJECTS

    docs = [(f"d{i}", text) for i, text in enumerate(BATCH_TEXTS)]
    identifier = LanguageIdentifier()
    expected_kept, expected_details, expected_languages = [], [], []
    for key, text in docs:
        language, score = identifier.identify(text)
        detail = options.check(language, score)
        expected_languages.append((language, 0 if detail is None else 1))
        if detail is None:
            expected_kept.append((key, text, language))
        else:
            expected_details.append((key, detail))
    with TestPipeline() as p:
        results = p | beam.Create(docs) | beam.ParDo(IdentifyLanguageDoFn(options, max_chars)).with_outputs(
            REJECTS, LANGUAGES, main="docs")
        assert_that(results.docs, equal_to(expected_kept), label="Kept")
        assert_that(results[REJECTS] | beam.Map(lambda r: (r["key"], r["detail"])), equal_to(expected_details),
                    label="Rejects")
        assert_that(results[LANGUAGES] | beam.Map(lambda kv: (kv[0], kv[1][1])), equal_to(expected_languages),
                    label="Languages")


# A Chinese how-to with more Latin words than Chinese characters: the share guess takes it
# for English text and applies the mean word length of its commands.
ZH_COMMANDS = ("先用 sudo apt-get install build-essential libssl-dev zlib1g-dev 安装依赖，"
               "再运行 ./configure --prefix=/usr/local --enable-shared --with-openssl 然后 make install")


def test_filters_take_the_language_for_cjk_rules():
    from glmprep.core.filters import FilterOptions, QualityFilter

    strict = QualityFilter(FilterOptions(max_mean_word_length=8.0, ratio_rules_min_words=None))
    assert LanguageIdentifier().identify(ZH_COMMANDS)[0] == "zh"
    assert strict.check(ZH_COMMANDS)[0] == "mean_word_length"       # not identified: by script share
    assert strict.check(ZH_COMMANDS, "und")[0] == "mean_word_length"
    assert strict.check(ZH_COMMANDS, "zh") is None                 # Chinese: its Latin words do not count
    english = "Install the dependencies with the package manager, then configure and build the sources."
    assert strict.check(english, "en") == strict.check(english)     # the decision agrees: the same verdict
    assert strict.check("扩展 " + " ".join(["microservices"] * 3), "en")[0] == "mean_word_length"
    poem = "槛菊愁烟兰泣露。罗幕轻寒，燕子双飞去。明月不谙离别苦，斜光到晓穿朱户。\n      -- 晏殊《蝶恋花》"
    loose = QualityFilter(FilterOptions(ratio_rules_min_words=None))
    assert loose.check(poem, "ko") is None and loose.check(poem) is None  # mostly CJK: a wrong label changes nothing


def test_filter_transform_reads_the_language_of_each_document():
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from glmprep.core.filters import FilterOptions
    from glmprep.transforms.clean import FilterDocuments

    options = FilterOptions(max_mean_word_length=8.0, ratio_rules_min_words=None)
    with TestPipeline() as p:
        with_language, _ = p | "Identified" >> beam.Create([("a", ZH_COMMANDS, "zh")]) | "F1" >> FilterDocuments(options)
        without, rejects = p | "Plain" >> beam.Create([("a", ZH_COMMANDS)]) | "F2" >> FilterDocuments(options)
        assert_that(with_language, equal_to([("a", ZH_COMMANDS, "zh")]), label="Kept")
        assert_that(without, equal_to([]), label="NotKept")
        assert_that(rejects | beam.Map(lambda r: r["reason"]), equal_to(["mean_word_length"]), label="Rejected")


def test_the_shard_writer_takes_each_documents_language_from_its_record(tmp_path):
    """Languages come with the documents (never identified again: a record's code is
    written as it is), "und" for a document without one; every document leaves the
    in-flight map with its last piece."""
    import numpy as np
    import pyarrow as pa

    from glmprep.core.records import pack
    from glmprep.core.samples import SampleOptions
    from glmprep.core.tokenizer import cached_tokenizer
    from glmprep.transforms.shard_runs import LANGUAGE_RUN, write_run
    from glmprep.transforms.shards import WriteShardDoFn, piece_languages

    tokenizer = cached_tokenizer(None)
    texts = {"a": "The river rose after three days of rain. " * 40, "b": "昨天下午，城市图书馆举办了讲座。" * 5,
             "c": "No record for this one."}
    docs = [(k, pack(np.asarray(tokenizer.encode(t), dtype=np.uint32).tobytes())) for k, t in texts.items()]
    codes = [("a", b"de"), ("b", b"zh"), ("zz", b"en")]   # "de": as recorded, not as the text reads
    fn = WriteShardDoFn(str(tmp_path), SampleOptions(seq_len=128), None, {})
    fn.setup()
    [first], [second] = (
        [ref for _, ref in write_run(str(tmp_path / "runs"), {0: part})] for part in (docs[:2], docs[2:]))
    [codes_ref] = [ref for _, ref in write_run(str(tmp_path / "runs"), {0: codes}, LANGUAGE_RUN)]
    [summary] = fn.process((0, [first, codes_ref, second]), num_shards=1)
    table = pa.ipc.open_file(pa.memory_map(str(tmp_path / "part-00000-of-00001.arrow"))).read_all()
    pairs = {(k, lang) for ks, ls in zip(table.column("source_ids").to_pylist(),
                                         table.column("source_languages").to_pylist()) for k, lang in zip(ks, ls)}
    assert pairs == {("a", "de"), ("b", "zh"), ("c", "und")}
    assert set(summary["languages"]) == {"de", "zh", "und"}
    in_flight = {"x": ["en", 0], "y": ["zh", 0]}
    assert piece_languages(["x", "y", "x"], np.array([2, 1, 2]), in_flight) == ["en", "zh", "en"]
    assert in_flight == {}


@pytest.mark.parametrize("max_chars", [1, 1 << 18])
def test_language_counters_count_every_document_in_batches(max_chars):
    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.testing.test_pipeline import TestPipeline

    from glmprep.transforms.langid import IdentifyLanguageDoFn, STAGE

    identifier = LanguageIdentifier()
    expected = {}
    for text in BATCH_TEXTS:
        language = identifier.identify(text)[0]
        expected[f"docs_{language}"] = expected.get(f"docs_{language}", 0) + 1
    p = TestPipeline()
    _ = p | beam.Create(list(enumerate(BATCH_TEXTS))) | beam.ParDo(IdentifyLanguageDoFn(LanguageOptions(), max_chars))
    result = p.run()
    result.wait_until_finish()
    counters = result.metrics().query(MetricsFilter().with_namespace(STAGE))["counters"]
    assert {c.key.metric.name: c.committed for c in counters if c.key.metric.name.startswith("docs_")} == expected
