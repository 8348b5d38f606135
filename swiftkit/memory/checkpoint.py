"""What one checkpoint folder holds on disk, in bytes, for a model shape and the run's flags.

Rules (installed transformers 5.19 trainer.py, peft, ms-swift):
- weights: `Trainer.save_model` -> swift/trainers/mixin.py `_save_model`: a LoRA run writes the
  adapter (PEFT `save_pretrained`: the adapter tensors in their own dtype, fp32 as PEFT upcasts
  them, the training dtype under DeepSpeed, which casts the module); full fine-tuning writes the
  whole model in torch_dtype (ZeRO-3 gathers it first: stage3_gather_16bit_weights_on_model_save).
- optimizer: `_save_checkpoint` writes it only when save_only_model is false. Without DeepSpeed
  `_save_optimizer_and_scheduler` writes optimizer.pt: AdamW's exp_avg and exp_avg_sq in the
  parameters' dtype (one byte each for 8-bit optimizers). Under DeepSpeed it calls the engine's
  `save_checkpoint` (with exclude_frozen_parameters for PEFT): every rank writes its own
  optimizer shard into the same folder, so the folder holds the whole optimizer (fp32 master
  weights, Adam m and v: 12 bytes per trainable parameter), not one rank's share; ZeRO-0/1/2
  also write the trainable module weights once more (mp_rank_00_model_states.pt).
- small files: scheduler, RNG states, trainer_state.json, args, and for full fine-tuning the
  tokenizer and configs (swift's `save_checkpoint` copies them).
"""

from __future__ import annotations

from dataclasses import dataclass

from swiftkit.memory.estimate import DTYPE_BYTES, MemoryConfig
from swiftkit.memory.models import ModelShape

# Scheduler, RNG state, trainer_state.json, configs and the tokenizer copy: small, but not nothing.
CHECKPOINT_OVERHEAD_BYTES = 16 * 1024**2
DEEPSPEED_OPTIMIZER_BYTES = 12  # per trainable parameter: fp32 master weights, Adam m and v


@dataclass(frozen=True)
class CheckpointSize:
    weights_bytes: int  # the adapter, or the whole model for full fine-tuning
    optimizer_bytes: int  # optimizer.pt, or every rank's DeepSpeed shard together
    deepspeed_weights_bytes: int  # DeepSpeed's own copy of the trainable weights (ZeRO-0/1/2)
    other_bytes: int

    @property
    def total_bytes(self) -> int:
        return (
            self.weights_bytes + self.optimizer_bytes + self.deepspeed_weights_bytes
            + self.other_bytes
        )  # fmt: skip


def trainable_params(shape: ModelShape, cfg: MemoryConfig) -> int:
    """LoRA: r x (in + out) per adapted linear per layer; full: every parameter."""
    if cfg.tuner_type == "full":
        return shape.param_count()
    linears = shape.linear_shapes()
    adapted = [linears[m] for m in cfg.target_modules if m in linears]
    return shape.num_layers * sum(cfg.lora_rank * (a + b) for a, b in adapted)


def checkpoint_size(
    shape: ModelShape, cfg: MemoryConfig, *, save_only_model: bool, zero_stage: int | None
) -> CheckpointSize:
    """Bytes of one checkpoint folder. `zero_stage`: the DeepSpeed ZeRO stage, None without."""
    dt = DTYPE_BYTES.get(cfg.torch_dtype, 2)
    n = trainable_params(shape, cfg)
    lora = cfg.tuner_type != "full"
    weight_dt = 4 if lora and zero_stage is None else dt
    weights = n * weight_dt
    optimizer = ds_weights = 0
    if not save_only_model:
        if zero_stage is not None:
            optimizer = n * DEEPSPEED_OPTIMIZER_BYTES
            ds_weights = n * dt if zero_stage < 3 else 0
        else:
            optimizer = n * 2 * (1 if "8bit" in cfg.optim else weight_dt)
    return CheckpointSize(weights, optimizer, ds_weights, CHECKPOINT_OVERHEAD_BYTES)
