"""`swiftkit train` end to end on the tiny CPU model: one process, two processes (torchrun,
gloo), the filled self-cognition copy, provenance, SIGTERM then --resume, and --dry-run."""

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe
from tests.conftest import write_tiny_recipe

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path, tiny_model, tiny_dataset):
    write_tiny_recipe(tmp_path, tiny_model, tiny_dataset)
    return tmp_path


def swiftkit(project, *args, env=None, **kwargs):
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "swiftkit", *args],
        cwd=project,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def steps_logged(run_dir, key="loss"):
    """Steps of the log rows holding `key` (train loss by default)."""
    rows = [json.loads(x) for x in (run_dir / "logging.jsonl").read_text().splitlines()]
    return [
        int(r["global_step/max_steps"].split("/")[0])
        for r in rows
        if key in r and "global_step/max_steps" in r
    ]


def only_run(project, name="tiny_demo"):
    runs = sorted((project / "output" / name).glob("v*-*"))
    assert len(runs) == 1, runs
    return runs[0]


def planned_steps(project, *overrides):
    cwd = Path.cwd()
    os.chdir(project)
    try:
        plan = make_plan(load_recipe("tiny", list(overrides)), environ={})
        assert plan.errors == ()
        return plan.schedule.max_steps
    finally:
        os.chdir(cwd)


def as_swift_config(recipe: Path) -> Path:
    """The recipe as swift's own config file (`swift sft tiny.json`): flat flags and ENV."""
    import yaml

    values = yaml.safe_load(recipe.read_text(encoding="utf-8"))
    values.pop("swiftkit")  # swiftkit's own block: swift would refuse it as a flag
    values["ENV"] = values.pop("env")
    config = recipe.with_suffix(".json")
    config.write_text(json.dumps(values, ensure_ascii=False, indent=2), encoding="utf-8")
    recipe.unlink()
    return config


# nproc 1 trains a swift config file (JSON, ENV block) unchanged; nproc 2 a YAML recipe.
@pytest.mark.parametrize("nproc", [1, 2])
def test_train_reaches_planned_steps_on_filled_copy(project, nproc):
    # 2 processes: 20 rows - 3 for validation = 17; swift's BatchSamplerShard gives each rank
    # 17 // 2 = 8 rows (the remainder dropped): 4 updates per epoch, not ceil(17 / 2) / 2 = 5.
    over = (
        []
        if nproc == 1
        else ["num_train_epochs=2", "split_dataset_ratio=0.15", "gradient_accumulation_steps=2"]
    )
    recipe = project / "recipes" / "tiny.yaml"
    text = recipe.read_text(encoding="utf-8")
    recipe.write_text(text.replace("env:\n", f"env:\n  NPROC_PER_NODE: {nproc}\n"), "utf-8")
    if nproc == 1:
        as_swift_config(recipe)
    planned = planned_steps(project, *over)
    assert nproc == 1 or planned == 8
    done = swiftkit(project, "train", "tiny", *over)
    assert done.returncode == 0, done.stderr[-3000:]
    run = only_run(project)
    assert f"global_step: {planned} of planned max_steps {planned}\n" in done.stdout
    assert steps_logged(run, "train_runtime") == [planned]  # the trainer's own final line
    # Trained on the filled copy, not on the placeholders.
    swift_args = json.loads((run / "args.json").read_text())
    filled = run / "datasets" / "self_cognition.filled.jsonl"
    assert swift_args["dataset"] == [str(filled)]
    text = filled.read_text(encoding="utf-8")
    assert "{{NAME}}" not in text and "tiny-swift" in text and "swiftkit" in text
    prov = run / "swiftkit"
    assert json.loads((prov / "plan.json").read_text())["max_steps"] == planned
    recorded_env = json.loads((prov / "swift_args.json").read_text())["env"]
    assert recorded_env.items() >= {"NPROC_PER_NODE": str(nproc), "OMP_NUM_THREADS": "1"}.items()
    assert json.loads((prov / "exit.json").read_text())["exit_code"] == 0
    assert set(json.loads((prov / "versions.json").read_text())) >= {"ms-swift", "torch", "peft"}


def test_sigterm_saves_then_resume_continues_without_gap(project):
    over = ["num_train_epochs=40"]
    planned = planned_steps(project, *over)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "swiftkit", "train", "tiny", *over],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    log = None
    while time.monotonic() < deadline:
        runs = list((project / "output" / "tiny_demo").glob("v*-*/logging.jsonl"))
        if runs and len(steps_logged(runs[0].parent)) >= 4:
            log = runs[0]
            break
        time.sleep(0.2)
    assert log is not None, "training never logged"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-3000:]
    run = log.parent
    saved = sorted(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*"))
    stopped_at = saved[-1]
    assert 0 < stopped_at < planned
    assert (
        "stopped by SIGTERM after saving a checkpoint; resume with: python -m swiftkit train "
        "tiny num_train_epochs=40 --resume\n"
    ) in err
    # The summary says it stopped early, where it resumes, and how; not "differs from the plan".
    assert (
        f"  global_step: {stopped_at} of planned max_steps {planned}: stopped early by SIGTERM "
        f"at step {stopped_at}\n"
        f"  resumes from: {run}/checkpoint-{stopped_at}\n"
        "  resume with: python -m swiftkit train tiny num_train_epochs=40 --resume\n"
    ) in out
    assert "differs from the plan" not in out

    resumed = swiftkit(project, "train", "tiny", *over, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"notice: resuming {run.name} from checkpoint-{stopped_at}" in resumed.stderr
    assert steps_logged(run, "train_runtime") == [stopped_at, planned]  # stopped, then finished
    steps = steps_logged(run)
    # Logged every 5 steps before the stop and after the resume, with no step range missing.
    assert all(0 < b - a <= 5 for a, b in itertools.pairwise(steps))
    assert any(stopped_at < s <= stopped_at + 5 for s in steps)
    assert only_run(project) == run  # resumed in place, no new run directory


def test_dry_run_command_parses_with_swifts_own_parser(monkeypatch):
    monkeypatch.chdir(REPO)
    done = swiftkit(REPO, "train", "qwen7b_selfcog", "--dry-run")
    assert done.returncode == 0, done.stderr
    import shlex

    argv = shlex.split(done.stdout.strip())
    assert argv[:2] == ["swift", "sft"]
    from swiftkit.recipe import flags_capture

    parser, _, _ = flags_capture.build_parser()  # swift's own parser, as swift builds it
    ns, rest = parser.parse_known_args(argv[2:])
    assert rest == []
    assert ns.tuner_type == "lora" and ns.gradient_accumulation_steps == 16
    assert ns.target_modules == ["all-linear"] and ns.model_name == ["swift-robot"]
