"""Peak GPU memory of one ms-swift training step, per GPU, as a breakdown.

Plain arithmetic on a ModelShape and the run's swift flags: no torch, no swift. The activation
coefficients were fitted to traces of real training steps (transformers + PEFT, built the way
ms-swift 4.6 builds them, run under FakeTensorMode with torch's MemTracker; see
tests/bench/trace_memory.py and tests/bench/results/). What a trace cannot see is modelled from
published figures and said so below: the CUDA context, the caching allocator's reserve,
bitsandbytes quantization, DeepSpeed partitioning and liger-kernel's fused loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from swiftkit.memory.models import ModelShape
from swiftkit.memory.offload import apply_offload
from swiftkit.recipe.swiftargs import default_accumulation

GIB = 1024**3
MIB = 1024**2
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}
_DTYPE_ALIASES = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32",
                  "float": "float32", "auto": None}  # fmt: skip

# Saved activations of one decoder layer, bytes per token, with gradient checkpointing off and
# bf16 autocast: least squares over 48 one-/two-layer traces of small Qwen2/Qwen3/Llama layers
# (worst residual 1.4% full, 5.8% LoRA; `trace_memory.py --fit-layers` refits them) on the
# widths h (hidden), q (heads x head_dim), kv, I (intermediate) and the head count. Full
# fine-tuning saves each linear's input for its weight gradient; LoRA saves the adapter inputs
# instead (PEFT casts x to the fp32 adapter dtype, autocast casts it back, and lora_dropout
# keeps a mask and its output per adapted linear). The per-adapter constant was fitted at
# rank 8 and is scaled with the rank.
_ACT_FULL = {"h": 34.39, "q": -10.02, "kv": 2.20, "I": 8.37, "heads": 50.9, "qk_norm_q": 9.83}
_ACT_FROZEN = {"h": 22.49, "q": -4.85, "kv": 1.48, "I": 6.12, "heads": 49.1, "qk_norm_q": 6.80}
_ACT_ADAPTER_IN = 1.377  # per adapted linear, x its input width
_ACT_ADAPTER_OUT = 0.557  # per adapted linear, x its output width
_ACT_ADAPTER_RANK = 13.3  # per adapted linear, x lora_rank
_ACT_DROPOUT_IN = 4.0  # lora_dropout > 0: mask and output, x input width
# With checkpointing the backward of one layer recomputes its activations and adds gradient
# temporaries: 1.4-1.7x the saved activations in the traces.
_RECOMPUTE_FACTOR = 1.55
# Without checkpointing the first layer backward adds gradient temporaries on top of everything
# saved: 0.1-0.65x one layer's activations in the traces. Either this or the loss is the peak.
_BACKWARD_FACTOR = 0.5
# Outside the layers (embedding output, final norm, lm_head input and their gradients): the
# residual of the 0.5B checkpointed traces (the "fit" rows of results/trace_memory.json).
_TOP_FULL_H, _TOP_LORA_H = 9.5, 5.5
# HF's causal-LM loss: fp32 copy of the logits, log-softmax kept for backward and the gradient
# chain (nll_loss grad, log-softmax grad) alive together: 12 bytes per token per vocab entry in
# every trace. liger-kernel's fused linear cross-entropy never materialises the logits.
_LOGITS_BYTES = 12
_LIGER_LOGITS_H = 8.0
# Not in a trace: the CUDA context (0.3-0.7 GiB by published figures; 0.5 GiB assumed) and the
# caching allocator's reserve (published: reserved runs 10-20% above allocated; swift logs
# max_memory_reserved as memory(GiB)). Weights are allocated once and pack well; the slack
# comes from the large short-lived blocks of activations and logits, so the reserve is
# mostly a share of those. Calibrate with tests/bench/gpu_calibrate.py on a real GPU.
CUDA_CONTEXT_BYTES = 512 * MIB
_RESERVE_STATIC = 0.03
_RESERVE_DYNAMIC = 0.20
_RESERVE_FLOOR = 128 * MIB


@dataclass(frozen=True)
class MemoryConfig:
    """What decides memory, in swift's flag terms (values already defaulted as swift does)."""

    tuner_type: str = "lora"  # lora | full (other tuners are estimated as lora)
    torch_dtype: str = "bfloat16"
    quant_method: str | None = None  # bnb: QLoRA; other methods are estimated as bnb
    quant_bits: int | None = None
    lora_rank: int = 8
    target_modules: tuple[str, ...] = ALL_LINEAR
    batch_size: int = 1
    seq_len_tokens: int = 2048
    gradient_checkpointing: bool = True
    deepspeed: str | None = None  # zero0..zero3 (_offload) or a JSON path
    world_size: int = 1
    use_liger_kernel: bool = False
    lora_dropout: float = 0.05
    optim: str = "adamw_torch_fused"
    gradient_accumulation_steps: int = 1
    gpus_per_process: int = 1  # >= 2: device_map splits the model (memory/devicemap.py)
    notes: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class MemoryEstimate:
    peak_allocated_bytes: int  # torch.cuda.max_memory_allocated
    peak_reserved_bytes: int  # torch.cuda.max_memory_reserved: swift's memory(GiB)
    device_bytes: int  # nvidia-smi: reserved plus the CUDA context
    breakdown: Mapping[str, int]
    seq_len_tokens: int
    notes: tuple[str, ...] = ()
    cpu_offload_bytes: int = 0  # per process: what ZeRO offload keeps in CPU RAM instead


