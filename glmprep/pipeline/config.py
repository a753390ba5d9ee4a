"""``--config FILE`` and the ``run.toml`` every run writes beside its shards.

A config file holds any ``glmprep run`` option under its flag name without ``--``, at the
top level or in a table named after its stage (as ``run.toml`` writes them), and Beam's
own options as a list of flags::

    [required]
    input = ["corpus/*.jsonl.gz"]
    output = "out"

    ["GLM samples"]
    seq-len = 2048
    objective-weights = { blank = 0.5, sentence = 0.25, document = 0.25 }

    [beam]
    flags = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]

Values go through the same parsing as on the command line, and flags on the command
line win over the file. ``run.toml`` holds every option resolved (defaults included), so
``glmprep run --config out/run.toml --output other`` repeats the run with identical shards.
"""
from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from apache_beam.io.filesystems import FileSystems

from glmprep.core.options import Flag, flags_of, switches_of
from glmprep.core.recipes import recipe_options
from glmprep.pipeline.options import STAGES, RunArguments, UsageError, closest_option, run_defaults
from glmprep.schemas.manifest import RUN_CONFIG_NAME
BEAM_TABLE = "beam"

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]


def _options_by_key() -> Dict[str, Tuple[Optional[Flag], str]]:
    """config key (flag without --) -> (its Flag, or None for a switch; dest)."""
    keys: Dict[str, Tuple[Optional[Flag], str]] = {}
    for _, cls in STAGES:
        for flag in flags_of(cls):
            keys[flag.flag[2:]] = (flag, flag.field)
        for switch in switches_of(cls):
            keys[switch.flag[2:]] = (None, switch.dest)
    return keys


def load_config(path: str) -> Tuple[Dict[str, Any], List[str]]:
    """(dest -> value, Beam flags) from a TOML config file; UsageError naming the file
    and the key for anything it cannot use."""
    try:
        with FileSystems.open(path) as fh:
            data = tomllib.loads(fh.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"--config {path}: {exc}") from None
    except Exception as exc:  # Beam filesystems raise their own errors for a missing file
        raise UsageError(f"--config {path}: cannot read it ({exc})") from None
    known = _options_by_key()
    sections = {title for title, _ in STAGES}
    values: Dict[str, Any] = {}
    beam_flags: List[str] = []

    def take(key: str, value: Any) -> None:
        if key not in known:
            guess = closest_option("--" + key, ["--" + k for k in known])
            hint = f"; did you mean {guess[2:]}?" if guess else ""
            raise UsageError(f"--config {path}: unknown option {key!r}{hint}")
        flag, dest = known[key]
        try:
            values[dest] = _from_toml(flag, value)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"--config {path}: {key} = {value!r}: {exc}") from None

    for key, value in data.items():
        if key == BEAM_TABLE:
            flags = value.get("flags", []) if isinstance(value, dict) else None
            if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
                raise UsageError(f"--config {path}: [beam] must hold flags = [\"--name=value\", ...]")
            beam_flags = list(flags)
        elif isinstance(value, dict) and key in sections:
            for inner, inner_value in value.items():
                take(inner, inner_value)
        elif isinstance(value, dict) and key not in known:
            raise UsageError(f"--config {path}: unknown table [{key}]; tables are "
                             f"{', '.join(sorted(sections | {BEAM_TABLE}))}")
        else:
            take(key, value)
    if "config" in values:
        raise UsageError(f"--config {path}: a config file cannot name another config")
    return values, beam_flags


def _from_toml(flag: Optional[Flag], value: Any) -> Any:
    """A TOML value -> the option's value, parsed as its command-line text would be."""
    if flag is None or flag.is_switch:  # a switch is true (given) or false
        if not isinstance(value, bool):
            raise TypeError("expected true or false")
        return value if flag is None or not _default_is_true(flag) else not value
    if flag.repeat:
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in items):
            raise TypeError("expected a string or a list of strings")
        return list(items)
    if isinstance(value, bool) or isinstance(value, (dict, list)) and not value:
        raise TypeError("expected " + (flag.metavar or "a value"))
    if isinstance(value, dict):
        text = ",".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, list):
        text = ",".join(map(str, value))
    else:
        text = str(value)
    if flag.choices and text not in flag.choices:
        raise ValueError(f"expected one of {', '.join(flag.choices)}")
    return flag.parse(text) if flag.parse not in (None, str) else text


def _default_is_true(flag: Flag) -> bool:
    return flag.flag.startswith("--no-")


def resolve(args: RunArguments) -> Tuple[Dict[str, Any], List[str]]:
    """(dest -> value of every option, Beam flags): defaults, then the ``--recipe``'s
    values, then ``--config``, then the command line."""
    values = run_defaults()
    beam_flags: List[str] = []
    from_file: Dict[str, Any] = {}
    path = args.given.get("config")
    if path:
        from_file, beam_flags = load_config(path)
    recipe = args.given.get("recipe", from_file.get("recipe"))
    if recipe:
        values.update(recipe_options(recipe))
    values.update(from_file)
    values.update(args.given)
    return values, beam_flags + list(args.beam_flags)


# --- run.toml -----------------------------------------------------------------------------

def config_text(values: Mapping[str, Any], beam_flags: Sequence[str], argv: Sequence[str]) -> str:
    """The TOML of every option in ``values`` (dest -> value), a table per stage."""
    lines = ["# glmprep run: every option this run used; repeat it with",
             "#   glmprep run --config run.toml --output OTHER_DIR   (or --overwrite, in place)",
             "# command line: " + json.dumps(list(argv), ensure_ascii=False), ""]
    defaults = run_defaults()
    for title, cls in STAGES:
        lines.append(f"[{_key(title)}]")
        for flag in flags_of(cls):
            value = values.get(flag.field)
            if flag.field == "config" or value is None and defaults.get(flag.field) is None:
                continue
            if flag.is_switch:
                value = value != _default_is_true(flag)
            lines.append(f"{flag.flag[2:]} = {_toml('none' if value is None else value)}")
        for switch in switches_of(cls):
            lines.append(f"{switch.flag[2:]} = {_toml(bool(values.get(switch.dest)))}")
        lines.append("")
    lines.append(f"[{BEAM_TABLE}]")
    lines.append(f"flags = {_toml(list(beam_flags))}")
    return "\n".join(lines) + "\n"


def _key(text: str) -> str:
    return text if text.replace("-", "").replace("_", "").isalnum() else json.dumps(text)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(str(k))} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def write_run_config(output: str, values: Mapping[str, Any], beam_flags: Sequence[str],
                     argv: Sequence[str]) -> str:
    """Write ``run.toml`` into ``output``; returns its path."""
    path = FileSystems.join(output, RUN_CONFIG_NAME)
    with FileSystems.create(path) as fh:
        fh.write(config_text(values, beam_flags, argv).encode("utf-8"))
    return path
