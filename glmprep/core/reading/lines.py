"""Physical lines and blank-line paragraphs of a byte stream, each with the byte offset
where it starts, never holding more than a limit.

A range ``[start, end)`` of a file owns the records that *start* in it: a reader seeks
to ``start``, skips the rest of the line (or paragraph) begun before it, and reads until
a record would start at or after ``end``, finishing the one it is in. Reading every
range of a split file therefore gives exactly the records of reading it whole, with
the same offsets.

A record longer than the limit is not held: reading it stops at the limit, the rest is
skipped up to its end and only its size (``Oversized``) is passed on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Iterator, List, Optional, Tuple, Union

LINE_END = b"\n"
BOM_UTF8 = b"\xef\xbb\xbf"
# bytes.strip()'s white space: a line of only these is blank
_WHITESPACE = b" \t\n\r\x0b\x0c"
_SKIP_CHUNK_BYTES = 1 << 20
_LOOK_BACK_BYTES = 1 << 12


@dataclass(frozen=True)
class Oversized:
    """A line or paragraph of ``size`` bytes (its line ends included), more than the limit."""

    size: int


Line = Union[bytes, Oversized]


def read_line(stream: BinaryIO, limit: int) -> Tuple[Line, int]:
    """The next line (its ``\\n`` included) and its size in bytes; ``(b"", 0)`` at the end.

    A line of more than ``limit`` bytes is read and dropped in pieces: ``Oversized``.
    """
    line = stream.readline(limit)
    if len(line) < limit or line.endswith(LINE_END):
        return line, len(line)
    size = len(line)
    while True:
        piece = stream.readline(_SKIP_CHUNK_BYTES)
        if not piece:
            break
        line = b""
        size += len(piece)
        if piece.endswith(LINE_END):
            break
    return (line, size) if line else (Oversized(size), size)


def is_blank(line: Line) -> bool:
    return not isinstance(line, Oversized) and not line.strip()


def seek_to_line(stream: BinaryIO, start: int) -> int:
    """Move to the first line that starts at or after ``start``; returns its offset
    (beyond the end of the stream when there is none)."""
    if start == 0:
        return 0
    stream.seek(start - 1)
    offset = start - 1
    while True:
        piece = stream.readline(_SKIP_CHUNK_BYTES)
        offset += len(piece)
        if not piece or piece.endswith(LINE_END):
            return offset


def lines_in_range(stream: BinaryIO, start: int, end: Optional[int],
                   limit: int) -> Iterator[Tuple[int, Line]]:
    """``(offset, line)`` for every line starting in ``[start, end)`` (``end`` None: to
    the end). ``stream`` is at ``start`` when ``start`` is 0 (it need not seek then)."""
    offset = seek_to_line(stream, start)
    while end is None or offset < end:
        line, size = read_line(stream, limit)
        if not size:
            return
        yield offset, line
        offset += size


def _line_before_is_blank(stream: BinaryIO, offset: int) -> bool:
    """Is the line that ends just before ``offset`` (a line start) blank, or is
    ``offset`` the start of the stream? Reads backwards over white space only."""
    position = offset - 1  # the "\n" ending that line
    while position > 0:
        begin = max(0, position - _LOOK_BACK_BYTES)
        stream.seek(begin)
        chunk = stream.read(position - begin)
        newline = chunk.rfind(LINE_END)
        tail = chunk[newline + 1:]
        if begin == 0 and newline < 0 and tail.startswith(BOM_UTF8):
            tail = tail[len(BOM_UTF8):]
        if tail.strip(_WHITESPACE):
            return False
        if newline >= 0:
            return True
        position = begin
    return True


def paragraphs_in_range(stream: BinaryIO, start: int, end: Optional[int],
                        limit: int) -> Iterator[Tuple[int, Union[List[bytes], Oversized]]]:
    """``(offset, lines)`` for every paragraph (lines between blank lines) starting in
    ``[start, end)``; a paragraph of more than ``limit`` bytes is ``Oversized``."""
    offset = seek_to_line(stream, start)
    inside_earlier = start > 0 and not _line_before_is_blank(stream, offset)
    if start > 0:
        stream.seek(offset)
    paragraph_start: Optional[int] = None
    lines: List[bytes] = []
    size = 0
    while True:
        line, line_size = read_line(stream, limit)
        if not line_size:
            break
        line_offset, offset = offset, offset + line_size
        if is_blank(line[len(BOM_UTF8):] if line_offset == 0 and line[:3] == BOM_UTF8 else line):
            inside_earlier = False
            if paragraph_start is not None:
                yield paragraph_start, lines if size <= limit else Oversized(size)
                paragraph_start, lines, size = None, [], 0
            elif end is not None and line_offset >= end:
                return
            continue
        if inside_earlier:
            continue
        if paragraph_start is None:
            if end is not None and line_offset >= end:
                return
            paragraph_start = line_offset
        size += line_size
        if size <= limit:
            lines.append(line)
        else:
            lines = []
    if paragraph_start is not None:
        yield paragraph_start, lines if size <= limit else Oversized(size)
