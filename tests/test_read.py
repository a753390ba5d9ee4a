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
from glmprep.core.reading.files import detect_format, read_file
from glmprep.core.reading.options import ReadOptions, add_read_arguments, read_options_from
from glmprep.transforms.read import ReadDocuments


def jsonl_bytes(*records):
    """JSON Lines bytes; a ``bytes`` record is written as-is (for malformed lines)."""
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)


def line_key(path, data, number):
    """The key of the record on line ``number`` (1-based) of ``data``: ``path@byte offset``."""
    offset = sum(len(line) + 1 for line in data.split(b"\n")[:number - 1])
    return f"{path}@{offset}"


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
    data = jsonl_bytes(
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
    )
    path = write(tmp_path, "mixed.jsonl", data)
    docs, rejects = read(path)
    assert docs == [("a", "first"), (line_key(path, data, 2), "no id, keyed by line"), ("7", "integer id"),
                    (line_key(path, data, 9), "boolean id is not an id"), ("f", "")]
    assert reasons(rejects) == [(line_key(path, data, 3), "malformed_json"), ("c", "missing_text"),
                                ("d", "missing_text"), ("e", "non_string_text"),
                                (line_key(path, data, 8), "missing_text")]
    assert all(r["stage"] == "read" for r in rejects)
    assert rejects[0]["detail"] == f"{line_key(path, data, 3)}: Unterminated string starting at (column 21)"
    assert "is null" in rejects[2]["detail"]
    assert "is missing" in rejects[1]["detail"]
    assert len(docs) + len(rejects) == 10


def test_jsonl_blank_lines_and_bom_are_not_documents(tmp_path):
    data = b"\xef\xbb\xbf" + jsonl_bytes({"text": "one"}) + b"\n  \n" + jsonl_bytes({"text": "two"})
    path = write(tmp_path, "bom.jsonl", data)
    docs, rejects = read(path)
    assert docs == [(f"{path}@0", "one"), (line_key(path, data, 4), "two")]
    assert rejects == []


def test_jsonl_custom_fields_and_no_id(tmp_path):
    path = write(tmp_path, "fields.json", jsonl_bytes({"doc_id": "x", "id": "y", "content": "body"}))
    assert read(path, text_field="content", id_field="doc_id")[0] == [("x", "body")]
    assert read(path, text_field="content", id_field=None)[0] == [(f"{path}@0", "body")]


def test_invalid_utf8_is_rejected_or_replaced(tmp_path):
    data = jsonl_bytes({"text": "good"}) + b'{"text": "caf\xe9"}\n'
    path = write(tmp_path, "latin1.jsonl", data)
    docs, rejects = read(path)
    assert docs == [(f"{path}@0", "good")]
    assert reasons(rejects) == [(line_key(path, data, 2), "invalid_utf8")]
    assert "0xe9 at byte offset 13" in rejects[0]["detail"]
    assert len(docs) + len(rejects) == 2

    noted = []
    items = list(read_file(path, ReadOptions(invalid_utf8="replace"), noted.append))
    assert items == [(f"{path}@0", "good"), (line_key(path, data, 2), "caf\ufffd")]
    assert noted == ["utf8_replaced"]


def test_lone_surrogate_escape_is_rejected_at_read(tmp_path):
    data = (b'{"text": "lone \\ud800 half"}\n{"text": "pair \\ud83d\\ude00 ok"}\n'
            b'{"id": "\\udc00", "text": "bad id"}\n')
    path = write(tmp_path, "surrogate.jsonl", data)
    docs, rejects = read(path)
    assert docs == [(line_key(path, data, 2), "pair \U0001F600 ok")]
    assert reasons(rejects) == [(f"{path}@0", "invalid_unicode"), (line_key(path, data, 3), "invalid_unicode")]
    assert len(docs) + len(rejects) == 3


def test_control_characters_survive_reading_for_the_clean_stage(tmp_path):
    path = write(tmp_path, "raw.jsonl", jsonl_bytes({"text": "nul\x00 \x1b[31mred\x1b[0m\r\nline"}))
    assert read(path)[0] == [(f"{path}@0", "nul\x00 \x1b[31mred\x1b[0m\r\nline")]


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
    last = jsonl_bytes(*LINES[:len(docs) - 1])
    assert (f"after the record at byte {len(last)} of the decompressed data ({len(docs)} documents kept)"
            in rejects[0]["detail"])
    assert "TruncatedInput" in rejects[0]["detail"]


