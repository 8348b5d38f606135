"""Inference memory: weights + KV cache + one prefill, against arithmetic and a traced prefill."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from swiftkit.memory.estimate import GIB
from swiftkit.memory.inference import (
    InferenceConfig,
    estimate_inference_memory,
    kv_cache_bytes,
    lora_params,
)
from swiftkit.memory.models import resolve_model_shape

BENCH = Path(__file__).resolve().parents[1] / "bench"
QWEN7B = resolve_model_shape("Qwen/Qwen2.5-7B-Instruct")


def test_7b_bf16_weights_kv_cache_and_device_total():
    est = estimate_inference_memory(QWEN7B, InferenceConfig(context_tokens=2048))
    b = est.breakdown
    assert b["weights"] == 7_615_616_512 * 2  # every parameter in bfloat16
    # 2 (k, v) x 28 layers x 4 kv heads x 128 x 2 bytes x 2048 tokens
    assert b["kv_cache"] == 2 * 28 * 512 * 2 * 2048 == 117_440_512
    assert b["adapter"] == 0
    assert est.peak_allocated_bytes == sum(
        b[k] for k in ("weights", "adapter", "kv_cache", "activations")
    )
    assert est.device_bytes == est.peak_reserved_bytes + b["cuda_context"]
    # The seed article: about 15 GB to infer the 7B model.
    assert 14.5 < est.device_bytes / GIB < 16.5


def test_lora_params_match_the_known_7b_count():
    # r=8 on q,k,v,o,gate,up,down of 28 layers (notes/memory-model.md).
    assert lora_params(QWEN7B, rank=8) == 20_185_088
    assert lora_params(QWEN7B, rank=8, target_modules=("q_proj", "v_proj")) == 28 * 8 * (
        (3584 + 3584) + (3584 + 512)
    )


def test_unmerged_adapter_is_float32_and_context_grows_the_kv_cache_linearly():
    base = InferenceConfig(context_tokens=4096)
    with_adapter = estimate_inference_memory(QWEN7B, replace(base, adapter_params=20_185_088))
    assert with_adapter.breakdown["adapter"] == 20_185_088 * 4
    short = estimate_inference_memory(QWEN7B, replace(base, context_tokens=1024))
    long = estimate_inference_memory(QWEN7B, replace(base, context_tokens=8192))
    assert long.breakdown["kv_cache"] == 8 * short.breakdown["kv_cache"]
    assert kv_cache_bytes(QWEN7B, tokens=1, dtype_bytes=2) == 2 * 28 * 512 * 2


def test_4bit_weights_are_about_a_quarter_of_the_linear_layers():
    full = estimate_inference_memory(QWEN7B, InferenceConfig())
    q4 = estimate_inference_memory(QWEN7B, InferenceConfig(quant_method="bnb", quant_bits=4))
    assert 0.25 < q4.breakdown["weights"] / full.breakdown["weights"] < 0.4


@pytest.mark.slow
def test_estimate_matches_a_traced_prefill():
    """A real transformers prefill under FakeTensorMode/MemTracker (tests/bench)."""
    sys.path.insert(0, str(BENCH))
    try:
        import trace_inference
    finally:
        sys.path.remove(str(BENCH))
    row = trace_inference.compare(*trace_inference.QUICK)
    assert 0.97 < row["ratio"] < 1.05, row
