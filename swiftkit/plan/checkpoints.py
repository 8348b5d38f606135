"""Which checkpoint folders exist during and after a run: transformers' rotation, replayed.

transformers 5.19 trainer.py `_save_checkpoint` writes checkpoint-N, then (when the step's
evaluation or an earlier one made checkpoint-B the best, and that folder exists) records it
as `best_model_checkpoint`, then calls trainer_utils.py `rotate_checkpoints`:
- `save_total_limit` None or <= 0: nothing is deleted, every checkpoint is kept;
- otherwise the folders are sorted oldest first (`sort_checkpoints`, by mtime: the save order),
  the newest and the best are protected, and the oldest unprotected ones are deleted until
  max(save_total_limit, number protected) remain.
The new folder is written before the rotation, so one more exists while it is written. With
save_total_limit 1 and an older best checkpoint, that makes three at once. Which evaluation
is the best depends on the losses; the plan takes the worst case for disk: the first
evaluation that has a checkpoint stays the best.

The best counts toward save_total_limit: with a limit N >= 2 the end leaves N folders, the last
N or the best and the last N - 1. With save_total_limit 1, trainer.py `_finalize_training`
deletes every folder but `best_model_checkpoint` when training ends, so one folder is left: the
best. swift always has a best: swift/arguments/sft_args.py `_init_metric_for_best_model` sets
metric_for_best_model to loss (rouge-l with predict_with_generate) when it is unset, and
`_determine_best_metric` then records best_global_step at every improving evaluation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Rotation:
    most_at_once: int  # the most checkpoint folders that exist at one time
    kept: tuple[int, ...]  # the steps whose folders remain at the end
    best: int | None  # the protected best checkpoint at the end, if any
    kept_if_best_is_latest: tuple[int, ...]  # what remains when the last evaluation is the best


def replay_rotation(
    save_steps: Sequence[int],
    eval_steps: Collection[int],
    *,
    save_total_limit: int | None,
    new_best_at: Collection[int],
) -> Rotation:
    """Replay saves and rotations in step order.

    `new_best_at`: the evaluation steps whose metric was a new best (transformers
    `_determine_best_metric`; the first evaluation always is). Evaluation runs before the save
    of the same step (`_maybe_log_save_evaluate`).
    """
    saves, evals, bests = set(save_steps), set(eval_steps), set(new_best_at)
    if save_total_limit is None or save_total_limit <= 0:  # rotate_checkpoints returns at once
        every = tuple(sorted(saves))
        best = max((e for e in bests & evals & saves), default=None)
        return Rotation(len(every), every, best, every)
    on_disk: deque[int] = deque()  # oldest first: sort_checkpoints orders by mtime, the save order
    best_step = best_folder = None
    most = 0
    for step in sorted(saves | evals):
        if step in evals and step in bests:
            best_step = step
        if step not in saves:
            continue
        on_disk.append(step)  # each step is saved once here (a re-save rewrites the same folder)
        most = max(most, len(on_disk))
        if best_step == step:  # checkpoint-{best_global_step} exists only when saved at that step
            best_folder = step
        if save_total_limit is None or save_total_limit <= 0 or len(on_disk) <= save_total_limit:
            continue
        protected = {on_disk[-1]} | ({best_folder} if best_folder is not None else set())
        keep = max(save_total_limit, len(protected))
        i = 0
        while len(on_disk) > keep:  # the oldest unprotected first; at most two are protected
            if on_disk[i] in protected:
                i += 1
            else:
                del on_disk[i]
    if save_total_limit == 1 and best_folder is not None:  # _finalize_training keeps the best
        on_disk = deque([best_folder])
    last_few = tuple(sorted(set(save_steps)))
    if save_total_limit is not None and save_total_limit > 0:
        last_few = last_few[-save_total_limit:]
    return Rotation(most, tuple(on_disk), best_folder, last_few)


@dataclass(frozen=True)
class KeptAtEnd:
    """The checkpoint folders training leaves, before the eval losses are known."""

    if_last_is_best: tuple[int, ...]  # the steps kept when the last evaluation is the best
    best_candidates: tuple[int, ...]  # older steps one of which stays when its eval was the best
    folders: int  # how many folders remain: the same either way


def kept_at_end(
    save_steps: Sequence[int], eval_steps: Collection[int], *, save_total_limit: int | None
) -> KeptAtEnd:
    """What the end leaves (see the module docstring). `eval_steps`: the evaluations that can
    make a best checkpoint (empty when nothing evaluates). A folder can be the best only when
    its step is also evaluated (trainer.py `_save_checkpoint` records checkpoint-{best_global_step}
    only when that folder exists)."""
    saves = sorted(set(save_steps))
    if save_total_limit is None or save_total_limit <= 0:
        return KeptAtEnd(tuple(saves), (), len(saves))
    last = tuple(saves[-save_total_limit:])
    older = tuple(s for s in saves[: len(saves) - len(last)] if s in eval_steps)
    return KeptAtEnd(last, older, len(last))


def plan_rotation(
    save_steps: Sequence[int], eval_steps: Collection[int], *, save_total_limit: int | None
) -> Rotation:
    """The worst case for disk: the first evaluation that coincides with a save stays the best
    (the eval loss never improves on it), so its folder is protected to the end."""
    eval_set = set(eval_steps)
    first = next((s for s in sorted(save_steps) if s in eval_set), None)
    if first is None:  # no evaluation ever has a folder: none is ever protected as the best
        return replay_rotation(save_steps, (), save_total_limit=save_total_limit, new_best_at=())
    evals_up_to_first = {s for s in eval_set if s <= first}
    return replay_rotation(
        save_steps, eval_set, save_total_limit=save_total_limit, new_best_at=evals_up_to_first
    )
