"""Options declared once: a dataclass field carries its flag, help and parser.

Each stage's settings are a frozen dataclass (``SampleOptions``, ``FilterOptions``...). A
field declared with :func:`option` is also a command-line option; everything else
follows from that one declaration: ``glmprep run --help`` (a group per stage), parsing,
the keys of a ``--config`` file and of the ``run.toml`` a run writes, and error
messages, which name the flag (``--mask-ratio``) instead of the field (``mask_ratio``)::

    @dataclass(frozen=True)
    class SampleOptions:
        mask_ratio: float = option(0.15, "share of tokens masked by spans")   # --mask-ratio

To add an option, add such a field; to add a stage, list its dataclass in
``glmprep.pipeline.options.STAGES``. Fields without :func:`option` are not flags (a
fixed seed, a value derived from another option). The argparse ``dest`` of a flag is
its field's name, so field names are unique across the stages.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

_KEY = "glmprep_option"


@dataclass(frozen=True)
class Flag:
    """How one dataclass field appears on the command line."""

    field: str                                  # the dataclass field, also the argparse dest
    flag: str                                   # "--mask-ratio"
    help: str
    parse: Optional[Callable[[str], Any]]       # text -> value; None: the default's type
    metavar: Optional[str] = None
    choices: Optional[Tuple[str, ...]] = None
    repeat: bool = False                        # may be given several times (a list)
    show_default: bool = True

    @property
    def is_switch(self) -> bool:
        """A flag without a value: on for a False default, off (``--no-x``) for True."""
        return self.parse is bool


@dataclass(frozen=True)
class Switch:
    """A flag without a field of its own: ``--no-too-short`` sets the fields in ``sets``;
    ``sets=None`` turns the whole stage off (``--no-near-dedup``)."""

    flag: str
    help: str
    sets: Optional[Mapping[str, Any]] = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


def option(default: Any = dataclasses.MISSING, help: str = "", *, flag: Optional[str] = None,
           parse: Optional[Callable[[str], Any]] = None, metavar: Optional[str] = None,
           choices: Optional[Sequence[str]] = None, repeat: bool = False, show_default: bool = True,
           default_factory: Any = dataclasses.MISSING):
    """A dataclass field that is also the option ``flag`` (default: ``--field-name``).

    ``parse`` turns the flag's text into the value (default: the type of ``default``;
    a bool default makes a switch). ``choices`` limits the text. ``repeat`` collects
    every occurrence into a list. The flag is filled in by :func:`flags_of`.
    """
    if isinstance(default, bool) and parse is None:
        parse = bool
    meta = {_KEY: dict(flag=flag, help=help, parse=parse, metavar=metavar,
                       choices=tuple(choices) if choices else None, repeat=repeat,
                       show_default=show_default)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def flags_of(cls) -> List[Flag]:
    """The flags of ``cls``'s :func:`option` fields, in declaration order."""
    flags = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(_KEY)
        if spec is None:
            continue
        default = _default(f)
        parse = spec["parse"] or (type(default) if isinstance(default, (int, float, str)) else str)
        flags.append(Flag(field=f.name, flag=spec["flag"] or "--" + f.name.replace("_", "-"),
                          help=spec["help"], parse=parse, metavar=spec["metavar"],
                          choices=spec["choices"], repeat=spec["repeat"],
                          show_default=spec["show_default"]))
    return flags


def switches_of(cls) -> Tuple[Switch, ...]:
    return tuple(getattr(cls, "SWITCHES", ()))


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None if f.default is dataclasses.MISSING else f.default


