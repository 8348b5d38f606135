"""--use_liger_kernel: the layer savings fitted on traces, the fused cross-entropy's arithmetic from
liger-kernel's source, when swift lets it apply, and what it does to the estimate."""

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from swiftkit.memory import allocator, growth
from swiftkit.memory.activations import step_activations
from swiftkit.memory.estimate import ALL_LINEAR, MemoryConfig, estimate_memory
from swiftkit.memory.liger import (
    fused_ce_bytes,
    fused_ce_chunk_rows,
    labels_reach_model,
    liger_layer_savings,
)
from swiftkit.memory.models import resolve_model_shape

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
from trace_memory import _FIT_BASE, _FIT_VARIANTS

QWEN3_8B = resolve_model_shape("Qwen/Qwen3-8B")
TRACES = Path(__file__).parents[1] / "bench" / "results" / "liger_fit_traces.json"


def test_chunk_rows_follow_fused_linear_cross_entropy_forward():
    # liger's own comment: BT = 4096*4, V = 32000, H = 4096 -> inc_factor 8, chunk_size 2048
    shape = dataclasses.replace(QWEN3_8B, hidden_size=4096, vocab_size=32000)
    assert fused_ce_chunk_rows(4096 * 4, shape) == 2048
    # Qwen3-8B: cdiv(151936, 4096) = 38; 1801 kept tokens -> cdiv = 48 -> next power of 2 = 64
    assert fused_ce_chunk_rows(1801, QWEN3_8B) == 64
    assert fused_ce_chunk_rows(1, QWEN3_8B) == 1


def test_fused_ce_bytes_are_grad_input_loss_and_one_chunk():
    h, v, n = 4096, 151936, 1801
    chunk = 64
    lora = fused_ce_bytes(QWEN3_8B, n, copy_kept=True, lm_head_trains=False)
    # grad_input bf16 + the gathered hidden states bf16 + loss_1d fp32, one bf16 logits chunk and
    # its grad_input product
    assert lora == n * (2 * h + 2 * h + 4) + chunk * (v + h) * 2
    no_copy = fused_ce_bytes(QWEN3_8B, n, copy_kept=False, lm_head_trains=False)
    assert lora - no_copy == n * 2 * h
    # full fine-tuning: grad_weight = zeros_like(lm_head.weight), bf16, alive until backward
    full = fused_ce_bytes(QWEN3_8B, n, copy_kept=True, lm_head_trains=True)
    assert full - lora == v * h * 2
    # versus transformers' loss: 12 bytes per logit (activations.py), 66x more here
    assert lora * 60 < n * 12 * v


@pytest.mark.parametrize(
    ("flags", "fused"),
    [
        ({}, True),
        ({"loss_scale": "ignore_empty_think"}, True),  # binary: carried by the labels
        ({"loss_scale": "last_round"}, True),
        ({"loss_scale": "hermes"}, False),  # weights of 2.0: swift pops the labels
        ({"loss_scale": "last_round+react"}, False),
        ({"label_smoothing_factor": 0.1}, False),
        ({"loss_type": "dft"}, False),
        ({"enable_dft_loss": "true"}, False),
        ({"enable_channel_loss": True}, False),
        ({"sequence_parallel_size": 2}, False),
    ],
)
def test_labels_reach_model_mirrors_seq2seq_trainer_compute_loss(flags, fused):
    assert labels_reach_model(flags) is fused


def _traced_rows():
    return json.loads(TRACES.read_text(encoding="utf-8"))


def test_fitted_savings_reproduce_the_traces():
    """liger.py's coefficients against every traced setting they were fitted on: within the
    worst residual the comment states (full 0.0%, LoRA 2.7% / 3.7% of one layer)."""
    rows = _traced_rows()
    assert len(rows) == 32
    for r in rows:
        shape = dataclasses.replace(_FIT_BASE, **_FIT_VARIANTS[r["variant"]])
        saved, recompute = liger_layer_savings(shape, r["tuner"] == "lora", tuple(r["targets"]))
        layer = r["hf_layer_bytes_per_token"]
        traced_saved = layer - r["liger_layer_bytes_per_token"]
        traced_recompute = (r["hf_gc_peak_bytes"] - r["liger_gc_peak_bytes"]) / 512
        tol = 0.001 if r["tuner"] == "full" else 0.038
        assert abs(saved - traced_saved) <= tol * layer, r
        assert abs(recompute - traced_recompute) <= max(tol, 0.007) * layer, r


