"""What PyTorch's CUDA caching allocator adds on top of the allocated peak over a whole run.

swift logs `memory(GiB)` as torch.cuda.max_memory_reserved over the run so far
(swift/trainers/callback.py add_train_message): the bytes the caching allocator holds from
cudaMalloc, not the bytes tensors occupy. The allocator never returns a segment to the driver
unless a cudaMalloc fails, so rows of different lengths leave segments behind that the next,
longer row cannot use. This module replays the allocator's rules
(c10/cuda/CUDACachingAllocator.cpp, PyTorch 2.x) on the large blocks one micro-step allocates
and frees, over a run whose rows grow up to the longest one:

- sizes round up to 512 bytes (kMinBlockSize);
- requests up to 1 MiB come from 2 MiB segments (kSmallBuffer); up to 10 MiB from 20 MiB
  segments (kLargeBuffer); larger ones get a segment of their size rounded up to 2 MiB;
- a request takes the smallest free block of its pool that fits (best fit), splitting it when
  more than 1 MiB (small pool: 512 bytes) is left; a freed block merges with free neighbours of
  its own segment, never across segments; no segment is released (no empty_cache).

The micro-step's blocks come from micro_step_blocks() below: a sketch of the large tensors
(layer inputs kept for checkpointing, one layer's recompute and gradients, the logits and loss
chain) in the order a Qwen2/Llama step makes them. Replays are random (the order of rows) and
take tenths of a second, so the plan does not replay: it reads the growth, as a multiple of the
longest micro-step's dynamic bytes, from tables the replays produced (growth.py, by
the rows' spread). Pure Python, no torch.
"""

from __future__ import annotations

import bisect
import random

MIB = 1024**2
_MIN_BLOCK = 512
_SMALL_SIZE = 1 * MIB
_SMALL_BUFFER = 2 * MIB
_LARGE_BUFFER = 20 * MIB
_MIN_LARGE_ALLOC = 10 * MIB
_ROUND_LARGE = 2 * MIB
# cuBLAS keeps a workspace per handle, allocated through the caching allocator
# (aten/src/ATen/cuda/CublasHandlePool.cpp getChosenWorkspaceSize: 4096 KiB x 2 + 16 KiB x 8,
# 32 MiB on Hopper); the forward stream and autograd's backward thread each have a handle, and
# cuBLASLt shares it (TORCH_CUBLASLT_WORKSPACE_SIZE). cuDNN is not used by these models'
# matmuls or by SDPA's flash/efficient kernels.
CUBLAS_WORKSPACE_BYTES = 2 * 32 * MIB
# The layer inputs kept for checkpointing are replayed as 8 groups: same bytes, same size class
# for long rows.
_KEPT_GROUPS = 8


class _Block:
    __slots__ = ("free", "next", "off", "pool", "prev", "seg", "size")

    def __init__(self, seg, off, size, pool):
        self.seg, self.off, self.size, self.pool = seg, off, size, pool
        self.prev = self.next = None
        self.free = False

    def key(self):
        return (self.size, self.seg, self.off)


