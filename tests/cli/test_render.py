"""The plan as text: a recipe with errors shows them, not sections that only look wrong."""

import json

from swiftkit.cli.render import render_plan
from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe

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
