"""When training dies of CUDA out-of-memory: say so plainly, with the step, the estimate, the card
and the changes most likely to fit, instead of swift's traceback tail (exit code 4).

torch raises torch.OutOfMemoryError (torch.cuda.OutOfMemoryError) whose message reports the
request and the allocator's state (c10/cuda/CUDACachingAllocator.cpp, "CUDA out of memory. Tried
to allocate X. GPU 0 has a total capacity of T of which F is free. ... Of the allocated memory A
is allocated by PyTorch, and R is reserved by PyTorch but unallocated."). The failing optimizer
step is read from the transformers Trainer found on the traceback (self.state.global_step, the
updates finished before it). `RUN_DIR/swiftkit/oom.json` keeps all of it with the traceback's
tail; ranks of a multi-process run write it from swiftkit.run.worker.
"""

from __future__ import annotations

import json
import re
import traceback
from pathlib import Path
from typing import Any

from swiftkit.errors import OutOfMemoryError
from swiftkit.watch.runstate import PROVENANCE_DIR

OOM_FILE = "oom.json"
_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}
_SIZE = r"([\d.]+) (B|KiB|MiB|GiB|TiB)"
_FIELDS = {
    "tried_bytes": rf"Tried to allocate {_SIZE}",
    "total_bytes": rf"total capacity of {_SIZE}",
    "free_bytes": rf"of which {_SIZE} is free",
    "allocated_bytes": rf"Of the allocated memory {_SIZE} is allocated by PyTorch",
    "unallocated_reserved_bytes": rf"and {_SIZE} is reserved by PyTorch but unallocated",
}
GIB = 1024**3


def is_cuda_oom(exc: BaseException | None) -> bool:
    """torch.OutOfMemoryError, or any exception whose chain carries its message."""
    seen = 0
    while exc is not None and seen < 8:
        if type(exc).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def parse_oom_message(text: str) -> dict[str, int]:
    """The byte counts torch's out-of-memory message reports (only those present)."""
    out = {}
    for key, pattern in _FIELDS.items():
        m = re.search(pattern, text)
        if m:
            out[key] = int(float(m.group(1)) * _UNITS[m.group(2)])
    m = re.search(r"GPU (\d+) has", text)
    if m:
        out["gpu_index"] = int(m.group(1))
    return out


def failing_step(exc: BaseException) -> int | None:
    """The optimizer step that was running: transformers Trainer's state.global_step + 1."""
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        owner = frame.f_locals.get("self")
        state = getattr(owner, "state", None)
        step = getattr(state, "global_step", None)
        if isinstance(step, int) and hasattr(owner, "optimizer"):
            return step + 1
    return None


def record_oom(run_dir: Path, exc: BaseException, *, rank: int | None = None) -> dict[str, Any]:
    """Write RUN_DIR/swiftkit/oom.json for `exc` and return its content."""
    message = str(exc)
    record = {
        "step": failing_step(exc),
        "rank": rank,
        "message": message.splitlines()[0] if message else type(exc).__name__,
        **parse_oom_message(message),
        "traceback_tail": "".join(traceback.format_exception(exc)[-6:]),
    }
    path = Path(run_dir) / PROVENANCE_DIR / OOM_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return record


def read_oom(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((Path(run_dir) / PROVENANCE_DIR / OOM_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def ranked_fixes(memory, oom: dict[str, Any], limit: int = 3) -> list[str]:
    """The plan's changes, re-ranked for what the run really needed: each suggestion's estimate
    is scaled by (what PyTorch held + the failed request) / the plan's reserved estimate, and
    the ones that then fit the card come first. memory: the plan's MemoryPlan."""
    from swiftkit.memory.fit import suggest_changes
    from swiftkit.memory.gpus import GpuCard

    if memory is None or memory.shape is None or memory.config is None:
        return []
    card = memory.verdicts[0].card if memory.cards_detected and memory.verdicts else None
    total = oom.get("total_bytes") or (card.total_bytes if card else None)
    if total is None:
        return []
    if card is None:
        card = GpuCard(name="this GPU", total_bytes=int(total), bf16=True)
    held = oom.get("allocated_bytes", 0) + oom.get("unallocated_reserved_bytes", 0)
    needed = held + oom.get("tried_bytes", 0)
    scale = max(1.0, needed / max(memory.estimate.peak_reserved_bytes, 1))
    context = memory.estimate.device_bytes - memory.estimate.peak_reserved_bytes
    ranked = []
    for i, s in enumerate(suggest_changes(memory.shape, memory.config, card)):
        projected = s.estimate.peak_reserved_bytes * scale + context
        changes = " ".join(f"{k}={v}" for k, v in s.changes.items())
        fits = projected <= total
        tail = "" if fits else ", may still not fit"
        text = f"{s.description} [{changes}]: about {projected / GIB:.1f} GiB{tail}"
        ranked.append((not fits, i, text))
    ranked.sort()
    return [text for _, _, text in ranked[:limit]]


def oom_error(oom: dict[str, Any], memory, max_steps: int | None, run_dir: Path, recipe: str):
    """The OutOfMemoryError (exit 4) that replaces swift's traceback."""
    step = oom.get("step")
    where = f"in optimizer step {step}" if step else "before the first optimizer step finished"
    if step and max_steps:
        where += f" of {max_steps}"
    card = None
    if memory is not None and memory.cards_detected and memory.verdicts:
        card = memory.verdicts[0].card.name
    total = oom.get("total_bytes")
    on = f" on {card or 'the GPU'}" + (f" ({total / GIB:.1f} GiB)" if total else "")
    lines = [f"training ran out of GPU memory (CUDA out of memory) {where}{on}."]
    if "allocated_bytes" in oom:
        held = oom["allocated_bytes"] + oom.get("unallocated_reserved_bytes", 0)
        lines.append(
            f"  PyTorch held {held / GIB:.2f} GiB ({oom['allocated_bytes'] / GIB:.2f} in tensors) "
            f"and asked for {oom.get('tried_bytes', 0) / GIB:.2f} GiB more"
            + (f"; {oom['free_bytes'] / GIB:.2f} GiB was free." if "free_bytes" in oom else ".")
        )
    if memory is not None:
        e = memory.estimate
        lines.append(
            f"  swiftkit estimated {e.device_bytes / GIB:.1f} GiB on the device "
            f"(high {e.device_high_bytes / GIB:.1f} GiB) for {e.seq_len_tokens}-token rows."
        )
    fixes = ranked_fixes(memory, oom)
    if fixes:
        lines.append("  changes most likely to fit, first to try first:")
        lines += [f"    {i}. {text}" for i, text in enumerate(fixes, 1)]
    lines.append(f"  swift's traceback: {Path(run_dir) / PROVENANCE_DIR / OOM_FILE}")
    lines.append(f"  rerun with a change: python -m swiftkit train {recipe} key=value")
    return OutOfMemoryError("\n".join(lines))
