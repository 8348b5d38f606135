"""ZeRO-Offload in the memory estimate: what moves from GPU memory to CPU RAM.

swift's presets (swift/config/zero2_offload.json, zero3_offload.json) set
zero_optimization.offload_optimizer.device to cpu, and zero3_offload also offload_param;
recipe/deepspeed.py names a JSON config's settings the same way (zero3_offload_optimizer,
zero3_offload_param for the mixed cases). With offload_optimizer, DeepSpeed keeps the fp32
master weights, Adam m and v and the fp32 gradient partition in (pinned) CPU RAM and runs the
optimizer step there; the GPU keeps one reduce bucket of gradients. With offload_param under
ZeRO-3 the parameter partition lives in CPU RAM too and the GPU holds the layers gathered for
the current computation.
"""

from __future__ import annotations

# reduce_bucket_size in swift's zero2 presets (2e8 elements); zero3 says "auto", which
# transformers sets to hidden_size^2, smaller: 2e8 is the upper bound.
REDUCE_BUCKET_ELEMENTS = int(2e8)


def offloads(deepspeed: str | None, stage: int) -> tuple[bool, bool]:
    """(optimizer states offloaded, parameters offloaded) for a preset-style name."""
    text = (deepspeed or "").lower()
    if stage < 0 or "offload" not in text:
        return False, False
    return "offload_param" not in text, stage >= 3 and "offload_optimizer" not in text


def apply_offload(
    deepspeed: str | None,
    stage: int,
    dtype_bytes: int,
    full_grads_bytes: int,
    frozen: int,
    params_b: int,
    grads_b: int,
    opt_b: int,
) -> tuple[int, int, int, int, int]:
    """(frozen, trainable params, gradients, optimizer states, CPU RAM) bytes per process, after
    moving what the config offloads to CPU RAM. `stage` is the ZeRO stage (-1: no DeepSpeed);
    the inputs are the GPU figures without offload."""
    offload_opt, offload_params = offloads(deepspeed, stage)
    cpu = 0
    if offload_opt:
        cpu += opt_b
        opt_b = 0
        grads_b = min(full_grads_bytes, REDUCE_BUCKET_ELEMENTS * dtype_bytes)
    if offload_params:
        cpu += frozen + params_b
        frozen, params_b = 0, 0
    return frozen, params_b, grads_b, opt_b, cpu
