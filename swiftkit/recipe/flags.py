"""The `swift sft` flag schema: what each flag takes, recipe values normalised, argv built.

The schema is swiftkit/recipe/sft_flags.json, captured from the installed ms-swift by
`python -m swiftkit.recipe.flags_capture`. This module is stdlib only, so validating a recipe never
imports swift, torch or transformers.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any

KINDS = ("bool", "int", "float", "str", "list", "dict", "any")

# The spellings transformers' string_to_bool accepts for a bool flag.
_TRUE = frozenset({"true", "yes", "t", "y", "1"})
_FALSE = frozenset({"false", "no", "f", "n", "0"})
_INT = re.compile(r"[+-]?\d+")
# argparse reads an argument that starts with '-' as an option unless it matches this.
_ARGPARSE_NEGATIVE = re.compile(r"^-\d+$|^-\d*\.\d+$")


@dataclass(frozen=True)
class Flag:
    """One `swift sft` flag. `default` is a JSON value (list and dict defaults: do not mutate)."""

    name: str
    kind: str  # one of KINDS
    item_kind: str | None  # for list flags: the kind of each item
    optional: bool  # None is a valid value (it means: swift's default)
    default: Any
    choices: tuple | None  # for list flags: the values each item may take
    help: str


@dataclass(frozen=True)
class FlagSchema:
    swift_version: str
    flags: Mapping[str, Flag]
    renames: Mapping[str, str]  # old 3.x name -> current name
    removed: Mapping[str, str]  # 3.x name with no successor -> what to write instead
    aliases: Mapping[str, str] = field(default_factory=dict)  # 'output-dir' -> 'output_dir'
    negations: Mapping[str, str] = field(default_factory=dict)  # 'no_add_version' -> 'add_version'
    transformers_version: str = ""
    # 2.x/3.x names from flag_history.yaml (swiftkit.recipe.history reads the entries)
    history: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    old_values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def get(self, name: str) -> Flag | None:
        return self.flags.get(name)

    def suggest(self, name: str) -> str | None:
        """The current flag a misspelt, renamed or dash-spelt name most likely means.

        A known old name (3.x renames, then flag_history.yaml) wins over a spelling match; a
        name closest to an old one means that old one's successor (None if it has none).
        """
        normal = name.strip().lstrip("-").lower().replace("-", "_")
        for key in (name, normal):
            if key in self.flags:
                return key
            if key in self.renames:
                return self.renames[key]
            if key in self.history:
                return self.history[key].get("new")
        words = [*self.flags.keys(), *self.history.keys()]
        close = difflib.get_close_matches(normal, words, n=1, cutoff=0.75)
        if not close:
            return None
        return self.history[close[0]].get("new") if close[0] in self.history else close[0]


@functools.cache
def load_schema() -> FlagSchema:
    """The schema committed with swiftkit (read once per process)."""
    text = resources.files("swiftkit.recipe").joinpath("sft_flags.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    flags = {
        name: Flag(
            name=name,
            kind=spec["kind"],
            item_kind=spec["item_kind"],
            optional=spec["optional"],
            default=spec["default"],
            choices=tuple(spec["choices"]) if spec["choices"] is not None else None,
            help=spec["help"],
        )
        for name, spec in raw["flags"].items()
    }
    return FlagSchema(
        swift_version=raw["swift_version"],
        flags=MappingProxyType(flags),
        renames=MappingProxyType(raw.get("renames", {})),
        removed=MappingProxyType(raw.get("removed", {})),
        aliases=MappingProxyType(raw.get("aliases", {})),
        negations=MappingProxyType(raw.get("negations", {})),
        transformers_version=raw.get("transformers_version", ""),
        history=MappingProxyType(raw.get("history", {})),
        old_values=MappingProxyType(raw.get("old_values", {})),
    )


def coerce_value(flag: Flag, value: Any) -> Any:
    """A YAML value normalised for `flag`, or ValueError("<what is wrong> (got <value!r>)").

    Numeric strings are numbers (YAML 1.1 reads 1e-4 as a string); a bool flag takes what
    `swift sft` takes (true/false, yes/no, 1/0); a single value for a list flag becomes a
    one-item list, kept whole as swift's own YAML config loader keeps it; a dict flag takes a
    mapping, a JSON object string (parsed) or another string (a path or a preset name such as
    deepspeed's zero2). None is allowed only for optional flags.

    A list flag whose swift default is empty (`val_dataset: List[str] = field(default_factory=
    list)` in swift/arguments/base_args/data_args.py) or None takes [] and null as that default:
    [] (see `clears_flag`) or None. swift's parser cannot be given an empty list (transformers
    hf_argparser.py: nargs="+" for List fields), so such a value means: leave the flag out.
    """
    if value is None:
        if flag.optional:
            return None
        if flag.kind == "list" and flag.default == []:
            return []
        raise ValueError(_problem("cannot be null", None))
    if flag.kind == "list":
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if not items and (flag.default == [] or flag.optional):
            return [] if flag.default == [] else None
        if not items:
            raise ValueError(_problem("must list at least one value", value))
        out = []
        for index, item in enumerate(items, start=1):
            try:
                out.append(_coerce_one(flag.item_kind or "any", flag.choices, item))
            except ValueError as e:
                msg = f"item {index} {e}" if len(items) > 1 else str(e)
                raise ValueError(msg) from None
        return out
    if flag.kind == "dict":
        return _to_dict(value)
    return _coerce_one(flag.kind, flag.choices, value)


def clears_flag(flag: Flag, typed: Any) -> bool:
    """Whether a coerced value is the flag's empty default, so the flag is left out of argv and
    swift keeps its default (an empty list cannot be written on swift's command line)."""
    return flag.kind == "list" and typed == [] and flag.default == []


def _problem(what: str, value: Any) -> str:
    return f"{what} (got {value!r})"


def _coerce_one(kind: str, choices: tuple | None, value: Any) -> Any:
    if value is None:
        raise ValueError(_problem("cannot be null", None))
    if kind == "bool":
        out = _to_bool(value)
    elif kind == "int":
        out = _to_int(value)
    elif kind == "float":
        out = _to_float(value)
    elif kind == "str":
        out = _to_str(value)
    elif isinstance(value, (list, dict)):
        raise ValueError(_problem("must be a single value", value))
    else:
        out = value
    return _check_choice(choices, out) if choices else out


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(_problem("must be true or false", value))


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(_problem("must be an integer", value))
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT.fullmatch(value.strip()):
        return int(value.strip())
    raise ValueError(_problem("must be an integer", value))


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(_problem("must be a number", value))
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ValueError(_problem("must be a number", value))


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _arg_text(value)
    raise ValueError(_problem("must be a string", value))


def _to_dict(value: Any) -> dict | str:
    if isinstance(value, Mapping):
        try:
            return json.loads(json.dumps(value))
        except (TypeError, ValueError):
            raise ValueError(_problem("must be JSON-serialisable", value)) from None
    if isinstance(value, str):
        if not value.lstrip().startswith("{"):
            return value
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
        raise ValueError(_problem("must be a valid JSON object", value))
    raise ValueError(_problem("must be a mapping, a JSON object or a string", value))


def _check_choice(choices: tuple, value: Any) -> Any:
    for choice in choices:
        if isinstance(choice, bool) != isinstance(value, bool):
            continue
        if choice == value and type(choice) is type(value):
            return choice
    for choice in choices:  # '4' for a Literal[1, 2, 4, 8, 'float8'], as argparse maps it
        if not isinstance(value, bool) and str(choice) == str(value):
            return choice
    raise ValueError(_problem("must be one of: " + ", ".join(repr(c) for c in choices), value))


def to_argv(values: Mapping[str, Any]) -> list[str]:
    """`swift sft` arguments for already-coerced values: ['--key', 'value', ...].

    None values are left out (swift keeps its default). Bools are 'true'/'false', lists are
    several items after one flag, dicts are JSON, floats use repr (round-trips). A value that
    starts with '-' is written --key=value so argparse does not read it as an option.
    """
    argv: list[str] = []
    for name, value in values.items():
        if not name or name.startswith("-"):
            raise ValueError(_problem("flag names are written without dashes", name))
        if value is None:
            continue
        option = f"--{name}"
        if isinstance(value, (list, tuple)):
            items = [_arg_text(item) for item in value]
            if not items:
                msg = f"{name}: an empty list cannot be passed to swift sft"
                raise ValueError(msg)
            dashed = [item for item in items if _reads_as_option(item)]
            if len(items) == 1 and dashed:
                argv.append(f"{option}={items[0]}")
            elif dashed:
                raise ValueError(
                    _problem(f"{name}: items starting with '-' cannot be passed", dashed[0])
                )
            else:
                argv += [option, *items]
        else:
            text = _arg_text(value)
            argv += [f"{option}={text}"] if _reads_as_option(text) else [option, text]
    return argv


def _reads_as_option(text: str) -> bool:
    return text.startswith("-") and not _ARGPARSE_NEGATIVE.match(text)


def _arg_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
