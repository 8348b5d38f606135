"""The plan's time block: its fields and sums, the device (CPU for use_cpu, the named card),
the basis in order (own runs, public logs, uncalibrated), and the rows' token lengths."""

import json
from pathlib import Path

import pytest

from swiftkit.plan.lengths import row_lengths
from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe
from tests.conftest import write_tiny_recipe

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path, tiny_model, monkeypatch):
    write_tiny_recipe(tmp_path, tiny_model, REPO / "datasets/self_cognition.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cpu_time_block_without_runs_is_uncalibrated(project):
    plan = make_plan(load_recipe("tiny"), environ={})
    t = plan.to_json()["time"]
    assert t["device"] == "CPU (1 thread)" and t["device_key"] == "cpu/1"  # OMP_NUM_THREADS: 1
    assert t["basis"] == "uncalibrated" and t["efficiency"] == 1.0
    assert t["train_seconds"] == pytest.approx(t["step_seconds"] * plan.schedule.max_steps)
    assert t["total_seconds"] == pytest.approx(
        t["train_seconds"] + t["eval_seconds"] + t["save_seconds"]
    )
    assert t["eval_seconds"] > 0 and t["save_seconds"] > 0  # 4 evaluations, 4 saves
    assert t["tokens_per_second"] == pytest.approx(t["tokens_per_update"] / t["step_seconds"])
    assert t["model_family"] == "qwen2" and t["ideal"]["train_seconds"] == t["train_seconds"]


def test_gpu_time_uses_public_logs_and_no_card_means_no_time(monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setattr("swiftkit.plan.calibrate.candidate_runs", lambda roots: [])
    plan = make_plan(load_recipe("qwen7b_selfcog"), gpus=["4090D"])
    assert plan.time.basis == "public_logs" and plan.time.device == "NVIDIA GeForce RTX 4090 D"
    assert plan.time.basis_detail.startswith("median of 25 public ms-swift lora logs")
    unknown = make_plan(load_recipe("qwen7b_selfcog"))  # no GPU here, none named
    assert unknown.time is None
    assert any(n.startswith("time: not estimated (no GPU is named)") for n in unknown.notes)


def _stats(path, resolved):
    """The datasets read as the plan reads them: row checks and token lengths in one pass."""
    from swiftkit.data import datasets as ds
    from swiftkit.data import tokens

    ctx, key = tokens.length_context(
        resolved["model"], path.parent, system=resolved.get("system"),
        max_length=resolved.get("max_length"),
    )  # fmt: skip
    spec = ds.parse_dataset_spec(str(path), base_dir=path.parent)
    return [(ds.inspect_dataset(spec, [], ctx, key), "train")]


def test_row_lengths_drop_or_cut_long_rows_and_fill_placeholders(tmp_path, tiny_model):
    rows = [
        {"messages": [{"role": "user", "content": "Who are you?"},
                      {"role": "assistant", "content": "I am {{NAME}}."}]},
        {"messages": [{"role": "user", "content": "long " * 200},
                      {"role": "assistant", "content": "ok"}]},
    ]  # fmt: skip
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    base = {"model": str(tiny_model), "max_length": 64, "system": "s"}
    delete = {**base, "truncation_strategy": "delete"}
    right = {**base, "truncation_strategy": "right"}
    dropped, exact = row_lengths(delete, _stats(path, delete), tmp_path)
    cut, _ = row_lengths(right, _stats(path, right), tmp_path)
    assert exact and len(dropped["train"]) == 1 and max(cut["train"]) == 64
    assert dropped["val"] == dropped["train"]  # no val_dataset: the split comes from these rows
    named = {**delete, "model_name": "a much longer model name"}
    named, _ = row_lengths(named, _stats(path, named), tmp_path)
    assert named["train"][0] > dropped["train"][0]
