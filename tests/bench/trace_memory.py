"""Trace one real training step under FakeTensorMode and compare it with swiftkit's estimate.

The step is built the way ms-swift 4.6 builds it on one GPU: the transformers architecture
from config (random weights, nothing downloaded), PEFT LoRA on the linear layers with adapters
upcast to fp32 (swift leaves lora_dtype unset), gradient checkpointing per decoder layer with
use_reentrant=True plus enable_input_require_grads(), accelerate's bf16 autocast around forward
and its fp32 conversion of the outputs, the HF causal-LM loss (on the labelled span only when
a case sets label_tokens, as swift's logits_to_keep does), backward, clip_grad_norm_ 1.0 and
a fused AdamW step. gpu_faithful() makes the fake CPU step take CUDA's code paths (dropout
through native_dropout, no materialised causal mask, GQA inside SDPA). Optimizer states exist
before the traced step and, when gradient accumulation is on (swift's default), so do the
gradients: that is the steady-state micro-step.

MemTracker counts live tensor storages: it matches torch.cuda.max_memory_allocated, not the
caching allocator's reserve or the CUDA context (those are modelled in swiftkit/memory/).

    python tests/bench/trace_memory.py            # the matrix, a table, JSON in results/
    python tests/bench/trace_memory.py --quick    # one small configuration (used by a test)
    python tests/bench/trace_memory.py --fit-layers   # refit memory.py's layer coefficients
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import liger_fake

from swiftkit.memory.estimate import ALL_LINEAR, MemoryConfig, estimate_memory
from swiftkit.memory.models import ModelShape, resolve_model_shape

RESULTS = Path(__file__).with_name("results")
DTYPES = {"bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16"}


@dataclass(frozen=True)
class Case:
    name: str
    model: str
    cfg: MemoryConfig
    fitted: bool  # used to fit the estimator's coefficients (False: held out for checking)


def _cfg(**kw) -> MemoryConfig:
    return MemoryConfig(**kw)


# A small stand-in model for the quick check: Qwen2 layout, few layers, real Qwen vocab.
TINY = ModelShape(
    model_id="tiny-qwen2", source="bench", hidden_size=512, intermediate_size=1536, num_layers=4,
    num_heads=8, num_kv_heads=2, head_dim=64, vocab_size=151936, tie_word_embeddings=True,
    qkv_bias=True, max_position_embeddings=32768,
)  # fmt: skip

# A small-vocabulary model: no logits to dominate, so the layer backward is the peak.
SMALL_VOCAB = ModelShape(
    model_id="small-vocab-llama", source="bench", hidden_size=1024, intermediate_size=4096,
    num_layers=8, num_heads=16, num_kv_heads=4, head_dim=64, vocab_size=4096,
    tie_word_embeddings=False, qkv_bias=False, max_position_embeddings=8192, model_type="llama",
)  # fmt: skip

CASES = [
    Case("0.5B lora s1024", "Qwen/Qwen2.5-0.5B-Instruct", _cfg(seq_len_tokens=1024), True),
    Case("0.5B lora nogc s1024", "Qwen/Qwen2.5-0.5B-Instruct",
         _cfg(seq_len_tokens=1024, gradient_checkpointing=False), True),
    Case("0.5B full s1024", "Qwen/Qwen2.5-0.5B-Instruct",
         _cfg(tuner_type="full", seq_len_tokens=1024), True),
    Case("0.5B full nogc b2 s512", "Qwen/Qwen2.5-0.5B-Instruct",
         _cfg(tuner_type="full", seq_len_tokens=512, batch_size=2, gradient_checkpointing=False),
         True),
    Case("1.5B lora r16 b2 s1024", "Qwen/Qwen2.5-1.5B-Instruct",
         _cfg(seq_len_tokens=1024, batch_size=2, lora_rank=16), True),
    Case("1.5B lora nogc s2048", "Qwen/Qwen2.5-1.5B-Instruct",
         _cfg(seq_len_tokens=2048, gradient_checkpointing=False), False),
    Case("0.5B lora qv s4096", "Qwen/Qwen2.5-0.5B-Instruct",
         _cfg(seq_len_tokens=4096, target_modules=("q_proj", "v_proj")), False),
    Case("1B llama full s2048", "meta-llama/Llama-3.2-1B-Instruct",
         _cfg(tuner_type="full", seq_len_tokens=2048), False),
    Case("0.6B qwen3 lora b4 s512", "Qwen/Qwen3-0.6B",
         _cfg(seq_len_tokens=512, batch_size=4), False),
    Case("3B lora nogc s1024", "Qwen/Qwen2.5-3B-Instruct",
         _cfg(seq_len_tokens=1024, gradient_checkpointing=False), False),
    Case("7B lora s2048", "Qwen/Qwen2.5-7B-Instruct", _cfg(seq_len_tokens=2048), False),
    Case("7B lora s64", "Qwen/Qwen2.5-7B-Instruct", _cfg(seq_len_tokens=64), False),
    Case("small-vocab lora s2048", "small-vocab-llama", _cfg(seq_len_tokens=2048), False),
    Case("small-vocab full nogc s2048", "small-vocab-llama",
         _cfg(tuner_type="full", seq_len_tokens=2048, gradient_checkpointing=False), False),
    Case("7B lora s2048 labels 256", "Qwen/Qwen2.5-7B-Instruct",
         _cfg(seq_len_tokens=2048, label_tokens=256), False),
    # liger-kernel (liger_fake.py), held out: the per-layer savings were fitted on 256-512 widths
    Case("0.5B lora liger s1024", "Qwen/Qwen2.5-0.5B-Instruct",
         _cfg(seq_len_tokens=1024, use_liger_kernel=True), False),
    Case("0.5B lora nogc liger s1024", "Qwen/Qwen2.5-0.5B-Instruct",
         _cfg(seq_len_tokens=1024, gradient_checkpointing=False, use_liger_kernel=True), False),
    Case("0.6B qwen3 full liger s1024", "Qwen/Qwen3-0.6B",
         _cfg(tuner_type="full", seq_len_tokens=1024, use_liger_kernel=True), False),
    Case("small-vocab lora liger s2048", "small-vocab-llama",
         _cfg(seq_len_tokens=2048, use_liger_kernel=True), False),
    Case("small-vocab full nogc liger s2048", "small-vocab-llama",
         _cfg(tuner_type="full", seq_len_tokens=2048, gradient_checkpointing=False,
              use_liger_kernel=True), False),
    Case("1.5B lora liger s2048 labels 1800", "Qwen/Qwen2.5-1.5B-Instruct",
         _cfg(seq_len_tokens=2048, label_tokens=1800, use_liger_kernel=True), False),
]  # fmt: skip
QUICK = Case("tiny lora s256", "tiny-qwen2", _cfg(seq_len_tokens=256), False)


def hf_config(shape: ModelShape):
    """A transformers config with the shape's values (Qwen2, Qwen3 or Llama layout)."""
    import transformers

    common = dict(
        hidden_size=shape.hidden_size, intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_layers, num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_kv_heads, vocab_size=shape.vocab_size,
        tie_word_embeddings=shape.tie_word_embeddings,
        max_position_embeddings=shape.max_position_embeddings, use_cache=False,
    )  # fmt: skip
    if shape.model_type == "qwen3":
        config = transformers.Qwen3Config(head_dim=shape.head_dim, **common)
    elif shape.model_type == "qwen2":
        config = transformers.Qwen2Config(**common)
    else:
        config = transformers.LlamaConfig(
            head_dim=shape.head_dim, attention_bias=shape.qkv_bias, **common
        )
    config._attn_implementation = "sdpa"
    return config


