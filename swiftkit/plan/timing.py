"""How long one training step takes at efficiency 1: FLOPs, weight traffic and operator count of
a micro-batch, turned into seconds on a device (a card from the GPU table, or the CPU).

Pure arithmetic on a ModelShape and a MemoryConfig (the run's flags as swift resolves them): no
torch, no swift. The result is an *ideal* time; plan/timeplan.py divides it by an efficiency
factor calibrated on finished runs (plan/calibrate.py).

The model of one micro-batch of b rows padded to s tokens (T = b x s):
- FLOPs. Forward: 2 x (decoder matmul weights) x T, the causal attention scores and mixing
  2 x 2 x b x s^2 x (heads x head_dim) / 2 per layer, and the lm_head 2 x hidden x vocab x T.
  Backward (Kaplan et al. 2020; Narayanan et al. 2021, "6N"): a matmul whose weight is trained
  needs two more of its forward cost (input and weight gradients), a frozen one (LoRA's base
  weights) one more (input gradient only); LoRA's adapters are trained. Gradient checkpointing
  (one checkpoint per decoder layer, transformers' `gradient_checkpointing_enable`) runs each
  layer's forward once more in backward.
- Weight traffic: every pass reads the decoder's weights once (forward, backward, the
  checkpointing recompute); full fine-tuning also reads and writes the gradients it accumulates.
  At small b x s a step is bound by this, not by FLOPs: why a larger per-device batch is faster.
- Operators: PyTorch launches one kernel per operator (eager mode); each costs host time
  whatever its size. A Qwen2/Llama decoder layer runs about 45 in forward, a LoRA adapter about
  7 (dropout, cast, A, B, scale, add), backward about twice the forward.
The micro-batch's time is max(FLOPs / peak, bytes / bandwidth) (attention FLOPs at half the
matmul rate) + operators x launch time + a
fixed host cost (data collation, the trainer's bookkeeping); an optimizer update adds the AdamW
step (reads and writes parameters, gradients and both moments) and its operators.
"""

from __future__ import annotations

from dataclasses import dataclass

from swiftkit.memory.estimate import DTYPE_BYTES, MemoryConfig
from swiftkit.memory.gpus import GpuCard, card_throughput
from swiftkit.memory.models import ModelShape

# FlashAttention-2 (Dao 2023, Fig. 5-6) runs causal attention at ~50-70% of peak forward and less
# in backward, against ~80% for large GEMMs: attention FLOPs count at half the matmul rate.
ATTENTION_RELATIVE_SPEED = 0.5
OPS_PER_LAYER_FORWARD = 45  # norms, q/k/v/o, rope, attention, MLP, residual adds
OPS_PER_ADAPTER_FORWARD = 7  # lora_dropout, cast, lora_A, lora_B, scaling, add, cast back
OPS_OUTSIDE_LAYERS = 20  # embedding, final norm, lm_head, shift, cross-entropy
BACKWARD_OPS_RATIO = 2.0
OPTIMIZER_OPS_PER_TENSOR = 4  # grad-norm, clip, AdamW, zero_grad
HOST_SECONDS_PER_MICRO_BATCH = 2e-3
HOST_SECONDS_PER_UPDATE = 5e-3
# Kernel launch plus framework dispatch per operator: ~8 us on a GPU (CUDA launch latency and
# PyTorch's dispatcher), ~20 us on a CPU (dispatcher and autograd bookkeeping, no launch).
GPU_SECONDS_PER_OP = 8e-6
CPU_SECONDS_PER_OP = 20e-6
# CPU figures per thread: fp32 matmuls at the narrow widths a CPU run trains (64-4096 wide)
# sustain ~10-20 GFLOP/s on one AVX2 core through torch's oneDNN (measured with the tiny model's
# forward + backward at batch 1, 2, 4, 8: ~40% of the step grows with the rows), well under the
# core's peak; stream bandwidth of one socket. The efficiency factor absorbs the rest.
CPU_FLOPS_PER_THREAD = 16e9
CPU_BYTES_PER_SECOND = 20e9


@dataclass(frozen=True)
class Device:
    """Where a step runs, as the time model sees it."""

    name: str  # shown to people: the card's name, or "CPU (1 thread)"
    key: str  # what calibration matches on: the card's name, or "cpu/<threads>"
    peak_flops: float  # dense FLOP/s in the run's dtype
    bytes_per_second: float
    seconds_per_op: float


@dataclass(frozen=True)
class MicroBatchCost:
    flops: float
    attention_flops: float  # part of flops: the attention scores and mixing
    weight_bytes: float
    ops: float


def gpu_device(card: GpuCard, dtype: str) -> Device | None:
    """The card's dense bf16/fp16 (or fp32) peak and bandwidth; None for an unknown card."""
    t = card_throughput(card)
    if t is None:
        return None
    tflops = t.fp32_tflops if dtype == "float32" else t.bf16_tflops
    return Device(card.name, card.name, tflops * 1e12, t.memory_gbps * 1e9, GPU_SECONDS_PER_OP)


def cpu_device(threads: int) -> Device:
    threads = max(int(threads), 1)
    name = f"CPU ({threads} thread{'s' if threads != 1 else ''})"
    return Device(
        name, f"cpu/{threads}", CPU_FLOPS_PER_THREAD * threads, CPU_BYTES_PER_SECOND,
        CPU_SECONDS_PER_OP,
    )  # fmt: skip


