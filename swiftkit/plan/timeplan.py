"""The time part of a plan: per optimizer update and in total, with evaluations and saves.

Glue between plan.py, the per-step model (timing.py) and the efficiency factor (calibrate.py):
the device the run will use, the token lengths of the rows it trains on, the padded length of a
batch, the number of micro-batches, evaluation batches and checkpoint saves in the schedule.
Imports no torch or swift.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftkit.memory.estimate import memory_config_from_args
from swiftkit.memory.gpus import GpuCard
from swiftkit.memory.models import ModelShape
from swiftkit.plan.calibrate import Calibration, calibrate
from swiftkit.plan.disk import DiskPlan
from swiftkit.plan.lengths import row_lengths
from swiftkit.plan.memplan import MemoryPlan
from swiftkit.plan.schedule import Schedule
from swiftkit.plan.timing import (
    Device,
    cpu_device,
    expected_padded_length,
    gpu_device,
    micro_batch_cost,
    micro_batch_seconds,
    optimizer_seconds,
)
from swiftkit.recipe.swiftargs import output_root

# A checkpoint save: writing its bytes at a local disk's sequential speed, plus the fixed cost of
# the small files (trainer state, RNG state, configs, tokenizer copy).
DISK_BYTES_PER_SECOND = 500e6
SAVE_FIXED_SECONDS = 0.2


@dataclass(frozen=True)
class TimeEstimate:
    device: str
    device_key: str
    model_family: str
    model_id: str
    step_seconds: float  # one optimizer update (average over the run)
    train_seconds: float  # every update
    eval_seconds: float  # every evaluation
    save_seconds: float  # every checkpoint save
    tokens_per_update: float  # padded tokens one update processes, all processes together
    padded_length_tokens: float  # expected length a training batch is padded to
    efficiency: float
    eval_efficiency: float
    basis: str  # own_runs | public_logs | uncalibrated
    basis_detail: str
    ideal_step_seconds: float  # at efficiency 1
    ideal_train_seconds: float
    ideal_eval_seconds: float
    flops_per_update: float
    calibrated_from: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def total_seconds(self) -> float:
        """The trainer's loop: updates, evaluations and saves (model loading not included)."""
        return self.train_seconds + self.eval_seconds + self.save_seconds

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_per_update / self.step_seconds if self.step_seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "step_seconds": self.step_seconds,
            "train_seconds": self.train_seconds,
            "eval_seconds": self.eval_seconds,
            "save_seconds": self.save_seconds,
            "total_seconds": self.total_seconds,
            "tokens_per_second": self.tokens_per_second,
            "tokens_per_update": self.tokens_per_update,
            "padded_length_tokens": self.padded_length_tokens,
            "basis": self.basis,
            "basis_detail": self.basis_detail,
            "efficiency": self.efficiency,
            "eval_efficiency": self.eval_efficiency,
            "device": self.device,
            "device_key": self.device_key,
            "model_family": self.model_family,
            "model_id": self.model_id,
            "flops_per_update": self.flops_per_update,
            "ideal": {
                "step_seconds": self.ideal_step_seconds,
                "train_seconds": self.ideal_train_seconds,
                "eval_seconds": self.ideal_eval_seconds,
            },
            "calibrated_from": list(self.calibrated_from),
            "notes": list(self.notes),
        }


def model_key(shape: ModelShape) -> str:
    """What "the same model" means for calibration: its name and its parameter count."""
    return f"{shape.model_id} ({shape.param_count():,} parameters)"


