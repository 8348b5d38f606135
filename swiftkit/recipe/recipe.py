"""Recipes: finding them, `extends` chains, key=value overrides, renames and typing of every key.

A recipe is a flat YAML mapping (or JSON object) whose keys are `swift sft` flags, plus three
reserved blocks: `extends` (a base recipe), `env` (launch settings such as NPROC_PER_NODE; a
swift config file's `ENV` block is read the same way) and `swiftkit` (settings of swiftkit
itself, never passed to swift). So `swift sft config.yaml` files are recipes as they are.

Relative paths are resolved one way everywhere: a recipe named by path and a base named by
`extends` resolve against the directory of the file that names them; dataset and model paths
inside a recipe resolve against the working directory, as `swift sft` itself does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swiftkit.errors import RecipeError, ValidationError
from swiftkit.recipe import history
from swiftkit.recipe.blocks import SWIFT_ENV_KEY, check_env, check_settings
from swiftkit.recipe.envnames import env_name_warnings
from swiftkit.recipe.examples import fix_hint
from swiftkit.recipe.flags import FlagSchema, clears_flag, coerce_value, load_schema
from swiftkit.recipe.launchenv import resolve_launch_env
from swiftkit.recipe.lookup import find_recipe, load_chain
from swiftkit.recipe.yamlfile import parse_override

RESERVED_KEYS = ("extends", "env", SWIFT_ENV_KEY, "swiftkit")
# Keys people write that swift sft has no flag for, and what ms-swift does instead.
NOT_FLAGS = {
    "trust_remote_code": (
        "ms-swift 4.6 always loads models with trust_remote_code=True "
        "(swift/model/register.py:161), so a model's own Python code runs. Remove the line, "
        "and train only models whose repository you trust."
    ),
}
OVERRIDE = "command line"


@dataclass(frozen=True)
class Recipe:
    """A recipe after extends, overrides and renames; every value typed for its swift flag."""

    name: str
    path: Path
    args: Mapping[str, Any]
    env: Mapping[str, str]
    settings: Mapping[str, Any]
    # key -> "file:line" or OVERRIDE; swiftkit settings as "swiftkit.gpu"
    where: Mapping[str, str] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # type and key errors, reported with the other checks
    chain: tuple[Path, ...] = ()

    def location(self, key: str) -> str:
        """`file:line` where `key` was set, or the recipe file when it was not set."""
        return self.where.get(key, str(self.path))


def _type_flag(
    key: str, value: Any, where: str, schema: FlagSchema, problems: list[str], notices: list[str]
) -> tuple[str, Any] | None:
    """Check one flag: its name (with renames and did-you-mean) and its value's type."""
    name = key
    old = schema.history.get(key) if schema.get(key) is None else None
    if schema.get(key) is None and key in schema.renames:
        name = schema.renames[key]
        notices.append(f"{where}: {key} is the ms-swift 3.x name of {name}; using {name}.")
    elif old is not None and history.is_rename(old):
        name = old["new"]
        notices.append(
            f"{where}: {key} is the ms-swift {history.era(old)} name of {name}; using {name}."
        )
    elif old is not None:
        problems.append(history.old_name_problem(key, value, old, where))
        return None
    flag = schema.get(name)
    if flag is None:
        if key in schema.removed:
            problems.append(f"{where}: {key} was removed from ms-swift. {schema.removed[key]}")
            return None
        if key in NOT_FLAGS:
            problems.append(
                f"{where}: {key} is not a swift sft flag (got {value!r}): {NOT_FLAGS[key]}"
            )
            return None
        near = schema.suggest(key)
        hint = f"Did you mean {near}?" if near else "See python -m swiftkit flags for the list."
        problems.append(f"{where}: {key} is not a swift sft flag. {hint}")
        return None
    try:
        typed = coerce_value(flag, value)
    except ValueError as e:
        problems.append(
            f"{where}: {name} {e}. {fix_hint(flag, value, override=where.startswith(OVERRIDE))}"
        )
        return None
    spelling = schema.old_values.get(name)
    if spelling and (message := history.old_value_problem(name, typed, spelling, where)):
        problems.append(message)
        return None
    return name, typed


