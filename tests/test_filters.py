"""Tests for glmprep.core.filters: one hand-made document per rule, asserting the exact
reason; real prose that must pass at the defaults; options and command line."""
import argparse

import pytest
from hypothesis import given, settings, strategies as st

from glmprep.core import filters
from glmprep.core.filters import (FILTER_REASONS, FilterOptions, QualityFilter, add_filter_arguments,
                                  filter_options_from)
from glmprep.core.text_views import TextView

ENGLISH_PROSE = """\
The lighthouse keeper kept a notebook in which he wrote down the weather every morning, \
the ships that passed before noon, and the birds that rested on the railing. Most entries \
were short. On calm days he wrote only the wind direction and the temperature, but after a \
storm he would fill two or three pages describing how the waves had climbed the rocks and \
which windows had rattled loose in the night.

When the station was automated in 1987, the notebooks were sent to the county archive. \
Historians later used them to reconstruct how the coastline had changed over forty years, \
because no other record described the same stretch of shore so patiently and so often.
"""

CHINESE_PROSE = """\
清晨的菜市场总是最热闹的地方。卖豆腐的老人五点就推着车来了，他的摊位不大，却常常排着长队。\
附近的居民说，他做的豆腐比超市里的更嫩，价格也公道。到了七点，上班的年轻人匆匆买两个包子就走，\
退休的老人们则慢慢挑选蔬菜，顺便和摊主聊几句家常。

这几年，市场经过了一次翻修，地面铺上了防滑砖，摊位也统一换成了不锈钢台面。有人担心改造以后\
租金会上涨，小商贩会离开，但大多数老摊主还是留了下来。在他们看来，这里不只是做生意的地方，\
也是认识了几十年的邻居们每天见面的地方。
"""

SHORT_QUOTES = [
    "Do or do not. There is no try.",
    "Life is short... eat dessert first.",
    "To be or not to be, that is the question.",
    "In 2019, revenue was $4.5 billion, up 12%.",
    "千里之行，始于足下。",
]


def check(text, **options):
    return QualityFilter(FilterOptions(**options)).check(text)


def reason(text, **options):
    verdict = check(text, **options)
    return verdict and verdict[0]


def prose_words(n):
    """n distinct-looking ordinary words, so that only the rule under test can fire."""
    vocabulary = ("river stone garden window morning market letter winter harbor orchard "
                  "bridge candle meadow pencil ladder lantern valley kettle").split()
    return [f"{vocabulary[i % len(vocabulary)]}{'s' * (i // len(vocabulary) % 3)}" for i in range(n)]


# --- real text passes ---

@pytest.mark.parametrize("text", [ENGLISH_PROSE, CHINESE_PROSE, ENGLISH_PROSE + "\n" + CHINESE_PROSE])
def test_real_prose_passes_at_defaults(text):
    assert check(text) is None


@pytest.mark.parametrize("text", SHORT_QUOTES)
def test_short_quotes_pass_at_defaults(text):
    assert check(text) is None


def test_real_prose_passes_with_ratio_rules_on_every_length():
    for text in (ENGLISH_PROSE, CHINESE_PROSE):
        assert check(text, ratio_rules_min_words=None) is None


# --- words ---

def test_chinese_length_is_counted_in_characters():
    assert reason("你好。") == "too_short"
    assert check("今天天气很好。") is None  # 6 characters, 6 words


# --- one small document per rule ---

def test_too_short():
    assert check("Buy now.") == ("too_short", "2 words < 5")


def test_too_long():
    assert check("one two three four five six", max_words=5) == ("too_long", "6 words > 5")


def test_alpha_ratio():
    table = " ".join(f"{i} {i * 7} {i * 13} {i * 17} row{i}" for i in range(20))
    assert reason(table) == "alpha_ratio"


def test_mean_word_length_too_short():
    text = " ".join("a b c d ab to go by me up" for _ in range(6))
    assert reason(text) == "mean_word_length"
    assert "<" in check(text)[1]


def test_mean_word_length_too_long():
    text = " ".join(f"https://example.com/catalogue/item-{i}/details" for i in range(60))
    assert reason(text) == "mean_word_length"
    assert ">" in check(text)[1]


def test_mean_word_length_ignores_mostly_chinese_text():
    text = CHINESE_PROSE + " a b c"
    assert check(text, min_mean_word_length=5.0) is None


def test_symbol_ratio():
    text = " ".join(f"{word} #{word}" for word in prose_words(30))
    assert reason(text) == "symbol_ratio"


def test_bullet_lines():
    text = "\n".join(f"• {' '.join(prose_words(60)[i:i + 5])}" for i in range(0, 60, 5))
    assert reason(text) == "bullet_lines"


def test_ellipsis_lines():
    words = prose_words(60)
    text = "\n".join(" ".join(words[i:i + 6]) + " ..." for i in range(0, 60, 6))
    assert reason(text, max_symbol_ratio=None) == "ellipsis_lines"


def test_duplicate_paragraphs():
    words = prose_words(60)
    footer = "Subscribe to our newsletter for weekly updates."
    text = "\n\n".join([" ".join(words), footer, footer, footer, footer, footer, footer, footer])
    assert reason(text) == "duplicate_paragraphs"


