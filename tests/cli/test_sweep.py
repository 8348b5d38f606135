"""`swiftkit sweep` end to end on the tiny CPU model: the plans table, refusals before any
training, a real sweep ranked by eval_loss (JSON lines), and SIGTERM then --resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli as run
from tests.conftest import write_tiny_recipe

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path, tiny_model, tiny_dataset, monkeypatch):
    write_tiny_recipe(tmp_path, tiny_model, f"{tiny_dataset}#10")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("swiftkit.memory.hardware.detect_gpus", lambda: [])
    return tmp_path


# Nine training rows, one epoch, evaluated and saved only at the end: short runs.
SMALL = ("num_train_epochs=1", "eval_steps=100", "save_steps=100")


@pytest.fixture
def one_thread():
    """In-process training as the recipe's OMP_NUM_THREADS: 1 would have it (torch is already
    imported here, so the variable alone does nothing; see conftest.sft_in_process)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_dry_run_plans_every_variant_in_one_table(project, capsys):
    argv = ["sweep", "tiny", "gradient_accumulation_steps=2,4", "--lr-scale", "linear",
            "--dry-run"]  # fmt: skip
    code, out, _ = run(argv, capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split() == ["variant", "state", "effective", "batch", "updates", "lr",
                                "peak", "memory", "verdict", "time"]  # fmt: skip
    # #10 samples 10 rows, max(int(10 x 0.1), 1) = 1 for validation: 9 to train, ceil(9 / 2) = 5
    # and ceil(9 / 4) = 3 updates per epoch, x 3 epochs; lr 5e-3 tuned for 4, linear: 2.5e-3.
    assert lines[2].split()[:5] == ["gradient_accumulation_steps=2", "start", "1x2x1=2", "15",
                                    "0.0025"]  # fmt: skip
    assert lines[3].split()[:5] == ["gradient_accumulation_steps=4", "start", "1x4x1=4", "9",
                                    "0.005"]  # fmt: skip
    assert not (project / "output").exists()  # nothing written by a dry run


def test_refused_before_training_without_validation_or_with_a_bad_variant(project, capsys):
    code, _, err = run(["sweep", "tiny", "gradient_accumulation_steps=2,4",
                        "split_dataset_ratio=0"], capsys)  # fmt: skip
    assert code == 2
    assert (
        "  - gradient_accumulation_steps=2: no validation split, so no eval_loss to compare. Set "
        "split_dataset_ratio=0.1 (or val_dataset=FILE) in the recipe or on the command line.\n"
    ) in err
    assert "2 problems found; nothing was trained:" in err
    code, _, err = run(["sweep", "tiny", "lora_rank=8,abc"], capsys)
    assert code == 2
    assert "  - lora_rank=abc: command line (lora_rank=...): lora_rank " in err
    assert not any((project / "output").rglob("v*-*"))


@pytest.mark.slow
def test_real_sweep_trains_each_variant_and_ranks_by_eval_loss(project, capsys, one_thread):
    argv = ["sweep", "tiny", "gradient_accumulation_steps=1,2", *SMALL, "--json"]
    code, out, _ = run(argv, capsys)
    assert code == 0
    plans, comparison = (json.loads(line) for line in out.splitlines())
    assert plans["event"] == "plans" and len(plans["variants"]) == 2
    assert [v["plan"]["max_steps"] for v in plans["variants"]] == [9, 5]  # 9 training rows
    runs = comparison["runs"]
    assert comparison["ranked_by"] == "best_eval_loss" and len(runs) == 2
    losses = [r["best_eval_loss"] for r in runs]
    assert all(isinstance(x, float) for x in losses) and losses == sorted(losses)
    assert {r["run"].split("/")[0] for r in runs} == {
        "gradient_accumulation_steps=1", "gradient_accumulation_steps=2"}  # fmt: skip
    assert all(r["state"] == "finished" for r in runs)
    assert Path(comparison["png"]).is_file()
    # The finished variants calibrate the next plan's time: the user's own runs.
    code, out, _ = run(["plan", "tiny", "--json"], capsys)
    time_block = json.loads(out)["time"]
    assert time_block["basis"] == "own_runs" and len(time_block["calibrated_from"]) == 2


@pytest.mark.slow
def test_sigterm_stops_the_running_variant_and_resume_finishes_the_sweep(
    project, capsys, one_thread
):
    words = ["gradient_accumulation_steps=1,2", "num_train_epochs=3", "logging_steps=1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "swiftkit", "sweep", "tiny", *words]
    proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    first = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        logs = list((project / "output").glob("tiny_demo/sweep-*/*=1/v*/logging.jsonl"))
        if logs and logs[0].read_text().count('"loss"') >= 3:
            first = logs[0].parent
            break
        time.sleep(0.2)
    assert first is not None, "the first variant never logged"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-3000:]
    assert (
        "resume the sweep with: python -m swiftkit sweep tiny gradient_accumulation_steps=1,2 "
        "num_train_epochs=3 logging_steps=1 --lr-scale none --resume\n"
    ) in err
    assert not list(first.parent.parent.glob("*=2/v*"))  # the second variant never started

    code, out, err = run(["sweep", "tiny", *words, "--resume"], capsys)  # in-process
    assert code == 0, err[-3000:]
    assert "[1/2] resuming gradient_accumulation_steps=1" in err
    lines = out.splitlines()
    ranked = lines[lines.index("ranked by best eval_loss (2 runs):") + 1 :][:2]
    rows = [line.split() for line in ranked]  # "1. NAME best eval_loss X (finished)"
    assert [r[0] for r in rows] == ["1.", "2."] and all(r[-1] == "(finished)" for r in rows)
    assert float(rows[0][4]) <= float(rows[1][4])  # both runs' eval_loss, best first
    assert sorted(r[1] for r in rows) == [
        "gradient_accumulation_steps=1", "gradient_accumulation_steps=2"]  # fmt: skip
    header = lines[lines.index(ranked[-1]) + 1].split()
    assert header[:6] == ["run", "state", "effective", "batch", "lr", "steps"]  # compare's table
    runs = list(first.parent.glob("v*"))
    assert runs == [first]  # resumed in place
    rows = [json.loads(line) for line in (first / "logging.jsonl").read_text().splitlines()]
    assert sum("train_runtime" in r for r in rows) == 2  # stopped, then finished
