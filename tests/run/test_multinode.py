"""Two nodes on this machine (loopback, CPU, gloo, the tiny model): one run directory, one set of
checkpoints, the planned number of optimizer updates for world size 2. Then a SLURM job, with
the SLURM variables set by hand and stand-ins for srun and scontrol: the script swiftkit sbatch
wrote plans, starts both nodes, both save on SIGTERM, the job requeues itself and resumes to the
end with no gap in logging.jsonl."""

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swiftkit.plan.plan import make_plan
from swiftkit.recipe.launchenv import LAYOUT_DEFAULTS
from swiftkit.recipe.recipe import load_recipe
from tests.run import test_train
from tests.run.test_train import only_run, steps_logged

pytestmark = pytest.mark.slow
project = test_train.project  # the fixture: a recipes/tiny.yaml on the tiny model and dataset

REPO = Path(__file__).resolve().parents[2]
FAKE_SLURM = REPO / "tests" / "fixtures" / "fake_slurm"
TIMEOUT_S = 300


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra) -> dict[str, str]:
    """This process's environment without any launch or SLURM variable, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in LAYOUT_DEFAULTS and not k.startswith("SLURM_") and k != "SWIFTKIT_RUN_ID"
    }
    return {**env, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), **extra}


def planned(project, environ, *overrides):
    cwd = Path.cwd()
    os.chdir(project)
    try:
        plan = make_plan(load_recipe("tiny", list(overrides)), environ=environ)
        assert plan.errors == (), plan.errors
        return plan
    finally:
        os.chdir(cwd)


def checkpoints(project) -> list[Path]:
    return sorted(p for p in project.rglob("checkpoint-*") if p.is_dir())


def test_two_nodes_on_loopback_share_one_run(project):
    over = ["num_train_epochs=1"]
    layout = {
        "NNODES": "2",
        "NPROC_PER_NODE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "SWIFTKIT_RUN_ID": "loopback-1",
    }
    plan = planned(project, layout, *over)
    assert plan.world_size == 2
    steps = plan.schedule.max_steps
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "swiftkit", "train", "tiny", *over],
            cwd=project,
            env=clean_env(**layout, NODE_RANK=str(rank)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=TIMEOUT_S) for node in nodes]
    for node, (_, err) in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, err[-3000:]

    run = only_run(project)
    for out, _ in outputs:
        assert f"run directory: {run}\n" in out
        assert f"global_step: {steps} of planned max_steps {steps}\n" in out
    assert "this is node 1" in outputs[1][0]
    assert steps_logged(run, "train_runtime") == [steps]  # one trainer, world size 2
    # One set of checkpoints, all in the one run directory, as planned.
    assert checkpoints(project) == [run / f"checkpoint-{s}" for s in plan.schedule.checkpoints_kept]
    state = json.loads((run / f"checkpoint-{steps}" / "trainer_state.json").read_text())
    assert state["global_step"] == steps
    prov = run / "swiftkit"
    assert (prov / "run_id").read_text() == "loopback-1\n"
    assert json.loads((prov / "exit.json").read_text())["exit_code"] == 0  # node 0's record
    assert not (prov / "pid").exists()
    recorded = json.loads((prov / "plan.json").read_text())
    assert (recorded["world_size"], recorded["nnodes"], recorded["node_rank"]) == (2, 2, 0)


def slurm_job_id() -> str:
    """A job id whose derived MASTER_PORT (15000 + its last 4 digits) is free here."""
    for last4 in itertools.chain(range(os.getpid() % 9000 + 1000, 10000), range(1000, 10000)):
        if port_is_free(15000 + last4):
            return f"31{last4:04d}"
    pytest.skip("no free port in 15000-24999")


def run_job(project, script, fake_dir, job_id, restarts=0):
    env = clean_env(
        PATH=f"{FAKE_SLURM}:{os.environ['PATH']}",
        FAKE_SLURM_DIR=str(fake_dir),
        SLURM_JOB_ID=job_id,
        SLURM_NNODES="2",
        SLURM_JOB_NUM_NODES="2",
        SLURM_NODEID="0",  # the batch shell runs on the first node
        SLURM_JOB_NODELIST="127.0.0.[1-2]",
        SLURM_RESTART_COUNT=str(restarts),
    )
    return subprocess.Popen(
        ["bash", str(script)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_slurm_job_saves_on_sigterm_requeues_and_resumes(project, tmp_path):
    over = ["num_train_epochs=6", "logging_steps=1"]
    script = project / "tiny.sbatch"
    written = subprocess.run(
        [
            *(sys.executable, "-m", "swiftkit", "sbatch", "tiny", "--nodes", "2"),
            *("--gpus-per-node", "1", "--time", "30", "--out", str(script), *over),
        ],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert written.returncode == 0, written.stderr
    assert written.stdout == f"{script}\n"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0

    job_id = slurm_job_id()
    steps = planned(project, {"NNODES": "2"}, *over).schedule.max_steps
    fake = tmp_path / "slurm"
    fake.mkdir()
    job = run_job(project, script, fake, job_id)
    deadline = time.monotonic() + TIMEOUT_S
    run = None
    while time.monotonic() < deadline and job.poll() is None:
        logs = list((project / "output" / "tiny_demo").glob("v*-*/logging.jsonl"))
        try:
            if logs and len(steps_logged(logs[0].parent)) >= 3:
                run = logs[0].parent
                break
        except ValueError:  # a line being written
            pass
        time.sleep(0.2)
    assert run is not None, job.communicate()[1][-3000:]
    # What SLURM's --signal=TERM@... does: SIGTERM to every task of the job step.
    for pid in (fake / "task_pids").read_text().split():
        os.kill(int(pid), signal.SIGTERM)
    out, err = job.communicate(timeout=TIMEOUT_S)
    node_out = [(fake / f"node{i}.out").read_text() for i in (0, 1)]
    assert job.returncode == 143, err[-2000:] + node_out[1][-2000:]
    assert (fake / "scontrol.log").read_text() == f"requeue {job_id}\n"
    assert "plan for tiny" in out  # planned once, in the batch shell
    for text in node_out:
        assert "stopped by SIGTERM after saving a checkpoint" in text
        assert f"--resume (on every node, with run id slurm-{job_id})" in text
    assert "NODE_RANK=1" in node_out[1] and "SLURM (SLURM_NODEID)" in node_out[1]
    stopped_at = max(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*"))
    assert 0 < stopped_at < steps

    # SLURM starts the requeued job's script again from the top, with SLURM_RESTART_COUNT 1.
    (fake / "task_pids").unlink()
    job = run_job(project, script, fake, job_id, restarts=1)
    out, err = job.communicate(timeout=TIMEOUT_S)
    node_out = [(fake / f"node{i}.out").read_text() for i in (0, 1)]
    assert job.returncode == 0, err[-2000:] + node_out[0][-2000:] + node_out[1][-2000:]
    assert f"restart 1 of job {job_id}: resuming run slurm-{job_id}" in out
    assert (fake / "scontrol.log").read_text() == f"requeue {job_id}\n"  # not requeued again
    for text in node_out:
        assert f"notice: resuming {run.name} from checkpoint-{stopped_at}" in text
        assert f"global_step: {steps} of planned max_steps {steps}\n" in text
    assert only_run(project) == run
    assert steps_logged(run, "train_runtime") == [stopped_at, steps]  # stopped, then finished
    logged = steps_logged(run)
    assert logged[0] == 1 and logged[-1] == steps
    assert all(0 <= b - a <= 1 for a, b in itertools.pairwise(logged))  # no gap
    assert json.loads((run / "swiftkit" / "exit.json").read_text())["exit_code"] == 0
