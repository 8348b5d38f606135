"""Launch layouts ms-swift 4.6 refuses or changes: GPUs per process (swift/utils/env.py is_mp),
DeepSpeed/FSDP/liger with device_map (sft_args.py _init_deepspeed, _init_fsdp,
trainers/arguments.py __post_init__), sequence parallel meshes (_init_device_mesh)."""

from pathlib import Path

import pytest

from swiftkit.recipe.layout import count_visible, plan_layout
from swiftkit.recipe.recipe import launch_env, load_recipe
from swiftkit.recipe.swiftargs import resolve_args, world_size_from_env

PUBLIC = Path(__file__).resolve().parents[1] / "fixtures" / "public"


def layout_of(tmp_path, body, environ=None, detected=None):
    path = tmp_path / "r.yaml"
    path.write_text("model: m\ndataset: d.json\n" + body, encoding="utf-8")
    recipe = load_recipe(str(path))
    env = launch_env(recipe, environ or {})
    world, _ = world_size_from_env(env)
    errors, notes = [], []
    resolved = resolve_args(recipe.args, world_size=world)
    layout = plan_layout(recipe, resolved, env, world_size=world, detected_gpus=detected,
                         base_dir=tmp_path, errors=errors, notes=notes)  # fmt: skip
    return layout, errors, notes, path.resolve()


@pytest.mark.parametrize(
    ("value", "count"),
    [("0,1,2,3", 4), ("", 0), ("-1", 0), ("0,-1,2", 1), ("GPU-8f2a,GPU-77c1", 2), ("3", 1)],
)
def test_count_visible_follows_cuda(value, count):
    assert count_visible(value) == count


def test_public_issue_5328_deepspeed_on_eight_gpus_in_one_process(tmp_path):
    """The script's blank line drops NPROC_PER_NODE and CUDA_VISIBLE_DEVICES: one process, 8 GPUs,
    device_map, and swift's 'DeepSpeed is not compatible with `device_map`'."""
    script = (PUBLIC / "ms-swift-issue-5328.sh").read_text(encoding="utf-8")
    assert "\\\n\nswift sft" in script and "--deepspeed zero2" in script
    layout, errors, _, path = layout_of(tmp_path, "deepspeed: zero2\n", environ={}, detected=8)
    assert layout.gpus_per_process == 8
    assert errors == [
        f"{path}:3: deepspeed cannot be used when one process holds 8 GPUs (got deepspeed "
        "'zero2' with 8 GPUs detected (CUDA_VISIBLE_DEVICES not set), NPROC_PER_NODE 1 (not "
        "set)): swift then splits the model with device_map and refuses DeepSpeed "
        "(swift/arguments/sft_args.py _init_deepspeed). Set NPROC_PER_NODE: 8 (one process per "
        "GPU), or list 1 GPU in CUDA_VISIBLE_DEVICES."
    ]
    fixed, errors, _, _ = layout_of(
        tmp_path, "deepspeed: zero2\n", environ={"NPROC_PER_NODE": "8"}, detected=8
    )
    assert errors == [] and fixed.gpus_per_process == 1 and fixed.world_size == 8


def test_gpus_not_a_multiple_of_processes_is_refused_naming_both(tmp_path):
    _, errors, _, path = layout_of(
        tmp_path, "env:\n  NPROC_PER_NODE: 2\n", environ={"CUDA_VISIBLE_DEVICES": "0,1,2"}
    )
    assert errors == [
        f"{path}: 3 visible GPUs cannot be shared by 2 processes (got CUDA_VISIBLE_DEVICES "
        "'0,1,2' (from the environment, 3 GPUs), NPROC_PER_NODE 2 (from the recipe's env: "
        "block)): swift asserts n_gpu % NPROC_PER_NODE == 0 (swift/utils/env.py is_mp). Set "
        "NPROC_PER_NODE to one of 1, 3, or make CUDA_VISIBLE_DEVICES list a multiple of 2 GPUs."
    ]


