"""Text cleaning: make a document's text canonical before it is filtered or hashed.

``clean_text`` is pure (no Beam) and does, in this order:

1. rejects text holding a lone UTF-16 surrogate (JSON ``"\\ud800"`` decodes to one;
   it cannot be encoded as UTF-8, so it would break every later stage, Beam's coders
   included: the JSON reader therefore rejects such records already, with the same
   reason) -> reject reason ``invalid_unicode``;
2. turns every line break ``str.splitlines`` knows (``\\r\\n``, ``\\r``, ``\\v``,
   ``\\f``, ``\\x1c``-``\\x1e``, ``\\x85``, U+2028, U+2029) into ``\\n``;
3. removes ANSI/VT100 escape sequences (CSI such as ``\\x1b[31m``, OSC such as
   ``\\x1b]0;title\\x07``, and two-byte escapes such as ``\\x1b(B``);
4. removes the remaining control characters (Unicode category Cc: C0, DEL, C1)
   except ``\\n`` and ``\\t``, and byte-order marks (U+FEFF);
5. normalises to Unicode NFC, so the same visible text always has the same code points
   (exact dedup and MinHash compare code points);
6. strips spaces and tabs at the end of each line;
7. rejects text that is empty or whitespace-only afterwards -> reject reason ``empty``.

Each step that changed something is reported in ``CleanResult.changes`` (change name ->
count) so the Beam wrapper can bump one counter per change.

Pure printable ASCII without ``\\r`` or escape characters (most English text) only
pays for step 6: ``str.isascii`` and one compiled regex search decide that. Other text
without line-break, escape or control characters skips steps 2-4 after one search.
"""
from __future__ import annotations

import operator
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

# Reject reasons (stage "clean").
INVALID_UNICODE = "invalid_unicode"
EMPTY = "empty"
CLEAN_REJECT_REASONS = (INVALID_UNICODE, EMPTY)

# Change names, as reported in CleanResult.changes and counted by the Beam wrapper.
LINE_BREAKS_NORMALISED = "line_breaks_normalised"
ANSI_ESCAPES_REMOVED = "ansi_escapes_removed"
CONTROL_CHARS_REMOVED = "control_chars_removed"
NFC_NORMALISED = "nfc_normalised"
TRAILING_SPACES_STRIPPED = "trailing_spaces_stripped"
CLEAN_CHANGES = (LINE_BREAKS_NORMALISED, ANSI_ESCAPES_REMOVED, CONTROL_CHARS_REMOVED,
                 NFC_NORMALISED, TRAILING_SPACES_STRIPPED)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Any ASCII character that makes the fast path unsafe: C0 controls other than \t and
# \n (this includes \r and ESC) and DEL.
_ASCII_NEEDS_WORK = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
# \r\n first so that it becomes one \n, not two.
_LINE_BREAK = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_ANSI_ESCAPE = re.compile(
    "\x1b(?:"
    "\\][^\x07\x1b\n]*(?:\x07|\x1b\\\\)?"   # OSC ... BEL | ST (unterminated: to end of line)
    "|\\[[0-?]*[ -/]*[@-~]"                 # CSI parameters, intermediates, final byte
    "|[ -/]*[0-~]"                          # two-byte and nF escapes, e.g. ESC ( B
    ")"
)
# Cc except \t and \n, plus the byte-order mark (a zero-width no-break space that
# only ever appears as a leftover of file encoding).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff]")
# Any character that steps 2-4 change: one search spares texts without them three passes.
_NEEDS_SUBSTITUTION = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


@dataclass(frozen=True)
class CleanResult:
    """Outcome of ``clean_text``.

    ``text``: the cleaned text ('' when rejected).
    ``changes``: change name (one of ``CLEAN_CHANGES``) -> how many times it was
    applied (sequences, characters or lines); only non-zero entries.
    ``reject``: ``(reason, detail)`` when the document must be dropped, else None.
    """

    text: str
    changes: Dict[str, int] = field(default_factory=dict)
    reject: Optional[Tuple[str, str]] = None


def clean_text(text: str) -> CleanResult:
    """Clean one document's text (see the module docstring for the steps).

    >>> clean_text("\\x1b[1mbold\\x1b[0m  \\r\\nnext").text
    'bold\\nnext'
    >>> clean_text("a\\ud800b").reject
    ('invalid_unicode', 'lone surrogate U+D800 at character 1')
    """
    changes: Dict[str, int] = {}
    if text.isascii() and not _ASCII_NEEDS_WORK.search(text):
        return _finish(_strip_trailing_spaces(text, changes), changes)

    surrogate = _LONE_SURROGATE.search(text)
    if surrogate:
        detail = f"lone surrogate U+{ord(surrogate.group()):04X} at character {surrogate.start()}"
        return CleanResult("", changes, (INVALID_UNICODE, detail))

    if _NEEDS_SUBSTITUTION.search(text):
        text = _substitute(_LINE_BREAK, "\n", text, LINE_BREAKS_NORMALISED, changes)
        text = _substitute(_ANSI_ESCAPE, "", text, ANSI_ESCAPES_REMOVED, changes)
        text = _substitute(_CONTROL, "", text, CONTROL_CHARS_REMOVED, changes)
    if not text.isascii():
        normalised = unicodedata.normalize("NFC", text)
        if normalised != text:
            changes[NFC_NORMALISED] = 1
            text = normalised
    return _finish(_strip_trailing_spaces(text, changes), changes)


def _substitute(pattern: "re.Pattern[str]", replacement: str, text: str,
                change: str, changes: Dict[str, int]) -> str:
    """``pattern.subn`` that records the number of substitutions under ``change``."""
    text, count = pattern.subn(replacement, text)
    if count:
        changes[change] = count
    return text


def _strip_trailing_spaces(text: str, changes: Dict[str, int]) -> str:
    if " \n" not in text and "\t\n" not in text and not text.endswith((" ", "\t")):
        return text
    # Line by line: five times faster than a multi-line regex, which tries (and fails)
    # a match at every space between two words.
    lines = text.split("\n")
    stripped = [line.rstrip(" \t") for line in lines]
    changes[TRAILING_SPACES_STRIPPED] = sum(map(operator.ne, map(len, lines), map(len, stripped)))
    return "\n".join(stripped)


def _finish(text: str, changes: Dict[str, int]) -> CleanResult:
    if not text.strip():
        return CleanResult("", changes, (EMPTY, "no visible text after cleaning"))
    return CleanResult(text, changes)
