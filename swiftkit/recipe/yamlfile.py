"""Reading one YAML recipe file safely: line numbers per key, duplicate keys, clear syntax errors.

Recipes are data: only yaml.SafeLoader constructs values, so `!!python/...` tags are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swiftkit.errors import RecipeError


@dataclass(frozen=True)
class YamlDocument:
    """A recipe file's top-level mapping, with the 1-based line of each top-level key.

    problems: what is wrong inside an otherwise readable file (a key set twice, a value that
    cannot be read safely), reported with every other check instead of stopping them.
    sublines: for a value that is a mapping (the env: and swiftkit: blocks), the line of each of
    its keys, so a problem with one of them names its own line.
    """

    path: Path
    values: dict[str, Any]
    lines: dict[str, int]
    problems: tuple[str, ...] = ()
    sublines: dict[str, dict[str, int]] = field(default_factory=dict)

    def sub_where(self, key: str) -> dict[str, str]:
        """`file:line` of each key inside the mapping under `key` (empty when it is not one)."""
        return {k: f"{self.path}:{n}" for k, n in self.sublines.get(key, {}).items()}


# Recipes are flat; a nested value (a deepspeed config) needs a few levels. The limits keep a
# hostile file (an alias that contains itself, "billion laughs" alias chains, thousands of
# nested brackets) from hanging or crashing the loader.
MAX_DEPTH = 32
MAX_VALUES = 10_000


class _Unsafe(Exception):
    """A value that contains itself, nests too deeply or expands to too many values."""


def _walk(node: yaml.Node, path: Path, problems: list[str], memo: dict, depth: int = 0) -> int:
    """Values in `node` once aliases are expanded; duplicate keys appended to `problems`.

    Each node is visited once (aliases share nodes), so this is linear in the file's size.
    """
    if id(node) in memo:
        if memo[id(node)] is None:
            msg = "contains itself through a YAML alias"
            raise _Unsafe(msg)
        return memo[id(node)]
    if depth > MAX_DEPTH:
        msg = f"nests values more than {MAX_DEPTH} levels deep"
        raise _Unsafe(msg)
    memo[id(node)] = None  # on the current path: meeting it again is a cycle
    total = 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if key is not None and key in seen:
                problems.append(
                    f"{path}:{line}: {key} is set twice (first on line {seen[key]}). "
                    "Keep one of them."
                )
            elif key is not None:
                seen[key] = line
            total += _walk(key_node, path, problems, memo, depth + 1)
            total += _walk(value_node, path, problems, memo, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            total += _walk(item, path, problems, memo, depth + 1)
    memo[id(node)] = total
    return total


def _check_value(node: yaml.Node, path: Path, problems: list[str], memo: dict) -> str | None:
    """Why `node` is not safe to construct, or None."""
    try:
        size = _walk(node, path, problems, memo)
    except _Unsafe as e:
        return str(e)
    if size > MAX_VALUES:
        return f"expands to {size} values through YAML aliases (more than {MAX_VALUES})"
    return None


def _syntax_message(path: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
    problem = getattr(exc, "problem", None) or str(exc)
    hint = "Fix the YAML syntax there."
    if "\\t" in problem or "\t" in problem or "tab" in problem.lower():
        hint = "YAML indents with spaces, not tabs: replace the tab with spaces."
    elif "python/" in str(exc):
        hint = "Recipes are plain data: remove the !!python tag."
    return f"{where}: invalid YAML: {problem}. {hint}"


def read_recipe_text(path: Path) -> str:
    """A recipe file's text; RecipeError naming the file when it is missing or unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        msg = f"{path}: file not found. Check the path, or run python -m swiftkit ls."
        raise RecipeError(msg) from e
    except (OSError, UnicodeDecodeError) as e:
        msg = f"{path}: cannot be read ({e}). Check the file's permissions and encoding (UTF-8)."
        raise RecipeError(msg) from e
    return text


