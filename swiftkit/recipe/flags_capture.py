"""Regenerate swiftkit/recipe/sft_flags.json from the installed ms-swift `swift sft` parser.

    python -m swiftkit.recipe.flags_capture          # write the file
    python -m swiftkit.recipe.flags_capture --check  # exit 1 with a diff if the file is stale

The parser is built the way swift builds it (`swift.utils.parse_args`: transformers'
HfArgumentParser over SftArguments, with swift's type-hint patch), so the file holds exactly
the options `swift sft` accepts. This is a maintainer's command, not part of the swiftkit CLI,
so it prints its own report. It imports swift, transformers and torch; swiftkit.recipe.flags
never does.

Per flag: kind (bool, int, float, str, list, dict, any), item_kind (list flags), optional (None
is a valid value: the type allows it or the default is None), default (what argparse hands
SftArguments when the flag is absent; enums as their value, anything else that is not JSON as
str()), choices (None left out), help (first sentence of the field's help metadata or, for
fields swift declares, of swift's docstring entry for it).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import enum
import inspect
import json
import math
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from swiftkit.recipe.history import check_history, read_table
from swiftkit.recipe.renames import REMOVED, RENAMES

DATA_PATH = Path(__file__).parent / "sft_flags.json"


def _validated_choices() -> dict[str, list[str]]:
    """Plain-str flags whose values swift or transformers check after parsing."""
    from swift.arguments.base_args.base_args import get_supported_tuners
    from transformers.trainer_utils import IntervalStrategy, SchedulerType

    return {
        # BaseArguments maps tuner_type through get_supported_tuners() (built-ins + tuners_map).
        "tuner_type": sorted(get_supported_tuners()),
        # transformers TrainingArguments.__post_init__: IntervalStrategy(self.eval_strategy).
        "eval_strategy": [s.value for s in IntervalStrategy],
        # transformers TrainingArguments.__post_init__: SchedulerType(self.lr_scheduler_type).
        "lr_scheduler_type": [s.value for s in SchedulerType],
    }


def build_parser() -> tuple[argparse.ArgumentParser, type, dict[str, Any]]:
    """swift's own `swift sft` parser, the SftArguments class and its resolved type hints."""
    from swift import SftArguments
    from swift.utils.utils import _patch_get_type_hints  # what swift.utils.parse_args uses
    from transformers import HfArgumentParser

    with _patch_get_type_hints():
        parser = HfArgumentParser([SftArguments])
        hints = typing.get_type_hints(SftArguments)
    return parser, SftArguments, hints


def _union_args(hint: Any) -> tuple:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(hint)
    return (hint,)


def _allows_none(hint: Any) -> bool:
    for arg in _union_args(hint):
        if arg is type(None):
            return True
        if typing.get_origin(arg) is typing.Literal and None in typing.get_args(arg):
            return True
    return False


def _has_dict(hint: Any) -> bool:
    return any(arg is dict or typing.get_origin(arg) is dict for arg in _union_args(hint))


def _scalar_kind(tp: Any) -> str:
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "str"
    return {int: "int", float: "float", str: "str", Path: "str"}.get(tp, "any")


def _choices_kind(choices: list) -> str:
    kinds = {"bool" if isinstance(c, bool) else _scalar_kind(type(c)) for c in choices}
    return kinds.pop() if len(kinds) == 1 else "any"


