"""Reading a JSON recipe: swift's own config files (`swift sft config.json`) are recipes too.

swift reads them with json.load (swift/cli/main.py parse_yaml_args): a key set twice keeps its
last value. swiftkit reads the same values, and the line of each top-level key for messages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swiftkit.errors import RecipeError
from swiftkit.recipe.yamlfile import YamlDocument, read_recipe_text

_WHITESPACE = " \t\n\r"


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WHITESPACE:
        i += 1
    return i


def _line(text: str, i: int) -> int:
    return text.count("\n", 0, i) + 1


def _nested_duplicates(top: str, where: str, problems: list[str]):
    """An object_pairs_hook that reports a key set twice inside a value (last one wins)."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                problems.append(f"{where}: {key} is set twice inside {top}. Keep one of them.")
            out[key] = value
        return out

    return hook


def read_json_mapping(path: Path) -> YamlDocument:
    """Parse `path` as a JSON recipe: one object of flags, like a swift config file.

    Raises RecipeError when the file cannot be read as an object at all; a key set twice is
    returned in `problems` (its last value kept, as json.load keeps it).
    """
    text = read_recipe_text(path)
    problems: list[str] = []
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    first: dict[str, int] = {}
    try:
        i = _skip(text, 0)
        if i == len(text):
            msg = f'{path}: the recipe is empty. Add swift sft flags such as "model" and "dataset".'
            raise RecipeError(msg)
        if text[i] != "{":
            kind = "a list" if text[i] == "[" else "a single value"
            msg = (
                f"{path}:{_line(text, i)}: the top level must be an object of swift sft flags "
                f'(got {kind}). Write {{"flag": value, ...}}.'
            )
            raise RecipeError(msg)
        i = _skip(text, i + 1)
        while i < len(text) and text[i] != "}":
            line = _line(text, i)
            key, i = json.decoder.scanstring(text, i + 1) if text[i] == '"' else _bad(text, i)
            i = _skip(text, i)
            if text[i : i + 1] != ":":
                _bad(text, i, "Expecting ':' delimiter")
            where = f"{path}:{line}"
            decoder = json.JSONDecoder(object_pairs_hook=_nested_duplicates(key, where, problems))
            value, i = decoder.raw_decode(text, _skip(text, i + 1))
            if key in values:
                problems.append(
                    f"{where}: {key} is set twice (first on line {first[key]}). Keep one of them."
                )
                values.pop(key)  # the last one wins, as in json.load
            first.setdefault(key, line)
            values[key], lines[key] = value, line
            i = _skip(text, i)
            if text[i : i + 1] == ",":
                i = _skip(text, i + 1)
            elif text[i : i + 1] != "}":
                _bad(text, i, "Expecting ',' delimiter")
        if i >= len(text):
            _bad(text, i, "Expecting '}'")
        if _skip(text, i + 1) != len(text):
            _bad(text, _skip(text, i + 1), "Extra data")
    except json.JSONDecodeError as e:
        msg = f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno}). Fix the JSON there."
        raise RecipeError(msg) from e
    except RecursionError as e:
        msg = f"{path}: nests values too deeply to read. Write one flag per key."
        raise RecipeError(msg) from e
    return YamlDocument(path=path, values=values, lines=lines, problems=tuple(problems))


def _bad(text: str, i: int, what: str = "Expecting property name enclosed in double quotes"):
    raise json.JSONDecodeError(what, text, i)
