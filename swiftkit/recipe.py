"""Recipes: finding them, `extends` chains, key=value overrides, renames and typing of every key.

A recipe is a flat YAML mapping whose keys are `swift sft` flags, plus three reserved blocks:
`extends` (a base recipe), `env` (launch settings such as NPROC_PER_NODE) and `swiftkit`
(settings of swiftkit itself, never passed to swift).

Relative paths are resolved one way everywhere: a recipe named by path and a base named by
`extends` resolve against the directory of the file that names them; dataset and model paths
inside a recipe resolve against the working directory, as `swift sft` itself does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swiftkit.errors import RecipeError, ValidationError
from swiftkit.flags import FlagSchema, coerce_value, load_schema
from swiftkit.yamlfile import parse_override, read_yaml_mapping

RESERVED_KEYS = ("extends", "env", "swiftkit")
LAUNCH_ENV = (
    "CUDA_VISIBLE_DEVICES",
    "NPROC_PER_NODE",
    "NNODES",
    "NODE_RANK",
    "MASTER_ADDR",
    "MASTER_PORT",
)
# swiftkit's own settings. lr_tuned_for_batch: the effective batch the learning rate was chosen
# for (ms-swift's defaults aim at an effective batch of 16). gpu: the card to check memory against.
SWIFTKIT_SETTINGS = {"lr_tuned_for_batch": int, "gpu": str, "description": str}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
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
    where: Mapping[str, str] = field(default_factory=dict)  # key -> "file:line" or OVERRIDE
    notices: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # type and key errors, reported with the other checks
    chain: tuple[Path, ...] = ()

    def location(self, key: str) -> str:
        """`file:line` where `key` was set, or the recipe file when it was not set."""
        return self.where.get(key, str(self.path))


def recipes_dir(base_dir: Path | None = None) -> Path:
    return (base_dir or Path.cwd()) / "recipes"


def _candidates(ref: str, *, folder: Path, base: Path) -> list[Path]:
    """A path (relative to `base`) when `ref` looks like one, else `folder/ref.yaml|yml`."""
    as_path = Path(ref).expanduser()
    if as_path.suffix in (".yaml", ".yml") or os.sep in ref or "/" in ref:
        return [as_path if as_path.is_absolute() else base / as_path]
    return [folder / f"{ref}.yaml", folder / f"{ref}.yml"]


def _first_file(candidates: Sequence[Path]) -> Path | None:
    return next((c.resolve() for c in candidates if c.is_file()), None)


def find_recipe(ref: str, *, base_dir: Path | None = None) -> Path:
    """A recipe named by stem (`qwen7b_selfcog`, looked up in ./recipes) or by a path."""
    base = base_dir or Path.cwd()
    candidates = _candidates(ref, folder=recipes_dir(base), base=base)
    found = _first_file(candidates)
    if found is not None:
        return found
    stems = sorted(p.stem for p in recipes_dir(base).glob("*.y*ml"))
    near = _close_match(ref, stems)
    hint = f" Did you mean {near}?" if near else ""
    msg = f"recipe {ref!r} not found (looked for {candidates[0]}).{hint} Run python -m swiftkit ls."
    raise RecipeError(msg)


def _close_match(word: str, options: Sequence[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return found[0] if found else None


def _load_chain(path: Path, seen: tuple[Path, ...] = ()):
    """[(path, document)] from the root base down to `path`."""
    if path in seen:
        cycle = " -> ".join(p.name for p in (*seen, path))
        msg = f"{seen[-1]}: extends cycle: {cycle}. Remove one of the extends lines."
        raise RecipeError(msg)
    doc = read_yaml_mapping(path)
    base_ref = doc.values.get("extends")
    chain: list = []
    if base_ref is not None:
        where = f"{path}:{doc.lines['extends']}"
        if not isinstance(base_ref, str) or not base_ref.strip():
            msg = f"{where}: extends must name one recipe (got {base_ref!r}). Write extends: NAME."
            raise RecipeError(msg)
        base_path = _find_base(base_ref, path, where)
        chain = _load_chain(base_path, (*seen, path))
    return [*chain, (path, doc)]


def _find_base(ref: str, child: Path, where: str) -> Path:
    candidates = _candidates(ref, folder=child.parent, base=child.parent)
    found = _first_file(candidates)
    if found is not None:
        return found
    msg = (
        f"{where}: extends {ref!r}, but {candidates[0]} does not exist. "
        "Name a recipe in the same folder (its file name without .yaml) or a path."
    )
    raise RecipeError(msg)


def _check_env(env: Any, where: str, problems: list[str]) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, dict):
        problems.append(
            f"{where}: env must be a mapping of environment variables (got {env!r}). "
            "Write e.g. env: {NPROC_PER_NODE: 2}."
        )
        return {}
    out = {}
    for name, value in env.items():
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            problems.append(
                f"{where}: env key {name!r} is not an environment variable name. Use letters, "
                "digits and _, not starting with a digit (e.g. NPROC_PER_NODE)."
            )
        elif isinstance(value, (dict, list)) or value is None:
            problems.append(
                f"{where}: env {name} must be a single value (got {value!r}). Write {name}: VALUE."
            )
        else:
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _check_settings(settings: Any, where: str, problems: list[str]) -> dict[str, Any]:
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        problems.append(
            f"{where}: swiftkit must be a mapping (got {settings!r}). "
            "Write e.g. swiftkit: {lr_tuned_for_batch: 16}."
        )
        return {}
    out = {}
    for key, value in settings.items():
        kind = SWIFTKIT_SETTINGS.get(key)
        if kind is None:
            known = ", ".join(SWIFTKIT_SETTINGS)
            problems.append(
                f"{where}: swiftkit.{key} is not a swiftkit setting. Use one of: {known}."
            )
        elif kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            problems.append(
                f"{where}: swiftkit.{key} must be a positive integer (got {value!r}). "
                f"Write e.g. {key}: 16 under swiftkit:."
            )
        elif kind is str and not isinstance(value, str):
            problems.append(
                f"{where}: swiftkit.{key} must be a string (got {value!r}). "
                f'Quote it: {key}: "{value}".'
            )
        else:
            out[key] = value
    return out


def _type_flag(
    key: str, value: Any, where: str, schema: FlagSchema, problems: list[str], notices: list[str]
) -> tuple[str, Any] | None:
    """Check one flag: its name (with renames and did-you-mean) and its value's type."""
    name = key
    if schema.get(key) is None and key in schema.renames:
        name = schema.renames[key]
        notices.append(f"{where}: {key} is the ms-swift 3.x name of {name}; using {name}.")
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
        return name, coerce_value(flag, value)
    except ValueError as e:
        fix = f"Write {name}: {_example(flag)}." if _example(flag) else "Fix the value."
        problems.append(f"{where}: {name} {e}. {fix}")
        return None