def _materialize(model) -> None:
    """Meta parameters and buffers -> fake CPU ones, keeping tied weights tied.

    (Module.to_empty cannot swap in fake tensors here: transformers holds weakrefs to them.)
    """
    import torch

    done: dict[int, torch.Tensor] = {}
    for module in model.modules():
        for table, wrap in ((module._parameters, True), (module._buffers, False)):
            for name, t in table.items():
                if t is None:
                    continue
                if id(t) not in done:
                    new = torch.empty_like(t, device="cpu")
                    done[id(t)] = torch.nn.Parameter(new, t.requires_grad) if wrap else new
                table[name] = done[id(t)]


@contextlib.contextmanager
def _replacing_moves():
    """Module.to() that replaces parameters instead of swapping them.

    PEFT moves each new adapter to its base layer's device and dtype; for fake tensors torch
    swaps the parameters in place, which fails while anything holds a weakref to them.
    """
    import torch

    original = torch.nn.Module.to

    def to(self, *args, **kwargs):
        device, dtype, _, _ = torch._C._nn._parse_to(*args, **kwargs)
        for module in self.modules():
            for table, wrap in ((module._parameters, True), (module._buffers, False)):
                for name, t in table.items():
                    if t is None:
                        continue
                    cast = dtype if dtype is not None and t.is_floating_point() else t.dtype
                    if t.dtype == cast and (device is None or t.device == device):
                        continue
                    with torch.no_grad():
                        new = t.to(device=device or t.device, dtype=cast)
                    table[name] = torch.nn.Parameter(new, t.requires_grad) if wrap else new
        return self

    torch.nn.Module.to = to
    try:
        yield
    finally:
        torch.nn.Module.to = original