def _renamed(key: str, schema: FlagSchema) -> str | None:
    """The new name an old one is read as (3.x renames, and 2.x/3.x renames from the history)."""
    if schema.get(key) is not None:
        return None
    old = schema.history.get(key)
    return schema.renames.get(key) or (old["new"] if old and history.is_rename(old) else None)


def load_recipe(ref: str, overrides: Sequence[str] = (), *, base_dir: Path | None = None) -> Recipe:
    """Read a recipe and its bases, apply overrides, type every value.

    Fatal problems (missing file, YAML syntax, cycles) raise RecipeError at once; key and value
    problems are collected in Recipe.problems so that they are reported with the other checks.
    """
    path = find_recipe(ref, base_dir=base_dir)
    schema = load_schema()
    problems: list[str] = []
    notices: list[str] = []
    args: dict[str, Any] = {}
    where: dict[str, str] = {}
    env: dict[str, str] = {}
    settings: dict[str, Any] = {}

    def put(key: str, value: Any, loc: str, sub: Mapping[str, str] | None = None) -> None:
        if key in ("env", SWIFT_ENV_KEY):
            block = check_env(value, loc, problems, key=key, key_where=sub)
            notices.extend(env_name_warnings({k: (sub or {}).get(k, loc) for k in block}))
            env.update(block)
            return
        if key == "swiftkit":
            typed_settings = check_settings(value, loc, problems, sub)
            settings.update(typed_settings)
            where.update({f"swiftkit.{k}": (sub or {}).get(k, loc) for k in typed_settings})
            return
        typed = _type_flag(key, value, loc, schema, problems, notices)
        if typed is None:
            return
        name, val = typed
        args.pop(name, None)  # re-insert so the order shows where the value came from
        where.pop(name, None)
        if clears_flag(schema.flags[name], val):  # `val_dataset: []`: swift's default, unset
            return
        args[name] = val
        where[name] = loc

    chain = load_chain(path)
    for file_path, doc in chain:
        problems.extend(doc.problems)
        for key, value in doc.values.items():
            if key == "extends":
                continue
            loc = f"{file_path}:{doc.lines[key]}"
            if key == SWIFT_ENV_KEY and "env" in doc.values:
                problems.append(
                    f"{loc}: ENV and env are both set (ENV is swift's config-file spelling). "
                    "Keep one of them."
                )
                continue
            renamed = _renamed(key, schema)
            if renamed and renamed in doc.values:
                problems.append(
                    f"{loc}: {key} and {renamed} are both set ({key} is the old name). "
                    f"Keep only {renamed}."
                )
                continue
            put(key, value, loc, doc.sub_where(key))

    for text in overrides:
        try:
            key, value = parse_override(text)
        except RecipeError as e:
            problems.append(str(e))
            continue
        if key in RESERVED_KEYS:
            problems.append(
                f"override {text!r}: {key} cannot be overridden from the command line. "
                "Edit the recipe file, or set environment variables directly."
            )
            continue
        put(key, value, f"{OVERRIDE} ({key}=...)")

    return Recipe(
        name=path.stem,
        path=path,
        args=args,
        env=env,
        settings=settings,
        where=where,
        notices=tuple(notices),
        problems=tuple(problems),
        chain=tuple(p for p, _ in chain),
    )


def load_recipe_or_raise(
    ref: str, overrides: Sequence[str] = (), *, base_dir: Path | None = None
) -> Recipe:
    recipe = load_recipe(ref, overrides, base_dir=base_dir)
    if recipe.problems:
        raise ValidationError.from_problems(list(recipe.problems))
    return recipe


def launch_env(recipe: Recipe, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The launch settings, name -> value: the recipe's env block and the launch variables of the
    process environment (which wins, as in swift), and SLURM's layout inside an allocation.
    Sources, warnings and problems: swiftkit.recipe.launchenv.resolve_launch_env."""
    return resolve_launch_env(recipe.env, environ, recipe_path=str(recipe.path)).env
