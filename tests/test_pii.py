"""glmprep.core.pii: each kind on hand-made strings, the labelled snippets, hostile text."""
from __future__ import annotations

import json
import os
import re
import time
from unittest import mock

import pytest
from hypothesis import given, settings, strategies as st

from glmprep.core.pii import (DEFAULT_PLACEHOLDERS, PiiOptions, PiiRedactor, id_number_valid, luhn_valid,
                              parse_placeholders)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


@pytest.mark.parametrize("text, kind, value", [
    ("write to ops@example.com today", "email", "ops@example.com"),
    ("发邮件到 wang.fang@mail.example.cn。", "email", "wang.fang@mail.example.cn"),
    ("login from 185.220.101.34 failed", "ip", "185.220.101.34"),
    ("AAAA 2606:4700:4700::1111.", "ip", "2606:4700:4700::1111"),
    ("call +44 20 7946 0958 now", "phone", "+44 20 7946 0958"),
    ("call (415) 555-0132 now", "phone", "(415) 555-0132"),
    ("手机13812345678，微信同号", "phone", "13812345678"),
    ("电话 +86 139 1234 5678", "phone", "+86 139 1234 5678"),
    ("身份证号：44030419900307123X。", "id_number", "44030419900307123X"),
    ("pay with 4111 1111 1111 1111, thanks", "card", "4111 1111 1111 1111"),
    ("card=5555555555554444&x", "card", "5555555555554444"),
])
def test_each_kind_is_found_and_replaced(text, kind, value):
    redactor = PiiRedactor()
    [(start, end, found)] = redactor.find(text)
    assert (found, text[start:end]) == (kind, value)
    redaction = redactor.redact(text)
    assert redaction.text == text.replace(value, DEFAULT_PLACEHOLDERS[kind])
    assert redaction.counts == {kind: 1}


@pytest.mark.parametrize("text", [
    "bind to 127.0.0.1:8080 or 192.168.1.1; docs use 203.0.113.5 and 2001:db8::1",   # not global
    "Python 3.11.7, at 12:30:45 on 2024-03-15; Data::Dumper and std::vector",
    "4111 1111 1111 1112 fails Luhn",
    "身份证号 440304199003071231 校验位不对",
    "订单号 202403150012345 已发货",
    "user@localhost has no domain",
])
def test_lookalikes_are_kept(text):
    assert PiiRedactor().redact(text).text == text


def test_check_digits():
    assert id_number_valid("11010519491231002X") and not id_number_valid("110105194912310021")
    assert luhn_valid("378282246310005") and not luhn_valid("378282246310006")


def test_placeholders_and_kinds_are_configurable():
    placeholders = parse_placeholders("email=[EMAIL],phone=")
    redactor = PiiRedactor(PiiOptions(kinds=("email", "phone"), placeholders=placeholders))
    assert redactor.redact("a@example.com 13812345678 8.8.8.8").text == "[EMAIL]  8.8.8.8"
    with pytest.raises(ValueError, match="KIND=TEXT"):
        parse_placeholders("mail=x")


def test_redaction_is_idempotent():
    once = PiiRedactor().redact("x@example.com, +1 415 555 0132, 4111111111111111").text
    assert PiiRedactor().redact(once).text == once


