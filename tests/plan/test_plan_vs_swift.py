"""The plan's step arithmetic against real ms-swift runs on the tiny CPU model.

Each case writes a dataset and a recipe, plans it, then trains the same flags with swift's own
sft_main and compares the trainer's global_step (and row counts) with the plan.
"""

import json

import pytest

from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe
from swiftkit.run.launch import swift_argv
from tests.conftest import CPU_SFT_FLAGS, find_run_dir, sft_in_process

pytestmark = pytest.mark.slow

QUESTIONS = [
    "Who are you?",
    "你是谁？",
    "What can you do?",
    "Tell me about yourself in detail.",
    "谁开发了你？请详细介绍一下你自己。",
]


def write_rows(path, n, *, long_every=0):
    rows = []
    for i in range(n):
        answer = f"I am {{{{NAME}}}}, answer number {i}."
        if long_every and i % long_every == 0:
            answer += " This answer is padded with many more words to make it long." * 6
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]},
                    {"role": "assistant", "content": answer},
                ]
            }
        )
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


CASES = [
    # rows, spec suffix, batch, accumulation, epochs, split ratio, extra
    pytest.param(20, "", 1, 4, 1, 0.0, {}, id="20rows-b1-g4-e1"),
    pytest.param(20, "", 2, 3, 2, 0.0, {}, id="20rows-b2-g3-e2"),
    pytest.param(21, "", 1, 4, 1, 0.1, {}, id="21rows-split0.1"),
    pytest.param(20, "#7", 1, 2, 3, 0.0, {}, id="sample7-of-20"),
    pytest.param(10, "#25", 2, 4, 1, 0.0, {}, id="sample25-of-10"),
    pytest.param(10, "", 1, 3, 1.5, 0.0, {}, id="fractional-epochs"),
    pytest.param(30, "", 1, 5, 1, 0.2, {}, id="30rows-split0.2-g5"),
    pytest.param(24, "", 1, 4, 1, 0.0, {"max_length": 90, "long_every": 3}, id="delete-long-rows"),
    # #48 of 24 rows takes each row twice: each long row is dropped twice, an exact count.
    pytest.param(24, "#48", 1, 8, 1, 0.0, {"max_length": 90, "long_every": 3}, id="delete-x2"),
    pytest.param(
        22,
        "",
        1,
        3,
        2.5,
        0.1,
        {"yaml": "eval_strategy: epoch\nsave_strategy: epoch\n"},
        id="epoch-eval-and-save",
    ),
    pytest.param(
        20,
        "",
        1,
        2,
        2,
        0.1,
        {"yaml": "eval_steps: 3\nsave_steps: 4\nsave_total_limit: 2\n"},
        id="steps-rotation",
    ),
    # eval_strategy no: swift drops the split (_init_eval_strategy), every row trains.
    pytest.param(20, "", 1, 4, 1, 0.2, {"yaml": "eval_strategy: 'no'\n"}, id="no-eval-no-split"),
]


@pytest.mark.parametrize(("rows", "suffix", "batch", "acc", "epochs", "ratio", "extra"), CASES)
def test_plan_max_steps_equals_trainer(
    tiny_model, tmp_path, monkeypatch, rows, suffix, batch, acc, epochs, ratio, extra
):
    monkeypatch.chdir(tmp_path)
    data = write_rows(tmp_path / "rows.json", rows, long_every=extra.get("long_every", 0))
    recipe_path = tmp_path / "r.yaml"
    recipe_path.write_text(
        f"model: {tiny_model}\ndataset: {data}{suffix}\nper_device_train_batch_size: {batch}\n"
        f"gradient_accumulation_steps: {acc}\nnum_train_epochs: {epochs}\n"
        f"split_dataset_ratio: {ratio}\nmax_length: {extra.get('max_length', 256)}\n"
        "system: You are a helpful assistant.\nlogging_steps: 1\n"
        f"output_dir: {tmp_path / 'out'}\n" + extra.get("yaml", "save_steps: 1000\n"),
        encoding="utf-8",
    )
    plan = make_plan(load_recipe(str(recipe_path)), environ={})
    assert plan.errors == ()
    if extra.get("long_every"):
        assert plan.datasets[0].rows_over_max_length == len(range(0, rows, extra["long_every"]))
        assert plan.rows_exact  # no split, each row taken a whole number of times: exact
    flags = [a for a in CPU_SFT_FLAGS]
    flags[flags.index("--max_length") + 1] = str(extra.get("max_length", 256))
    result = sft_in_process([*flags, *swift_argv(plan.args)])
    assert result["global_step"] == plan.schedule.max_steps
    run = find_run_dir(tmp_path / "out")
    last = [
        json.loads(x)
        for x in (run / "logging.jsonl").read_text().splitlines()
        if "global_step/max_steps" in x
    ][-1]
    assert last["global_step/max_steps"] == f"{plan.schedule.max_steps}/{plan.schedule.max_steps}"
    size = int(result["train_dataset"].rsplit("size=", 1)[1].rstrip(")"))
    assert size == plan.train_rows
    saved = sorted(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*"))
    assert tuple(saved) == plan.schedule.checkpoints_kept or (
        plan.schedule.keeps_best_checkpoint
        and set(plan.schedule.checkpoints_kept) <= set(saved) <= set(plan.schedule.save_steps_at)
    )
    logged = [json.loads(x) for x in (run / "logging.jsonl").read_text().splitlines()]
    evals = [int(r["global_step/max_steps"].split("/")[0]) for r in logged if "eval_loss" in r]
    # With eval_strategy epoch and a partial last epoch the trainer evaluates twice at the
    # final step (at the stop and at the epoch end): the same step, so compare the steps.
    assert tuple(sorted(set(evals))) == plan.schedule.eval_steps_at
    if plan.val_rows:
        val_size = int(result["val_dataset"].rsplit("size=", 1)[1].rstrip(")"))
        assert val_size == plan.val_rows
