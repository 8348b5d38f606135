"""Auto-fit: the largest per-device batch that fits the card, at the same effective batch.

The search is the memory estimate at the longest row the run trains on (the plan's sequence),
judged by swiftkit.memory.fit.judge, for per_device_train_batch_size 1, 2, ... up to the
per-process share of the effective batch (batch x accumulation) and the rows each process has.
"Fits" is judge's verdict: `fits` (at least fit.TIGHT_FRACTION of the card left) by default,
or, with a headroom of H bytes, anything but `will not fit` on a card H bytes smaller.

gradient_accumulation_steps is then effective / (batch x world): exact when the batch divides
the per-process share (the largest such batch that fits is taken); when only the current batch
divides it, the largest batch that fits with the nearest effective batch, and an lr note.
The evaluation batch: the largest that fits a gradient-checkpointed training step at that batch
(an evaluation step keeps no activations for backward and no gradients: less than that).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from swiftkit.memory import learned
from swiftkit.memory.devicemap import estimate_for
from swiftkit.memory.estimate import MemoryEstimate
from swiftkit.memory.fit import FITS, WILL_NOT_FIT, judge
from swiftkit.memory.gpus import GpuCard
from swiftkit.plan.lrscale import scaling_advice
from swiftkit.plan.plan import Plan
from swiftkit.recipe.swiftargs import resolve_args

MAX_EVAL_BATCH = 256
BATCH_KEY, ACCUM_KEY, EVAL_KEY = (
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "per_device_eval_batch_size",
)


@dataclass(frozen=True)
class FitPoint:
    """One configuration in the before/after table."""

    per_device_train_batch_size: int
    gradient_accumulation_steps: int
    per_device_eval_batch_size: int
    effective_batch_size: int
    peak_reserved_bytes: int
    device_bytes: int
    verdict: str  # judge's verdict on the fit card
    max_steps: int | None
    step_seconds: float | None
    total_seconds: float | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class AutoFit:
    card: str
    card_bytes: int
    headroom_bytes: int | None  # None: judge's own margin (verdict "fits")
    before: FitPoint
    after: FitPoint | None  # None: even batch 1 does not fit
    exact: bool  # the effective batch is unchanged
    changes: Mapping[str, int]  # the overrides that make `after`
    limit: str  # why the batch stops there
    lr_note: str | None

    def to_json(self) -> dict[str, Any]:
        chosen = self.after or self.before
        out = chosen.to_json()
        out.update(
            card=self.card,
            card_bytes=self.card_bytes,
            headroom_bytes=self.headroom_bytes,
            fits=self.after is not None,
            exact=self.exact,
            changes=dict(self.changes),
            limit=self.limit,
            lr_note=self.lr_note,
            before=self.before.to_json(),
            after=self.after.to_json() if self.after else None,
        )
        return out


def accepts(est: MemoryEstimate, card: GpuCard, headroom_bytes: int | None) -> bool:
    """Whether judge lets this estimate run on the card with the headroom left."""
    if headroom_bytes is None:
        return judge(est, card).verdict == FITS
    smaller = replace(
        card,
        total_bytes=card.total_bytes - headroom_bytes,
        free_bytes=None if card.free_bytes is None else card.free_bytes - headroom_bytes,
    )
    return judge(est, smaller).verdict != WILL_NOT_FIT


def _largest(limit: int, ok: Callable[[int], bool]) -> int | None:
    """The largest n in 1..limit with ok(n), for ok monotone (memory grows with the batch)."""
    best = None
    for n in range(1, max(limit, 1) + 1):
        if not ok(n):
            break
        best = n
    return best


def _nearest_accumulation(share: int, batch: int) -> int:
    low = max(share // batch, 1)
    high = low + 1
    return low if abs(low * batch - share) <= abs(high * batch - share) else high


def choose_batches(
    plan: Plan, card: GpuCard, headroom_bytes: int | None
) -> tuple[dict[str, int], bool, str] | None:
    """(overrides, exact, why the batch stops there), or None when batch 1 does not fit."""
    s, m = plan.schedule, plan.memory
    if s is None or m is None or m.shape is None or m.config is None:
        return None
    world = plan.world_size
    share = s.per_device_batch * s.accumulation_steps
    rows_per_process = math.ceil((plan.train_rows or share) / world)
    cap = min(share, rows_per_process)

    def est(batch: int, accum: int, checkpointing: bool | None = None) -> MemoryEstimate:
        # The plan's own memory config (row lengths, layout, dtype) at another batch, and the
        # correction it learned from the user's runs: the same estimate the plan would make.
        cfg = replace(m.config, batch_size=batch, gradient_accumulation_steps=accum)
        if checkpointing:
            cfg = replace(cfg, gradient_checkpointing=True)
        e = estimate_for(m.shape, cfg)
        return learned.apply(e, m.correction) if m.correction is not None else e

    largest = _largest(cap, lambda b: accepts(est(b, max(share // b, 1)), card, headroom_bytes))
    if largest is None:
        return None
    divisor = max(d for d in range(1, largest + 1) if share % d == 0)
    if divisor > s.per_device_batch or divisor == largest or largest < s.per_device_batch:
        batch, accum, exact = divisor, share // divisor, True
    else:
        batch = largest
        accum = _nearest_accumulation(share, batch)
        exact = batch * accum == share
    if largest < cap:
        nxt = est(largest + 1, max(share // (largest + 1), 1))
        why = (
            f"batch {largest + 1} would show {nxt.device_bytes / 2**30:.1f} GiB on the device and "
            f"need {nxt.device_needed_high_bytes / 2**30:.1f} GiB on the high estimate "
            f"({judge(nxt, card).verdict} on {card.name})"
        )
    elif cap == share:
        why = f"batch {cap} is the whole per-device share of the effective batch"
    else:
        why = f"each process has {rows_per_process} training rows"
    if batch < largest:
        why += f"; batch {batch} is the largest that divides {share} (accumulation {accum})"
    changes = {BATCH_KEY: batch, ACCUM_KEY: accum}
    if s.eval_steps_at and plan.val_rows:
        eval_cap = min(MAX_EVAL_BATCH, math.ceil(plan.val_rows / world))
        eval_batch = _largest(
            eval_cap, lambda e: accepts(est(e, accum, checkpointing=True), card, headroom_bytes)
        )
        if eval_batch is not None:
            changes[EVAL_KEY] = eval_batch
    return changes, exact, why


def _point(plan: Plan, card: GpuCard) -> FitPoint:
    s, m, t = plan.schedule, plan.memory, plan.time
    resolved = resolve_args(plan.args, world_size=plan.world_size)
    return FitPoint(
        per_device_train_batch_size=s.per_device_batch,
        gradient_accumulation_steps=s.accumulation_steps,
        per_device_eval_batch_size=int(resolved.get(EVAL_KEY) or 1),
        effective_batch_size=s.effective_batch_size,
        peak_reserved_bytes=m.estimate.peak_reserved_bytes,
        device_bytes=m.estimate.device_bytes,
        verdict=judge(m.estimate, card).verdict,
        max_steps=s.max_steps,
        step_seconds=t.step_seconds if t else None,
        total_seconds=t.total_seconds if t else None,
    )


def auto_fit(
    plan: Plan,
    *,
    card: GpuCard,
    headroom_bytes: int | None,
    replan: Callable[[Mapping[str, int]], Plan],
) -> tuple[AutoFit, Plan | None]:
    """The fit and the plan it makes (replan(overrides) plans the recipe with them), or
    (fit with after=None, None) when even batch 1 does not fit: the plan's ranked fixes apply."""
    before = _point(plan, card)
    chosen = choose_batches(plan, card, headroom_bytes)
    if chosen is None:
        fit = AutoFit(card.name, card.total_bytes, headroom_bytes, before, None, True, {},
                      "batch 1 does not fit", None)  # fmt: skip
        return fit, None
    changes, exact, why = chosen
    current = {
        BATCH_KEY: before.per_device_train_batch_size,
        ACCUM_KEY: before.gradient_accumulation_steps,
        EVAL_KEY: before.per_device_eval_batch_size,
    }
    changes = {k: v for k, v in changes.items() if current[k] != v}
    new_plan = replan(changes) if changes else plan
    after = _point(new_plan, card)
    note = None
    if not exact:
        old, new = before.effective_batch_size, after.effective_batch_size
        lr = plan.learning_rate
        note = (
            f"no batch that fits divides the effective batch {old}: effective batch {new} "
            f"instead; {scaling_advice(lr, new, old)}"
        )
    fit = AutoFit(card.name, card.total_bytes, headroom_bytes, before, after, exact, changes,
                  why, note)  # fmt: skip
    return fit, new_plan
