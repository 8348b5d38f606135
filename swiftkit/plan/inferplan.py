"""The inference part of a plan: serving what the run trains, beside the training estimate.

Glue between memplan.py and swiftkit.memory.inference; imports no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from swiftkit.memory.estimate import MemoryConfig, MemoryEstimate
from swiftkit.memory.fit import Verdict
from swiftkit.memory.inference import InferenceConfig, estimate_inference_memory, lora_params
from swiftkit.memory.models import ModelShape


def plan_inference(shape: ModelShape, cfg: MemoryConfig, max_length: int) -> MemoryEstimate:
    """Serving what this run trains: its dtype and quantization (swift infer reloads both from
    the checkpoint's args.json: BaseArguments.load_args_from_ckpt), its LoRA unmerged (as
    `swiftkit infer RUN` loads it), one conversation of max_length tokens."""
    lora = cfg.tuner_type != "full"
    adapter = lora_params(shape, rank=cfg.lora_rank, target_modules=cfg.target_modules)
    icfg = InferenceConfig(
        torch_dtype=cfg.torch_dtype,
        context_tokens=max_length,
        quant_method=cfg.quant_method,
        quant_bits=cfg.quant_bits,
        adapter_params=adapter if lora else 0,
    )
    return estimate_inference_memory(shape, icfg)


def inference_json(e: MemoryEstimate | None, verdicts: Sequence[Verdict]) -> dict[str, Any] | None:
    """plan --json memory.inference."""
    if e is None:
        return None
    return {
        "peak_allocated_bytes": e.peak_allocated_bytes,
        "peak_reserved_bytes": e.peak_reserved_bytes,
        "device_bytes": e.device_bytes,
        "breakdown": dict(e.breakdown),
        "context_tokens": e.seq_len_tokens,
        "verdicts": [
            {"card": v.card.name, "verdict": v.verdict, "headroom_bytes": v.headroom_bytes}
            for v in verdicts
        ],
    }
