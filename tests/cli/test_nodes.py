"""The plan's launch and nodes sections as text, and `train --dry-run` for every node."""

import shlex

from tests.conftest import run_cli as run

SLURM = {
    "SLURM_JOB_ID": "4242123",
    "SLURM_NNODES": "2",
    "SLURM_NODEID": "0",
    "SLURM_JOB_NODELIST": "gpu[01-02]",
    "SLURM_GPUS_ON_NODE": "8",
}


def test_plan_shows_each_launch_value_and_its_source(in_repo, capsys, monkeypatch):
    for k, v in SLURM.items():
        monkeypatch.setenv(k, v)
    code, out, _ = run(["plan", "qwen7b_selfcog", "--gpu", "A100-80G"], capsys)
    assert code == 0
    section = out[out.index("launch:") : out.index("learning rate:")]
    assert section == (
        "launch: 2 nodes x 8 processes = world size 16 (this is node 0)\n"
        "  NPROC_PER_NODE=8   SLURM (SLURM_GPUS_ON_NODE)\n"
        "  NNODES=2           SLURM (SLURM_NNODES)\n"
        "  NODE_RANK=0        SLURM (SLURM_NODEID)\n"
        "  MASTER_ADDR=gpu01  SLURM (the first host of SLURM_JOB_NODELIST=gpu[01-02])\n"
        "  MASTER_PORT=17123  SLURM (15000 + the last 4 digits of SLURM_JOB_ID)\n"
        "  run id: slurm-4242123 (SLURM (SLURM_JOB_ID))\n"
        "nodes:\n"
        "  node 0 gpu01 (master, this node): 8 processes, global ranks 0-7, 24 batches per epoch\n"
        "  node 1 gpu02: 8 processes, global ranks 8-15, 24 batches per epoch\n"
    )
    assert "effective batch: 1 per device x 16 accumulation x 16 processes = 256" in out
    assert "memory (per GPU):" in out


def test_a_plain_one_process_plan_has_no_launch_section(in_repo, capsys):
    code, out, _ = run(["plan", "qwen7b_selfcog", "--gpu", "4090D"], capsys)
    assert code == 0
    assert "launch:" not in out and "nodes:" not in out


def test_dry_run_prints_every_nodes_command(in_repo, capsys, monkeypatch):
    monkeypatch.setenv("NNODES", "2")
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29600")
    code, out, _ = run(["train", "qwen7b_selfcog", "--dry-run", "--run-id", "q7-a"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "# node 0 of 2 (10.0.0.1)"
    assert lines[3] == "# node 1 of 2"
    for rank, swift_line, swiftkit_line in ((0, lines[1], lines[2]), (1, lines[4], lines[5])):
        words = shlex.split(swift_line)
        env = dict(w.split("=", 1) for w in words[: words.index("swift")])
        assert env == {
            "NNODES": "2",
            "NODE_RANK": str(rank),
            "MASTER_ADDR": "10.0.0.1",
            "MASTER_PORT": "29600",
        }
        assert words[words.index("swift") + 1] == "sft"
        assert swiftkit_line == (
            "#   through swiftkit (one shared run directory): SWIFTKIT_RUN_ID=q7-a NNODES=2 "
            f"NODE_RANK={rank} MASTER_ADDR=10.0.0.1 MASTER_PORT=29600 python -m swiftkit train "
            "qwen7b_selfcog"
        )
    assert len(lines) == 6


def test_dry_run_without_a_run_id_suggests_one(in_repo, capsys, monkeypatch):
    monkeypatch.setenv("NNODES", "2")
    code, out, _ = run(["train", "qwen7b_selfcog", "--dry-run"], capsys)
    assert code == 0
    assert out.splitlines()[-1].startswith("# no run id was given: qwen7b_selfcog-")
    assert out.count("SWIFTKIT_RUN_ID=qwen7b_selfcog-") == 2


def test_dry_run_without_master_addr_writes_a_placeholder(in_repo, capsys, monkeypatch):
    """Node 1 needs node 0's address: the commands say so instead of leaving torchrun's
    127.0.0.1 (which only node 0 reaches), and the warning is on stderr."""
    monkeypatch.setenv("NNODES", "2")
    code, out, err = run(["train", "qwen7b_selfcog", "--dry-run", "--run-id", "q7-a"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "# node 0 of 2" and lines[3] == "# node 1 of 2"  # no 127.0.0.1 host
    for swift_line in (lines[1], lines[4]):
        words = shlex.split(swift_line)
        env = dict(w.split("=", 1) for w in words[: words.index("swift")])
        assert env["MASTER_ADDR"] == "<node-0-address>" and env["MASTER_PORT"] == "29500"
    assert "MASTER_ADDR='<node-0-address>' MASTER_PORT=29500 python -m swiftkit train" in lines[5]
    assert lines[-1] == (
        "# MASTER_ADDR is not set: replace <node-0-address> with node 0's address (the same on "
        "every node)"
    )
    assert "NNODES=2 but MASTER_ADDR is not set" in err


def test_plan_without_master_addr_warns_and_names_no_host(in_repo, capsys, monkeypatch):
    monkeypatch.setenv("NNODES", "2")
    monkeypatch.setenv("NPROC_PER_NODE", "8")
    code, out, _ = run(["plan", "qwen7b_selfcog"], capsys)
    assert code == 0
    assert "  node 0 ? (master, this node): 8 processes" in out
    assert "NNODES=2 but MASTER_ADDR is not set" in out[out.index("warnings:") :]
