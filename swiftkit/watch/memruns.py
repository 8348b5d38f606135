"""The memory record of a run: swiftkit's estimate next to the peak swift logged.

`RUN_DIR/swiftkit/memory.json` is written when `swiftkit train` starts a run (the estimate, the
MemoryConfig and ModelShape it came from, the card) and completed when the run ends (the
largest memory(GiB) in logging.jsonl, which swift logs as torch.cuda.max_memory_reserved, the
step it was logged at, how the run ended; for a CUDA out-of-memory, what torch's message said).
`plan` reads the finished records of the same model and card to correct its estimate
(swiftkit.memory.learned). Pure file reads and writes; never imports torch or swift.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from swiftkit.watch.runlog import _parse_rows, read_log_rows
from swiftkit.watch.runstate import PROVENANCE_DIR

MEMORY_FILE = "memory.json"
GIB = 1024**3
# Newest finished runs per model and card that plan reads (older ones are ignored).
MAX_RECORDS = 8


def _write(path: Path, record: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_memory_record(run_dir: Path) -> dict[str, Any] | None:
    """The run's memory record, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((Path(run_dir) / PROVENANCE_DIR / MEMORY_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def start_memory_record(run_dir: Path, record: Mapping[str, Any]) -> Path:
    """Write the estimate side when the run starts (`record` from memplan.memory_record)."""
    path = Path(run_dir) / PROVENANCE_DIR / MEMORY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, {**record, "logged": None})
    return path


def finish_memory_record(
    run_dir: Path, *, exit_code: int, oom: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """Add what swift logged: the peak memory(GiB) and its step, and how the run ended."""
    record = read_memory_record(run_dir)
    if record is None:
        return None
    parsed = _parse_rows(read_log_rows(Path(run_dir) / "logging.jsonl"))
    peak_step = None
    for row in read_log_rows(Path(run_dir) / "logging.jsonl"):
        value = row.get("memory(GiB)")
        if isinstance(value, (int, float)) and value == parsed["peak"]:
            step = str(row.get("global_step/max_steps") or "").split("/")[0]
            peak_step = int(step) if step.isdigit() else None
            break
    logged = None
    if parsed["peak"] is not None:
        logged = {
            "peak_reserved_bytes": int(parsed["peak"] * GIB),
            "peak_memory_gib": parsed["peak"],
            "at_step": peak_step,
            "last_step": parsed["step"],
        }
    record.update(logged=logged, exit_code=int(exit_code), oom=dict(oom) if oom else None)
    _write(Path(run_dir) / PROVENANCE_DIR / MEMORY_FILE, record)
    return record


def _run_dirs(root: Path) -> list[Path]:
    from swiftkit.watch.runs import list_runs

    return list_runs(root)


def finished_records(roots: Iterable[Path]) -> list[dict[str, Any]]:
    """Memory records of finished runs (exit code 0, a logged peak) under the output roots, and
    under their sibling folders (other recipes' output_dir next to this one), newest first."""
    seen, found = set(), []
    dirs: list[Path] = []
    for root in roots:
        root = Path(root)
        candidates = [root]
        if root.parent.is_dir():
            candidates += sorted(p for p in root.parent.iterdir() if p.is_dir() and p != root)
        for folder in candidates:
            dirs += _run_dirs(folder)
    for run_dir in dirs:
        key = run_dir.resolve()
        if key in seen:
            continue
        seen.add(key)
        record = read_memory_record(run_dir)
        if not record or record.get("exit_code") != 0 or not record.get("logged"):
            continue
        found.append({**record, "run_dir": str(run_dir)})
    found.sort(key=lambda r: Path(r["run_dir"]).name.partition("-")[2], reverse=True)
    return found