@contextlib.contextmanager
def gpu_faithful():
    """Make the fake CPU step take the code paths a CUDA step takes.

    - Dropout: ATen's `dropout` (aten/src/ATen/native/Dropout.cpp) calls `native_dropout` only
      when `is_fused_kernel_acceptable` (CUDA tensors); on CPU it multiplies by a noise tensor of
      the input's dtype (4 bytes per element for PEFT's fp32 adapter input) and keeps that noise
      for backward, where CUDA keeps a 1-byte bool mask. Route it through `native_dropout`.
    - Causal mask: transformers' `find_packed_sequence_indices` (masking_utils.py) treats every
      FakeTensor as "tracing", assumes packed sequences and materialises a [b, 1, s, s] mask, which
      also stops `use_gqa_in_sdpa` and repeats the KV heads. Real unpadded, unpacked batches get
      no mask (is_causal) and GQA inside SDPA: return None as it does on real data.
    """
    import torch
    import transformers.masking_utils as masking

    original_dropout = torch.nn.functional.dropout
    original_find = masking.find_packed_sequence_indices

    def dropout(input, p=0.5, training=True, inplace=False):
        if not training or p == 0:
            return input
        return torch.native_dropout(input, p, True)[0]

    torch.nn.functional.dropout = dropout
    masking.find_packed_sequence_indices = lambda position_ids: None
    try:
        yield
    finally:
        torch.nn.functional.dropout = original_dropout
        masking.find_packed_sequence_indices = original_find


def build_step(shape: ModelShape, cfg: MemoryConfig, *, grads_exist: bool):
    """Model, optimizer and one-step closure, all fake tensors. Call inside FakeTensorMode."""
    import torch
    import transformers
    from accelerate.utils.operations import convert_to_fp32

    dtype = getattr(torch, DTYPES.get(cfg.torch_dtype, cfg.torch_dtype))
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(hf_config(shape), dtype=dtype)
    _materialize(model)
    if cfg.tuner_type == "lora":
        import peft

        model.requires_grad_(False)
        lora = peft.LoraConfig(
            task_type="CAUSAL_LM", r=cfg.lora_rank, lora_alpha=32,
            lora_dropout=cfg.lora_dropout, target_modules=list(cfg.target_modules),
        )  # fmt: skip
        with _replacing_moves():
            model = peft.get_peft_model(model, lora)  # autocast_adapter_dtype: adapters fp32
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
        model.enable_input_require_grads()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    for p in params:  # create the optimizer states (a real run has them after step 1)
        p.grad = torch.zeros_like(p)
    opt.step()
    if not grads_exist:
        opt.zero_grad(set_to_none=True)
    ids = torch.randint(0, shape.vocab_size, (cfg.batch_size, cfg.seq_len_tokens))
    extra = {}
    labels = ids
    if cfg.label_tokens is not None and cfg.use_logits_to_keep:
        # swift's SwiftMixin.prepare_logits_to_keep (batch > 1 form): logits from the first
        # labelled token on, labels cut to the same span (its first position unlabelled).
        keep = min(cfg.label_tokens, cfg.seq_len_tokens - 1) + 1
        labels = ids[:, -keep:].clone()
        labels[:, 0] = -100
        extra["logits_to_keep"] = keep

    def step() -> None:
        with torch.autocast("cpu", dtype=dtype):
            out = model(input_ids=ids, labels=labels, **extra)
        out = convert_to_fp32(out)  # accelerate's ConvertOutputsToFp32 around forward
        loss = out.loss
        del out
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return model, opt, ids, step


def peak_summary(tracker, seconds: float) -> dict:
    """A MemTracker's peak: total allocated bytes, the parts at that moment, and the time."""
    peak = next(iter(tracker.get_tracker_snapshot("peak").values()))
    return {
        "peak_allocated_bytes": int(peak["Total"]),
        "at_peak": {str(k): int(v) for k, v in peak.items() if k != "Total"},
        "trace_seconds": round(seconds, 1),
    }


