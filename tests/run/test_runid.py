"""One run directory for every node: node 0 creates it and records the run id last, the others
find it by the id or stop with a clear error; an id never names two runs; resumed nodes keep
their own rank and address. Fast: no training (tests/run/test_multinode.py trains)."""

import json
import threading
import time
from pathlib import Path

import pytest

from swiftkit.cli.main import main
from swiftkit.errors import LaunchError, RecipeError
from swiftkit.run.resume import node_env
from swiftkit.run.runid import (
    find_run,
    record_run_id,
    refuse_used_run_id,
    run_id_of,
    wait_for_run,
)

REPO = Path(__file__).resolve().parents[2]


def make_run(root: Path, name: str, run_id: str | None) -> Path:
    run = root / name
    (run / "swiftkit").mkdir(parents=True)
    if run_id is not None:
        record_run_id(run, run_id)
    return run


def test_find_run_by_id(tmp_path):
    make_run(tmp_path, "v0-20250101-000000", "a")
    b = make_run(tmp_path, "v1-20250101-000100", "b")
    make_run(tmp_path, "v2-20250101-000200", None)
    assert find_run(tmp_path, "b") == b
    assert find_run(tmp_path, "c") is None
    assert run_id_of(b) == "b"
    assert not list((b / "swiftkit").glob(".run_id.*"))  # written through a temporary file


def test_run_id_of_add_version_false_is_the_output_dir(tmp_path):
    record_run_id(tmp_path, "flat")
    assert find_run(tmp_path, "flat") == tmp_path


def test_a_used_run_id_is_refused_for_a_new_run(tmp_path):
    run = make_run(tmp_path, "v0-20250101-000000", "job-1")
    with pytest.raises(RecipeError) as e:
        refuse_used_run_id(tmp_path, "job-1")
    assert str(e.value) == (
        f"{run}: run id 'job-1' already names this run. Give every node a new run id "
        "(--run-id or SWIFTKIT_RUN_ID) for a new run, or add --resume on every node to continue "
        "this one."
    )
    refuse_used_run_id(tmp_path, "job-2")  # a fresh id is fine


def test_other_nodes_wait_for_node_0(tmp_path):
    def node_0_creates_it_later():
        time.sleep(1.0)
        make_run(tmp_path, "v0-20250101-000000", "job-7")

    threading.Thread(target=node_0_creates_it_later).start()
    start = time.monotonic()
    found = wait_for_run(tmp_path, "job-7", node_rank=1, timeout=30)
    assert found == tmp_path / "v0-20250101-000000"
    assert 0.9 < time.monotonic() - start < 10


def test_waiting_ends_with_a_clear_error(tmp_path):
    with pytest.raises(LaunchError) as e:
        wait_for_run(tmp_path, "job-8", node_rank=1, timeout=0.6)
    assert e.value.exit_code == 1
    assert str(e.value) == (
        f"node 1: no run directory with run id 'job-8' appeared under {tmp_path} within 0.6 s. "
        "Node 0 creates it: start node 0 with the same recipe, output_dir and run id, on a "
        "filesystem every node shares (SWIFTKIT_RUN_DIR_TIMEOUT sets how long the other nodes "
        "wait)."
    )


def test_an_ended_run_is_not_joined(tmp_path):
    run = make_run(tmp_path, "v0-20250101-000000", "job-9")
    (run / "swiftkit" / "exit.json").write_text(json.dumps({"exit_code": 0, "reason": "finished"}))
    with pytest.raises(LaunchError) as e:
        wait_for_run(tmp_path, "job-9", node_rank=1, timeout=5)
    assert str(e.value) == (
        f"{run}: the run with run id 'job-9' has already ended (exit code 0: finished). A new "
        "run needs a new run id on every node; to continue this one, add --resume on every node."
    )


def test_resumed_node_keeps_its_own_rank_and_the_runs_world_size():
    recorded = {"NNODES": "2", "NODE_RANK": "0", "MASTER_ADDR": "gpu01", "MASTER_PORT": "17123"}
    current = {"NNODES": "4", "NODE_RANK": "1", "MASTER_ADDR": "gpu07", "OMP_NUM_THREADS": "8"}
    env, notices = node_env(recorded, current)
    assert env == {
        "NNODES": "2",
        "NODE_RANK": "1",
        "MASTER_ADDR": "gpu07",
        "MASTER_PORT": "17123",
        "OMP_NUM_THREADS": "8",
    }
    assert notices == [
        "resuming with the recorded NNODES=2 (it is 4 now): a resumed run keeps its world size"
    ]


# ---------------------------------------------------------------- through `swiftkit train`


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "recipes").mkdir()
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    (tmp_path / "data.jsonl").write_text((json.dumps(row) + "\n") * 8)
    (tmp_path / "recipes" / "r.yaml").write_text(
        "model: Qwen/Qwen2.5-0.5B-Instruct\ndataset: data.jsonl\ntorch_dtype: float32\n"
        "use_cpu: true\noutput_dir: out\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NNODES", "2")
    monkeypatch.setenv("MASTER_PORT", "29555")
    return tmp_path


def test_several_nodes_need_a_run_id(project, capsys):
    code = main(["train", "r"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.endswith(
        f"{project}/recipes/r.yaml: NNODES=2: every node must find the same run directory, so "
        "give them all the same run id: --run-id ID or SWIFTKIT_RUN_ID=ID (e.g. r-0501). Inside a "
        "SLURM job it is slurm-$SLURM_JOB_ID.\n"
    )
    assert not (project / "out").exists()


def test_node_1_without_node_0_stops_after_the_timeout(project, capsys, monkeypatch):
    monkeypatch.setenv("NODE_RANK", "1")
    monkeypatch.setenv("SWIFTKIT_RUN_DIR_TIMEOUT", "0.5")
    code = main(["train", "r", "--run-id", "lonely"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"node 1: no run directory with run id 'lonely' appeared under {project}/out" in err
    assert not (project / "out").exists() or not any((project / "out").iterdir())


@pytest.mark.parametrize(("rank", "writes"), [("0", True), ("1", False)])
def test_only_node_0_writes_the_run_markers(tmp_path, monkeypatch, rank, writes):
    from swiftkit.run import train
    from swiftkit.run.launch import LaunchSpec

    seen = {}
    monkeypatch.setattr(train, "start_run", lambda spec: seen.update(pid=(prov / "pid").exists()))
    prov = tmp_path / "swiftkit"
    spec = LaunchSpec(tmp_path, ("--model", "m"), {"NNODES": "2", "NODE_RANK": rank})
    assert train.run_and_record(spec) == (0, None)
    assert seen["pid"] is writes  # node 0 marks the run live while it trains
    assert (prov / "exit.json").exists() is writes
