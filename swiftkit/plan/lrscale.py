"""The learning rate for another effective batch: the scaling rules and the note the plan shows
when the effective batch differs from the one the learning rate was tuned for."""

from __future__ import annotations

import math


def lr_scaled(lr: float, new_effective: int, old_effective: int, rule: str) -> float:
    """learning_rate for another effective batch: sqrt (Krizhevsky 2014; Hoffer et al. 2017) or
    linear (Goyal et al. 2017) in the batch ratio; `none` keeps it."""
    ratio = new_effective / old_effective
    if rule == "sqrt":
        return lr * math.sqrt(ratio)
    if rule == "linear":
        return lr * ratio
    return lr


def scaling_advice(lr: float, new_effective: int, old_effective: int) -> str:
    """`scale learning_rate 0.0001 by sqrt(32/16) -> 0.000141, or linearly -> 0.0002`."""
    return (
        f"scale learning_rate {lr:g} by sqrt({new_effective}/{old_effective}) -> "
        f"{lr_scaled(lr, new_effective, old_effective, 'sqrt'):.3g}, "
        f"or linearly -> {lr_scaled(lr, new_effective, old_effective, 'linear'):.3g}"
    )


def lr_note(lr: float, effective: int, tuned_for: int, explicit: bool) -> str | None:
    if effective == tuned_for or effective < 1:
        return None
    source = "the recipe's lr_tuned_for_batch" if explicit else "ms-swift's default effective batch"
    return (
        f"effective batch {effective} differs from {tuned_for} ({source}): "
        f"{scaling_advice(lr, effective, tuned_for)}"
    )
