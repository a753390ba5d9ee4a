"""Document quality filters (pure, no Beam), in the spirit of C4 and Gopher.

A rule looks at one cleaned document and either lets it pass (None) or names what is
wrong with it: the reject reason (the rule's name) and a detail with the measured value
and the threshold. The rules, in the order they are checked:

========================  =========================================================  ==============
reason                    rejects when                                               default
========================  =========================================================  ==============
``too_short``             fewer words than ``min_words``                             5
``too_long``              more words than ``max_words``                              100 000
``alpha_ratio``           fraction of words holding a letter < ``min_alpha_ratio``   0.8
``mean_word_length``      mean length of non-CJK words outside [min, max]            3 .. 10
``symbol_ratio``          (``#`` + ``...`` + ``…``) per word > ``max_symbol_ratio``  0.1
``bullet_lines``          fraction of lines starting with a bullet > max             0.9
``ellipsis_lines``        fraction of lines ending with an ellipsis > max            0.3
``duplicate_paragraphs``  characters in repeated paragraphs / all > max              0.2
``duplicate_lines``       characters in repeated lines / all > max                   0.2
``top_ngram_repetition``  characters covered by the top 2/3/4-gram > max             0.20/0.18/0.16
========================  =========================================================  ==============

Every rule after ``too_long`` is a ratio; ratios over a handful of words are noise
(a one-line quote ending in "..." is 100% ellipsis lines; "to be or not to be" is 50%
one repeated bigram), so they are only computed for texts of at least
``ratio_rules_min_words`` words (default 50, the shortest document Gopher's thresholds
were tuned on). Shorter texts are judged by length alone.

Words, for all rules: a whitespace-separated token is a word, except that in Chinese
and Japanese, which do not put spaces between words, every CJK ideograph or kana is a
word of its own; the non-CJK runs glued to CJK characters count as words only when they
hold a letter or digit, so "。" or "，" after a character is punctuation, like the
"." after an English word. Lengths are in characters (code points). What a word is lives
in ``glmprep.core.words``; the rules read a document through ``glmprep.core.text_views``,
which counts n-grams with ``glmprep.core.ngram_counts``.

Each threshold is a module constant that reappears as the keyword default of its rule
function and of ``FilterOptions``; setting it to None turns that rule (or that bound)
off. ``QualityFilter(options).check(text)`` runs the enabled rules.
``add_filter_arguments`` / ``filter_options_from`` expose the same options on the
command line (``--min-words 20``, ``--max-words none``, ``--no-symbol-ratio``).
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from glmprep.core.line_counts import ItemCounts
from glmprep.core.options import Switch, add_option_arguments, build, number_or_none, option
from glmprep.core.text_views import TextView, text_view
from glmprep.core.words import is_cjk_word
from glmprep.schemas.cjk import CJK_LANGUAGES

# A one-line quote ("Simplicity is prerequisite for reliability.") is a real, useful
# document of 5-30 words; below 5 words a text is a title, a label or a fragment with
# nothing around a blank to infer it from. C4's 50-word minimum (on pages) would drop
# every short quote, caption and dialogue line.
MIN_WORDS = 5
# Gopher's upper bound; beyond it a "document" is almost always a dump, a log or a
# concatenation. Long real documents are split into samples later anyway.
MAX_WORDS = 100_000
# Ratio rules need enough text to be meaningful: 50 words is Gopher's minimum document
# length, so its ratio thresholds were calibrated on texts at least this long.
RATIO_RULES_MIN_WORDS = 50
# Gopher: real prose in space-separated languages has a mean word length of about 4-6;
# below 3 is letter soup or number tables, above 10 is URLs, hashes or glued words.
MIN_MEAN_WORD_LENGTH = 3.0
MAX_MEAN_WORD_LENGTH = 10.0
# Gopher: more than one hashtag or ellipsis per ten words is tag spam or a list of
# truncated teasers.
MAX_SYMBOL_RATIO = 0.1
# Gopher: when over 90% of lines are bullets the page is a menu or a link list.
MAX_BULLET_LINES = 0.9
# Gopher: when over 30% of lines end in an ellipsis the page is a list of truncated
# previews ("Read more...").
MAX_ELLIPSIS_LINES = 0.3
# Gopher: over 20% of characters in repeated paragraphs / lines means boilerplate
# (cookie banners, repeated footers, spam).
MAX_DUPLICATE_PARAGRAPH_CHARS = 0.2
MAX_DUPLICATE_LINE_CHARS = 0.2
# Gopher: the most frequent 2-, 3- and 4-gram may cover at most 20%, 18% and 16% of the
# characters. In Chinese, n-grams of characters: a frequent two-character word in a
# real paragraph covers well under 10%.
MAX_TOP_2GRAM_CHARS = 0.20
MAX_TOP_3GRAM_CHARS = 0.18
MAX_TOP_4GRAM_CHARS = 0.16
# Gopher: at least 80% of words must contain a letter (CJK characters are letters);
# number tables, code dumps and symbol art fall below.
MIN_ALPHA_RATIO = 0.8

# Line openers treated as bullets (after leading whitespace).
BULLETS = ("•", "●", "○", "◦", "▪", "▫", "■", "□", "‣", "⁃", "·", "►", "▶", "➢",
           "✓", "✔", "-", "*", "–", "—")
ELLIPSES = ("...", "…")


# --- rules: (view, thresholds...) -> None to pass, or a detail string to reject ---

def too_short(view: TextView, min_words: Optional[int] = MIN_WORDS) -> Optional[str]:
    n_words = view.n_words
    if min_words is not None and n_words < min_words:
        return f"{n_words} words < {min_words}"
    return None


def too_long(view: TextView, max_words: Optional[int] = MAX_WORDS) -> Optional[str]:
    n_words = view.n_words
    if max_words is not None and n_words > max_words:
        return f"{n_words} words > {max_words}"
    return None


def alpha_ratio(view: TextView, min_alpha_ratio: Optional[float] = MIN_ALPHA_RATIO) -> Optional[str]:
    if min_alpha_ratio is None or not view.n_words:
        return None
    if view.min_words_with_letter / view.n_words >= min_alpha_ratio:
        return None  # enough words surely hold a letter: skip counting them exactly
    ratio = view.n_words_with_letter / view.n_words
    if ratio < min_alpha_ratio:
        return f"{ratio:.2f} of words have a letter < {min_alpha_ratio}"
    return None


def mean_word_length(view: TextView,
                     min_mean_word_length: Optional[float] = MIN_MEAN_WORD_LENGTH,
                     max_mean_word_length: Optional[float] = MAX_MEAN_WORD_LENGTH,
                     language: Optional[str] = None) -> Optional[str]:
    """Mean length of the non-CJK words; skipped for Chinese or Japanese text, whose Latin
    words (commands, identifiers, names) say nothing about its quality. That is text whose
    non-CJK words are under half of the words, and text whose ``language`` (when
    identified) is one of ``CJK_LANGUAGES``: a Chinese how-to full of shell commands has
    more Latin words than characters. The language only adds text to skip: a text that is
    mostly CJK characters is CJK text whatever its label (lid.176 calls some classical
    Chinese poems Korean).

    >>> guide = "先用 sudo apt-get install build-essential libssl-dev zlib1g-dev 安装"
    >>> mean_word_length(TextView(guide), max_mean_word_length=5.0) is None
    False
    >>> mean_word_length(TextView(guide), max_mean_word_length=5.0, language="zh") is None
    True
    """
    n_latin_words = view.n_words - view.cjk_word_count
    if not n_latin_words:
        return None
    if 2 * n_latin_words < view.n_words or language in CJK_LANGUAGES:
        return None
    latin_chars = view.word_chars - view.cjk_word_count
    mean = latin_chars / n_latin_words
    if min_mean_word_length is not None and mean < min_mean_word_length:
        return f"mean word length {mean:.2f} < {min_mean_word_length}"
    if max_mean_word_length is not None and mean > max_mean_word_length:
        return f"mean word length {mean:.2f} > {max_mean_word_length}"
    return None


def symbol_ratio(view: TextView, max_symbol_ratio: Optional[float] = MAX_SYMBOL_RATIO) -> Optional[str]:
    if max_symbol_ratio is None or not view.n_words:
        return None
    n_symbols = view.text.count("#") + sum(view.text.count(ellipsis) for ellipsis in ELLIPSES)
    ratio = n_symbols / view.n_words
    if ratio > max_symbol_ratio:
        return f"{n_symbols} '#'/ellipses per {view.n_words} words = {ratio:.2f} > {max_symbol_ratio}"
    return None


def bullet_lines(view: TextView, max_bullet_lines: Optional[float] = MAX_BULLET_LINES) -> Optional[str]:
    counts = view.line_counts(BULLETS, ELLIPSES)
    return _line_fraction(counts.n_items, counts.n_starting, max_bullet_lines, "start with a bullet")


def ellipsis_lines(view: TextView, max_ellipsis_lines: Optional[float] = MAX_ELLIPSIS_LINES) -> Optional[str]:
    counts = view.line_counts(BULLETS, ELLIPSES)
    return _line_fraction(counts.n_items, counts.n_ending, max_ellipsis_lines, "end with an ellipsis")


def duplicate_paragraphs(view: TextView,
                         max_duplicate_paragraph_chars: Optional[float] = MAX_DUPLICATE_PARAGRAPH_CHARS
                         ) -> Optional[str]:
    return _duplicate_chars(view.paragraph_counts(), max_duplicate_paragraph_chars, "paragraphs")


def duplicate_lines(view: TextView,
                    max_duplicate_line_chars: Optional[float] = MAX_DUPLICATE_LINE_CHARS) -> Optional[str]:
    return _duplicate_chars(view.line_counts(BULLETS, ELLIPSES), max_duplicate_line_chars, "lines")


def top_ngram_repetition(view: TextView,
                         max_top_2gram_chars: Optional[float] = MAX_TOP_2GRAM_CHARS,
                         max_top_3gram_chars: Optional[float] = MAX_TOP_3GRAM_CHARS,
                         max_top_4gram_chars: Optional[float] = MAX_TOP_4GRAM_CHARS) -> Optional[str]:
    """Gopher's top n-gram coverage: characters in all occurrences of the most frequent
    n-gram (of ``TextView.ngram_words``) over characters in all words."""
    total_chars = view.ngram_chars
    limits = ((2, max_top_2gram_chars), (3, max_top_3gram_chars), (4, max_top_4gram_chars))
    for n, limit in limits:
        if limit is None or view.n_ngram_words < n or not total_chars:
            continue
        if view.ngram_chars_bound(n) / total_chars <= limit:
            continue  # no n-gram can cover enough characters: skip counting them
        ngram, count = view.top_ngram(n)
        if count < 2:
            continue
        coverage = count * sum(map(len, ngram)) / total_chars
        if coverage > limit:
            shown = " ".join(ngram) if not all(map(is_cjk_word, ngram)) else "".join(ngram)
            return f"top {n}-gram {shown!r} x{count} covers {coverage:.2f} of characters > {limit}"
    return None


def _line_fraction(n_lines: int, n_matching: int, limit: Optional[float], what: str) -> Optional[str]:
    if limit is None or not n_lines:
        return None
    fraction = n_matching / n_lines
    if fraction > limit:
        return f"{fraction:.2f} of {n_lines} lines {what} > {limit}"
    return None


def _duplicate_chars(counts: ItemCounts, limit: Optional[float], what: str) -> Optional[str]:
    """Characters in the second and later occurrences of an item, over all characters."""
    if limit is None:
        return None
    duplicate_chars = counts.chars - counts.distinct_chars
    if counts.chars and duplicate_chars / counts.chars > limit:
        return f"{duplicate_chars / counts.chars:.2f} of characters in repeated {what} > {limit}"
    return None


@dataclass(frozen=True)
class Rule:
    """A rule function, its reject reason and the ``FilterOptions`` fields it takes
    (passed as keyword arguments of the same name)."""

    reason: str
    check: Callable[..., Optional[str]]
    option_fields: Tuple[str, ...]
    is_ratio: bool  # only applied to texts of at least ratio_rules_min_words words
    uses_language: bool = False  # takes the document's language (None: not identified)


RULES: Tuple[Rule, ...] = (
    Rule("too_short", too_short, ("min_words",), False),
    Rule("too_long", too_long, ("max_words",), False),
    Rule("alpha_ratio", alpha_ratio, ("min_alpha_ratio",), True),
    Rule("mean_word_length", mean_word_length, ("min_mean_word_length", "max_mean_word_length"), True,
         uses_language=True),
    Rule("symbol_ratio", symbol_ratio, ("max_symbol_ratio",), True),
    Rule("bullet_lines", bullet_lines, ("max_bullet_lines",), True),
    Rule("ellipsis_lines", ellipsis_lines, ("max_ellipsis_lines",), True),
    Rule("duplicate_paragraphs", duplicate_paragraphs, ("max_duplicate_paragraph_chars",), True),
    Rule("duplicate_lines", duplicate_lines, ("max_duplicate_line_chars",), True),
    Rule("top_ngram_repetition", top_ngram_repetition,
         ("max_top_2gram_chars", "max_top_3gram_chars", "max_top_4gram_chars"), True),
)
FILTER_REASONS = tuple(rule.reason for rule in RULES)


def _option(default, help_text: str):
    """A threshold option: ``--<field-name> N``, or ``none`` to turn it off."""
    kind = int if isinstance(default, int) else float
    return option(default, f"{help_text}; 'none' turns it off", parse=number_or_none(kind))


@dataclass(frozen=True)
class FilterOptions:
    """Every quality threshold; None turns a rule (or one bound of it) off.
    Why each default: see the module constants."""

    # --no-<reason> turns a rule off: every field it takes becomes None
    SWITCHES = tuple(Switch("--no-" + rule.reason.replace("_", "-"), f"turn off the {rule.reason} rule",
                            dict.fromkeys(rule.option_fields)) for rule in RULES)

    min_words: Optional[int] = _option(MIN_WORDS, "reject texts with fewer words (too_short)")
    max_words: Optional[int] = _option(MAX_WORDS, "reject texts with more words (too_long)")
    ratio_rules_min_words: Optional[int] = _option(
        RATIO_RULES_MIN_WORDS, "apply the ratio rules (all but too_short/too_long) only to "
                               "texts with at least this many words; none = to every text")
    min_alpha_ratio: Optional[float] = _option(
        MIN_ALPHA_RATIO, "reject when a smaller fraction of words hold a letter (alpha_ratio)")
    min_mean_word_length: Optional[float] = _option(
        MIN_MEAN_WORD_LENGTH, "reject when non-CJK words are shorter on average (mean_word_length)")
    max_mean_word_length: Optional[float] = _option(
        MAX_MEAN_WORD_LENGTH, "reject when non-CJK words are longer on average (mean_word_length)")
    max_symbol_ratio: Optional[float] = _option(
        MAX_SYMBOL_RATIO, "reject when there are more '#' and ellipses per word (symbol_ratio)")
    max_bullet_lines: Optional[float] = _option(
        MAX_BULLET_LINES, "reject when a larger fraction of lines start with a bullet (bullet_lines)")
    max_ellipsis_lines: Optional[float] = _option(
        MAX_ELLIPSIS_LINES, "reject when a larger fraction of lines end with an ellipsis (ellipsis_lines)")
    max_duplicate_paragraph_chars: Optional[float] = _option(
        MAX_DUPLICATE_PARAGRAPH_CHARS,
        "reject when a larger fraction of characters are in repeated paragraphs (duplicate_paragraphs)")
    max_duplicate_line_chars: Optional[float] = _option(
        MAX_DUPLICATE_LINE_CHARS,
        "reject when a larger fraction of characters are in repeated lines (duplicate_lines)")
    max_top_2gram_chars: Optional[float] = _option(
        MAX_TOP_2GRAM_CHARS, "reject when the most frequent 2-gram covers a larger fraction "
                             "of characters (top_ngram_repetition)")
    max_top_3gram_chars: Optional[float] = _option(
        MAX_TOP_3GRAM_CHARS, "same for the most frequent 3-gram (top_ngram_repetition)")
    max_top_4gram_chars: Optional[float] = _option(
        MAX_TOP_4GRAM_CHARS, "same for the most frequent 4-gram (top_ngram_repetition)")

    def __post_init__(self):
        for threshold in dataclasses.fields(self):
            value = getattr(self, threshold.name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or value < 0):
                raise ValueError(f"filter option {threshold.name} must be a non-negative number "
                                 f"or None, got {value!r}")
        for low, high in (("min_words", "max_words"),
                          ("min_mean_word_length", "max_mean_word_length")):
            low_value, high_value = getattr(self, low), getattr(self, high)
            if low_value is not None and high_value is not None and low_value > high_value:
                raise ValueError(f"filter option {low}={low_value} is above {high}={high_value}")


class QualityFilter:
    """Runs the enabled rules of ``RULES`` in order; the first one that fires decides.

    >>> QualityFilter().check("Too short.")
    ('too_short', '2 words < 5')
    >>> QualityFilter(FilterOptions(min_words=None)).check("Too short.") is None
    True
    """

    def __init__(self, options: Optional[FilterOptions] = None):
        self.options = options or FilterOptions()
        self._rules: List[Tuple[Rule, Dict[str, Any]]] = []
        for rule in RULES:
            kwargs = {name: getattr(self.options, name) for name in rule.option_fields}
            if any(value is not None for value in kwargs.values()):
                self._rules.append((rule, kwargs))
        self._length_rules = [(rule, kwargs) for rule, kwargs in self._rules if not rule.is_ratio]
        self._ratio_rules = [(rule, kwargs) for rule, kwargs in self._rules if rule.is_ratio]

    @property
    def reasons(self) -> Tuple[str, ...]:
        """Reasons of the enabled rules, in checking order."""
        return tuple(rule.reason for rule, _ in self._rules)

    def check(self, text: str, language: Optional[str] = None) -> Optional[Tuple[str, str]]:
        """None when ``text`` passes every enabled rule, else ``(reason, detail)``.
        ``language``: the document's, from language identification (None: not identified;
        the rules that depend on script then guess it from the characters)."""
        view = text_view(text)
        verdict = _first_rejection(view, self._length_rules, language)
        if verdict is not None or not self._ratio_rules:
            return verdict
        min_words = self.options.ratio_rules_min_words
        if min_words is not None and view.n_words < min_words:
            return None
        return _first_rejection(view, self._ratio_rules, language)


def _first_rejection(view: TextView, rules: List[Tuple[Rule, Dict[str, Any]]],
                     language: Optional[str]) -> Optional[Tuple[str, str]]:
    for rule, kwargs in rules:
        detail = rule.check(view, **kwargs, language=language) if rule.uses_language else rule.check(view, **kwargs)
        if detail is not None:
            return rule.reason, detail
    return None


# --- command line ---

def add_filter_arguments(parser) -> None:
    """Add one ``--<option-name>`` per ``FilterOptions`` field and one ``--no-<reason>``
    per rule to an argparse-style parser (also Beam's ``_add_argparse_args`` parser)."""
    add_option_arguments(parser, FilterOptions, "quality filters")


def filter_options_from(source: Union[argparse.Namespace, Mapping[str, Any], Any]) -> FilterOptions:
    """``FilterOptions`` from parsed arguments (a Namespace, Beam ``PipelineOptions`` or
    a dict). Missing fields keep their defaults; strings such as "none" or "0.3" are
    parsed; ``no_<reason>=True`` turns that rule off. Other keys are ignored."""
    return build(FilterOptions, source)