def trace(shape: ModelShape, cfg: MemoryConfig, *, grads_exist: bool = True) -> dict:
    """Peak live bytes (and its split) of one training micro-step, traced under fake tensors."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.distributed._tools.mem_tracker import MemTracker, _MemRefType

    class Tracker(MemTracker):
        # MemTracker hooks every parameter's grad; frozen LoRA base weights have none.
        def _track_module_params_and_buffers(self, module, install_grad_hooks=True):
            out = super()._track_module_params_and_buffers(module, install_grad_hooks=False)
            if install_grad_hooks:
                for p in module.parameters():
                    if p.requires_grad and self._param_to_grad_hook_handles.get(p) is None:
                        self._param_to_grad_hook_handles[p] = (
                            p.register_hook(lambda g: self._track_grad(g)),
                            p.register_post_accumulate_grad_hook(
                                lambda q: self._track_grad(q.grad)
                            ),
                        )
            return out

        def _track_grad(self, g):
            self._update_and_maybe_create_winfos(g, _MemRefType.GRAD)

    torch.manual_seed(0)
    with FakeTensorMode(allow_non_fake_inputs=True), gpu_faithful():
        model, opt, ids, step = build_step(shape, cfg, grads_exist=grads_exist)
        tracker = Tracker()
        tracker.track_external(model, opt, ids)
        t0 = time.perf_counter()
        patched = liger_fake.apply(model) if cfg.use_liger_kernel else contextlib.nullcontext()
        with patched, tracker:
            step()
        seconds = time.perf_counter() - t0
    return peak_summary(tracker, seconds)


def shape_for(model: str) -> ModelShape:
    shape = {TINY.model_id: TINY, SMALL_VOCAB.model_id: SMALL_VOCAB}.get(model)
    shape = shape or resolve_model_shape(model)
    if shape is None:
        msg = f"no shape for {model}"
        raise SystemExit(msg)
    return shape


def run_case(case: Case) -> dict:
    """Trace a case; the estimate is added by compare() so coefficients can be refitted."""
    return {
        "name": case.name,
        "model": case.model,
        "fitted": case.fitted,
        "config": asdict(case.cfg),
        "trace": trace(shape_for(case.model), case.cfg),
    }


def compare(row: dict) -> dict:
    """The row with swiftkit's current estimate and the estimate/trace ratio."""
    cfg = MemoryConfig(
        **{**row["config"], "target_modules": tuple(row["config"]["target_modules"])}
    )
    est = estimate_memory(shape_for(row["model"]), cfg)
    return {
        **row,
        "estimate_peak_allocated_bytes": est.peak_allocated_bytes,
        "estimate_breakdown": dict(est.breakdown),
        "ratio": round(est.peak_allocated_bytes / row["trace"]["peak_allocated_bytes"], 4),
    }


def print_table(rows: list[dict], *, header: bool = True) -> None:
    gib = 1024**3
    if header:
        print(f"{'configuration':<26} {'fit':>4} {'trace GiB':>10} {'estimate GiB':>13} ratio")
    for r in rows:
        print(
            f"{r['name']:<26} {'yes' if r['fitted'] else 'no':>4} "
            f"{r['trace']['peak_allocated_bytes'] / gib:>10.3f} "
            f"{r['estimate_peak_allocated_bytes'] / gib:>13.3f} {r['ratio']:>7.3f}"
        )


# --fit-layers: one- and two-layer models with a 128-token vocabulary, so the difference of the
# two peaks is one layer's saved activations plus its parameters (known, subtracted).
_FIT_BASE = ModelShape(
    model_id="fit", source="bench", hidden_size=256, intermediate_size=768, num_layers=1,
    num_heads=4, num_kv_heads=2, head_dim=64, vocab_size=128, tie_word_embeddings=True,
    qkv_bias=True, max_position_embeddings=4096,
)  # fmt: skip
_FIT_VARIANTS = {
    "base": {}, "h512": {"hidden_size": 512, "num_heads": 8}, "I1536": {"intermediate_size": 1536},
    "kv4": {"num_kv_heads": 4}, "q512": {"num_heads": 8},
    "nh8hd32": {"num_heads": 8, "head_dim": 32, "num_kv_heads": 4},
    "llama": {"qkv_bias": False, "model_type": "llama"},
    "qwen3": {"qkv_bias": False, "model_type": "qwen3", "qk_norm": True},
}  # fmt: skip
_FIT_SETTINGS = [("full", ALL_LINEAR, 0.05), ("lora", ALL_LINEAR, 0.05), ("lora", ALL_LINEAR, 0.0),
                 ("lora", ("q_proj", "v_proj"), 0.05),
                 ("lora", ("gate_proj", "up_proj", "down_proj"), 0.0),
                 ("lora", ("o_proj", "k_proj"), 0.0)]  # fmt: skip


