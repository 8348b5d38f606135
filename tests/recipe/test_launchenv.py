"""Launch values and their sources: process environment over the recipe's env: (as swift treats a
config file's ENV:), SLURM where neither sets a value, then torchrun's defaults; the run id."""

import pytest

from swiftkit.recipe.launchenv import resolve_launch_env

SLURM_2_NODES = {
    "SLURM_JOB_ID": "4242123",
    "SLURM_NNODES": "2",
    "SLURM_NODEID": "1",
    "SLURM_JOB_NODELIST": "gpu[01-02]",
    "SLURM_GPUS_ON_NODE": "8",
}


def sources(launch):
    return {name: (v.value, v.describe()) for name, v in launch.values.items()}


def test_process_environment_wins_with_a_warning():
    """swift/cli/main.py parse_yaml_args: a variable already set wins over the file's ENV."""
    launch = resolve_launch_env(
        {"CUDA_VISIBLE_DEVICES": "0", "OMP_NUM_THREADS": "4"},
        {"CUDA_VISIBLE_DEVICES": "1", "HOME": "/root"},
        recipe_path="recipes/r.yaml",
    )
    assert launch.env == {"CUDA_VISIBLE_DEVICES": "1", "OMP_NUM_THREADS": "4"}
    assert sources(launch)["CUDA_VISIBLE_DEVICES"] == (
        "1",
        "process environment (the recipe's env: says '0')",
    )
    assert sources(launch)["OMP_NUM_THREADS"] == ("4", "recipe env:")
    assert sources(launch)["NPROC_PER_NODE"] == ("1", "default")
    assert launch.warnings == (
        "recipes/r.yaml: env CUDA_VISIBLE_DEVICES is '0' in the recipe but '1' in the process "
        "environment; using '1', as swift does with a config file's ENV (swift/cli/main.py "
        "parse_yaml_args). Unset CUDA_VISIBLE_DEVICES to use the recipe's value.",
    )


def test_same_value_in_both_is_no_warning():
    launch = resolve_launch_env({"NPROC_PER_NODE": "2"}, {"NPROC_PER_NODE": "2"})
    assert launch.warnings == ()
    assert launch.values["NPROC_PER_NODE"].describe() == "process environment"


def test_secret_values_are_never_in_warnings():
    launch = resolve_launch_env({"HF_TOKEN": "hf_recipe"}, {"HF_TOKEN": "hf_process"})
    assert "hf_" not in " ".join(launch.warnings)
    assert launch.to_json()["HF_TOKEN"]["value"] == "<redacted>"
    assert launch.env["HF_TOKEN"] == "hf_process"  # the run itself gets the real value


def test_slurm_fills_the_layout():
    launch = resolve_launch_env({}, {**SLURM_2_NODES, "CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7"})
    assert sources(launch) == {
        "CUDA_VISIBLE_DEVICES": ("0,1,2,3,4,5,6,7", "process environment"),
        "NPROC_PER_NODE": ("8", "SLURM (SLURM_GPUS_ON_NODE)"),
        "NNODES": ("2", "SLURM (SLURM_NNODES)"),
        "NODE_RANK": ("1", "SLURM (SLURM_NODEID)"),
        "MASTER_ADDR": ("gpu01", "SLURM (the first host of SLURM_JOB_NODELIST=gpu[01-02])"),
        "MASTER_PORT": ("17123", "SLURM (15000 + the last 4 digits of SLURM_JOB_ID)"),
    }
    assert (launch.nnodes, launch.node_rank, launch.nproc_per_node) == (2, 1, 8)
    assert launch.run_id.value == "slurm-4242123"
    assert launch.run_id.describe() == "SLURM (SLURM_JOB_ID)"
    assert launch.hosts == ("gpu01", "gpu02")
    assert launch.problems == ()


def test_one_host_allocation():
    """One node with 4 GPUs: the port is the job's own, so two jobs sharing a node differ."""
    launch = resolve_launch_env(
        {},
        {
            "SLURM_JOB_ID": "900001",
            "SLURM_JOB_NUM_NODES": "1",
            "SLURM_NODEID": "0",
            "SLURM_JOB_NODELIST": "gpu07",
            "SLURM_GPUS_PER_NODE": "4",
        },
    )
    assert sources(launch) == {
        "NPROC_PER_NODE": ("4", "SLURM (SLURM_GPUS_PER_NODE)"),
        "NNODES": ("1", "SLURM (SLURM_JOB_NUM_NODES)"),
        "NODE_RANK": ("0", "SLURM (SLURM_NODEID)"),
        "MASTER_ADDR": ("gpu07", "SLURM (the first host of SLURM_JOB_NODELIST=gpu07)"),
        "MASTER_PORT": ("15001", "SLURM (15000 + the last 4 digits of SLURM_JOB_ID)"),
    }
    assert launch.hosts == ("gpu07",)
    assert launch.run_id is None  # one node needs none; two runs in one allocation stay apart


