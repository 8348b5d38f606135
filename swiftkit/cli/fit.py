"""Auto-fit as the command line shows it: which card, the before/after table, the overrides.

Shared by `plan --fit` and `train --auto-fit`; the arithmetic lives in swiftkit.plan.autofit.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping

from swiftkit.cli.common import duration
from swiftkit.errors import RecipeError
from swiftkit.memory.fit import TIGHT_FRACTION
from swiftkit.plan.autofit import AutoFit, auto_fit
from swiftkit.plan.plan import Plan

GIB = 1024**3
COLUMNS = ("", "batch", "accumulation", "effective", "eval batch", "peak reserved", "on device",
           "verdict", "updates", "per update", "total")  # fmt: skip


def add_fit_args(p: argparse.ArgumentParser, *, flag: str) -> None:
    p.add_argument(
        flag,
        dest="fit",
        action="store_true",
        help="raise per_device_train_batch_size to the largest that fits the card, with "
        "gradient_accumulation_steps lowered so the effective batch stays the same",
    )
    p.add_argument(
        "--headroom",
        type=float,
        metavar="GiB",
        help="memory to leave free on the card when fitting (default: what the 'fits' verdict "
        f"leaves, {TIGHT_FRACTION:.0%}% of the card)",
    )


def fit_card(plan: Plan):
    """The card to fit: the host's memory for use_cpu runs, else the named or detected card."""
    if plan.args.get("use_cpu"):
        from swiftkit.memory.host import host_memory_card

        card = host_memory_card()
        if card is not None:
            return card
    m = plan.memory
    if m is not None and m.cards_detected and m.verdicts:
        return m.verdicts[0].card
    msg = (
        f"{plan.recipe_path}: no card to fit the batch to: no GPU was found and none is named. "
        "Pass --gpu NAME (python -m swiftkit gpus lists them) or set swiftkit: gpu: in the recipe."
    )
    raise RecipeError(msg)


def run_fit(
    plan: Plan, headroom_gib: float | None, replan: Callable[[Mapping[str, int]], Plan]
) -> tuple[AutoFit, Plan | None]:
    if headroom_gib is not None and headroom_gib < 0:
        msg = f"--headroom must be 0 or more GiB (got {headroom_gib:g}). Write --headroom 2."
        raise RecipeError(msg)
    if plan.memory is None or plan.schedule is None:
        msg = (
            f"{plan.recipe_path}: cannot fit the batch: the plan has no memory estimate or no "
            "schedule (see its notes)."
        )
        raise RecipeError(msg)
    headroom = None if headroom_gib is None else int(headroom_gib * GIB)
    return auto_fit(plan, card=fit_card(plan), headroom_bytes=headroom, replan=replan)


def override_words(changes: Mapping[str, int]) -> list[str]:
    return [f"{k}={v}" for k, v in changes.items()]


def _cells(name: str, p) -> list[str]:
    return [
        name,
        str(p.per_device_train_batch_size),
        str(p.gradient_accumulation_steps),
        str(p.effective_batch_size),
        str(p.per_device_eval_batch_size),
        f"{p.peak_reserved_bytes / GIB:.1f} GiB",
        f"{p.device_bytes / GIB:.1f} GiB",
        p.verdict,
        str(p.max_steps),
        f"{p.step_seconds:.2f} s" if p.step_seconds is not None else "-",
        duration(p.total_seconds),
    ]


def render_fit(fit: AutoFit) -> str:
    margin = (
        f"{fit.headroom_bytes / GIB:g} GiB left free"
        if fit.headroom_bytes is not None
        else f"verdict 'fits': at least {TIGHT_FRACTION:.0%} of the card left"
    )
    lines = [f"auto-fit on {fit.card} ({fit.card_bytes / GIB:.1f} GiB, {margin}):"]
    rows = [list(COLUMNS), _cells("before", fit.before)]
    if fit.after is not None:
        rows.append(_cells("after", fit.after))
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    for r in rows:
        lines.append("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    if fit.after is None:
        lines.append("  even per_device_train_batch_size 1 does not fit: see the fixes above")
        return "\n".join(lines)
    lines.append(f"  stops at: {fit.limit}")
    if not fit.changes:
        lines.append("  the recipe's batches are already the largest that fit")
    else:
        before, after = fit.before, fit.after
        if before.step_seconds and after.step_seconds:
            lines.append(
                f"  estimated speed-up per update: {before.step_seconds / after.step_seconds:.2f}x"
            )
        lines.append(f"  overrides: {' '.join(override_words(fit.changes))}")
    if fit.lr_note:
        lines.append(f"  note: {fit.lr_note}")
    return "\n".join(lines)
