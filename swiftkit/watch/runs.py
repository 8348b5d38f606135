"""Runs on disk: finding them and reading what swift and swiftkit wrote.

A run directory is `output_dir/vN-YYYYMMDD-HHMMSS/` (ms-swift's layout). swift writes
`logging.jsonl` (read by swiftkit.watch.runlog), `checkpoint-N/trainer_state.json` and `args.json`.
swiftkit's own records live in `swiftkit/`: `plan.json` (the plan the run was started from), and
the `pid` and `exit.json` markers that swiftkit.watch.runstate reads to tell the run's state.
Pure apart from reading files and asking whether a pid is alive; never imports torch or swift.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftkit.errors import RunDirError
from swiftkit.watch.runlog import (
    EvalPoint,
    TrainPoint,
    _float,
    _parse_rows,
    _read_json,
    parse_duration,
    read_log_rows,
)
from swiftkit.watch.runstate import PROVENANCE_DIR, RunState, tell_state
from swiftkit.watch.runstate import write_exit as write_exit  # re-exported for train.py
from swiftkit.watch.runstate import write_pid as write_pid  # re-exported for train.py

_VERSION_DIR = re.compile(r"^v(\d+)-(\d{8}-\d{6})$")


@dataclass(frozen=True)
class Checkpoint:
    step: int
    path: Path


@dataclass(frozen=True)
class Run:
    """Everything status and compare show, as read; nothing rounded."""

    run_dir: Path
    train: tuple[TrainPoint, ...]
    evals: tuple[EvalPoint, ...]
    global_step: int | None
    max_steps: int | None
    epoch: float | None
    elapsed_s: float | None  # swift's elapsed_time at the last row (restarts on resume)
    remaining_s: float | None  # swift's remaining_time at the last row
    seconds_per_step: float | None
    train_runtime_s: float | None  # only when training ended normally
    mean_train_loss: float | None  # swift's train_loss: the mean over the run
    peak_memory_gib: float | None  # max of memory(GiB) = torch max_memory_reserved; GPU only
    checkpoints: tuple[Checkpoint, ...]
    best_checkpoint: Path | None
    best_metric: float | None
    learning_rate: float | None  # configured peak
    effective_batch_size: int | None
    accumulation_steps: int | None
    warmup_steps: int | None  # resolved: warmup_steps, else ceil(max_steps * warmup_ratio)
    max_grad_norm: float | None
    planned_max_steps: int | None
    planned_peak_reserved_bytes: int | None
    log_mtime: float | None  # seconds since the epoch, of the newest file swift wrote
    state: RunState

    @property
    def name(self) -> str:
        return f"{self.run_dir.parent.name}/{self.run_dir.name}"

    @property
    def wall_time_s(self) -> float | None:
        return self.train_runtime_s if self.train_runtime_s is not None else self.elapsed_s


def is_run_dir(path: Path) -> bool:
    """A `vN-...` directory (even before swift writes into it), or one holding swift's files."""
    if path.is_dir() and _VERSION_DIR.match(path.name):
        return True
    return path.is_dir() and any(
        (path / name).exists() for name in ("logging.jsonl", "args.json", PROVENANCE_DIR)
    )


def list_runs(root: Path) -> list[Path]:
    """The `vN-...` run directories under an output root, oldest first."""
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        m = _VERSION_DIR.match(child.name)
        if m and child.is_dir():
            found.append((int(m.group(1)), m.group(2), child))
    return [p for *_, p in sorted(found)]


def newest_run(root: Path) -> Path | None:
    runs = list_runs(root)
    return runs[-1] if runs else None


def list_checkpoints(run_dir: Path) -> tuple[Checkpoint, ...]:
    found = []
    for p in run_dir.glob("checkpoint-*"):
        tail = p.name.removeprefix("checkpoint-")
        if tail.isdigit() and p.is_dir():
            found.append(Checkpoint(int(tail), p))
    return tuple(sorted(found, key=lambda c: c.step))


def _best(run_dir: Path, ckpts, result) -> tuple[Path | None, float | None]:
    """The best checkpoint by swift's metric_for_best_model (eval loss unless set otherwise)."""
    sources = [result or {}]
    if ckpts:
        sources.insert(0, _read_json(ckpts[-1].path / "trainer_state.json"))
    for src in sources:
        best = src.get("best_model_checkpoint")
        if isinstance(best, str) and best:
            # Read by name: a run directory that was moved still finds its checkpoint.
            return run_dir / Path(best).name, _float(src.get("best_metric"))
    return None, None


def _newest_mtime(run_dir: Path) -> float | None:
    paths = [run_dir / "logging.jsonl", run_dir / "args.json", run_dir]
    paths += [c.path for c in list_checkpoints(run_dir)]
    times = []
    for p in paths:
        try:
            times.append(p.stat().st_mtime)
        except OSError:
            continue
    return max(times) if times else None


