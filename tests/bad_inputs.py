"""Bad input files for the reader-to-shards tests and the soak, with the outcome each must have.

``write_bad_inputs(directory)`` writes one or more files per case into ``directory``
(every file a glob ``directory/*`` matches belongs to a case) and returns the cases.
Each case lists ``(document key, outcome)`` pairs, one per input record: ``KEPT`` (it
reaches a shard) or ``"stage/reason"`` (one line in ``rejects/`` with that reason;
two records with the same id are two pairs with the same key). Input records are
counted the way the manifest's ``documents_in`` counts them: every non-blank JSON
line, every Parquet row, every text file (text mode "file"), plus one for each file
that cannot be read (further) or whose schema or format is wrong.

The good texts are random words from a seeded generator: unique, unrelated to each
other (no exact or near duplicates among them) and short enough (< 50 words) that
only the length rules of the quality filter apply.

    python tests/bad_inputs.py DIR [--big-mb 50]     # writes the files, prints the cases
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
from dataclasses import dataclass, field
from typing import List, Tuple

import pyarrow as pa
import pyarrow.parquet as pq

from glmprep.transforms.unique_keys import distinct_key, text_digest

KEPT = "kept"
BIG_DOC_MB = 50


@dataclass
class Case:
    """One kind of bad input: what was written and what must become of it."""

    name: str
    outcomes: List[Tuple[str, str]] = field(default_factory=list)  # (document key, KEPT or "stage/reason")
    unreadable: List[str] = field(default_factory=list)   # paths that must be named in their reject

    @property
    def records(self) -> int:
        """Input records of this case (see the module docstring)."""
        return len(self.outcomes)


class _Words:
    """Random pronounceable words, and texts of them that pass the quality filter."""

    def __init__(self, seed: int = 7):
        self.rng = random.Random(seed)
        syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
        self.vocab = sorted({"".join(self.rng.choice(syllables) for _ in range(self.rng.randint(2, 3)))
                             for _ in range(3000)})

    def text(self, n_words: int = 30) -> str:
        words = [self.rng.choice(self.vocab) for _ in range(n_words)]
        words[0] = words[0].capitalize()
        return " ".join(words) + "."


def _jsonl(path: str, records: List[object], newline: str = "\n") -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        for record in records:
            line = record if isinstance(record, str) else json.dumps(record, ensure_ascii=False)
            fh.write(line + newline)


def _line_key(path: str, number: int) -> str:
    """The key of the record on line ``number`` (1-based) of a written file: ``path@byte offset``."""
    with open(path, "rb") as fh:
        lines = fh.read().split(b"\n")
    return f"{path}@{sum(len(line) + 1 for line in lines[:number - 1])}"


def write_bad_inputs(directory: str, big_mb: int = BIG_DOC_MB) -> List[Case]:
    """Write every bad input into ``directory`` (created if needed); returns the cases.

    ``big_mb`` is the size of the single huge document (0 leaves that case out).
    """
    os.makedirs(directory, exist_ok=True)
    d = os.path.abspath(directory)
    w = _Words()
    cases: List[Case] = []

    def path(name: str) -> str:
        return os.path.join(d, name)

    # Invalid UTF-8 inside a JSON line and inside a text file.
    p = path("invalid_utf8.jsonl")
    good = w.text()
    with open(p, "wb") as fh:
        fh.write(json.dumps({"id": "utf8-good", "text": good}).encode() + b"\n")
        fh.write(b'{"id": "utf8-bad", "text": "caf\xe9 ' + w.text().encode() + b'"}\n')
    cases.append(Case("invalid UTF-8 in a JSON line",
                      [("utf8-good", KEPT), (_line_key(p, 2), "read/invalid_utf8")]))
    p = path("invalid_utf8.txt")
    with open(p, "wb") as fh:
        fh.write(w.text().encode() + b"\xc3\x28 " + w.text().encode())
    cases.append(Case("invalid UTF-8 in a text file", [(p, "read/invalid_utf8")]))

    # A malformed JSON line between good ones.
    p = path("malformed.jsonl")
    _jsonl(p, [{"id": "malformed-1", "text": w.text()}, '{"id": "malformed-2", "text": "no end',
               {"id": "malformed-3", "text": w.text()}])
    cases.append(Case("malformed JSON line in the middle of a good file",
                      [("malformed-1", KEPT), (_line_key(p, 2), "read/malformed_json"), ("malformed-3", KEPT)]))

    # The text field missing, null, not a string; a line that is not an object; a numeric id.
    p = path("fields.jsonl")
    _jsonl(p, [{"id": "field-missing", "body": w.text()}, {"id": "field-null", "text": None},
               {"id": "field-list", "text": [w.text()]}, {"id": "field-number", "text": 42},
               {"id": "field-object", "text": {"text": w.text()}}, [w.text()],
               {"id": 7, "text": w.text()}])
    cases.append(Case("missing / null / non-string / numeric text field",
                      [("field-missing", "read/missing_text"), ("field-null", "read/missing_text"),
                       ("field-list", "read/non_string_text"), ("field-number", "read/non_string_text"),
                       ("field-object", "read/non_string_text"), (_line_key(p, 6), "read/missing_text"),
                       ("7", KEPT)]))

    # Duplicate ids: different texts (both kept, the later digest under a distinct key), and
    # the same text twice.
    p = path("duplicate_ids.jsonl")
    first, second, same = "Zz " + w.text(), "Aa " + w.text(), w.text()
    _jsonl(p, [{"id": "dup-diff", "text": first}, {"id": "dup-same", "text": same},
               {"id": "dup-diff", "text": second}, {"id": "dup-same", "text": same}])
    renamed = distinct_key("dup-diff", max(text_digest(first), text_digest(second)))
    cases.append(Case("duplicate ids", [("dup-diff", KEPT), (renamed, KEPT),
                                           ("dup-same", KEPT), ("dup-same", "read/duplicate_id")]))

    # Empty and whitespace-only documents; an empty file of each format.
    p = path("empty_docs.jsonl")
    _jsonl(p, [{"id": "empty-doc", "text": ""}, {"id": "blank-doc", "text": " \n\t \r\n  "}])
    cases.append(Case("empty and whitespace-only documents",
                      [("empty-doc", "clean/empty"), ("blank-doc", "clean/empty")]))
    open(path("empty.jsonl"), "wb").close()
    cases.append(Case("empty JSONL file (no records)"))
    p = path("empty.txt")
    open(p, "wb").close()
    cases.append(Case("empty text file (one empty document)", [(p, "clean/empty")]))

    # One enormous document: far more words than the too_long rule allows.
    if big_mb:
        chunk = " ".join(w.text(40) for _ in range(4000)) + "\n"  # ~1 MB of varied words
        with open(path("huge.jsonl"), "w", encoding="utf-8") as fh:
            fh.write('{"id": "huge-doc", "text": ')
            fh.write(json.dumps(chunk * max(1, (big_mb << 20) // len(chunk))))
            fh.write("}\n")
        cases.append(Case(f"a {big_mb} MB single document", [("huge-doc", "filter/too_long")]))

    # One repeated character: as one word, and as many one-letter words.
    _jsonl(path("repeated_char.jsonl"), [{"id": "repeat-glued", "text": "a" * 20000},
                                         {"id": "repeat-spaced", "text": "a " * 5000}])
    cases.append(Case("a document of one repeated character",
                      [("repeat-glued", "filter/too_short"), ("repeat-spaced", "filter/mean_word_length")]))

    # NUL bytes: JSON escapes in a record, raw bytes in a text file. Removed by cleaning, kept.
    _jsonl(path("nul.jsonl"), [{"id": "nul-escaped", "text": w.text().replace(" ", "\u0000 ", 3)}])
    p = path("nul.txt")
    with open(p, "wb") as fh:
        fh.write(w.text().encode().replace(b" ", b"\x00 ", 3))
    cases.append(Case("NUL bytes", [("nul-escaped", KEPT), (p, KEPT)]))

    # Lone surrogates as JSON escapes; a valid surrogate pair is an ordinary character.
    p = path("surrogates.jsonl")
    _jsonl(p, ['{"id": "surrogate-lone", "text": "' + w.text() + ' \\ud800 end"}',
               '{"id": "surrogate-low", "text": "\\udc00 ' + w.text() + '"}',
               '{"id": "surrogate-pair", "text": "' + w.text() + ' \\ud83d\\ude00"}'])
    cases.append(Case("lone surrogates (JSON \\ud800 escapes)",
                      [(_line_key(p, 1), "read/invalid_unicode"), (_line_key(p, 2), "read/invalid_unicode"),
                       ("surrogate-pair", KEPT)]))

    # Mixed line endings inside texts, and a JSONL file whose own lines end in CRLF.
    _jsonl(path("crlf.jsonl"), [{"id": "crlf-mixed", "text": w.text() + "\r\n" + w.text() + "\n"
                                 + w.text() + "\r" + w.text()},
                                {"id": "crlf-file", "text": w.text()}], newline="\r\n")
    cases.append(Case("mixed CRLF", [("crlf-mixed", KEPT), ("crlf-file", KEPT)]))

    # ANSI escapes (colours, cursor moves, a window title).
    _jsonl(path("ansi.jsonl"), [{"id": "ansi-doc", "text": "\x1b[1;31m" + w.text() + "\x1b[0m\n\x1b[2K"
                                 + w.text() + "\x1b]0;title\x07 " + w.text()}])
    cases.append(Case("ANSI escapes", [("ansi-doc", KEPT)]))

    # Truncated gzip: cut inside the last (large) record, and cut inside the header.
    p = path("truncated.jsonl.gz")
    records = [{"id": "trunc-1", "text": w.text()}, {"id": "trunc-2", "text": w.text()},
               {"id": "trunc-3", "text": " ".join(w.text(40) for _ in range(2000))}]
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode(), mtime=0)
    with open(p, "wb") as fh:
        fh.write(data[:len(data) // 2])
    cases.append(Case("truncated gzip file",
                      [("trunc-1", KEPT), ("trunc-2", KEPT), (p, "read/unreadable_file")], [p]))
    p = path("truncated_header.jsonl.gz")
    with open(p, "wb") as fh:
        fh.write(data[:6])
    cases.append(Case("gzip file truncated inside its header", [(p, "read/unreadable_file")], [p]))

    # Entries the glob matches that are not readable files.
    p = path("a_directory.jsonl")
    os.makedirs(p, exist_ok=True)
    _jsonl(os.path.join(p, "inside.jsonl"), [{"id": "inside", "text": w.text()}])  # not matched by dir/*
    cases.append(Case("a directory matched by the glob", [(p, "read/unreadable_file")], [p]))
    p = path("dangling.jsonl")
    if os.path.lexists(p):
        os.remove(p)
    os.symlink(os.path.join(d, "no-such-target.jsonl"), p)
    cases.append(Case("a dangling symlink matched by the glob", [(p, "read/unreadable_file")], [p]))
    if os.geteuid() != 0:  # root reads a chmod 000 file anyway: the case says nothing then
        p = path("no_permission.jsonl")
        _jsonl(p, [{"id": "no-permission", "text": w.text()}])
        os.chmod(p, 0)
        cases.append(Case("an unreadable file (chmod 000)", [(p, "read/unreadable_file")], [p]))

    # A file whose format cannot be told from its name.
    p = path("notes.md")
    with open(p, "w", encoding="utf-8") as fh:
        fh.write(w.text())
    cases.append(Case("unknown file extension", [(p, "read/unknown_format")]))

    # Parquet with the text column of the wrong type, and without a text column.
    p = path("wrong_type.parquet")
    pq.write_table(pa.table({"id": ["pq-1", "pq-2"], "text": pa.array([1, 2], pa.int64())}), p)
    cases.append(Case("Parquet file with the wrong column type", [(p, "read/bad_parquet_schema")]))
    p = path("no_text_column.parquet")
    pq.write_table(pa.table({"id": ["pq-3"], "body": [w.text()]}), p)
    cases.append(Case("Parquet file without the text column", [(p, "read/bad_parquet_schema")]))
    p = path("null_text.parquet")
    pq.write_table(pa.table({"id": ["pq-null", "pq-good"], "text": pa.array([None, w.text()], pa.string())}), p)
    cases.append(Case("Parquet row with a null text", [("pq-null", "read/missing_text"), ("pq-good", KEPT)]))

    # Valid JSON that Python will not load: an integer of 5,000 digits (over Python's
    # integer-string limit) and nesting deeper than the recursion limit. Each is one reject;
    # the records after them are still read.
    p = path("unloadable.jsonl")
    _jsonl(p, [{"id": "unloadable-1", "text": w.text()},
               '{"id": "unloadable-big", "n": ' + "7" * 5000 + ', "text": "x"}',
               '{"id": "unloadable-deep", "text": "x", "n": ' + "[" * 100000 + "]" * 100000 + "}",
               {"id": "unloadable-2", "text": w.text()}])
    cases.append(Case("valid JSON Python cannot load (huge integer, deep nesting)",
                      [("unloadable-1", KEPT), (_line_key(p, 2), "read/unsupported_json"),
                       (_line_key(p, 3), "read/unsupported_json"), ("unloadable-2", KEPT)]))

    # Records separated by CR alone, U+2028 or NEL instead of "\n": every record is
    # rejected on its own (JSON Lines separates by "\n" only); a normal file beside them.
    for name, separator in (("cr_only", "\r"), ("u2028", "\u2028"), ("nel", "\u0085")):
        p = path(f"separated_{name}.jsonl")
        records = [json.dumps({"id": f"{name}-{i}", "text": w.text()}, ensure_ascii=False) for i in range(3)]
        data = (separator.join(records) + "\n").encode("utf-8")
        with open(p, "wb") as fh:
            fh.write(data)
        offsets = [0, len((records[0] + separator).encode()), len((records[0] + separator + records[1]
                                                                  + separator).encode())]
        cases.append(Case(f"records separated by {name}",
                          [(f"{p}@{offset}", "read/line_separator") for offset in offsets]))

    # A UTF-16 file (with its byte order mark): one clear reject for the file.
    p = path("utf16.jsonl")
    with open(p, "wb") as fh:
        fh.write("".join(json.dumps({"id": f"utf16-{i}", "text": w.text()}) + "\n"
                         for i in range(3)).encode("utf-16"))
    cases.append(Case("a UTF-16 file", [(p, "read/unsupported_encoding")]))

    # GLM special-token strings and tiktoken's own special token as ordinary text.
    _jsonl(path("special_tokens.jsonl"), [
        {"id": "special-mask", "text": "[MASK] " + w.text() + " [sMASK] [gMASK] " + w.text()},
        {"id": "special-endoftext", "text": w.text() + " <|endoftext|> " + w.text() + " <|fim_prefix|>"},
        {"id": "special-words", "text": "sop " + w.text() + " eop ENC eos PAD sop"}])
    cases.append(Case("GLM special-token strings in the text",
                      [("special-mask", KEPT), ("special-endoftext", KEPT), ("special-words", KEPT)]))
    return cases


def expected_records(cases: List[Case]) -> int:
    return sum(case.records for case in cases)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write glmprep's bad input files into a directory.")
    parser.add_argument("directory")
    parser.add_argument("--big-mb", type=int, default=BIG_DOC_MB,
                        help=f"size of the one huge document in MB, 0 for none (default: {BIG_DOC_MB})")
    args = parser.parse_args(argv)
    cases = write_bad_inputs(args.directory, args.big_mb)
    for case in cases:
        print(f"{case.name}: {case.records} record(s)")
        for key, outcome in case.outcomes:
            print(f"    {key}: {outcome}")
    print(f"total input records: {expected_records(cases)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