def test_duplicate_lines():
    words = prose_words(60)
    text = "\n".join([" ".join(words)] + ["Click here to continue reading."] * 8)
    assert reason(text) == "duplicate_lines"


def test_top_ngram_repetition():
    words = prose_words(40)
    text = " ".join(word + " buy now" for word in words)
    assert check(text)[0] == "top_ngram_repetition"
    assert "'buy now'" in check(text)[1]


def test_top_ngram_repetition_in_chinese_counts_characters():
    text = "特价促销" * 20 + "，欢迎光临本店选购各种商品。"
    assert reason(text) == "top_ngram_repetition"


def test_every_reason_has_a_test_above():
    tested = {"too_short", "too_long", "alpha_ratio", "mean_word_length", "symbol_ratio",
              "bullet_lines", "ellipsis_lines", "duplicate_paragraphs", "duplicate_lines",
              "top_ngram_repetition"}
    assert set(FILTER_REASONS) == tested


# --- options ---

def test_short_text_skips_ratio_rules_but_not_when_the_gate_is_off():
    hashtags = "#sale #deal #buy #cheap #shop #now"
    assert check(hashtags) is None
    assert reason(hashtags, ratio_rules_min_words=None) == "symbol_ratio"


def test_none_turns_a_rule_off():
    assert check("Buy now.", min_words=None) is None
    quality_filter = QualityFilter(FilterOptions(max_symbol_ratio=None))
    assert "symbol_ratio" not in quality_filter.reasons


@pytest.mark.parametrize("bad", [dict(min_words=-1), dict(min_words=10, max_words=5),
                                 dict(max_symbol_ratio="lots"), dict(min_alpha_ratio=True)])
def test_invalid_options_raise_value_error(bad):
    with pytest.raises(ValueError):
        FilterOptions(**bad)


def test_rule_function_defaults_are_the_module_constants():
    assert FilterOptions().min_words == filters.MIN_WORDS == 5
    view = TextView("one two three four")
    assert filters.too_short(view) == "4 words < 5"


# --- command line ---

def parse(argv):
    parser = argparse.ArgumentParser()
    add_filter_arguments(parser)
    return filter_options_from(parser.parse_args(argv))


def test_cli_defaults_match_filter_options():
    assert parse([]) == FilterOptions()


def test_cli_sets_and_disables_thresholds():
    options = parse(["--min-words", "20", "--max-words", "none", "--max-top-2gram-chars=0.3",
                     "--no-symbol-ratio", "--no-top-ngram-repetition"])
    assert options.min_words == 20
    assert options.max_words is None
    assert options.max_symbol_ratio is None
    assert (options.max_top_2gram_chars, options.max_top_3gram_chars, options.max_top_4gram_chars) == (
        None, None, None)
    assert options.min_alpha_ratio == filters.MIN_ALPHA_RATIO


def test_cli_rejects_a_non_number():
    with pytest.raises(SystemExit):
        parse(["--min-words", "many"])


def test_filter_options_from_dict_parses_strings():
    options = filter_options_from({"min_words": "0", "max_bullet_lines": "off", "unrelated": 1})
    assert options.min_words == 0
    assert options.max_bullet_lines is None
    with pytest.raises(ValueError, match="--min-words"):
        filter_options_from({"min_words": "five"})


def test_works_with_beam_pipeline_options():
    from apache_beam.options.pipeline_options import PipelineOptions

    from glmprep.pipeline.options import GLMPrepOptions  # the real option set, registered once

    options = PipelineOptions(["--min-words=7", "--no-alpha-ratio"]).view_as(GLMPrepOptions)
    parsed = filter_options_from(options)
    assert parsed.min_words == 7
    assert parsed.min_alpha_ratio is None


# --- invariants ---

@settings(max_examples=200, deadline=None)
@given(st.text())
def test_check_never_raises_and_returns_a_known_reason(text):
    verdict = QualityFilter().check(text)
    assert verdict is None or verdict[0] in FILTER_REASONS


# A word "a!!!…!a!" in a text holding "İ" (which sends the text word by word) once took
# hours: the edge-punctuation regex backtracked over every punctuation run quadratically.
# The check runs in a child process: a regex holds the GIL, so only a process can be
# stopped when it hangs. The limit is a hang guard, far above the milliseconds it takes.
HANG_GUARD_SECONDS = 120
_ADVERSARIAL_CHECK = """
from glmprep.core.filters import QualityFilter
text = "İstanbul " * 60 + "a" + "!" * 200_000 + "a!"
print(QualityFilter().check(text)[0])
"""


def test_punctuation_runs_in_a_text_with_dotted_capital_i_do_not_hang():
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    try:
        done = subprocess.run([sys.executable, "-c", _ADVERSARIAL_CHECK], capture_output=True, text=True,
                              timeout=HANG_GUARD_SECONDS, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"QualityFilter.check did not finish a 200 KB word in {HANG_GUARD_SECONDS} s")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "mean_word_length"
