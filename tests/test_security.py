"""Security: recipes are data, no shell, trust_remote_code flagged, secrets never shown or written,
relative paths resolved one documented way and shown absolute."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from swiftkit.cli.render import render_plan
from swiftkit.errors import RecipeError
from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe
from swiftkit.run.rundir import write_provenance
from tests.conftest import run_cli as run

PACKAGE = Path(__file__).resolve().parents[1] / "swiftkit"
ROW = json.dumps(
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
)
BASE = "model: m\ndataset: data/train.jsonl\n"
SECRETS = {
    "HF_TOKEN": "hf_recipe_secret_1",
    "WANDB_API_KEY": "wandb_recipe_secret_2",
    "MODELSCOPE_API_TOKEN": "ms_recipe_secret_3",
    "AWS_SECRET_ACCESS_KEY": "aws_recipe_secret_4",
    "DB_PASSWORD": "db_recipe_secret_5",
}
ENV_BLOCK = "env:\n  NPROC_PER_NODE: 1\n" + "".join(f"  {k}: {v}\n" for k, v in SECRETS.items())


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path.resolve()
    (root / "recipes").mkdir()
    (root / "data").mkdir()
    (root / "data" / "train.jsonl").write_text(f"{ROW}\n{ROW}\n", encoding="utf-8")
    monkeypatch.chdir(root)
    for name in ("NPROC_PER_NODE", "NNODES", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    return root


def write(project: Path, text: str, name: str = "r") -> Path:
    path = project / "recipes" / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the code itself

_YAML_UNSAFE = {"load", "load_all", "full_load", "full_load_all", "unsafe_load", "unsafe_load_all"}
_UNSAFE_LOADERS = {
    "Loader",
    "FullLoader",
    "UnsafeLoader",
    "CLoader",
    "CFullLoader",
    "CUnsafeLoader",
}


def unsafe_calls(source: str, filename: str = "<string>") -> list[str]:
    """`file:line: what` for shell=True, yaml loading beyond SafeLoader, eval/exec, os.system."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if (
            isinstance(node, ast.Attribute)
            and node.attr in _UNSAFE_LOADERS
            and isinstance(node.value, ast.Name)
            and node.value.id == "yaml"
        ):
            found.append(f"{where}: yaml.{node.attr}")
        if not isinstance(node, ast.Call):
            continue
        for kw in node.keywords:
            if kw.arg == "shell" and not (
                isinstance(kw.value, ast.Constant) and kw.value.value is False
            ):
                found.append(f"{where}: shell={ast.unparse(kw.value)}")
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("eval", "exec", "compile", "__import__"):
            found.append(f"{where}: {func.id}()")
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner, name = func.value.id, func.attr
            if owner == "yaml" and name in _YAML_UNSAFE:
                loader = next((k.value for k in node.keywords if k.arg == "Loader"), None)
                safe = isinstance(loader, ast.Attribute) and loader.attr in (
                    "SafeLoader",
                    "CSafeLoader",
                )
                if not safe:
                    found.append(f"{where}: yaml.{name}() without SafeLoader")
            if (owner == "os" and name in ("system", "popen")) or owner == "pickle":
                found.append(f"{where}: {owner}.{name}()")
    return sorted(found, key=lambda f: int(f.split(":")[-2]))


def test_the_scanner_finds_what_it_looks_for():
    bad = (
        "import subprocess, yaml, os\n"
        "subprocess.run('ls', shell=True)\n"
        "yaml.load(text)\n"
        "yaml.load(text, Loader=yaml.Loader)\n"
        "eval('1')\n"
        "exec('x = 1')\n"
        "os.system('ls')\n"
    )
    assert [f.split(": ", 1)[1] for f in unsafe_calls(bad)] == [
        "shell=True",
        "yaml.load() without SafeLoader",
        "yaml.load() without SafeLoader",
        "yaml.Loader",
        "eval()",
        "exec()",
        "os.system()",
    ]
    ok = (
        "import yaml, ast\n"
        "yaml.safe_load(t)\n"
        "yaml.load(t, Loader=yaml.SafeLoader)\n"
        "ast.literal_eval(t)\n"
    )
    assert unsafe_calls(ok) == []


def test_no_shell_no_unsafe_yaml_no_eval_in_the_package():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    found = [f for path in files for f in unsafe_calls(path.read_text("utf-8"), str(path))]
    assert found == []


# ---------------------------------------------------------------- recipes are data


@pytest.mark.parametrize(
    "value",
    [
        "!!python/object/apply:os.system ['touch {sentinel}']",
        "!!python/object/new:os.system ['touch {sentinel}']",
        "!!python/name:os.system",
        "!!python/module:os",
        "{{nested: !!python/object/apply:os.system ['touch {sentinel}']}}",
    ],
)
def test_python_tags_are_refused_and_never_run(project, value):
    sentinel = project / "pwned"
    path = write(project, BASE + "deepspeed: " + value.format(sentinel=sentinel) + "\n")
    with pytest.raises(RecipeError) as e:
        load_recipe("r")
    assert str(e.value).startswith(f"{path}:3: invalid YAML: could not determine a constructor")
    assert str(e.value).endswith("Recipes are plain data: remove the !!python tag.")
    assert not sentinel.exists()


