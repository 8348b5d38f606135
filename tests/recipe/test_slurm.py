"""SLURM's variables read as a torchrun layout: compact host lists (SLURM's hostlist syntax:
comma-separated names, bracketed numbers and ranges keeping their zero padding), the port from the
job id, GPUs per node. No SLURM installation: the variables are set by hand."""

import pytest

from swiftkit.recipe.slurm import expand_hostlist, gpus_on_node, port_for_job, slurm_layout


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("gpu[01-02]", ["gpu01", "gpu02"]),
        ("gpu01", ["gpu01"]),
        ("gpu[01-02,05]", ["gpu01", "gpu02", "gpu05"]),
        ("a[1-3]b", ["a1b", "a2b", "a3b"]),
        ("gpu[08-11]", ["gpu08", "gpu09", "gpu10", "gpu11"]),
        ("node[9-10]", ["node9", "node10"]),
        ("n[1-2]-ib[0-1]", ["n1-ib0", "n1-ib1", "n2-ib0", "n2-ib1"]),
        ("cpu1,gpu[3,1],login", ["cpu1", "gpu3", "gpu1", "login"]),
        ("127.0.0.[1-2]", ["127.0.0.1", "127.0.0.2"]),
        ("dgx-a100-[001-002]", ["dgx-a100-001", "dgx-a100-002"]),
    ],
)
def test_expand_hostlist(text, hosts):
    assert expand_hostlist(text) == hosts


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("gpu[01-", "an unclosed '[' in 'gpu[01-'"),
        ("gpu01]", "an unopened ']' in 'gpu01]'"),
        ("gpu[02-01]", "the range '02-01' in 'gpu[02-01]' runs backwards"),
        ("gpu[a-b]", "'a-b' in 'gpu[a-b]' is not a number or a range like 01-04"),
        ("gpu1,,gpu2", "an empty host name"),
    ],
)
def test_expand_hostlist_refuses(text, why):
    with pytest.raises(ValueError) as e:
        expand_hostlist(text)
    assert str(e.value) == why


def test_port_follows_lightning():
    # lightning SLURMEnvironment.main_port: 15000 + int(job_id[-4:])
    assert port_for_job("4242123") == 17123
    assert port_for_job("77") == 15077
    assert port_for_job("10000") == 15000


@pytest.mark.parametrize(
    ("environ", "found"),
    [
        ({"SLURM_GPUS_ON_NODE": "8", "SLURM_GPUS_PER_NODE": "4"}, (8, "SLURM_GPUS_ON_NODE")),
        ({"SLURM_GPUS_PER_NODE": "a100:4"}, (4, "SLURM_GPUS_PER_NODE")),
        ({"SLURM_GPUS_PER_NODE": "a100:2,v100:1"}, (3, "SLURM_GPUS_PER_NODE")),
        ({"CUDA_VISIBLE_DEVICES": "0,1,2,3"}, (4, "CUDA_VISIBLE_DEVICES")),
        ({"CUDA_VISIBLE_DEVICES": "NoDevFiles"}, None),
        ({}, None),
    ],
)
def test_gpus_on_node(environ, found):
    assert gpus_on_node(environ) == found


def test_no_layout_outside_an_allocation():
    assert slurm_layout({"SLURM_NNODES": "2"}) is None


def test_layout_of_a_two_node_job():
    layout = slurm_layout(
        {
            "SLURM_JOB_ID": "4242123",
            "SLURM_JOB_NUM_NODES": "2",
            "SLURM_NODEID": "1",
            "SLURM_JOB_NODELIST": "gpu[01-02]",
            "SLURM_GPUS_PER_NODE": "h100:8",
        }
    )
    assert layout.hosts == ("gpu01", "gpu02")
    assert dict(layout.values) == {
        "NNODES": ("2", "SLURM_JOB_NUM_NODES"),
        "MASTER_ADDR": ("gpu01", "the first host of SLURM_JOB_NODELIST=gpu[01-02]"),
        "NODE_RANK": ("1", "SLURM_NODEID"),
        "MASTER_PORT": ("17123", "15000 + the last 4 digits of SLURM_JOB_ID"),
        "NPROC_PER_NODE": ("8", "SLURM_GPUS_PER_NODE"),
    }
    assert layout.problems == ()


def test_unreadable_node_list_is_a_problem():
    layout = slurm_layout({"SLURM_JOB_ID": "7", "SLURM_NNODES": "x", "SLURM_NODELIST": "g[1-"})
    assert layout.problems == (
        "SLURM_NNODES is not a node count (got 'x'). Set NNODES to the number of nodes.",
        "SLURM_NODELIST cannot be read (an unclosed '[' in 'g[1-'; got 'g[1-'). Set MASTER_ADDR "
        "to the first node's address.",
    )
