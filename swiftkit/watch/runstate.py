"""Run state: running, finished, failed or interrupted, and the pid and exit markers that tell it.

Owns swiftkit's markers in a run's `swiftkit/` directory (`pid` while the launcher runs,
`exit.json` when it ends) and `tell_state`, which decides a run's state from them, from what swift
logged, and from how long ago its files changed. Pure apart from reading and writing those files
and asking whether a pid is alive; never imports torch or swift.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftkit.watch.runlog import _float, _read_json

PROVENANCE_DIR = "swiftkit"  # swiftkit's own files inside a run directory
PID_FILE = "pid"  # "PID HOST\n" while swiftkit's launcher runs; removed by write_exit
EXIT_FILE = "exit.json"  # {"exit_code": N, "reason": "..."} written when the launcher ends
# Exit codes that mean stopped on purpose (Ctrl-C, SIGTERM), not a failure: cli.py's codes.
INTERRUPT_CODES = (130, 143)
# Without markers, a run whose files have not changed for this long is taken to have stopped.
# Long enough for an evaluation or a large checkpoint save; scaled up for slow steps.
STALE_AFTER_S = 600.0
STALE_STEPS = 10  # ... or this many steps at the last logged speed, whichever is longer
RUNNING, FINISHED, FAILED, INTERRUPTED = "running", "finished", "failed", "interrupted"


@dataclass(frozen=True)
class RunState:
    state: str  # RUNNING, FINISHED, FAILED or INTERRUPTED
    reason: str
    exit_code: int | None = None


def write_pid(run_dir: Path, pid: int | None = None) -> Path:
    """Mark the run as live (call when the launcher starts). Clears an older exit record."""
    prov = Path(run_dir) / PROVENANCE_DIR
    prov.mkdir(parents=True, exist_ok=True)
    (prov / EXIT_FILE).unlink(missing_ok=True)
    path = prov / PID_FILE
    path.write_text(f"{pid or os.getpid()} {socket.gethostname()}\n", encoding="utf-8")
    return path


def write_exit(run_dir: Path, exit_code: int, reason: str) -> Path:
    """Record how the launcher ended (call in its finally block); removes the pid file."""
    prov = Path(run_dir) / PROVENANCE_DIR
    prov.mkdir(parents=True, exist_ok=True)
    path = prov / EXIT_FILE
    record = {"exit_code": int(exit_code), "reason": reason, "ended_at": time.time()}
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (prov / PID_FILE).unlink(missing_ok=True)
    return path


def _pid_alive(run_dir: Path) -> tuple[bool | None, int | None]:
    """(alive, pid): alive is None when there is no pid file or it names another host."""
    try:
        fields = (run_dir / PROVENANCE_DIR / PID_FILE).read_text(encoding="utf-8").split()
        pid = int(fields[0])
    except (OSError, ValueError, IndexError):
        return None, None
    if len(fields) > 1 and fields[1] != socket.gethostname():
        return None, pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False, pid
    except PermissionError:
        return True, pid  # alive, owned by someone else
    return True, pid


def _exit_state(record: dict[str, Any]) -> RunState:
    code = record.get("exit_code")
    reason = str(record.get("reason") or "")
    if code == 0:
        return RunState(FINISHED, reason or "exit code 0", 0)
    if code in INTERRUPT_CODES:
        return RunState(INTERRUPTED, reason or f"exit code {code}", code)
    return RunState(FAILED, reason or f"exit code {code}", code if isinstance(code, int) else None)


def tell_state(run_dir: Path, parsed: dict[str, Any], mtime: float | None, now: float) -> RunState:
    """Live pid file, then the exit record, then what swift wrote, then file ages."""
    alive, pid = _pid_alive(run_dir)
    if alive:
        return RunState(RUNNING, f"process {pid} is alive")
    record = _read_json(run_dir / PROVENANCE_DIR / EXIT_FILE)
    if "exit_code" in record:
        return _exit_state(record)
    if parsed["runtime"] is not None:
        return RunState(FINISHED, "swift logged the end of training")
    step, max_steps = parsed["step"], parsed["max_steps"]
    at = f" at step {step} of {max_steps}" if step is not None else ""
    if alive is False:
        return RunState(INTERRUPTED, f"process {pid} ended{at} without recording an exit (killed?)")
    if parsed["result"] is not None:
        return RunState(FAILED, f"swift stopped{at} before the end of training (an error?)")
    speed = _float(parsed["last"].get("train_speed(s/it)")) or 0.0
    stale_after = max(STALE_AFTER_S, STALE_STEPS * speed)
    age = now - mtime if mtime is not None else None
    if age is not None and age < stale_after:
        return RunState(RUNNING, f"files written {age:.0f}s ago")
    idle = f"{age / 60:.0f} min" if age is not None else "long"
    return RunState(INTERRUPTED, f"nothing written for {idle}{at} and no end logged")
