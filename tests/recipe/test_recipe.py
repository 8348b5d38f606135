"""Recipes: lookup, extends, overrides, env, renames, typing; messages asserted in full."""

import pytest

from swiftkit.errors import RecipeError
from swiftkit.recipe.lookup import find_recipe
from swiftkit.recipe.recipe import launch_env, load_recipe


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "recipes").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(project, name, text):
    path = project / "recipes" / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_found_by_stem_and_by_path(project):
    path = write(project, "a", "model: m\n")
    assert find_recipe("a") == path.resolve()
    assert find_recipe("recipes/a.yaml") == path.resolve()
    assert find_recipe(str(path)) == path.resolve()


def test_missing_recipe_suggests_near_name(project):
    write(project, "qwen7b", "model: m\n")
    with pytest.raises(RecipeError) as e:
        find_recipe("qwen7")
    assert str(e.value) == (
        f"recipe 'qwen7' not found (looked for {project}/recipes/qwen7.yaml). "
        "Did you mean qwen7b? Run python -m swiftkit ls."
    )


def test_values_are_typed_for_their_flags(project):
    write(
        project,
        "a",
        "model: m\nlearning_rate: 1e-4\nnum_train_epochs: 3\n"
        "target_modules: all-linear\nlora_rank: 8\n",
    )
    r = load_recipe("a")
    assert r.args["learning_rate"] == pytest.approx(1e-4)  # YAML 1.1 reads 1e-4 as a string
    assert r.args["num_train_epochs"] == 3.0
    assert r.args["target_modules"] == ["all-linear"]
    assert r.problems == ()


def test_extends_chain_child_wins(project):
    write(project, "base", "model: m\nlora_rank: 8\nlearning_rate: 1.0e-4\nenv:\n  NNODES: 1\n")
    write(project, "mid", "extends: base\nlora_rank: 16\n")
    child = write(
        project, "child", "extends: mid\nlearning_rate: 2.0e-4\nenv:\n  NPROC_PER_NODE: 2\n"
    )
    r = load_recipe("child")
    assert r.args == {"model": "m", "lora_rank": 16, "learning_rate": 2e-4}
    assert r.env == {"NNODES": "1", "NPROC_PER_NODE": "2"}
    assert r.location("learning_rate") == f"{child.resolve()}:2"
    assert [p.name for p in r.chain] == ["base.yaml", "mid.yaml", "child.yaml"]


def test_extends_cycle_is_an_error(project):
    write(project, "a", "extends: b\n")
    b = write(project, "b", "extends: a\n")
    with pytest.raises(RecipeError) as e:
        load_recipe("a")
    assert str(e.value) == (
        f"{b.resolve()}: extends cycle: a.yaml -> b.yaml -> a.yaml. "
        "Remove one of the extends lines."
    )


def test_missing_base(project):
    a = write(project, "a", "model: m\nextends: nope\n")
    with pytest.raises(RecipeError) as e:
        load_recipe("a")
    assert str(e.value) == (
        f"{a.resolve()}:2: extends 'nope', but {project.resolve()}/recipes/nope.yaml does not "
        "exist. Name a recipe in the same folder (its file name without .yaml) or a path."
    )


def test_overrides_typed_and_validated(project):
    write(project, "a", "model: m\nlearning_rate: 1.0e-4\n")
    r = load_recipe("a", ["learning_rate=3e-4", "num_train_epochs=2", "lora_rnak=4", "k="])
    assert r.args["learning_rate"] == pytest.approx(3e-4)
    assert r.args["num_train_epochs"] == 2.0
    assert r.location("num_train_epochs") == "command line (num_train_epochs=...)"
    assert r.problems == (
        "command line (lora_rnak=...): lora_rnak is not a swift sft flag. Did you mean lora_rank?",
        "override 'k=' has no value after '='. Write k=VALUE (or k=null to unset it).",
    )


def test_unknown_key_wrong_type_and_bad_choice_reported_together(project):
    path = write(project, "a", "model: m\nlora_rnak: 8\nnum_train_epochs: ten\ntuner_type: lorra\n")
    r = load_recipe("a")
    p = path.resolve()
    assert r.problems[0] == f"{p}:2: lora_rnak is not a swift sft flag. Did you mean lora_rank?"
    assert r.problems[1].startswith(f"{p}:3: num_train_epochs must be a number")
    assert r.problems[2].startswith(f"{p}:4: tuner_type must be one of:")
    assert len(r.problems) == 3


