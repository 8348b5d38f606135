"""A run in numbers: what `status` and `compare` show, as plain values (also their --json).

Reads nothing itself: takes a Run from swiftkit.watch.runs and derives progress, ETA, losses,
evaluation, memory against the plan and the stability measure.
"""

from __future__ import annotations

import time
from typing import Any

from swiftkit.watch import curves
from swiftkit.watch.runs import Run
from swiftkit.watch.runstate import RUNNING

GIB = 1024**3


def summarize(run: Run, now: float | None = None) -> dict[str, Any]:
    """What status shows, in numbers (also the --json output)."""
    now = time.time() if now is None else now
    raw = [p.loss for p in run.train]
    sm = curves.smooth(raw)
    best = min(run.train, key=lambda p: p.loss, default=None)
    best_eval = min(run.evals, key=lambda e: e.eval_loss, default=None)
    live = run.state.state == RUNNING
    since = max(0.0, now - run.log_mtime) if live and run.log_mtime else 0.0
    elapsed = run.wall_time_s + since if run.wall_time_s is not None else None
    eta = max(0.0, run.remaining_s - since) if live and run.remaining_s is not None else None
    stab = curves.measure_stability(run.train)
    plan_peak = run.planned_peak_reserved_bytes
    return {
        "run_dir": str(run.run_dir),
        "state": run.state.state,
        "reason": run.state.reason,
        "exit_code": run.state.exit_code,
        "global_step": run.global_step,
        "max_steps": run.max_steps,
        "planned_max_steps": run.planned_max_steps,
        "epoch": run.epoch,
        "elapsed_s": elapsed,
        "eta_s": eta,
        "seconds_per_step": run.seconds_per_step,
        "learning_rate": run.train[-1].learning_rate if run.train else None,
        "peak_learning_rate": run.learning_rate,
        "effective_batch_size": run.effective_batch_size,
        "loss": raw[-1] if raw else None,
        "smoothed_loss": sm[-1] if sm else None,
        "best_loss": best.loss if best else None,
        "best_loss_step": best.step if best else None,
        "eval_loss": run.evals[-1].eval_loss if run.evals else None,
        "eval_loss_step": run.evals[-1].step if run.evals else None,
        "best_eval_loss": best_eval.eval_loss if best_eval else None,
        "best_eval_loss_step": best_eval.step if best_eval else None,
        "peak_memory_gib": run.peak_memory_gib,
        "planned_peak_reserved_gib": plan_peak / GIB if isinstance(plan_peak, int) else None,
        "checkpoints": [c.path.name for c in run.checkpoints],
        "best_checkpoint": run.best_checkpoint.name if run.best_checkpoint else None,
        "best_metric": run.best_metric,
        "stability": None
        if stab is None
        else {
            "roughness": stab.roughness,
            "worst": stab.worst,
            "worst_step": stab.worst_step,
            "window_logs": stab.window_logs,
            "threshold": stab.threshold,
            "high": stab.high,
        },
        "warnings": list(curves.check_curves(run)),
    }


def compare_row(run: Run) -> dict[str, Any]:
    s = summarize(run)
    return {
        "run": run.name,
        "run_dir": str(run.run_dir),
        "state": s["state"],
        "effective_batch_size": run.effective_batch_size,
        "learning_rate": run.learning_rate,
        "global_step": run.global_step,
        "max_steps": run.max_steps,
        "final_loss": s["loss"],
        "best_loss": s["best_loss"],
        "eval_loss": s["eval_loss"],
        "best_eval_loss": s["best_eval_loss"],
        "peak_memory_gib": run.peak_memory_gib,
        "wall_time_s": run.wall_time_s,
    }
