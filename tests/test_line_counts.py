"""Lines and paragraphs of a long text counted a piece at a time (glmprep.core.line_counts)
against the counts of the whole text's items: any text, any piece size, with hashes that
collide (distinct items sharing one) and without."""
from unittest import mock

from hypothesis import given, settings, strategies as st

from glmprep.core import line_counts
from glmprep.core.line_counts import ItemPieces, count_items, count_items_in_pieces
from glmprep.core.words import BLANK_LINE

PREFIXES, SUFFIXES = ("•", "- "), ("...", "…")
texts = st.lists(st.sampled_from(["a", "b", "ab", "ba", "• x", "- y", "y...", "…", "中文", " ", "\t", "\n",
                                  "\n\n", "\n \n", "\r\n"]), max_size=80).map("".join)


class Pieces(ItemPieces):
    """Counts how often the pieces are read."""

    reads = 0

    def __iter__(self):
        self.reads += 1
        return super().__iter__()


def whole(text, separator):
    items = text.split("\n") if separator is None else separator.split(text)
    return [item.strip() for item in items if item.strip()]


def assert_same_counts(text, separator, size):
    pieces = Pieces(text, separator, size)
    assert [item for piece in pieces for item in piece] == whole(text, separator)
    expected = count_items(whole(text, separator), PREFIXES, SUFFIXES)
    assert count_items_in_pieces(pieces, pieces.max_items, PREFIXES, SUFFIXES) == expected


@settings(max_examples=400, deadline=None)
@given(texts, st.sampled_from([None, BLANK_LINE]), st.integers(1, 30))
def test_pieces_give_the_counts_of_the_whole_text(text, separator, size):
    assert_same_counts(text, separator, size)


@settings(max_examples=300, deadline=None)
@given(texts, st.sampled_from([None, BLANK_LINE]), st.integers(1, 30), st.sampled_from([1, 2, 3]))
def test_colliding_hashes_give_the_same_counts(text, separator, size, n_hashes):
    """Distinct items share a hash: their lengths or second hashes tell them apart, and
    the strings are counted instead."""
    with mock.patch.object(line_counts, "_item_hash", lambda item: len(item) % n_hashes):
        assert_same_counts(text, separator, size)


def test_a_hash_shared_by_distinct_items_of_one_length_is_caught():
    """Same length, same (fake) hash: only the second hash differs; the strings count."""
    text = "ab\nba\nab\n" * 5
    with mock.patch.object(line_counts, "_item_hash", lambda item: 7):
        pieces = Pieces(text, None, 4)
        counts = count_items_in_pieces(pieces, pieces.max_items)
    assert (counts.n_items, counts.chars, counts.distinct_chars) == (15, 30, 4)
    assert pieces.reads == 3  # hashes, the check, then the strings


def test_repeated_lines_are_checked_once_and_not_counted_from_strings():
    text = "".join(f"line {i % 100}\n" for i in range(10_000))
    pieces = Pieces(text, None, 1000)
    counts = count_items_in_pieces(pieces, pieces.max_items)
    assert counts == count_items(whole(text, None))
    assert pieces.reads == 2
