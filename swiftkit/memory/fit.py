"""Will it fit: a verdict per card, and ranked changes that make a run fit, each re-estimated."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from swiftkit.memory.devicemap import estimate_for as estimate_memory
from swiftkit.memory.estimate import MemoryConfig, MemoryEstimate
from swiftkit.memory.gpus import GpuCard
from swiftkit.memory.models import ModelShape

FITS, TIGHT, WILL_NOT_FIT = "fits", "tight", "will not fit"
# ZeRO-Offload is offered when what it moves (trainable weights, their gradients and optimizer
# states) is at least this share of the GPU figure: full fine-tuning, not LoRA.
OFFLOAD_MIN_SHARE = 0.10
TIGHT_FRACTION = 0.10  # under 10% of the card left: tight
_ORDER = {FITS: 0, TIGHT: 1, WILL_NOT_FIT: 2}


@dataclass(frozen=True)
class Verdict:
    card: GpuCard
    verdict: str  # FITS | TIGHT | WILL_NOT_FIT
    headroom_bytes: int  # memory left on the card after the judged bytes (negative: short by)
    judged_bytes: int = 0  # what was compared with the card: the high estimate on the device


@dataclass(frozen=True)
class Suggestion:
    description: str
    changes: Mapping[str, Any]  # swift flag (or NPROC_PER_NODE) -> new value
    estimate: MemoryEstimate
    verdict: str


def judge(est: MemoryEstimate, card: GpuCard) -> Verdict:
    """Compare what the run needs on the high estimate (device_needed_high_bytes: what nvidia-smi
    would show, plus the calibration set's error, less the cached segments the allocator frees
    before it raises out-of-memory) with the card's memory (free memory when detected): a run
    that "fits" has room for the estimate's known error."""
    available = card.total_bytes if card.free_bytes is None else card.free_bytes
    judged = est.device_needed_high_bytes if est.device_high_bytes else est.device_bytes
    headroom = available - judged
    if headroom < 0:
        verdict = WILL_NOT_FIT
    elif headroom < TIGHT_FRACTION * card.total_bytes:
        verdict = TIGHT
    else:
        verdict = FITS
    return Verdict(card=card, verdict=verdict, headroom_bytes=int(headroom), judged_bytes=judged)


def _try(shape, cfg, card, description, changes, cost) -> tuple[int, int, Suggestion]:
    est = estimate_memory(shape, cfg)
    verdict = judge(est, card).verdict
    return (_ORDER[verdict], cost, Suggestion(description, dict(changes), est, verdict))


def _shorter(shape: ModelShape, cfg: MemoryConfig, card: GpuCard):
    length = 1 << (max(cfg.seq_len_tokens - 1, 1)).bit_length()
    while length > 128:
        length //= 2
        if length >= cfg.seq_len_tokens:
            continue
        new = replace(cfg, seq_len_tokens=length)
        if judge(estimate_memory(shape, new), card).verdict != WILL_NOT_FIT:
            break
    if length >= cfg.seq_len_tokens:
        return None
    return (
        f"max_length {length}: rows longer than that are dropped (truncation_strategy delete)",
        {"max_length": length},
        replace(cfg, seq_len_tokens=length),
    )


def _smaller_batch(shape: ModelShape, cfg: MemoryConfig, card: GpuCard):
    effective = cfg.batch_size * cfg.gradient_accumulation_steps
    batch = cfg.batch_size
    while batch > 1:
        batch //= 2
        if judge(estimate_memory(shape, replace(cfg, batch_size=batch)), card).verdict != (
            WILL_NOT_FIT
        ):
            break
    if batch == cfg.batch_size:
        return None
    accum = math.ceil(effective / batch)
    return (
        f"per_device_train_batch_size {batch} x gradient_accumulation_steps {accum}: "
        f"the same effective batch ({effective} per GPU)",
        {"per_device_train_batch_size": batch, "gradient_accumulation_steps": accum},
        replace(cfg, batch_size=batch, gradient_accumulation_steps=accum),
    )


def _zero3(shape: ModelShape, cfg: MemoryConfig, card: GpuCard):
    world = max(cfg.world_size, 1)
    for gpus in (2, 4, 8):
        if gpus <= world and cfg.deepspeed and "zero3" in cfg.deepspeed:
            continue
        gpus = max(gpus, world)
        accum = max(1, math.ceil(cfg.gradient_accumulation_steps * world / gpus))
        new = replace(cfg, deepspeed="zero3", world_size=gpus, gradient_accumulation_steps=accum,
                      gpus_per_process=1)  # fmt: skip
        if judge(estimate_memory(shape, new), card).verdict != WILL_NOT_FIT or gpus == 8:
            return (
                f"DeepSpeed ZeRO-3 over {gpus} GPUs (NPROC_PER_NODE={gpus}), "
                f"gradient_accumulation_steps {accum} for about the same effective batch",
                {"deepspeed": "zero3", "NPROC_PER_NODE": gpus,
                 "gradient_accumulation_steps": accum},
                new,
            )  # fmt: skip
    return None


