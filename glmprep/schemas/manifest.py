"""The manifest contract: the file's name and version and the keys every reader relies on.

``<output>/manifest.json`` is written last by a run (``glmprep.pipeline.manifest``) and
read by ``validate``, ``stats``, ``report`` and the trainer. Its top-level keys are
``MANIFEST_KEYS`` (plus ``RUN_KEY``, added by a local run at its end); ``shards`` is a
list of objects with ``SHARD_ENTRY_KEYS``; ``totals`` has ``TOTALS_KEYS``; ``funnel``
maps each stage of ``glmprep.schemas.stages.FUNNEL_STAGES`` that ran to the documents
left after it.

To add a key: add it to the tuple it belongs to below (a test checks that a run's
manifest has exactly these keys) and bump ``MANIFEST_VERSION`` if a reader of older
manifests would misread the new one; give it its type in ``_SHAPE`` if a reader uses it.

A manifest on disk is untrusted: any JSON may sit there. ``parse_manifest`` turns its
text into a dict whose every key that a reader uses has the type the pipeline writes, or
raises ``ManifestError`` with one line naming the file, the key and what is wrong;
``shard_path`` joins a shard entry's file name to the run directory, refusing any name
that would leave it.

>>> m = parse_manifest('{"shards": [{"file": "part-00000-of-00001.arrow", "rows": 2}]}', "run/manifest.json")
>>> m["shards"][0]["rows"]
2
>>> parse_manifest('{"shards": [{"file": "../other/part-00000-of-00001.arrow"}]}', "m.json")
Traceback (most recent call last):
...
glmprep.schemas.manifest.ManifestError: m.json: shards[0].file '../other/part-00000-of-00001.arrow' is not a file name inside the run directory
"""
from __future__ import annotations

import json
import math
import os
from typing import Dict, Mapping, Sequence, Union

from glmprep.schemas.shard import OBJECTIVES

MANIFEST_NAME = "manifest.json"
RUN_CONFIG_NAME = "run.toml"       # every option of the run, beside the manifest (glmprep.pipeline.config)
# 2: funnel keys are stage names (glmprep.schemas.stages), reject records carry kept_key.
# 3: languages, pii, decontamination, mixing; totals.documents_added (mixing repeats), so the
#    accounting reads documents_in + documents_added = documents_kept + documents_rejected.
MANIFEST_VERSION = 3
MANIFEST_KEYS = ("manifest_version", "shards", "totals", "unreadable_files", "funnel", "samples", "languages",
                 "pii", "decontamination", "mixing", "options",
                 "versions")  # unreadable_files: sorted paths of the files rejected as unreadable_file
RUN_KEY = "run"                    # timings and runner label: the one field that differs between runs
# epoch: which of the run's --epochs shard sets the file belongs to (0 with one epoch)
SHARD_ENTRY_KEYS = ("file", "rows", "tokens", "sha256", "documents", "document_tokens", "epoch")
TOTALS_KEYS = ("documents_in", "documents_added", "documents_kept", "documents_rejected", "accounting_balanced",
               "rejected_by_reason", "exact_duplicates_removed", "near_duplicates_removed",
               "near_duplicate_clusters", "warnings", "near_dedup_rounds_used", "near_dedup_unsettled",
               "shards", "rows", "tokens", "document_tokens", "epochs")
# samples: the sums over every epoch's shards, and "epochs": the same statistics per epoch
EPOCH_STAT_KEYS = ("objectives", "blank_span_lengths", "fill_histogram")
SAMPLES_KEYS = EPOCH_STAT_KEYS + ("epochs",)
OBJECTIVE_STAT_KEYS = ("rows", "tokens", "masked_tokens", "x_tokens", "spans")
FILL_KEY = "fill"                  # per objective, beside the sums: tokens / (rows · seq_len)


class ManifestError(ValueError):
    """A manifest that is not JSON of the shape glmprep writes, or names a file outside its run."""


