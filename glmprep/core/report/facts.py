"""Facts the report gathers beyond the manifest: a sample of the shards and the rejects.

- **a sample of the shards** (read in windows of consecutive rows, so that the pieces
  of a document stay together): kept documents' lengths and language, and the masked
  ratio of each sample;
- **rejects/*.jsonl**: counts, duplicate clusters (a duplicate's ``kept_key`` names the
  document it was removed in favour of), and rejected documents' lengths: a duplicate has the length of
  the kept copy, any other reject the length of its preview (the whole text when shorter
  than the ``REJECT_PREVIEW_CHARS`` cut, a lower bound otherwise).
"""
from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from glmprep.core.report.files import LocalFiles
from glmprep.core.report.stats import language_of
from glmprep.core.tokenizer import GLMTokenizer
from glmprep.core.view import spans_of_row, uncorrupted_tokens
from glmprep.schemas.rejects import REJECT_FIELDS, REJECT_PREVIEW_CHARS, REJECTS_GLOB, reason_key
from glmprep.schemas.shard import OBJECTIVES

# Rows are read in windows this long at seeded random places of each shard: a document
# split into pieces lies in consecutive rows, so most documents are seen whole.
WINDOW_ROWS = 64
SAMPLE_SEED = 0
# Rejects whose preview is tokenized for the length histogram (all are counted).
MAX_REJECTS_MEASURED = 50_000
EXAMPLE_SAMPLES = 3
# Fields a reject record must have; every field is a string (kept_key may be null).
REJECT_REQUIRED = ("key", "stage", "reason")


class ReportError(Exception):
    """The directory holds no finished run the report can read, or a file of it is malformed."""


@dataclass
class DocumentFacts:
    """One kept document as seen in the sampled rows."""

    num_pieces: int
    lengths: Dict[int, int] = field(default_factory=dict)   # piece -> text tokens (ENC/eos left out)
    texts: Dict[int, str] = field(default_factory=dict)     # piece -> decoded text

    @property
    def complete(self) -> bool:
        return len(self.lengths) == self.num_pieces

    def tokens(self) -> int:
        """Tokens of text (ENC may open every piece, so specials are not counted in ``lengths``)."""
        return sum(self.lengths.values())

    def language(self) -> str:
        return language_of("".join(self.texts[p] for p in sorted(self.texts)))


@dataclass
class ShardSample:
    rows_read: int = 0
    rows_total: int = 0
    masked_ratio: Dict[str, List[float]] = field(default_factory=lambda: {o: [] for o in OBJECTIVES})
    documents: Dict[str, DocumentFacts] = field(default_factory=dict)
    examples: List[Tuple[str, int]] = field(default_factory=list)  # (shard path, row)


