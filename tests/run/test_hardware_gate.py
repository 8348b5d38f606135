"""train's refusals before anything runs: will not fit (exit 3, --force), GPU-only recipes."""

from pathlib import Path

import pytest

from swiftkit.errors import HardwareError
from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe
from swiftkit.recipe.swiftargs import resolve_args
from swiftkit.run.gate import check_hardware

REPO = Path(__file__).resolve().parents[2]


def plan_for(card, *overrides):
    recipe = load_recipe("qwen7b_selfcog", list(overrides))
    plan = make_plan(recipe, gpus=[card], environ={})
    return plan, resolve_args(recipe.args, world_size=plan.world_size)


def test_will_not_fit_is_refused_with_the_ranked_changes(in_repo):
    plan, resolved = plan_for("T4")
    assert plan.memory.verdict == "will not fit"
    with pytest.raises(HardwareError) as e:
        check_hardware(plan, resolved, 1, force=False)
    assert e.value.exit_code == 3
    message = str(e.value)
    assert message.startswith(f"{REPO}/recipes/qwen7b_selfcog.yaml: will not fit: about ")
    assert "GiB needed on the high estimate) on Tesla T4 (15 GiB). Try: " in message
    assert message.endswith("--force starts it anyway.")
    check_hardware(plan, resolved, 1, force=True)  # --force: no exception


def test_fits_on_the_articles_card(in_repo):
    plan, resolved = plan_for("4090D")
    assert plan.memory.verdict == "fits"
    check_hardware(plan, resolved, 1, force=False)


def test_suggestions_each_carry_their_own_estimate(in_repo):
    plan, _ = plan_for("T4", "max_length=4096")
    suggestions = plan.memory.suggestions
    assert suggestions
    assert all(s.estimate.device_bytes > 0 for s in suggestions)
    assert any(s.verdict == "fits" for s in suggestions)


def test_bf16_on_a_card_without_it_is_flagged(in_repo):
    plan, _ = plan_for("T4")
    assert (
        f"{REPO}/recipes/qwen7b_selfcog.yaml:11: Tesla T4 has no bfloat16 support (got "
        "torch_dtype bfloat16). Use torch_dtype: float16 on this card."
    ) in plan.warnings
