"""`train --auto-fit`: the fitted batches reach swift's argv and the run's provenance records
the change (a real run on the tiny CPU model); --dry-run shows the fitted command."""

import json
import shlex
from pathlib import Path

import pytest

from swiftkit.cli.main import main
from tests.conftest import write_tiny_recipe

REPO = Path(__file__).resolve().parents[2]


def test_dry_run_prints_the_fitted_command(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    code = main(["train", "qwen7b_selfcog", "--gpu", "4090D", "--auto-fit", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    argv = shlex.split(out.strip())
    batch = int(argv[argv.index("--per_device_train_batch_size") + 1])
    accum = int(argv[argv.index("--gradient_accumulation_steps") + 1])
    assert batch > 1 and batch * accum == 16


@pytest.mark.slow
def test_auto_fit_run_records_the_change(tmp_path, tiny_model, tiny_dataset, monkeypatch, capsys):
    import torch

    write_tiny_recipe(tmp_path, tiny_model, f"{tiny_dataset}#10")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("swiftkit.memory.hardware.detect_gpus", lambda: [])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as OMP_NUM_THREADS: 1 (torch is already imported here)
    try:
        code = main(["train", "tiny", "--auto-fit", "num_train_epochs=1", "save_steps=100",
                     "eval_steps=100"])  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert code == 0
    assert "auto-fit on CPU memory" in out
    run = next((tmp_path / "output" / "tiny_demo").glob("v*-*"))
    fit = json.loads((run / "swiftkit" / "auto_fit.json").read_text())
    assert fit["before"]["per_device_train_batch_size"] == 1
    assert fit["changes"] == {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 1}
    assert fit["effective_batch_size"] == fit["before"]["effective_batch_size"] == 4
    swift_args = json.loads((run / "args.json").read_text())
    assert swift_args["per_device_train_batch_size"] == 4
    assert swift_args["gradient_accumulation_steps"] == 1
    plan = json.loads((run / "swiftkit" / "plan.json").read_text())
    assert plan["per_device_train_batch_size"] == 4 and plan["effective_batch_size"] == 4
    assert "global_step: 3 of planned max_steps 3" in out  # ceil(9 rows / 4)


def test_dry_run_passes_the_filled_copies_and_shows_the_warnings(monkeypatch, capsys):
    """swift leaves {{NAME}}/{{AUTHOR}} literal in a local file: the command names the copy train
    writes (the same file name prepare_run gives it), and stderr carries the plan's warnings
    and the note saying where the copy goes."""
    from swiftkit.plan.plan import make_plan
    from swiftkit.recipe.recipe import load_recipe
    from swiftkit.run.train import filled_copies

    monkeypatch.chdir(REPO)
    assert main(["train", "qwen7b_selfcog", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    argv = shlex.split(out.strip())
    assert argv[argv.index("--dataset") + 1] == "<RUN_DIR>/datasets/self_cognition.filled.jsonl"
    plan = make_plan(load_recipe("qwen7b_selfcog"), environ={})
    [(_, _, name)] = filled_copies(plan, plan.args["dataset"], REPO)
    assert name == "self_cognition.filled.jsonl"
    assert f"(<RUN_DIR> = {REPO}/output/vN-YYYYMMDD-HHMMSS)" in err
    assert "datasets/self_cognition.json -> <RUN_DIR>/datasets/self_cognition.filled.jsonl" in err
    assert "warning: " in err and "eval_steps is ignored" in err
    for w in plan.warnings:
        assert f"warning: {w}" in err