def read_run(run_dir: Path, *, now: float | None = None) -> Run:
    """Read one run directory. Works on a live run: a half-written line is skipped."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        msg = f"{run_dir}: no such run directory. Pass a directory under a recipe's output_dir."
        raise RunDirError(msg)
    parsed = _parse_rows(read_log_rows(run_dir / "logging.jsonl"))
    args = _read_json(run_dir / "args.json")
    plan = _read_json(run_dir / PROVENANCE_DIR / "plan.json")
    ckpts = list_checkpoints(run_dir)
    best, best_metric = _best(run_dir, ckpts, parsed["result"])
    last = parsed["last"]
    step, max_steps = parsed["step"], parsed["max_steps"]
    if step is None and ckpts:
        state = _read_json(ckpts[-1].path / "trainer_state.json")
        step, max_steps = state.get("global_step"), state.get("max_steps")
    memory = plan.get("memory") if isinstance(plan.get("memory"), dict) else {}
    mtime = _newest_mtime(run_dir)
    planned = plan.get("max_steps")
    return Run(
        run_dir=run_dir,
        train=parsed["train"],
        evals=parsed["evals"],
        global_step=step,
        max_steps=max_steps or planned,
        epoch=_float(last.get("epoch")),
        elapsed_s=parse_duration(last.get("elapsed_time")),
        remaining_s=parse_duration(last.get("remaining_time")),
        seconds_per_step=_float(last.get("train_speed(s/it)")),
        train_runtime_s=parsed["runtime"],
        mean_train_loss=parsed["mean_loss"],
        peak_memory_gib=parsed["peak"],
        checkpoints=ckpts,
        best_checkpoint=best,
        best_metric=best_metric,
        learning_rate=_float(args.get("learning_rate")) or _float(plan.get("learning_rate")),
        effective_batch_size=_effective_batch(args) or plan.get("effective_batch_size"),
        accumulation_steps=args.get("gradient_accumulation_steps")
        or plan.get("gradient_accumulation_steps"),
        warmup_steps=_warmup_steps(args, max_steps or planned),
        max_grad_norm=_float(args.get("max_grad_norm")),
        planned_max_steps=planned if isinstance(planned, int) else None,
        planned_peak_reserved_bytes=memory.get("peak_reserved_bytes"),
        log_mtime=mtime,
        state=tell_state(run_dir, parsed, mtime, time.time() if now is None else now),
    )


def _effective_batch(args: dict[str, Any]) -> int | None:
    b, g = args.get("per_device_train_batch_size"), args.get("gradient_accumulation_steps")
    if not isinstance(b, int) or not isinstance(g, int):
        return None
    world = args.get("global_world_size") or 1
    return b * g * int(world)


def _warmup_steps(args: dict[str, Any], max_steps: int | None) -> int | None:
    """transformers 5.x get_warmup_steps: warmup_steps >= 1 is a count, below 1 a ratio of
    max_steps (swift moves warmup_ratio there); older args.json files carry warmup_ratio."""
    steps, ratio = _float(args.get("warmup_steps")), _float(args.get("warmup_ratio"))
    if steps is not None and steps >= 1:
        return int(steps)
    if steps is not None and steps > 0:
        ratio = steps
    if steps is None and ratio is None:
        return None
    if not ratio:
        return 0
    return math.ceil(max_steps * ratio) if max_steps else None


def find_run(ref: str | None, *, base_dir: Path | None = None) -> Path:
    """A run directory from what the user typed: a run directory, an output root (its newest
    run), a recipe (its newest run), or nothing (the newest run under ./output)."""
    base = base_dir or Path.cwd()
    if ref is None:
        roots = [p for p in (base / "output").glob("*") if p.is_dir()] + [base / "output"]
        runs = [r for root in roots for r in list_runs(root)]
        if not runs:
            msg = (
                f"{base / 'output'}: no runs found. Name a run directory or a recipe: "
                "python -m swiftkit status RECIPE."
            )
            raise RunDirError(msg)
        return max(runs, key=lambda p: _VERSION_DIR.match(p.name).group(2))
    path = Path(ref).expanduser()
    path = path if path.is_absolute() else base / path
    if path.is_dir():
        if is_run_dir(path):
            return path
        newest = newest_run(path)
        if newest is None:
            msg = (
                f"{ref}: not a run directory (no logging.jsonl, args.json or {PROVENANCE_DIR}/) "
                "and holds no v* runs. Pass a directory made by swift sft or swiftkit train."
            )
            raise RunDirError(msg)
        return newest
    if path.suffix not in (".yaml", ".yml") and ("/" in ref or path.exists()):
        msg = f"{ref}: no such run directory. Name a run directory, or a recipe for its newest run."
        raise RunDirError(msg)
    return _recipe_run(ref, base)


def _recipe_run(ref: str, base: Path) -> Path:
    from swiftkit.recipe.recipe import load_recipe
    from swiftkit.recipe.swiftargs import output_root, resolve_args

    recipe = load_recipe(ref, base_dir=base)
    resolved = resolve_args(recipe.args, world_size=1)
    root = output_root(resolved, base)
    if resolved.get("add_version") is False and is_run_dir(root):
        return root
    newest = newest_run(root)
    if newest is None:
        msg = (
            f"{recipe.path}: no runs under {root} yet. Start one with python -m swiftkit train "
            f"{ref}."
        )
        raise RunDirError(msg)
    return newest
