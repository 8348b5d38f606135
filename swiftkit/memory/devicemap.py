"""Memory per GPU when one process holds several GPUs and swift splits the model over them.

swift/utils/env.py `is_mp`: a process that sees n_gpu // NPROC_PER_NODE >= 2 GPUs loads the
model with device_map 'auto' (swift/model/utils.py `get_default_device_map`; under torchrun the
MP+DDP patch in swift/model/patcher.py `patch_mp_ddp` does the same per process with
`get_balanced_memory(low_zero=False)`). transformers' 'auto' is accelerate's balanced map: the
weights are spread evenly, layer by layer, and the lm_head sits on the last GPU. Each GPU keeps
the activations of its own layers; the last one also computes the logits and the loss. So the
busiest GPU holds 1/k of the weights, gradients and optimizer states and the activations of
ceil(L / k) layers plus the loss.
"""

from __future__ import annotations

import math
from dataclasses import replace

from swiftkit.memory.estimate import MemoryConfig, MemoryEstimate, estimate_memory
from swiftkit.memory.models import ModelShape

# The parts of the breakdown that follow the weights (spread evenly by the balanced map).
STATIC_PARTS = ("frozen_weights", "trainable_params", "gradients", "optimizer_states")


def estimate_for(shape: ModelShape, cfg: MemoryConfig) -> MemoryEstimate:
    """estimate_memory, or the busiest GPU of the split when cfg.gpus_per_process >= 2."""
    if cfg.gpus_per_process < 2:
        return estimate_memory(shape, cfg)
    return estimate_split(shape, cfg, cfg.gpus_per_process)


def estimate_split(shape: ModelShape, cfg: MemoryConfig, gpus: int) -> MemoryEstimate:
    """The busiest of `gpus` GPUs that one process's device_map splits the model over: the
    static parts of the whole model's estimate divided by `gpus`, the activations and loss of
    the last GPU's ceil(L / gpus) layers."""
    whole = estimate_memory(shape, cfg)
    last = estimate_memory(replace(shape, num_layers=math.ceil(shape.num_layers / gpus)), cfg)
    breakdown = dict(last.breakdown)
    for part in STATIC_PARTS:
        breakdown[part] = whole.breakdown.get(part, 0) // gpus
    delta = sum(breakdown[p] - last.breakdown.get(p, 0) for p in STATIC_PARTS)
    notes = (
        *last.notes,
        f"device_map splits the model over {gpus} GPUs per process: the figure is the "
        "busiest GPU (the last, which also computes the loss)",
    )
    return replace(
        last,
        peak_allocated_bytes=last.peak_allocated_bytes + delta,
        peak_reserved_bytes=last.peak_reserved_bytes + delta,
        device_bytes=last.device_bytes + delta,
        peak_reserved_high_bytes=last.peak_reserved_high_bytes + delta,
        device_high_bytes=last.device_high_bytes + delta,
        breakdown=breakdown,
        notes=notes,
        cpu_offload_bytes=0,
    )