def fit_layers(tokens: int = 512) -> None:
    """Trace 1- and 2-layer models, then least-squares the per-layer activation coefficients."""
    import numpy as np

    rows = []
    for name, kw in _FIT_VARIANTS.items():
        for tuner, targets, dropout in _FIT_SETTINGS:
            cfg = MemoryConfig(
                tuner_type=tuner, seq_len_tokens=tokens, gradient_checkpointing=False,
                lora_dropout=dropout, target_modules=targets,
            )  # fmt: skip
            peaks = [trace(replace(_FIT_BASE, num_layers=n, **kw), cfg)["peak_allocated_bytes"]
                     for n in (1, 2)]  # fmt: skip
            shape = replace(_FIT_BASE, **kw)
            est = [estimate_memory(replace(shape, num_layers=n), cfg) for n in (1, 2)]
            fixed = [sum(e.breakdown[k] for k in ("frozen_weights", "trainable_params",
                     "gradients", "optimizer_states")) for e in est]  # fmt: skip
            act = (peaks[1] - peaks[0] - (fixed[1] - fixed[0])) / tokens
            rows.append({
                "variant": name, "tuner": tuner, "targets": targets, "dropout": dropout,
                "layer_activation_bytes_per_token": act, "features": _features(shape, cfg),
            })  # fmt: skip
    (RESULTS / "layer_fit_traces.json").write_text(json.dumps(rows, indent=1) + "\n")
    for tuner in ("full", "lora"):
        sel = [r for r in rows if r["tuner"] == tuner]
        x = np.array([r["features"] for r in sel], float)
        y = np.array([r["layer_activation_bytes_per_token"] for r in sel])
        keep = x.any(axis=0)
        coef = np.linalg.lstsq(x[:, keep], y, rcond=None)[0]
        names = [n for n, k in zip(_FEATURES, keep, strict=True) if k]
        worst = np.max(np.abs(x[:, keep] @ coef / y - 1))
        print(tuner, dict(zip(names, np.round(coef, 3).tolist(), strict=True)),
              f"worst residual {worst:.1%}")  # fmt: skip


_LIGER_SETTINGS = [("full", ALL_LINEAR, 0.05), ("lora", ALL_LINEAR, 0.05),
                   ("lora", ("q_proj", "v_proj"), 0.05),
                   ("lora", ("gate_proj", "up_proj", "down_proj"), 0.0)]  # fmt: skip


def fit_liger(tokens: int = 512) -> None:
    """Trace 1- and 2-layer models with and without liger-kernel's patches (liger_fake.py) and
    least-squares, per token, on the layer widths: what liger takes off one layer's saved
    activations (checkpointing off: the 2-layer minus 1-layer peak, the same weights cancel) and
    off the recomputed layer's backward peak (checkpointing on, 1 layer). activations.py
    LIGER_SAVED_* and LIGER_RECOMPUTE_*."""
    rows = []
    for name, kw in _FIT_VARIANTS.items():
        shape = replace(_FIT_BASE, **kw)
        for tuner, targets, dropout in _LIGER_SETTINGS:
            row = {"variant": name, "tuner": tuner, "targets": targets, "dropout": dropout}
            for liger in (False, True):
                cfg = MemoryConfig(
                    tuner_type=tuner, seq_len_tokens=tokens, gradient_checkpointing=False,
                    lora_dropout=dropout, target_modules=targets, use_liger_kernel=liger,
                )  # fmt: skip
                peaks = [trace(replace(shape, num_layers=n), cfg)["peak_allocated_bytes"]
                         for n in (1, 2)]  # fmt: skip
                gc = trace(replace(shape, num_layers=1), replace(cfg, gradient_checkpointing=True))
                key = "liger" if liger else "hf"
                row[f"{key}_layer_bytes_per_token"] = (peaks[1] - peaks[0]) / tokens
                row[f"{key}_gc_peak_bytes"] = gc["peak_allocated_bytes"]
            row["features"] = _features(shape, cfg)[:6]
            rows.append(row)
            print(row, flush=True)
    (RESULTS / "liger_fit_traces.json").write_text(json.dumps(rows, indent=1) + "\n")
    _fit_liger_rows(rows, tokens)