def test_two_gpus_per_process_splits_the_model_and_refuses_liger_and_fsdp(tmp_path):
    env = {"CUDA_VISIBLE_DEVICES": "0,1,2,3", "NPROC_PER_NODE": "2"}
    layout, errors, notes, _ = layout_of(tmp_path, "", environ=env)
    assert (layout.gpus_per_process, layout.world_size, errors) == (2, 2, [])
    assert notes[0].startswith("each process sees 2 GPUs (CUDA_VISIBLE_DEVICES '0,1,2,3'")
    assert notes[0].endswith("For data parallel training set NPROC_PER_NODE: 4")
    _, errors, _, _ = layout_of(tmp_path, "use_liger_kernel: true\nfsdp: fsdp2\n", environ=env)
    assert [e.split(": ", 1)[1].split(" cannot")[0] for e in errors] == ["fsdp", "use_liger_kernel"]
    assert "refuses FSDP (swift/arguments/sft_args.py _init_fsdp)" in errors[0]


def test_single_device_mode_turns_the_split_off(tmp_path):
    env = {"CUDA_VISIBLE_DEVICES": "0,1,2"}
    layout, errors, _, _ = layout_of(
        tmp_path, "deepspeed: zero2\nenv:\n  SWIFT_SINGLE_DEVICE_MODE: '1'\n", environ=env
    )
    assert (layout.gpus_per_process, errors) == (1, [])


def test_sequence_parallel_ranks_and_a_size_that_does_not_divide(tmp_path):
    layout, errors, _, _ = layout_of(
        tmp_path, "sequence_parallel_size: 8\nenv:\n  NPROC_PER_NODE: 8\n"
    )
    assert (layout.data_parallel_size, layout.sequence_parallel, errors) == (1, 8, [])
    _, errors, _, path = layout_of(
        tmp_path, "sequence_parallel_size: 4\nenv:\n  NPROC_PER_NODE: 6\n"
    )
    assert errors == [
        f"{path}:3: sequence_parallel_size must divide the number of processes (got 4 with 6 = "
        "NPROC_PER_NODE x NNODES): swift builds a (data, sequence) device mesh of 6 // 4 x 4 "
        "(swift/sequence_parallel/sequence_parallel.py _init_device_mesh). Use a divisor of 6, "
        "or change NPROC_PER_NODE."
    ]


def test_bad_deepspeed_value_is_reported_at_its_line(tmp_path):
    _, errors, _, path = layout_of(tmp_path, "deepspeed: default-zero3\n")
    assert errors[0].startswith(f"{path}:3: deepspeed is not a swift 4.6 preset")
    assert errors[0].endswith("write deepspeed: zero3.")


def test_deepspeed_without_a_launcher_variable_is_noted(tmp_path):
    """swift runs torchrun only when NPROC_PER_NODE or NNODES is set (swift/cli/main.py
    use_torchrun); DeepSpeed in one plain process gets no LOCAL_RANK."""
    _, errors, notes, path = layout_of(tmp_path, "deepspeed: zero2\n", environ={}, detected=1)
    assert errors == []
    assert [n for n in notes if "LOCAL_RANK" in n] == [
        f"{path}:3: deepspeed with neither NPROC_PER_NODE nor NNODES set: swift then trains in one "
        "process without torchrun (swift/cli/main.py use_torchrun), and accelerate sets up "
        "DeepSpeed's distributed state only when LOCAL_RANK is set (accelerate/state.py "
        "PartialState). Set env: {NPROC_PER_NODE: 1} to run it under torchrun"
    ]
    _, _, notes, _ = layout_of(
        tmp_path, "deepspeed: zero2\nenv:\n  NPROC_PER_NODE: 1\n", environ={}, detected=1
    )
    assert not [n for n in notes if "LOCAL_RANK" in n]
