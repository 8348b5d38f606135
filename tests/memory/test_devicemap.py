"""One process over several GPUs: swift's device_map split (swift/utils/env.py is_mp,
swift/model/utils.py get_default_device_map 'auto'), planned per GPU."""

from dataclasses import replace

from swiftkit.memory.devicemap import STATIC_PARTS, estimate_for
from swiftkit.memory.estimate import MemoryConfig, estimate_memory
from swiftkit.memory.models import resolve_model_shape

QWEN7B = resolve_model_shape("Qwen/Qwen2.5-7B-Instruct")


def test_split_over_two_gpus_holds_half_the_weights_and_the_last_layers_activations():
    cfg = MemoryConfig(tuner_type="full", seq_len_tokens=2048)
    one = estimate_memory(QWEN7B, cfg)
    two = estimate_for(QWEN7B, replace(cfg, gpus_per_process=2))
    for part in STATIC_PARTS:
        assert two.breakdown[part] == one.breakdown[part] // 2
    half = estimate_memory(replace(QWEN7B, num_layers=14), cfg)
    assert two.breakdown["activations"] == half.breakdown["activations"]
    for part in ("logits", "loss_temporaries"):  # the last GPU computes the loss
        assert two.breakdown[part] == one.breakdown[part]
    assert one.device_bytes / 2 < two.device_bytes < one.device_bytes
    assert "busiest GPU" in two.notes[-1]


def test_one_gpu_per_process_is_the_plain_estimate():
    cfg = MemoryConfig()
    assert estimate_for(QWEN7B, cfg) == estimate_memory(QWEN7B, cfg)
