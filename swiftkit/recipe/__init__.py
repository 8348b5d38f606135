"""Recipes: YAML files of `swift sft` flags read, typed against swift's own flag schema, and
resolved the way ms-swift 4.6 resolves its arguments. The first stage of the pipeline."""

from swiftkit.recipe.recipe import Recipe, load_recipe

__all__ = ["Recipe", "load_recipe"]