def test_python_tag_in_a_base_recipe_is_refused(project):
    sentinel = project / "pwned"
    base = write(project, f"x: !!python/object/apply:os.system ['touch {sentinel}']\n", "base")
    write(project, "extends: base\n" + BASE)
    with pytest.raises(RecipeError) as e:
        load_recipe("r")
    assert str(e.value).startswith(f"{base}:1: invalid YAML")
    assert not sentinel.exists()


def test_python_tag_in_an_override_is_only_text(project):
    sentinel = project / "pwned"
    write(project, BASE)
    r = load_recipe("r", [f"system=!!python/object/apply:os.system ['touch {sentinel}']"])
    assert r.args["system"] == f"!!python/object/apply:os.system ['touch {sentinel}']"
    assert not sentinel.exists()


# ---------------------------------------------------------------- trust_remote_code

TRUST = (
    "{where}: trust_remote_code is not a swift sft flag (got True): ms-swift 4.6 always loads "
    "models with trust_remote_code=True (swift/model/register.py:161), so a model's own Python "
    "code runs. Remove the line, and train only models whose repository you trust."
)


def test_trust_remote_code_in_a_recipe_is_flagged_in_the_plan(project, capsys):
    path = write(project, BASE + "trust_remote_code: true\n")
    problem = TRUST.format(where=f"{path}:3")
    code, out, err = run(["plan", "r", "--json"], capsys)
    assert code == 2
    assert json.loads(out)["errors"] == [problem]
    code, out, err = run(["plan", "r"], capsys)
    assert code == 2
    assert out.endswith(f"errors:\n  - {problem}\n")
    code, out, err = run(["validate", "r"], capsys)
    assert (code, out, err) == (2, "", f"1 problem found:\n  - {problem}\n")


def test_trust_remote_code_on_the_command_line_is_flagged(project):
    write(project, BASE)
    plan = make_plan(load_recipe("r", ["trust_remote_code=true"]))
    assert plan.errors == (TRUST.format(where="command line (trust_remote_code=...)"),)


@pytest.mark.parametrize(
    ("files", "got"),
    [
        ({"modeling_evil.py": "import os\n", "config.json": "{}"}, "modeling_evil.py"),
        ({"config.json": '{"auto_map": {"AutoModel": "x.Y"}}'}, "auto_map in config.json"),
    ],
)
def test_a_model_folder_with_its_own_code_is_flagged(project, capsys, files, got):
    model = project / "models" / "evil"
    model.mkdir(parents=True)
    for name, text in files.items():
        (model / name).write_text(text, encoding="utf-8")
    path = write(project, "model: models/evil\ndataset: data/train.jsonl\n")
    warning = (
        f"{path}:1: the model ships its own Python code (got {got}), and ms-swift runs it: it "
        "loads every model with trust_remote_code=True. Train it only if you trust where the "
        "folder came from."
    )
    plan = make_plan(load_recipe("r"))
    assert warning in plan.warnings
    assert f"  - {warning}" in render_plan(plan)
    code, out, _ = run(["plan", "r", "--json"], capsys)
    assert code == 0
    assert warning in json.loads(out)["warnings"]


def test_a_plain_model_folder_is_not_flagged(project):
    model = project / "models" / "plain"
    model.mkdir(parents=True)
    (model / "config.json").write_text('{"model_type": "qwen2"}', encoding="utf-8")
    write(project, "model: models/plain\ndataset: data/train.jsonl\n")
    assert not any("Python code" in w for w in make_plan(load_recipe("r")).warnings)


# ---------------------------------------------------------------- secrets


