"""Source mixing with token budgets (pure, no Beam).

Inputs are grouped into named sources (``--source NAME=GLOB[:WEIGHT]``,
``--source NAME=GLOB:tokens=N``, or a mixture file). Each source's documents get keys
``NAME/KEY`` (``source_key``), so keys stay unique across sources and every sample's
lineage (``source_ids``) names its source; ``source_of`` reads it back.

After tokenization each source has ``available`` tokens. Its target (``mixing_targets``):

- ``tokens=N``: the budget ``N``;
- a weight ``W``: the weighted sources share ``--mix-tokens`` (default: their own
  available tokens together) in proportion to their weights;
- neither: all its documents once (target = available).

Rate = target / available. A document is taken ``floor(rate)`` times, plus once more when
its key's hash (``unit_hash(seed, key)``, uniform in [0, 1)) is below the fraction, so
the expected tokens of a source equal its target and the choice depends on nothing but
the key. Copies after the first get keys ``KEY~mixJ`` (J = 1, 2, ...: ``repeat_key``), so
their sample randomness, and hence their masks, differ. A document taken 0 times is
rejected (stage ``mixing``, reason ``mixing_dropped``); each further copy is counted as
an addition: documents_in + repeats = documents_kept + Σ rejected.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from glmprep.core.options import option

MIXING_DROPPED = "mixing_dropped"  # reject reason (stage "mixing")
MIXING_REASONS = (MIXING_DROPPED,)
SOURCE_SEPARATOR = "/"
REPEAT_MARK = "~mix"
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_WEIGHT = re.compile(r"\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+")
_TOKENS = re.compile(r"tokens=(\d+(?:\.\d+)?)([kKmMgGtT]?)")
_SUFFIX = {"": 1, "k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9, "t": 10 ** 12}


@dataclass(frozen=True)
class SourceSpec:
    """One named source: its input globs and a weight or a token budget (or neither)."""

    name: str
    inputs: Tuple[str, ...]
    weight: Optional[float] = None
    tokens: Optional[int] = None

    def __post_init__(self):
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"source name {self.name!r}: use letters, digits, '_', '.', '-'")
        if not self.inputs:
            raise ValueError(f"source {self.name} has no input")
        if self.weight is not None and self.tokens is not None:
            raise ValueError(f"source {self.name}: give a weight or a token budget, not both")
        if self.weight is not None and not (self.weight > 0 and math.isfinite(self.weight)):
            raise ValueError(f"source {self.name}: the weight must be > 0, got {self.weight}")
        if self.tokens is not None and self.tokens < 0:
            raise ValueError(f"source {self.name}: the token budget must be ≥ 0, got {self.tokens}")


def parse_source(text: str) -> SourceSpec:
    """``NAME=GLOB[:WEIGHT]`` or ``NAME=GLOB:tokens=N[k|M|G]``.

    >>> parse_source("wiki=gs://b/wiki/*.gz:0.5")
    SourceSpec(name='wiki', inputs=('gs://b/wiki/*.gz',), weight=0.5, tokens=None)
    >>> parse_source("code=src/*.jsonl:tokens=2M").tokens
    2000000
    """
    name, sep, rest = text.partition("=")
    if not sep or not rest:
        raise ValueError(f"--source: expected NAME=GLOB[:WEIGHT] or NAME=GLOB:tokens=N, got {text!r}")
    glob, colon, tail = rest.rpartition(":")
    weight = tokens = None
    if colon and _WEIGHT.fullmatch(tail):
        weight = float(tail)
    elif colon and _TOKENS.fullmatch(tail):
        number, suffix = _TOKENS.fullmatch(tail).groups()
        tokens = int(float(number) * _SUFFIX[suffix.lower()])
    else:
        glob = rest
    return SourceSpec(name.strip(), (glob,), weight, tokens)


def read_mixture(text: str) -> Tuple[List[SourceSpec], Optional[int]]:
    """A mixture file (JSON): ``{"sources": [{"name": ..., "inputs": [GLOB, ...],
    "weight": W | "tokens": N}, ...], "tokens": TOTAL}`` -> (sources, total of the
    weighted sources or None)."""
    data = json.loads(text)
    sources = [SourceSpec(s["name"], tuple(s["inputs"]), s.get("weight"), s.get("tokens"))
               for s in data["sources"]]
    return sources, data.get("tokens")


@dataclass(frozen=True)
class MixOptions:
    """The sources and how the weighted ones share their tokens (no source: no mixing)."""

    sources: Tuple[SourceSpec, ...] = option(
        help="a named source of input files, with a mixing weight (NAME=GLOB:2.5) or a token budget "
             "(NAME=GLOB:tokens=50M), or neither (taken once); its keys become NAME/KEY. Repeat for more "
             "sources; --input files then form the source 'input'", flag="--source",
        metavar="NAME=GLOB[:WEIGHT]", repeat=True, default_factory=tuple)
    mixture: Optional[str] = option(
        None, 'more sources, as JSON: {"sources": [{"name": ..., "inputs": [GLOB, ...], "weight": W | '
              '"tokens": N}], "tokens": TOTAL}', metavar="FILE", show_default=False)
    total_tokens: Optional[int] = option(None, "tokens the weighted sources share (default: as many as "
                                               "they have)", flag="--mix-tokens", parse=int, metavar="N",
                                         show_default=False)
    seed: int = 0  # the run's --seed

    def __post_init__(self):
        # --source values arrive as text (command line, config file), sources built in code as specs
        object.__setattr__(self, "sources", tuple(parse_source(s) if isinstance(s, str) else s
                                                  for s in self.sources))
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError(f"source names repeat: {sorted(n for n in set(names) if names.count(n) > 1)}")
        if self.total_tokens is not None and self.total_tokens < 0:
            raise ValueError(f"--mix-tokens must be ≥ 0, got {self.total_tokens}")


def source_key(name: str, key: str) -> str:
    return f"{name}{SOURCE_SEPARATOR}{key}"


def source_of(key: str) -> str:
    """The source of a key made by ``source_key`` (repeats included).

    >>> source_of("wiki/data/a.jsonl:3~mix1")
    'wiki'
    """
    return key.split(SOURCE_SEPARATOR, 1)[0]


def repeat_key(key: str, copy: int) -> str:
    """Key of copy ``copy`` (1, 2, ...) of a repeated document."""
    return f"{key}{REPEAT_MARK}{copy}"


def mixing_targets(available: Mapping[str, int], options: MixOptions) -> Dict[str, int]:
    """Source -> target tokens (see the module docstring).

    >>> opts = MixOptions((SourceSpec("a", ("x",), weight=3.0), SourceSpec("b", ("y",), weight=1.0),
    ...                    SourceSpec("c", ("z",), tokens=50), SourceSpec("d", ("w",))))
    >>> mixing_targets({"a": 100, "b": 300, "c": 200, "d": 7}, opts)
    {'a': 300, 'b': 100, 'c': 50, 'd': 7}
    """
    weighted = [s for s in options.sources if s.weight is not None]
    pool = (options.total_tokens if options.total_tokens is not None
            else sum(available.get(s.name, 0) for s in weighted))
    total_weight = sum(s.weight for s in weighted)
    targets = {}
    for s in options.sources:
        if s.tokens is not None:
            targets[s.name] = s.tokens
        elif s.weight is not None:
            targets[s.name] = round(pool * s.weight / total_weight)
        else:
            targets[s.name] = available.get(s.name, 0)
    return targets


def mixing_rates(available: Mapping[str, int], options: MixOptions) -> Dict[str, float]:
    """Source -> copies per document in expectation (0 for a source with no tokens)."""
    targets = mixing_targets(available, options)
    return {name: (targets[name] / available[name] if available.get(name) else 0.0) for name in targets}


def unit_hash(seed: int, key: str) -> float:
    """A uniform number in [0, 1) from ``(seed, key)``, the same on every machine."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode("utf-8", "surrogatepass"), digest_size=8,
                             person=b"glmprep-mix").digest()
    return int.from_bytes(digest, "little") / 2.0 ** 64


def copies(key: str, rate: float, seed: int) -> int:
    """How many times the document ``key`` is taken at ``rate``.

    >>> copies("k", 2.0, 0), copies("k", 0.0, 0)
    (2, 0)
    """
    whole = math.floor(rate)
    return whole + (1 if unit_hash(seed, key) < rate - whole else 0)


def copy_keys(key: str, n_copies: int) -> Sequence[str]:
    """The keys of ``n_copies`` copies: the key itself, then ``repeat_key``s."""
    return [key] + [repeat_key(key, j) for j in range(1, n_copies)]
