"""Verdicts against cards, card lookup, GPU detection parsing, and ranked suggestions."""

import subprocess
import sys

import pytest

from swiftkit.memory import hardware
from swiftkit.memory.estimate import GIB, MemoryConfig, MemoryEstimate, estimate_memory
from swiftkit.memory.fit import FITS, TIGHT, WILL_NOT_FIT, judge, suggest_changes
from swiftkit.memory.gpus import COMMON_CARDS, MIB, GpuCard, find_card
from swiftkit.memory.models import resolve_model_shape


def _est(device_gib: float) -> MemoryEstimate:
    b = int(device_gib * GIB)
    return MemoryEstimate(b, b, b, {}, 2048)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("4090D", "NVIDIA GeForce RTX 4090 D"),
        ("RTX 4090", "NVIDIA GeForce RTX 4090"),
        ("rtx-4090d", "NVIDIA GeForce RTX 4090 D"),
        ("a100-80g", "NVIDIA A100-SXM4-80GB"),
        ("A100 80GB", "NVIDIA A100-SXM4-80GB"),
        ("H100", "NVIDIA H100 80GB HBM3"),
        ("NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"),
        ("3090", "NVIDIA GeForce RTX 3090"),
        ("5090", "NVIDIA GeForce RTX 5090"),
        ("l40s", "NVIDIA L40S"),
        ("T4", "Tesla T4"),
        ("v100", "Tesla V100-SXM2-32GB"),
        ("H200", "NVIDIA H200"),
        ("A10", "NVIDIA A10"),
        ("L4", "NVIDIA L4"),
    ],
)
def test_find_card_by_loose_name(name, expected):
    assert find_card(name).name == expected


def test_unknown_card_is_none():
    assert find_card("Voodoo 5") is None
    assert find_card("") is None


def test_common_cards_are_a_few_known_ones():
    assert 3 <= len(COMMON_CARDS) <= 6
    assert any("4090 D" in c.name for c in COMMON_CARDS)


def test_verdicts_fits_tight_will_not_fit():
    card = GpuCard("test card", 24 * GIB, True)
    assert judge(_est(18), card).verdict == FITS
    assert judge(_est(22), card).verdict == TIGHT  # 2 GiB left: under 10% of 24
    v = judge(_est(25), card)
    assert v.verdict == WILL_NOT_FIT
    assert v.headroom_bytes == -1 * GIB


def test_verdict_is_the_high_estimate_less_the_cache_the_allocator_frees_before_oom():
    card = GpuCard("test card", 24 * GIB, True)
    est = MemoryEstimate(0, 0, 20 * GIB, {}, 2048, device_high_bytes=28 * GIB,
                         releasable_high_bytes=6 * GIB)  # fmt: skip
    v = judge(est, card)
    assert est.device_needed_high_bytes == v.judged_bytes == 22 * GIB
    assert v.verdict == TIGHT and v.headroom_bytes == 2 * GIB


def test_packed_rows_leave_no_cache_to_free_and_spread_rows_mostly_cache():
    """Rows of one length reuse their blocks (no growth); spread rows grow the cache, and all but
    the pinned share (allocator.PINNED_HIGH) of it is freed when memory runs short."""
    shape = resolve_model_shape("Qwen/Qwen2.5-7B-Instruct")
    base = MemoryConfig(seq_len_tokens=2048, typical_tokens=512, label_tokens=2048)
    spread = estimate_memory(shape, base)
    packed = estimate_memory(shape, MemoryConfig(seq_len_tokens=2048, packing=True))
    assert packed.releasable_high_bytes == 0
    assert packed.device_needed_high_bytes == packed.device_high_bytes
    growth = spread.breakdown["allocator_growth"]
    assert spread.releasable_high_bytes > growth  # the high growth, less its pinned part
    assert spread.device_needed_high_bytes < spread.device_bytes < spread.device_high_bytes


def test_verdict_uses_free_memory_of_a_detected_card():
    card = GpuCard("busy", 24 * GIB, True, free_bytes=10 * GIB)
    assert judge(_est(12), card).verdict == WILL_NOT_FIT


def test_parse_smi_output():
    text = "NVIDIA GeForce RTX 4090 D, 24564, 23800\nNVIDIA H100 80GB HBM3, 81559, 81000\n"
    cards = hardware.parse_smi(text)
    assert [c.total_bytes for c in cards] == [24564 * MIB, 81559 * MIB]
    assert cards[0].free_bytes == 23800 * MIB
    assert cards[0].bf16 and cards[1].bf16
    assert hardware.parse_smi("Tesla T4, 15360, 15000")[0].bf16 is False