def read_yaml_mapping(path: Path) -> YamlDocument:
    """Parse `path` as a recipe file.

    Raises RecipeError when the file cannot be read as a mapping at all (missing, unreadable,
    YAML syntax, not a mapping). A key set twice keeps its last value, as yaml.safe_load in
    swift's own config loader (swift/cli/main.py parse_yaml_args) does, and is returned in
    `problems` with anything else wrong inside the file, to be reported with the other checks.
    """
    text = read_recipe_text(path)

    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as e:  # a control character anywhere in the file
        line = text.count("\n", 0, e.position) + 1
        column = e.position - text.rfind("\n", 0, e.position)
        msg = (
            f"{path}:{line}: column {column} holds a character YAML does not allow "
            f"(got {chr(e.character)!r}). Delete it: recipes are plain text."
        )
        raise RecipeError(msg) from e
    try:
        node = loader.get_single_node()
        if node is None:
            msg = f"{path}: the recipe is empty. Add swift sft flags such as model: and dataset:."
            raise RecipeError(msg)
        if not isinstance(node, yaml.MappingNode):
            kind = {yaml.SequenceNode: "a list", yaml.ScalarNode: "a single value"}[type(node)]
            line = node.start_mark.line + 1
            msg = (
                f"{path}:{line}: the top level must be a mapping of swift sft flags "
                f"(got {kind}). Write one `flag: value` per line."
            )
            raise RecipeError(msg)
        problems: list[str] = []
        values: dict[str, Any] = {}
        lines: dict[str, int] = {}
        sublines: dict[str, dict[str, int]] = {}
        memo: dict = {}
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if name is not None and name in seen:
                problems.append(
                    f"{path}:{line}: {name} is set twice (first on line {seen[name]}). "
                    "Keep one of them."
                )
            seen.setdefault(name, line)
            unsafe = _check_value(key_node, path, problems, memo) or _check_value(
                value_node, path, problems, memo
            )
            if unsafe:
                problems.append(
                    f"{path}:{line}: {name or 'this key'} {unsafe}. Recipes are plain data: "
                    "write the value out without anchors, aliases or deep nesting."
                )
                continue
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                problems.append(
                    f"{path}:{line}: key {key!r} is not a flag name. Keys are swift sft flag "
                    "names such as learning_rate."
                )
                continue
            values.pop(key, None)  # the last one wins, as in yaml.safe_load
            values[key] = loader.construct_object(value_node, deep=True)
            lines[key] = line
            if isinstance(value_node, yaml.MappingNode):
                sublines[key] = {
                    k.value: k.start_mark.line + 1
                    for k, _ in value_node.value
                    if isinstance(k, yaml.ScalarNode)
                }
    except yaml.YAMLError as e:
        raise RecipeError(_syntax_message(path, e)) from e
    except RecursionError as e:  # thousands of nested brackets, before _walk sees them
        msg = (
            f"{path}: nests values too deeply to read. Recipes are flat: write one "
            "`flag: value` per line."
        )
        raise RecipeError(msg) from e
    finally:
        loader.dispose()
    return YamlDocument(path, values, lines, tuple(problems), sublines)


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` from the command line; the value is typed as YAML would type it."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep:
        msg = f"override {text!r} has no '='. Write key=value, e.g. learning_rate=2e-4."
        raise RecipeError(msg)
    if not key:
        msg = f"override {text!r} has no key before '='. Write key=value, e.g. num_train_epochs=3."
        raise RecipeError(msg)
    if not raw.strip():
        msg = (
            f"override {text!r} has no value after '='. Write {key}=VALUE "
            f"(or {key}=null to unset it)."
        )
        raise RecipeError(msg)
    try:
        value = _load_value(raw)
    except yaml.YAMLError:
        value = raw
    except (_Unsafe, RecursionError) as e:
        why = str(e) if isinstance(e, _Unsafe) else "nests values too deeply to read"
        msg = f"override {key}=...: the value {why}. Write a plain value, e.g. {key}=8."
        raise RecipeError(msg) from e
    return key, value


def _load_value(text: str) -> Any:
    """yaml.safe_load, refusing values that contain themselves or expand too far."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _walk(node, Path("override"), [], {})
        if size > MAX_VALUES:
            msg = f"expands to {size} values through YAML aliases (more than {MAX_VALUES})"
            raise _Unsafe(msg)
        return loader.construct_document(node)
    finally:
        loader.dispose()