def _adapters(shape: ModelShape, cfg: MemoryConfig) -> list[tuple[int, int]]:
    if cfg.tuner_type == "full":
        return []
    linears = shape.linear_shapes()
    return [linears[m] for m in cfg.target_modules if m in linears]


def micro_batch_cost(
    shape: ModelShape, cfg: MemoryConfig, rows: float, seq_tokens: float, *, train: bool = True
) -> MicroBatchCost:
    """FLOPs, weight bytes read/written and operators of one micro-batch.

    rows x seq_tokens is the padded batch (per process). train=False is an evaluation batch:
    forward only. Sources: see the module docstring.
    """
    tokens = rows * seq_tokens
    layers = shape.num_layers
    full = cfg.tuner_type == "full"
    adapters = _adapters(shape, cfg)
    linear = layers * shape.layer_linear_params()
    lm_head = shape.hidden_size * shape.vocab_size
    attention = 2 * 2 * rows * seq_tokens**2 * shape.q_width * layers / 2  # causal half
    layer_fwd = 2 * linear * tokens + attention
    head_fwd = 2 * lm_head * tokens
    adapter_fwd = layers * sum(2 * cfg.lora_rank * (a + b) for a, b in adapters) * tokens
    dt = DTYPE_BYTES.get(cfg.torch_dtype, 2)
    if cfg.quant_method and cfg.quant_bits in (4, 8) and not full:
        weight_bytes = linear * (0.5 if cfg.quant_bits == 4 else 1.0) + lm_head * dt
    else:
        weight_bytes = (linear + lm_head) * dt
    layer_ops = layers * (OPS_PER_LAYER_FORWARD + OPS_PER_ADAPTER_FORWARD * len(adapters))
    if not train:
        return MicroBatchCost(
            layer_fwd + head_fwd + adapter_fwd,
            attention,
            weight_bytes,
            layer_ops + OPS_OUTSIDE_LAYERS,
        )
    recompute = 1 if cfg.gradient_checkpointing else 0
    backward = 2 if full else 1  # trained weights: input + weight gradients; frozen: input only
    flops = (
        layer_fwd * (1 + recompute)
        + 2 * attention  # attention has no weights: its backward is always ~2x forward
        + (2 * linear * tokens) * backward
        + head_fwd * (1 + backward)
        + adapter_fwd * (3 + recompute)
    )
    passes = 2 + recompute + (2 if full else 0)  # forward, backward, recompute, grad read+write
    ops = (layer_ops + OPS_OUTSIDE_LAYERS) * (1 + BACKWARD_OPS_RATIO) + layer_ops * recompute
    attention_total = attention * (1 + recompute + 2)
    return MicroBatchCost(flops, attention_total, weight_bytes * passes, ops)


def trainable_tensors(shape: ModelShape, cfg: MemoryConfig) -> tuple[int, int]:
    """(trainable parameters, trainable tensors): LoRA's A and B per adapted linear, or every
    weight, bias and norm of the model for full fine-tuning."""
    adapters = _adapters(shape, cfg)
    if cfg.tuner_type != "full":
        params = shape.num_layers * sum(cfg.lora_rank * (a + b) for a, b in adapters)
        return params, 2 * shape.num_layers * len(adapters)
    per_layer = 7 + 2 + (3 if shape.qkv_bias else 0)
    tensors = shape.num_layers * per_layer + 2 + (0 if shape.tie_word_embeddings else 1)
    return shape.param_count(), tensors


def micro_batch_seconds(cost: MicroBatchCost, device: Device) -> float:
    """Roofline: the slower of compute and weight traffic, plus the host's per-operator cost."""
    matmul = (cost.flops - cost.attention_flops) / device.peak_flops
    attention = cost.attention_flops / (device.peak_flops * ATTENTION_RELATIVE_SPEED)
    busy = max(matmul + attention, cost.weight_bytes / device.bytes_per_second)
    return busy + cost.ops * device.seconds_per_op + HOST_SECONDS_PER_MICRO_BATCH


def optimizer_seconds(shape: ModelShape, cfg: MemoryConfig, device: Device) -> float:
    """One AdamW step: parameters, gradients and both moments read and written once."""
    params, tensors = trainable_tensors(shape, cfg)
    dt = 4 if cfg.tuner_type != "full" else DTYPE_BYTES.get(cfg.torch_dtype, 2)
    state = 2 * (1 if "8bit" in cfg.optim else 4)
    traffic = 2 * params * (2 * dt + state)
    ops = OPTIMIZER_OPS_PER_TENSOR * tensors
    return traffic / device.bytes_per_second + ops * device.seconds_per_op + HOST_SECONDS_PER_UPDATE


def expected_padded_length(lengths: list[int], batch: int) -> float:
    """Mean length a batch of `batch` rows is padded to: the expected longest of `batch` rows
    drawn at random: swift's train dataloader shuffles (swift/trainers/mixin.py
    get_train_dataloader, train_dataloader_shuffle with data_seed) and its collator pads each
    batch to its longest row (swift/template/base.py Template._data_collator, padding_to None).

    lengths: the rows' token lengths (any order). With sorted l_1 <= ... <= l_n the longest of b
    draws is l_i with probability (i/n)^b - ((i-1)/n)^b.
    """
    if not lengths:
        return 0.0
    ordered = sorted(lengths)
    n = len(ordered)
    if batch <= 1:
        return sum(ordered) / n
    total, previous = 0.0, 0.0
    for i, length in enumerate(ordered, 1):
        p = (i / n) ** batch
        total += length * (p - previous)
        previous = p
    return total