class CachingAllocator:
    """The bookkeeping of CUDACachingAllocator for one device and one stream, in bytes."""

    def __init__(self) -> None:
        self._free: dict[bool, list] = {True: [], False: []}  # small pool?, sorted (key, block)
        self._live: dict[object, _Block] = {}
        self._segments = 0
        self._segment_size: dict[int, int] = {}
        self._segment_live: dict[int, int] = {}
        self.allocated = self.reserved = self.peak_allocated = self.peak_reserved = 0
        # Segments holding at least one live block: what release_cached_blocks cannot free.
        self.pinned = self.peak_pinned = 0

    def malloc(self, name: object, size: int) -> None:
        size = max(_MIN_BLOCK, -(-size // _MIN_BLOCK) * _MIN_BLOCK)
        small = size <= _SMALL_SIZE
        pool = self._free[small]
        i = bisect.bisect_left(pool, ((size, -1, -1),))
        if i < len(pool):
            block = pool.pop(i)[1]
        else:
            if small:
                segment = _SMALL_BUFFER
            elif size < _MIN_LARGE_ALLOC:
                segment = _LARGE_BUFFER
            else:
                segment = -(-size // _ROUND_LARGE) * _ROUND_LARGE
            self._segments += 1
            block = _Block(self._segments, 0, segment, small)
            self._segment_size[block.seg], self._segment_live[block.seg] = segment, 0
            self.reserved += segment
        rest = block.size - size
        if rest >= _MIN_BLOCK if small else rest > _SMALL_SIZE:
            tail = _Block(block.seg, block.off + size, rest, small)
            tail.free, tail.prev, tail.next = True, block, block.next
            if block.next is not None:
                block.next.prev = tail
            block.next, block.size = tail, size
            bisect.insort(pool, (tail.key(), tail))
        block.free = False
        self._live[name] = block
        self._segment_live[block.seg] += 1
        if self._segment_live[block.seg] == 1:
            self.pinned += self._segment_size[block.seg]
        self.allocated += block.size
        self.peak_allocated = max(self.peak_allocated, self.allocated)
        self.peak_reserved = max(self.peak_reserved, self.reserved)
        self.peak_pinned = max(self.peak_pinned, self.pinned)

    def free(self, name: object) -> None:
        block = self._live.pop(name)
        self.allocated -= block.size
        self._segment_live[block.seg] -= 1
        if self._segment_live[block.seg] == 0:
            self.pinned -= self._segment_size[block.seg]
        block.free = True
        pool = self._free[block.pool]
        for side in ("prev", "next"):
            other = getattr(block, side)
            if other is None or not other.free:
                continue
            pool.pop(bisect.bisect_left(pool, (other.key(),)))
            first, second = (other, block) if side == "prev" else (block, other)
            first.size += second.size
            first.next = second.next
            if second.next is not None:
                second.next.prev = first
            block = first
        bisect.insort(pool, (block.key(), block))


def micro_step_blocks(
    widths: tuple, tokens: int, label_tokens: int, *, checkpointing: bool, liger: bool = False
):
    """The large allocations and frees of one micro-step, in order: [("a", name, bytes) |
    ("f", name, 0)].

    widths: (hidden, q, kv, intermediate, vocab, layers, lora_inputs, lora_outputs) where the
    last two are the adapted linears' (input, output) widths (empty for full fine-tuning).
    Sketch of one Qwen2/Llama micro-step under bf16 autocast: the checkpointed layer inputs,
    transformers' ForCausalLMLoss chain (bf16 logits, fp32 copy, log-softmax kept for backward,
    accelerate's fp32 copy of the outputs), its backward (nll and log-softmax gradients), then
    per layer the recomputed forward (RMSNorm in fp32, projections, rotary, SDPA, SwiGLU, the
    PEFT adapter path: bf16 input kept, dropout mask) and its gradients. liger=True: liger-kernel's
    layer ops and fused linear cross-entropy instead (_liger_loss_ops).
    """
    h, q, kv, inter, vocab, layers, lora_in, lora_out = widths
    s, n = tokens, label_tokens
    ops: list = []
    groups = min(layers, _KEPT_GROUPS) if checkpointing else 0
    per_group = -(-layers // max(groups, 1))
    layer = [(h, 4), (h, 2), (q, 2), (kv, 2), (kv, 2), (q, 2), (kv, 2), (q, 2), (h, 2), (h, 4),
             (h, 2), (inter, 2), (inter, 2), (inter, 2), (inter, 2), (h, 2)]  # fmt: skip
    grads = [(inter, 2), (inter, 2), (inter, 4), (h, 2), (h, 4), (q, 2)]
    if liger:
        layer = [(h, 2), (q, 2), (kv, 2), (kv, 2), (q, 2), (h, 2), (h, 2), (h, 2), (inter, 2),
                 (inter, 2), (inter, 2), (h, 2)]  # fmt: skip
        grads = [(inter, 2), (h, 2), (q, 2), (kv, 2)]
    layer += [(w, 1) for w in lora_in] + [(w, 2) for w in lora_in] + [(w, 2) for w in lora_out]
    for i in range(groups):
        ops.append(("a", ("in", i), per_group * s * h * 2))
    saved_layers = 1 if checkpointing else min(layers, 2)  # same sizes: the rest reuse them
    if not checkpointing:
        for i in range(saved_layers):
            ops += [("a", ("act", i, j), s * w * b) for j, (w, b) in enumerate(layer)]
    if liger:
        ops += _liger_loss_ops(h, vocab, s, n)
    else:
        ops += [("a", "hidden", s * h * 2), ("a", "kept", n * h * 2)]
        ops += [("a", "logits16", n * vocab * 2), ("a", "logits32", n * vocab * 4)]
        ops += [("a", "logsoftmax", n * vocab * 4), ("f", "logits32", 0)]
        ops += [("a", "outputs32", n * vocab * 4), ("f", "logits16", 0), ("f", "outputs32", 0)]
        ops += [("a", "g_nll", n * vocab * 4), ("a", "g_lsm", n * vocab * 4), ("f", "g_nll", 0)]
        ops += [("f", "logsoftmax", 0), ("a", "g_logits16", n * vocab * 2), ("f", "g_lsm", 0)]
        ops += [("a", "g_kept", n * h * 2), ("f", "g_logits16", 0), ("f", "kept", 0)]
        ops += [("a", "g_hidden", s * h * 2), ("f", "g_kept", 0), ("f", "hidden", 0)]
    for i in reversed(range(saved_layers)):
        if checkpointing:
            ops += [("a", ("act", i, j), s * w * b) for j, (w, b) in enumerate(layer)]
        ops += [("a", ("grad", i, j), s * w * b) for j, (w, b) in enumerate(grads)]
        ops += [("f", ("grad", i, j), 0) for j in range(len(grads))]
        ops += [("f", ("act", i, j), 0) for j in range(len(layer))]
    for i in range(groups):
        ops.append(("f", ("in", i), 0))
    ops.append(("f", "g_hidden", 0))
    return ops


def _liger_loss_ops(h: int, vocab: int, s: int, n: int) -> list:
    """liger-kernel's fused linear cross-entropy (ops/fused_linear_cross_entropy.py
    fused_linear_cross_entropy_forward, v0.5.10): the kept hidden states copied, grad_input and
    the fp32 loss_1d allocated, then per chunk of next_power_of_2(cdiv(n, cdiv(V, H))) rows a
    bf16 logits block and its grad_input product; backward scatters grad_input into the hidden
    states' gradient. No full-vocabulary tensor. (The layer blocks with liger: rms_norm.py keeps
    X and a bf16 Y, no fp32 copy; rope.py rotates in place; swiglu.py keeps gate, up and one
    output; their backwards write dX into dY and da, db into gate, up; rope_backward copies dq, dk
    to the physical layout.)"""
    inc = -(-vocab // h)
    chunk = min(1 << (-(-n // inc) - 1).bit_length(), n)
    ops = [("a", "hidden", s * h * 2), ("a", "kept", n * h * 2), ("a", "g_in", n * h * 2)]
    ops.append(("a", "loss_1d", n * 4))
    for _ in range(-(-n // chunk)):
        ops += [("a", "chunk", chunk * vocab * 2), ("a", "g_chunk", chunk * h * 2)]
        ops += [("f", "g_chunk", 0), ("f", "chunk", 0)]
    ops += [("f", "kept", 0), ("a", "g_hidden", s * h * 2), ("f", "g_in", 0)]
    return [*ops, ("f", "loss_1d", 0), ("f", "hidden", 0)]


def _replay(alloc: CachingAllocator, ops) -> None:
    for kind, name, size in ops:
        if kind == "a":
            alloc.malloc(name, size)
        else:
            alloc.free(name)


def _lengths(longest: int, typical: int, steps: int, seed: int) -> list[int]:
    """Row lengths for `steps` micro-steps: a gamma spread (shape 2, a right-skewed chat-data
    spread) with mean `typical`, capped at `longest`, the longest row last."""
    rng = random.Random(seed)
    mean = max(1, min(typical, longest))
    rows = [min(longest, max(1, int(rng.gammavariate(2.0, mean / 2.0)))) for _ in range(steps)]
    return [*rows[:-1], longest]


def simulate_growth(
    widths: tuple,
    longest: int,
    typical: int,
    label_share: float,
    *,
    steps: int = 96,
    seed: int = 0,
    checkpointing: bool = True,
    liger: bool = False,
) -> tuple[float, float]:
    """Replay `steps` micro-steps of rows spread around `typical` (the longest last); liger:
    the micro-step with liger-kernel's layer ops and fused cross-entropy.

    Returns (growth, pinned growth), each over the dynamic blocks' peak allocated: growth is
    (peak reserved - peak allocated), what max_memory_reserved shows on a card with room to
    spare; pinned growth is (peak of the segments holding a live block - peak allocated), what
    stays when memory runs short: CUDACachingAllocator::malloc, when cudaMalloc fails, frees
    every cached segment with no live block (release_available_cached_blocks, then
    release_cached_blocks) and retries before it raises out-of-memory."""
    alloc = CachingAllocator()
    for tokens in _lengths(longest, typical, steps, seed):
        labels = max(1, int(tokens * label_share))
        _replay(alloc, micro_step_blocks(widths, tokens, labels, checkpointing=checkpointing,
                                         liger=liger))  # fmt: skip
    peak = max(alloc.peak_allocated, 1)
    return ((alloc.peak_reserved - alloc.peak_allocated) / peak,
            (alloc.peak_pinned - alloc.peak_allocated) / peak)  # fmt: skip