def _threads(env: Mapping[str, str]) -> int:
    raw = env.get("OMP_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    try:
        return max(int(raw), 1) if raw else (os.cpu_count() or 1)
    except ValueError:
        return os.cpu_count() or 1


def run_device(
    resolved: Mapping[str, Any], env: Mapping[str, str], card: GpuCard | None
) -> Device | None:
    """The CPU when use_cpu is set, else the card the run will use (None when not known)."""
    if resolved.get("use_cpu"):
        return cpu_device(_threads(env))
    if card is None:
        return None
    cfg_dtype = str(resolved.get("torch_dtype") or "bfloat16")
    return gpu_device(card, "float32" if cfg_dtype in ("float32", "fp32") else "bfloat16")


def _padded(lengths: Sequence[int], batch: int, resolved: Mapping[str, Any]) -> float:
    if resolved.get("padding_free") or resolved.get("packing") or resolved.get("group_by_length"):
        return sum(lengths) / len(lengths)  # rows packed, or batched with rows of their length
    return expected_padded_length(list(lengths), batch)


def estimate_time(
    resolved: Mapping[str, Any],
    shape: ModelShape,
    schedule: Schedule,
    *,
    device: Device,
    world_size: int,
    train_lengths: Sequence[int],
    val_lengths: Sequence[int],
    val_rows: int,
    checkpoint_bytes: int,
    calibration: Calibration,
    lengths_exact: bool = True,
) -> TimeEstimate:
    """Seconds per update, for every update, for evaluation and for saves.

    Micro-batches per process over the run: batches_per_epoch x max_steps / updates_per_epoch
    (the trainer's loop, transformers trainer.py _inner_training_loop); each update also runs the
    optimizer. Evaluation: ceil(val_rows / world / eval batch) forward passes at each eval step
    (Trainer.evaluate over swift's validation split). Saves: one per schedule save step.
    """
    notes = []
    batch, accum = schedule.per_device_batch, schedule.accumulation_steps
    cfg = memory_config_from_args(resolved, world_size=world_size, seq_len_tokens=1)
    if not train_lengths:
        fallback = int(resolved.get("max_length") or shape.max_position_embeddings)
        train_lengths = [fallback]
        notes.append(f"row lengths unknown: every row taken as {fallback} tokens (max_length)")
    elif not lengths_exact:
        notes.append("row lengths are upper bounds from their bytes (the tokenizer is not local)")
    seq = _padded(train_lengths, batch, resolved)
    micro = micro_batch_seconds(micro_batch_cost(shape, cfg, batch, seq), device)
    micro_total = schedule.batches_per_epoch * schedule.max_steps / schedule.updates_per_epoch
    opt = optimizer_seconds(shape, cfg, device)
    ideal_train = micro_total * micro + schedule.max_steps * opt
    flops = accum * micro_batch_cost(shape, cfg, batch, seq).flops * world_size

    ideal_eval = 0.0
    evals = len(schedule.eval_steps_at)
    if evals and val_rows:
        eval_batch = int(resolved.get("per_device_eval_batch_size") or 1)
        lengths = val_lengths or train_lengths
        eval_seq = _padded(lengths, eval_batch, resolved)
        cost = micro_batch_cost(shape, cfg, eval_batch, eval_seq, train=False)
        batches = math.ceil(math.ceil(val_rows / world_size) / eval_batch)
        ideal_eval = evals * batches * micro_batch_seconds(cost, device)
    saves = len(schedule.save_steps_at)
    save = saves * (checkpoint_bytes / DISK_BYTES_PER_SECOND + SAVE_FIXED_SECONDS)
    if world_size > 1:
        notes.append("several processes: gradient all-reduce time is not modelled")
    train = ideal_train / calibration.train_efficiency
    return TimeEstimate(
        device=device.name,
        device_key=device.key,
        model_family=shape.model_type,
        model_id=model_key(shape),
        step_seconds=train / schedule.max_steps,
        train_seconds=train,
        eval_seconds=ideal_eval / calibration.eval_efficiency,
        save_seconds=save,
        tokens_per_update=accum * batch * seq * world_size,
        padded_length_tokens=seq,
        efficiency=calibration.train_efficiency,
        eval_efficiency=calibration.eval_efficiency,
        basis=calibration.basis,
        basis_detail=calibration.detail,
        ideal_step_seconds=ideal_train / schedule.max_steps,
        ideal_train_seconds=ideal_train,
        ideal_eval_seconds=ideal_eval,
        flops_per_update=flops,
        calibrated_from=calibration.runs,
        notes=tuple(notes),
    )


def plan_time(
    resolved: Mapping[str, Any],
    memory: MemoryPlan | None,
    schedule: Schedule | None,
    disk: DiskPlan | None,
    env: Mapping[str, str],
    world_size: int,
    stats,
    base_dir: Path,
    val_rows: int | None,
    notes: list[str],
) -> TimeEstimate | None:
    """The plan's time estimate, or None (with a note) when the device or model is unknown.

    The device: the CPU for use_cpu, else the card memory was judged against when it was named
    or detected. Calibration looks for finished runs under the recipe's output_dir and ./output.
    """
    from swiftkit.memory.models import resolve_model_shape

    if memory is None:  # no model shape, or the recipe has errors
        return None
    card = memory.verdicts[0].card if memory.cards_detected and memory.verdicts else None
    model = resolved.get("model")
    shape = resolve_model_shape(model, base_dir=base_dir) if model else None
    if shape is None or schedule is None or schedule.max_steps <= 0:
        return None
    device = run_device(resolved, env, card)
    if device is None:
        what = f"{card.name} is not in the throughput table" if card else "no GPU is named"
        notes.append(
            f"time: not estimated ({what}). Pass --gpu NAME (python -m swiftkit gpus lists them)"
        )
        return None
    lengths, exact = row_lengths(resolved, stats, base_dir)
    run_roots = [output_root(resolved, base_dir), base_dir / "output"]
    calibration = calibrate(
        run_roots,
        device_key=device.key,
        on_gpu=not device.key.startswith("cpu/"),
        model_family=shape.model_type,
        model_id=model_key(shape),
        tuner=str(resolved.get("tuner_type") or "lora"),
    )
    return estimate_time(
        resolved,
        shape,
        schedule,
        device=device,
        world_size=world_size,
        train_lengths=lengths["train"],
        val_lengths=lengths["val"],
        val_rows=val_rows or 0,
        checkpoint_bytes=disk.checkpoint_bytes if disk else 0,
        calibration=calibration,
        lengths_exact=exact,
    )
