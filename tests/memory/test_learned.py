"""Learning from the user's finished runs (recorded run directories in tests/fixtures/runs/
memory_history: two finished runs of the reference recipe on an RTX 4090 D, one that died of
CUDA out-of-memory)."""

import shutil
from pathlib import Path

import pytest

from swiftkit.memory import calibration, learned
from swiftkit.memory.estimate import estimate_memory
from swiftkit.memory.models import resolve_model_shape
from swiftkit.watch.memruns import finished_records

ROOT = Path(__file__).parents[2]
HISTORY = ROOT / "tests" / "fixtures" / "runs" / "memory_history" / "output"
QWEN7B = resolve_model_shape("Qwen/Qwen2.5-7B-Instruct")
CARD = "NVIDIA GeForce RTX 4090 D"


def test_only_finished_runs_of_the_same_model_and_card_count():
    records = finished_records([HISTORY])
    assert [Path(r["run_dir"]).name for r in records] == [
        "v1-20261129-131200", "v0-20261129-101500",  # newest first; v2 died of OOM
    ]  # fmt: skip
    assert learned.learn(records, QWEN7B, "A100-80G") is None  # another card
    other = resolve_model_shape("Qwen/Qwen2.5-3B-Instruct")
    assert learned.learn(records, other, CARD) is None  # another model
    corr = learned.learn(records, QWEN7B, "4090D")  # a loose name of the same card
    assert corr is not None and len(corr.runs) == 2


def test_correction_is_logged_over_re_estimated_reserved():
    records = finished_records([HISTORY])
    corr = learned.learn(records, QWEN7B, CARD)
    for rec, ratio in zip(records, corr.ratios, strict=True):
        shape = learned._from_fields(type(QWEN7B), rec["shape"])
        cfg = learned._from_fields(learned.MemoryConfig, rec["config"])
        estimated = estimate_memory(shape, cfg).peak_reserved_bytes
        assert ratio == pytest.approx(rec["logged"]["peak_reserved_bytes"] / estimated)
    assert corr.factor == pytest.approx(sorted(corr.ratios)[0] / 2 + sorted(corr.ratios)[1] / 2)
    est = estimate_memory(QWEN7B, learned._from_fields(learned.MemoryConfig, records[0]["config"]))
    fixed = learned.apply(est, corr)
    assert fixed.peak_reserved_bytes == int(est.peak_reserved_bytes * corr.factor)
    assert fixed.breakdown["learned_from_your_runs"] == fixed.peak_reserved_bytes - (
        est.peak_reserved_bytes
    )
    spread = max(corr.spread, calibration.HIGH_MARGIN)
    assert fixed.peak_reserved_high_bytes == int(fixed.peak_reserved_bytes * (1 + spread))
    assert "corrected by 2 finished runs" in fixed.notes[-1]


def test_plan_corrects_with_the_users_runs_and_says_so(tmp_path):
    from swiftkit.plan.plan import make_plan
    from swiftkit.recipe.recipe import load_recipe

    shutil.copytree(HISTORY, tmp_path / "output")
    shutil.copytree(ROOT / "datasets", tmp_path / "datasets")
    recipe = load_recipe(str(ROOT / "recipes" / "qwen7b_selfcog.yaml"))
    plan = make_plan(recipe, base_dir=tmp_path, gpus=["4090D"])
    m = plan.memory
    assert m.correction is not None and len(m.correction.runs) == 2
    assert any("corrected by 2 finished runs" in n for n in plan.notes)
    data = plan.to_json()["memory"]
    assert data["learned_from_runs"]["factor"] == pytest.approx(m.correction.factor)
    assert data["judged_on"] == "device_needed_high_bytes"
    assert data["device_high_bytes"] > data["device_bytes"] == m.estimate.device_bytes
    assert data["peak_reserved_high_bytes"] > data["peak_reserved_bytes"]
    assert data["verdicts"][0]["judged_bytes"] == m.estimate.device_needed_high_bytes
    plain = make_plan(recipe, base_dir=tmp_path, gpus=["A100-80G"])
    assert plain.memory.correction is None  # runs on another card do not count
