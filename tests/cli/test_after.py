"""The demo end to end, then infer, export --merge-lora and check on what it trained: the real
ms-swift on CPU, the demo's own recipe, model and held-out questions."""

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from swiftkit.cli.main import main
from swiftkit.tiny import DEMO_TINY_DIR
from tests.conftest import run_cli as run

REPO = Path(__file__).resolve().parents[2]
NAMES = ("tiny-swift", "小雨燕")


@pytest.fixture(scope="module")
def demo_run(tiny_demo_model, tmp_path_factory):
    """`swiftkit demo` in a fresh project holding the shipped recipe and datasets."""
    project = tmp_path_factory.mktemp("project")
    shutil.copytree(REPO / "recipes", project / "recipes")
    shutil.copytree(REPO / "datasets", project / "datasets")
    (project / DEMO_TINY_DIR).parent.mkdir(parents=True)
    (project / DEMO_TINY_DIR).symlink_to(tiny_demo_model, target_is_directory=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "swiftkit", "demo"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = sorted((project / "output" / "tiny_demo").glob("v*-*"))
    assert len(runs) == 1, runs
    return project, runs[0], done.stdout


@pytest.mark.slow
def test_demo_learns_its_name_on_held_out_questions(demo_run):
    _, run_dir, stdout = demo_run
    check = json.loads((run_dir / "swiftkit" / "check.json").read_text(encoding="utf-8"))
    # Eight held-out questions (four English, four Chinese), none in training: at least 4 of 5.
    assert check["questions"] == 8 and check["source"].startswith("validation split")
    assert check["passed"] and check["name_hits"] >= 0.8 * check["questions"]
    assert {a["query"] for a in check["answers"]} & {"请问你叫什么？", "Who built you?"}
    assert "identity check passed: " in stdout
    # The loss it started and ended at, and three answers, printed.
    line = next(x for x in stdout.splitlines() if x.startswith("  loss: started at "))
    start, end = float(line.split()[3]), float(line.split("ended at ")[1].split()[0])
    assert end < start / 2
    shown = [x for x in stdout.split("demo:\n")[1].splitlines() if x.startswith("  > ")]
    assert len(shown) == 3


@pytest.mark.slow
def test_infer_then_merge_gives_the_same_greedy_answer(demo_run, capsys, monkeypatch):
    project, run_dir, _ = demo_run
    monkeypatch.chdir(project)
    rel = str(run_dir.relative_to(project))
    code, out, err = run(["infer", rel, "--query", "Who are you?", "--json"], capsys)
    assert code == 0, err
    answer = json.loads(out)
    assert answer["query"] == "Who are you?" and "tiny-swift" in answer["response"]

    code, out, err = run(["export", rel, "--merge-lora", "--json"], capsys)
    assert code == 0, err
    merged = Path(json.loads(out)["out_dir"])
    assert merged.parent == run_dir and merged.name.endswith("-merged")
    assert not (merged / "adapter_config.json").exists()
    prov = json.loads((merged / "swiftkit-export.json").read_text(encoding="utf-8"))
    assert prov["merged_lora"] and prov["run_dir"] == str(run_dir)
    assert "model: .cache/tiny-demo" in prov["recipe_yaml"]

    code, out, err = run(["infer", str(merged), "--query", "Who are you?", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out) == answer  # no adapter, the same greedy answer

    before = sorted(p.name for p in merged.iterdir())
    code, _, err = run(["export", rel, "--merge-lora"], capsys)
    assert code == 2
    assert f"{merged}: already exists, and swiftkit never writes over a folder." in err
    assert sorted(p.name for p in merged.iterdir()) == before


@pytest.mark.slow
def test_the_base_model_does_not_know_the_name(demo_run, tiny_demo_model, capsys, monkeypatch):
    """The check is not passed by anything but training: the pretrained base says Qwen."""
    project, _, _ = demo_run
    monkeypatch.chdir(project)
    argv = ["check", str(tiny_demo_model), "--name", "tiny-swift", "--name", "小雨燕", "--json"]
    code, out, err = run([*argv, "--strict"], capsys)
    assert code == 1, err
    check = json.loads(out)
    assert check["name_hits"] == 0 and not check["passed"]
    assert check["source"].startswith("built-in questions")
    assert any("Qwen" in a["response"] or "通义千问" in a["response"] for a in check["answers"])


@pytest.mark.parametrize("command", ["infer", "export", "check"])
def test_commands_are_documented_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    help_text = capsys.readouterr().out
    assert f"  swiftkit {command} output/tiny_demo/v0-20261130-071500" in help_text
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"| `python -m swiftkit {command} RUN_OR_RECIPE [--checkpoint " in readme


def test_bad_checkpoint_and_missing_run_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["infer", "output/none/v0-20261130-000000", "--query", "q"], capsys)
    assert code == 2
    assert err == (
        "output/none/v0-20261130-000000: no such run directory. Name a run directory, or a "
        "recipe for its newest run.\n"
    )
    run_dir = tmp_path / "output" / "r" / "v0-20261130-000000"
    (run_dir / "checkpoint-5").mkdir(parents=True)
    (run_dir / "checkpoint-5" / "adapter_config.json").write_text("{}")
    code, _, err = run(["export", str(run_dir), "--checkpoint", "4"], capsys)
    assert code == 2
    assert err.endswith(f"{run_dir}: no checkpoint-4 (got '4'). Saved steps: 5.\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("\n  \n"))  # not a terminal, no questions
    code, out, err = run(["infer", str(run_dir), "--json"], capsys)
    assert (code, out) == (2, "")
    assert err.endswith("no questions: stdin held none. Pass --query TEXT, or lines on stdin.\n")