def test_3x_name_is_translated_with_notice(project):
    path = write(project, "a", "model: m\ntrain_type: lora\n")
    r = load_recipe("a")
    assert r.args["tuner_type"] == "lora"
    assert r.notices == (
        f"{path.resolve()}:2: train_type is the ms-swift 3.x name of tuner_type; using tuner_type.",
    )


def test_old_and_new_name_together_is_an_error(project):
    path = write(project, "a", "model: m\ntrain_type: lora\ntuner_type: full\n")
    r = load_recipe("a")
    assert r.problems == (
        f"{path.resolve()}:2: train_type and tuner_type are both set (train_type is the old name). "
        "Keep only tuner_type.",
    )


def test_env_block_and_process_environment(project):
    write(project, "a", "model: m\nenv:\n  NPROC_PER_NODE: 2\n  USE_X: true\n")
    r = load_recipe("a")
    env = launch_env(r, {"NPROC_PER_NODE": "4", "MASTER_PORT": "29501", "HOME": "/root"})
    # The process environment wins over the recipe's env:, as over a swift config's ENV:
    # (swift/cli/main.py parse_yaml_args); tests/recipe/test_launchenv.py checks the sources.
    assert env == {"NPROC_PER_NODE": "4", "MASTER_PORT": "29501", "USE_X": "true"}


def test_env_must_be_a_mapping(project):
    path = write(project, "a", "model: m\nenv: [1, 2]\n")
    r = load_recipe("a")
    assert r.problems == (
        f"{path.resolve()}:2: env must be a mapping of environment variables (got [1, 2]). "
        "Write e.g. env: {NPROC_PER_NODE: 2}.",
    )


def test_reserved_keys_cannot_be_overridden(project):
    write(project, "a", "model: m\n")
    r = load_recipe("a", ["extends=b"])
    assert r.problems == (
        "override 'extends=b': extends cannot be overridden from the command line. "
        "Edit the recipe file, or set environment variables directly.",
    )


# ---------------------------------------------------------------- clearing a list flag


@pytest.mark.parametrize("value", ["[]", "null"])
def test_an_inherited_val_dataset_is_cleared_from_the_command_line(project, value):
    # swift's default for val_dataset is [] (swift/arguments/base_args/data_args.py): clearing
    # it gives that default, and the flag is left out of what swift is given.
    write(project, "base", "model: m\ndataset: a.jsonl\nval_dataset: v.jsonl\n")
    write(project, "child", "extends: base\n")
    recipe = load_recipe("child", [f"val_dataset={value}"])
    assert recipe.problems == ()
    assert "val_dataset" not in recipe.args
    assert recipe.args["dataset"] == ["a.jsonl"]


def test_an_empty_list_is_refused_where_swift_has_a_default_to_keep(project):
    write(project, "r", "model: m\ndataset: a.jsonl\ntarget_modules: []\n")
    assert load_recipe("r").problems == (
        f"{project}/recipes/r.yaml:3: target_modules must list at least one value (got []). "
        "Write target_modules: [all-linear].",
    )


def test_an_empty_list_for_an_optional_list_flag_is_unset(project):
    write(project, "r", "model: m\ndataset: a.jsonl\nmodel_name: []\n")
    recipe = load_recipe("r")
    assert recipe.problems == ()
    assert recipe.args["model_name"] is None


# ---------------------------------------------------------------- lines inside the blocks


def test_swiftkit_and_env_problems_name_their_own_lines(project):
    path = write(
        project,
        "r",
        "model: m\ndataset: a.jsonl\nenv:\n  OMP_NUM_THREADS: 1\n  1X: 2\nswiftkit:\n"
        "  gpus: 4090D\n  gpu: 4090D\n  descripton: x\n",
    )
    recipe = load_recipe("r")
    assert recipe.problems == (
        f"{path}:5: env key '1X' is not an environment variable name. Use letters, digits and "
        "_, not starting with a digit (e.g. NPROC_PER_NODE).",
        f"{path}:7: swiftkit.gpus is not a swiftkit setting. Did you mean gpu? Use one of: "
        "lr_tuned_for_batch, gpu, description.",
        f"{path}:9: swiftkit.descripton is not a swiftkit setting. Did you mean description? "
        "Use one of: lr_tuned_for_batch, gpu, description.",
    )
    assert recipe.location("swiftkit.gpu") == f"{path}:8"
