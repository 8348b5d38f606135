"""`swiftkit sbatch`: checks the recipe for the allocation asked for, writes the script (never over
a file), prints its path, and says when the recipe's env: changes the layout."""

import json
import subprocess
from pathlib import Path

from tests.conftest import run_cli as run

REPO = Path(__file__).resolve().parents[2]


def test_writes_the_script_and_prints_its_path(in_repo, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NODE_RANK", "3")  # exported in the submitting shell: the job drops it
    target = tmp_path / "q7.sbatch"
    argv = ["sbatch", "qwen7b_selfcog", "--nodes", "2", "--gpus-per-node", "8"]
    argv += ["--time", "1-00:00:00", "--out", str(target), "num_train_epochs=3"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert out == f"{target}\n"
    text = target.read_text()
    assert "#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=1\n#SBATCH --gpus-per-node=8\n" in text
    assert f"RECIPE=({REPO}/recipes/qwen7b_selfcog.yaml num_train_epochs=3)\n" in text
    assert subprocess.run(["bash", "-n", str(target)]).returncode == 0
    assert "qwen7b_selfcog: 2 nodes, world size 16, 3 optimizer updates" in err

    code, out, err = run(argv, capsys)  # a second time: the file is there
    assert code == 2
    assert out == ""
    assert f"{target} already exists: swiftkit never writes over a file." in err


def test_json_summary(in_repo, capsys, tmp_path):
    target = tmp_path / "q7.sbatch"
    argv = ["sbatch", "qwen7b_selfcog", "--nodes", "4", "--gpus-per-node", "8", "--json"]
    code, out, _ = run([*argv, "--out", str(target)], capsys)
    assert code == 0
    data = json.loads(out)
    assert {k: data[k] for k in ("path", "nodes", "gpus_per_node", "world_size")} == {
        "path": str(target),
        "nodes": 4,
        "gpus_per_node": 8,
        "world_size": 32,
    }
    assert data["effective_batch_size"] == 1 * 16 * 32


def test_shows_the_findings_plan_shows_for_the_same_layout(in_repo, capsys, tmp_path, monkeypatch):
    """The learning-rate note and the plan's notes and warnings, as `plan` gives them for the
    same 2 x 8 layout."""
    argv = ["sbatch", "qwen7b_selfcog", "--nodes", "2", "--gpus-per-node", "8"]
    code, _, err = run([*argv, "--out", str(tmp_path / "a.sbatch")], capsys)
    assert code == 0
    lr = "scale learning_rate 0.0001 by sqrt(256/16) -> 0.0004, or linearly -> 0.0016"
    head = "note: effective batch 256 differs from 16 (ms-swift's default effective batch)"
    assert f"{head}: {lr}" in err
    code, out, _ = run([*argv, "--out", str(tmp_path / "b.sbatch"), "--json"], capsys)
    data = json.loads(out)
    for k, v in {"NNODES": "2", "NPROC_PER_NODE": "8", "MASTER_ADDR": "node1",
                 "SWIFTKIT_RUN_ID": "r"}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    code, out, _ = run(["plan", "qwen7b_selfcog", "--json"], capsys)
    plan = json.loads(out)
    assert data["notes"] == [plan["lr_note"], *plan["notes"]]
    assert data["warnings"] == plan["warnings"]


def test_out_in_a_folder_that_does_not_exist_yet(in_repo, capsys, tmp_path):
    """`--help`'s own example, `--out jobs/q7.sbatch`, with no jobs/ folder."""
    target = tmp_path / "jobs" / "q7.sbatch"
    argv = ["sbatch", "qwen7b_selfcog", "--nodes", "2", "--gpus-per-node", "8"]
    code, out, err = run([*argv, "--out", str(target)], capsys)
    assert code == 0, err
    assert out == f"{target}\n" and target.is_file()


def test_a_recipe_with_errors_writes_nothing(in_repo, capsys, tmp_path):
    target = tmp_path / "q7.sbatch"
    argv = ["sbatch", "qwen7b_selfcog", "--nodes", "2", "--gpus-per-node", "8"]
    code, out, err = run([*argv, "--out", str(target), "lora_rnak=8"], capsys)
    assert code == 2
    assert out == ""
    assert "lora_rnak is not a swift sft flag. Did you mean lora_rank?" in err
    assert not target.exists()


def test_the_recipes_env_block_wins_over_the_allocation(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "r.yaml").write_text(
        "model: Qwen/Qwen2.5-0.5B-Instruct\ndataset: AI-ModelScope/alpaca-gpt4-data-en\n"
        "env:\n  NPROC_PER_NODE: 2\n",
        encoding="utf-8",
    )
    code, out, err = run(["sbatch", "r", "--nodes", "2", "--gpus-per-node", "8"], capsys)
    assert code == 0, err
    assert out == f"{tmp_path}/r.sbatch\n"
    assert (
        "warning: the job will run 2 nodes x 2 processes = world size 4, not --nodes 2 x "
        "--gpus-per-node 8: NNODES from SLURM (SLURM_NNODES), NPROC_PER_NODE from recipe env:"
    ) in err
