"""The per-step time model: FLOPs by tuner and checkpointing, weight traffic, operators, padded
batch length, and the roofline that makes a fuller batch faster per row."""

import itertools

import pytest

from swiftkit.memory.estimate import MemoryConfig
from swiftkit.memory.gpus import CARDS, THROUGHPUT, find_card
from swiftkit.memory.models import resolve_model_shape
from swiftkit.plan import timing

QWEN7B = resolve_model_shape("Qwen/Qwen2.5-7B-Instruct")
CARD = find_card("4090D")


def test_every_card_has_throughput_and_bandwidth():
    assert {c.name for c in CARDS} == set(THROUGHPUT)
    for card in CARDS:
        device = timing.gpu_device(card, "bfloat16")
        assert device.peak_flops >= 60e12 and device.bytes_per_second >= 300e9
        assert timing.gpu_device(card, "float32").peak_flops < device.peak_flops


def test_lora_backward_skips_weight_gradients_and_checkpointing_adds_a_forward():
    tokens = 2048
    full = timing.micro_batch_cost(QWEN7B, MemoryConfig(tuner_type="full",
                                   gradient_checkpointing=False), 1, tokens)  # fmt: skip
    lora = timing.micro_batch_cost(QWEN7B, MemoryConfig(gradient_checkpointing=False), 1, tokens)
    lora_ckpt = timing.micro_batch_cost(
        QWEN7B, MemoryConfig(gradient_checkpointing=True), 1, tokens
    )
    forward = timing.micro_batch_cost(QWEN7B, MemoryConfig(), 1, tokens, train=False)
    # 6N per token for full fine-tuning, 4N for LoRA (frozen weights: input gradients only),
    # one more 2N forward with gradient checkpointing; attention and lm_head on top.
    linear = QWEN7B.num_layers * QWEN7B.layer_linear_params() * tokens
    lm_head = QWEN7B.hidden_size * QWEN7B.vocab_size * tokens  # trained only in full
    assert full.flops - lora.flops == pytest.approx(2 * linear + 2 * lm_head, rel=0.01)
    attention = 2 * tokens**2 * QWEN7B.q_width * QWEN7B.num_layers  # causal QK^T and AV
    assert lora_ckpt.flops - lora.flops == pytest.approx(2 * linear + attention, rel=0.01)
    assert 2.9 < full.flops / forward.flops < 3.1
    assert full.weight_bytes > lora_ckpt.weight_bytes > lora.weight_bytes > forward.weight_bytes


def test_fuller_batches_cost_less_per_row_when_weight_traffic_bounds_the_step():
    device = timing.gpu_device(CARD, "bfloat16")
    cfg = MemoryConfig()
    per_row = [
        timing.micro_batch_seconds(timing.micro_batch_cost(QWEN7B, cfg, b, 200), device) / b
        for b in (1, 2, 4, 8)
    ]
    assert per_row == sorted(per_row, reverse=True)
    long_rows = [
        timing.micro_batch_seconds(timing.micro_batch_cost(QWEN7B, cfg, b, 4096), device) / b
        for b in (1, 4)
    ]
    assert long_rows[1] == pytest.approx(long_rows[0], rel=0.1)  # compute-bound: no gain


@pytest.mark.parametrize("batch", [1, 2, 3, 4])
def test_expected_padded_length_is_the_mean_longest_row_of_random_batches(batch):
    lengths = [5, 9, 9, 20, 31]
    every = list(itertools.product(lengths, repeat=batch))  # draws with replacement
    mean_longest = sum(max(c) for c in every) / len(every)
    assert timing.expected_padded_length(lengths, batch) == pytest.approx(mean_longest)


def test_cpu_device_names_its_threads():
    assert timing.cpu_device(1).name == "CPU (1 thread)"
    assert timing.cpu_device(4).key == "cpu/4"
    assert timing.cpu_device(4).peak_flops == 4 * timing.cpu_device(1).peak_flops