# The shape, as the pipeline writes it. A type is a kind name, ("list", item), ("map", value:
# an object with any string keys) or a dict of keys (every key required unless listed in
# OPTIONAL_KEYS). Only the keys readers use are described; others pass unchecked.
_COUNT, _NUMBER, _BOOL, _TEXT, _OBJECT, _FILE = "count", "number", "bool", "text", "object", "file"
_EPOCH_STATS = {"objectives": ("map", {**{k: _COUNT for k in OBJECTIVE_STAT_KEYS}, FILL_KEY: _NUMBER}),
                "blank_span_lengths": ("list", _COUNT), "fill_histogram": ("list", _COUNT)}
_SHAPE = {
    "manifest_version": _COUNT,
    "shards": ("list", {**{k: _COUNT for k in SHARD_ENTRY_KEYS}, "file": _FILE, "sha256": _TEXT}),
    "totals": {**{k: _COUNT for k in TOTALS_KEYS}, "accounting_balanced": _BOOL,
               "rejected_by_reason": ("map", _COUNT), "warnings": ("map", _COUNT)},
    "unreadable_files": ("list", _TEXT),
    "funnel": ("map", _COUNT),
    "samples": {**_EPOCH_STATS, "epochs": ("list", _EPOCH_STATS)},
    "languages": ("map", {k: _COUNT for k in ("identified", "rejected", "kept", "kept_tokens")}),
    "pii": ("map", {"documents": _COUNT, "replacements": _COUNT}),
    "decontamination": {"files": ("list", _TEXT), "items": _COUNT, "ngrams": _COUNT, "ngram_words": _COUNT,
                        "index": _TEXT},
    "mixing": ("map", {**{k: _COUNT for k in ("documents_before", "tokens_before", "target_tokens",
                                              "documents_after", "tokens_after")}, "rate": _NUMBER}),
    "options": {"sample": {"seq_len": _COUNT, "max_span": _COUNT, "poisson_lambda": _NUMBER,
                           "mask_ratio": _NUMBER, "document_ratio": ("list", _NUMBER),
                           "objective_weights": ("map", _NUMBER)}},
    "versions": ("map", _TEXT),
    RUN_KEY: {"seconds": _NUMBER, "runner": _TEXT, "started": _TEXT, "finished": _TEXT},
}
# Keys a manifest may lack: every top-level key (each reader says which it needs), the
# shard counts a bare validate-only manifest leaves out, fill (older manifests), and
# everything of options/run.
OPTIONAL_KEYS = {"", "options", "options.sample", RUN_KEY}
_OPTIONAL_IN = {"shards[]": set(SHARD_ENTRY_KEYS) - {"file"}, "samples.objectives.*": {FILL_KEY},
                "samples.epochs[].objectives.*": {FILL_KEY}, "samples": {"epochs"}, "totals": {"epochs"},
                "decontamination": {"files", "items", "ngrams", "ngram_words", "index"}}  # {} without --decontaminate

_KIND_TEST = {
    _COUNT: lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    _NUMBER: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    _BOOL: lambda v: isinstance(v, bool),
    _TEXT: lambda v: isinstance(v, str),
    _OBJECT: lambda v: isinstance(v, dict),
}
_KIND_NAME = {_COUNT: "a non-negative integer", _NUMBER: "a finite number", _BOOL: "true or false",
              _TEXT: "a string", _OBJECT: "an object", _FILE: "a file name"}


def is_plain_file_name(name: object) -> bool:
    """True for a name that stays in its directory: no separator, not ``.``/``..``, not absolute.

    >>> [is_plain_file_name(n) for n in ("part-0.arrow", "../x", "/etc/passwd", "a/b", "..", "")]
    [True, False, False, False, False, False]
    """
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\x00" not in name and not os.path.isabs(name))


