"""Weights, gradients and optimizer states on each GPU: one process, DDP, DeepSpeed ZeRO 0-3.

Plain arithmetic on a ModelShape and a MemoryConfig. Each rule names the code it mirrors.
"""

from __future__ import annotations

from dataclasses import dataclass

from swiftkit.memory.models import ModelShape
from swiftkit.memory.offload import apply_offload

DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}
# swift/config/zero3.json: stage3_max_live_parameters 1e9. HF's deepspeed integration fills
# "auto" as stage3_prefetch_bucket_size 0.9 h^2 and reduce_bucket_size h^2
# (transformers/integrations/deepspeed.py HfTrainerDeepSpeedConfig.trainer_config_finalize).
ZERO3_MAX_LIVE_PARAMETERS = 1_000_000_000
ZERO3_MAX_REUSE_DISTANCE = 1_000_000_000
# torch DistributedDataParallel's default bucket_cap_mb (HF TrainingArguments.ddp_bucket_cap_mb
# None keeps it); swift/config/zero2.json reduce_bucket_size 2e8 elements.
DDP_BUCKET_BYTES = 25 * 1024**2
ZERO2_REDUCE_BUCKET = 200_000_000


@dataclass(frozen=True)
class ModelStates:
    frozen_bytes: int
    trainable_bytes: int
    gradient_bytes: int
    optimizer_bytes: int
    ddp_bucket_bytes: int  # DDP's flat gradient buckets next to .grad
    zero3_gathered_bytes: int  # ZeRO-3: full parameters gathered at once on each rank
    optimizer_step_bytes: int  # foreach AdamW's intermediate, alive only at the step
    dequant_bytes: int  # QLoRA: one linear dequantized at a time
    resident_weight_bytes: int  # the model's weights as loaded on this GPU (all of them)
    cpu_offload_bytes: int = 0  # ZeRO-Offload: what sits in CPU RAM instead (memory/offload.py)


def zero_stage(deepspeed: str | None) -> int:
    if not deepspeed:
        return -1
    text = deepspeed.lower()
    for stage in (3, 2, 1, 0):
        if f"zero{stage}" in text or f"zero_{stage}" in text or f"stage{stage}" in text:
            return stage
    return 2  # a JSON path we do not read: assume the common ZeRO-2


def model_states(shape: ModelShape, cfg) -> ModelStates:
    """Per-GPU bytes of weights, gradients and optimizer states (cfg: a MemoryConfig)."""
    lora = cfg.tuner_type != "full"
    dt = DTYPE_BYTES.get(cfg.torch_dtype, 2)
    world = max(cfg.world_size, 1)
    stage = zero_stage(cfg.deepspeed)
    layers = shape.num_layers
    linear_params = layers * shape.layer_linear_params()
    other_params = layers * shape.layer_other_params() + shape.embedding_params()
    other_params += shape.hidden_size
    linears = shape.linear_shapes()
    adapted = [linears[m] for m in cfg.target_modules if m in linears]
    lora_params = layers * sum(cfg.lora_rank * (a + b) for a, b in adapted) if lora else 0
    trainable = lora_params if lora else linear_params + other_params

    # QLoRA (bnb) stores the decoder's linear layers in 4 or 8 bits; embeddings, lm_head and
    # norms stay in torch_dtype. nf4 with double quantization (swift's default): 0.5 B + 1/64 B
    # of constants per weight; int8: 1 B plus a fp32 scale per row.
    if lora and cfg.quant_method and cfg.quant_bits in (4, 8):
        per = 0.5 + 1 / 64 + 4 / (64 * 256) if cfg.quant_bits == 4 else 1.0
        frozen = int(linear_params * per) + other_params * dt
        dequant = max(a * b for a, b in linears.values()) * dt
    else:
        frozen = (linear_params + other_params) * dt if lora else 0
        dequant = 0
    trainable_dt = 4 if lora else dt  # PEFT upcasts adapters to fp32 (autocast_adapter_dtype)
    if lora and stage >= 0:
        trainable_dt = dt  # DeepSpeed casts the whole module to bf16/fp16
    params_b = trainable * trainable_dt
    grads_b = trainable * trainable_dt
    state_b = 2 * (1 if "8bit" in cfg.optim else trainable_dt)
    if stage >= 0:
        state_b = 12 + 4  # fp32 master weights, m, v and the fp32 gradient partition
    opt_b = trainable * state_b
    resident = frozen + params_b
    if stage >= 1:
        opt_b //= world
    if stage >= 2:
        grads_b = grads_b // world + min(grads_b, ZERO2_REDUCE_BUCKET * dt)  # + reduce bucket
    gathered = 0
    if stage >= 3:
        frozen //= world
        params_b //= world
        # deepspeed/runtime/zero/partitioned_param_coordinator.py: release_sub_module keeps a
        # gathered parameter when its next use is within stage3_max_reuse_distance parameters
        # (1e9 in swift's zero3.json): at the turn from forward to backward the last layers
        # fetched stay gathered, on top of the lm_head (gathered whole, larger than any
        # layer), the layer being recomputed and the prefetch bucket
        # (stage3_prefetch_bucket_size). stage3_max_live_parameters bounds the prefetching.
        total = linear_params + other_params
        head = shape.vocab_size * shape.hidden_size
        layer = shape.layer_linear_params() + shape.layer_other_params()
        kept = min(cfg.zero3_max_live_parameters, total)  # both 1e9 in swift's config
        prefetch = int(0.9 * shape.hidden_size**2)
        gathered = (min(kept + head + layer, total) + prefetch) * dt
    frozen, params_b, grads_b, opt_b, cpu_b = apply_offload(  # ZeRO-Offload: to CPU RAM
        cfg.deepspeed, stage, dt, trainable * trainable_dt, frozen, params_b, grads_b, opt_b
    )
    ddp_b = 0
    if world > 1 and stage < 0:
        # torch DDP (torch/nn/parallel/distributed.py Reducer) keeps flat buckets holding a
        # copy of every trainable gradient (gradient_as_bucket_view False, HF's default).
        ddp_b = max(grads_b, 0) + DDP_BUCKET_BYTES
    foreach_b = 0
    if "fused" not in cfg.optim and "8bit" not in cfg.optim and stage < 0:
        # torch/optim/adamw.py _multi_tensor_adamw: torch._foreach_sqrt(exp_avg_sqs) is a full
        # copy of the states alive during the step (fused AdamW works in place).
        foreach_b = trainable * trainable_dt
    return ModelStates(
        frozen_bytes=int(frozen),
        trainable_bytes=int(params_b),
        gradient_bytes=int(grads_b),
        optimizer_bytes=int(opt_b),
        ddp_bucket_bytes=int(ddp_b),
        zero3_gathered_bytes=int(gathered),
        optimizer_step_bytes=int(foreach_b),
        dequant_bytes=int(dequant),
        resident_weight_bytes=int(resident),
        cpu_offload_bytes=int(cpu_b),
    )