def _norm_dtype(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).removeprefix("torch.").lower()
    return _DTYPE_ALIASES.get(text, text)


def _target_modules(value: Any) -> tuple[str, ...]:
    if value is None:
        return ALL_LINEAR
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    if any(str(i).lower() in ("all-linear", "all_linear") for i in items):
        return ALL_LINEAR
    return tuple(m for m in ALL_LINEAR if any(str(i).split(".")[-1] == m for i in items))


def _as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def memory_config_from_args(
    args: Mapping[str, Any], *, world_size: int, seq_len_tokens: int
) -> MemoryConfig:
    """MemoryConfig from the run's swift flag values (swift 4.6 defaults filled in)."""
    notes = []
    dtype = _norm_dtype(args.get("torch_dtype"))
    if dtype not in DTYPE_BYTES:
        notes.append(
            "torch_dtype not set: swift uses the model config's dtype; estimated as bfloat16"
        )
        dtype = "bfloat16"
    batch = int(args.get("per_device_train_batch_size") or 1)
    accum = args.get("gradient_accumulation_steps")
    if accum is None:
        accum = default_accumulation(batch, max(world_size, 1))
    deepspeed = args.get("deepspeed")
    quant = args.get("quant_method")
    bits = args.get("quant_bits")
    return MemoryConfig(
        tuner_type=str(args.get("tuner_type") or "lora"),
        torch_dtype=dtype,
        quant_method=str(quant) if quant and bits else None,
        quant_bits=int(bits) if quant and bits else None,
        lora_rank=int(args.get("lora_rank") or 8),
        target_modules=_target_modules(args.get("target_modules")),
        batch_size=batch,
        seq_len_tokens=int(seq_len_tokens),
        gradient_checkpointing=_as_bool(args.get("gradient_checkpointing"), True),
        deepspeed=str(deepspeed) if deepspeed else None,
        world_size=max(int(world_size), 1),
        use_liger_kernel=_as_bool(args.get("use_liger_kernel"), False),
        lora_dropout=float(args.get("lora_dropout") or 0.0),
        optim=str(args.get("optim") or "adamw_torch_fused"),
        gradient_accumulation_steps=int(accum),
        notes=tuple(notes),
    )


def _layer_activation_bytes(shape: ModelShape, cfg: MemoryConfig, lora: bool) -> float:
    """Saved activations of one decoder layer per token, checkpointing off."""
    h, q, kv, i = shape.hidden_size, shape.q_width, shape.kv_width, shape.intermediate_size
    c = _ACT_FROZEN if lora else _ACT_FULL
    qk = q if shape.qk_norm else 0
    base = (c["h"] * h + c["q"] * q + c["kv"] * kv + c["I"] * i + c["heads"] * shape.num_heads
            + c["qk_norm_q"] * qk)  # fmt: skip
    if not lora:
        return base
    linears = shape.linear_shapes()
    adapted = [linears[m] for m in cfg.target_modules if m in linears]
    ins = sum(a for a, _ in adapted)
    outs = sum(b for _, b in adapted)
    extra = _ACT_ADAPTER_IN * ins + _ACT_ADAPTER_OUT * outs
    extra += _ACT_ADAPTER_RANK * cfg.lora_rank * len(adapted)
    if cfg.lora_dropout > 0:
        extra += _ACT_DROPOUT_IN * ins
    return base + extra


def _zero_stage(deepspeed: str | None) -> int:
    if not deepspeed:
        return -1
    text = deepspeed.lower()
    for stage in (3, 2, 1, 0):
        if f"zero{stage}" in text or f"zero_{stage}" in text or f"stage{stage}" in text:
            return stage
    return 2  # a JSON path we do not read: assume the common ZeRO-2


