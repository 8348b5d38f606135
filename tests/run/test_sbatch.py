"""SLURM batch scripts: the directives, the srun line, the requeue into --resume, and values SLURM
would refuse. `bash -n` checks the syntax; tests/run/test_multinode.py runs one under a
simulated allocation."""

import shutil
import subprocess
from pathlib import Path

import pytest

from swiftkit.errors import RecipeError
from swiftkit.run.sbatch import sbatch_script, time_limit_s, write_script


def script(**kw):
    args = dict(
        recipe_path=Path("/work/recipes/q7.yaml"),
        overrides=["num_train_epochs=3", "system=You are kind."],
        nodes=2,
        gpus_per_node=8,
        workdir=Path("/work/my project"),
        python="/opt/venv/bin/python",
        job_name="swiftkit-q7",
        time="12:00:00",
        partition="gpu",
    )
    args.update(kw)
    return sbatch_script(**args)


def directives(text):
    return [
        line.removeprefix("#SBATCH ") for line in text.splitlines() if line.startswith("#SBATCH")
    ]


def test_directives():
    assert directives(script()) == [
        "--job-name=swiftkit-q7",
        "--nodes=2",
        "--ntasks-per-node=1",
        "--gpus-per-node=8",
        "--time=12:00:00",
        "--partition=gpu",
        "--signal=TERM@120",  # no B: every node's swiftkit train gets it, not the batch shell
        "--requeue",
        "--open-mode=append",
        "--output=swiftkit-%x-%j.out",
    ]
    assert "--gpus-per-node=0" not in script(gpus_per_node=0)
    assert not any(d.startswith("--gpus") for d in directives(script(gpus_per_node=0)))


def test_body_plans_once_trains_on_every_node_and_requeues_into_resume():
    text = script()
    assert "cd '/work/my project' || exit 2\n" in text
    assert "unset NNODES NODE_RANK MASTER_ADDR MASTER_PORT NPROC_PER_NODE\n" in text
    assert 'export SWIFTKIT_RUN_ID="slurm-${SLURM_JOB_ID}"\n' in text
    assert "RECIPE=(/work/recipes/q7.yaml num_train_epochs=3 'system=You are kind.')\n" in text
    assert '  "${SWIFTKIT[@]}" plan "${RECIPE[@]}" || exit $?\n' in text
    assert (
        "srun --ntasks-per-node=1 --kill-on-bad-exit=0 --wait=600 \\\n"
        '  "${SWIFTKIT[@]}" train "${RECIPE[@]}" "${MODE[@]}"\n'
    ) in text
    assert "  MODE=(--resume)\n" in text
    assert '    scontrol requeue "$SLURM_JOB_ID"\n' in text


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize("kw", [{}, {"gpus_per_node": 0, "time": None, "partition": None}])
def test_script_passes_bash_n(tmp_path, kw):
    path = write_script(tmp_path / "job.sbatch", script(**kw))
    done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert path.stat().st_mode & 0o111


def test_never_writes_over_a_file(tmp_path):
    path = tmp_path / "job.sbatch"
    path.write_text("mine")
    with pytest.raises(RecipeError) as e:
        write_script(path, script())
    assert str(e.value) == (
        f"{path} already exists: swiftkit never writes over a file. Choose another --out, "
        "or remove it."
    )
    assert path.read_text() == "mine"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 5400),
        ("30:00", 1800),
        ("12:00:00", 43200),
        ("2-00", 172800),
        ("1-02:03", 93780),
        ("1-02:03:04", 93784),
        ("UNLIMITED", None),
    ],
)
def test_time_limits(text, seconds):
    assert time_limit_s(text) == seconds


def test_values_slurm_would_refuse_are_all_reported():
    with pytest.raises(RecipeError) as e:
        script(nodes=0, time="tomorrow", partition="gpu a")
    assert e.value.problems == (
        "--nodes must be at least 1 (got 0). Write --nodes 2.",
        "--partition 'gpu a' is not a SLURM name (letters, digits, '_', '-', '.'). "
        "Write e.g. --partition gpu.",
        "--time 'tomorrow' is not a SLURM time limit. Write minutes (90), H:M:S (12:00:00) or "
        "D-H:M:S (2-00:00:00).",
    )


def test_the_warning_must_come_before_the_limit():
    with pytest.raises(RecipeError) as e:
        script(time="2", signal_before_s=120)
    assert str(e.value) == (
        "--signal-before 120 s is not shorter than --time 2 (120 s): the nodes would be asked to "
        "stop before they start. Lower --signal-before or raise --time."
    )
