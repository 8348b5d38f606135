"""liger-kernel's patches for a FakeTensorMode trace: the same tensors allocated, saved and freed.

liger-kernel's ops are Triton kernels (no CPU path, not installed here), but their memory is
decided by the Python around them: what each autograd.Function allocates with torch.empty /
zeros_like, what it saves for backward and what its backward writes in place. Under fake
tensors the values do not matter, so each Function below allocates exactly what liger's does
and computes nothing. Source: linkedin/Liger-Kernel v0.5.10 (2025-05-22, the release beside
ms-swift 3.5's examples); the same allocations in v0.7.0 and v0.8.2 (the Triton default path;
mean/sum reduction) for these four ops:

- ops/rms_norm.py LigerRMSNormFunction: Y = empty like X, RSTD = empty(rows) fp32, saves
  (X, W, RSTD); backward writes dX into dY (in_place=True, _patch_rms_norm_module's default)
  and sums a (sm_count, h) fp32 dW.
- ops/swiglu.py LigerSiLUMulFunction: c = empty_like(a), saves (a, b); backward writes the
  gradients into a and b and returns them (no new tensors).
- ops/rope.py LigerRopeFunction: rotates q and k in place (their physical layout is already
  contiguous after transpose(1, 2)), saves (cos, sin).
- ops/fused_linear_cross_entropy.py: grad_input = zeros_like(input) (and grad_weight =
  zeros_like(weight) when the lm_head trains), loss_1d fp32 (BT,), then per chunk of
  next_power_of_2(ceil(BT / ceil(V / H))) rows a (chunk, V) logits block; saves grad_input
  (and grad_weight) for backward, which scales them in place.

apply(model) patches an instance the way transformers' Trainer does with use_liger_kernel
(integrations/liger.py apply_liger_kernel -> _apply_liger_kernel_to_instance ->
apply_liger_kernel_to_qwen3(model=...) and its qwen2/llama siblings): the final norm and each
decoder layer's input/post-attention RMSNorm, each MLP's forward, the module-level
apply_rotary_pos_emb, and the causal LM's forward (lce_forward: fused loss on the kept hidden
states, no logits in training). Qwen3's q_norm/k_norm instances are left as they are, as
liger leaves them. Not re-created: swift's batch-1 logits_to_keep is a boolean mask, whose
hidden_states[:, mask, :] is a gathered copy (trace_memory.py passes the integer form); liger.py
fused_ce_bytes counts it.
"""

from __future__ import annotations

import contextlib
import math
import types

SM_COUNT = 132  # H100/H200: rms_norm_backward's _dW rows (torch.cuda.get_device_properties)


