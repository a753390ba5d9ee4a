"""Parquet: the text column (and the id column, when it holds strings or integers) of a
range of row groups, read in batches of ``BATCH_ROWS`` rows; a row without an id is
keyed ``path:row`` (0-based, counted over the whole file, like Arrow)."""
from __future__ import annotations

from typing import BinaryIO, Iterator, List, Union

import pyarrow
import pyarrow.parquet as pq

from glmprep.core.reading.lines import Oversized
from glmprep.core.reading.options import ReadOptions
from glmprep.core.reading.records import (BAD_PARQUET_SCHEMA, MISSING_TEXT, STAGE,
                                          Reject, record_error, record_key, too_large)
from glmprep.core.records import Doc
from glmprep.schemas.rejects import make_reject

# Rows per batch: bounds memory at a few hundred documents.
BATCH_ROWS = 256


def row_group_sizes(stream: BinaryIO) -> List[int]:
    """Bytes (uncompressed, as Parquet states them) of each row group."""
    metadata = pq.ParquetFile(stream).metadata
    return [metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups)]


def parquet_documents(stream: BinaryIO, path: str, first_group: int, end_group: int,
                      options: ReadOptions, position) -> Iterator[Union[Doc, Reject]]:
    """Documents and rejects of row groups ``[first_group, end_group)``; a file-level
    schema problem is one ``bad_parquet_schema`` reject, from the range of group 0."""
    parquet_file = pq.ParquetFile(stream)
    schema = parquet_file.schema_arrow
    problem = _schema_problem(schema, options)
    if problem:
        if first_group == 0:
            yield make_reject(path, STAGE, BAD_PARQUET_SCHEMA, f"{path}: {problem}")
        return
    columns = [options.text_field]
    if (options.id_field and options.id_field != options.text_field
            and schema.get_field_index(options.id_field) >= 0
            and (_is_string_type(schema.field(options.id_field).type)
                 or pyarrow.types.is_integer(schema.field(options.id_field).type))):
        columns.append(options.id_field)
    metadata = parquet_file.metadata
    end_group = min(end_group, metadata.num_row_groups)
    row = sum(metadata.row_group(i).num_rows for i in range(first_group))
    groups = list(range(first_group, end_group))
    if not groups:
        return
    for batch in parquet_file.iter_batches(batch_size=BATCH_ROWS, columns=columns, row_groups=groups):
        texts = _values(batch.column(0))
        ids = _values(batch.column(1)) if len(columns) > 1 else [None] * batch.num_rows
        for text, record_id in zip(texts, ids):
            position.value = row
            where = f"{path}:{row}"
            row += 1
            try:
                yield _row_document(text, record_id, where, options)
            except Exception as exc:  # noqa: BLE001 - a bad row is a reject, not a crash
                yield record_error(where, exc)


class _BadValue:
    """A value Arrow could not convert (e.g. invalid UTF-8 in a string column)."""

    def __init__(self, exc: Exception):
        self.exc = exc


def _values(column: pyarrow.Array) -> list:
    try:
        return column.to_pylist()
    except Exception:  # noqa: BLE001 - one bad value: convert row by row to find it
        values = []
        for i in range(len(column)):
            try:
                values.append(column[i].as_py())
            except Exception as exc:  # noqa: BLE001
                values.append(_BadValue(exc))
        return values


def _row_document(text, record_id, where: str, options: ReadOptions) -> Union[Doc, Reject]:
    for value in (text, record_id):
        if isinstance(value, _BadValue):
            return record_error(where, value.exc)
    key = record_key(record_id, where)
    if text is None:
        return make_reject(key, STAGE, MISSING_TEXT, f"{where}: {options.text_field!r} is null")
    if len(text) * 4 > options.max_record_bytes:  # a UTF-8 character is at most 4 bytes
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > options.max_record_bytes:
            return too_large(key, Oversized(size), options.max_record_bytes, "text value")
    return key, text


def _schema_problem(schema: pyarrow.Schema, options: ReadOptions) -> str:
    if schema.get_field_index(options.text_field) < 0:
        return f"no column {options.text_field!r} (columns: {', '.join(schema.names)})"
    text_type = schema.field(options.text_field).type
    if not _is_string_type(text_type):
        return f"column {options.text_field!r} has type {text_type}, expected string"
    return ""


def _is_string_type(arrow_type: pyarrow.DataType) -> bool:
    if pyarrow.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    return (pyarrow.types.is_string(arrow_type) or pyarrow.types.is_large_string(arrow_type)
            or pyarrow.types.is_string_view(arrow_type))
