"""Tests for glmprep.transforms.read: every kind of bad input becomes exactly one
reject (records in = documents kept + rejected), compressed and Parquet inputs, keys,
and the ReadDocuments transform on the DirectRunner."""
import argparse
import bz2
import gzip
import json

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from glmprep.transforms.clean import CleanDocuments
from glmprep.transforms.read import (ReadDocuments, ReadOptions, add_read_arguments, detect_format,
                                     read_file, read_options_from)


def jsonl_bytes(*records):
    """JSON Lines bytes; a ``bytes`` record is written as-is (for malformed lines)."""
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def split(items):
    """read_file items -> (docs, {key: reason} of rejects)."""
    docs = [item for item in items if not isinstance(item, dict)]
    rejects = [item for item in items if isinstance(item, dict)]
    return docs, rejects


def read(path, **options):
    return split(list(read_file(path, ReadOptions(**options))))


def reasons(rejects):
    return [(r["key"], r["reason"]) for r in rejects]


# --- JSON Lines ---

def test_jsonl_bad_records_become_one_reject_each(tmp_path):
    path = write(tmp_path, "mixed.jsonl", jsonl_bytes(
        {"id": "a", "text": "first"},
        {"text": "no id, keyed by line"},
        b'{"id": "b", "text": "unterminated',
        {"id": 7, "text": "integer id"},
        {"id": "c"},
        {"id": "d", "text": None},
        {"id": "e", "text": 12.5},
        ["not", "an", "object"],
        {"id": True, "text": "boolean id is not an id"},
        {"id": "f", "text": ""},
    ))
    docs, rejects = read(path)
    assert docs == [("a", "first"), (f"{path}:2", "no id, keyed by line"), ("7", "integer id"),
                    (f"{path}:9", "boolean id is not an id"), ("f", "")]
    assert reasons(rejects) == [(f"{path}:3", "malformed_json"), ("c", "missing_text"),
                                ("d", "missing_text"), ("e", "non_string_text"),
                                (f"{path}:8", "missing_text")]
    assert all(r["stage"] == "read" for r in rejects)
    assert rejects[0]["detail"] == f"{path}:3: Unterminated string starting at (column 21)"
    assert "is null" in rejects[2]["detail"] and "is missing" in rejects[1]["detail"]
    assert len(docs) + len(rejects) == 10


def test_jsonl_blank_lines_and_bom_are_not_documents(tmp_path):
    path = write(tmp_path, "bom.jsonl", b"\xef\xbb\xbf" + jsonl_bytes({"text": "one"}) + b"\n  \n"
                 + jsonl_bytes({"text": "two"}))
    docs, rejects = read(path)
    assert docs == [(f"{path}:1", "one"), (f"{path}:4", "two")] and rejects == []


def test_jsonl_custom_fields_and_no_id(tmp_path):
    path = write(tmp_path, "fields.json", jsonl_bytes({"doc_id": "x", "id": "y", "content": "body"}))
    assert read(path, text_field="content", id_field="doc_id")[0] == [("x", "body")]
    assert read(path, text_field="content", id_field=None)[0] == [(f"{path}:1", "body")]


def test_invalid_utf8_is_rejected_or_replaced(tmp_path):
    path = write(tmp_path, "latin1.jsonl", jsonl_bytes({"text": "good"}) + b'{"text": "caf\xe9"}\n')
    docs, rejects = read(path)
    assert docs == [(f"{path}:1", "good")]
    assert reasons(rejects) == [(f"{path}:2", "invalid_utf8")]
    assert "0xe9 at byte offset 13" in rejects[0]["detail"]
    assert len(docs) + len(rejects) == 2

    noted = []
    items = list(read_file(path, ReadOptions(invalid_utf8="replace"), noted.append))
    assert items == [(f"{path}:1", "good"), (f"{path}:2", "caf\ufffd")]
    assert noted == ["utf8_replaced"]


def test_lone_surrogate_escape_is_rejected_at_read(tmp_path):
    path = write(tmp_path, "surrogate.jsonl",
                 b'{"text": "lone \\ud800 half"}\n{"text": "pair \\ud83d\\ude00 ok"}\n'
                 b'{"id": "\\udc00", "text": "bad id"}\n')
    docs, rejects = read(path)
    assert docs == [(f"{path}:2", "pair \U0001F600 ok")]
    assert reasons(rejects) == [(f"{path}:1", "invalid_unicode"), (f"{path}:3", "invalid_unicode")]
    assert len(docs) + len(rejects) == 3


def test_control_characters_survive_reading_for_the_clean_stage(tmp_path):
    path = write(tmp_path, "raw.jsonl", jsonl_bytes({"text": "nul\x00 \x1b[31mred\x1b[0m\r\nline"}))
    assert read(path)[0] == [(f"{path}:1", "nul\x00 \x1b[31mred\x1b[0m\r\nline")]


# --- compression ---

LINES = [{"id": f"doc-{i}", "text": f"document number {i} " + "lorem ipsum " * 5} for i in range(3000)]


