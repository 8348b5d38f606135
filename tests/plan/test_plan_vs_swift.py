"""The plan's step arithmetic against real ms-swift runs on the tiny CPU model.

Each case writes a dataset and a recipe, plans it, then trains the same flags with swift's own
sft_main and compares the trainer's global_step (and row counts) with the plan.
"""

import json
from pathlib import Path

import pytest

from swiftkit.plan.checkpoints import replay_rotation
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
    saved = tuple(sorted(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*")))
    s = plan.schedule
    # The count the plan states, and the folders it names: the last ones, or the best (one of
    # the candidates) in place of the oldest of them.
    assert len(saved) == s.checkpoints_left
    assert saved == s.checkpoints_kept or (
        len(set(saved) - set(s.checkpoints_kept)) == 1
        and set(saved) - set(s.checkpoints_kept) <= set(s.best_checkpoint_candidates)
        and set(s.checkpoints_kept[1:]) <= set(saved)
    )
    logged = [json.loads(x) for x in (run / "logging.jsonl").read_text().splitlines()]
    best, bests = float("inf"), set()
    for r in logged:  # _determine_best_metric: eval_loss strictly lower than every one before
        if "eval_loss" in r and r["eval_loss"] < best:
            best = r["eval_loss"]
            bests.add(int(r["global_step/max_steps"].split("/")[0]))
    limit = plan.args.get("save_total_limit")
    replay = replay_rotation(
        s.save_steps_at, s.eval_steps_at, save_total_limit=limit, new_best_at=bests
    )
    assert replay.kept == saved
    evals = [int(r["global_step/max_steps"].split("/")[0]) for r in logged if "eval_loss" in r]
    # With eval_strategy epoch and a partial last epoch the trainer evaluates twice at the
    # final step (at the stop and at the epoch end): the same step, so compare the steps.
    assert tuple(sorted(set(evals))) == plan.schedule.eval_steps_at
    if plan.val_rows:
        val_size = int(result["val_dataset"].rsplit("size=", 1)[1].rstrip(")"))
        assert val_size == plan.val_rows


# --- issue 11: rows per process, max_epochs, checkpoint rotation and contents -----------------


def _recipe(tmp_path, model, data, body):
    path = tmp_path / "r.yaml"
    path.write_text(
        f"model: {model}\ndataset: {data}\nsystem: You are a helpful assistant.\n"
        f"max_length: 256\nlogging_steps: 1\noutput_dir: {tmp_path / 'out'}\n" + body,
        encoding="utf-8",
    )
    return path


def _logged(run):
    return [json.loads(x) for x in (run / "logging.jsonl").read_text().splitlines()]


def _steps(rows, key):
    return [int(r["global_step/max_steps"].split("/")[0]) for r in rows if key in r]


def test_max_epochs_and_rotation_with_saves_between_evals(tiny_model, tmp_path, monkeypatch):
    """max_epochs 2 of num_train_epochs 3 stops at the end of epoch 2 and evaluates and saves
    there (swift/trainers/patcher.py); save_total_limit 1 with saves between evals makes three
    checkpoint folders exist at once (transformers trainer_utils.py rotate_checkpoints);
    save_only_model writes the adapter only."""
    import transformers.trainer

    from swiftkit.plan.checkpoints import replay_rotation

    monkeypatch.chdir(tmp_path)
    data = write_rows(tmp_path / "rows.json", 20)
    path = _recipe(
        tmp_path, tiny_model, data,
        "split_dataset_ratio: 0.1\nper_device_train_batch_size: 1\n"
        "gradient_accumulation_steps: 3\nnum_train_epochs: 3\nmax_epochs: 2\neval_steps: 4\n"
        "save_steps: 2\nsave_total_limit: 1\nsave_only_model: true\nlora_rank: 64\n",
    )  # fmt: skip
    plan = make_plan(load_recipe(str(path)), environ={})
    s = plan.schedule
    assert plan.errors == ()
    assert (s.max_steps, s.last_step) == (18, 12)  # 18 rows / 3 -> 6 updates per epoch
    assert any("max_epochs stops training at step 12 of 18" in w for w in plan.warnings)
    assert plan.to_json()["last_step"] == 12

    seen = []  # checkpoint folders on disk just before each rotation: the most at once
    original = transformers.trainer.rotate_checkpoints

    def counting(output_dir, *args, **kwargs):
        seen.append(
            sorted(int(p.name.split("-")[1]) for p in Path(output_dir).glob("checkpoint-*"))
        )
        return original(output_dir, *args, **kwargs)

    monkeypatch.setattr(transformers.trainer, "rotate_checkpoints", counting)
    result = sft_in_process([*CPU_SFT_FLAGS, *swift_argv(plan.args)])
    run = find_run_dir(tmp_path / "out")
    rows = _logged(run)
    assert result["global_step"] == s.last_step
    assert [r["global_step/max_steps"] for r in rows if "loss" in r][-1] == "12/18"
    assert tuple(sorted(set(_steps(rows, "eval_loss")))) == s.eval_steps_at == (4, 8, 12)
    # Step 12 is saved twice: its step save, then the max_epochs save at the epoch end.
    assert sorted({x[-1] for x in seen}) == list(s.save_steps_at) == list(range(2, 14, 2))
    assert max(len(x) for x in seen) == s.checkpoints_at_once == 3
    assert plan.disk.checkpoints_at_once == 3
    # Replayed with the bests the run really had (eval_loss strictly lower than all before).
    best, bests = float("inf"), set()
    for r in rows:
        if "eval_loss" in r and r["eval_loss"] < best:
            best = r["eval_loss"]
            bests.add(int(r["global_step/max_steps"].split("/")[0]))
    replay = replay_rotation(
        s.save_steps_at, s.eval_steps_at, save_total_limit=1, new_best_at=bests
    )
    kept = sorted(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*"))
    assert list(replay.kept) == kept and replay.most_at_once == 3
    # save_only_model: the adapter, no optimizer; sized as planned.
    last = run / "checkpoint-12"
    assert not (last / "optimizer.pt").exists()
    c = plan.memory.checkpoint
    assert c.optimizer_bytes == 0
    adapter = (last / "adapter_model.safetensors").stat().st_size
    assert abs(adapter - c.weights_bytes) < 0.02 * c.weights_bytes + 16 * 1024


def test_save_total_limit_zero_keeps_every_checkpoint_with_optimizer(
    tiny_model, tmp_path, monkeypatch
):
    """save_total_limit 0 keeps every checkpoint (rotate_checkpoints returns at once for <= 0);
    without save_only_model a LoRA checkpoint holds the fp32 adapter and AdamW's m and v."""
    monkeypatch.chdir(tmp_path)
    data = write_rows(tmp_path / "rows.json", 12)
    path = _recipe(
        tmp_path, tiny_model, data,
        "per_device_train_batch_size: 1\ngradient_accumulation_steps: 2\nnum_train_epochs: 1\n"
        "save_steps: 2\nsave_total_limit: 0\nlora_rank: 64\n",
    )  # fmt: skip
    plan = make_plan(load_recipe(str(path)), environ={})
    assert plan.errors == ()
    s = plan.schedule
    assert s.save_steps_at == s.checkpoints_kept == (2, 4, 6) and s.checkpoints_at_once == 3
    sft_in_process([*CPU_SFT_FLAGS, *swift_argv(plan.args)])
    run = find_run_dir(tmp_path / "out")
    assert sorted(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*")) == [2, 4, 6]
    c = plan.memory.checkpoint
    folder = run / "checkpoint-6"
    adapter = (folder / "adapter_model.safetensors").stat().st_size
    optimizer = (folder / "optimizer.pt").stat().st_size
    assert abs(adapter - c.weights_bytes) < 0.02 * c.weights_bytes + 16 * 1024
    assert abs(optimizer - c.optimizer_bytes) < 0.02 * c.optimizer_bytes + 32 * 1024
    assert plan.disk.needed_bytes == 3 * c.total_bytes


def test_full_fine_tuning_save_only_model_writes_the_model_weights(
    tiny_model, tmp_path, monkeypatch
):
    """tuner_type full + save_only_model: the checkpoint is the whole model in torch_dtype
    (float32 here), nothing else of size."""
    monkeypatch.chdir(tmp_path)
    data = write_rows(tmp_path / "rows.json", 4)
    path = _recipe(
        tmp_path, tiny_model, data,
        "tuner_type: full\ntorch_dtype: float32\nmax_steps: 1\nsave_only_model: true\n",
    )  # fmt: skip
    plan = make_plan(load_recipe(str(path)), environ={})
    assert plan.errors == ()
    sft_in_process([*CPU_SFT_FLAGS, *swift_argv(plan.args)])
    folder = find_run_dir(tmp_path / "out") / "checkpoint-1"
    weights = sum(p.stat().st_size for p in folder.glob("model*.safetensors"))
    c = plan.memory.checkpoint
    assert c.weights_bytes == plan.memory.param_count * 4 and c.optimizer_bytes == 0
    assert abs(weights - c.weights_bytes) < 0.02 * c.weights_bytes + 16 * 1024
    assert not (folder / "optimizer.pt").exists()
