"""Reading a file in byte ranges (glmprep.core.reading.lines / files): the ranges of any
split give exactly the documents, keys and rejects of reading the file whole, with
records straddling range borders, CRLF, a byte order mark, a last line without a line
end, blank lines, and split sizes down to one byte."""
from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from glmprep.core.reading.files import InputFile, read_file, read_range, split_file
from glmprep.core.reading.options import ReadOptions

BOM = b"\xef\xbb\xbf"


def ranged(path, options):
    file = InputFile(path, len(open(path, "rb").read()), 0.0)
    ranges = split_file(file, options)
    return ranges, [item for rng in ranges for item in read_range(rng, options)]


def whole(path, options):
    return list(read_file(path, options))


def write_lines(directory, name, lines, crlf, bom, final_newline):
    end = "\r\n" if crlf else "\n"
    data = end.join(lines).encode() + (end.encode() if final_newline and lines else b"")
    path = str(directory / name)
    open(path, "wb").write((BOM if bom else b"") + data)
    return path


record = st.fixed_dictionaries({"text": st.text(max_size=40)}, optional={"id": st.text(max_size=3)})
jsonl_line = st.one_of(record.map(lambda r: json.dumps(r, ensure_ascii=False)),
                       st.sampled_from(["", "   ", "{broken", "[1, 2]", '{"text": 5}', "\t"]))


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(jsonl_line, max_size=12), crlf=st.booleans(), bom=st.booleans(),
       final_newline=st.booleans(), split=st.integers(1, 60))
def test_jsonl_ranges_read_what_the_whole_file_reads(tmp_path_factory, lines, crlf, bom, final_newline, split):
    path = write_lines(tmp_path_factory.mktemp("jsonl"), "part.jsonl", lines, crlf, bom, final_newline)
    options = ReadOptions(split_bytes=split)
    ranges, items = ranged(path, options)
    assert items == whole(path, options)
    assert len(ranges) == max(1, -(-len(open(path, "rb").read()) // split))


paragraph_line = st.one_of(st.text(alphabet="ab \t中", min_size=1, max_size=12), st.sampled_from(["", " ", "\t"]))


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(paragraph_line, max_size=14), crlf=st.booleans(), bom=st.booleans(),
       final_newline=st.booleans(), split=st.integers(1, 40))
def test_paragraph_ranges_read_what_the_whole_file_reads(tmp_path_factory, lines, crlf, bom, final_newline, split):
    path = write_lines(tmp_path_factory.mktemp("text"), "poems.txt", lines, crlf, bom, final_newline)
    options = ReadOptions(text_mode="paragraph", split_bytes=split)
    assert ranged(path, options)[1] == whole(path, options)


def test_a_record_belongs_to_the_range_where_it_starts(tmp_path):
    data = b'{"text": "first"}\n{"text": "second, long enough to cross a border"}\n{"text": "third"}\n'
    path = str(tmp_path / "a.jsonl")
    open(path, "wb").write(data)
    second = data.index(b'{"text": "second')
    third = data.index(b'{"text": "third')
    options = ReadOptions(split_bytes=second + 5)  # the border falls inside the second record
    ranges = split_file(InputFile(path, len(data), 0.0), options)
    per_range = [list(read_range(rng, options)) for rng in ranges]
    split = second + 5
    expected = [[] for _ in ranges]
    for offset, text in ((0, "first"), (second, "second, long enough to cross a border"), (third, "third")):
        expected[offset // split].append((f"{path}@{offset}", text))
    assert per_range == expected
    assert len(ranges) == 4


def test_a_border_right_at_a_record_start(tmp_path):
    data = b'{"text": "a"}\n{"text": "b"}\n'
    path = str(tmp_path / "a.jsonl")
    open(path, "wb").write(data)
    options = ReadOptions(split_bytes=data.index(b'{"text": "b'))
    ranges = split_file(InputFile(path, len(data), 0.0), options)
    assert [list(read_range(rng, options)) for rng in ranges] == [[(f"{path}@0", "a")], [(f"{path}@14", "b")]]


def test_compressed_and_one_document_files_are_one_range(tmp_path):
    options = ReadOptions(split_bytes=1)
    for name in ("a.jsonl.gz", "b.txt", "c.md"):
        file = InputFile(str(tmp_path / name), 1000, 0.0)
        assert len(split_file(file, options)) == 1
    assert len(split_file(InputFile(str(tmp_path / "d.txt"), 1000, 0.0),
                          ReadOptions(split_bytes=1, text_mode="paragraph"))) == 1000


def test_parquet_row_group_ranges_read_what_the_whole_file_reads(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = str(tmp_path / "groups.parquet")
    ids = [f"p{i}" if i % 3 else None for i in range(100)]
    texts = [None if i == 42 else f"row {i} " * (i % 7) for i in range(100)]
    pq.write_table(pa.table({"id": ids, "text": texts}), path, row_group_size=9)
    options = ReadOptions(split_bytes=1)
    ranges, items = ranged(path, options)
    assert len(ranges) == 12  # one per row group at this split size
    assert items == whole(path, options)
    assert (f"{path}:99", "row 99 " * 1) in items
    assert ("p41", "row 41 " * 6) in items
