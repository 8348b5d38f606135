"""Activations, logits and loss of one micro-step, per token: the part of the allocated peak that
grows with the rows.

Coefficients are least squares over FakeTensorMode/MemTracker traces of one- and two-layer
Qwen2/Qwen3/Llama models (tests/bench/trace_memory.py --fit-layers, results in
tests/bench/results/layer_fit_traces.json), traced the way a CUDA step runs (trace_memory.py
gpu_faithful: dropout through native_dropout's 1-byte mask, no materialised causal mask, GQA
inside SDPA, bf16 autocast, reentrant checkpointing, fused AdamW).
"""

from __future__ import annotations

from dataclasses import dataclass

from swiftkit.memory.liger import fused_ce_bytes, liger_layer_savings
from swiftkit.memory.models import ModelShape

# Saved activations of one decoder layer, bytes per token, checkpointing off, bf16 autocast, on
# the widths h (hidden), q (heads x head_dim), kv, I (intermediate) and the head count. Full
# fine-tuning saves each linear's input for its weight gradient; LoRA saves the adapter inputs
# instead (PEFT casts x to the fp32 adapter dtype, autocast casts it back to bf16 for lora_A,
# and lora_dropout keeps native_dropout's 1-byte mask). The per-adapter constant was fitted at
# rank 8 and is scaled with the rank. 48 traces at 512 tokens; worst residual 0.0% (full) and
# 5.0% (LoRA). Before the traces took the CUDA paths, CPU dropout's fp32 noise tensor (4 bytes
# per input element instead of 1) and a materialised causal mask with repeated KV heads
# inflated the LoRA and per-head terms.
ACT_FULL = {"h": 31.026, "q": -11.023, "kv": 4.017, "I": 8.003, "heads": 4.369, "qk_norm_q": 9.099}
ACT_FROZEN = {"h": 17.963, "q": -5.303, "kv": 3.873, "I": 5.782, "heads": 15.452,
              "qk_norm_q": 6.273}  # fmt: skip
ACT_ADAPTER_IN = 1.432  # per adapted linear, x its input width
ACT_ADAPTER_OUT = 0.585  # per adapted linear, x its output width
ACT_ADAPTER_RANK = 65.746 / 8  # per adapted linear, x lora_rank
ACT_DROPOUT_IN = 1.014  # lora_dropout > 0: native_dropout's bool mask, x input width
# With checkpointing the backward of one layer recomputes its activations and adds gradient
# temporaries: 1.4-1.7x the saved activations in the traces.
RECOMPUTE_FACTOR = 1.55
# Without checkpointing the first layer backward adds gradient temporaries on top of everything
# saved: 0.1-0.65x one layer's activations in the traces. Either this or the loss is the peak.
BACKWARD_FACTOR = 0.5
# Outside the layers (embedding output, final norm, lm_head input and their gradients): the
# residual of the 0.5B checkpointed traces.
TOP_FULL_H, TOP_LORA_H = 9.5, 5.5
# transformers' ForCausalLMLoss (loss_utils.py): logits.float(), then cross_entropy. At the
# backward peak three fp32 [tokens, vocab] tensors are alive: the log-softmax output kept for
# backward (4 bytes) and the two gradients of cross_entropy's backward (nll_loss_backward's
# zero-filled grad and log_softmax_backward_data's output, 4 + 4 bytes): 12 bytes per logit in
# every trace. liger-kernel's fused linear cross-entropy never materialises them.
LOGITS_KEPT_BYTES = 4
LOSS_TEMP_BYTES = 8
# transformers < 4.46 (ms-swift 1.x/2.x) computed the loss in the model's forward
# (modeling_qwen2.py Qwen2ForCausalLM.forward: logits.float(), then
# logits[..., :-1, :].contiguous()): backward of that slice adds a full fp32 zero-filled
# gradient of the logits, 4 more bytes per logit at the peak.
LEGACY_LOSS_EXTRA_BYTES = 4


@dataclass(frozen=True)
class StepActivations:
    """Bytes of one micro-step's tensors that scale with the tokens, at its allocated peak."""

    kept_bytes: int  # layer inputs kept for checkpointing, or every layer's saved activations
    recompute_bytes: int  # one layer recomputed in backward, or the first layer's gradients
    logits_bytes: int  # fp32 log-probabilities kept for the loss backward (at the peak)
    loss_temp_bytes: int  # cross-entropy backward's full-vocabulary fp32 temporaries
    top_bytes: int  # embedding output, final norm, lm_head input and their gradients
    logits_tokens: int  # tokens whose logits are computed (logits_to_keep)


