"""Disk room for a run's checkpoints, checked before training starts.

One checkpoint's size is swiftkit.memory.checkpoint.checkpoint_size (weights, and the whole
optimizer unless save_only_model); how many exist at once is the rotation replayed in
checkpoints.py (save_total_limit <= 0 keeps all, the newest is written before the oldest is
deleted, and the best by eval loss is never deleted).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from swiftkit.memory.checkpoint import CheckpointSize
from swiftkit.plan.schedule import Schedule


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


def plan_disk(output_root: Path, checkpoint: CheckpointSize, schedule: Schedule | None) -> DiskPlan:
    per_checkpoint = checkpoint.total_bytes
    at_once = max(schedule.checkpoints_at_once if schedule else 1, 1)
    parent = _existing_parent(output_root)
    free = shutil.disk_usage(parent).free if parent is not None else None
    return DiskPlan(
        output_root=str(output_root),
        checkpoint_bytes=per_checkpoint,
        checkpoints_at_once=at_once,
        needed_bytes=per_checkpoint * at_once,
        free_bytes=free,
    )
