"""The trainer's step arithmetic, exactly as transformers 5.19's Trainer does it under ms-swift 4.6.

Sources (installed transformers): trainer.py `set_initial_training_values` (updates per epoch,
max_steps), trainer_callback.py `compute_steps` (ratios < 1 for logging/eval/save steps) and
`DefaultFlowCallback.on_step_end` (when it logs, evaluates and saves, and the final eval/save),
training_args.py `get_warmup_steps`, trainer_utils.py `rotate_checkpoints`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# A schedule longer than this lists its first and last steps only.
MAX_LISTED_STEPS = 12


@dataclass(frozen=True)
class Schedule:
    world_size: int
    per_device_batch: int
    accumulation_steps: int
    effective_batch_size: int
    batches_per_epoch: int
    updates_per_epoch: int
    max_steps: int
    epochs: float
    warmup_steps: int
    logging_steps: int
    log_steps_at: tuple[int, ...]
    eval_steps_at: tuple[int, ...]
    save_steps_at: tuple[int, ...]
    checkpoints_kept: tuple[int, ...]
    keeps_best_checkpoint: bool


def updates_for(
    train_rows: int, *, world_size: int, batch: int, accumulation: int
) -> tuple[int, int]:
    """(batches per epoch on one process, optimizer updates per epoch).

    Each process gets ceil(N / W) rows (DistributedSampler pads, drop_last False), batched by B.
    """
    rows_per_process = math.ceil(train_rows / world_size)
    batches = math.ceil(rows_per_process / batch)
    updates = max(batches // accumulation + int(batches % accumulation > 0), 1)
    return batches, updates


def _absolute(steps: float | None, max_steps: int) -> int | None:
    """compute_steps: a value below 1 is a fraction of max_steps."""
    if steps is None:
        return None
    if steps < 1:
        return math.ceil(max_steps * steps)
    return int(steps)


def _every(interval: int | None, max_steps: int, *, final: bool) -> tuple[int, ...]:
    if not interval or interval <= 0:
        return ()
    steps = list(range(interval, max_steps + 1, interval))
    if final and (not steps or steps[-1] != max_steps):
        steps.append(max_steps)
    return tuple(steps)


def _epoch_ends(updates_per_epoch: int, max_steps: int) -> tuple[int, ...]:
    """global_step at each on_epoch_end: every full epoch, and the last (maybe partial) one."""
    ends = list(range(updates_per_epoch, max_steps + 1, updates_per_epoch))
    if not ends or ends[-1] != max_steps:
        ends.append(max_steps)
    return tuple(ends)


def _at(strategy: str, interval: int | None, max_steps: int, epoch_ends) -> tuple[int, ...]:
    """Steps for an IntervalStrategy: `steps` (plus the final step), `epoch`, or `no`."""
    if strategy == "steps":
        return _every(interval, max_steps, final=True)
    if strategy == "epoch":
        return epoch_ends
    return ()


def warmup_for(max_steps: int, *, warmup_steps: float, warmup_ratio: float) -> int:
    """get_warmup_steps after swift converts warmup_ratio into a fractional warmup_steps."""
    value = warmup_ratio if warmup_ratio else warmup_steps
    return int(value) if value >= 1 else math.ceil(max_steps * value)


def make_schedule(
    train_rows: int,
    *,
    world_size: int,
    batch: int,
    accumulation: int,
    epochs: float,
    max_steps_flag: int = -1,
    warmup_steps: float = 0.0,
    warmup_ratio: float = 0.0,
    logging_steps: float = 5,
    logging_first_step: bool = True,
    eval_steps: float | None = None,
    save_steps: float | None = 500,
    save_strategy: str = "steps",
    save_total_limit: int | None = None,
    eval_strategy: str = "no",
) -> Schedule:
    batches, updates = updates_for(
        train_rows, world_size=world_size, batch=batch, accumulation=accumulation
    )
    max_steps = max_steps_flag if max_steps_flag > 0 else math.ceil(epochs * updates)
    log_every = _absolute(logging_steps, max_steps)
    log_at = set(_every(log_every, max_steps, final=False))
    if logging_first_step and max_steps >= 1:
        log_at.add(1)
    epoch_ends = _epoch_ends(updates, max_steps)
    eval_at = _at(eval_strategy, _absolute(eval_steps, max_steps), max_steps, epoch_ends)
    save_at = _at(save_strategy, _absolute(save_steps, max_steps), max_steps, epoch_ends)
    kept = save_at[-save_total_limit:] if save_total_limit and save_total_limit > 0 else save_at
    return Schedule(
        world_size=world_size,
        per_device_batch=batch,
        accumulation_steps=accumulation,
        effective_batch_size=batch * accumulation * world_size,
        batches_per_epoch=batches,
        updates_per_epoch=updates,
        max_steps=max_steps,
        epochs=epochs if max_steps_flag <= 0 else max_steps / updates,
        warmup_steps=warmup_for(max_steps, warmup_steps=warmup_steps, warmup_ratio=warmup_ratio),
        logging_steps=log_every or 0,
        log_steps_at=tuple(sorted(log_at)),
        eval_steps_at=eval_at,
        save_steps_at=save_at,
        checkpoints_kept=tuple(kept),
        keeps_best_checkpoint=bool(eval_at) and bool(save_at),
    )


def abbreviate(steps: tuple[int, ...]) -> str:
    """`5, 10, 15, ... 95, 100` for long lists."""
    if not steps:
        return "never"
    if len(steps) <= MAX_LISTED_STEPS:
        return ", ".join(map(str, steps))
    head = ", ".join(map(str, steps[:4]))
    tail = ", ".join(map(str, steps[-2:]))
    return f"{head}, ... {tail} ({len(steps)} in all)"
