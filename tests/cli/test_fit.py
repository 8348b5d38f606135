"""`plan --fit`: the before/after table, the `fit` JSON object, exit code 3 when even batch 1
does not fit, the host's memory for use_cpu recipes, and a clear error without a card."""

import json
from pathlib import Path

import pytest

from swiftkit.memory.host import host_memory_card
from tests.conftest import run_cli as run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(
        "swiftkit.memory.hardware.detect_gpus", lambda: []
    )  # no GPU, also on a GPU box


def test_fit_json_carries_the_fitted_batches_memory_and_time(capsys):
    code, out, _ = run(["plan", "qwen7b_selfcog", "--gpu", "4090D", "--fit", "--json"], capsys)
    assert code == 0
    fit = json.loads(out)["fit"]
    assert fit["per_device_train_batch_size"] > 1 and fit["effective_batch_size"] == 16
    assert fit["gradient_accumulation_steps"] == 16 // fit["per_device_train_batch_size"]
    assert fit["verdict"] == "fits" and fit["exact"] is True and fit["fits"] is True
    assert fit["card"] == "NVIDIA GeForce RTX 4090 D"
    for key in ("peak_reserved_bytes", "device_bytes", "step_seconds", "total_seconds",
                "max_steps", "per_device_eval_batch_size"):  # fmt: skip
        assert fit[key] is not None and fit["before"][key] is not None
    assert fit["before"]["per_device_train_batch_size"] == 1
    assert fit["step_seconds"] < fit["before"]["step_seconds"]


def test_fit_text_is_a_before_after_table(capsys):
    code, out, _ = run(["plan", "qwen7b_selfcog", "--gpu", "4090D", "--fit"], capsys)
    assert code == 0
    table = out[out.index("auto-fit on NVIDIA GeForce RTX 4090 D (24.0 GiB, verdict 'fits'") :]
    lines = table.splitlines()
    assert lines[1].split() == ["batch", "accumulation", "effective", "eval", "batch", "peak",
                                "reserved", "on", "device", "verdict", "updates", "per",
                                "update", "total"]  # fmt: skip
    assert lines[2].split()[:4] == ["before", "1", "16", "16"]
    assert lines[3].split()[0] == "after" and lines[3].split()[3] == "16"
    assert "overrides: per_device_train_batch_size=" in table


def test_batch_one_not_fitting_exits_3_with_the_fixes(capsys):
    argv = ["plan", "qwen7b_selfcog", "--gpu", "T4", "--fit", "tuner_type=full"]
    code, out, _ = run(argv, capsys)
    assert code == 3
    assert "even per_device_train_batch_size 1 does not fit: see the fixes above" in out
    assert "  1. " in out  # the ranked fixes of the memory section


def test_cpu_recipe_fits_against_host_memory_with_the_eval_batch(capsys, tiny_model):
    # The tiny model's config.json gives the memory estimate (the demo's .cache copy may not
    # exist yet on a fresh clone).
    recipe = str(REPO / "tests" / "fixtures" / "recipes" / "tiny_cpu.yaml")
    code, out, _ = run(["plan", recipe, f"model={tiny_model}", "--fit", "--json"], capsys)
    assert code == 0
    fit = json.loads(out)["fit"]
    assert fit["card"] == "CPU memory" and fit["card_bytes"] == host_memory_card().total_bytes
    # 1 x 4 accumulation on one process: batch 4 (the whole share); 5 validation rows.
    assert (fit["per_device_train_batch_size"], fit["gradient_accumulation_steps"]) == (4, 1)
    assert fit["per_device_eval_batch_size"] == 5


def test_no_card_to_fit_is_a_clear_error(capsys):
    code, _, err = run(["plan", "qwen7b_selfcog", "--fit"], capsys)
    assert code == 2
    assert err.strip().endswith(
        "no card to fit the batch to: no GPU was found and none is named. Pass --gpu NAME "
        "(python -m swiftkit gpus lists them) or set swiftkit: gpu: in the recipe."
    )


def test_negative_headroom_is_refused(capsys):
    code, _, err = run(["plan", "qwen7b_selfcog", "--gpu", "4090D", "--fit", "--headroom", "-1"],
                       capsys)  # fmt: skip
    assert code == 2
    assert "--headroom must be 0 or more GiB (got -1). Write --headroom 2." in err
