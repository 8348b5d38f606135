"""make_plan with the launch layout, sequence parallel, max_epochs, ZeRO offload and checkpoint
sizes (issue 11): the numbers and the messages."""

import json
import math

import pytest

from swiftkit.memory.estimate import GIB
from swiftkit.plan.plan import make_plan
from swiftkit.plan.stepchecks import lr_fraction
from swiftkit.recipe.recipe import load_recipe


def write_rows(path, n):
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    path.write_text(json.dumps([row] * n), encoding="utf-8")


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_rows(tmp_path / "d.json", 45)
    return tmp_path


def plan_of(project, body, environ=None, **kwargs):
    path = project / "r.yaml"
    path.write_text("dataset: d.json\n" + body, encoding="utf-8")
    return make_plan(load_recipe(str(path)), environ=environ or {}, **kwargs), path.resolve()


def test_issue_example_45_rows_2_processes_makes_11_updates(project):
    plan, _ = plan_of(project, "model: Qwen/Qwen2.5-0.5B-Instruct\ngradient_accumulation_steps: 2\n"
                      "num_train_epochs: 1\nenv:\n  NPROC_PER_NODE: 2\n")  # fmt: skip
    s = plan.schedule
    assert (s.rows_per_process, s.batches_per_epoch, s.max_steps, s.last_step) == (22, 22, 11, 11)
    data = plan.to_json()
    assert (data["rows_per_process"], data["last_step"], data["max_steps"]) == (22, 11, 11)


def test_fewer_rows_than_processes_is_refused(project):
    write_rows(project / "d.json", 3)
    plan, path = plan_of(project, "model: m\nenv:\n  NPROC_PER_NODE: 4\n")
    assert plan.errors == (
        f"{path}: 3 training rows cannot be shared by 4 processes (got NPROC_PER_NODE x NNODES = "
        "4): swift gives each process N // W = 0 rows (swift/dataloader/shard.py "
        "BatchSamplerShard) and the trainer stops at start-up. Use fewer processes or more rows.",
    )


def test_max_epochs_ends_the_plan_and_warns_about_the_lr(project):
    plan, path = plan_of(project, "model: m\ngradient_accumulation_steps: 5\nnum_train_epochs: 3\n"
                         "max_epochs: 1\nwarmup_ratio: 0.1\n")  # fmt: skip
    s = plan.schedule
    assert (s.max_steps, s.last_step, s.warmup_steps, s.save_steps_at) == (27, 9, 3, (9,))
    share = lr_fraction(9, 27, 3, "cosine")
    assert share == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))  # cosine, 6 of 24 after warmup
    assert plan.warnings[-1] == (
        f"{path}:5: max_epochs stops training at step 9 of 27 (got max_epochs 1, "
        "num_train_epochs 3): max_steps, warmup and the cosine learning-rate schedule are sized "
        f"for num_train_epochs, so the learning rate is still at {share:.0%} of its peak when it "
        "stops. Set num_train_epochs: 1 instead."
    )
    assert plan.to_json()["last_step"] == 9


def test_sequence_parallel_8_on_8_gpus(project):
    """SP 8 on 8 GPUs: one data-parallel rank, every row on it (8x the updates DDP makes), and
    each GPU holds 1/8 of the sequence. Qwen2.5-7B has 4 key-value heads: SP 8 = Ulysses 4 x
    ring 2, which swift refuses without padding_free."""
    body = ("model: Qwen/Qwen2.5-7B-Instruct\ngradient_accumulation_steps: 1\nnum_train_epochs: 1\n"
            "max_length: 4096\nsequence_parallel_size: 8\nenv:\n  NPROC_PER_NODE: 8\n")  # fmt: skip
    plan, path = plan_of(project, body)
    assert plan.errors[0].startswith(
        f"{path}:6: sequence_parallel_size needs padding_free: true with this model (got 8, and "
        "the model has 4 key-value heads): swift splits the heads over gcd(4, 8) = 4 GPUs and "
        "the rest (2) becomes ring attention"
    )
    plan, _ = plan_of(project, body + "padding_free: true\nattn_impl: flash_attn\n")
    ddp, _ = plan_of(
        project, body.replace("sequence_parallel_size: 8", "sequence_parallel_size: 1")
    )
    assert plan.errors == ()
    assert (plan.schedule.max_steps, ddp.schedule.max_steps) == (45, 5)
    assert (plan.schedule.effective_batch_size, ddp.schedule.effective_batch_size) == (1, 8)
    assert plan.memory.sequence_parallel == 8
    assert plan.memory.estimate.seq_len_tokens * 8 >= ddp.memory.estimate.seq_len_tokens
    assert plan.memory.estimate.device_bytes < ddp.memory.estimate.device_bytes


def test_device_map_plans_memory_per_gpu(project):
    body = "model: Qwen/Qwen2.5-7B-Instruct\ntuner_type: full\nmax_length: 2048\n"
    one, _ = plan_of(project, body, environ={"CUDA_VISIBLE_DEVICES": "0"})
    two, _ = plan_of(project, body, environ={"CUDA_VISIBLE_DEVICES": "0,1"})
    assert (one.memory.gpus_per_process, two.memory.gpus_per_process) == (1, 2)
    assert two.memory.estimate.device_bytes < 0.6 * one.memory.estimate.device_bytes
    assert two.to_json()["memory"]["gpus_per_process"] == 2
    assert any(n.startswith("each process sees 2 GPUs") for n in two.notes)


def test_zero3_offload_shows_cpu_ram_for_the_node(project):
    body = ("model: Qwen/Qwen3-8B\ntuner_type: full\nmax_length: 2048\ndeepspeed: zero3_offload\n"
            "env:\n  NPROC_PER_NODE: 2\n")  # fmt: skip
    plan, _ = plan_of(project, body)
    per_process = plan.memory.estimate.cpu_offload_bytes
    assert per_process > 60 * GIB and plan.memory.cpu_offload_bytes == 2 * per_process
    assert plan.to_json()["memory"]["cpu_offload_bytes"] == 2 * per_process


def test_full_qwen3_8b_save_only_model_checkpoint_is_15_gib(project):
    """The issue: sized at 137 GiB per checkpoint (the per-GPU optimizer states at 16 B/param),
    which made `train` refuse for lack of disk."""
    body = ("model: Qwen/Qwen3-8B\ntuner_type: full\nsave_only_model: true\ndeepspeed: zero3\n"
            "save_steps: 1\nsave_total_limit: 0\nenv:\n  NPROC_PER_NODE: 2\n")  # fmt: skip
    plan, _ = plan_of(project, body)
    d = plan.disk
    assert 15 * GIB < d.checkpoint_bytes < 15.5 * GIB
    assert d.checkpoints_at_once == plan.schedule.max_steps  # limit 0: every checkpoint kept
    assert plan.to_json()["memory"]["checkpoint"]["optimizer_bytes"] == 0