def _example(flag) -> str:
    if flag.choices:
        return str(flag.choices[0])
    return {"int": "8", "float": "0.0001", "bool": "true", "list": "[a, b]"}.get(flag.kind, "")


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

    def put(key: str, value: Any, loc: str) -> None:
        if key == "env":
            env.update(_check_env(value, loc, problems))
            return
        if key == "swiftkit":
            settings.update(_check_settings(value, loc, problems))
            return
        typed = _type_flag(key, value, loc, schema, problems, notices)
        if typed is None:
            return
        name, val = typed
        args.pop(name, None)  # re-insert so the order shows where the value came from
        args[name] = val
        where[name] = loc

    chain = _load_chain(path)
    for file_path, doc in chain:
        for key, value in doc.values.items():
            if key == "extends":
                continue
            loc = f"{file_path}:{doc.lines[key]}"
            renamed = schema.renames.get(key) if schema.get(key) is None else None
            if renamed and renamed in doc.values:
                problems.append(
                    f"{loc}: {key} and {renamed} are both set ({key} is the old name). "
                    f"Keep only {renamed}."
                )
                continue
            put(key, value, loc)

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
    """The launch settings: the recipe's env block, filled in from the process environment."""
    environ = os.environ if environ is None else environ
    out = {k: environ[k] for k in LAUNCH_ENV if k in environ}
    out.update(recipe.env)
    return out