def test_corrupt_compressed_file_is_one_reject(tmp_path):
    path = write(tmp_path, "garbage.jsonl.gz", b"this is not gzip data at all\n")
    docs, rejects = read(path)
    assert docs == []
    assert reasons(rejects) == [(path, "unreadable_file")]
    assert "before the first record" in rejects[0]["detail"]


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
    data = b"\n\nFirst paragraph,\nsecond line.\r\n\r\n  \nSecond \xff paragraph.\n\n\nThird."
    path = write(tmp_path, "poems.txt.gz", gzip.compress(data))
    docs, rejects = read(path, text_mode="paragraph")
    second, third = data.index(b"Second"), data.index(b"Third")
    assert docs == [(f"{path}@2", "First paragraph,\nsecond line."), (f"{path}@{third}", "Third.")]
    assert reasons(rejects) == [(f"{path}@{second}", "invalid_utf8")]
    assert len(docs) + len(rejects) == 3
    docs, rejects = read(path, text_mode="paragraph", invalid_utf8="replace")
    assert docs[1] == (f"{path}@{second}", "Second \ufffd paragraph.")
    assert rejects == []


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
    assert read_options_from(parser.parse_args(["--max-record-bytes", "1000"])).max_record_bytes == 1000
    with pytest.raises(SystemExit):
        parser.parse_args(["--format", "csv"])


# --- the Beam transform ---

def counter(result, name):
    counters = result.metrics().query(MetricsFilter().with_namespace("read").with_name(name))["counters"]
    return sum(c.committed for c in counters)


