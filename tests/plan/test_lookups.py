"""Names looked up before the plan: the card (swiftkit.gpu, --gpu) and a bare model name."""

import json

from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe

ROW = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}


def plan_for(tmp_path, text, gpus=()):
    (tmp_path / "d.jsonl").write_text(json.dumps(ROW) + "\n", encoding="utf-8")
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    return path, make_plan(load_recipe(str(path)), base_dir=tmp_path, environ={}, gpus=gpus)


def test_an_unknown_card_is_reported_with_the_other_problems_at_its_line(tmp_path):
    path, plan = plan_for(
        tmp_path,
        "model: Qwen/Qwen2.5-7B-Instruct\ndataset: d.jsonl\nswiftkit:\n  gpus: 4090D\n"
        "  gpu: 4090X\n",
    )
    assert plan.errors == (
        f"{path}:4: swiftkit.gpus is not a swiftkit setting. Did you mean gpu? Use one of: "
        "lr_tuned_for_batch, gpu, description.",
        f"{path}:5: swiftkit.gpu is not a card swiftkit knows (got '4090X'). Did you mean 4090 "
        "(NVIDIA GeForce RTX 4090)? Use a name such as 4090D, A100-80G or H100 (python -m "
        "swiftkit gpus lists them).",
    )


def test_an_unknown_gpu_option_is_reported_beside_recipe_errors(tmp_path):
    _, plan = plan_for(tmp_path, "model: m\ndataset: d.jsonl\nlora_rank: 0\n", gpus=["NOPE9000"])
    assert plan.errors[-1] == (
        "gpu 'NOPE9000' is not a card swiftkit knows. Use a name such as 4090D, A100-80G or "
        "H100 (python -m swiftkit gpus lists them)."
    )
    assert len(plan.errors) == 2


def test_a_model_folder_name_without_a_folder_is_warned(tmp_path):
    path, plan = plan_for(tmp_path, "model: Qwen2.5-7B-Instruct\ndataset: d.jsonl\n")
    assert plan.errors == ()
    assert plan.warnings[0] == (
        f"{path}:1: model has no folder Qwen2.5-7B-Instruct here (looked for "
        f"{tmp_path}/Qwen2.5-7B-Instruct), so swift would download it as a hub id, and a hub id "
        "needs its organisation (ModelScope reads Qwen2.5-7B-Instruct as "
        "damo/Qwen2.5-7B-Instruct). Did you mean Qwen/Qwen2.5-7B-Instruct? Or write the "
        "folder's path."
    )


def test_an_unknown_sized_name_gets_the_general_fix(tmp_path):
    _, plan = plan_for(tmp_path, "model: Mistral-7B-Instruct-v0.3\ndataset: d.jsonl\n")
    assert plan.warnings[0].endswith(
        "(ModelScope reads Mistral-7B-Instruct-v0.3 as damo/Mistral-7B-Instruct-v0.3). "
        "Write the hub id as ORG/NAME, or the folder's path."
    )


def test_hub_ids_existing_folders_and_old_bare_ids_are_not_warned(tmp_path):
    (tmp_path / "Qwen2.5-0.5B").mkdir()
    for model in ("Qwen/Qwen2.5-7B-Instruct", "Qwen2.5-0.5B", "gpt2", "./missing-7B"):
        _, plan = plan_for(tmp_path, f"model: {model}\ndataset: d.jsonl\n")
        assert not [w for w in plan.warnings if "has no folder" in w], model