def _cfg(**kw) -> MemoryConfig:
    return MemoryConfig(seq_len_tokens=2048, label_tokens=1800, typical_tokens=1024, **kw)


@pytest.mark.parametrize("tuner", ["lora", "full"])
def test_liger_takes_the_fitted_amount_off_each_layer(tuner):
    shape = dataclasses.replace(QWEN3_8B, vocab_size=4096)  # a layer, not the loss, is the peak
    saved, recompute = liger_layer_savings(shape, tuner == "lora", ALL_LINEAR)
    assert 0 < saved < recompute
    off = step_activations(shape, _cfg(tuner_type=tuner, gradient_checkpointing=False))
    on = step_activations(shape, _cfg(tuner_type=tuner, gradient_checkpointing=False,
                                      use_liger_kernel=True))  # fmt: skip
    assert off.kept_bytes - on.kept_bytes == pytest.approx(2048 * 36 * saved, abs=1)
    off = step_activations(shape, _cfg(tuner_type=tuner))
    on = step_activations(shape, _cfg(tuner_type=tuner, use_liger_kernel=True))
    assert off.kept_bytes == on.kept_bytes  # the checkpointed layer inputs do not change
    assert off.recompute_bytes - on.recompute_bytes == pytest.approx(2048 * recompute, abs=1)


def test_liger_without_labels_keeps_the_full_vocabulary_loss():
    hf = step_activations(QWEN3_8B, _cfg())
    fused = step_activations(QWEN3_8B, _cfg(use_liger_kernel=True))
    popped = step_activations(QWEN3_8B, _cfg(use_liger_kernel=True, labels_to_model=False))
    # 12 bytes per logit over 1801 x 151936 logits: the loss is the peak without liger's loss
    assert hf.logits_bytes + hf.loss_temp_bytes == 1801 * 12 * 151936
    assert (popped.logits_bytes, popped.loss_temp_bytes) == (hf.logits_bytes, hf.loss_temp_bytes)
    # the fused loss (fused_ce_bytes: ~50 MB here) is far below the recomputed layer
    assert fused.logits_bytes == fused.loss_temp_bytes == 0
    assert fused.recompute_bytes > 10 * fused_ce_bytes(QWEN3_8B, 1801, copy_kept=True,
                                                        lm_head_trains=False)  # fmt: skip


def test_allocator_growth_with_the_fused_loss_uses_the_liger_replay():
    hf = estimate_memory(QWEN3_8B, _cfg())
    fused = estimate_memory(QWEN3_8B, _cfg(use_liger_kernel=True))
    popped = estimate_memory(QWEN3_8B, _cfg(use_liger_kernel=True, labels_to_model=False))
    dynamic = fused.breakdown["activations"] + fused.breakdown["loss_temporaries"]
    assert fused.breakdown["allocator_growth"] == int(growth.growth_ratio(0.5, liger=True)
                                                      * dynamic)  # fmt: skip
    assert fused.breakdown["allocator_growth"] < hf.breakdown["allocator_growth"] / 3
    # labels popped: the full-vocabulary blocks are back, and so is the HF replay's table
    assert popped.breakdown["allocator_growth"] == hf.breakdown["allocator_growth"]
    # the weights' static share does not depend on liger
    assert fused.breakdown["allocator_static"] == hf.breakdown["allocator_static"]
    assert fused.device_bytes < popped.device_bytes <= hf.device_bytes


def test_liger_micro_step_has_no_full_vocabulary_block_and_frees_all():
    lin = QWEN3_8B.linear_shapes()
    widths = (4096, 4096, 1024, 12288, 151936, 36, tuple(a for a, _ in lin.values()),
              tuple(b for _, b in lin.values()))  # fmt: skip
    for checkpointing in (True, False):
        ops = allocator.micro_step_blocks(widths, 2048, 1800, checkpointing=checkpointing,
                                          liger=True)  # fmt: skip
        alive = set()
        for kind, name, size in ops:
            if kind == "a":
                assert name not in alive and size < 1800 * 151936 * 2
                alive.add(name)
            else:
                alive.remove(name)
        assert not alive
    assert all(m <= h for m, h in zip(growth.GROWTH_MEDIAN_LIGER, growth.GROWTH_HIGH_LIGER,
                                      strict=True))  # fmt: skip
    assert all(li < hf for li, hf in zip(growth.GROWTH_MEDIAN_LIGER, growth.GROWTH_MEDIAN,
                                         strict=True))  # fmt: skip
