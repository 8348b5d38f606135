"""swift's own config files as recipes (flat flags plus ENV, YAML or JSON), and recipes written as
swift config files: read back by swiftkit and by swift's own loader (swift/cli/main.py
parse_yaml_args, get_torchrun_args), they mean the same run."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from swiftkit.cli.main import main
from swiftkit.plan.plan import make_plan
from swiftkit.recipe.flags import to_argv
from swiftkit.recipe.recipe import load_recipe
from swiftkit.recipe.swiftconfig import render_swift_config

ENV = {"NPROC_PER_NODE": 2, "MASTER_PORT": 29555, "USE_HF": True, "OMP_NUM_THREADS": 1}
FLAGS = {
    "model": "Qwen/Qwen2.5-7B-Instruct",
    "tuner_type": "lora",
    "dataset": ["data/a.jsonl#20", "swift/self-cognition#500"],
    "model_name": ["小黄", "Xiao Huang"],
    "learning_rate": 1e-4,
    "num_train_epochs": 2,
    "gradient_checkpointing": False,
    "target_modules": "all-linear",
    "deepspeed": {"zero_optimization": {"stage": 2}},
    "gradient_accumulation_steps": 16,
}


def write_config(path, flags=FLAGS, env=ENV):
    config = {**flags, "ENV": env}
    if path.suffix == ".json":
        path.write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["sft.yaml", "sft.yml", "sft.json"])
def test_a_swift_config_file_is_a_recipe(tmp_path, name):
    recipe = load_recipe(str(write_config(tmp_path / name)))
    assert recipe.problems == ()
    # ENV values as swift sets them: str(value), so a YAML/JSON true is "True".
    assert recipe.env == {k: str(v) for k, v in ENV.items()}
    assert recipe.env["USE_HF"] == "True"
    assert recipe.args["dataset"] == FLAGS["dataset"]
    assert recipe.args["deepspeed"] == FLAGS["deepspeed"]
    plan = make_plan(recipe, base_dir=tmp_path, environ={})
    assert plan.world_size == 2  # ENV feeds NPROC_PER_NODE like env: does
    assert plan.schedule is None or plan.schedule.effective_batch_size == 32


def test_an_empty_env_block_is_ignored_as_swift_ignores_it(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: m\ndataset: d.jsonl\nENV:\n", encoding="utf-8")
    assert load_recipe(str(path)).env == {}


def test_env_cannot_be_overridden_from_the_command_line(tmp_path):
    path = write_config(tmp_path / "c.yaml")
    assert load_recipe(str(path), ["ENV={X: 1}"]).problems == (
        "override 'ENV={X: 1}': ENV cannot be overridden from the command line. Edit the recipe "
        "file, or set environment variables directly.",
    )


def test_rendered_config_reads_back_as_the_same_recipe(tmp_path):
    recipe = load_recipe(str(write_config(tmp_path / "c.yaml")), ["hub_token=secret-x"])
    for name in ("out.yaml", "out.json"):
        out = tmp_path / name
        text = render_swift_config(out, recipe.args, recipe.env, source="c.yaml")
        assert "secret-x" not in text  # credentials are left out of a file meant to be kept
        out.write_text(text, encoding="utf-8")
        again = load_recipe(str(out))
        assert again.problems == ()
        assert again.env == recipe.env
        assert {k: v for k, v in again.args.items()} == {
            k: v for k, v in recipe.args.items() if k != "hub_token"
        }
    assert text.startswith("{")  # JSON for .json
    yaml_text = (tmp_path / "out.yaml").read_text(encoding="utf-8")
    assert "# Left out because they hold credentials: hub_token." in yaml_text


def test_dry_run_writes_the_swift_config_and_prints_the_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").mkdir()
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    row = json.dumps({"messages": messages}) + "\n"
    (tmp_path / "a.jsonl").write_text(row * 2, "utf-8")  # a row for each of the 2 processes
    (tmp_path / "recipes" / "r.yaml").write_text(
        "model: m\ndataset: a.jsonl\nnum_train_epochs: 3\nenv:\n  NPROC_PER_NODE: 2\n"
        "swiftkit:\n  lr_tuned_for_batch: 32\n",
        encoding="utf-8",
    )
    assert main(["train", "r", "lora_rank=16", "--dry-run", "--swift-config", "run.yaml"]) == 0
    out, err = capsys.readouterr()
    assert out == "swift sft run.yaml\n"
    # The plan's notes first (as every dry-run shows them), then what was written.
    assert err.startswith("note: effective batch 16 differs from 32 (the recipe's lr_tuned_for")
    assert err.endswith(
        f"wrote the swift config equivalent of {tmp_path}/recipes/r.yaml to run.yaml\n"
    )
    written = yaml.safe_load((tmp_path / "run.yaml").read_text(encoding="utf-8"))
    assert written == {
        "model": "m",
        "dataset": ["a.jsonl"],
        "num_train_epochs": 3,
        "lora_rank": 16,
        "ENV": {"NPROC_PER_NODE": "2"},
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sft.yaml", "sft.json"])
def test_swift_reads_the_file_as_swiftkit_does(tmp_path, monkeypatch, name):
    """swift's own loader on the same file: the same environment, the same torchrun layout and
    the same parsed arguments as swiftkit's recipe, env and argv."""
    path = write_config(tmp_path / name)
    from swift.cli.main import get_torchrun_args, parse_yaml_args

    from swiftkit.recipe import flags_capture
    from swiftkit.run.launch import LaunchSpec, torchrun_command

    parser, _, _ = flags_capture.build_parser()  # swift's own parser, as swift builds it
    # parse_yaml_args writes os.environ: give it a copy, so nothing leaks into later tests.
    environ = {k: v for k, v in os.environ.items() if k not in [*ENV, "SWIFT_CONFIG_FILE"]}
    monkeypatch.setattr(os, "environ", environ)
    argv = [str(path)]
    parse_yaml_args(argv)  # expands the file in place and sets ENV, as `swift sft FILE` does
    recipe = load_recipe(str(path))
    assert {k: os.environ[k] for k in ENV} == recipe.env
    assert get_torchrun_args() == ["--nproc_per_node", "2", "--master_port", "29555"]
    plan = make_plan(recipe, base_dir=tmp_path, environ={})
    spec = LaunchSpec(run_dir=tmp_path, argv=(), env=plan.env)
    launcher = torchrun_command(spec)
    assert launcher[launcher.index("--nproc_per_node") + 1] == "2"
    assert launcher[launcher.index("--master_port") + 1] == "29555"

    swift_ns, swift_rest = parser.parse_known_args(argv)
    kit_ns, kit_rest = parser.parse_known_args(to_argv(recipe.args))
    assert swift_rest == kit_rest == []
    assert vars(swift_ns) == vars(kit_ns)
