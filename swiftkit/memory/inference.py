"""Peak GPU memory of serving the model with ms-swift's transformers engine: one conversation of
up to max_length tokens (prompt plus answer), batch 1 (`swift infer --max_batch_size 1`).

Plain arithmetic on a ModelShape, beside the training estimate: the weights (LoRA adapters, when
not merged, on top), the KV cache of the whole conversation, and the activations of the one
forward that processes the prompt (prefill), which is the widest moment of generation. No torch,
no swift. The activation terms were fitted to FakeTensor/MemTracker traces of real transformers
prefills (tests/bench/trace_inference.py prints them next to this estimate).
"""

from __future__ import annotations

from dataclasses import dataclass

from swiftkit.memory.estimate import ALL_LINEAR, CUDA_CONTEXT_BYTES, MIB, MemoryEstimate
from swiftkit.memory.models import ModelShape
from swiftkit.memory.states import DTYPE_BYTES

# The prefill of s prompt tokens, per token, in units of torch_dtype bytes. The MLP is the widest
# point of a decoder layer: act_fn(gate_proj(x)), up_proj(x) and their product are alive
# together (3 x intermediate); beside them the layer input, the residual and the fp32 RMSNorm
# upcast of the next layer (about 5 x hidden). Attention with SDPA never holds the s x s
# scores. transformers' generate() passes logits_to_keep=1, so the logits are one row.
_PREFILL_INTERMEDIATE = 3.0
_PREFILL_HIDDEN = 5.0
# DynamicCache grows by torch.cat: while one layer's cache is copied the old and new copies are
# both alive (one layer's worth, at most).
_KV_COPIES = 1
# As the training estimate (swiftkit/memory/estimate.py): the caching allocator keeps a few percent
# above what is allocated; weights are allocated once and pack well, short-lived activations do not.
_RESERVE_STATIC = 0.03
_RESERVE_DYNAMIC = 0.20
_RESERVE_FLOOR = 128 * MIB


@dataclass(frozen=True)
class InferenceConfig:
    """What decides inference memory, in swift's flag terms."""

    torch_dtype: str = "bfloat16"
    context_tokens: int = 2048  # prompt plus answer: the KV cache's length
    batch_size: int = 1  # swift infer --max_batch_size (default 1)
    quant_method: str | None = None  # bnb (4 or 8 bits) when the run trained a QLoRA
    quant_bits: int | None = None
    adapter_params: int = 0  # LoRA parameters when served unmerged (--adapters), 0 when merged


def kv_cache_bytes(shape: ModelShape, *, tokens: int, dtype_bytes: int, batch: int = 1) -> int:
    """Keys and values of every layer for `tokens` tokens: 2 x layers x kv_heads x head_dim x dtype
    bytes per token (transformers DynamicCache, stored in the model's dtype)."""
    return 2 * shape.num_layers * shape.kv_width * dtype_bytes * tokens * batch


def estimate_inference_memory(shape: ModelShape, cfg: InferenceConfig) -> MemoryEstimate:
    """Peak memory of generating one answer, in bytes, as a MemoryEstimate (so the training
    estimate's verdicts apply to it). breakdown: weights, adapter, kv_cache, activations,
    allocator_reserve, cuda_context.

    Rules: weights are loaded in torch_dtype (swift/model/register.py get_model_tokenizer);
    bnb 4-bit keeps the decoder's linear layers at 0.5 B plus constants per weight (as the
    training estimate); PEFT loads unmerged adapters upcast to float32
    (peft `_cast_adapter_dtype`, autocast_adapter_dtype=True; swift/tuners/peft.py keeps it);
    the KV cache is `kv_cache_bytes`; generate() computes logits for the last token only.
    """
    dt = DTYPE_BYTES.get(cfg.torch_dtype, 2)
    tokens = max(int(cfg.context_tokens), 1)
    batch = max(int(cfg.batch_size), 1)
    linear = shape.num_layers * shape.layer_linear_params()
    other = shape.param_count() - linear
    if cfg.quant_method and cfg.quant_bits in (4, 8):
        per = 0.5 + 1 / 64 + 4 / (64 * 256) if cfg.quant_bits == 4 else 1.0
        weights = int(linear * per) + other * dt
    else:
        weights = shape.param_count() * dt
    adapter = cfg.adapter_params * 4
    kv = kv_cache_bytes(shape, tokens=tokens, dtype_bytes=dt, batch=batch)
    kv_copy = _KV_COPIES * kv // max(shape.num_layers, 1)
    per_token = (
        _PREFILL_INTERMEDIATE * shape.intermediate_size + _PREFILL_HIDDEN * shape.hidden_size
    )
    prefill = int(batch * tokens * per_token * dt)
    logits = batch * shape.vocab_size * (dt + 4)  # the last row, and its float32 copy
    activations = prefill + kv_copy + logits
    allocated = weights + adapter + kv + activations
    fixed = weights + adapter
    reserve = int(_RESERVE_STATIC * fixed + _RESERVE_DYNAMIC * (kv + activations) + _RESERVE_FLOOR)
    breakdown = {
        "weights": int(weights),
        "adapter": int(adapter),
        "kv_cache": int(kv),
        "activations": int(activations),
        "allocator_reserve": reserve,
        "cuda_context": CUDA_CONTEXT_BYTES,
    }
    reserved = int(allocated) + reserve
    return MemoryEstimate(
        peak_allocated_bytes=int(allocated),
        peak_reserved_bytes=reserved,
        device_bytes=reserved + CUDA_CONTEXT_BYTES,
        breakdown=breakdown,
        seq_len_tokens=tokens,
    )


def lora_params(
    shape: ModelShape, *, rank: int, target_modules: tuple[str, ...] = ALL_LINEAR
) -> int:
    """rank x (in + out) per adapted linear layer, in every decoder layer (PEFT LoraLayer)."""
    linears = shape.linear_shapes()
    per_layer = sum(rank * (a + b) for m, (a, b) in linears.items() if m in target_modules)
    return shape.num_layers * per_layer
