"""What every reader shares: the read stage's reject reasons and counters, keys, and
turning a record's bytes into text or a reject."""
from __future__ import annotations

from typing import Any, Callable, Dict, Union

from glmprep.core.reading.lines import Oversized
from glmprep.schemas.rejects import make_reject

STAGE = "read"

# Reject reasons.
MALFORMED_JSON = "malformed_json"
UNSUPPORTED_JSON = "unsupported_json"
LINE_SEPARATOR = "line_separator"
MISSING_TEXT = "missing_text"
NON_STRING_TEXT = "non_string_text"
INVALID_UTF8 = "invalid_utf8"
INVALID_UNICODE = "invalid_unicode"  # same name as the clean stage's reason
RECORD_TOO_LARGE = "record_too_large"
RECORD_ERROR = "record_error"
UNKNOWN_FORMAT = "unknown_format"
UNSUPPORTED_ENCODING = "unsupported_encoding"
BAD_PARQUET_SCHEMA = "bad_parquet_schema"
UNREADABLE_FILE = "unreadable_file"
FILE_CHANGED = "file_changed"
READ_REJECT_REASONS = (MALFORMED_JSON, UNSUPPORTED_JSON, LINE_SEPARATOR, MISSING_TEXT,
                       NON_STRING_TEXT, INVALID_UTF8, INVALID_UNICODE, RECORD_TOO_LARGE,
                       RECORD_ERROR, UNKNOWN_FORMAT, UNSUPPORTED_ENCODING, BAD_PARQUET_SCHEMA,
                       UNREADABLE_FILE, FILE_CHANGED)

# Counters besides the reject reasons.
DOCS_READ = "docs_read"
BYTES_READ = "bytes_read"
RANGES_READ = "ranges_read"
UTF8_REPLACED = "utf8_replaced"
BLANK_LINES = "blank_lines"
READ_COUNTERS = (DOCS_READ, BYTES_READ, RANGES_READ, UTF8_REPLACED, BLANK_LINES)

Reject = Dict[str, str]
Note = Callable[[str], None]  # called with a counter name for each event


def record_key(record_id: Any, fallback: str) -> str:
    """The id when it is a non-empty string or an integer, else ``fallback``.

    >>> record_key(7, "a.jsonl@0"), record_key(True, "a.jsonl@0"), record_key("", "a.jsonl@0")
    ('7', 'a.jsonl@0', 'a.jsonl@0')
    """
    if isinstance(record_id, str) and record_id:
        return record_id
    if isinstance(record_id, int) and not isinstance(record_id, bool):
        return str(record_id)
    return fallback


def too_large(where: str, record: Oversized, limit: int, what: str = "record") -> Reject:
    return make_reject(where, STAGE, RECORD_TOO_LARGE,
                       f"{where}: {what} of {record.size:,} bytes > --max-record-bytes {limit:,}; "
                       f"skipped without reading it into memory")


def decode(data: bytes, where: str, invalid_utf8: str, note: Note) -> Union[str, Reject]:
    """UTF-8 text of ``data``, or an ``invalid_utf8`` reject keyed ``where``
    (``invalid_utf8="replace"``: decoded with U+FFFD, ``utf8_replaced`` noted)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        replaced = data.decode("utf-8", errors="replace")
        if invalid_utf8 == "replace":
            note(UTF8_REPLACED)
            return replaced
        return make_reject(where, STAGE, INVALID_UTF8,
                           f"{where}: invalid UTF-8 byte 0x{data[exc.start]:02x} at byte offset {exc.start}",
                           replaced)


def record_error(where: str, exc: BaseException) -> Reject:
    """Any failure on one record that has no reason of its own: the record is rejected,
    the rest of the file is still read."""
    return make_reject(where, STAGE, RECORD_ERROR, f"{where}: {type(exc).__name__}: {exc}"[:1000])