def estimate_memory(shape: ModelShape, cfg: MemoryConfig) -> MemoryEstimate:
    """Peak memory of one training micro-step on each GPU."""
    notes = list(cfg.notes)
    lora = cfg.tuner_type != "full"
    if cfg.tuner_type not in ("lora", "full"):
        notes.append(f"tuner_type {cfg.tuner_type}: estimated as LoRA")
    dt = DTYPE_BYTES.get(cfg.torch_dtype, 2)
    tokens = cfg.batch_size * cfg.seq_len_tokens
    world = max(cfg.world_size, 1)
    stage = _zero_stage(cfg.deepspeed)
    layers = shape.num_layers

    linear_params = layers * shape.layer_linear_params()
    other_params = layers * shape.layer_other_params() + shape.embedding_params()
    other_params += shape.hidden_size
    linears = shape.linear_shapes()
    adapted = [linears[m] for m in cfg.target_modules if m in linears]
    lora_params = layers * sum(cfg.lora_rank * (a + b) for a, b in adapted) if lora else 0
    trainable = lora_params if lora else linear_params + other_params

    # Weights. QLoRA (bnb) stores the decoder's linear layers in 4 or 8 bits; embeddings,
    # lm_head and norms stay in torch_dtype. nf4 with double quantization (swift's default):
    # 0.5 B + 1/64 B of constants per weight; int8: 1 B plus a fp32 scale per row.
    if lora and cfg.quant_method and cfg.quant_bits in (4, 8):
        per = 0.5 + 1 / 64 + 4 / (64 * 256) if cfg.quant_bits == 4 else 1.0
        frozen = int(linear_params * per) + other_params * dt
        biggest = max(a * b for a, b in linears.values())
        dequant = biggest * dt  # one linear dequantized to torch_dtype at a time
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
    if stage >= 1:
        opt_b //= world
    if stage >= 2:
        grads_b = grads_b // world + min(grads_b, int(2e8) * dt)  # + the reduce bucket
    if stage >= 3:
        frozen //= world
        params_b //= world
        biggest_layer = shape.layer_linear_params() + shape.layer_other_params()
        frozen += 2 * biggest_layer * dt  # gathered layer + prefetch
    frozen, params_b, grads_b, opt_b, cpu_b = apply_offload(  # ZeRO-Offload: to CPU RAM
        shape, cfg.deepspeed, stage, dt, trainable * trainable_dt, frozen, params_b, grads_b, opt_b
    )
    if world > 1 and stage < 0:
        grads_b *= 2  # DDP keeps its own gradient buckets next to .grad
    foreach_b = 0
    if "fused" not in cfg.optim and "8bit" not in cfg.optim and stage < 0:
        foreach_b = trainable * trainable_dt  # foreach AdamW's intermediate at the step

    # Activations.
    a_layer = _layer_activation_bytes(shape, cfg, lora)
    top = (_TOP_LORA_H if lora else _TOP_FULL_H) * shape.hidden_size
    if cfg.use_liger_kernel:
        logits = _LIGER_LOGITS_H * shape.hidden_size
    else:
        logits = _LOGITS_BYTES * shape.vocab_size
    if cfg.gradient_checkpointing:
        saved = layers * 2 * shape.hidden_size  # each layer's input, kept for recompute
        peak_extra = max(logits + top, _RECOMPUTE_FACTOR * a_layer)
    else:
        saved = layers * a_layer
        peak_extra = max(logits, _BACKWARD_FACTOR * a_layer) + top
    activations_b = int(tokens * saved)
    loss_b = int(tokens * (logits + top)) if peak_extra == logits + top else 0
    recompute_b = int(tokens * peak_extra) - loss_b

    fixed = frozen + params_b + grads_b + opt_b
    step_peak = fixed + foreach_b
    train_peak = fixed + dequant + activations_b + loss_b + recompute_b
    allocated = max(train_peak, step_peak)
    breakdown = {
        "frozen_weights": int(frozen),
        "trainable_params": int(params_b),
        "gradients": int(grads_b),
        "optimizer_states": int(opt_b),
        "activations": activations_b + recompute_b + int(dequant),
        "logits_and_loss": loss_b,
    }
    if step_peak > train_peak:
        breakdown["activations"] = 0
        breakdown["logits_and_loss"] = 0
        breakdown["optimizer_step"] = int(foreach_b)
    dynamic = allocated - fixed
    reserve = _RESERVE_STATIC * fixed + _RESERVE_DYNAMIC * dynamic + _RESERVE_FLOOR
    reserved = int(allocated + reserve)
    breakdown["allocator_reserve"] = reserved - int(allocated)
    breakdown["cuda_context"] = CUDA_CONTEXT_BYTES
    return MemoryEstimate(
        peak_allocated_bytes=int(allocated),
        peak_reserved_bytes=reserved,
        device_bytes=reserved + CUDA_CONTEXT_BYTES,
        breakdown=breakdown,
        seq_len_tokens=cfg.seq_len_tokens,
        notes=tuple(notes),
        cpu_offload_bytes=int(cpu_b),
    )