# liger.py's features: full fine-tuning on the widths h and I; LoRA adds the adapted linears'
# input and output widths (what liger removes depends on which op holds the backward peak).
_LIGER_FEATURES = {"full": ["h", "I"], "lora": ["h", "I", "adapter_in", "adapter_out"]}


def _fit_liger_rows(rows: list[dict], tokens: int) -> None:
    """Least squares of the liger rows (fit_liger) for liger.py LIGER_SAVED_* and
    LIGER_RECOMPUTE_*, with the worst residual as a share of one HF layer's activations."""
    import numpy as np

    targets = {
        "SAVED": lambda r: r["hf_layer_bytes_per_token"] - r["liger_layer_bytes_per_token"],
        "RECOMPUTE": lambda r: (r["hf_gc_peak_bytes"] - r["liger_gc_peak_bytes"]) / tokens,
    }
    for what, y_of in targets.items():
        for tuner, names in _LIGER_FEATURES.items():
            sel = [r for r in rows if r["tuner"] == tuner]
            cols = [_FEATURES.index(n) for n in names]
            x = np.array([[_liger_features(r)[c] for c in cols] for r in sel], float)
            y = np.array([y_of(r) for r in sel])
            coef = np.linalg.lstsq(x, y, rcond=None)[0]
            layer = np.array([r["hf_layer_bytes_per_token"] for r in sel])
            worst = np.max(np.abs(x @ coef - y) / layer)
            print(f"LIGER_{what}_{tuner.upper()} =",
                  dict(zip(names, np.round(coef, 3).tolist(), strict=True)),
                  f"# {len(sel)} settings, worst residual {worst:.1%} of a layer")  # fmt: skip


def _liger_features(row: dict) -> list[float]:
    shape = replace(_FIT_BASE, **_FIT_VARIANTS[row["variant"]])
    cfg = MemoryConfig(tuner_type=row["tuner"], target_modules=tuple(row["targets"]),
                       lora_dropout=row["dropout"])  # fmt: skip
    return _features(shape, cfg)


_FEATURES = ["h", "q", "kv", "I", "heads", "qk_norm_q", "adapter_in", "adapter_out",
             "adapters", "dropout_in"]  # fmt: skip


def _features(shape: ModelShape, cfg: MemoryConfig) -> list[float]:
    lin = shape.linear_shapes()
    adapted = [lin[m] for m in cfg.target_modules] if cfg.tuner_type == "lora" else []
    ins = sum(a for a, _ in adapted)
    return [shape.hidden_size, shape.q_width, shape.kv_width, shape.intermediate_size,
            shape.num_heads, shape.q_width if shape.qk_norm else 0, ins,
            sum(b for _, b in adapted), len(adapted),
            ins if cfg.lora_dropout > 0 else 0]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the small configuration")
    parser.add_argument("--only", help="run the cases whose name contains this text")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    parser.add_argument(
        "--fit-layers", action="store_true", help="refit the per-layer activation coefficients"
    )
    parser.add_argument(
        "--fit-liger", action="store_true", help="refit what liger-kernel saves per layer"
    )
    parser.add_argument(
        "--from-json", type=Path, help="reuse traces saved by an earlier run; re-estimate only"
    )
    args = parser.parse_args(argv)
    if args.fit_layers:
        fit_layers()
        return 0
    if args.fit_liger:
        if args.from_json:  # refit from saved traces
            _fit_liger_rows(json.loads(args.from_json.read_text()), 512)
        else:
            fit_liger()
        return 0
    if args.from_json:
        rows = [compare(r) for r in json.loads(args.from_json.read_text())]
        print_table(rows)
        if args.out:
            args.out.write_text(json.dumps(rows, indent=2) + "\n")
        return _worst(rows)
    cases = [QUICK] if args.quick else [c for c in CASES if not args.only or args.only in c.name]
    rows = []
    for i, case in enumerate(cases):
        rows.append(compare(run_case(case)))
        print_table(rows[-1:], header=i == 0)
        sys.stdout.flush()
    if len(rows) > 1:
        print()
        print_table(rows)
    out = args.out or (None if args.quick or args.only else RESULTS / "trace_memory.json")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(rows, indent=2) + "\n")
    return _worst(rows)


def _worst(rows: list[dict]) -> int:
    worst = max(abs(r["ratio"] - 1) for r in rows)
    print(f"worst |estimate/trace - 1| = {worst:.3f} (target 0.10)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
