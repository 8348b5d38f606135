"""A misspelt launch variable in env: is a warning naming its line, never an error."""

from swiftkit.plan.plan import make_plan
from swiftkit.recipe.envnames import READ_BY, env_name_warnings
from swiftkit.recipe.recipe import load_recipe


def test_near_misses_of_what_swift_and_torchrun_read():
    got = env_name_warnings(
        {"NPROC_PER_NODES": "r.yaml:7", "CUDA_VISIBLE_DEVICE": "r.yaml:8", "nnodes": "r.yaml:9"}
    )
    assert got == [
        "r.yaml:7: env NPROC_PER_NODES is not a variable swift or torchrun reads (names are "
        "case-sensitive). Did you mean NPROC_PER_NODE (read in swift/cli/main.py)?",
        "r.yaml:8: env CUDA_VISIBLE_DEVICE is not a variable swift or torchrun reads (names are "
        "case-sensitive). Did you mean CUDA_VISIBLE_DEVICES (read in swift/cli/utils.py)?",
        "r.yaml:9: env nnodes is not a variable swift or torchrun reads (names are "
        "case-sensitive). Did you mean NNODES (read in swift/cli/main.py)?",
    ]


def test_other_variables_are_left_alone():
    names = [*READ_BY, "MKL_NUM_THREADS", "NCCL_DEBUG", "HF_HOME", "WANDB_PROJECT", "MY_FLAG"]
    assert env_name_warnings(dict.fromkeys(names, "r.yaml:1")) == []


def test_the_reported_recipe_warns_and_still_plans(tmp_path):
    (tmp_path / "d.jsonl").write_text(
        '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n',
        encoding="utf-8",
    )
    path = tmp_path / "misc.yaml"
    path.write_text(
        "model: Qwen/Qwen2.5-7B-Instruct\ndataset: d.jsonl\nenv:\n  NPROC_PER_NODES: 2\n"
        '  CUDA_VISIBLE_DEVICE: "0,1"\n',
        encoding="utf-8",
    )
    plan = make_plan(load_recipe(str(path)), base_dir=tmp_path, environ={})
    assert plan.errors == ()
    assert plan.world_size == 1  # what swift would launch: the typo does nothing
    assert [w for w in plan.warnings if "Did you mean" in w] == [
        f"{path}:4: env NPROC_PER_NODES is not a variable swift or torchrun reads (names are "
        "case-sensitive). Did you mean NPROC_PER_NODE (read in swift/cli/main.py)?",
        f"{path}:5: env CUDA_VISIBLE_DEVICE is not a variable swift or torchrun reads (names are "
        "case-sensitive). Did you mean CUDA_VISIBLE_DEVICES (read in swift/cli/utils.py)?",
    ]
