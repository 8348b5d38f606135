"""Finding recipes: by stem in ./recipes or by path, and the `extends` chain down to a recipe.

A recipe named by path and a base named by `extends` resolve against the directory of the file
that names them; a bare name is looked up in ./recipes (or, for `extends`, beside the child).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from swiftkit.errors import RecipeError
from swiftkit.recipe.jsonfile import read_json_mapping
from swiftkit.recipe.yamlfile import read_yaml_mapping

# A recipe is YAML, or JSON like a swift config file (`swift sft config.json`: the suffixes swift's
# parse_yaml_args in swift/cli/main.py takes).
RECIPE_SUFFIXES = (".yaml", ".yml", ".json")


def read_recipe_file(path: Path):
    """A recipe file's top-level values and lines: JSON by its suffix, else YAML."""
    return read_json_mapping(path) if path.suffix == ".json" else read_yaml_mapping(path)


def recipes_dir(base_dir: Path | None = None) -> Path:
    return (base_dir or Path.cwd()) / "recipes"


def _candidates(ref: str, *, folder: Path, base: Path) -> list[Path]:
    """A path (relative to `base`) when `ref` looks like one, else `folder/ref.yaml|yml`."""
    as_path = Path(ref).expanduser()
    if as_path.suffix in RECIPE_SUFFIXES or os.sep in ref or "/" in ref:
        return [as_path if as_path.is_absolute() else base / as_path]
    return [folder / f"{ref}{suffix}" for suffix in RECIPE_SUFFIXES]


def list_recipe_files(folder: Path) -> list[Path]:
    """The recipe files in `folder`, by name."""
    return sorted(p for p in folder.glob("*") if p.suffix in RECIPE_SUFFIXES and p.is_file())


def _first_file(candidates: Sequence[Path]) -> Path | None:
    return next((c.resolve() for c in candidates if c.is_file()), None)


def find_recipe(ref: str, *, base_dir: Path | None = None) -> Path:
    """A recipe named by stem (`qwen7b_selfcog`, looked up in ./recipes) or by a path."""
    base = base_dir or Path.cwd()
    candidates = _candidates(ref, folder=recipes_dir(base), base=base)
    found = _first_file(candidates)
    if found is not None:
        return found
    stems = sorted(p.stem for p in list_recipe_files(recipes_dir(base)))
    near = _close_match(ref, stems)
    hint = f" Did you mean {near}?" if near else ""
    msg = f"recipe {ref!r} not found (looked for {candidates[0]}).{hint} Run python -m swiftkit ls."
    raise RecipeError(msg)


def _close_match(word: str, options: Sequence[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return found[0] if found else None


def load_chain(path: Path, seen: tuple[Path, ...] = ()):
    """[(path, document)] from the root base down to `path`."""
    if path in seen:
        cycle = " -> ".join(p.name for p in (*seen, path))
        msg = f"{seen[-1]}: extends cycle: {cycle}. Remove one of the extends lines."
        raise RecipeError(msg)
    doc = read_recipe_file(path)
    base_ref = doc.values.get("extends")
    chain: list = []
    if base_ref is not None:
        where = f"{path}:{doc.lines['extends']}"
        if not isinstance(base_ref, str) or not base_ref.strip():
            msg = f"{where}: extends must name one recipe (got {base_ref!r}). Write extends: NAME."
            raise RecipeError(msg)
        base_path = _find_base(base_ref, path, where)
        chain = load_chain(base_path, (*seen, path))
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
