"""The command line on the shipped recipes: one-line validate, ls, --json, refusing GPU recipes."""

import json
from pathlib import Path

import pytest

from swiftkit.cli.main import main
from tests.conftest import run_cli as run

REPO = Path(__file__).resolve().parents[2]


def test_validate_ends_in_one_positive_line(in_repo, capsys):
    code, out, _ = run(["validate", "qwen7b_selfcog"], capsys)
    assert code == 0
    assert out == (
        f"{REPO}/recipes/qwen7b_selfcog.yaml: OK (23 flags, 50 training rows, "
        "40 optimizer updates)\n"
    )


def test_ls_lists_model_tuner_and_effective_batch(in_repo, capsys):
    code, out, _ = run(["ls"], capsys)
    assert code == 0
    assert "qwen7b_selfcog  Qwen/Qwen2.5-7B-Instruct  lora  effective batch 1 x 16 x 1 = 16" in out


def test_plan_json_is_one_object(in_repo, capsys):
    code, out, _ = run(["plan", "qwen7b_selfcog", "--json", "--gpu", "4090D"], capsys)
    data = json.loads(out)
    assert code == 0
    assert data["effective_batch_size"] == 16 and data["max_steps"] == 40
    assert data["memory"]["verdict"] == "fits"
    assert data["memory"]["verdicts"][0]["card"] == "NVIDIA GeForce RTX 4090 D"


def test_plan_json_with_errors_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.yaml").write_text("model: m\ndataset: nope.json\n")
    code, out, _ = run(["plan", "r.yaml", "--json"], capsys)
    assert code == 2
    assert json.loads(out)["errors"]


def test_gpu_recipe_without_gpu_fails_fast_before_any_download(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi: no GPU
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"extends: {REPO}/recipes/qwen7b_selfcog.yaml\noutput_dir: {tmp_path}/o\n")
    code, _, err = run(["train", str(recipe)], capsys)
    assert code == 3
    assert err == (
        f"{recipe}: torch_dtype bfloat16 needs a GPU and none was found. Run it on a GPU "
        "machine; on CPU use torch_dtype: float32 and use_cpu: true (python -m swiftkit demo "
        "shows a CPU run).\n"
    )
    assert not (tmp_path / "o").exists()
    code, _, err = run(["train", str(recipe), "use_cpu=true", "torch_dtype=float32"], capsys)
    assert code == 3
    assert "7.6B parameters will not train on a CPU" in err


def test_overrides_may_follow_options(in_repo, capsys):
    code, out, _ = run(
        ["plan", "qwen7b_selfcog", "--json", "--gpu", "T4", "max_length=4096"], capsys
    )
    assert code == 0
    assert json.loads(out)["memory"]["at_max_length"]["seq_len_tokens"] == 4096


def test_every_documented_subcommand_is_registered(capsys):
    from swiftkit.cli.main import build_parser

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in ("ls", "validate", "plan", "train", "demo", "sweep", "status", "compare", "flags",
                 "gpus"):  # fmt: skip
        assert name in commands
        assert f"python -m swiftkit {name}" in readme
    assert "sbatch" in commands and "python -m swiftkit sbatch" in readme


def test_every_help_is_written_for_users(capsys):
    """`swiftkit --help` and each subcommand's help print (argparse expands % in help texts, so
    a stray one is a traceback) and name no internal .py file."""
    from swiftkit.cli.main import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    for argv in ([], *([name] for name in commands)):
        with pytest.raises(SystemExit) as stop:
            main([*argv, "--help"])
        out, err = capsys.readouterr()
        assert stop.value.code == 0, (argv, err)
        assert "usage: swiftkit" in out and ".py" not in out, argv


def test_every_option_of_every_command_is_in_its_readme_row():
    """README's commands table names every option each subcommand's --help lists (a user read
    `validate --gpu`, `--verbose`, `sbatch --job-name`, `--no-png` only in --help)."""
    from swiftkit.cli.main import build_parser

    readme = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    commands = build_parser()._subparsers._group_actions[0].choices
    for name, parser in commands.items():
        row = next(x for x in readme if x.startswith(f"| `python -m swiftkit {name}"))
        for action in parser._actions:
            flags = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
            assert not flags or any(f in row for f in flags), (name, flags)


def test_readme_exit_codes_name_their_commands():
    """Each exit code row says which commands return it; plan exits 0 on "will not fit"."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| code | commands | meaning |") :].split("\n\n")[0]
    rows = {line.split("|")[1].strip(): line.split("|")[2] for line in table.splitlines()[2:]}
    assert set(rows) == {"0", "1", "2", "3", "4", "130", "143"}
    assert "`plan --fit`" in rows["3"] and "`train`" in rows["3"]
    assert "`plan`" not in rows["3"].replace("`plan --fit`", "")
    assert '"will not fit"' in readme[readme.index("| 0 | all |") :].splitlines()[0]


def test_plan_will_not_fit_exits_zero_as_documented(in_repo, capsys):
    code, out, _ = run(["plan", "qwen7b_selfcog", "--gpu", "T4"], capsys)
    assert code == 0 and "Tesla T4 (15.0 GiB): will not fit" in out
    code, _, _ = run(["plan", "qwen7b_selfcog", "--gpu", "T4", "--fit"], capsys)
    assert code == 3
