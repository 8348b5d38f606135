"""Which checkpoint infer/export/check load, and how swift is told to load it."""

import json
import shutil
from pathlib import Path

import pytest

from swiftkit.after.target import base_model, pick_checkpoint, resolve_target
from swiftkit.errors import RunDirError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RUN = FIXTURES / "runs" / "tiny_ga4" / "v0-20261128-081005"  # checkpoints 30, 36; best 36


def as_lora(ckpt: Path, model: str) -> None:
    (ckpt / "adapter_config.json").write_text("{}", encoding="utf-8")
    args = {"model": model, "template": "qwen2_5", "system": "You are a helpful assistant."}
    (ckpt / "args.json").write_text(json.dumps(args), encoding="utf-8")


@pytest.fixture
def project(tmp_path):
    """A project with a local base model and a copy of a finished LoRA run under output/."""
    (tmp_path / "models" / "base").mkdir(parents=True)
    (tmp_path / "models" / "base" / "config.json").write_text("{}", encoding="utf-8")
    run = tmp_path / "output" / "tiny_ga4" / RUN.name
    shutil.copytree(RUN, run)
    for ckpt in run.glob("checkpoint-*"):
        as_lora(ckpt, "models/base")
    return tmp_path, run


def test_best_is_the_trainers_best_checkpoint_read_by_name(project):
    _, run = project
    # trainer_state.json names /tmp/swk/...: the run was moved, the name still finds it.
    assert pick_checkpoint(run, "best") == (run / "checkpoint-36", "checkpoint-36 (best by "
                                            "eval_loss 7.142)")  # fmt: skip
    assert pick_checkpoint(run, "last")[0] == run / "checkpoint-36"
    assert pick_checkpoint(run, "30") == (run / "checkpoint-30", "checkpoint-30")


def test_best_falls_back_to_the_last_without_an_evaluation(project):
    _, run = project
    for ckpt in run.glob("checkpoint-*"):
        state = json.loads((ckpt / "trainer_state.json").read_text())
        state["best_model_checkpoint"] = None
        (ckpt / "trainer_state.json").write_text(json.dumps(state))
    log = run / "logging.jsonl"  # swift's final result row names it too
    rows = [json.loads(x) for x in log.read_text().splitlines()]
    log.write_text("\n".join(json.dumps({**r, "best_model_checkpoint": None}) for r in rows))
    assert pick_checkpoint(run, "best") == (
        run / "checkpoint-36",
        "checkpoint-36 (the last: no eval_loss to pick by)",
    )


def test_bad_checkpoint_choices_name_what_exists(project, tmp_path):
    _, run = project
    with pytest.raises(RunDirError) as e:
        pick_checkpoint(run, "7")
    assert str(e.value) == f"{run}: no checkpoint-7 (got '7'). Saved steps: 30, 36."
    with pytest.raises(RunDirError) as e:
        pick_checkpoint(run, "newest")
    assert str(e.value) == (
        "--checkpoint must be best, last or a step number (got 'newest'). Steps: 30, 36."
    )
    empty = tmp_path / "output" / "x" / "v0-20261130-000000"
    empty.mkdir(parents=True)
    with pytest.raises(RunDirError, match="no checkpoint-N folder yet"):
        pick_checkpoint(empty, "best")


def test_a_lora_run_loads_the_base_from_the_project_and_the_adapter(project):
    root, run = project
    target = resolve_target(str(run), base_dir=root / "elsewhere")  # any working directory
    assert target.swift_args() == [
        "--model",
        str(root / "models" / "base"),
        "--adapters",
        str(run / "checkpoint-36"),
    ]
    assert target.run_dir == run and target.args["template"] == "qwen2_5"
    # An output root names its newest finished run.
    assert resolve_target("output/tiny_ga4", base_dir=root).run_dir == run


def test_model_folders_load_as_models_even_inside_a_run(project):
    root, run = project
    merged = run / "checkpoint-36-merged"
    merged.mkdir()
    (merged / "config.json").write_text("{}", encoding="utf-8")
    (merged / "args.json").write_text("{}", encoding="utf-8")  # swift copies it there
    target = resolve_target(str(merged), base_dir=root)
    assert target.swift_args() == ["--model", str(merged)]
    assert target.adapters == () and target.label == "checkpoint-36-merged"
    ckpt = resolve_target(str(run / "checkpoint-30"), base_dir=root)
    assert ckpt.adapters == (run / "checkpoint-30",)


def test_base_model_kept_as_given_when_not_a_local_folder(tmp_path):
    args = {"model": "Qwen/Qwen2.5-7B-Instruct"}
    assert base_model(args, None, tmp_path) == "Qwen/Qwen2.5-7B-Instruct"  # a hub id
    assert base_model({"model": "/abs/model"}, None, tmp_path) == "/abs/model"
    assert base_model({}, None, tmp_path) is None
