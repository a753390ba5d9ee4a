"""``ReadOptions``: how input files are read, and its command-line flags."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from glmprep.core.options import add_option_arguments, build, option, text_or_none

FORMATS = ("auto", "jsonl", "text", "parquet")
TEXT_MODES = ("file", "paragraph")
INVALID_UTF8_MODES = ("reject", "replace")

# A record (JSON line, paragraph, text file, Parquet value) of more bytes is rejected as
# record_too_large without being held. 64 MiB is over 300 times the smallest text the
# too_long rule passes at its default 100,000 words (2 bytes a word) and about 100 times
# a typical one, so with the defaults only documents too_long would reject anyway are
# rejected here; raise it together with too_long.
DEFAULT_MAX_RECORD_BYTES = 64 << 20
# Uncompressed JSON Lines and paragraph text are read in ranges of this many bytes, each
# by whichever worker the runner gives it (Beam's text source uses 64 MiB bundles; a
# smaller range lets two workers share a file of a few hundred MB).
DEFAULT_SPLIT_BYTES = 16 << 20


@dataclass(frozen=True)
class ReadOptions:
    """How to read input files; the keyword arguments of ``ReadDocuments``."""

    fmt: str = option("auto", "input format; auto goes by extension: .jsonl/.json/.ndjson, "
                              ".txt/.text, .parquet, optionally .gz/.bz2/.zst/.xz",
                      flag="--format", choices=FORMATS)
    text_field: str = option("text", "JSON key / Parquet column holding the text")
    id_field: Optional[str] = option(  # None: positional keys
        "id", "JSON key / Parquet column holding the document id, used as its key; "
              "'none' keys documents by path and byte offset (Parquet: row)", parse=text_or_none)
    text_mode: str = option("file", "plain text files: one document per file, or per "
                                    "blank-line-separated paragraph", choices=TEXT_MODES)
    invalid_utf8: str = option("reject", "bytes that are not UTF-8: reject the record, or replace "
                                         "them with U+FFFD and count utf8_replaced",
                               choices=INVALID_UTF8_MODES)
    max_record_bytes: int = option(
        DEFAULT_MAX_RECORD_BYTES, "a record (JSON line, paragraph, text file, Parquet value) of more "
                                  "bytes is rejected as record_too_large without being held in memory "
                                  "(64 MiB; raise it together with --max-words)")
    # Not a flag: how finely files are split for reading (tests and benchmarks set it
    # through the API, e.g. RunConfig(read=ReadOptions(split_bytes=97))).
    split_bytes: int = DEFAULT_SPLIT_BYTES

    def __post_init__(self):
        for name, allowed in (("fmt", FORMATS), ("text_mode", TEXT_MODES),
                              ("invalid_utf8", INVALID_UTF8_MODES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"read option {name}={getattr(self, name)!r}; expected one of {allowed}")
        if not isinstance(self.text_field, str) or not self.text_field:
            raise ValueError(f"read option text_field must be a non-empty string, got {self.text_field!r}")
        if self.id_field is not None and (not isinstance(self.id_field, str) or not self.id_field):
            raise ValueError(f"read option id_field must be a non-empty string or None, got {self.id_field!r}")
        if not isinstance(self.max_record_bytes, int) or self.max_record_bytes < 1:
            raise ValueError(f"max_record_bytes must be a positive number of bytes, got {self.max_record_bytes!r}")
        if not isinstance(self.split_bytes, int) or self.split_bytes < 1:
            raise ValueError(f"split_bytes must be a positive number of bytes, got {self.split_bytes!r}")


def add_read_arguments(parser) -> None:
    """The flags of ``ReadOptions`` (``--format``, ``--text-field``, ...), generated from
    its fields, added to an argparse-style parser (also Beam's)."""
    add_option_arguments(parser, ReadOptions, "reading")


def read_options_from(source: Union[Mapping[str, Any], Any]) -> ReadOptions:
    """``ReadOptions`` from parsed arguments (a Namespace, Beam ``PipelineOptions`` or a
    dict of field names); use as ``ReadDocuments(patterns, **vars(options))``."""
    return build(ReadOptions, source)
