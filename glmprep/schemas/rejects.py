"""The rejects contract: where reject records are written, their fields, and every reason.

Every document a stage drops becomes exactly one reject record (``make_reject``), a
JSON object on one line of ``<output>/rejects/rejects-*.jsonl``::

    key       the document's key (for a file-level reject, the file's path)
    stage     one of glmprep.schemas.stages.STAGES
    reason    one of that stage's reasons in REJECT_REASONS
    detail    what was measured or what broke, for a person
    kept_key  the key of the document kept in its place (duplicates), else null
    preview   the first REJECT_PREVIEW_CHARS characters of the text

The manifest counts them as ``stage/reason`` (``totals.rejected_by_reason``).

To add a reason: add one ``RejectReason(stage, reason, meaning)`` line to
``REJECT_REASONS`` (in pipeline order; a filter rule's line in its checking order).
``make_reject`` refuses reasons that are not listed, and a test checks that the
README's table of reasons is ``reasons_table()``: regenerate that table with
``python -m glmprep.schemas.rejects`` and paste it between the README's markers.
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Tuple

from glmprep.schemas.stages import STAGES

REJECTS_DIR = "rejects"                       # under the run's output directory
REJECTS_FILE_PREFIX = "rejects"               # rejects/rejects-00000-of-00004.jsonl
REJECTS_FILE_SUFFIX = ".jsonl"
REJECTS_GLOB = f"{REJECTS_DIR}/*{REJECTS_FILE_SUFFIX}"
REJECT_FIELDS = ("key", "stage", "reason", "detail", "kept_key", "preview")
REJECT_PREVIEW_CHARS = 200


class RejectReason(NamedTuple):
    stage: str
    reason: str
    meaning: str


REJECT_REASONS: Tuple[RejectReason, ...] = (
    RejectReason("read", "malformed_json", "a JSON Lines line that is not valid JSON"),
    RejectReason("read", "unsupported_json", "valid JSON Python cannot load: an integer of more than 4,300 "
                                             "digits, nesting deeper than the recursion limit"),
    RejectReason("read", "line_separator", "one of several JSON values on a line separated by CR alone, "
                                           "U+2028, U+2029 or NEL instead of \\n (each value rejected)"),
    RejectReason("read", "missing_text", "a record that is not an object, has no text field, or a null text"),
    RejectReason("read", "non_string_text", "the text field holds something other than a string"),
    RejectReason("read", "invalid_utf8", "bytes that are not UTF-8 (unless --invalid-utf8 replace)"),
    RejectReason("read", "invalid_unicode", "a JSON \\ud800-style escape: a lone surrogate is not a character"),
    RejectReason("read", "record_too_large", "a record of more than --max-record-bytes (skipped without "
                                             "being held)"),
    RejectReason("read", "record_error", "any other failure on one record (the detail names it); the "
                                         "rest of the file is read"),
    RejectReason("read", "unknown_format", "a file whose extension names no known format (key = the path)"),
    RejectReason("read", "unsupported_encoding", "a file starting with a UTF-16 or UTF-32 byte order mark "
                                                 "(key = the path)"),
    RejectReason("read", "bad_parquet_schema", "a Parquet file without the text column, or of the wrong type"),
    RejectReason("read", "unreadable_file", "a file that cannot be opened or decompressed to its end (key = "
                                            "the path; the records before the break are kept)"),
    RejectReason("read", "file_changed", "a file whose size or modification time changed between matching "
                                         "and reading (key = the path; what was read is kept)"),
    RejectReason("read", "duplicate_id", "a second record with the same id and the same text; with "
                                         "--duplicate-ids reject also one with a different text (kept_key)"),
    RejectReason("clean", "invalid_unicode", "text holding a lone UTF-16 surrogate"),
    RejectReason("clean", "empty", "no visible text after cleaning"),
    RejectReason("language", "language", "the identified language is not in --languages, or its score is "
                                         "below --min-language-score (detail: language and score)"),
    RejectReason("filter", "too_short", "fewer words than --min-words"),
    RejectReason("filter", "too_long", "more words than --max-words"),
    RejectReason("filter", "alpha_ratio", "too few words hold a letter"),
    RejectReason("filter", "mean_word_length", "mean length of non-CJK words outside the bounds"),
    RejectReason("filter", "symbol_ratio", "too many '#' and ellipses per word"),
    RejectReason("filter", "bullet_lines", "too many lines start with a bullet"),
    RejectReason("filter", "ellipsis_lines", "too many lines end with an ellipsis"),
    RejectReason("filter", "duplicate_paragraphs", "too many characters in repeated paragraphs"),
    RejectReason("filter", "duplicate_lines", "too many characters in repeated lines"),
    RejectReason("filter", "top_ngram_repetition", "the top 2/3/4-gram covers too many characters"),
    RejectReason("decontaminate", "contaminated", "shares an n-gram with a --decontaminate item (detail: "
                                                  "file and item)"),
    RejectReason("exact_dedup", "exact_duplicate", "identical text after case folding and white-space "
                                                   "collapsing; the smallest key is kept (kept_key)"),
    RejectReason("near_dedup", "near_duplicate", "a MinHash near-duplicate of the kept document (kept_key)"),
    RejectReason("tokenize", "no_tokens", "the text encodes to no tokens"),
    RejectReason("tokenize", "tokenizer_error", "tiktoken fails on the text (the detail names the error), "
                                                "e.g. on a run of about a million spaces between two words"),
    RejectReason("mixing", "mixing_dropped", "not taken when its source was down-sampled to its target "
                                             "(detail: source and rate)"),
)
_KNOWN = frozenset((r.stage, r.reason) for r in REJECT_REASONS)


def reasons_of(stage: str) -> Tuple[str, ...]:
    """The reasons of ``stage``, in registry order.

    >>> reasons_of("clean")
    ('invalid_unicode', 'empty')
    """
    return tuple(r.reason for r in REJECT_REASONS if r.stage == stage)


def make_reject(key: str, stage: str, reason: str, detail: str = "",
                text: Optional[str] = None, kept_key: Optional[str] = None) -> Dict[str, Optional[str]]:
    """One reject record (``REJECT_FIELDS``); ValueError for a stage or reason not registered.

    >>> make_reject("a.jsonl:3", "filter", "too_short", "4 words < 5", "hi there")["preview"]
    'hi there'
    """
    if (stage, reason) not in _KNOWN:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
        raise ValueError(f"unknown reject reason {stage}/{reason}; register it in "
                         f"glmprep.schemas.rejects.REJECT_REASONS (known: {reasons_of(stage)})")
    return {
        "key": key,
        "stage": stage,
        "reason": reason,
        "detail": detail,
        "kept_key": kept_key,
        "preview": (text or "")[:REJECT_PREVIEW_CHARS],
    }


def reason_key(reject) -> str:
    """A reject record's ``stage/reason``, as the manifest counts it.

    >>> reason_key({"stage": "clean", "reason": "empty"})
    'clean/empty'
    """
    return f"{reject['stage']}/{reject['reason']}"


def reasons_table() -> str:
    """The README's table of reject reasons (Markdown), generated from ``REJECT_REASONS``."""
    lines = ["| stage | reason | meaning |", "|---|---|---|"]
    lines += [f"| {r.stage} | `{r.reason}` | {r.meaning} |" for r in REJECT_REASONS]
    return "\n".join(lines)


if __name__ == "__main__":
    print(reasons_table())
