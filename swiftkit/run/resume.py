"""Resuming: the newest complete checkpoint of a recipe's newest unfinished run.

A checkpoint is complete when trainer_state.json parses and the weights (adapter or full),
optimizer and scheduler files are present and non-empty; one left half-written by a kill
mid-save is skipped with a notice. The run resumes with the swift arguments recorded in its
provenance, not with the recipe as it may have been edited since.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from swiftkit.errors import RecipeError
from swiftkit.run.rundir import read_provenance
from swiftkit.watch.runs import list_checkpoints, list_runs
from swiftkit.watch.runstate import PROVENANCE_DIR

WEIGHTS = (
    "adapter_model.safetensors",
    "adapter_model.bin",
    "model.safetensors",
    "pytorch_model.bin",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
)
STATE_FILES = ("optimizer.pt", "scheduler.pt")


@dataclass(frozen=True)
class ResumePoint:
    run_dir: Path
    checkpoint: Path
    step: int
    argv: tuple[str, ...]
    env: Mapping[str, str]
    skipped: tuple[str, ...]  # notices about incomplete checkpoints


def _nonempty(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


def checkpoint_problem(ckpt: Path) -> str | None:
    """Why `ckpt` cannot be resumed from, or None when it is complete."""
    try:
        state = json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
        if not isinstance(state, dict) or "global_step" not in state:
            return "trainer_state.json has no global_step"
    except (OSError, ValueError):
        return "trainer_state.json is missing or unreadable"
    if not any(_nonempty(ckpt / name) for name in WEIGHTS):
        return "no weights or adapter file"
    missing = [name for name in STATE_FILES if not _nonempty(ckpt / name)]
    # DeepSpeed keeps optimizer states in global_step*/ folders instead.
    if missing and not any(ckpt.glob("global_step*")):
        return f"{', '.join(missing)} missing or empty"
    return None


def finished(run_dir: Path) -> bool:
    try:
        record = json.loads((run_dir / PROVENANCE_DIR / "exit.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return record.get("exit_code") == 0


def newest_swiftkit_run(root: Path) -> Path | None:
    """The newest run under `root` that swiftkit started (it holds the recorded argv)."""
    started = [r for r in list_runs(root) if (r / PROVENANCE_DIR / "swift_args.json").is_file()]
    return started[-1] if started else None


def find_resume_point(root: Path, run_dir: Path | None = None) -> ResumePoint:
    """The newest complete checkpoint of `run_dir`, else of the newest swiftkit run under root."""
    run_dir = run_dir or newest_swiftkit_run(root)
    if run_dir is None:
        msg = f"{root}: no swiftkit run to resume. Start one with python -m swiftkit train RECIPE."
        raise RecipeError(msg)
    if finished(run_dir):
        msg = (
            f"{run_dir}: the newest run finished; there is nothing to resume. Start a new run "
            "without --resume (it gets its own directory)."
        )
        raise RecipeError(msg)
    skipped = []
    for step, ckpt in ((c.step, c.path) for c in reversed(list_checkpoints(run_dir))):
        problem = checkpoint_problem(ckpt)
        if problem is None:
            recorded = read_provenance(run_dir)
            return ResumePoint(
                run_dir,
                ckpt,
                step,
                tuple(recorded["argv"]),
                dict(recorded.get("env", {})),
                tuple(skipped),
            )
        skipped.append(f"skipping {ckpt.name}: incomplete ({problem})")
    msg = f"{run_dir}: no complete checkpoint to resume from. Start a new run without --resume."
    raise RecipeError(msg, tuple([*skipped, msg]))


def recipe_changes(run_dir: Path, current: Mapping[str, Any]) -> list[str]:
    """Flags that differ between the run's recorded recipe and the recipe as it is now."""
    try:
        recorded = yaml.safe_load((run_dir / PROVENANCE_DIR / "recipe.yaml").read_text("utf-8"))
    except (OSError, yaml.YAMLError):
        return ["the run's recorded recipe could not be read"]
    recorded = {k: v for k, v in (recorded or {}).items() if k != "env"}
    changes = []
    for key in sorted(set(recorded) | set(current)):
        before, now = recorded.get(key), current.get(key)
        if before != now:
            changes.append(f"{key}: {before!r} when the run started, {now!r} now")
    return changes


# Values that belong to the node and the attempt, not to the run: on a resume each node keeps
# its own rank, and a requeued SLURM job may land on other hosts and cards.
NODE_LOCAL = ("NODE_RANK", "MASTER_ADDR", "MASTER_PORT", "CUDA_VISIBLE_DEVICES")
# Values that size the run: the recorded ones are kept, so the data order resumes where it was.
WORLD = ("NNODES", "NPROC_PER_NODE")


def node_env(
    recorded: Mapping[str, str], current: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The launch env of a resumed run: the recorded one, with this node's NODE_LOCAL values and
    anything the recording lacks taken from now; notices for world-size values that changed."""
    env = dict(recorded)
    for name, value in current.items():
        if name in NODE_LOCAL or (name not in env and name not in WORLD):
            env[name] = value
    notices = [
        f"resuming with the recorded {name}={recorded.get(name, '1')} (it is "
        f"{current.get(name, '1')} now): a resumed run keeps its world size"
        for name in WORLD
        if recorded.get(name, "1") != current.get(name, "1")
    ]
    return env, notices
