"""What `--use_liger_kernel true` changes in one micro-step's memory.

The code path (ms-swift 4.6, transformers 5.19): SwiftMixin.train (swift/trainers/mixin.py)
enables gradient checkpointing on the base model, then transformers' Trainer.train calls
integrations/liger.py apply_liger_kernel(self.model), which unwraps the PEFT model
(trainer_utils.unwrap_peft_model) and hands the base causal LM to liger-kernel's
_apply_liger_kernel_to_instance -> apply_liger_kernel_to_{qwen2,qwen3,llama}(model=...)
(transformers/monkey_patch.py): so it applies to LoRA too. Every decoder layer's
input/post-attention RMSNorm and the final norm get LigerRMSNorm.forward, every MLP
LigerSwiGLUMLP.forward, the module-level apply_rotary_pos_emb becomes liger_rotary_pos_emb, and
the causal LM's forward becomes lce_forward (fused linear cross-entropy on the kept hidden states,
no logits, when training with labels). Qwen3's q_norm/k_norm are left alone. The patched forwards
run inside transformers' checkpointed layers, so the recompute runs liger's ops too.

Sources: linkedin/Liger-Kernel v0.5.10 (2025-05-22, the release beside ms-swift 3.5's
examples); v0.7.0 and v0.8.2 allocate and save the same for these ops (the Triton default path).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swiftkit.memory.models import ModelShape
from swiftkit.memory.states import DTYPE_BYTES

# What liger takes off one decoder layer, bytes per token, least squares over traces of 1- and
# 2-layer models with liger's autograd Functions re-created for FakeTensorMode (the same
# allocations, saves and in-place backwards: tests/bench/liger_fake.py; python
# tests/bench/trace_memory.py --fit-liger, results/liger_fit_traces.json; 8 shapes, 512 tokens).
# - ops/rms_norm.py LigerRMSNormFunction.forward saves (X, W, RSTD): the bf16 input and one fp32
#   per row, where transformers' Qwen2/Qwen3/LlamaRMSNorm keeps an fp32 copy of its input (and,
#   when the weight trains, the bf16 normalised input for its gradient);
# - ops/swiglu.py LigerSiLUMulFunction.forward saves (gate, up) where act_fn(gate) * up keeps
#   gate, silu(gate) and up;
# - ops/rope.py LigerRopeFunction rotates q and k in place and saves (cos, sin): no per-token
#   tensor kept, fewer temporaries.
# Full fine-tuning: exactly 4h per norm (two per layer) + 2I, worst residual 0.0%. LoRA: fitted
# on h, I and the adapted linears' widths (the frozen weights need less, and which op holds the
# backward peak depends on the adapters): worst residual 2.7% of a layer.
LIGER_SAVED_FULL = {"h": 8.0, "I": 2.0}
LIGER_SAVED_LORA = {"h": 6.617, "I": 1.377, "adapter_in": -1.109, "adapter_out": 1.124}
# With checkpointing the recomputed layer's backward peak loses, besides the saved tensors, the
# gradient temporaries that liger's in-place backwards never allocate (rms_norm_backward writes
# dX into dY, in_place=True by _patch_rms_norm_module's default; swiglu_backward writes da, db
# into the saved gate and up): worst residual 0.6% (full) and 3.7% (LoRA) of a layer.
LIGER_RECOMPUTE_FULL = {"h": 8.286, "I": 3.429}
LIGER_RECOMPUTE_LORA = {"h": 6.371, "I": 5.489, "adapter_in": 1.744, "adapter_out": -2.471}

# swift/loss_scale/mapping.py loss_scale_map: the loss scales whose weights are not all 0 or 1
# (agent.py AgentFlanLossScale.is_binary False; config/react.json, qwen.json, alpha_umi.json,
# hermes.json hold 2.0). Template._encode_context_list drops a binary loss_scale (labels carry
# it); a non-binary one reaches compute_loss as inputs['loss_scale'].
NON_BINARY_LOSS_SCALES = frozenset({"agentflan", "alpha_umi", "hermes", "qwen", "react"})


def _on(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def labels_reach_model(args: Mapping[str, Any]) -> bool:
    """Whether the model's forward gets the labels and computes the loss itself.

    swift/trainers/seq2seq_trainer.py Seq2SeqTrainer.compute_loss pops the labels (and warns
    "The cross_entropy loss function defined in Liger Kernel will not take effect, potentially
    leading to increased GPU memory consumption") when there is a label smoother
    (--label_smoothing_factor != 0), a compute_loss_func (--loss_type, mixin.py
    create_loss_and_eval_metric), a non-binary loss_scale, --enable_dft_loss,
    --enable_channel_loss or --sequence_parallel_size > 1. Liger's lce_forward then computes
    bf16 logits (its no-labels branch) and swift's per_token_loss_func upcasts them to fp32, as
    without liger."""
    if float(args.get("label_smoothing_factor") or 0.0) != 0.0:
        return False
    if args.get("loss_type") or _on(args.get("enable_dft_loss")):
        return False
    if _on(args.get("enable_channel_loss")) or int(args.get("sequence_parallel_size") or 1) > 1:
        return False
    scale = str(args.get("loss_scale") or "default")
    return not any(part in NON_BINARY_LOSS_SCALES for part in scale.split("+"))


def _apply(coef: Mapping[str, float], shape: ModelShape, adapted: list) -> float:
    feats = {
        "h": shape.hidden_size,
        "I": shape.intermediate_size,
        "adapter_in": sum(a for a, _ in adapted),
        "adapter_out": sum(b for _, b in adapted),
    }
    return sum(c * feats[name] for name, c in coef.items())  # fmt: skip


def liger_layer_savings(shape: ModelShape, lora: bool, targets) -> tuple[float, float]:
    """(saved, recompute): bytes per token liger takes off one decoder layer's saved
    activations (checkpointing off) and off the recomputed layer's backward peak (on)."""
    linears = shape.linear_shapes()
    adapted = [linears[m] for m in targets if m in linears] if lora else []
    saved = LIGER_SAVED_LORA if lora else LIGER_SAVED_FULL
    recompute = LIGER_RECOMPUTE_LORA if lora else LIGER_RECOMPUTE_FULL
    return _apply(saved, shape, adapted), _apply(recompute, shape, adapted)


def fused_ce_chunk_rows(rows: int, shape: ModelShape) -> int:
    """ops/fused_linear_cross_entropy.py fused_linear_cross_entropy_forward: rows per chunk,
    next_power_of_2(cdiv(BT, cdiv(V, H))), so that a chunk's logits are about BT x H."""
    inc_factor = -(-shape.vocab_size // shape.hidden_size)
    want = -(-max(rows, 1) // inc_factor)
    return 1 << (want - 1).bit_length()


def fused_ce_bytes(shape: ModelShape, rows: int, *, copy_kept: bool, lm_head_trains: bool,
                   weight_dtype: str = "bfloat16") -> int:  # fmt: skip
    """Bytes alive during LigerFusedLinearCrossEntropyFunction.forward over `rows` kept tokens
    (batch x logits tokens), bf16 autocast.

    fused_linear_cross_entropy_forward allocates grad_input = zeros_like(_input) (rows x H,
    bf16, saved for backward), loss_1d = zeros(BT) fp32, grad_weight = zeros_like(weight) when
    the lm_head trains (full fine-tuning; kept until backward), and per chunk the logits
    `_input_chunk @ weight.t()` (chunk x V in the autocast dtype; the cross-entropy kernel writes
    their gradient in place) and `grad_logits_chunk @ weight` (chunk x H) before copying it into
    grad_input. lce_forward's input is hidden_states[:, logits_to_keep, :]: with swift's
    logits_to_keep a gathered copy (batch 1: a boolean mask) or a contiguous one
    (trainers/arguments.py _patch_liger_kernel: hidden_states.contiguous()), rows x H.
    """
    h, v = shape.hidden_size, shape.vocab_size
    act = 2  # bf16 autocast, as the rest of activations.py
    per_row = h * act + 4 + (h * act if copy_kept else 0)
    chunk = min(fused_ce_chunk_rows(rows, shape), max(rows, 1))
    grad_weight = v * h * DTYPE_BYTES.get(weight_dtype, 2) if lm_head_trains else 0
    return rows * per_row + chunk * (v + h) * act + grad_weight
