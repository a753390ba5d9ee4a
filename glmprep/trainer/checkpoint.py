"""Checkpoints: a directory with ``model.npz`` (arrays, no pickle) and ``config.json`` (the rest).

    CKPT/model.npz      param/<name>, adam_m/<name>, adam_v/<name>
    CKPT/config.json    format + version, model and train configs, step, data cursor
                        (seed, epoch, position), the vocabulary map, the tokenizer it reads

Both files are written to temporary names and renamed, so an interrupted save leaves
the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Dict, Mapping, Optional

import numpy as np

from glmprep.trainer.model import GLMConfig
from glmprep.trainer.train import TrainConfig, TrainState
from glmprep.trainer.vocab import VocabMap

FORMAT = "glmprep-trainer-checkpoint"
VERSION = 1
MODEL_FILE, CONFIG_FILE = "model.npz", "config.json"


class CheckpointError(ValueError):
    """A checkpoint directory is missing, incomplete or of another format/version."""


@dataclass
class Checkpoint:
    state: TrainState
    data_cursor: Dict[str, int]         # BatchStream.state(): {"epoch", "position"}
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
    cfg_path, npz_path = os.path.join(path, CONFIG_FILE), os.path.join(path, MODEL_FILE)
    if not (os.path.isfile(cfg_path) and os.path.isfile(npz_path)):
        raise CheckpointError(f"{path}: not a checkpoint (expected {CONFIG_FILE} and {MODEL_FILE})")
    with open(cfg_path, encoding="utf-8") as fh:
        config = json.load(fh)
    if config.get("format") != FORMAT or config.get("version") != VERSION:
        raise CheckpointError(f"{cfg_path}: format {config.get('format')!r} version {config.get('version')!r}; "
                              f"this glmprep reads {FORMAT!r} version {VERSION}")
    groups: Dict[str, Dict[str, np.ndarray]] = {"param": {}, "adam_m": {}, "adam_v": {}}
    with np.load(npz_path, allow_pickle=False) as npz:
        for key in npz.files:
            group, name = key.split("/", 1)
            groups[group][name] = npz[key]
    state = TrainState(GLMConfig(**config["model"]), TrainConfig(**config["train"]),
                       VocabMap.from_json(config["vocab"]), groups["param"], groups["adam_m"],
                       groups["adam_v"], int(config["step"]))
    cursor = {k: int(v) for k, v in config["data_cursor"].items() if k in ("epoch", "position")}
    return Checkpoint(state, cursor, config["tokenizer"], config.get("extra", {}))
