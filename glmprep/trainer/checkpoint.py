"""Checkpoints: a directory with ``model.npz`` (arrays, no pickle) and ``config.json`` (the rest).

    CKPT/model.npz      param/<name>, adam_m/<name>, adam_v/<name>
    CKPT/config.json    format + version, model and train configs, step, data cursor
                        (seed, batches consumed), the vocabulary map, the tokenizer it reads

Both files are written to temporary names and renamed, so an interrupted save leaves
the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

from glmprep.trainer.model import GLMConfig, param_shapes
from glmprep.trainer.train import TrainConfig, TrainState
from glmprep.trainer.vocab import VocabMap

FORMAT = "glmprep-trainer-checkpoint"
VERSION = 1
MODEL_FILE, CONFIG_FILE = "model.npz", "config.json"
GROUPS = ("param", "adam_m", "adam_v")  # model.npz holds GROUP/<parameter name> for each
# A config is a few kB plus the vocabulary map (about 1 MB for 100k ids); anything far
# larger is not one of ours.
CONFIG_MAX_BYTES = 64 << 20
# Room for a .npy file's header beside its data (the header is padded to 64 bytes; long
# shapes and field descriptions stay far below this).
NPY_HEADER_BYTES = 4096


class CheckpointError(ValueError):
    """A checkpoint directory is missing, incomplete or of another format/version."""


@dataclass
class Checkpoint:
    state: TrainState
    data_cursor: Dict[str, int]         # BatchStream.state(): {"batches"} (older: {"epoch", "position"})
    tokenizer: Dict[str, object]        # data.tokenizer_fingerprint of the shards trained on
    extra: Dict[str, object]            # free-form: data path, split sizes, ...


def save(path: str, state: TrainState, data_cursor: Mapping[str, int], tokenizer: Mapping[str, object],
         extra: Optional[Mapping[str, object]] = None) -> None:
    os.makedirs(path, exist_ok=True)
    arrays = {}
    for group, tensors in (("param", state.params), ("adam_m", state.m), ("adam_v", state.v)):
        arrays.update({f"{group}/{k}": v for k, v in tensors.items()})
    tmp = os.path.join(path, MODEL_FILE + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    config = {
        "format": FORMAT, "version": VERSION, "step": state.step,
        "model": state.model_cfg.to_dict(), "train": state.train_cfg.to_dict(),
        "data_cursor": {"seed": state.train_cfg.seed, **dict(data_cursor)},
        "tokenizer": dict(tokenizer), "vocab": state.vocab.to_json(), "extra": dict(extra or {}),
    }
    tmp_cfg = os.path.join(path, CONFIG_FILE + ".tmp")
    with open(tmp_cfg, "w", encoding="utf-8") as fh:
        json.dump(config, fh, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(path, MODEL_FILE))
    os.replace(tmp_cfg, os.path.join(path, CONFIG_FILE))


def load(path: str) -> Checkpoint:
    """The checkpoint in ``path``; CheckpointError (one line) for anything it cannot use.

    The files are untrusted: ``config.json`` is read up to CONFIG_MAX_BYTES, and every array
    of ``model.npz`` must be one the config's model has, with its shape and dtype, checked
    against the zip's declared sizes before anything is decompressed (a zip bomb is refused
    without allocating it)."""
    cfg_path, npz_path = os.path.join(path, CONFIG_FILE), os.path.join(path, MODEL_FILE)
    if not (os.path.isfile(cfg_path) and os.path.isfile(npz_path)):
        raise CheckpointError(f"{path}: not a checkpoint (expected {CONFIG_FILE} and {MODEL_FILE})")
    config = _read_config(cfg_path)
    try:
        model_cfg, train_cfg = GLMConfig(**config["model"]), TrainConfig(**config["train"])
        vocab = VocabMap.from_json(config["vocab"])
        step = int(config["step"])
        cursor = {k: int(v) for k, v in config["data_cursor"].items() if k in ("batches", "epoch", "position")}
        tokenizer, extra = dict(config["tokenizer"]), dict(config.get("extra", {}))
        shapes = param_shapes(model_cfg)
        itemsize = np.dtype(model_cfg.dtype).itemsize
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise CheckpointError(f"{cfg_path}: not a checkpoint config ({' '.join(str(exc).split())[:200]})") from None
    groups = _read_arrays(npz_path, shapes, np.dtype(model_cfg.dtype), itemsize)
    state = TrainState(model_cfg, train_cfg, vocab, groups["param"], groups["adam_m"], groups["adam_v"], step)
    return Checkpoint(state, cursor, tokenizer, extra)


def _read_config(cfg_path: str) -> Dict[str, object]:
    if os.path.getsize(cfg_path) > CONFIG_MAX_BYTES:
        raise CheckpointError(f"{cfg_path}: {os.path.getsize(cfg_path):,} bytes; a checkpoint config "
                              f"is at most {CONFIG_MAX_BYTES:,}")
    try:
        with open(cfg_path, encoding="utf-8") as fh:
            config = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{cfg_path}: not JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT or config.get("version") != VERSION:
        found = config if not isinstance(config, dict) else (config.get("format"), config.get("version"))
        raise CheckpointError(f"{cfg_path}: format/version {found!r}; this glmprep reads {FORMAT!r} "
                              f"version {VERSION}")
    return config


def _read_arrays(npz_path: str, shapes: Dict[str, Tuple[int, ...]], dtype: np.dtype,
                 itemsize: int) -> Dict[str, Dict[str, np.ndarray]]:
    """The three array groups of ``model.npz``, each array checked against ``shapes``."""
    expected = {f"{group}/{name}.npy": (group, name, shape) for group in GROUPS for name, shape in shapes.items()}
    try:
        with zipfile.ZipFile(npz_path) as archive:
            members = {info.filename: info for info in archive.infolist()}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{npz_path}: not a readable .npz archive ({exc})") from None
    for member, info in members.items():
        if member not in expected:
            raise CheckpointError(f"{npz_path}: holds {member!r}, which this checkpoint's model does not have")
        shape = expected[member][2]
        limit = int(np.prod(shape, dtype=np.int64)) * itemsize + NPY_HEADER_BYTES
        if info.file_size > limit:
            raise CheckpointError(f"{npz_path}: {member} would expand to {info.file_size:,} bytes; its "
                                  f"shape {shape} needs at most {limit:,} (refused before reading)")
    declared, on_disk = sum(info.file_size for info in members.values()), os.path.getsize(npz_path)
    if declared > on_disk:  # save() stores arrays uncompressed: ours never expand
        raise CheckpointError(f"{npz_path}: its arrays would expand to {declared:,} bytes from {on_disk:,} "
                              f"on disk; glmprep stores checkpoints uncompressed (refused before reading)")
    missing = sorted(set(expected) - set(members))
    if missing:
        raise CheckpointError(f"{npz_path}: {len(missing)} array(s) missing, e.g. {missing[0]}")
    groups: Dict[str, Dict[str, np.ndarray]] = {group: {} for group in GROUPS}
    try:
        with np.load(npz_path, allow_pickle=False) as npz:
            for member, (group, name, shape) in expected.items():
                array = npz[member[:-len(".npy")]]
                if not isinstance(array, np.ndarray):  # np.load hands out a non-.npy member as bytes
                    raise CheckpointError(f"{npz_path}: {member} is not a .npy array")
                if array.shape != shape or array.dtype != dtype:
                    raise CheckpointError(f"{npz_path}: {member} is {array.dtype} {array.shape}, "
                                          f"expected {dtype} {shape}")
                groups[group][name] = array
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"{npz_path}: unreadable array ({' '.join(str(exc).split())[:200]})") from None
    return groups