def test_recipe_and_environment_override_slurm():
    launch = resolve_launch_env(
        {"NPROC_PER_NODE": "4"}, {**SLURM_2_NODES, "MASTER_ADDR": "10.0.0.5"}
    )
    assert sources(launch)["NPROC_PER_NODE"] == ("4", "recipe env:")
    assert sources(launch)["MASTER_ADDR"] == ("10.0.0.5", "process environment")
    assert sources(launch)["NODE_RANK"] == ("1", "SLURM (SLURM_NODEID)")


def test_run_id_sources():
    assert resolve_launch_env({}, {}, run_id="a1").run_id.describe() == "--run-id"
    env_id = resolve_launch_env({}, {"SWIFTKIT_RUN_ID": "b2"}).run_id
    assert (env_id.value, env_id.source) == ("b2", "process environment")
    assert resolve_launch_env({}, {**SLURM_2_NODES}, run_id="mine").run_id.value == "mine"


def test_several_nodes_without_a_run_id_warn():
    launch = resolve_launch_env({}, {"NNODES": "2", "MASTER_ADDR": "gpu01"}, recipe_path="r.yaml")
    assert launch.warnings == (
        "r.yaml: NNODES=2: give every node the same run id (--run-id ID or SWIFTKIT_RUN_ID=ID) "
        "so that they share one run directory; train refuses to start several nodes without one.",
    )


@pytest.mark.parametrize(
    ("environ", "run_id", "problem"),
    [
        (
            {"NNODES": "2", "NODE_RANK": "2"},
            None,
            "env NODE_RANK (process environment) must be below NNODES=2 (got '2'). Number the "
            "nodes 0 to 1.",
        ),
        (
            {"NODE_RANK": "first"},
            None,
            "env NODE_RANK (process environment) must be this node's index, 0 to NNODES - 1 "
            "(got 'first'). Write NODE_RANK=0 on the first node, 1 on the second, ...",
        ),
        (
            {"MASTER_PORT": "70000"},
            None,
            "env MASTER_PORT (process environment) must be a TCP port, 1 to 65535 (got '70000'). "
            "Write e.g. MASTER_PORT=29500, the same on every node.",
        ),
        (
            {},
            "my run",
            "run id 'my run' (--run-id) must be 1-100 letters, digits, '.', '_' or '-', starting "
            "with a letter or digit. Write e.g. --run-id tiny-0501.",
        ),
    ],
)
def test_bad_launch_values_are_problems(environ, run_id, problem):
    assert resolve_launch_env({}, environ, run_id=run_id).problems == (problem,)


def test_several_nodes_without_master_addr_are_warned():
    """torchrun's --master_addr default 127.0.0.1 reaches node 0 only from node 0 itself
    (torch/distributed/run.py); swift/cli/main.py get_torchrun_args passes only what is set."""
    launch = resolve_launch_env({}, {"NNODES": "2", "SWIFTKIT_RUN_ID": "r"}, recipe_path="r.yaml")
    assert launch.warnings == (
        "r.yaml: NNODES=2 but MASTER_ADDR is not set (process environment, recipe env: or "
        "SLURM): torchrun then uses 127.0.0.1 (torch/distributed/run.py --master_addr; "
        "swift/cli/main.py get_torchrun_args passes only the variables that are set), which "
        "reaches node 0 only from node 0 itself, so the other nodes cannot connect. Set "
        "MASTER_ADDR to node 0's address on every node, with the same MASTER_PORT (default "
        "29500).",
    )
    for environ, recipe_env in (
        ({"NNODES": "2", "MASTER_ADDR": "10.0.0.1"}, {}),  # process environment
        ({"NNODES": "2"}, {"MASTER_ADDR": "10.0.0.1"}),  # recipe env:
        (SLURM_2_NODES, {}),  # SLURM: the first host of the node list
        ({"NPROC_PER_NODE": "8"}, {}),  # one node: 127.0.0.1 is right
    ):
        launch = resolve_launch_env(recipe_env, {**environ, "SWIFTKIT_RUN_ID": "r"})
        assert not any("MASTER_ADDR" in w for w in launch.warnings), environ
