"""swiftkit.recipe.checks: the suggestions its findings make."""

from pathlib import Path

from swiftkit.cli import sweep
from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]


def test_one_split_dataset_ratio_is_suggested_everywhere():
    """The plan warning, sweep's refusal and the reference recipe's comment suggest the same
    ratio: 0.1 holds out max(int(50 x 0.1), 1) = 5 of the 50 self-cognition rows."""
    plan = make_plan(load_recipe(str(REPO / "recipes" / "qwen7b_selfcog.yaml")), environ={})
    [warning] = [w for w in plan.warnings if "eval_steps is ignored" in w]
    assert "Set split_dataset_ratio: 0.1 or val_dataset: FILE" in warning
    assert "split_dataset_ratio: 0.1 " in (REPO / "recipes" / "qwen7b_selfcog.yaml").read_text()
    assert "split_dataset_ratio=0.1 " in Path(sweep.__file__).read_text()
