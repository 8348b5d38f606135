"""The recipes in ./recipes, one row each: model, tuner and effective batch (for `swiftkit ls`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swiftkit.errors import SwiftkitError
from swiftkit.recipe.lookup import list_recipe_files, read_recipe_file, recipes_dir
from swiftkit.recipe.recipe import launch_env, load_recipe
from swiftkit.recipe.swiftargs import resolve_args, world_size_from_env


@dataclass(frozen=True)
class RecipeRow:
    name: str
    model: str
    tuner: str
    effective_batch: str


def list_recipes(base_dir: Path | None = None) -> list[RecipeRow]:
    rows = []
    for path in list_recipe_files(recipes_dir(base_dir)):
        if path.suffix == ".json" and not _looks_like_recipe(path):
            continue  # a DeepSpeed or other JSON config kept beside the recipes
        try:
            recipe = load_recipe(str(path), base_dir=base_dir)
        except SwiftkitError:
            rows.append(RecipeRow(path.stem, "(invalid: run swiftkit validate)", "-", "-"))
            continue
        world, _ = world_size_from_env(launch_env(recipe))
        args = resolve_args(recipe.args, world_size=world)
        batch = args.get("per_device_train_batch_size") or 1
        accumulation = args.get("gradient_accumulation_steps") or 1
        rows.append(
            RecipeRow(
                name=path.stem,
                model=str(args.get("model")),
                tuner=str(args.get("tuner_type")),
                effective_batch=f"{batch} x {accumulation} x {world} = "
                f"{batch * accumulation * world}",
            )
        )
    return rows


def _looks_like_recipe(path: Path) -> bool:
    try:
        values = read_recipe_file(path).values
    except SwiftkitError:
        return True  # listed, as invalid
    return "model" in values or "extends" in values
