"""JSON Lines records: one JSON object per ``\\n``-terminated line.

Records are separated by ``\\n`` only (a ``\\r`` before it is part of the line end). A
line that holds several JSON values separated by CR alone, U+2028, U+2029 or NEL
(U+0085), as files from old Mac tools or some exporters do, is not JSON Lines: each of
those values is rejected on its own as ``line_separator`` (keyed by its own byte
offset), so every physical record is counted and none is guessed at.
"""
from __future__ import annotations

import json
import re
from typing import Iterable, Iterator, List, Tuple, Union

from glmprep.core.reading.lines import BOM_UTF8, Line, Oversized
from glmprep.core.reading.options import ReadOptions
from glmprep.core.reading.records import (BLANK_LINES, LINE_SEPARATOR, MALFORMED_JSON, MISSING_TEXT,
                                          NON_STRING_TEXT, STAGE, UNSUPPORTED_JSON, INVALID_UNICODE,
                                          Note, Reject, decode, record_error, record_key, too_large)
from glmprep.core.records import Doc
from glmprep.schemas.rejects import make_reject

# A JSON escape of a UTF-16 surrogate (high or low half), the only way a lone
# surrogate gets into a str here: strict UTF-8 decoding never produces one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_WHITESPACE = " \t\n\r"
# Separators some tools put between records instead of "\n" (CR alone is JSON white space).
_FOREIGN_SEPARATORS = {"\r": "CR (\\r) alone", "\u2028": "U+2028", "\u2029": "U+2029",
                       "\u0085": "NEL (U+0085)"}
_DECODER = json.JSONDecoder()


def jsonl_documents(lines: Iterable[Tuple[int, Line]], path: str, options: ReadOptions,
                    note: Note) -> Iterator[Union[Doc, Reject]]:
    """Documents and rejects of ``(offset, line)`` pairs, keyed ``path@offset`` when the
    record has no id. Whatever goes wrong with one line rejects that line only."""
    for offset, raw in lines:
        where = f"{path}@{offset}"
        if isinstance(raw, Oversized):
            yield too_large(where, raw, options.max_record_bytes, "JSON line")
            continue
        if offset == 0 and raw.startswith(BOM_UTF8):
            raw = raw[len(BOM_UTF8):]
        if not raw.strip():
            note(BLANK_LINES)
            continue
        try:
            yield from _line_items(raw, offset, path, options, note)
        except Exception as exc:  # noqa: BLE001 - one bad record never ends its file
            yield record_error(where, exc)


def _line_items(raw: bytes, offset: int, path: str, options: ReadOptions,
                note: Note) -> List[Union[Doc, Reject]]:
    where = f"{path}@{offset}"
    line = decode(raw.rstrip(b"\r\n"), where, options.invalid_utf8, note)
    if isinstance(line, dict):
        return [line]
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            values = _separated_values(line, offset, path)
            if values is not None:
                return values
        return [make_reject(where, STAGE, MALFORMED_JSON, f"{where}: {exc.msg} (column {exc.colno})", line)]
    except RecursionError:
        return [make_reject(where, STAGE, UNSUPPORTED_JSON,
                            f"{where}: JSON nested deeper than Python's recursion limit", line)]
    except ValueError as exc:  # valid JSON Python will not load, e.g. an integer of > 4300 digits
        return [make_reject(where, STAGE, UNSUPPORTED_JSON, f"{where}: {exc}"[:500], line)]
    return [_document(record, raw, line, where, options)]


def _document(record, raw: bytes, line: str, where: str, options: ReadOptions) -> Union[Doc, Reject]:
    if not isinstance(record, dict):
        return make_reject(where, STAGE, MISSING_TEXT,
                           f"{where}: expected a JSON object, got {type(record).__name__}", line)
    key = record_key(record.get(options.id_field) if options.id_field else None, where)
    text = record.get(options.text_field)
    if _SURROGATE_ESCAPE.search(raw) and (_LONE_SURROGATE.search(key)
                                          or isinstance(text, str) and _LONE_SURROGATE.search(text)):
        # Beam's coders encode str as UTF-8, which a lone surrogate cannot be:
        # the document has to stop here, before it crosses any stage boundary.
        return make_reject(where, STAGE, INVALID_UNICODE,
                           f"{where}: JSON escape of a lone UTF-16 surrogate (not a character)", line)
    if text is None:
        state = "null" if options.text_field in record else "missing"
        return make_reject(key, STAGE, MISSING_TEXT, f"{where}: field {options.text_field!r} is {state}", line)
    if not isinstance(text, str):
        return make_reject(key, STAGE, NON_STRING_TEXT,
                           f"{where}: field {options.text_field!r} is a {type(text).__name__}, "
                           f"expected a string", line)
    return key, text


def _separated_values(line: str, offset: int, path: str):
    """One ``line_separator`` reject per JSON value of a line whose values are separated
    by a foreign separator (see the module docstring); None if no such separator is
    between them (then the line is one malformed record)."""
    starts: List[int] = []
    separators = set()
    position = 0
    while position < len(line):
        starts.append(position)
        try:
            _, position = _DECODER.raw_decode(line, position)
        except (ValueError, RecursionError):
            break  # the rest of the line is one more (malformed) record
        gap_start = position
        while position < len(line) and (line[position] in _JSON_WHITESPACE
                                        or line[position] in _FOREIGN_SEPARATORS):
            position += 1
        # the line is cut at "\n" and its line end stripped: any "\r" left in it is a CR alone
        separators.update(_FOREIGN_SEPARATORS[c] for c in line[gap_start:position] if c in _FOREIGN_SEPARATORS)
    if not separators or len(starts) < 2:
        return None
    named = ", ".join(sorted(separators))
    rejects = []
    byte_offset, previous = offset, 0
    for number, start in enumerate(starts, start=1):
        byte_offset += len(line[previous:start].encode("utf-8", "surrogatepass"))
        previous = start
        where = f"{path}@{byte_offset}"
        end = starts[number] if number < len(starts) else len(line)
        rejects.append(make_reject(
            where, STAGE, LINE_SEPARATOR,
            f"{where}: record {number} of {len(starts)} on one line: records separated by {named} "
            f"instead of \\n (JSON Lines); convert the line ends, e.g. tr '\\r' '\\n'",
            line[start:end]))
    return rejects