def layer_activation_bytes(shape: ModelShape, lora: bool, targets, rank: int, dropout: float):
    """Saved activations of one decoder layer per token, checkpointing off."""
    h, q, kv, i = shape.hidden_size, shape.q_width, shape.kv_width, shape.intermediate_size
    c = ACT_FROZEN if lora else ACT_FULL
    qk = q if shape.qk_norm else 0
    base = (c["h"] * h + c["q"] * q + c["kv"] * kv + c["I"] * i + c["heads"] * shape.num_heads
            + c["qk_norm_q"] * qk)  # fmt: skip
    if not lora:
        return base
    linears = shape.linear_shapes()
    adapted = [linears[m] for m in targets if m in linears]
    ins = sum(a for a, _ in adapted)
    outs = sum(b for _, b in adapted)
    extra = ACT_ADAPTER_IN * ins + ACT_ADAPTER_OUT * outs + ACT_ADAPTER_RANK * rank * len(adapted)
    if dropout > 0:
        extra += ACT_DROPOUT_IN * ins
    return base + extra


def logits_tokens(tokens: int, label_tokens: int | None, use_logits_to_keep: bool) -> int:
    """Tokens whose logits the model computes.

    ms-swift (swift/trainers/mixin.py SwiftMixin.prepare_logits_to_keep, called from
    Seq2SeqTrainer._prepare_inputs when get_use_logits_to_keep() is true: text models whose
    forward takes `logits_to_keep`, no sequence parallelism) passes the model a mask of the
    labelled positions (batch 1) or the span from the first labelled token (batch > 1), so
    lm_head and the loss see only those tokens. swift < 3.5 computed logits for every token.
    """
    if not use_logits_to_keep or label_tokens is None:
        return tokens
    return max(1, min(tokens, label_tokens + 1))


def step_activations(shape: ModelShape, cfg) -> StepActivations:
    """The token-dependent tensors of one micro-step at its peak (cfg: a MemoryConfig)."""
    lora = cfg.tuner_type != "full"
    tokens = cfg.batch_size * cfg.seq_len_tokens
    n = cfg.batch_size * logits_tokens(cfg.seq_len_tokens, cfg.label_tokens, cfg.use_logits_to_keep)
    a_layer = layer_activation_bytes(shape, lora, cfg.target_modules, cfg.lora_rank,
                                     cfg.lora_dropout)  # fmt: skip
    # liger-kernel's RMSNorm/SwiGLU/RoPE keep less per layer (liger.py); its fused linear
    # cross-entropy replaces the logits only when swift leaves the labels to the model.
    saved_off, recompute_off = 0.0, 0.0
    if cfg.use_liger_kernel:
        saved_off, recompute_off = liger_layer_savings(shape, lora, cfg.target_modules)
    a_saved = a_layer - saved_off
    top = int(tokens * (TOP_LORA_H if lora else TOP_FULL_H) * shape.hidden_size)
    if cfg.use_liger_kernel and cfg.labels_to_model:
        kept_logits = 0
        temp = fused_ce_bytes(shape, n, copy_kept=cfg.use_logits_to_keep, lm_head_trains=not lora,
                              weight_dtype=cfg.torch_dtype)  # fmt: skip
    else:
        kept_logits = int(n * LOGITS_KEPT_BYTES * shape.vocab_size)
        extra = LEGACY_LOSS_EXTRA_BYTES if cfg.legacy_loss else 0
        temp = int(n * (LOSS_TEMP_BYTES + extra) * shape.vocab_size)
    loss = kept_logits + temp + top
    layers = shape.num_layers
    if cfg.gradient_checkpointing:
        kept = int(tokens * layers * 2 * shape.hidden_size)  # each layer's input, for recompute
        recompute = int(tokens * (RECOMPUTE_FACTOR * a_layer - recompute_off))
        if recompute > loss:  # the recomputed layer is the peak, not the loss
            kept_logits = temp = top = 0
        else:
            recompute = 0
    else:
        kept = int(tokens * layers * a_saved)
        recompute = int(tokens * BACKWARD_FACTOR * a_saved)
        if recompute > kept_logits + temp:
            kept_logits = temp = 0
        else:
            recompute = 0
    return StepActivations(kept, recompute, kept_logits, temp, top, n)
