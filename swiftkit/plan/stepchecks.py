"""Checks on the step arithmetic that need the recipe: rows per process, max_epochs, and the
schedule's part of `plan --json`. Kept apart from plan.py, which wires the stages together."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from swiftkit.plan.schedule import Schedule, rows_per_rank, updates_for
from swiftkit.recipe.layout import Layout


def schedule_options(resolved: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
    """make_schedule's keywords that come from the launch layout and swift's flags."""
    max_epochs = resolved.get("max_epochs")
    # swift/arguments/sft_args.py _init_metric_for_best_model; the trainer prefixes eval_.
    metric = resolved.get("metric_for_best_model") or (
        "rouge-l" if resolved.get("predict_with_generate") else "loss"
    )
    return {
        "best_metric": metric if metric.startswith("eval_") else f"eval_{metric}",
        "sequence_parallel": layout.sequence_parallel,
        "drop_last": bool(resolved.get("dataloader_drop_last")),
        "max_epochs": int(max_epochs) if max_epochs is not None else None,
    }


def rows_per_rank_problem(recipe, train_rows: int, layout: Layout) -> str | None:
    """transformers `set_initial_training_values` raises when the dataloader is empty
    ("args.max_steps must be set to a positive value if dataloader does not have a length"):
    fewer rows than processes leaves every rank N // W = 0 rows."""
    per_rank = rows_per_rank(
        train_rows, world_size=layout.world_size, sequence_parallel=layout.sequence_parallel
    )
    if per_rank > 0:
        return None
    return (
        f"{recipe.path}: {train_rows} training row{'s' if train_rows != 1 else ''} cannot be "
        f"shared by {layout.world_size} processes (got NPROC_PER_NODE x NNODES = "
        f"{layout.world_size}): swift gives each process N // W = 0 rows "
        "(swift/dataloader/shard.py BatchSamplerShard) and the trainer stops at start-up. "
        "Use fewer processes or more rows."
    )


def lr_fraction(step: int, max_steps: int, warmup: int, scheduler: str) -> float | None:
    """The learning rate after `step` updates as a share of its peak, for transformers'
    get_cosine_schedule_with_warmup / get_linear_schedule_with_warmup / constant; else None."""
    if step < warmup:
        return step / max(warmup, 1)
    if scheduler in ("constant", "constant_with_warmup"):
        return 1.0
    progress = (step - warmup) / max(max_steps - warmup, 1)
    if scheduler == "cosine":
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))
    if scheduler == "linear":
        return max(0.0, 1.0 - progress)
    return None


def check_max_epochs(recipe, resolved: Mapping[str, Any], s: Schedule, warnings: list[str]):
    """swift/trainers/patcher.py `DefaultFlowCallbackNew.on_epoch_end` stops training after
    epoch max_epochs, but max_steps, warmup and the LR schedule stay sized by num_train_epochs."""
    if s.max_epochs is None or s.last_step >= s.max_steps:
        return
    scheduler = str(resolved.get("lr_scheduler_type") or "linear")
    share = lr_fraction(s.last_step, s.max_steps, s.warmup_steps, scheduler)
    still = (
        f", so the learning rate is still at {share:.0%} of its peak when it stops"
        if share is not None
        else ""
    )
    warnings.append(
        f"{recipe.location('max_epochs')}: max_epochs stops training at step {s.last_step} of "
        f"{s.max_steps} (got max_epochs {s.max_epochs}, num_train_epochs {s.epochs:g}): "
        f"max_steps, warmup and the {scheduler} learning-rate schedule are sized for "
        f"num_train_epochs{still}. Set num_train_epochs: {s.max_epochs} instead."
    )


def schedule_json(s: Schedule | None) -> dict[str, Any]:
    """The fields of `plan --json` added for sequence parallel, max_epochs and checkpoints."""
    return {
        "last_step": s.last_step if s else None,
        "max_epochs": s.max_epochs if s else None,
        "rows_per_process": s.rows_per_process if s else None,
        "data_parallel_size": s.data_parallel_size if s else None,
        "sequence_parallel_size": s.sequence_parallel if s else None,
        "checkpoints_at_once": s.checkpoints_at_once if s else None,
        "checkpoints_left": s.checkpoints_left if s else None,
        "best_checkpoint_candidates": list(s.best_checkpoint_candidates) if s else [],
        "best_metric": s.best_metric if s else None,
    }


# More optimizer updates than any fine-tuning run makes: almost surely a typo, and listing its
# log/eval/save steps would take minutes.
MAX_PLANNED_STEPS = 1_000_000


def too_many_steps(rows, resolved, layout, batch, accumulation) -> tuple[str, str] | None:
    flag = int(resolved.get("max_steps") or -1)
    if flag > 0:
        steps, key = flag, "max_steps"
    else:
        _, updates = updates_for(
            rows,
            world_size=layout.world_size,
            batch=batch,
            accumulation=accumulation,
            sequence_parallel=layout.sequence_parallel,
        )
        steps, key = (
            math.ceil(float(resolved.get("num_train_epochs") or 0) * updates),
            "num_train_epochs",
        )
    if steps <= MAX_PLANNED_STEPS:
        return None
    return key, (
        f"{key} makes {steps:,} optimizer updates, more than {MAX_PLANNED_STEPS:,}. "
        "Check max_steps and num_train_epochs."
    )
