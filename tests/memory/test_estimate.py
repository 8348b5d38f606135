"""The memory estimate: published figures, its arithmetic, flag handling, and a traced step."""

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest

from swiftkit.memory.estimate import (
    ALL_LINEAR,
    CUDA_CONTEXT_BYTES,
    GIB,
    MemoryConfig,
    estimate_memory,
    memory_config_from_args,
)
from swiftkit.memory.models import resolve_model_shape

QWEN7B = resolve_model_shape("Qwen/Qwen2.5-7B-Instruct")
REFERENCE_ARGS = {  # the reference recipe with swift 4.6 defaults filled in
    "tuner_type": "lora", "torch_dtype": "bfloat16", "lora_rank": 8, "lora_dropout": 0.05,
    "target_modules": ["all-linear"], "per_device_train_batch_size": 1, "max_length": 2048,
    "gradient_checkpointing": True, "gradient_accumulation_steps": 16,
    "optim": "adamw_torch_fused", "deepspeed": None, "use_liger_kernel": False,
    "quant_method": None, "quant_bits": None,
}  # fmt: skip


def _ref(seq: int, **flags) -> MemoryConfig:
    return memory_config_from_args({**REFERENCE_ARGS, **flags}, world_size=1, seq_len_tokens=seq)


def test_reference_recipe_lands_in_the_articles_band():
    full = estimate_memory(QWEN7B, _ref(2048))
    short = estimate_memory(QWEN7B, _ref(60))
    assert 18e9 <= full.device_bytes <= 22e9  # 18-22 GB on a 24 GB RTX 4090D
    assert short.device_bytes < full.device_bytes
    assert 14 * GIB < short.device_bytes < 17.2 * GIB  # weights ~14.2 GiB; below the 2048 figure
    assert full.seq_len_tokens == 2048 and short.seq_len_tokens == 60


def test_qlora_matches_published_10_gb():
    est = estimate_memory(QWEN7B, _ref(2048, quant_method="bnb", quant_bits=4))
    assert 9 * GIB < est.peak_reserved_bytes < 12 * GIB


def test_breakdown_adds_up():
    est = estimate_memory(QWEN7B, _ref(2048))
    b = dict(est.breakdown)
    assert set(b) == {
        "frozen_weights", "trainable_params", "gradients", "optimizer_states",
        "activations", "logits_and_loss", "allocator_reserve", "cuda_context",
    }  # fmt: skip
    reserve, context = b.pop("allocator_reserve"), b.pop("cuda_context")
    assert sum(b.values()) == est.peak_allocated_bytes
    assert est.peak_reserved_bytes == est.peak_allocated_bytes + reserve
    assert (
        est.device_bytes
        == est.peak_reserved_bytes + context
        == est.peak_reserved_bytes + (CUDA_CONTEXT_BYTES)
    )


def test_lora_parameters_in_fp32_with_adam():
    est = estimate_memory(QWEN7B, _ref(2048))
    lora_params = 20_185_088  # Qwen2.5-7B, r=8, all-linear (memory-model notes)
    assert est.breakdown["trainable_params"] == 4 * lora_params
    assert est.breakdown["gradients"] == 4 * lora_params
    assert est.breakdown["optimizer_states"] == 8 * lora_params
    assert est.breakdown["frozen_weights"] == 2 * QWEN7B.param_count()


def test_full_fine_tuning_is_8_bytes_per_parameter_in_bf16():
    est = estimate_memory(QWEN7B, _ref(2048, tuner_type="full"))
    p = QWEN7B.param_count()
    b = est.breakdown
    assert b["trainable_params"] + b["gradients"] + b["optimizer_states"] == 8 * p
    assert b["frozen_weights"] == 0


@pytest.mark.parametrize(
    ("flags", "lower"),
    [
        ({"gradient_checkpointing": False}, False),
        ({"per_device_train_batch_size": 2}, False),
        ({"lora_rank": 64}, False),
        ({"quant_method": "bnb", "quant_bits": 4}, True),
        ({"quant_method": "bnb", "quant_bits": 8}, True),
        ({"use_liger_kernel": True}, True),
        ({"target_modules": ["q_proj", "v_proj"]}, True),
        ({"torch_dtype": "float32"}, False),
    ],
)
def test_each_flag_moves_the_estimate_the_right_way(flags, lower):
    base = estimate_memory(QWEN7B, _ref(2048)).peak_allocated_bytes
    new = estimate_memory(QWEN7B, _ref(2048, **flags)).peak_allocated_bytes
    assert (new < base) if lower else (new > base)


def test_deepspeed_zero3_over_more_gpus_lowers_the_peak():
    def peak(deepspeed, world):
        cfg = memory_config_from_args({**REFERENCE_ARGS, "tuner_type": "full",
                                       "deepspeed": deepspeed}, world_size=world,
                                      seq_len_tokens=2048)  # fmt: skip
        return estimate_memory(QWEN7B, cfg).peak_allocated_bytes

    assert peak("zero3", 8) < peak("zero3", 2) < peak("zero2", 2)
    assert peak("zero2", 8) < peak("zero2", 2)
    # DeepSpeed keeps fp32 master weights and fp32 Adam states (16 B per trainable parameter,
    # partitioned); plain swift full fine-tuning keeps bf16 ones (8 B): ZeRO pays off only
    # over enough GPUs.
    assert peak("zero3", 8) < peak(None, 1) < peak("zero2", 2)


def test_config_from_args_defaults_and_spellings():
    cfg = memory_config_from_args({"torch_dtype": None}, world_size=2, seq_len_tokens=100)
    assert cfg.torch_dtype == "bfloat16"
    assert "torch_dtype not set" in cfg.notes[0]
    assert cfg.tuner_type == "lora" and cfg.gradient_checkpointing and cfg.lora_rank == 8
    assert cfg.target_modules == ALL_LINEAR
    assert cfg.gradient_accumulation_steps == 8  # ceil(16 / 1 / 2)
    cfg = memory_config_from_args(
        {"torch_dtype": "bf16", "target_modules": "q_proj,v_proj", "quant_bits": 4,
         "gradient_checkpointing": "false", "use_liger_kernel": "true"},
        world_size=1, seq_len_tokens=100,
    )  # fmt: skip
    assert cfg.torch_dtype == "bfloat16"
    assert cfg.target_modules == ("q_proj", "v_proj")
    assert cfg.quant_bits is None  # quant_bits without quant_method: swift ignores it
    assert not cfg.gradient_checkpointing and cfg.use_liger_kernel


def test_estimate_scales_with_tokens():
    small = estimate_memory(QWEN7B, _ref(512)).peak_allocated_bytes
    big = estimate_memory(QWEN7B, _ref(1024)).peak_allocated_bytes
    bigger = estimate_memory(QWEN7B, _ref(2048)).peak_allocated_bytes
    assert bigger - big == pytest.approx(2 * (big - small), rel=0.01)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_estimate_within_10_percent_of_a_traced_step():
    bench = Path(__file__).parents[1] / "bench"
    sys.path.insert(0, str(bench))
    try:
        import trace_memory
    finally:
        sys.path.remove(str(bench))
    row = trace_memory.compare(trace_memory.run_case(trace_memory.QUICK))
    assert 0.9 <= row["ratio"] <= 1.1, row
    nogc = dataclasses.replace(trace_memory.QUICK.cfg, gradient_checkpointing=False)
    row = trace_memory.compare(
        trace_memory.run_case(dataclasses.replace(trace_memory.QUICK, cfg=nogc))
    )
    assert 0.9 <= row["ratio"] <= 1.1, row