def test_secrets_in_the_env_block_are_redacted_in_plan_json(project, capsys):
    write(project, BASE + ENV_BLOCK)
    code, out, err = run(["plan", "r", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["env"] == {
        "NPROC_PER_NODE": "1",
        **dict.fromkeys(SECRETS, "<redacted>"),
    }
    for secret in SECRETS.values():
        assert secret not in out + err


@pytest.mark.parametrize("argv", [["plan", "r"], ["validate", "r"], ["plan", "r", "--json"]])
def test_secrets_are_never_printed(project, capsys, monkeypatch, argv):
    write(project, BASE + ENV_BLOCK)
    monkeypatch.setenv("HF_TOKEN", "hf_process_secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk_process_secret")
    code, out, err = run(argv, capsys)
    assert code == 0
    for secret in [*SECRETS.values(), "hf_process_secret", "sk_process_secret"]:
        assert secret not in out + err


def test_process_secrets_never_reach_the_plan(project, monkeypatch):
    write(project, BASE)
    monkeypatch.setenv("HF_TOKEN", "hf_process_secret")
    plan = make_plan(load_recipe("r"))
    assert "HF_TOKEN" not in plan.env
    assert "hf_process_secret" not in json.dumps(plan.to_json(), default=str)


def test_dry_run_does_not_print_secrets(project, capsys):
    write(project, BASE + ENV_BLOCK)
    code, out, err = run(["train", "r", "--dry-run"], capsys)
    assert code == 0
    for secret in SECRETS.values():
        assert secret not in out + err


def test_provenance_never_holds_secrets(project, monkeypatch):
    write(project, BASE + ENV_BLOCK)
    monkeypatch.setenv("HF_TOKEN", "hf_process_secret")
    recipe = load_recipe("r")
    plan = make_plan(recipe)
    run_dir = project / "output" / "v0-run"
    run_dir.mkdir(parents=True)
    prov = write_provenance(
        run_dir,
        recipe_values=recipe.args,
        plan_json=plan.to_json(),
        swift_argv=["--model", "m"],
        env=plan.env,
        recipe_path=recipe.path,
    )
    written = {p.name: p.read_text("utf-8") for p in prov.iterdir()}
    assert sorted(written) == ["plan.json", "recipe.yaml", "swift_args.json", "versions.json"]
    for name, text in written.items():
        for secret in [*SECRETS.values(), "hf_process_secret"]:
            assert secret not in text, f"{secret} in {name}"
    assert json.loads(written["swift_args.json"])["env"]["HF_TOKEN"] == "<redacted>"
    assert json.loads(written["plan.json"])["env"]["WANDB_API_KEY"] == "<redacted>"
    assert "HF_TOKEN: <redacted>" in written["recipe.yaml"]


# ---------------------------------------------------------------- paths


def test_plan_json_shows_paths_absolute(project, capsys):
    write(project, "model: Qwen/Qwen2.5-0.5B-Instruct\ndataset: ./data/../data/train.jsonl\n")
    code, out, _ = run(["plan", "recipes/r.yaml", "--json"], capsys)
    assert code == 0
    plan = json.loads(out)
    assert plan["recipe_path"] == str(project / "recipes" / "r.yaml")
    assert [d["path"] for d in plan["datasets"]] == [str(project / "data/../data/train.jsonl")]
    if plan.get("disk"):
        assert Path(plan["disk"]["output_root"]).is_absolute()
        assert plan["disk"]["output_root"].startswith(str(project))


def test_missing_dataset_is_shown_absolute(project, capsys):
    write(project, "model: m\ndataset: data/nope.jsonl\n")
    code, out, _ = run(["plan", "r", "--json"], capsys)
    assert code == 2
    assert [d["path"] for d in json.loads(out)["datasets"]] == [str(project / "data/nope.jsonl")]


def test_datasets_resolve_against_the_working_directory_bases_against_the_recipe(
    project, monkeypatch, capsys
):
    """README "Paths": a recipe path and an extends base resolve against the file that names
    them; dataset paths inside a recipe against the working directory, as swift does."""
    write(project, BASE, "base")
    write(project, "extends: base\n")
    sub = project / "sub"
    (sub / "data").mkdir(parents=True)
    (sub / "data" / "train.jsonl").write_text(f"{ROW}\n", encoding="utf-8")
    monkeypatch.chdir(sub)
    code, out, _ = run(["plan", "../recipes/r.yaml", "--json"], capsys)
    assert code == 0
    plan = json.loads(out)
    assert plan["recipe_path"] == str(project / "recipes" / "r.yaml")
    assert [d["path"] for d in plan["datasets"]] == [str(sub / "data" / "train.jsonl")]
    assert plan["train_rows"] == 1


def test_credential_flags_are_redacted_but_reach_swift(project):
    from swiftkit.recipe.flags import load_schema
    from swiftkit.recipe.secrets import SECRET_FLAGS, redact_argv, secret_args
    from swiftkit.run.launch import LaunchSpec, swift_argv

    assert all(load_schema().get(name) for name in SECRET_FLAGS)
    write(project, BASE + "hub_token: hf_flag_secret\n")
    recipe = load_recipe("r")
    plan = make_plan(recipe)
    assert plan.to_json()["args"]["hub_token"] == "<redacted>"
    run_dir = project / "output" / "v0-run"
    run_dir.mkdir(parents=True)
    argv = swift_argv(recipe.args, run_dir=run_dir)
    prov = write_provenance(
        run_dir,
        recipe_values=recipe.args,
        plan_json=plan.to_json(),
        swift_argv=argv,
        env=plan.env,
        recipe_path=recipe.path,
    )
    for path in prov.iterdir():
        assert "hf_flag_secret" not in path.read_text(encoding="utf-8"), path
    # The run itself still gets the real value, from memory, not from disk.
    spec = LaunchSpec(run_dir, tuple(redact_argv(argv)), {}, secrets=secret_args(recipe.args))
    full = spec.full_argv()
    assert full[full.index("--hub_token") + 1] == "hf_flag_secret"
