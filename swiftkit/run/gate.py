"""The refusals before a run starts: a recipe that needs a GPU this machine lacks, a run that will
not fit in GPU memory, and too little disk for its checkpoints (exit code 3; `--force` overrides
the last two)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swiftkit.errors import HardwareError
from swiftkit.plan.plan import Plan

HALF_PRECISION = ("bfloat16", "bf16", "float16", "fp16")
# Above this a model is not trained on a CPU in any useful time.
MAX_CPU_PARAMS = 3_000_000_000


def check_hardware(
    plan: Plan, resolved: Mapping[str, Any], gpus_found: int, *, force: bool
) -> None:
    """Refuse, before any download, a run this machine cannot do. Raises HardwareError (exit 3)."""
    if gpus_found == 0 and not resolved.get("use_cpu"):
        dtype = resolved.get("torch_dtype")
        if dtype in HALF_PRECISION:
            msg = (
                f"{plan.recipe_path}: torch_dtype {dtype} needs a GPU and none was found. "
                "Run it on a GPU machine; on CPU use torch_dtype: float32 and use_cpu: true "
                "(python -m swiftkit demo shows a CPU run)."
            )
            raise HardwareError(msg)
    if gpus_found == 0 and plan.memory is not None:
        params = plan.memory.param_count
        if params and params > MAX_CPU_PARAMS:
            msg = (
                f"{plan.recipe_path}: {params / 1e9:.1f}B parameters will not train on a CPU. "
                "Run it on a GPU machine."
            )
            raise HardwareError(msg)
    if plan.disk is not None and not plan.disk.fits and not force:
        d = plan.disk
        msg = (
            f"{plan.recipe_path}: the checkpoints need about {d.needed_bytes / 2**30:.1f} GiB but "
            f"only {d.free_bytes / 2**30:.1f} GiB is free under {d.output_root}. Free space, "
            "choose another output_dir or lower save_total_limit; --force starts it anyway."
        )
        raise HardwareError(msg)
    m = plan.memory
    if m is not None and m.verdict == "will not fit" and not force:
        v = m.verdicts[0]
        fixes = "; ".join(s.description for s in m.suggestions[:3]) or "see swiftkit plan"
        msg = (
            f"{plan.recipe_path}: will not fit: about {m.estimate.device_bytes / 2**30:.1f} GiB "
            f"expected ({m.estimate.device_needed_high_bytes / 2**30:.1f} GiB needed on the high "
            "estimate) on "
            f"{v.card.name} ({v.card.total_bytes / 2**30:.0f} GiB). Try: {fixes}. "
            "--force starts it anyway."
        )
        raise HardwareError(msg)
