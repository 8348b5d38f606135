"""Public ms-swift training logs as a calibration table for the time estimate.

public_speeds.json holds single-GPU runs that ms-swift published with their command, card and
measured speed (its source is recorded in the file). Each log's ideal seconds per optimizer
update comes from timing.py, its rows from the dataset's published length statistics; the
table's efficiency factor per tuner is the median of measured / ideal. Pure arithmetic.
"""

from __future__ import annotations

import functools
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftkit.memory.estimate import ALL_LINEAR, MemoryConfig
from swiftkit.memory.gpus import find_card
from swiftkit.memory.models import SOURCE_TABLE, ModelShape
from swiftkit.plan.timing import (
    expected_padded_length,
    gpu_device,
    micro_batch_cost,
    micro_batch_seconds,
    optimizer_seconds,
)

PUBLIC_FILE = Path(__file__).with_name("public_speeds.json")
# swift 1.x module names of fused or LoRA-DEFAULT layers, as swiftkit's q/k/v/o/MLP names.
_PUBLIC_TARGETS = {
    "c_attn": ("q_proj",),
    "query_key_value": ("q_proj",),
    "W_pack": ("q_proj",),
    "ALL_qwen": ("q_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
}


@dataclass(frozen=True)
class PublicRecord:
    id: str
    tuner: str
    measured_s: float  # seconds per optimizer update
    ideal_s: float

    @property
    def efficiency(self) -> float:
        return self.ideal_s / self.measured_s


def _lognormal_lengths(mean: float, std: float, low: int, high: int, n: int = 2000) -> list[int]:
    """n evenly spaced quantiles of a log-normal with this mean and standard deviation."""
    sigma2 = math.log(1 + (std / mean) ** 2)
    dist = statistics.NormalDist(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
    out = []
    for i in range(n):
        value = math.exp(dist.inv_cdf((i + 0.5) / n))
        out.append(int(min(max(value, low), high)))
    return out


def _record_shape(name: str, spec: dict[str, Any]) -> ModelShape:
    return ModelShape(
        model_id=name,
        source=SOURCE_TABLE,
        hidden_size=spec["hidden_size"],
        intermediate_size=spec["intermediate_size"],
        num_layers=spec["num_layers"],
        num_heads=spec["num_heads"],
        num_kv_heads=spec["num_kv_heads"],
        head_dim=spec["head_dim"],
        vocab_size=spec["vocab_size"],
        tie_word_embeddings=spec["tie_word_embeddings"],
        qkv_bias=spec["qkv_bias"],
        max_position_embeddings=spec["max_position_embeddings"],
        model_type=spec["model_type"],
    )


def _record_targets(spec: dict[str, Any], rec: dict[str, Any]) -> tuple[str, ...]:
    if rec.get("lora_target_modules") == "ALL":
        return _PUBLIC_TARGETS["ALL_qwen"] if spec["model_type"] == "qwen" else ALL_LINEAR
    names = spec.get("lora_default") or ["q_proj"]
    out: list[str] = []
    for name in names:
        out.extend(_PUBLIC_TARGETS.get(name, (name,)))
    return tuple(out)


@functools.lru_cache(maxsize=1)
def public_records(path: Path = PUBLIC_FILE) -> tuple[PublicRecord, ...]:
    """Each public log with its ideal time per update from timing.py."""
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = data["rows"]
    base = _lognormal_lengths(
        rows["mean_tokens"], rows["std_tokens"], rows["min_tokens"], rows["max_tokens"]
    )
    out = []
    for rec in data["records"]:
        spec = data["models"][rec["model"]]
        shape = _record_shape(rec["model"], spec)
        card = find_card({"A100": "a10080g"}.get(rec["card"], rec["card"]))
        device = gpu_device(card, rec["torch_dtype"]) if card else None
        if device is None:
            continue
        batch, accum = rec["per_device_train_batch_size"], rec["gradient_accumulation_steps"]
        lengths = [n for n in base if n <= rec["max_length"]]  # truncation_strategy delete
        seq = expected_padded_length(lengths, batch)
        cfg = MemoryConfig(
            tuner_type=rec["tuner"],
            torch_dtype=rec["torch_dtype"],
            lora_rank=rec.get("lora_rank") or 8,
            target_modules=_record_targets(spec, rec),
            batch_size=batch,
            seq_len_tokens=int(seq),
            gradient_checkpointing=rec["gradient_checkpointing"],
            optim="adamw_torch",
            gradient_accumulation_steps=accum,
        )
        cost = micro_batch_cost(shape, cfg, batch, seq)
        ideal = accum * micro_batch_seconds(cost, device) + optimizer_seconds(shape, cfg, device)
        out.append(PublicRecord(rec["id"], rec["tuner"], rec["seconds_per_update"], ideal))
    return tuple(out)


def public_efficiency(tuner: str, exclude: str | None = None) -> tuple[float, int] | None:
    """(median factor, records used) over the public logs of this tuner (LoRA-like or full)."""
    group = "full" if tuner == "full" else "lora"
    values = [
        r.efficiency
        for r in public_records()
        if ("full" if r.tuner == "full" else "lora") == group and r.id != exclude
    ]
    return (statistics.median(values), len(values)) if values else None


def public_leave_one_out() -> list[tuple[str, float, float]]:
    """(record id, predicted, measured seconds per update) for each public log, predicted with
    the factor fitted on the other logs of its tuner: how far the table is from a log it did
    not see."""
    out = []
    for r in public_records():
        fitted = public_efficiency(r.tuner, exclude=r.id)
        if fitted is not None:
            out.append((r.id, r.ideal_s / fitted[0], r.measured_s))
    return out
