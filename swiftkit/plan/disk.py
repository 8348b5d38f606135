"""Disk room for a run's checkpoints, checked before training starts.

A checkpoint holds the trainable weights (the adapter, or the whole model for full
fine-tuning) and the optimizer states: the memory estimate's `trainable_params` and
`optimizer_states` parts. While a new checkpoint is written the oldest one still exists, so
`save_total_limit + 1` checkpoints are on disk at once.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from swiftkit.plan.schedule import Schedule

# Scheduler, RNG state, trainer_state.json, configs and the tokenizer copy: small, but not nothing.
CHECKPOINT_OVERHEAD_BYTES = 16 * 1024**2


@dataclass(frozen=True)
class DiskPlan:
    output_root: str
    checkpoint_bytes: int
    checkpoints_at_once: int
    needed_bytes: int
    free_bytes: int | None

    @property
    def fits(self) -> bool:
        return self.free_bytes is None or self.needed_bytes <= self.free_bytes


def _existing_parent(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return None


def plan_disk(
    output_root: Path, breakdown, schedule: Schedule | None, limit: int | None
) -> DiskPlan:
    per_checkpoint = (
        int(breakdown.get("trainable_params", 0))
        + int(breakdown.get("optimizer_states", 0))
        + CHECKPOINT_OVERHEAD_BYTES
    )
    saves = len(schedule.save_steps_at) if schedule else 1
    at_once = min(saves, limit + 1) if limit else saves
    at_once = max(at_once, 1)
    parent = _existing_parent(output_root)
    free = shutil.disk_usage(parent).free if parent is not None else None
    return DiskPlan(
        output_root=str(output_root),
        checkpoint_bytes=per_checkpoint,
        checkpoints_at_once=at_once,
        needed_bytes=per_checkpoint * at_once,
        free_bytes=free,
    )
