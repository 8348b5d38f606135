"""ZeRO-Offload in the estimate: swift's zero2_offload / zero3_offload presets
(swift/config/*.json offload_optimizer / offload_param device cpu) move memory to CPU RAM."""

from swiftkit.memory.estimate import GIB, MemoryConfig, estimate_memory
from swiftkit.memory.models import resolve_model_shape
from swiftkit.memory.offload import offloads

QWEN3_8B = resolve_model_shape("Qwen/Qwen3-8B")
N = QWEN3_8B.param_count()


def full(deepspeed, world=1):
    return estimate_memory(
        QWEN3_8B, MemoryConfig(tuner_type="full", deepspeed=deepspeed, world_size=world)
    )


def test_names():
    assert offloads("zero2_offload", 2) == (True, False)
    assert offloads("zero3_offload", 3) == (True, True)
    assert offloads("zero3_offload_optimizer", 3) == (True, False)
    assert offloads("zero3_offload_param", 3) == (False, True)
    assert offloads("zero2", 2) == offloads(None, -1) == (False, False)


def test_zero2_offload_moves_optimizer_states_and_gradients_to_cpu_ram():
    on_gpu, offloaded = full("zero2", 2), full("zero2_offload", 2)
    assert offloaded.breakdown["optimizer_states"] == 0
    # fp32 master weights, Adam m and v and the fp32 gradient partition: 16 B / param / rank.
    assert offloaded.cpu_offload_bytes == on_gpu.breakdown["optimizer_states"] == 16 * N // 2
    assert offloaded.breakdown["gradients"] == int(2e8) * 2  # one reduce bucket stays
    assert offloaded.breakdown["trainable_params"] == on_gpu.breakdown["trainable_params"]
    assert offloaded.device_bytes < on_gpu.device_bytes - 60 * GIB


def test_zero3_offload_moves_the_weights_too():
    z3, offloaded = full("zero3", 2), full("zero3_offload", 2)
    assert offloaded.breakdown["trainable_params"] == 0
    # The partition is in CPU RAM; what is gathered for compute is its own line, as in ZeRO-3.
    assert offloaded.breakdown["frozen_weights"] == 0
    assert offloaded.breakdown["zero3_gathered_params"] == z3.breakdown["zero3_gathered_params"]
    assert offloaded.cpu_offload_bytes == 16 * N // 2 + z3.breakdown["trainable_params"]
    assert offloaded.device_bytes < full("zero2_offload", 2).device_bytes


def test_lora_offload_moves_little():
    lora = estimate_memory(QWEN3_8B, MemoryConfig(deepspeed="zero3_offload", world_size=2))
    # The frozen base weights' partition (half the bf16 model on each of 2 ranks) moves.
    assert 0.45 * 2 * N < lora.cpu_offload_bytes < 0.55 * 2 * N
    assert lora.breakdown["optimizer_states"] == 0