def _describe(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check(value: object, shape, where: str, key: str, path: str) -> None:
    """Raise ManifestError at the first place ``value`` does not have ``shape``."""
    label = key or "the manifest"
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise ManifestError(f"{where}: {label} is {_describe(value)}, expected an object")
        for name, sub in shape.items():
            child = f"{key}.{name}" if key else name
            if name not in value:
                if path in OPTIONAL_KEYS or name in _OPTIONAL_IN.get(path, ()):
                    continue
                raise ManifestError(f"{where}: {child} is missing")
            _check(value[name], sub, where, child, f"{path}.{name}" if path else name)
        return
    if isinstance(shape, tuple):
        container, item = shape
        if container == "list":
            if not isinstance(value, list):
                raise ManifestError(f"{where}: {label} is {_describe(value)}, expected a list")
            for i, v in enumerate(value):
                _check(v, item, where, f"{key}[{i}]", f"{path}[]")
        else:
            if not isinstance(value, dict):
                raise ManifestError(f"{where}: {label} is {_describe(value)}, expected an object")
            for name, v in value.items():
                _check(v, item, where, f"{key}.{name}", f"{path}.*")
        return
    if shape == _FILE:
        if not is_plain_file_name(value):
            raise ManifestError(f"{where}: {label} {_describe(value)} is not a file name inside the run directory")
        return
    if not _KIND_TEST[shape](value):
        raise ManifestError(f"{where}: {label} is {_describe(value)}, expected {_KIND_NAME[shape]}")


def parse_manifest(text: Union[str, bytes], where: str, require: Sequence[str] = ()) -> Dict[str, object]:
    """The manifest in ``text`` (read from ``where``), its shape checked; ``require``: the
    top-level keys the caller needs (e.g. ``("totals", "samples")``)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ManifestError(f"{where}: not JSON glmprep reads (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, invalid UTF-8, integers past Python's digit limit
        raise ManifestError(f"{where}: not valid JSON ({exc})") from None
    _check(data, _SHAPE, where, "", "")
    objectives = data.get("samples", {}).get("objectives", {})
    absent = [o for o in OBJECTIVES if "samples" in data and o not in objectives]
    if absent:
        raise ManifestError(f"{where}: samples.objectives lacks {', '.join(absent)}")
    missing = [k for k in require if k not in data]
    if missing:
        raise ManifestError(f"{where}: {', '.join(missing)} missing; is this the manifest of a finished glmprep run?")
    version = data.get("manifest_version", MANIFEST_VERSION)
    if version != MANIFEST_VERSION:
        raise ManifestError(f"{where}: manifest_version {version} is not supported "
                            f"(this glmprep reads {MANIFEST_VERSION})")
    return data


def shard_path(run_dir: str, entry: Mapping[str, object], join=os.path.join) -> str:
    """The path of a manifest shard entry's file inside ``run_dir`` (``join``: the file
    system's join). The name was checked by ``parse_manifest``; checked again here because
    a caller may build entries by hand."""
    name = entry.get("file")
    if not is_plain_file_name(name):
        raise ManifestError(f"{join(run_dir, MANIFEST_NAME)}: shard file {_describe(name)} is not a file name "
                            "inside the run directory")
    return join(run_dir, name)


def read_manifest_file(run_dir: str, require: Sequence[str] = ()) -> Dict[str, object]:
    """``run_dir``/manifest.json from the local file system, checked (OSError if absent)."""
    path = os.path.join(run_dir, MANIFEST_NAME)
    with open(path, "rb") as fh:
        return parse_manifest(fh.read(), path, require)


def manifest_shard_paths(run_dir: str, epoch: "int | None" = None) -> "list[str]":
    """The shard files a local run directory's manifest lists, in its order, all inside ``run_dir``;
    with ``epoch``, only that epoch's (``--epochs``: one shard set per epoch)."""
    return [shard_path(run_dir, s) for s in read_manifest_file(run_dir, require=("shards",))["shards"]
            if epoch is None or s.get("epoch", 0) == epoch]
