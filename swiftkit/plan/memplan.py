"""The memory part of a plan: the estimate for the run's longest row and for full max_length,
corrected by the user's finished runs of the same model on the same card, verdicts against the
target card(s) (judged on the high estimate), and ranked changes when it does not fit.

Glue between plan.py and the estimator (models, memory, gpus, fit, learned); imports no torch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from swiftkit.memory import learned
from swiftkit.memory.checkpoint import CheckpointSize, checkpoint_size
from swiftkit.memory.devicemap import estimate_for
from swiftkit.memory.estimate import MemoryConfig, MemoryEstimate, memory_config_from_args
from swiftkit.memory.fit import Suggestion, Verdict, judge, suggest_changes
from swiftkit.memory.gpus import COMMON_CARDS, GpuCard, find_card
from swiftkit.memory.models import ModelShape, resolve_model_shape
from swiftkit.plan.inferplan import inference_json, plan_inference
from swiftkit.recipe.layout import Layout
from swiftkit.recipe.swiftargs import output_root
from swiftkit.watch.memruns import finished_records


@dataclass(frozen=True)
class MemoryPlan:
    model_source: str
    param_count: int
    estimate: MemoryEstimate  # at the longest row the run will see
    at_max_length: MemoryEstimate | None  # at full max_length, when that differs
    cards_detected: bool
    verdicts: tuple[Verdict, ...]
    suggestions: tuple[Suggestion, ...]
    checkpoint: CheckpointSize | None = None  # one checkpoint folder on disk
    gpus_per_process: int = 1  # >= 2: device_map splits the model; figures are per GPU
    sequence_parallel: int = 1  # each GPU holds seq / SP tokens of activations
    cpu_offload_bytes: int = 0  # CPU RAM that ZeRO offload needs on one node (all its processes)
    shape: ModelShape | None = None
    config: MemoryConfig | None = None
    correction: learned.Correction | None = None
    # Serving the result (swiftkit infer: adapters unmerged, batch 1, max_length of context).
    inference: MemoryEstimate | None = None
    inference_verdicts: tuple[Verdict, ...] = ()

    @property
    def verdict(self) -> str | None:
        """The verdict on the card that will run it (detected or named), else None."""
        return self.verdicts[0].verdict if self.cards_detected and self.verdicts else None

    def to_json(self) -> dict[str, Any]:
        e = self.estimate
        return {
            "model_source": self.model_source,
            "param_count": self.param_count,
            "peak_allocated_bytes": e.peak_allocated_bytes,
            "peak_reserved_bytes": e.peak_reserved_bytes,
            "peak_reserved_high_bytes": e.peak_reserved_high_bytes,
            "device_bytes": e.device_bytes,
            "device_high_bytes": e.device_high_bytes,
            "device_needed_high_bytes": e.device_needed_high_bytes,
            "judged_on": "device_needed_high_bytes",
            "breakdown": dict(e.breakdown),
            "notes": list(e.notes),
            "learned_from_runs": None
            if self.correction is None
            else {
                "factor": self.correction.factor,
                "ratios": list(self.correction.ratios),
                "runs": list(self.correction.runs),
            },
            "seq_len_tokens": e.seq_len_tokens,
            "gpus_per_process": self.gpus_per_process,
            "sequence_parallel_size": self.sequence_parallel,
            "cpu_offload_bytes": self.cpu_offload_bytes,
            "checkpoint": (
                {**asdict(self.checkpoint), "total_bytes": self.checkpoint.total_bytes}
                if self.checkpoint
                else None
            ),
            "at_max_length": _estimate_json(self.at_max_length) if self.at_max_length else None,
            "verdict": self.verdict,
            "verdicts": [
                {
                    "card": v.card.name,
                    "total_bytes": v.card.total_bytes,
                    "verdict": v.verdict,
                    "headroom_bytes": v.headroom_bytes,
                    "judged_bytes": v.judged_bytes,
                }
                for v in self.verdicts
            ],
            "suggestions": [
                {
                    "description": s.description,
                    "changes": dict(s.changes),
                    "device_bytes": s.estimate.device_bytes,
                    "device_high_bytes": s.estimate.device_high_bytes,
                    "device_needed_high_bytes": s.estimate.device_needed_high_bytes,
                    "verdict": s.verdict,
                }
                for s in self.suggestions
            ],
            "inference": inference_json(self.inference, self.inference_verdicts),
        }


def _estimate_json(e: MemoryEstimate) -> dict[str, Any]:
    out = asdict(e)
    out["breakdown"] = dict(e.breakdown)
    out["device_needed_high_bytes"] = e.device_needed_high_bytes
    return out


def target_cards(gpus: Sequence[str], detected: Sequence[GpuCard]) -> tuple[list[GpuCard], bool]:
    """Named cards (--gpu or the recipe's swiftkit.gpu), else detected ones, else common cards."""
    if gpus:
        cards = [card for name in gpus if (card := find_card(name)) is not None]
        return cards, True
    if detected:
        return list(detected), True
    return list(COMMON_CARDS), False


def plan_memory(
    resolved: Mapping[str, Any],
    recipe,
    base_dir: Path,
    *,
    world_size: int,
    longest_row_tokens: int | None,
    gpus: Sequence[str],
    findings,
    detected: Sequence[GpuCard] = (),
    layout: Layout | None = None,
    profile=None,
) -> MemoryPlan | None:
    # unknown card names are reported before this (swiftkit.plan.lookups.gpu_problems)
    names = list(gpus) or ([recipe.settings["gpu"]] if recipe.settings.get("gpu") else [])
    model = resolved.get("model")
    shape = resolve_model_shape(model, base_dir=base_dir) if model else None
    if shape is None:
        findings.notes.append(
            f"memory: unknown for model {model!r}: no local config.json, no hub cache copy and "
            "not in swiftkit's table. Point model: at a folder holding the model's config.json "
            "(the config alone is enough) to get an estimate"
        )
        return None
    max_length = resolved.get("max_length") or shape.max_position_embeddings
    seq = min(longest_row_tokens, max_length) if longest_row_tokens else max_length
    args = dict(resolved)
    if not args.get("torch_dtype") and shape.config_dtype:
        args["torch_dtype"] = shape.config_dtype  # swift/model/utils.py get_default_torch_dtype
    if layout is not None and layout.deepspeed is not None:
        args["deepspeed"] = layout.deepspeed.memory_name  # JSON configs named like the presets
    sp = layout.sequence_parallel if layout else 1
    per_process = layout.gpus_per_process if layout else 1
    check_ring_attention(recipe, resolved, shape, sp, findings)
    labels = getattr(profile, "longest_label_tokens", None)
    mean = getattr(profile, "mean_tokens", None)

    def per_gpu(tokens: int | None) -> int | None:
        # Sequence parallel: each GPU of an SP group holds ceil(seq / SP) tokens (Ulysses).
        return math.ceil(tokens / sp) if tokens else tokens

    def config(tokens: int):
        cfg = memory_config_from_args(
            args,
            world_size=world_size,
            seq_len_tokens=per_gpu(tokens),
            label_tokens=per_gpu(labels),
            typical_tokens=per_gpu(mean),
        )
        return replace(cfg, gpus_per_process=per_process)

    cfg = config(seq)
    estimate = estimate_for(shape, cfg)
    at_max = None
    if seq != max_length:
        at_max = estimate_for(shape, config(max_length))
    cards, targeted = target_cards(names, detected)
    if targeted and str(resolved.get("torch_dtype")) in ("bfloat16", "bf16"):
        for card in cards:
            if not card.bf16:
                findings.warnings.append(
                    f"{recipe.location('torch_dtype')}: {card.name} has no bfloat16 support "
                    "(got torch_dtype bfloat16). Use torch_dtype: float16 on this card."
                )
    correction = None
    if targeted and cards:
        records = finished_records([output_root(resolved, base_dir)])
        correction = learned.learn(records, shape, cards[0].name)
        if correction is not None:
            estimate = learned.apply(estimate, correction)
            if at_max is not None:
                at_max = learned.apply(at_max, correction)
            findings.notes.append(f"memory: {estimate.notes[-1]}")
    verdicts = tuple(judge(estimate, card) for card in cards)
    suggestions: tuple[Suggestion, ...] = ()
    failing = [v for v in verdicts if v.verdict != "fits"]
    if targeted and failing:
        suggestions = tuple(
            _whole_rows(s, sp) for s in suggest_changes(shape, cfg, failing[0].card)
        )
    cpu_ram = estimate.cpu_offload_bytes * (layout.nproc_per_node if layout else 1)
    if cpu_ram and detected and cpu_ram > _system_ram_bytes():
        findings.warnings.append(
            f"{recipe.location('deepspeed')}: ZeRO offload needs about {cpu_ram / 2**30:.0f} GiB "
            f"of CPU RAM on this node (got deepspeed {resolved.get('deepspeed')!r}) but it has "
            f"{_system_ram_bytes() / 2**30:.0f} GiB. Use zero2_offload instead of zero3_offload, "
            "fewer processes per node, or a machine with more RAM."
        )
    zero = layout.deepspeed.stage if layout and layout.deepspeed else None
    inference = plan_inference(shape, cfg, max_length)
    return MemoryPlan(
        model_source=shape.source,
        param_count=shape.param_count(),
        estimate=estimate,
        at_max_length=at_max,
        cards_detected=targeted,
        verdicts=verdicts,
        suggestions=suggestions,
        checkpoint=checkpoint_size(
            shape, cfg, save_only_model=bool(resolved.get("save_only_model")), zero_stage=zero
        ),
        gpus_per_process=per_process,
        sequence_parallel=sp,
        cpu_offload_bytes=cpu_ram,
        shape=shape,
        config=cfg,
        correction=correction,
        inference=inference,
        inference_verdicts=tuple(judge(inference, card) for card in cards),
    )


def _whole_rows(s: Suggestion, sp: int) -> Suggestion:
    """The estimate works on each GPU's 1/SP of a row; a max_length fix is for whole rows."""
    if sp <= 1 or "max_length" not in s.changes:
        return s
    per_gpu = s.changes["max_length"]
    whole = per_gpu * sp
    description = s.description.replace(f"max_length {per_gpu}", f"max_length {whole}")
    return replace(s, description=description, changes={**s.changes, "max_length": whole})


def _system_ram_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: never warn


def check_ring_attention(recipe, resolved, shape, sp: int, findings) -> None:
    """swift/sequence_parallel/sequence_parallel.py `_init_device_mesh`: the Ulysses group is
    gcd(key-value heads, SP); the rest of SP becomes ring attention, and `prepare` raises
    "needs ulysses/ring-attention, which needs --padding_free true" without padding_free."""
    if sp <= 1 or resolved.get("padding_free"):
        return
    heads = shape.num_kv_heads or shape.num_heads
    ring = sp // math.gcd(heads, sp)
    if ring > 1:
        findings.errors.append(
            f"{recipe.location('sequence_parallel_size')}: sequence_parallel_size needs "
            f"padding_free: true with this model (got {sp}, and the model has {heads} key-value "
            f"heads): swift splits the heads over gcd({heads}, {sp}) = {sp // ring} GPUs and the "
            f"rest ({ring}) becomes ring attention, which needs padding_free "
            "(swift/sequence_parallel/sequence_parallel.py prepare). Set padding_free: true, or "
            f"use a sequence_parallel_size that divides {heads}."
        )
