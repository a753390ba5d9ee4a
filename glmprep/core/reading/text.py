"""Plain text: a whole file as one document (keyed by its path), or each paragraph
(lines between blank lines) as one (keyed ``path@offset`` of its first line)."""
from __future__ import annotations

from typing import BinaryIO, Iterable, Iterator, List, Tuple, Union

from glmprep.core.reading.lines import BOM_UTF8, Oversized
from glmprep.core.reading.options import ReadOptions
from glmprep.core.reading.records import Note, Reject, decode, record_error, too_large
from glmprep.core.records import Doc


def text_file_document(stream: BinaryIO, path: str, options: ReadOptions,
                       note: Note) -> Union[Doc, Reject]:
    """The whole file as one document; reading stops after ``max_record_bytes``."""
    data = stream.read(options.max_record_bytes + 1)
    if len(data) > options.max_record_bytes:
        size = len(data)
        del data
        while True:  # its size for the reject, read and dropped in pieces
            piece = stream.read(1 << 20)
            if not piece:
                break
            size += len(piece)
        return too_large(path, Oversized(size), options.max_record_bytes, "text file")
    try:
        if data.startswith(BOM_UTF8):
            data = data[len(BOM_UTF8):]
        text = decode(data, path, options.invalid_utf8, note)
        return text if isinstance(text, dict) else (path, text)
    except Exception as exc:  # noqa: BLE001 - a bad record is a reject, not a crash
        return record_error(path, exc)


def paragraph_documents(paragraphs: Iterable[Tuple[int, Union[List[bytes], Oversized]]], path: str,
                        options: ReadOptions, note: Note) -> Iterator[Union[Doc, Reject]]:
    """Documents and rejects of ``(offset, lines)`` paragraphs."""
    for offset, lines in paragraphs:
        key = f"{path}@{offset}"
        if isinstance(lines, Oversized):
            yield too_large(key, lines, options.max_record_bytes, "paragraph")
            continue
        try:
            data = b"".join(lines).rstrip(b"\r\n")
            if offset == 0 and data.startswith(BOM_UTF8):
                data = data[len(BOM_UTF8):]
            text = decode(data, key, options.invalid_utf8, note)
            yield text if isinstance(text, dict) else (key, text)
        except Exception as exc:  # noqa: BLE001 - a bad record is a reject, not a crash
            yield record_error(key, exc)
