"""Auto-fit: the largest per-device batch judge lets run on the card, the effective batch kept
(exactly, or the nearest with an lr note), the evaluation batch, and batch 1 not fitting."""

from dataclasses import replace
from pathlib import Path

import pytest

from swiftkit.memory.devicemap import estimate_for
from swiftkit.memory.fit import FITS, judge
from swiftkit.memory.gpus import find_card
from swiftkit.plan.autofit import accepts, auto_fit
from swiftkit.plan.lrscale import lr_scaled
from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
GIB = 1024**3


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def fit(overrides=(), gpu="4090D", headroom=None):
    def plan_with(extra):
        words = [*overrides, *(f"{k}={v}" for k, v in extra.items())]
        return make_plan(load_recipe("qwen7b_selfcog", words), gpus=[gpu])

    card = find_card(gpu)
    return auto_fit(plan_with({}), card=card, headroom_bytes=headroom, replan=plan_with)


def device_bytes(plan, batch):
    """The plan's own memory estimate at another per-device batch."""
    return estimate_for(plan.memory.shape, replace(plan.memory.config, batch_size=batch))


def test_reference_recipe_on_a_4090d_raises_the_batch_keeping_effective_batch_16():
    result, plan = fit()
    assert result.before.per_device_train_batch_size == 1
    after = result.after
    assert after.per_device_train_batch_size > 1
    assert after.effective_batch_size == 16 and result.exact
    assert after.per_device_train_batch_size * after.gradient_accumulation_steps == 16
    # The estimate at that batch still fits, by judge's own verdict; it is the largest divisor
    # of 16 up to the largest batch that fits, and one more than that does not.
    card = find_card("4090D")
    assert judge(plan.memory.estimate, card).verdict == FITS
    fitting = [b for b in range(1, 17) if judge(device_bytes(plan, b), card).verdict == FITS]
    largest = max(fitting)
    assert fitting == list(range(1, largest + 1)) and largest < 16
    assert judge(device_bytes(plan, largest + 1), card).verdict != FITS
    assert after.per_device_train_batch_size == max(d for d in range(1, largest + 1) if 16 % d == 0)
    assert plan.schedule.effective_batch_size == 16
    assert after.step_seconds < result.before.step_seconds  # fuller batches: faster updates
    assert result.changes == {
        "per_device_train_batch_size": after.per_device_train_batch_size,
        "gradient_accumulation_steps": after.gradient_accumulation_steps,
    }


def test_headroom_leaves_that_much_free_and_no_exact_divisor_gives_the_nearest_batch():
    # effective batch 7 (prime): with the headroom that leaves room for batch 4's high estimate
    # only, and only batch 1 dividing 7, batch 4 x accumulation 2 = 8 (nearer 7 than 4 x 1).
    card = find_card("4090D")
    base = fit(["gradient_accumulation_steps=7"])[1]
    headroom = card.total_bytes - device_bytes(base, 4).device_needed_high_bytes
    result, plan = fit(["gradient_accumulation_steps=7"], headroom=headroom)
    after = result.after
    assert after.per_device_train_batch_size == 4
    assert after.gradient_accumulation_steps == 2 and not result.exact
    assert plan.memory.estimate.device_needed_high_bytes <= card.total_bytes - headroom
    assert result.lr_note == (
        "no batch that fits divides the effective batch 7: effective batch 8 instead; scale "
        "learning_rate 0.0001 by sqrt(8/7) -> 0.000107, or linearly -> 0.000114"
    )


def test_even_batch_one_not_fitting_leaves_the_ranked_fixes():
    result, plan = fit(["tuner_type=full"], gpu="T4")
    assert result.after is None and plan is None
    assert result.before.verdict == "will not fit"


def test_accepts_is_judges_verdict_on_a_card_smaller_by_the_headroom():
    card = find_card("4090D")
    est = device_bytes(fit()[1], 1)
    assert accepts(est, card, None) == (judge(est, card).verdict == FITS)
    room = card.total_bytes - est.device_needed_high_bytes  # what judge compares
    assert accepts(est, card, room - 1)
    assert not accepts(est, card, room + 1)


def test_lr_scaling_rules():
    assert lr_scaled(1e-4, 64, 16, "sqrt") == pytest.approx(2e-4)
    assert lr_scaled(1e-4, 64, 16, "linear") == pytest.approx(4e-4)
    assert lr_scaled(1e-4, 64, 16, "none") == 1e-4
