"""`swiftkit status` and `swiftkit compare`, through cli.main, on copies of real tiny runs;
the slow test trains two tiny runs with different accumulation first."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from swiftkit import cli
from swiftkit.watch.runstate import write_exit, write_pid

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs"
GA4 = FIXTURES / "tiny_ga4" / "v0-20261128-081005"
GA1 = FIXTURES / "tiny_ga1" / "v0-20261128-081118"
NOISY = FIXTURES / "tiny_full_noisy" / "v0-20261128-082156"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def copy_run(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "output" / src.parent.name / src.name
    shutil.copytree(src, dst)
    return dst


def rows(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "logging.jsonl").read_text().splitlines()]


def test_status_plain_text(tmp_path, capsys):
    run_dir = copy_run(GA4, tmp_path)
    assert cli.main(["status", str(run_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:11] == [
        f"run:           {run_dir}",
        "state:         finished",
        "step:          36/36 (100%), epoch 3.00",
        "time:          59s wall time, finished (1.65 s/step)",
        "learning rate: 0 (peak 0.005)",
        "loss:          7.1764 latest, 7.1759 smoothed, best 7.1718 at step 35",
        "eval_loss:     7.1416 at step 36, best 7.1416 at step 36",
        "peak memory:   not logged (swift logs memory(GiB) on a GPU only); plan 1.12 GiB",
        "checkpoints:   checkpoint-30, checkpoint-36 (best: checkpoint-36, eval_loss 7.1416)",
        "stability:     roughness 0.000 over the last 20 logs, worst 0.004 at step 8 "
        "(ok: above 0.10 is noisy)",
        "warnings:",
    ]
    assert "loss (· logged, • smoothed, E eval):" in out
    png = run_dir / "swiftkit" / "loss.png"
    assert out[-1] == f"loss curve: {png}"
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_status_json_matches_logging_jsonl(tmp_path, capsys):
    run_dir = copy_run(NOISY, tmp_path)
    png = tmp_path / "elsewhere" / "noisy.png"
    assert cli.main(["status", str(run_dir), "--json", "--png", str(png)]) == 0
    s = json.loads(capsys.readouterr().out)
    log = rows(run_dir)
    train = [r for r in log if "loss" in r and "global_step/max_steps" in r]
    evals = [r for r in log if "eval_loss" in r]
    assert s["state"] == "finished"
    assert (s["global_step"], s["max_steps"]) == (90, 90)
    assert s["loss"] == train[-1]["loss"]
    assert s["best_loss"] == min(r["loss"] for r in train)
    assert s["learning_rate"] == train[-1]["learning_rate"]
    assert s["eval_loss"] == evals[-1]["eval_loss"]
    assert s["best_eval_loss"] == min(r["eval_loss"] for r in evals)
    assert s["elapsed_s"] == next(r for r in log if "train_runtime" in r)["train_runtime"]
    assert s["checkpoints"] == ["checkpoint-80", "checkpoint-90"]
    assert s["stability"]["high"] is True
    assert len(s["warnings"]) == 2
    assert s["png"] == str(png)
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert not (run_dir / "swiftkit" / "loss.png").exists()


def test_status_of_a_recipe_output_root_takes_the_newest_run(tmp_path, capsys, monkeypatch):
    copy_run(GA1, tmp_path)
    newer = tmp_path / "output" / "tiny_ga1" / "v1-20261128-091118"
    shutil.copytree(GA4, newer)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["status", "output/tiny_ga1", "--no-png"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"run:           {tmp_path / 'output/tiny_ga1/v1-20261128-091118'}\n")
    assert "loss curve:" not in out
    assert cli.main(["status", "--json", "--no-png"]) == 0  # newest run under ./output
    assert json.loads(capsys.readouterr().out)["run_dir"] == str(newer)


def test_status_missing_run_dir_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["status", "output/x/v9-20260101-000000"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "output/x/v9-20260101-000000: no such run directory. "
        "Name a run directory, or a recipe for its newest run.\n"
    )


def test_status_watch_refreshes_until_the_run_ends(tmp_path, capsys):
    run_dir = copy_run(GA4, tmp_path)
    write_pid(run_dir)  # this process: alive, so the run reads as running
    timer = threading.Timer(0.5, write_exit, (run_dir, 0, "finished"))
    timer.start()
    try:
        code = cli.main(["status", str(run_dir), "--watch", "0.1", "--json", "--no-png"])
    finally:
        timer.cancel()
    assert code == 0
    states = [json.loads(line)["state"] for line in capsys.readouterr().out.splitlines()]
    assert states[0] == "running" and states[-1] == "finished"
    assert len(states) >= 2


def test_compare_table_and_plot(tmp_path, capsys, monkeypatch):
    a, b = copy_run(GA1, tmp_path), copy_run(GA4, tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "run                          state     effective batch  lr     steps  final loss  "
        "best loss  eval loss  peak mem  wall time",
        "tiny_ga1/v0-20261128-081118  finished  1                0.005  90/90  7.0847      "
        "7.0789     7.0559     -         1m 13s",
        "tiny_ga4/v0-20261128-081005  finished  4                0.005  36/36  7.1764      "
        "7.1718     7.1416     -         59s",
        "plot: output/compare.png",  # the runs' common folder, shown from the working directory
    ]
    assert (tmp_path / "output" / "compare.png").read_bytes()[:8] == PNG_MAGIC


def test_compare_json_matches_logging_jsonl(tmp_path, capsys):
    png = tmp_path / "c.png"
    assert cli.main(["compare", str(GA1), str(GA4), "--json", "--png", str(png)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["png"] == str(png)
    for row, run_dir in zip(got["runs"], (GA1, GA4), strict=True):
        train = [r for r in rows(run_dir) if "loss" in r and "global_step/max_steps" in r]
        assert row["final_loss"] == train[-1]["loss"]
        assert row["best_loss"] == min(r["loss"] for r in train)
    assert [r["effective_batch_size"] for r in got["runs"]] == [1, 4]


@pytest.mark.slow
def test_real_runs_with_two_accumulation_settings(run_sft, tmp_path, capsys, monkeypatch):
    common = ("--num_train_epochs", "1", "--split_dataset_ratio", "0.2", "--eval_steps", "4",
              "--save_steps", "4", "--learning_rate", "5e-3", "--warmup_ratio", "0.1")  # fmt: skip
    ga1 = run_sft(
        *common, "--gradient_accumulation_steps", "1", "--output_dir", str(tmp_path / "g1")
    )
    ga2 = run_sft(
        *common, "--gradient_accumulation_steps", "2", "--output_dir", str(tmp_path / "g2")
    )
    capsys.readouterr()  # swift's own log
    for run_dir, steps in ((ga1, 16), (ga2, 8)):  # 20 rows -> 16 train
        assert cli.main(["status", str(run_dir), "--json"]) == 0
        s = json.loads(capsys.readouterr().out)
        train = [r for r in rows(run_dir) if "loss" in r and "global_step/max_steps" in r]
        assert (s["state"], s["global_step"], s["max_steps"]) == ("finished", steps, steps)
        assert s["loss"] == train[-1]["loss"]
        assert s["eval_loss"] is not None
        assert (run_dir / "swiftkit" / "loss.png").read_bytes()[:8] == PNG_MAGIC
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compare", str(ga1), str(ga2)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["run", "state", "effective", "batch"]
    assert [line.split()[2] for line in out[1:3]] == ["1", "2"]
    assert (tmp_path / "compare.png").read_bytes()[:8] == PNG_MAGIC


def test_compare_writes_its_plot_beside_the_runs(tmp_path, capsys, monkeypatch):
    """Not into the working directory: into the folder that holds every run compared."""
    out_dir = tmp_path / "output"
    a, b = copy_run(GA1, tmp_path), copy_run(GA4, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert cli.main(["compare", str(a), str(b)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"plot: {out_dir / 'compare.png'}"
    assert (out_dir / "compare.png").read_bytes()[:8] == PNG_MAGIC
    assert not (elsewhere / "compare.png").exists()
    assert cli.main(["compare", str(a), "--json"]) == 0  # one run: beside it, not inside it
    assert json.loads(capsys.readouterr().out)["png"] == str(a.parent / "compare.png")