def test_read_documents_pipeline(tmp_path):
    good_data = jsonl_bytes({"id": "a1", "text": "alpha"}, b"{broken", {"text": "beta"})
    good = write(tmp_path, "a.jsonl", good_data)
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
    expected_docs = ([("a1", "alpha"), (line_key(good, good_data, 3), "beta"), ("b1", "caf\ufffd"), (text, "Plain text file.")]
                     + [(r["id"], r["text"]) for r in LINES[:kept_before_cut]])
    assert_that(docs, equal_to(expected_docs), label="CheckDocs")
    assert_that(rejects | beam.Map(lambda r: (r["key"], r["stage"], r["reason"])), equal_to([
        (line_key(good, good_data, 2), "read", "malformed_json"),
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
    data = jsonl_bytes(
        {"id": "nul", "text": "a\x00b"},
        {"id": "ansi", "text": "\x1b[1mbold\x1b[0m"},
        {"id": "crlf", "text": "one\r\ntwo"},
        {"id": "empty", "text": ""},
        {"id": "blank", "text": " \x1b[0m \r\n"},
        {"id": "null", "text": None},
    ) + b'{"id": "lone", "text": "\\ud800"}\n'
    path = write(tmp_path, "raw.jsonl", data)
    pipeline = TestPipeline()
    docs, read_rejects = pipeline | ReadDocuments(path)
    cleaned, clean_rejects = docs | CleanDocuments()
    all_rejects = (read_rejects, clean_rejects) | beam.Flatten()
    assert_that(cleaned, equal_to([("nul", "ab"), ("ansi", "bold"), ("crlf", "one\ntwo")]), label="Kept")
    assert_that(all_rejects | beam.Map(lambda r: (r["key"], r["stage"], r["reason"])), equal_to([
        ("empty", "clean", "empty"), ("blank", "clean", "empty"),
        ("null", "read", "missing_text"), (line_key(path, data, 7), "read", "invalid_unicode"),
    ]), label="Rejected")
    pipeline.run().wait_until_finish()


# --- one bad record never ends its file (issue 14, item 2) ---

def test_a_valid_line_python_cannot_load_rejects_only_itself(tmp_path):
    records = [{"id": f"r{i}", "text": f"record {i}"} for i in range(1000)]
    data = jsonl_bytes(*records[:500], b'{"id": "big", "n": ' + b"9" * 5000 + b', "text": "x"}',
                       b'{"text": ' + b"[" * 50000 + b"]" * 50000 + b"}", *records[500:])
    path = write(tmp_path, "big_int.jsonl", data)
    docs, rejects = read(path)
    assert docs == [(r["id"], r["text"]) for r in records]
    assert reasons(rejects) == [(line_key(path, data, 501), "unsupported_json"),
                                (line_key(path, data, 502), "unsupported_json")]
    assert "digits" in rejects[0]["detail"]
    assert "recursion" in rejects[1]["detail"]


def test_any_failure_on_one_record_is_a_reject_with_its_reason(tmp_path, monkeypatch):
    from glmprep.core.reading import jsonl

    real = jsonl._document

    def fails_on_b(record, *args):
        if record.get("id") == "b":
            raise KeyError("something nobody foresaw")
        return real(record, *args)

    monkeypatch.setattr(jsonl, "_document", fails_on_b)
    data = jsonl_bytes({"id": "a", "text": "1"}, {"id": "b", "text": "2"}, {"id": "c", "text": "3"})
    path = write(tmp_path, "x.jsonl", data)
    docs, rejects = read(path)
    assert docs == [("a", "1"), ("c", "3")]
    assert reasons(rejects) == [(line_key(path, data, 2), "record_error")]
    assert "KeyError" in rejects[0]["detail"]


# --- record size limit (issue 14, item 5) ---

def test_a_record_over_the_limit_is_rejected_and_reading_goes_on(tmp_path):
    data = jsonl_bytes({"id": "a", "text": "short"}, {"id": "big", "text": "x" * 5000}, {"id": "c", "text": "end"})
    path = write(tmp_path, "big.jsonl", data)
    docs, rejects = read(path, max_record_bytes=1000)
    assert docs == [("a", "short"), ("c", "end")]
    assert reasons(rejects) == [(line_key(path, data, 2), "record_too_large")]
    assert "5,026 bytes > --max-record-bytes 1,000" in rejects[0]["detail"]
    # a line of exactly the limit (its "\n" included) is read
    assert read(path, max_record_bytes=len(data.split(b"\n")[1]) + 1)[1] == []


def test_text_file_paragraph_and_parquet_value_over_the_limit(tmp_path):
    text = write(tmp_path, "long.txt", b"word " * 1000)
    assert reasons(read(text, max_record_bytes=100)[1]) == [(text, "record_too_large")]
    paragraphs = write(tmp_path, "p.txt", b"short one\n\n" + b"many lines\n" * 100 + b"\nlast\n")
    docs, rejects = read(paragraphs, text_mode="paragraph", max_record_bytes=100)
    assert docs == [(f"{paragraphs}@0", "short one"), (f"{paragraphs}@1112", "last")]
    assert reasons(rejects) == [(f"{paragraphs}@11", "record_too_large")]
    table = write_parquet(tmp_path, "v.parquet", {"id": ["a", "b"], "text": ["ok", "y" * 500]})
    docs, rejects = read(table, max_record_bytes=100)
    assert docs == [("a", "ok")]
    assert reasons(rejects) == [("b", "record_too_large")]


def test_a_decompression_bomb_costs_bounded_memory(tmp_path):
    import tracemalloc
    import zlib

    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    line = b"a" * (1 << 20)
    bomb = b"".join(compressor.compress(line) for _ in range(256)) + compressor.compress(b"\n")
    bomb += compressor.compress(jsonl_bytes({"id": "after", "text": "still read"})) + compressor.flush()
    path = write(tmp_path, "bomb.jsonl.gz", bomb)  # 256 MiB line, 250 KB on disk
    tracemalloc.start()
    docs, rejects = read(path, max_record_bytes=4 << 20)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert docs == [("after", "still read")]
    assert reasons(rejects) == [(f"{path}@0", "record_too_large")]
    assert peak < 16 << 20, peak  # the limit, one read buffer and one output chunk


# --- line separators and encodings (issue 14, item 11) ---

@pytest.mark.parametrize("separator", ["\r", "\u2028", "\u0085"])
def test_records_separated_by_something_else_than_newline_are_each_rejected(tmp_path, separator):
    records = [json.dumps({"id": f"r{i}", "text": f"t{i}\u2028inside"}, ensure_ascii=False) for i in range(3)]
    data = (separator.join(records) + "\n" + json.dumps({"id": "ok", "text": "fine"}) + "\n").encode()
    path = write(tmp_path, "sep.jsonl", data)
    docs, rejects = read(path)
    assert docs == [("ok", "fine")]
    step = len((records[0] + separator).encode())
    assert reasons(rejects) == [(f"{path}@{i * step}", "line_separator") for i in range(3)]
    assert rejects[1]["detail"].endswith("convert the line ends, e.g. tr '\\r' '\\n'")
    assert "record 2 of 3" in rejects[1]["detail"]


def test_values_separated_by_spaces_are_one_malformed_line(tmp_path):
    path = write(tmp_path, "two.jsonl", b'{"text": "a"} {"text": "b"}\n')
    assert reasons(read(path)[1]) == [(f"{path}@0", "malformed_json")]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_utf16_or_utf32_file_is_one_reject(tmp_path, encoding):
    text = jsonl_bytes(*LINES[:20]).decode()
    bom = {"utf-16-be": "\ufeff"}.get(encoding, "")
    path = write(tmp_path, "wide.jsonl", (bom + text).encode(encoding))
    docs, rejects = read(path)
    assert docs == []
    assert reasons(rejects) == [(path, "unsupported_encoding")]
    assert "iconv -f UTF-" in rejects[0]["detail"]
    gz = write(tmp_path, "wide.txt.gz", gzip.compress((bom + text).encode(encoding)))
    assert reasons(read(gz)[1]) == [(gz, "unsupported_encoding")]


# --- changed files and spellings of one file (issue 14, item 7) ---

def test_a_file_changed_since_it_was_matched_is_a_reject_naming_it(tmp_path, capsys):
    from glmprep.core.reading.files import InputFile, ReadRange
    from glmprep.transforms.read import ReadRangeDoFn

    path = write(tmp_path, "grows.jsonl", jsonl_bytes({"id": "a", "text": "one"}))
    stale = InputFile(path, 10, 1.0)  # what matching saw before the file was rewritten
    out = list(ReadRangeDoFn(ReadOptions()).process(ReadRange(stale, 0, None)))
    assert out[0] == ("a", "one")
    reject = out[1].value
    assert (reject["key"], reject["reason"]) == (path, "file_changed")
    assert "changed while it was read" in reject["detail"]
    assert "10 bytes" in reject["detail"]
    assert "warning" in capsys.readouterr().err
    assert path in reject["detail"]
    import os
    info = os.stat(path)
    fresh = InputFile(path, info.st_size, info.st_mtime)
    assert list(ReadRangeDoFn(ReadOptions()).process(ReadRange(fresh, 0, None))) == [("a", "one")]


def test_one_file_reached_through_several_spellings_is_read_once(tmp_path, monkeypatch):
    import os

    folder = tmp_path / "data"
    folder.mkdir()
    data = jsonl_bytes({"text": "only once"})
    write(folder, "a.jsonl", data)
    os.symlink(folder, tmp_path / "link")
    monkeypatch.chdir(tmp_path)
    pipeline = TestPipeline()
    docs, rejects = pipeline | ReadDocuments(["./data/a.jsonl", str(folder / "a.jsonl"), "link/*.jsonl"],
                                             id_field=None)
    # the spelling that sorts first names the file
    assert_that(docs, equal_to([("./data/a.jsonl@0", "only once")]), label="Once")
    assert_that(rejects, equal_to([]), label="NoRejects")
    pipeline.run().wait_until_finish()


def test_split_reading_in_the_pipeline_gives_the_same_documents(tmp_path):
    data = b"".join(json.dumps({"text": f"document {i} " + "x" * (i % 37)}).encode() + b"\r\n" for i in range(300))
    path = write(tmp_path, "many.jsonl", b"\xef\xbb\xbf" + data[:-2])  # BOM, no final line end
    expected = read(path)[0]
    pipeline = TestPipeline()
    docs, rejects = pipeline | ReadDocuments(path, split_bytes=97)
    assert_that(docs, equal_to(expected), label="Docs")
    assert_that(rejects, equal_to([]), label="NoRejects")
    result = pipeline.run()
    result.wait_until_finish()
    assert counter(result, "ranges_read") == -(-(len(data) + 1) // 97)

def test_progress_counts_uncompressed_text_per_document(tmp_path):
    import gzip as gzip_module

    import os

    from glmprep.core.reading.files import InputFile, ReadRange
    from glmprep.transforms.read import ReadRangeDoFn
    texts = [f"document {i} ünïcode " * 50 for i in range(20)]
    path = tmp_path / "docs.jsonl.gz"
    with gzip_module.open(path, "wt", encoding="utf-8") as fh:
        for i, text in enumerate(texts):
            fh.write(json.dumps({"id": str(i), "text": text}) + "\n")
    notes = []
    fn = ReadRangeDoFn(ReadOptions(), lambda name, n=1: notes.append((name, n)))
    info = os.stat(path)
    docs = list(fn.process(ReadRange(InputFile(str(path), info.st_size, info.st_mtime), 0, None)))
    byte_notes = [n for name, n in notes if name == "bytes_read"]
    assert len(docs) == len(texts) == len(byte_notes)  # the count moves with every document
    assert sum(byte_notes) == sum(len(t.encode("utf-8")) for t in texts) > path.stat().st_size
