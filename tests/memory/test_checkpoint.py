"""What one checkpoint folder holds (transformers trainer.py _save_checkpoint,
_save_optimizer_and_scheduler; PEFT save_pretrained; DeepSpeed save_checkpoint)."""

import pytest

from swiftkit.memory.checkpoint import CHECKPOINT_OVERHEAD_BYTES, checkpoint_size
from swiftkit.memory.estimate import GIB, MemoryConfig
from swiftkit.memory.models import resolve_model_shape

QWEN3_8B = resolve_model_shape("Qwen/Qwen3-8B")
N = QWEN3_8B.param_count()
FULL = MemoryConfig(tuner_type="full", torch_dtype="bfloat16")


@pytest.mark.parametrize("stage", [None, 2, 3])
def test_full_qwen3_8b_save_only_model_is_the_bf16_weights(stage):
    """The issue's case: 137 GiB per checkpoint before, about 15 GiB is right."""
    c = checkpoint_size(QWEN3_8B, FULL, save_only_model=True, zero_stage=stage)
    assert c.weights_bytes == 2 * N
    assert c.optimizer_bytes == c.deepspeed_weights_bytes == 0
    assert 15 * GIB < c.total_bytes < 15.5 * GIB


def test_full_with_optimizer_holds_every_ranks_shard():
    plain = checkpoint_size(QWEN3_8B, FULL, save_only_model=False, zero_stage=None)
    assert plain.optimizer_bytes == 4 * N  # AdamW m and v in bf16
    z2 = checkpoint_size(QWEN3_8B, FULL, save_only_model=False, zero_stage=2)
    z3 = checkpoint_size(QWEN3_8B, FULL, save_only_model=False, zero_stage=3)
    # Whole optimizer (fp32 master, m, v) whatever the number of ranks; ZeRO-2 also writes
    # the bf16 module weights into mp_rank_00_model_states.pt.
    assert z2.optimizer_bytes == z3.optimizer_bytes == 12 * N
    assert (z2.deepspeed_weights_bytes, z3.deepspeed_weights_bytes) == (2 * N, 0)


def test_lora_adapter_fp32_plus_adam_unless_save_only_model():
    lora_params = 20_185_088  # Qwen2.5-7B, r=8, all-linear (memory-model notes)
    shape = resolve_model_shape("Qwen/Qwen2.5-7B-Instruct")
    c = checkpoint_size(shape, MemoryConfig(), save_only_model=False, zero_stage=None)
    assert (c.weights_bytes, c.optimizer_bytes) == (4 * lora_params, 8 * lora_params)
    assert c.total_bytes == 12 * lora_params + CHECKPOINT_OVERHEAD_BYTES
    only = checkpoint_size(shape, MemoryConfig(), save_only_model=True, zero_stage=None)
    assert (only.weights_bytes, only.optimizer_bytes) == (4 * lora_params, 0)
    ds = checkpoint_size(shape, MemoryConfig(), save_only_model=False, zero_stage=3)
    assert (ds.weights_bytes, ds.optimizer_bytes) == (2 * lora_params, 12 * lora_params)
    bnb8 = checkpoint_size(shape, MemoryConfig(optim="adamw_bnb_8bit"), save_only_model=False,
                           zero_stage=None)  # fmt: skip
    assert bnb8.optimizer_bytes == 2 * lora_params
