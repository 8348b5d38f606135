"""Peak GPU memory of an ms-swift training run, per GPU, as a breakdown.

Plain arithmetic on a ModelShape and the run's swift flags: no torch, no swift. Three layers:

- allocated (torch.cuda.max_memory_allocated): weights and optimizer states (states.py) plus
  one micro-step's activations, logits and loss (activations.py), checked against
  FakeTensorMode traces of real steps (tests/bench/trace_memory.py);
- reserved (max_memory_reserved, swift's memory(GiB)): plus the caching allocator's growth
  over rows of different lengths (allocator.py, a replay of its rules), cuBLAS workspaces, and
  a share of the weights fitted on public GPU runs (calibration.py, tests/bench/data/
  memory_reference.json);
- on the device (nvidia-smi): plus the CUDA context.

Each has an expected value and a high one (expected plus the calibration set's error).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from swiftkit.memory import calibration
from swiftkit.memory.activations import step_activations
from swiftkit.memory.allocator import CUBLAS_WORKSPACE_BYTES
from swiftkit.memory.growth import growth_ratio
from swiftkit.memory.liger import labels_reach_model
from swiftkit.memory.models import ModelShape
from swiftkit.memory.states import DTYPE_BYTES, ZERO3_MAX_LIVE_PARAMETERS, model_states
from swiftkit.memory.states import zero_stage as zero_stage
from swiftkit.recipe.swiftargs import default_accumulation

GIB = 1024**3
MIB = 1024**2
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_DTYPE_ALIASES = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32",
                  "float": "float32", "auto": None}  # fmt: skip

# Not in a trace: the CUDA context, created by the driver outside PyTorch's allocator
# (0.3-0.7 GiB by published figures; 0.5 GiB assumed). nvidia-smi shows it, max_memory_reserved
# does not.
CUDA_CONTEXT_BYTES = 512 * MIB


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
    # swift leaves the labels to the model's forward (liger.py labels_reach_model): only then
    # does liger's fused linear cross-entropy replace the logits.
    labels_to_model: bool = True
    lora_dropout: float = 0.05
    optim: str = "adamw_torch_fused"
    gradient_accumulation_steps: int = 1
    gpus_per_process: int = 1  # >= 2: device_map splits the model (memory/devicemap.py)
    # The longest row's labelled tokens (ms-swift computes logits only for them) and the mean
    # row (how much the allocator's segments vary); None when the rows are not known.
    label_tokens: int | None = None
    typical_tokens: int | None = None
    use_logits_to_keep: bool = True  # swift >= 3.5 on text models (get_use_logits_to_keep)
    packing: bool = False  # --packing / --padding_free: every row is filled to max_length
    legacy_loss: bool = False  # transformers < 4.46 (ms-swift 1.x/2.x): see activations.py
    zero3_max_live_parameters: int = ZERO3_MAX_LIVE_PARAMETERS
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
    # The high estimate: expected plus the calibration set's error (calibration.HIGH_MARGIN);
    # fit verdicts are judged on it less releasable_high_bytes (device_needed_high_bytes).
    peak_reserved_high_bytes: int = 0
    device_high_bytes: int = 0
    # Of the high estimate's allocator growth, the cached segments with no live block: PyTorch
    # frees them and retries before it raises out-of-memory (allocator.simulate_growth).
    releasable_high_bytes: int = 0

    @property
    def device_needed_high_bytes(self) -> int:
        """The high estimate less what the allocator releases when memory runs short: the least
        a card must have free for the run (fit verdicts are judged on it)."""
        return max(self.device_high_bytes - self.releasable_high_bytes, 0)


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
    args: Mapping[str, Any],
    *,
    world_size: int,
    seq_len_tokens: int,
    label_tokens: int | None = None,
    typical_tokens: int | None = None,
) -> MemoryConfig:
    """MemoryConfig from the run's swift flag values (swift 4.6 defaults filled in).

    label_tokens / typical_tokens: the longest row's labelled tokens and the mean row in tokens,
    when the rows were read (plan/rowplan.py); both are capped at seq_len_tokens.
    """
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
    liger = _as_bool(args.get("use_liger_kernel"), False)
    labels_to_model = labels_reach_model(args)
    if liger and not labels_to_model:
        notes.append(
            "use_liger_kernel: swift computes this loss itself (label smoothing, loss_type, a "
            "weighted loss_scale, dft/channel loss or sequence parallel), so liger's fused "
            "cross-entropy does not apply: full logits estimated"
        )
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
        use_liger_kernel=liger,
        labels_to_model=labels_to_model,
        lora_dropout=float(args.get("lora_dropout") or 0.0),
        optim=str(args.get("optim") or "adamw_torch_fused"),
        gradient_accumulation_steps=int(accum),
        label_tokens=None if label_tokens is None else min(int(label_tokens), seq_len_tokens),
        typical_tokens=None if typical_tokens is None else min(int(typical_tokens), seq_len_tokens),
        use_logits_to_keep=_logits_to_keep(args),
        packing=_as_bool(args.get("packing"), False) or _as_bool(args.get("padding_free"), False),
        notes=tuple(notes),
    )


def _logits_to_keep(args: Mapping[str, Any]) -> bool:
    """swift/trainers/mixin.py get_use_logits_to_keep: --use_logits_to_keep, else on unless
    sequence parallel (Seq2SeqTrainer._prepare_inputs passes sequence_parallel_size == 1)."""
    flag = args.get("use_logits_to_keep")
    if flag is not None:
        return _as_bool(flag, True)
    return int(args.get("sequence_parallel_size") or 1) == 1


def estimate_memory(shape: ModelShape, cfg: MemoryConfig) -> MemoryEstimate:
    """Peak memory per GPU over a run whose longest micro-step holds cfg.seq_len_tokens tokens
    per row. The breakdown's lines add up: the allocated ones to peak_allocated_bytes, then
    allocator_growth, allocator_static and cuda_workspaces to peak_reserved_bytes, then
    cuda_context to device_bytes. The high estimate adds calibration.HIGH_MARGIN and the
    allocator's 90th-percentile growth. Bytes throughout."""
    notes = list(cfg.notes)
    if cfg.tuner_type not in ("lora", "full"):
        notes.append(f"tuner_type {cfg.tuner_type}: estimated as LoRA")
    st = model_states(shape, cfg)
    act = step_activations(shape, cfg)
    fixed = (st.frozen_bytes + st.trainable_bytes + st.gradient_bytes + st.optimizer_bytes
             + st.ddp_bucket_bytes + st.zero3_gathered_bytes)  # fmt: skip
    dynamic = act.kept_bytes + act.recompute_bytes + act.logits_bytes + act.loss_temp_bytes
    dynamic += act.top_bytes + st.dequant_bytes
    step_peak = fixed + st.optimizer_step_bytes
    allocated = max(fixed + dynamic, step_peak)
    breakdown = {
        "frozen_weights": st.frozen_bytes,
        "trainable_params": st.trainable_bytes,
        "gradients": st.gradient_bytes,
        "optimizer_states": st.optimizer_bytes,
    }
    if st.ddp_bucket_bytes:
        breakdown["ddp_gradient_buckets"] = st.ddp_bucket_bytes
    if st.zero3_gathered_bytes:
        breakdown["zero3_gathered_params"] = st.zero3_gathered_bytes
    if step_peak > fixed + dynamic:
        breakdown["optimizer_step"] = st.optimizer_step_bytes
    else:
        breakdown["activations"] = (act.kept_bytes + act.recompute_bytes + act.top_bytes
                                    + st.dequant_bytes)  # fmt: skip
        breakdown["logits"] = act.logits_bytes
        breakdown["loss_temporaries"] = act.loss_temp_bytes
    # PyTorch's caching allocator over rows of different lengths (allocator.py): a multiple of
    # the longest micro-step's dynamic bytes, by how spread the rows are. Rows of one length
    # (packing, or a mean as long as the longest) reuse the same blocks every step.
    seq = cfg.seq_len_tokens
    if cfg.typical_tokens is None and not cfg.packing:
        notes.append("row lengths unknown: the allocator's growth assumes a mean row of a quarter "
                     "of the longest")  # fmt: skip
    uniform = cfg.packing or (cfg.typical_tokens or 0) >= seq  # every row as long as the longest
    spread = (cfg.typical_tokens or seq / 4) / max(seq, 1)
    fused = cfg.use_liger_kernel and cfg.labels_to_model  # no full-vocabulary blocks to spread
    growth = 0 if uniform else int(growth_ratio(spread, liger=fused) * dynamic)
    growth_high = 0 if uniform else int(growth_ratio(spread, high=True, liger=fused) * dynamic)
    pinned_high = 0 if uniform else int(growth_ratio(spread, high=True, pinned=True,
                                                     liger=fused) * dynamic)  # fmt: skip
    breakdown["allocator_growth"] = growth
    breakdown["allocator_static"] = int(calibration.STATIC_SHARE * st.resident_weight_bytes)
    breakdown["cuda_workspaces"] = CUBLAS_WORKSPACE_BYTES
    reserved = int(allocated + growth + breakdown["allocator_static"] + CUBLAS_WORKSPACE_BYTES)
    breakdown["cuda_context"] = CUDA_CONTEXT_BYTES
    # High: the calibration set's error on top, and an unlucky order of rows for the allocator.
    high = int(reserved * (1 + calibration.HIGH_MARGIN)) + growth_high - growth
    return MemoryEstimate(
        peak_allocated_bytes=int(allocated),
        peak_reserved_bytes=reserved,
        device_bytes=reserved + CUDA_CONTEXT_BYTES,
        breakdown=breakdown,
        seq_len_tokens=cfg.seq_len_tokens,
        notes=tuple(notes),
        cpu_offload_bytes=st.cpu_offload_bytes,
        peak_reserved_high_bytes=high,
        device_high_bytes=high + CUDA_CONTEXT_BYTES,
        releasable_high_bytes=max(growth_high - pinned_high, 0),
    )
