"""Reading one YAML recipe file safely: line numbers per key, duplicate keys, clear syntax errors.

Recipes are data: only yaml.SafeLoader constructs values, so `!!python/...` tags are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from swiftkit.errors import RecipeError


@dataclass(frozen=True)
class YamlDocument:
    """A recipe file's top-level mapping, with the 1-based line of each top-level key."""

    path: Path
    values: dict[str, Any]
    lines: dict[str, int]


def _check_duplicates(node: yaml.Node, path: Path, problems: list[str]) -> None:
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
            _check_duplicates(value_node, path, problems)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicates(item, path, problems)


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


def read_yaml_mapping(path: Path) -> YamlDocument:
    """Parse `path` as a recipe file. Raises RecipeError listing every problem found."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        msg = f"{path}: file not found. Check the path, or run python -m swiftkit ls."
        raise RecipeError(msg) from e
    except (OSError, UnicodeDecodeError) as e:
        msg = f"{path}: cannot be read ({e}). Check the file's permissions and encoding (UTF-8)."
        raise RecipeError(msg) from e

    loader = yaml.SafeLoader(text)
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
        _check_duplicates(node, path, problems)
        values: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                problems.append(
                    f"{path}:{line}: key {key!r} is not a flag name. Keys are swift sft flag "
                    "names such as learning_rate."
                )
                continue
            if key in values:
                continue
            values[key] = loader.construct_object(value_node, deep=True)
            lines[key] = line
    except yaml.YAMLError as e:
        raise RecipeError(_syntax_message(path, e)) from e
    finally:
        loader.dispose()
    if problems:
        from swiftkit.errors import ValidationError

        raise ValidationError.from_problems(problems)
    return YamlDocument(path=path, values=values, lines=lines)


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
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    return key, value
