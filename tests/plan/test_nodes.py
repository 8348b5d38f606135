"""The plan across nodes: world size, effective batch, one row per node (host, global ranks,
batches), memory per GPU, and the launch sources in --json."""

from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe

SLURM = {
    "SLURM_JOB_ID": "4242123",
    "SLURM_NNODES": "2",
    "SLURM_NODEID": "1",
    "SLURM_JOB_NODELIST": "gpu[01-02]",
    "SLURM_GPUS_ON_NODE": "8",
}


def test_two_nodes_of_eight_gpus(in_repo):
    one_node = {"NPROC_PER_NODE": "16"}
    one = make_plan(load_recipe("qwen7b_selfcog"), gpus=["A100-80G"], environ=one_node)
    plan = make_plan(load_recipe("qwen7b_selfcog"), gpus=["A100-80G"], environ=SLURM)
    assert plan.errors == ()
    assert plan.world_size == 16
    s = plan.schedule
    assert s.effective_batch_size == 1 * 16 * 16
    rows = [
        (n.node_rank, n.host, n.processes, n.first_global_rank, n.last_global_rank, n.is_this_node)
        for n in plan.nodes
    ]
    assert rows == [(0, "gpu01", 8, 0, 7, False), (1, "gpu02", 8, 8, 15, True)]
    assert all(n.batches_per_epoch == 8 * s.batches_per_epoch for n in plan.nodes)
    # Memory is per GPU and depends on the world size only, not on how it splits into nodes.
    assert plan.memory.estimate.device_bytes == one.memory.estimate.device_bytes

    data = plan.to_json()
    assert (data["nnodes"], data["nproc_per_node"], data["node_rank"]) == (2, 8, 1)
    assert data["launch"]["MASTER_ADDR"] == {
        "value": "gpu01",
        "source": "SLURM",
        "detail": "the first host of SLURM_JOB_NODELIST=gpu[01-02]",
        "recipe_value": None,
    }
    assert data["run_id"] == {
        "value": "slurm-4242123",
        "source": "SLURM",
        "detail": "SLURM_JOB_ID",
        "recipe_value": None,
    }
    assert data["nodes"][1] == {
        "node_rank": 1,
        "host": "gpu02",
        "processes": 8,
        "first_global_rank": 8,
        "last_global_rank": 15,
        "batches_per_epoch": 8 * s.batches_per_epoch,
        "is_master": False,
        "is_this_node": True,
    }


def test_one_process_has_one_node_row(in_repo):
    plan = make_plan(load_recipe("qwen7b_selfcog"), gpus=["4090D"], environ={})
    assert [(n.node_rank, n.host, n.processes) for n in plan.nodes] == [(0, "127.0.0.1", 1)]
    assert plan.to_json()["run_id"] is None


def test_process_environment_overrides_the_recipe_env_in_the_plan(tmp_path, monkeypatch):
    """issue 11 item 12: `CUDA_VISIBLE_DEVICES=1 swiftkit train R` uses card 1, and says so."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "r.yaml").write_text(
        "model: Qwen/Qwen2.5-0.5B-Instruct\ndataset: AI-ModelScope/alpaca-gpt4-data-en\n"
        "env:\n  CUDA_VISIBLE_DEVICES: 0\n",
        encoding="utf-8",
    )
    plan = make_plan(load_recipe("r"), environ={"CUDA_VISIBLE_DEVICES": "1"})
    assert plan.env["CUDA_VISIBLE_DEVICES"] == "1"
    assert plan.to_json()["launch"]["CUDA_VISIBLE_DEVICES"] == {
        "value": "1",
        "source": "process environment",
        "detail": None,
        "recipe_value": "0",
    }
    assert (
        f"{tmp_path}/recipes/r.yaml: env CUDA_VISIBLE_DEVICES is '0' in the recipe but '1' in the "
        "process environment; using '1', as swift does with a config file's ENV "
        "(swift/cli/main.py parse_yaml_args). Unset CUDA_VISIBLE_DEVICES to use the recipe's "
        "value."
    ) in plan.warnings