@pytest.mark.parametrize("suffix, compress", [
    (".gz", gzip.compress),
    (".bz2", bz2.compress),
    (".zst", lambda data: zstandard.ZstdCompressor().compress(data)),
])
def test_compressed_jsonl(tmp_path, suffix, compress):
    path = write(tmp_path, "part.jsonl" + suffix, compress(jsonl_bytes(*LINES[:50])))
    docs, rejects = read(path)
    assert rejects == []
    assert docs == [(r["id"], r["text"]) for r in LINES[:50]]


def test_concatenated_gzip_members_are_all_read(tmp_path):
    data = gzip.compress(jsonl_bytes(*LINES[:3])) + gzip.compress(jsonl_bytes(*LINES[3:5]))
    assert len(read(write(tmp_path, "cat.jsonl.gz", data))[0]) == 5


@pytest.mark.parametrize("suffix, compress", [
    (".gz", gzip.compress),
    (".zst", lambda data: zstandard.ZstdCompressor().compress(data)),
])
def test_truncated_file_keeps_the_lines_before_the_break(tmp_path, suffix, compress):
    data = compress(jsonl_bytes(*LINES))
    path = write(tmp_path, "cut.jsonl" + suffix, data[:len(data) // 2])
    docs, rejects = read(path)
    assert 0 < len(docs) < len(LINES)
    assert docs == [(r["id"], r["text"]) for r in LINES[:len(docs)]]
    assert reasons(rejects) == [(path, "unreadable_file")]
    assert f"after line {len(docs)} ({len(docs)} documents kept)" in rejects[0]["detail"]
    assert "TruncatedInput" in rejects[0]["detail"]


def test_corrupt_compressed_file_is_one_reject(tmp_path):
    path = write(tmp_path, "garbage.jsonl.gz", b"this is not gzip data at all\n")
    docs, rejects = read(path)
    assert docs == [] and reasons(rejects) == [(path, "unreadable_file")]
    assert "before the first line" in rejects[0]["detail"]


def test_directory_and_unknown_extension(tmp_path):
    (tmp_path / "subdir").mkdir()
    assert reasons(read(str(tmp_path / "subdir"), fmt="jsonl")[1]) == [(str(tmp_path / "subdir"),
                                                                       "unreadable_file")]
    notes = write(tmp_path, "notes.md", b"# not an input")
    assert reasons(read(notes)[1]) == [(notes, "unknown_format")]
    assert read(notes, fmt="text")[0] == [(notes, "# not an input")]


# --- plain text ---

def test_text_file_is_one_document(tmp_path):
    path = write(tmp_path, "story.txt", "Once upon a time.\r\n\r\nThe end.\n".encode())
    assert read(path) == ([(path, "Once upon a time.\r\n\r\nThe end.\n")], [])


def test_text_paragraphs(tmp_path):
    path = write(tmp_path, "poems.txt.gz", gzip.compress(
        b"\n\nFirst paragraph,\nsecond line.\r\n\r\n  \nSecond \xff paragraph.\n\n\nThird."))
    docs, rejects = read(path, text_mode="paragraph")
    assert docs == [(f"{path}#0", "First paragraph,\nsecond line."), (f"{path}#2", "Third.")]
    assert reasons(rejects) == [(f"{path}#1", "invalid_utf8")]
    assert len(docs) + len(rejects) == 3
    docs, rejects = read(path, text_mode="paragraph", invalid_utf8="replace")
    assert docs[1] == (f"{path}#1", "Second \ufffd paragraph.") and rejects == []


def test_text_file_with_invalid_utf8(tmp_path):
    path = write(tmp_path, "bad.txt", b"ok then \xc3\x28 broken")
    assert reasons(read(path)[1]) == [(path, "invalid_utf8")]


# --- Parquet ---

def write_parquet(tmp_path, name, columns):
    path = str(tmp_path / name)
    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_rows_ids_and_nulls(tmp_path):
    path = write_parquet(tmp_path, "docs.parquet", {"id": [10, None, 12],
                                                    "text": ["ten", "no id", None]})
    docs, rejects = read(path)
    assert docs == [("10", "ten"), (f"{path}:1", "no id")]
    assert reasons(rejects) == [("12", "missing_text")]
    assert len(docs) + len(rejects) == 3


def test_parquet_without_text_column_or_with_non_string_text(tmp_path):
    missing = write_parquet(tmp_path, "missing.parquet", {"body": ["x"]})
    numeric = write_parquet(tmp_path, "numeric.parquet", {"text": [1, 2]})
    assert reasons(read(missing)[1]) == [(missing, "bad_parquet_schema")]
    assert "no column 'text' (columns: body)" in read(missing)[1][0]["detail"]
    assert reasons(read(numeric)[1]) == [(numeric, "bad_parquet_schema")]
    assert "type int64, expected string" in read(numeric)[1][0]["detail"]
    assert read(missing, text_field="body")[0] == [(f"{missing}:0", "x")]


def test_corrupt_parquet_is_unreadable(tmp_path):
    path = write(tmp_path, "broken.parquet", b"PAR1 but nothing else")
    assert reasons(read(path)[1]) == [(path, "unreadable_file")]


# --- options and command line ---

def test_detect_format():
    assert detect_format("a/b.JSONL.GZ") == "jsonl"
    assert detect_format("x.txt.zst") == "text"
    assert detect_format("x.parquet") == "parquet"
    assert detect_format("x.csv") is None
    assert detect_format("x.csv", "text") == "text"


@pytest.mark.parametrize("bad", [dict(fmt="csv"), dict(text_mode="line"), dict(invalid_utf8="ignore"),
                                 dict(text_field=""), dict(id_field=3)])
def test_bad_read_options_raise_value_error(bad):
    with pytest.raises(ValueError):
        ReadOptions(**bad)
    with pytest.raises(ValueError):
        ReadDocuments(["x"], **bad)


def test_read_arguments():
    parser = argparse.ArgumentParser()
    add_read_arguments(parser)
    assert read_options_from(parser.parse_args([])) == ReadOptions()
    options = read_options_from(parser.parse_args(
        ["--format", "text", "--text-field", "body", "--id-field", "none", "--text-mode", "paragraph",
         "--invalid-utf8", "replace"]))
    assert options == ReadOptions("text", "body", None, "paragraph", "replace")
    assert read_options_from({"fmt": "parquet"}).fmt == "parquet"
    with pytest.raises(SystemExit):
        parser.parse_args(["--format", "csv"])


# --- the Beam transform ---

def counter(result, name):
    counters = result.metrics().query(MetricsFilter().with_namespace("read").with_name(name))["counters"]
    return sum(c.committed for c in counters)


def test_read_documents_pipeline(tmp_path):
    good = write(tmp_path, "a.jsonl", jsonl_bytes({"id": "a1", "text": "alpha"}, b"{broken",
                                                  {"text": "beta"}))
    latin = write(tmp_path, "b.jsonl", b'{"id": "b1", "text": "caf\xe9"}\n')
    cut_data = gzip.compress(jsonl_bytes(*LINES))
    cut = write(tmp_path, "c.jsonl.gz", cut_data[:len(cut_data) // 2])
    kept_before_cut = len(read(cut)[0])
    numeric = write_parquet(tmp_path, "d.parquet", {"text": [1]})
    directory = tmp_path / "e.jsonl"
    directory.mkdir()
    text = write(tmp_path, "f.txt", b"Plain text file.")

    pipeline = TestPipeline()
    # The directory is matched by the wildcard and named by a pattern: read (and rejected) once.
    patterns = [str(tmp_path / "*.*"), good, str(directory)]
    docs, rejects = pipeline | ReadDocuments(patterns, invalid_utf8="replace")
    expected_docs = ([("a1", "alpha"), (f"{good}:3", "beta"), ("b1", "caf\ufffd"), (text, "Plain text file.")]
                     + [(r["id"], r["text"]) for r in LINES[:kept_before_cut]])
    assert_that(docs, equal_to(expected_docs), label="CheckDocs")
    assert_that(rejects | beam.Map(lambda r: (r["key"], r["stage"], r["reason"])), equal_to([
        (f"{good}:2", "read", "malformed_json"),
        (cut, "read", "unreadable_file"),
        (numeric, "read", "bad_parquet_schema"),
        (str(tmp_path / "e.jsonl"), "read", "unreadable_file"),
    ]), label="CheckRejects")
    result = pipeline.run()
    result.wait_until_finish()
    assert counter(result, "docs_read") == len(expected_docs)  # a.jsonl matched twice, read once
    assert counter(result, "malformed_json") == 1
    assert counter(result, "unreadable_file") == 2
    assert counter(result, "utf8_replaced") == 1
    assert counter(result, "bytes_read") >= sum(len(open(p, "rb").read()) for p in (good, latin, cut, text))


def test_read_then_clean_accounts_for_every_record(tmp_path):
    path = write(tmp_path, "raw.jsonl", jsonl_bytes(
        {"id": "nul", "text": "a\x00b"},
        {"id": "ansi", "text": "\x1b[1mbold\x1b[0m"},
        {"id": "crlf", "text": "one\r\ntwo"},
        {"id": "empty", "text": ""},
        {"id": "blank", "text": " \x1b[0m \r\n"},
        {"id": "null", "text": None},
    ) + b'{"id": "lone", "text": "\\ud800"}\n')
    pipeline = TestPipeline()
    docs, read_rejects = pipeline | ReadDocuments(path)
    cleaned, clean_rejects = docs | CleanDocuments()
    all_rejects = (read_rejects, clean_rejects) | beam.Flatten()
    assert_that(cleaned, equal_to([("nul", "ab"), ("ansi", "bold"), ("crlf", "one\ntwo")]), label="Kept")
    assert_that(all_rejects | beam.Map(lambda r: (r["key"], r["stage"], r["reason"])), equal_to([
        ("empty", "clean", "empty"), ("blank", "clean", "empty"),
        ("null", "read", "missing_text"), (f"{path}:7", "read", "invalid_unicode"),
    ]), label="Rejected")
    pipeline.run().wait_until_finish()
