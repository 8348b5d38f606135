"""The trainer's step arithmetic, exactly as transformers 5.19's Trainer does it under ms-swift 4.6.

Sources (installed transformers): trainer.py `set_initial_training_values` (updates per epoch,
max_steps), trainer_callback.py `compute_steps` (ratios < 1 for logging/eval/save steps) and
`DefaultFlowCallback.on_step_end` (when it logs, evaluates and saves, and the final eval/save),
training_args.py `get_warmup_steps`. ms-swift: swift/dataloader/shard.py `BatchSamplerShard` and
swift/sequence_parallel/utils.py `SequenceParallelSampler` (rows per process),
swift/trainers/patcher.py `DefaultFlowCallbackNew` (the final eval/save, and `max_epochs`).
Checkpoint rotation is in checkpoints.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from swiftkit.plan.checkpoints import kept_at_end, plan_rotation

# A schedule longer than this lists its first and last steps only.
MAX_LISTED_STEPS = 12


@dataclass(frozen=True)
class Schedule:
    world_size: int
    per_device_batch: int
    accumulation_steps: int
    effective_batch_size: int  # batch x accumulation x data-parallel ranks
    batches_per_epoch: int
    updates_per_epoch: int
    max_steps: int  # what the trainer sizes warmup and the LR schedule by
    epochs: float
    warmup_steps: int
    logging_steps: int
    log_steps_at: tuple[int, ...]
    eval_steps_at: tuple[int, ...]
    save_steps_at: tuple[int, ...]
    checkpoints_kept: tuple[int, ...]
    keeps_best_checkpoint: bool
    # Below: defaults keep older callers working.
    last_step: int = 0  # the update at which training stops: max_steps unless max_epochs ends it
    max_epochs: int | None = None
    sequence_parallel: int = 1
    data_parallel_size: int = 1  # world_size // sequence_parallel
    rows_per_process: int = 0  # rows one data-parallel rank reads per epoch
    checkpoints_at_once: int = 0  # most checkpoint folders on disk at one time (worst case)
    # The end: checkpoints_kept when the last evaluation is the best, else one of these older
    # ones (the best by best_metric) stays instead of the oldest; checkpoints_left folders.
    best_checkpoint_candidates: tuple[int, ...] = ()
    checkpoints_left: int = 0
    best_metric: str = "eval_loss"


def rows_per_rank(train_rows: int, *, world_size: int, sequence_parallel: int = 1) -> int:
    """Rows one process reads per epoch.

    Without sequence parallel: swift/dataloader/shard.py `BatchSamplerShard` gives each of the W
    ranks N // W rows; the remainder is dropped, not padded. With sequence_parallel_size SP > 1:
    swift/sequence_parallel/utils.py `SequenceParallelSampler` (round_up) gives each of the
    W // SP data-parallel ranks ceil(N / (W // SP)) rows (the ranks of one SP group share them).
    """
    if sequence_parallel > 1:
        return math.ceil(train_rows / max(world_size // sequence_parallel, 1))
    return train_rows // max(world_size, 1)


def updates_for(
    train_rows: int,
    *,
    world_size: int,
    batch: int,
    accumulation: int,
    sequence_parallel: int = 1,
    drop_last: bool = False,
) -> tuple[int, int]:
    """(batches per epoch on one process, optimizer updates per epoch).

    Batches: the rows of one rank (rows_per_rank) in batches of B, the short last one kept
    unless dataloader_drop_last (`BatchSamplerShard.__len__`). Updates: transformers
    `set_initial_training_values`: ceil(batches / accumulation), at least 1.
    """
    rows = rows_per_rank(train_rows, world_size=world_size, sequence_parallel=sequence_parallel)
    batches = rows // batch if drop_last else math.ceil(rows / batch)
    updates = max(batches // accumulation + int(batches % accumulation > 0), 1)
    return batches, updates


def stop_step(max_steps: int, updates_per_epoch: int, max_epochs: int | None) -> int:
    """The update at which training stops: swift/trainers/patcher.py
    `DefaultFlowCallbackNew.on_epoch_end` stops at the first epoch end where
    max_epochs <= ceil(state.epoch), i.e. after epoch max(max_epochs, 1); else max_steps."""
    if max_epochs is None:
        return max_steps
    return min(max(max_epochs, 1) * updates_per_epoch, max_steps)


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
    sequence_parallel: int = 1,
    drop_last: bool = False,
    max_epochs: int | None = None,
    best_by_eval: bool = True,
    best_metric: str = "eval_loss",
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
    """The trainer's schedule. Log, eval and save steps are those of the steps up to last_step;
    with max_epochs the stop at an epoch end evaluates and saves (`DefaultFlowCallbackNew`).
    `best_by_eval`: swift always sets metric_for_best_model (loss by default), so every
    evaluation can make a new best checkpoint that rotation protects; `best_metric` names it
    (`eval_loss`)."""
    batches, updates = updates_for(
        train_rows,
        world_size=world_size,
        batch=batch,
        accumulation=accumulation,
        sequence_parallel=sequence_parallel,
        drop_last=drop_last,
    )
    data_parallel = max(world_size // max(sequence_parallel, 1), 1)
    max_steps = max_steps_flag if max_steps_flag > 0 else math.ceil(epochs * updates)
    last = stop_step(max_steps, updates, max_epochs)
    log_every = _absolute(logging_steps, max_steps)
    log_at = {n for n in _every(log_every, max_steps, final=False) if n <= last}
    if logging_first_step and max_steps >= 1:
        log_at.add(1)
    epoch_ends = _epoch_ends(updates, max_steps)
    eval_at = _at(eval_strategy, _absolute(eval_steps, max_steps), max_steps, epoch_ends)
    save_at = _at(save_strategy, _absolute(save_steps, max_steps), max_steps, epoch_ends)
    if last < max_steps:  # stopped by max_epochs: evaluates and saves at that epoch end
        eval_at = _cut(eval_at, last, eval_strategy != "no")
        save_at = _cut(save_at, last, save_strategy != "no")
    rotation = plan_rotation(
        save_at, eval_at if best_by_eval else (), save_total_limit=save_total_limit
    )
    kept = kept_at_end(save_at, eval_at if best_by_eval else (), save_total_limit=save_total_limit)
    return Schedule(
        world_size=world_size,
        per_device_batch=batch,
        accumulation_steps=accumulation,
        effective_batch_size=batch * accumulation * data_parallel,
        batches_per_epoch=batches,
        updates_per_epoch=updates,
        max_steps=max_steps,
        epochs=epochs if max_steps_flag <= 0 else max_steps / updates,
        warmup_steps=warmup_for(max_steps, warmup_steps=warmup_steps, warmup_ratio=warmup_ratio),
        logging_steps=log_every or 0,
        log_steps_at=tuple(sorted(log_at)),
        eval_steps_at=eval_at,
        save_steps_at=save_at,
        checkpoints_kept=kept.if_last_is_best,
        keeps_best_checkpoint=bool(kept.best_candidates),
        last_step=last,
        max_epochs=max_epochs,
        sequence_parallel=max(sequence_parallel, 1),
        data_parallel_size=data_parallel,
        rows_per_process=rows_per_rank(
            train_rows, world_size=world_size, sequence_parallel=sequence_parallel
        ),
        checkpoints_at_once=rotation.most_at_once,
        best_checkpoint_candidates=kept.best_candidates,
        checkpoints_left=kept.folders,
        best_metric=best_metric,
    )


def _cut(steps: tuple[int, ...], last: int, at_stop: bool) -> tuple[int, ...]:
    kept = [n for n in steps if n <= last]
    if at_stop and (not kept or kept[-1] != last):
        kept.append(last)
    return tuple(kept)


def abbreviate(steps: tuple[int, ...]) -> str:
    """`5, 10, 15, ... 95, 100` for long lists."""
    if not steps:
        return "never"
    if len(steps) <= MAX_LISTED_STEPS:
        return ", ".join(map(str, steps))
    head = ", ".join(map(str, steps[:4]))
    tail = ", ".join(map(str, steps[-2:]))
    return f"{head}, ... {tail} ({len(steps)} in all)"
