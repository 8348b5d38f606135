"""The rows part of a plan: rows dropped by max_length (and when that count is exact), and the
{{NAME}}/{{AUTHOR}} findings for swift's self-cognition dataset and local files."""

import json

import pytest

from swiftkit.plan.plan import make_plan
from swiftkit.plan.rowplan import length_drops
from swiftkit.recipe.recipe import load_recipe


@pytest.mark.parametrize(
    ("over", "rows", "train", "val", "split", "expected"),
    [
        (8, 24, 24, 0, False, (8, 0, True)),  # no split, no #N: every long row goes once
        (8, 24, 48, 0, False, (16, 0, True)),  # #48: every row taken twice
        (8, 24, 30, 0, False, (10, 0, False)),  # #30: 24 + 6 drawn at random: 8 + 2 expected
        (8, 24, 12, 0, False, (4, 0, False)),  # #12: a random half
        (3, 10, 0, 10, False, (0, 3, True)),  # val_dataset, whole
        (8, 24, 19, 5, True, (6, 2, False)),  # a random split: expected shares
        (24, 24, 19, 5, True, (19, 5, True)),  # every row too long: all go, split or not
        (0, 24, 24, 0, False, (0, 0, True)),
    ],
)
def test_length_drops(over, rows, train, val, split, expected):
    assert length_drops(over, rows, train, val, split=split) == expected


def plan_for(tmp_path, text):
    (tmp_path / "r.yaml").write_text(text, encoding="utf-8")
    return make_plan(load_recipe(str(tmp_path / "r.yaml")), base_dir=tmp_path, environ={})


@pytest.fixture
def rows_file(tmp_path):
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    (tmp_path / "plain.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    return tmp_path / "plain.jsonl"


def test_model_name_with_swifts_self_cognition_dataset_is_not_useless(tmp_path, rows_file):
    plan = plan_for(
        tmp_path,
        f"model: m\ndataset: [swift/self-cognition#500, {rows_file}]\n"
        "model_name: [小黄, Xiao Huang]\nmodel_author: [魔搭, ModelScope]\n",
    )
    assert not any("does nothing" in w for w in plan.warnings)
    assert (
        "swift fills {{NAME}}/{{AUTHOR}} in swift/self-cognition#500 from model_name and "
        "model_author (Chinese rows take the first value, English rows the second)"
    ) in plan.notes
    assert not plan.fills_placeholders  # swift does it; no copy to write


def test_self_cognition_without_model_author_keeps_the_placeholder(tmp_path):
    plan = plan_for(tmp_path, "model: m\ndataset: swift/self-cognition:qwen3#100\nmodel_name: X\n")
    assert plan.warnings[:1] == (
        f"{tmp_path}/r.yaml:2: swift/self-cognition:qwen3#100 is swift's self-cognition dataset, "
        "but model_author is not set: swift leaves {{AUTHOR}} in its rows literally and the "
        "model learns them. Set model_author: [ZH, EN].",
    )


def test_an_unknown_subset_of_self_cognition_is_not_filled(tmp_path):
    plan = plan_for(
        tmp_path, "model: m\ndataset: swift/self-cognition:foo\nmodel_name: X\nmodel_author: Y\n"
    )
    assert plan.warnings[:2] == (
        f"{tmp_path}/r.yaml:2: swift/self-cognition:foo: foo is not a subset of swift's "
        "self-cognition dataset (default, qwen3, empty_think), so swift does not fill "
        "{{NAME}}/{{AUTHOR}} there. Use one of those subsets.",
        f"{tmp_path}/r.yaml:3: model_name does nothing here: swift uses it only in its "
        "self-cognition dataset (swift/self-cognition), and no dataset in the list is that one "
        "or a local file holding {{NAME}} or {{AUTHOR}}. Remove it, add swift/self-cognition#N "
        "to dataset, or use the placeholders in your rows.",
    )


def test_model_name_with_only_other_datasets_does_nothing(tmp_path, rows_file):
    plan = plan_for(
        tmp_path, f"model: m\ndataset: [AI-ModelScope/alpaca-gpt4-data-en#5, {rows_file}]\n"
        "model_name: X\n",
    )  # fmt: skip
    assert any(
        w.startswith(f"{tmp_path}/r.yaml:3: model_name does nothing here") for w in plan.warnings
    )


def test_a_missing_dataset_names_the_recipe_line_it_came_from_through_extends(
    tmp_path, monkeypatch
):
    # swift reads a relative dataset path from its working directory (swift/dataset/
    # dataset_syntax.py DatasetSyntax.parse: os.path.exists), not from the recipe's folder
    base = tmp_path / "recipes" / "base.yaml"
    base.parent.mkdir()
    base.write_text(
        "model: m\ndataset: datasets/self_cognition.json\nmodel_name: [a, b]\nmodel_author: c\n",
        encoding="utf-8",
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "child.yaml").write_text(f"extends: {base}\nlearning_rate: 2e-4\n", "utf-8")
    monkeypatch.chdir(work)
    plan = make_plan(load_recipe("child.yaml"), base_dir=work, environ={})
    assert plan.errors == (
        f"{base}:2: datasets/self_cognition.json: dataset not found (looked for "
        f"{work}/datasets/self_cognition.json: swift reads a relative path from the directory it "
        f"runs in, here {work}). Check the path, or run from the directory it is relative to.",
    )
    # nothing can be said about the placeholders of a file that is not there
    assert not [w for w in plan.warnings if "does nothing here" in w]


def test_the_held_out_files_placeholders_are_blamed_on_val_dataset(tmp_path, rows_file):
    reply = {"role": "assistant", "content": "{{NAME}}"}
    held = {"messages": [{"role": "user", "content": "who?"}, reply]}
    (tmp_path / "held.jsonl").write_text(json.dumps(held) + "\n", encoding="utf-8")
    (tmp_path / "r.yaml").write_text(
        "model: m\ndataset: other.jsonl\nval_dataset: held.jsonl\n", encoding="utf-8"
    )
    recipe = load_recipe(str(tmp_path / "r.yaml"), [f"dataset={rows_file}"])
    plan = make_plan(recipe, base_dir=tmp_path, environ={})
    assert plan.warnings == (
        f"{tmp_path}/r.yaml:3: held.jsonl holds {{{{NAME}}}}/{{{{AUTHOR}}}} but model_name and "
        "model_author are not set: the model would learn the placeholders literally. Set "
        "model_name: and model_author:.",
    )
