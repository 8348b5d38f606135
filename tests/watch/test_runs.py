"""swiftkit.watch.runs: reading real run directories (copies of tiny CPU runs), telling their
state."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swiftkit.errors import RunDirError
from swiftkit.watch import runs
from swiftkit.watch.runlog import parse_duration
from swiftkit.watch.runs import find_run, read_run
from swiftkit.watch.runstate import FAILED, FINISHED, INTERRUPTED, RUNNING, write_exit, write_pid

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs"
GA4 = FIXTURES / "tiny_ga4" / "v0-20261128-081005"
GA1 = FIXTURES / "tiny_ga1" / "v0-20261128-081118"
NOISY = FIXTURES / "tiny_full_noisy" / "v0-20261128-082156"


def log_rows(run_dir: Path) -> list[dict]:
    lines = (run_dir / "logging.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def copy_run(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.parent.name / src.name
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("run_dir", [GA4, GA1, NOISY], ids=lambda p: p.parent.name)
def test_read_run_matches_logging_jsonl(run_dir):
    rows = log_rows(run_dir)
    train = [r for r in rows if "loss" in r and "global_step/max_steps" in r]
    evals = [r for r in rows if "eval_loss" in r]
    summary = next(r for r in rows if "train_runtime" in r)
    run = read_run(run_dir)
    assert [p.loss for p in run.train] == [r["loss"] for r in train]
    assert [p.learning_rate for p in run.train] == [r["learning_rate"] for r in train]
    assert [p.step for p in run.train] == [
        int(r["global_step/max_steps"].split("/")[0]) for r in train
    ]
    assert [(e.step, e.eval_loss) for e in run.evals] == [
        (int(r["global_step/max_steps"].split("/")[0]), r["eval_loss"]) for r in evals
    ]
    step, max_steps = map(int, rows[-2]["global_step/max_steps"].split("/"))
    assert (run.global_step, run.max_steps) == (step, max_steps)
    assert run.train_runtime_s == summary["train_runtime"]
    assert run.mean_train_loss == summary["train_loss"]
    assert run.epoch == summary["epoch"]
    assert run.peak_memory_gib is None  # CPU runs: swift logs memory(GiB) on a GPU only
    last = max(run_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    state = json.loads((last / "trainer_state.json").read_text())
    assert run.best_metric == state["best_metric"]
    assert run.best_checkpoint == run_dir / Path(state["best_model_checkpoint"]).name


def test_read_run_ga4_details():
    run = read_run(GA4)
    assert [c.step for c in run.checkpoints] == [30, 36]
    assert run.best_checkpoint == GA4 / "checkpoint-36"
    assert run.effective_batch_size == 4
    assert run.accumulation_steps == 4
    assert run.learning_rate == 0.005
    assert run.warmup_steps == 0
    assert run.max_grad_norm == 1.0
    assert run.planned_max_steps == 36
    assert run.planned_peak_reserved_bytes == 1_200_000_000
    assert run.elapsed_s == 59
    assert run.name == "tiny_ga4/v0-20261128-081005"
    assert run.state == runs.RunState(FINISHED, "finished", 0)


def test_warmup_ratio_resolved_against_max_steps():
    run = read_run(NOISY)  # warmup_ratio 0.3 of 90 steps
    assert run.warmup_steps == 27


@pytest.mark.parametrize(
    ("args", "max_steps", "expected"),
    [
        ({"warmup_steps": 5, "warmup_ratio": 0.0}, 100, 5),
        ({"warmup_steps": 0.05}, 90, 5),  # transformers 5: below 1 is a ratio
        ({"warmup_steps": 0, "warmup_ratio": 0.1}, 36, 4),
        ({"warmup_steps": 0, "warmup_ratio": 0.0}, 36, 0),
        ({}, 36, None),
    ],
)
def test_warmup_steps(args, max_steps, expected):
    assert runs._warmup_steps(args, max_steps) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("59s", 59), ("1m 26s", 86), ("2h 0m 5s", 7205), ("1d 2h 3m 4s", 93784), ("", None)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_state_from_exit_record(tmp_path):
    run_dir = copy_run(GA4, tmp_path)
    write_exit(run_dir, 1, "training failed: RuntimeError: CUDA out of memory")
    assert read_run(run_dir).state == runs.RunState(
        FAILED, "training failed: RuntimeError: CUDA out of memory", 1
    )
    write_exit(run_dir, 130, "interrupted (Ctrl-C)")
    assert read_run(run_dir).state.state == INTERRUPTED
    record = json.loads((run_dir / "swiftkit" / "exit.json").read_text())
    assert record["exit_code"] == 130
    assert record["reason"] == "interrupted (Ctrl-C)"


def test_write_pid_then_exit(tmp_path):
    run_dir = copy_run(GA4, tmp_path)
    pid_file = write_pid(run_dir)
    assert not (run_dir / "swiftkit" / "exit.json").exists()  # an older record is cleared
    assert pid_file.read_text().split()[0] == str(os.getpid())
    state = read_run(run_dir).state
    assert state == runs.RunState(RUNNING, f"process {os.getpid()} is alive")
    write_exit(run_dir, 0, "finished")
    assert not pid_file.exists()
    assert read_run(run_dir).state.state == FINISHED


def test_dead_pid_without_exit_record_is_interrupted(tmp_path):
    run_dir = copy_run(GA4, tmp_path)
    (run_dir / "swiftkit" / "exit.json").unlink()
    _truncate_log(run_dir, 12)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    write_pid(run_dir, proc.pid)
    state = read_run(run_dir).state
    assert state.state == INTERRUPTED
    assert state.reason == (
        f"process {proc.pid} ended at step 11 of 36 without recording an exit (killed?)"
    )


def _truncate_log(run_dir: Path, lines: int) -> None:
    path = run_dir / "logging.jsonl"
    kept = path.read_text(encoding="utf-8").splitlines()[:lines]
    # A half-written line, as a live run may leave for a moment.
    path.write_text("\n".join(kept) + '\n{"loss": 7.1, "grad_no', encoding="utf-8")


def test_no_markers_recent_files_is_running(tmp_path):
    run_dir = copy_run(GA4, tmp_path)
    (run_dir / "swiftkit" / "exit.json").unlink()
    _truncate_log(run_dir, 12)
    run = read_run(run_dir)
    assert run.state.state == RUNNING
    assert len(run.train) == 11  # 12 rows: 11 train, 1 eval; the partial line skipped
    assert (run.global_step, run.max_steps) == (11, 36)
    assert run.train_runtime_s is None


def test_no_markers_stale_files_is_interrupted(tmp_path):
    run_dir = copy_run(GA4, tmp_path)
    (run_dir / "swiftkit" / "exit.json").unlink()
    _truncate_log(run_dir, 12)
    hour_later = time.time() + 3600
    state = read_run(run_dir, now=hour_later).state
    assert state == runs.RunState(
        INTERRUPTED, "nothing written for 60 min at step 11 of 36 and no end logged"
    )


def test_no_markers_finished_log_is_finished(tmp_path):
    run_dir = copy_run(GA4, tmp_path)
    (run_dir / "swiftkit" / "exit.json").unlink()
    state = read_run(run_dir, now=time.time() + 86400).state
    assert state == runs.RunState(FINISHED, "swift logged the end of training")


def test_result_row_without_train_runtime_is_failed(tmp_path):
    """swift writes its result row in a finally block, so also after an exception."""
    run_dir = copy_run(GA4, tmp_path)
    (run_dir / "swiftkit" / "exit.json").unlink()
    rows = log_rows(run_dir)
    kept = [r for r in rows[:12]] + [rows[-1]]
    (run_dir / "logging.jsonl").write_text("\n".join(json.dumps(r) for r in kept) + "\n")
    state = read_run(run_dir).state
    assert state == runs.RunState(
        FAILED, "swift stopped at step 11 of 36 before the end of training (an error?)"
    )


def test_resumed_rows_replace_older_ones(tmp_path):
    run_dir = copy_run(GA4, tmp_path)
    rows = log_rows(run_dir)[:12]  # steps 1-11 and the eval at 10
    again = [dict(r) for r in rows if "loss" in r and r["global_step/max_steps"] in ("10/36",)]
    again[0]["loss"] = 1.0
    text = "\n".join(json.dumps(r) for r in [*rows, *again]) + "\n"
    (run_dir / "logging.jsonl").write_text(text)
    run = read_run(run_dir)
    assert [p.step for p in run.train] == list(range(1, 11))
    assert run.train[-1].loss == 1.0
    assert run.evals == ()  # the eval at step 10 came before the rerun of step 10


def test_missing_run_dir(tmp_path):
    with pytest.raises(RunDirError) as e:
        find_run("output/nope/v3-20260101-000000", base_dir=tmp_path)
    assert str(e.value) == (
        "output/nope/v3-20260101-000000: no such run directory. "
        "Name a run directory, or a recipe for its newest run."
    )
    with pytest.raises(RunDirError) as e:
        read_run(tmp_path / "gone")
    assert str(e.value) == (
        f"{tmp_path / 'gone'}: no such run directory. Pass a directory under a recipe's output_dir."
    )


def test_directory_that_is_not_a_run(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDirError) as e:
        find_run("empty", base_dir=tmp_path)
    assert str(e.value) == (
        "empty: not a run directory (no logging.jsonl, args.json or swiftkit/) and holds "
        "no v* runs. Pass a directory made by swift sft or swiftkit train."
    )


def test_find_run_picks_the_newest_version(tmp_path):
    root = tmp_path / "output" / "demo"
    for name in ("v0-20261128-081005", "v2-20261128-091005", "v10-20261128-101005"):
        (root / name).mkdir(parents=True)
    assert find_run("output/demo", base_dir=tmp_path) == root / "v10-20261128-101005"
    assert find_run(str(root / "v2-20261128-091005"), base_dir=tmp_path) == (
        root / "v2-20261128-091005"
    )
    assert find_run(None, base_dir=tmp_path) == root / "v10-20261128-101005"


def test_find_run_by_recipe(tmp_path):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "demo.yaml").write_text("model: m\noutput_dir: out/demo\n")
    with pytest.raises(RunDirError) as e:
        find_run("demo", base_dir=tmp_path)
    recipe = (tmp_path / "recipes" / "demo.yaml").resolve()
    assert str(e.value) == (
        f"{recipe}: no runs under {tmp_path / 'out' / 'demo'} yet. "
        "Start one with python -m swiftkit train demo."
    )
    run_dir = tmp_path / "out" / "demo" / "v0-20261128-081005"
    run_dir.mkdir(parents=True)
    assert find_run("demo", base_dir=tmp_path) == run_dir


def test_no_runs_at_all(tmp_path):
    with pytest.raises(RunDirError) as e:
        find_run(None, base_dir=tmp_path)
    assert str(e.value) == (
        f"{tmp_path / 'output'}: no runs found. Name a run directory or a recipe: "
        "python -m swiftkit status RECIPE."
    )