def defaults_of(cls) -> Dict[str, Any]:
    """field -> default of every flag of ``cls``."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    return {flag.field: _default(fields[flag.field]) for flag in flags_of(cls)}


def shown(value: Any) -> str:
    """A value as it is typed on the command line."""
    if value is None:
        return "none"
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def add_option_arguments(parser, cls, title: Optional[str] = None) -> None:
    """Add ``cls``'s flags and switches to an argparse-style parser (also Beam's), in a
    group called ``title`` when the parser has groups."""
    group = parser.add_argument_group(title) if title and hasattr(parser, "add_argument_group") else parser
    defaults = defaults_of(cls)
    for flag in flags_of(cls):
        default = defaults[flag.field]
        text = flag.help
        if flag.show_default and not flag.repeat:
            text += f" (default: {shown(default)})"
        if flag.is_switch:
            group.add_argument(flag.flag, dest=flag.field, default=default,
                               action="store_false" if default else "store_true", help=text)
            continue
        metavar = flag.metavar or flag.flag.lstrip("-").upper().replace("-", "_")
        kwargs = dict(dest=flag.field, default=default, help=text, metavar=metavar)
        if flag.choices:
            kwargs.update(choices=flag.choices, metavar=None)
        if flag.parse is not str:
            kwargs["type"] = _named(flag.parse)
        if flag.repeat:
            kwargs.update(action="append", default=None)
        group.add_argument(flag.flag, **kwargs)
    for switch in switches_of(cls):
        group.add_argument(switch.flag, dest=switch.dest, action="store_true", default=False,
                           help=switch.help)


def _named(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` with ValueError turned into argparse's error (argparse names the flag)."""
    if parse in (int, float):
        return parse

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def option_values(source) -> Mapping[str, Any]:
    """Parsed arguments as a mapping of argument dests: a dict as it is, Beam
    ``PipelineOptions`` through ``get_all_options``, an argparse Namespace through ``vars``."""
    if isinstance(source, Mapping):
        return source
    if hasattr(source, "get_all_options"):  # Beam PipelineOptions
        return source.get_all_options()
    return vars(source)


def build(cls, source, **fixed):
    """``cls`` from parsed arguments (see :func:`option_values`); missing fields keep
    their defaults, strings are parsed as on the command line, ``fixed`` fields are
    given as they are. A switch that turns the stage off makes this return None.

    Raises ValueError naming flags, never fields: ``--mask-ratio must be in (0, 1)``.
    """
    values = option_values(source)
    kwargs: Dict[str, Any] = {}
    for flag in flags_of(cls):
        value = values.get(flag.field)
        if value is None and (flag.field not in values or flag.repeat):
            continue
        if isinstance(value, str) and flag.parse not in (str, None):
            try:
                value = flag.parse(value)
            except (ValueError, argparse.ArgumentTypeError) as exc:
                raise ValueError(f"{flag.flag}: {exc}") from None
        kwargs[flag.field] = value
    for switch in switches_of(cls):
        if values.get(switch.dest):
            if switch.sets is None:
                return None
            kwargs.update(switch.sets)
    kwargs.update(fixed)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(name_flags(cls, str(exc))) from None


def name_flags(cls, message: str) -> str:
    """``message`` with each of ``cls``'s option field names replaced by its flag."""
    for flag in flags_of(cls):
        message = re.sub(rf"(?<![\w-]){re.escape(flag.field)}(?!\w)", flag.flag, message)
    return message


# --- parsers shared by several options ----------------------------------------------------

_NONE_WORDS = ("none", "off")


def number_or_none(kind: type) -> Callable[[str], Any]:
    """Text -> ``kind`` or None ("none"/"off"): for thresholds that can be turned off."""
    def parse(value: str):
        if value.strip().lower() in _NONE_WORDS:
            return None
        try:
            return kind(value)
        except ValueError:
            raise ValueError(f"expected a {kind.__name__} or 'none', got {value!r}") from None
    parse.__name__ = kind.__name__
    return parse


def text_or_none(value: str) -> Optional[str]:
    """Text -> itself, or None for "none" (and the empty string)."""
    return None if value.strip().lower() in ("", "none") else value


def number_pair(text: str) -> Tuple[float, float]:
    """``"0.5,1.0"`` -> (0.5, 1.0)."""
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"expected LOW,HIGH, got {text!r}") from None
    return low, high


def weights_of(names: Sequence[str]) -> Callable[[str], Dict[str, float]]:
    """A parser of ``"a=0.5,b=0.25"`` -> {name: weight} over ``names`` (missing ones get 0)."""
    def weights(text: str) -> Dict[str, float]:
        result = {name: 0.0 for name in names}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            if not sep or name.strip() not in names:
                raise ValueError(f"expected name=weight pairs with names {tuple(names)}, got {part!r}")
            try:
                result[name.strip()] = float(value)
            except ValueError:
                raise ValueError(f"weight of {name} is not a number: {value!r}") from None
        return result
    return weights