def _functions():
    import torch

    class RMSNorm(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            x2 = x.contiguous().view(-1, x.shape[-1])
            y = torch.empty_like(x2)
            rstd = torch.empty(x2.shape[0], dtype=torch.float32, device=x.device)
            ctx.save_for_backward(x2, w, rstd)
            return y.view(x.shape)

        @staticmethod
        def backward(ctx, dy):
            x2, w, _ = ctx.saved_tensors
            dw_rows = torch.empty((SM_COUNT, x2.shape[-1]), dtype=torch.float32, device=w.device)
            return dy, dw_rows.sum(0).to(w.dtype)  # dX written into dY

    class SiLUMul(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            a, b = a.contiguous(), b.contiguous()
            ctx.save_for_backward(a, b)
            return torch.empty_like(a)

        @staticmethod
        def backward(ctx, dc):
            a, b = ctx.saved_tensors
            return a, b  # swiglu_backward writes da, db into a, b

    class Rope(torch.autograd.Function):
        @staticmethod
        def forward(ctx, q, k, cos, sin):
            # rope_forward: transpose(1, 2).contiguous() (no copy for HF's q/k), rotate in
            # place, return the transposes: views of the inputs, as liger returns them.
            q = q.transpose(1, 2).contiguous().transpose(1, 2)
            k = k.transpose(1, 2).contiguous().transpose(1, 2)
            ctx.save_for_backward(cos, sin)
            return q, k

        @staticmethod
        def backward(ctx, dq, dk):
            return dq.transpose(1, 2).contiguous().transpose(1, 2), \
                dk.transpose(1, 2).contiguous().transpose(1, 2), None, None  # fmt: skip

    class FusedLinearCrossEntropy(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight, target):
            bt, h = x.shape
            v = weight.shape[0]
            chunk = 2 ** math.ceil(math.log2(max(1, -(-bt // -(-v // h)))))
            grad_weight = torch.zeros_like(weight) if weight.requires_grad else None
            grad_input = torch.zeros_like(x)
            loss_1d = torch.zeros(bt, dtype=torch.float32, device=x.device)
            for start in range(0, bt, chunk):
                rows = x[start : start + chunk]
                logits = rows @ weight.t()  # (chunk, V), the autocast dtype
                grad_input[start : start + chunk] = logits @ weight
                del logits
            ctx.save_for_backward(grad_input.detach(), None if grad_weight is None
                                  else grad_weight.detach())  # fmt: skip
            return loss_1d.sum() / max(bt, 1)

        @staticmethod
        def backward(ctx, grad_output):
            grad_input, grad_weight = ctx.saved_tensors
            return grad_input, grad_weight, None  # scaled in place (element_mul_kernel)

    return RMSNorm, SiLUMul, Rope, FusedLinearCrossEntropy


def _lce_forward(flce):
    """liger_kernel/transformers/model/qwen3.py lce_forward (qwen2.py, llama.py alike)."""
    import torch

    def forward(self, input_ids=None, attention_mask=None, labels=None, logits_to_keep=0,
                **kwargs):  # fmt: skip
        outputs = self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        hidden = outputs[0]
        keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        kept = hidden[:, keep, :]
        # loss_utils.py LigerForCausalLMLoss: labels padded by one and shifted, hidden flattened
        shift = torch.nn.functional.pad(labels, (0, 1), value=-100)[..., 1:].contiguous()
        h = self.config.hidden_size
        loss = flce.apply(kept.reshape(-1, h), self.lm_head.weight, shift.view(-1))
        from transformers.modeling_outputs import CausalLMOutputWithPast

        return CausalLMOutputWithPast(loss=loss, logits=None)

    return forward


@contextlib.contextmanager
def apply(model):
    """Patch `model` (a PEFT model or a transformers causal LM) as use_liger_kernel does."""
    import importlib

    rms, silu_mul, rope, flce = _functions()
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = getattr(base, base.base_model_prefix)

    def norm_forward(self, hidden_states):
        return rms.apply(hidden_states, self.weight)

    def mlp_forward(self, x):
        return self.down_proj(silu_mul.apply(self.gate_proj(x), self.up_proj(x)))

    def rotary(q, k, cos, sin, position_ids=None, unsqueeze_dim=1):
        return rope.apply(q, k, cos, sin)

    for norm in [inner.norm] + [
        m for layer in inner.layers for m in (layer.input_layernorm, layer.post_attention_layernorm)
    ]:
        norm.forward = types.MethodType(norm_forward, norm)  # fmt: skip
    for layer in inner.layers:
        layer.mlp.forward = types.MethodType(mlp_forward, layer.mlp)
    base.forward = types.MethodType(_lce_forward(flce), base)
    modules = [importlib.import_module(f"transformers.models.{m}.modeling_{m}")
               for m in ("qwen2", "qwen3", "llama")]  # fmt: skip
    saved = [m.apply_rotary_pos_emb for m in modules]
    for m in modules:
        m.apply_rotary_pos_emb = rotary
    try:
        yield model
    finally:
        for m, fn in zip(modules, saved, strict=True):
            m.apply_rotary_pos_emb = fn