def test_detect_without_gpu_is_empty_and_imports_no_torch(monkeypatch):
    monkeypatch.setattr(hardware.shutil, "which", lambda _: None)
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert hardware.detect_gpus() == []


def test_detect_with_failing_smi_falls_back(monkeypatch):
    monkeypatch.setattr(hardware.shutil, "which", lambda _: "/usr/bin/nvidia-smi")

    def fail(*a, **k):
        raise subprocess.TimeoutExpired(cmd="nvidia-smi", timeout=10)

    monkeypatch.setattr(hardware.subprocess, "run", fail)
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert hardware.detect_gpus() == []


def test_estimator_modules_import_no_torch():
    code = (
        "import sys; import swiftkit.memory.fit, swiftkit.memory.hardware, swiftkit.memory.models;"
        "bad = [m for m in ('torch', 'transformers', 'swift') if m in sys.modules];"
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_suggestions_are_ranked_and_each_reestimated():
    shape = resolve_model_shape("Qwen/Qwen2.5-7B-Instruct")
    cfg = MemoryConfig(seq_len_tokens=4096, batch_size=4, gradient_accumulation_steps=4,
                       gradient_checkpointing=False)  # fmt: skip
    card = find_card("4090D")
    assert judge(estimate_memory(shape, cfg), card).verdict == WILL_NOT_FIT
    suggestions = suggest_changes(shape, cfg, card)
    assert suggestions[0].verdict in (FITS, TIGHT)
    order = {FITS: 0, TIGHT: 1, WILL_NOT_FIT: 2}
    assert [order[s.verdict] for s in suggestions] == sorted(order[s.verdict] for s in suggestions)
    for s in suggestions:
        assert s.estimate.device_bytes < estimate_memory(shape, cfg).device_bytes
        assert judge(s.estimate, card).verdict == s.verdict
    changes = [dict(s.changes) for s in suggestions]
    assert {"gradient_checkpointing": True} in changes
    assert {"use_liger_kernel": True} in changes
    assert {"quant_method": "bnb", "quant_bits": 4} in changes
    batch = next(c for c in changes if "per_device_train_batch_size" in c)
    assert batch["per_device_train_batch_size"] * batch["gradient_accumulation_steps"] == 16
    assert any("max_length" in c for c in changes)
    assert any(c.get("deepspeed") == "zero3" for c in changes)


def test_no_single_change_enough_gives_a_combined_one():
    shape = resolve_model_shape("Qwen/Qwen2.5-72B-Instruct")
    suggestions = suggest_changes(shape, MemoryConfig(seq_len_tokens=4096), find_card("4090D"))
    assert suggestions[0].verdict != WILL_NOT_FIT
    assert " + " in suggestions[0].description


def test_offload_is_ranked_after_liger_and_before_changing_the_training():
    """Full fine-tuning of Qwen3-8B on one 80 GB card: ZeRO-Offload keeps the same training, so
    it comes before LoRA (which changes what is trained) and shorter rows."""
    shape = resolve_model_shape("Qwen/Qwen3-8B")
    cfg = MemoryConfig(tuner_type="full", seq_len_tokens=8192)
    card = find_card("A100-80G")
    assert judge(estimate_memory(shape, cfg), card).verdict == WILL_NOT_FIT
    order = [dict(s.changes) for s in suggest_changes(shape, cfg, card)]
    z2 = order.index({"deepspeed": "zero2_offload"})
    assert {"deepspeed": "zero3_offload"} in order
    assert order.index({"tuner_type": "lora"}) > z2
    offload = next(s for s in suggest_changes(shape, cfg, card) if s.changes.get("deepspeed") ==
                   "zero2_offload")  # fmt: skip
    assert offload.description.startswith(
        "deepspeed zero2_offload: optimizer states and gradients in CPU RAM (about 122 GiB for 1 "
        "process)"
    )


def test_offload_not_offered_for_lora():
    shape = resolve_model_shape("Qwen/Qwen2.5-7B-Instruct")
    cfg = MemoryConfig(seq_len_tokens=16384)
    changes = [dict(s.changes) for s in suggest_changes(shape, cfg, find_card("4090D"))]
    assert not any("offload" in str(c.get("deepspeed")) for c in changes)
