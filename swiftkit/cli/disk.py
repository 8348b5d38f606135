"""Checkpoints and disk as text: the folders training leaves at the end (transformers'
rotation and `_finalize_training`, swiftkit.plan.checkpoints), and one folder's size in parts
that add up to the total shown."""

from __future__ import annotations

from swiftkit.cli.common import count
from swiftkit.plan.plan import Plan
from swiftkit.plan.schedule import MAX_LISTED_STEPS, Schedule

GIB = 1024**3


def gib(n: int | None) -> str:
    return "?" if n is None else f"{n / GIB:.1f} GiB"


def _names(steps) -> str:
    """`checkpoint-25, checkpoint-50`; long lists as abbreviate() shortens steps."""
    names = [f"checkpoint-{n}" for n in steps]
    if len(names) <= MAX_LISTED_STEPS:
        return ", ".join(names)
    return f"{', '.join(names[:4])}, ... {', '.join(names[-2:])} ({len(names)} in all)"


def render_kept(s: Schedule) -> list[str]:
    """`kept at the end:` and the most folders at once. The best by the metric counts toward
    save_total_limit (trainer_utils.py `rotate_checkpoints`): with a limit N >= 2 the end leaves
    the last N or the best and the last N - 1; with 1, only the best (`_finalize_training`)."""
    if not s.save_steps_at:
        return []
    n, last = s.checkpoints_left, s.checkpoints_kept
    older = s.best_checkpoint_candidates
    if not older:
        kept = f"{count(n, 'checkpoint folder')}: {_names(last)}"
    elif len(last) == 1:
        kept = (
            f"1 checkpoint folder, the best by {s.best_metric}: {_names(last)} or one of "
            f"{_names(older)}"
        )
    else:
        kept = (
            f"{count(n, 'checkpoint folder')}: {_names(last)} when the best by {s.best_metric} "
            f"is one of them, else that best (one of {_names(older)}) and {_names(last[1:])}"
        )
    return [
        f"  kept at the end: {kept}",
        f"  at most {count(s.checkpoints_at_once, 'checkpoint folder')} "
        f"{'exists' if s.checkpoints_at_once == 1 else 'exist'} at once",
    ]


def sizes(parts: list[int]) -> list[str]:
    """Byte counts in one unit (MiB under 1 GiB in all, else GiB to 0.1), rounded so that the
    shown parts add up to the shown total, which comes last (largest-remainder rounding)."""
    total = sum(parts)
    unit, name, fmt = (2**20, "MiB", "{:.0f}") if total < GIB else (GIB / 10, "GiB", "{:.1f}")
    exact = [n / unit for n in parts]
    shown = [int(x) for x in exact]
    by_remainder = sorted(range(len(parts)), key=lambda i: shown[i] - exact[i])
    for i in by_remainder[: round(total / unit) - sum(shown)]:
        shown[i] += 1
    scale = 1 if name == "MiB" else 10
    return [f"{fmt.format(n / scale)} {name}" for n in [*shown, sum(shown)]]


def render_disk(plan: Plan) -> list[str]:
    """One checkpoint folder, its parts (adding up), and the most on disk at once."""
    d = plan.disk
    if not d:
        return []
    free = gib(d.free_bytes) if d.free_bytes is not None else "unknown"
    n = d.checkpoints_at_once
    c = plan.memory.checkpoint if plan.memory else None
    if c is None or d.checkpoint_bytes is None:
        return [
            f"disk: {gib(d.checkpoint_bytes)} per checkpoint x {n} at once = "
            f"{gib(d.needed_bytes)}; free under {d.output_root}: {free}"
        ]
    optimizer = c.optimizer_bytes + c.deepspeed_weights_bytes
    if optimizer:
        weights, opt, other, one = sizes([c.weights_bytes, optimizer, c.other_bytes])
        held = f"weights {weights} + optimizer {opt} + other files {other} = {one}"
    else:
        weights, other, one = sizes([c.weights_bytes, c.other_bytes])
        held = f"weights {weights} + other files {other} = {one} (save_only_model: no optimizer)"
    return [
        f"disk: {one} per checkpoint x {n} at once = {sizes([c.total_bytes] * n)[-1]}; free "
        f"under {d.output_root}: {free}",
        f"  one checkpoint: {held}",
    ]