def _json_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return _json_value(value.value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.")


def first_sentence(text: str) -> str:
    """The first sentence of a help text, whitespace collapsed."""
    text = " ".join(text.split())
    for match in re.finditer(r"[.!?](?=\s+(\S)|$)", text):
        end = match.end()
        following = match.group(1)
        if text[:end].lower().endswith(_ABBREVIATIONS) or (following and following.islower()):
            continue
        return text[:end]
    return text


def _docstring_entries(cls: type) -> dict[str, str]:
    """`name (type): description` entries of a class docstring's Args section."""
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    entries: dict[str, str] = {}
    indent = None
    current = None
    for line in doc.splitlines():
        match = re.match(r"^(\s*)([A-Za-z_]\w*) \(.*\):(.*)$", line)
        depth = len(line) - len(line.lstrip())
        if match and (indent is None or depth == indent) and depth > 0:
            indent = depth
            current = match.group(2)
            entries[current] = match.group(3).strip()
        elif current and line.strip() and depth > (indent or 0):
            entries[current] += " " + line.strip()
        elif current and line.strip():
            current = None
    return entries


def _help_texts(cls: type) -> dict[str, str]:
    """For fields a swift class declares, swift's docstring; else the field's help metadata."""
    declared_by: dict[str, type] = {}
    doc_entries: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        for name in inspect.get_annotations(klass):
            declared_by[name] = klass
        doc_entries.update(_docstring_entries(klass))
    texts = {}
    for f in dataclasses.fields(cls):
        meta = f.metadata.get("help") or ""
        doc = doc_entries.get(f.name, "")
        from_swift = declared_by.get(f.name, cls).__module__.startswith("swift")
        texts[f.name] = first_sentence((doc or meta) if from_swift else (meta or doc))
    return texts


def _describe(action: argparse.Action, hint: Any, choices_override: list | None) -> dict:
    raw_choices = choices_override if choices_override is not None else action.choices
    if raw_choices is None and isinstance(action.type, type) and issubclass(action.type, enum.Enum):
        raw_choices = [member.value for member in action.type]  # e.g. debug: list[DebugOption]
    choices = [_json_value(c) for c in raw_choices if c is not None] if raw_choices else None
    item_kind = None
    if action.nargs == "+":
        kind, item_kind = "list", _scalar_kind(action.type)
    elif getattr(action.type, "__name__", "") == "string_to_bool":
        kind = "bool"
    elif _has_dict(hint):
        kind = "dict"
    elif choices:
        kind = _choices_kind(choices)
    else:
        kind = _scalar_kind(action.type)
    return {
        "kind": kind,
        "item_kind": item_kind,
        "optional": _allows_none(hint) or action.default is None,
        "default": _json_value(action.default),
        "choices": choices,
    }


def capture() -> dict:
    """The flag schema of the installed `swift sft`, as the JSON document to commit."""
    import swift
    import transformers

    parser, cls, hints = build_parser()
    overrides = _validated_choices()
    helps = _help_texts(cls)
    flags: dict[str, dict] = {}
    aliases: dict[str, str] = {}
    negations: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        names = [opt.removeprefix("--") for opt in action.option_strings]
        if isinstance(action, argparse._StoreFalseAction):
            negations.update(dict.fromkeys(names, action.dest))
            continue
        if f"--{action.dest}" not in action.option_strings:
            msg = f"swift option {action.option_strings} has no --{action.dest}"
            raise RuntimeError(msg)
        entry = _describe(action, hints[action.dest], overrides.get(action.dest))
        flags[action.dest] = {**entry, "help": helps.get(action.dest, "")}
        aliases.update({name: action.dest for name in names if name != action.dest})
    field_names = {f.name for f in dataclasses.fields(cls) if f.init}
    if set(flags) != field_names:
        msg = f"parser and SftArguments disagree: {set(flags) ^ field_names}"
        raise RuntimeError(msg)
    for old, new in RENAMES.items():
        if old in flags or new not in flags:
            msg = f"rename {old} -> {new} does not fit swift {swift.__version__}"
            raise RuntimeError(msg)
    if stale := set(REMOVED) & set(flags):
        msg = f"flags listed as removed still exist: {sorted(stale)}"
        raise RuntimeError(msg)
    history, old_values = read_table()
    check_history(history, old_values, flags, RENAMES, REMOVED)
    return {
        "swift_version": swift.__version__,
        "transformers_version": transformers.__version__,
        "flags": flags,
        "aliases": aliases,
        "negations": negations,
        "renames": dict(RENAMES),
        "removed": dict(REMOVED),
        "history": history,
        "old_values": old_values,
    }


def render(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def diff(path: Path, expected: str) -> list[str]:
    """Unified diff from the file at `path` to `expected`; empty when they match."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    return list(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{path} (committed)",
            tofile="installed swift",
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m swiftkit.recipe.flags_capture", description=__doc__
    )
    parser.add_argument("--check", action="store_true", help="compare, do not write; 1 if stale")
    parser.add_argument("--path", type=Path, default=DATA_PATH, help="the JSON file")
    args = parser.parse_args(argv)
    document = capture()
    text = render(document)
    if args.check:
        lines = diff(args.path, text)
        if lines:
            sys.stdout.writelines(lines)
            again = "python -m swiftkit.recipe.flags_capture"
            print(f"\n{args.path} is stale. Run {again} to regenerate it.")
            return 1
        print(f"{args.path} matches swift {document['swift_version']}.")
        return 0
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_text(text, encoding="utf-8")
    count, version = len(document["flags"]), document["swift_version"]
    print(f"Wrote {count} flags of swift {version} to {args.path}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