def _offload(shape: ModelShape, cfg: MemoryConfig) -> list:
    """ZeRO-Offload (swift's zero2_offload / zero3_offload presets): the same training, slower
    optimizer steps, the optimizer states (and for zero3_offload the weights) in CPU RAM."""
    parts = estimate_memory(shape, cfg).breakdown
    movable = sum(parts.get(k, 0) for k in ("optimizer_states", "gradients", "trainable_params"))
    if cfg.gpus_per_process > 1 or movable < OFFLOAD_MIN_SHARE * sum(parts.values()):
        return []  # device_map refuses DeepSpeed; or too little to move (LoRA)
    out = []
    for preset, what in (("zero2_offload", "optimizer states and gradients"),
                         ("zero3_offload", "optimizer states, gradients and weights")):  # fmt: skip
        if cfg.deepspeed == preset or (preset == "zero2_offload" and "zero3" in str(cfg.deepspeed)):
            continue
        new = replace(cfg, deepspeed=preset)
        ram = estimate_memory(shape, new).cpu_offload_bytes * max(cfg.world_size, 1)
        out.append((
            f"deepspeed {preset}: {what} in CPU RAM (about {ram / 2**30:.0f} GiB for "
            f"{max(cfg.world_size, 1)} process{'es' if cfg.world_size > 1 else ''}), "
            "the same training with slower optimizer steps",
            {"deepspeed": preset}, new,
        ))  # fmt: skip
    return out


def suggest_changes(shape: ModelShape, cfg: MemoryConfig, card: GpuCard) -> list[Suggestion]:
    """Changes that lower the peak on `card`, fitting ones first, least disruptive first."""
    current = estimate_memory(shape, cfg).device_bytes
    options = []
    if not cfg.gradient_checkpointing:
        options.append(("gradient_checkpointing true: recompute each layer in backward",
                        {"gradient_checkpointing": True},
                        replace(cfg, gradient_checkpointing=True)))  # fmt: skip
    options.append(_smaller_batch(shape, cfg, card))
    if not cfg.use_liger_kernel:
        options.append(("use_liger_kernel true: fused cross-entropy, no full logits "
                        "(pip install liger-kernel)", {"use_liger_kernel": True},
                        replace(cfg, use_liger_kernel=True)))  # fmt: skip
    options.extend(_offload(shape, cfg))
    if cfg.tuner_type != "full" and not cfg.quant_method:
        options.append(("QLoRA: quant_method bnb, quant_bits 4 (pip install bitsandbytes)",
                        {"quant_method": "bnb", "quant_bits": 4},
                        replace(cfg, quant_method="bnb", quant_bits=4)))  # fmt: skip
    if cfg.tuner_type == "full":
        options.append(("tuner_type lora (rank 8, all-linear) instead of full fine-tuning",
                        {"tuner_type": "lora"}, replace(cfg, tuner_type="lora")))  # fmt: skip
    options.append(_shorter(shape, cfg, card))
    options.append(_zero3(shape, cfg, card))
    ranked = []
    for cost, option in enumerate(options):
        if option is None:
            continue
        description, changes, new = option
        tried = _try(shape, new, card, description, changes, cost)
        if tried[2].estimate.device_bytes < current:
            ranked.append(tried)
    ranked.sort(key=lambda t: (t[0], t[1]))
    if ranked and ranked[0][2].verdict == WILL_NOT_FIT:
        combined = _combine(shape, cfg, card, [t[2] for t in ranked], options)
        if combined is not None:
            ranked.insert(0, (0, -1, combined))
    return [s for _, _, s in ranked]


def _combine(shape, cfg, card, singles: list[Suggestion], options) -> Suggestion | None:
    """When no single change is enough: stack them, biggest saving first, until it fits."""
    by_changes = {tuple(o[1].items()): o for o in options if o is not None}
    order = sorted(singles, key=lambda s: s.estimate.device_bytes)
    changes: dict[str, Any] = {}
    new, parts = cfg, []
    for single in order:
        description, delta, target = by_changes[tuple(single.changes.items())]
        if "max_length" in delta:  # shorten last, and only as far as needed
            continue
        new = _apply(new, target, cfg)
        changes.update(delta)
        parts.append(description.split(":")[0])
        est = estimate_memory(shape, new)
        if judge(est, card).verdict != WILL_NOT_FIT:
            return Suggestion(" + ".join(parts), changes, est, judge(est, card).verdict)
    shorter = _shorter(shape, new, card)
    if shorter is None:
        return None
    description, delta, new = shorter
    changes.update(delta)
    parts.append(description.split(":")[0])
    est = estimate_memory(shape, new)
    return Suggestion(" + ".join(parts), changes, est, judge(est, card).verdict)


def _apply(current: MemoryConfig, target: MemoryConfig, base: MemoryConfig) -> MemoryConfig:
    """Carry the fields that `target` changed relative to `base` over to `current`."""
    changed = {
        k: getattr(target, k)
        for k in target.__dataclass_fields__
        if getattr(target, k) != getattr(base, k)
    }
    return replace(current, **changed)
