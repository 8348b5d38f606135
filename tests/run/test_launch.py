"""How a run is started: in-process or under torchrun, decided as `swift sft` decides it."""

from pathlib import Path

import pytest

from swiftkit.run.launch import LaunchSpec


@pytest.mark.parametrize(
    ("env", "distributed"),
    [
        ({}, False),
        ({"CUDA_VISIBLE_DEVICES": "0"}, False),
        ({"NPROC_PER_NODE": "1"}, True),  # swift/cli/main.py use_torchrun: set is enough
        ({"NPROC_PER_NODE": "2"}, True),
        ({"NNODES": "1"}, True),
    ],
)
def test_torchrun_whenever_a_launcher_variable_is_set(env, distributed):
    assert LaunchSpec(Path("/runs/v0"), (), env).distributed is distributed