@pytest.mark.parametrize("name, min_precision, min_recall", [
    ("pii_labelled.jsonl", 1.0, 0.97),  # written with the rules; the miss: a public resolver, kept on purpose
    ("pii_heldout.jsonl", 0.9, 0.9),    # written afterwards, not tuned on (see README)
])
def test_precision_and_recall_on_labelled_snippets(name, min_precision, min_recall):
    tp = fp = fn = 0
    with open(os.path.join(DATA, name), encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    assert {r["lang"] for r in rows} == {"en", "zh"} and any(not r["pii"] for r in rows)
    for row in rows:
        found = [(kind, row["text"][s:e]) for s, e, kind in PiiRedactor().find(row["text"])]
        wanted = [tuple(item) for item in row["pii"]]
        tp += sum(1 for f in found if f in wanted)
        fp += sum(1 for f in found if f not in wanted)
        fn += sum(1 for w in wanted if w not in found)
    assert tp / (tp + fp) >= min_precision and tp / (tp + fn) >= min_recall


@pytest.mark.timeout(60)
@pytest.mark.parametrize("unit", ["1", "1 ", "1-", "1.", "1:", "a@", "a.", "a-.", "+1 ", "f:", "8.8.8.8 "])
def test_hostile_text_is_linear(unit):
    """A megabyte-scale run of one pattern's characters finishes (a hang guard, no timing
    threshold): a backtracking pattern would take hours on it."""
    text = unit * (400_000 // len(unit))
    start = time.perf_counter()
    PiiRedactor().redact(text)
    small = time.perf_counter() - start
    start = time.perf_counter()
    PiiRedactor().redact(text * 4)
    # not a timing assertion: printed for the curious, the guard is the timeout
    print(unit, small, time.perf_counter() - start)


def test_redact_pii_transform_and_previews():
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from glmprep.schemas.rejects import REJECT_PREVIEW_CHARS, make_reject
    from glmprep.transforms.pii import RedactPii, RedactPreviewDoFn

    docs = [("a", "mail x@example.com or y@example.org"), ("b", "no personal data"), ("c", "手机13812345678")]
    long_text = "x" * (REJECT_PREVIEW_CHARS - 12) + " call +44 20 7946 0958"
    rejects = [make_reject("r1", "read", "malformed_json", "", "{bad json: me@example.com"),
               make_reject("r2", "clean", "empty", "", long_text)]
    with TestPipeline() as p:
        redacted, per_kind = p | "Docs" >> beam.Create(docs) | RedactPii()
        assert_that(redacted, equal_to([("a", "mail <EMAIL> or <EMAIL>"), ("b", "no personal data"),
                                        ("c", "手机<PHONE>")]), label="Docs")
        assert_that(per_kind, equal_to([("email", (1, 2)), ("phone", (1, 1))]), label="PerKind")
        previews = (p | "Rejects" >> beam.Create(rejects) | beam.ParDo(RedactPreviewDoFn())
                    | beam.Map(lambda r: r["preview"]))
        assert_that(previews, equal_to(["{bad json: <EMAIL>", "x" * (REJECT_PREVIEW_CHARS - 12) + " call +44 "]),
                    label="Previews")


# --- the anchors' windows against a scan of every digit window (as first written) ---

def reference_windows(text):
    """The windows around the text's runs of ASCII digits, merged where they touch."""
    from glmprep.core import pii
    return pii._regions([m.span() for m in re.finditer(r"[0-9]+", text)], pii.REACH, pii.REACH + 2, len(text))


def reference_find(text, kinds=PiiOptions().kinds):
    """Every pattern in the windows around the text's digits (around "@" for emails): what
    ``find`` did before its patterns ran only around their anchors. Do not optimise."""
    from glmprep.core import pii
    numeric = reference_windows(text)
    around_at = pii._regions([(i, i + 1) for i, c in enumerate(text) if c == "@"], *pii.EMAIL_REACH, len(text))
    found = []
    for rank, kind in enumerate(k for k in pii.PII_KINDS if k in kinds):
        for pattern, check in pii._DETECTORS[kind]:
            for lo, hi in around_at if kind == pii.EMAIL else numeric:
                for match in pattern.finditer(text, lo, hi):
                    matched = match.group() if check is None else check(match.group())
                    if matched:
                        found.append((match.start(), -(match.start() + len(matched)), rank, kind))
    spans = []
    for start, neg_end, _, kind in sorted(found):
        if not spans or start >= spans[-1][1]:
            spans.append((start, -neg_end, kind))
    return spans


PII_PIECES = ["4111 1111 1111 1111", "5555555555554444", "+44 20 7946 0958", "+1 415 555 0132", "(415) 555-0132", "13812345678",
              "138-1234-5678", "+86 139 1234 5678", "44030419900307123X", "185.220.101.34", "2606:4700::1111",
              "a.b@example.org", "1.2.3", "3.11.7"]
pii_texts = st.lists(st.one_of(st.sampled_from(PII_PIECES), st.sampled_from(list("0123456789 .-+():xX@a中\n٣１")),
                               st.text(alphabet="0123456789 -.", max_size=25)), max_size=40).map("".join)


@settings(max_examples=500, deadline=None)
@given(pii_texts)
def test_anchor_windows_find_what_the_digit_windows_find(text):
    assert PiiRedactor().find(text) == reference_find(text)


@settings(max_examples=500, deadline=None)
@given(pii_texts)
def test_numpy_windows_find_what_the_digit_windows_find(text):
    """The path of long texts (windows, and which of them may hold each anchor, found with
    NumPy from the runs of digits) taken by every text, short ones included."""
    from glmprep.core import pii
    with mock.patch.object(pii, "NUMPY_CHARS", 1):
        assert PiiRedactor().find(text) == reference_find(text)


def test_long_texts_take_the_numpy_path_and_find_the_same():
    from glmprep.core import pii
    filler = "see section 4.2, port 8080 and version 3.11.7 in Foo::Bar; "
    ascii_text = " ".join(piece + " " + filler * (i % 4) for i, piece in enumerate(PII_PIECES * 12))
    other_digits = ascii_text.replace("section 4", "section ٤")  # an Arabic-Indic digit: every window scanned
    for text in (ascii_text, other_digits, "no digits at all " * 400):
        assert len(text) >= pii.NUMPY_CHARS
        windows, features = pii._windows_and_features(text)
        assert (features is not None) == (text is ascii_text)
        assert windows == reference_windows(text)
        assert PiiRedactor().find(text) == reference_find(text)
    assert len(reference_find(ascii_text)) >= 12 * 10
