"""The plan as text: a recipe with errors shows them, not sections that only look wrong; nothing
prints Python's None, and nouns agree with their numbers."""

import json
from pathlib import Path

from swiftkit.cli.render import render_plan
from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe
from tests.conftest import run_cli as run

ROW = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}


def test_a_recipe_with_errors_says_the_schedule_and_memory_wait_for_them(tmp_path):
    (tmp_path / "d.jsonl").write_text(json.dumps(ROW) + "\n", encoding="utf-8")
    (tmp_path / "r.yaml").write_text("model: Qwen/Qwen2.5-7B-Instruct\ndataset: d.jsonl\n")
    plan = make_plan(load_recipe(str(tmp_path / "r.yaml"), ["foo"]), base_dir=tmp_path, environ={})
    text = render_plan(plan)
    wait = "  not worked out: the recipe has errors (listed at the end); fix them first"
    assert f"schedule:\n{wait}\n" in text
    assert f"memory (per GPU):\n{wait}\n" in text
    assert "unknown until every dataset can be counted" not in text
    assert text.endswith(
        "errors:\n  - override 'foo' has no '='. Write key=value, e.g. learning_rate=2e-4."
    )


REPO = Path(__file__).resolve().parents[2]

HUB = "dataset=[AI-ModelScope/alpaca-gpt4-data-zh#500, AI-ModelScope/alpaca-gpt4-data-en#500, swift/self-cognition#500]"  # noqa: E501


def test_hub_datasets_print_no_none(in_repo, capsys):
    code, out, _ = run(["plan", "qwen7b_selfcog", HUB], capsys)
    assert code == 0
    assert "  total: unknown (3 of 3 datasets not read)\n" in out
    assert "None" not in out
    code, out, _ = run(["plan", "qwen7b_selfcog", HUB, "--gpu", "4090D"], capsys)
    assert "None" not in out
    mixed = "dataset=[AI-ModelScope/alpaca-gpt4-data-zh#500, datasets/self_cognition.json]"
    code, out, _ = run(["plan", "qwen7b_selfcog", mixed], capsys)
    assert "  total: unknown (1 of 2 datasets not read)\n" in out and "None" not in out


def test_one_of_a_thing_is_singular(in_repo, capsys, tmp_path):
    rows = tmp_path / "one.jsonl"
    rows.write_text(
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": '
        '"hello"}]}\n',
        encoding="utf-8",
    )
    recipe = tmp_path / "one.yaml"
    text = (REPO / "recipes" / "tiny_demo.yaml").read_text(encoding="utf-8")
    text = text.replace("val_dataset: datasets/self_cognition_heldout.jsonl\n", "")
    recipe.write_text(text.replace("dataset: datasets/self_cognition.json", f"dataset: {rows}"))
    code, out, err = run(["validate", str(recipe), "num_train_epochs=1"], capsys)
    assert code == 0, err
    assert ", 1 training row, 1 optimizer update)" in out
    code, out, _ = run(["plan", str(recipe), "num_train_epochs=1"], capsys)
    assert f"  {rows}: 1 row -> 1 train / 0 val" in out
    assert "batches per epoch: 1 (1 row, batch 8)" in out