def sample_row_numbers(num_rows: int, quota: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``quota`` row numbers of a shard, in windows of ``WINDOW_ROWS`` consecutive rows."""
    if quota >= num_rows:
        return np.arange(num_rows)
    full_windows = num_rows // WINDOW_ROWS
    if full_windows == 0:
        return np.arange(quota)
    windows = min(full_windows, max(1, quota // WINDOW_ROWS))
    starts = np.sort(rng.choice(full_windows, size=windows, replace=False)) * WINDOW_ROWS
    rows = (starts[:, None] + np.arange(WINDOW_ROWS)).ravel()  # [windows * WINDOW_ROWS]
    return rows[:quota]


def read_shard_sample(paths: Sequence[str], sample_rows: int, tokenizer: GLMTokenizer,
                      files=LocalFiles) -> ShardSample:
    """Per-document and per-sample facts of about ``sample_rows`` rows spread over ``paths``."""
    sample = ShardSample()
    rng = np.random.default_rng(SAMPLE_SEED)
    quota = max(1, -(-sample_rows // max(1, len(paths))))
    base = tokenizer.base_vocab_size
    for path in paths:
        reader = files.shard(path)
        sample.rows_total += reader.num_rows
        for r in sample_row_numbers(reader.num_rows, quota, rng).tolist():
            row = reader.row(r)
            _add_row(sample, row, tokenizer, base)
            if len(sample.examples) < EXAMPLE_SAMPLES and row["objective"] == OBJECTIVES[len(sample.examples)]:
                sample.examples.append((path, r))
            sample.rows_read += 1
    return sample


def _add_row(sample: ShardSample, row: Dict[str, object], tokenizer: GLMTokenizer, base: int) -> None:
    x = uncorrupted_tokens(row)
    masked = sum(len(s.text_ids) for s in spans_of_row(row))
    sample.masked_ratio[row["objective"]].append(masked / max(1, len(x)))
    ends = np.cumsum(row["source_lengths"])
    for key, piece, pieces, end, length in zip(row["source_ids"], row["source_piece"].tolist(),
                                               row["source_num_pieces"].tolist(), ends.tolist(),
                                               row["source_lengths"].tolist()):
        ids = x[end - length:end]
        doc = sample.documents.setdefault(key, DocumentFacts(int(pieces)))
        doc.lengths[int(piece)] = int(np.count_nonzero(ids < base))   # text ids are all below base
        doc.texts[int(piece)] = tokenizer.decode(ids[ids < base])


def read_rejects(output_dir: str, files=LocalFiles) -> Iterator[Dict[str, str]]:
    """Every reject record of the run, file by file; ReportError (file and line) for a line
    that is not a reject record."""
    for path in files.match(files.join(output_dir, REJECTS_GLOB)):
        with files.open(path) as fh:
            for number, line in enumerate(io.TextIOWrapper(fh, encoding="utf-8", errors="replace"), 1):
                if line.strip():
                    yield _reject_record(line, f"{path}:{number}")


def _reject_record(line: str, where: str) -> Dict[str, str]:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ReportError(f"{where}: not a JSON reject record ({exc})") from None
    if not isinstance(record, dict):
        raise ReportError(f"{where}: a reject record is a JSON object, not {type(record).__name__}")
    missing = [name for name in REJECT_REQUIRED if name not in record]
    if missing:
        raise ReportError(f"{where}: a reject record without {', '.join(missing)}")
    for name in REJECT_FIELDS:
        if not isinstance(record.get(name, ""), str) and not (name == "kept_key" and record[name] is None):
            raise ReportError(f"{where}: reject field {name} is {type(record[name]).__name__}, expected a string")
    return record


def kept_key(reject: Dict[str, str]) -> Optional[str]:
    """The key a duplicate was removed in favour of (its ``kept_key``), else None."""
    return reject.get("kept_key")


@dataclass
class RejectFacts:
    by_reason: Counter = field(default_factory=Counter)
    examples: Dict[str, List[str]] = field(default_factory=dict)      # reason -> first keys
    cluster_removed: Dict[str, Counter] = field(default_factory=lambda: {"exact": Counter(), "near": Counter()})
    # (language, basis) -> lengths in tokens; basis: exact | near_copy | lower_bound
    lengths: Dict[Tuple[str, str], List[int]] = field(default_factory=dict)
    unmeasured: Counter = field(default_factory=Counter)               # why a length is unknown


def gather_rejects(records: Iterable[Dict[str, str]], kept: Dict[str, Tuple[int, str]],
                   tokenizer: GLMTokenizer) -> RejectFacts:
    """Counts, cluster sizes and measurable lengths of rejects; ``kept``: key -> (tokens, language)."""
    facts = RejectFacts()
    measured = 0
    for r in records:
        reason = reason_key(r)
        facts.by_reason[reason] += 1
        keys = facts.examples.setdefault(reason, [])
        if len(keys) < 2:
            keys.append(r["key"])
        twin = kept_key(r)
        if twin is not None and r["reason"] in ("exact_duplicate", "near_duplicate"):
            facts.cluster_removed["exact" if r["stage"] == "exact_dedup" else "near"][twin] += 1
        if measured >= MAX_REJECTS_MEASURED:
            facts.unmeasured["beyond the measured sample"] += 1
            continue
        measured += 1
        basis, tokens, language = _reject_length(r, twin, kept, tokenizer)
        if basis is None:
            facts.unmeasured[tokens] += 1
        else:
            facts.lengths.setdefault((language, basis), []).append(tokens)
    return facts


def _reject_length(r, twin, kept, tokenizer):
    """(basis, tokens, language) of a reject, or (None, why, None) when it cannot be measured."""
    if twin is not None and r["reason"] in ("exact_duplicate", "near_duplicate"):
        if twin not in kept:
            return None, "duplicate of a document outside the shard sample", None
        tokens, language = kept[twin]
        return ("exact" if r["reason"] == "exact_duplicate" else "near_copy"), tokens, language
    if r["stage"] == "read":
        return None, "read reject (the preview is the raw record)", None
    preview = r.get("preview", "")
    basis = "lower_bound" if len(preview) >= REJECT_PREVIEW_CHARS else "exact"
    return basis, len(tokenizer.encode(preview)), language_of(preview)
