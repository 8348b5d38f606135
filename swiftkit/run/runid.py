"""One run directory for every node of a run, found through the run id they all receive.

Node 0 creates the run directory, writes the provenance and then `swiftkit/run_id` (last, by an
atomic rename, so a directory that carries the id is complete). The other nodes wait for a run
directory under the same output_dir whose `swiftkit/run_id` holds their id, then train in it
with the arguments node 0 recorded. Only node 0's launcher writes swiftkit's files; inside
training swift itself writes only from global rank 0 (transformers' `is_world_process_zero`).
The output_dir must be on a filesystem every node shares, as for swift's own multi-node runs.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from swiftkit.errors import LaunchError, RecipeError
from swiftkit.watch.runs import list_runs
from swiftkit.watch.runstate import EXIT_FILE, PROVENANCE_DIR

RUN_ID_FILE = "run_id"
TIMEOUT_ENV = "SWIFTKIT_RUN_DIR_TIMEOUT"
# How long a node > 0 waits for node 0's run directory: node 0 plans first (counting a large
# dataset's tokens can take minutes) and may start later than the others.
DEFAULT_TIMEOUT_S = 900.0
POLL_S = 0.5


def record_run_id(run_dir: Path, run_id: str) -> Path:
    """Write RUN_DIR/swiftkit/run_id atomically (call after the provenance is complete)."""
    prov = run_dir / PROVENANCE_DIR
    prov.mkdir(parents=True, exist_ok=True)
    tmp = prov / f".{RUN_ID_FILE}.{os.getpid()}"
    tmp.write_text(run_id + "\n", encoding="utf-8")
    os.replace(tmp, prov / RUN_ID_FILE)
    return prov / RUN_ID_FILE


def run_id_of(run_dir: Path) -> str | None:
    try:
        return (run_dir / PROVENANCE_DIR / RUN_ID_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def find_run(root: Path, run_id: str) -> Path | None:
    """The run directory under `root` (or `root` itself, with add_version false) with this id."""
    for candidate in [*reversed(list_runs(root)), root]:
        if run_id_of(candidate) == run_id:
            return candidate
    return None


def refuse_used_run_id(root: Path, run_id: str) -> None:
    """Node 0 of a new run: the id must not name an earlier run. Raises RecipeError (exit 2)."""
    used = find_run(root, run_id)
    if used is not None:
        msg = (
            f"{used}: run id {run_id!r} already names this run. Give every node a new run id "
            "(--run-id or SWIFTKIT_RUN_ID) for a new run, or add --resume on every node to "
            "continue this one."
        )
        raise RecipeError(msg)


def _ended(run_dir: Path) -> str | None:
    try:
        record = json.loads((run_dir / PROVENANCE_DIR / EXIT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return f"exit code {record.get('exit_code')}: {record.get('reason')}"


def timeout_s(environ=None) -> float:
    raw = (os.environ if environ is None else environ).get(TIMEOUT_ENV)
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        msg = (
            f"{TIMEOUT_ENV} must be a number of seconds (got {raw!r}). "
            f"Write e.g. {TIMEOUT_ENV}=600."
        )
        raise RecipeError(msg) from None


def wait_for_run(root: Path, run_id: str, *, node_rank: int, timeout: float) -> Path:
    """Node `node_rank` > 0 of a new run: node 0's run directory once it carries `run_id`.

    Raises LaunchError (exit 1) after `timeout` seconds without one, or when the run it finds
    has already ended (an earlier run that used the same id).
    """
    deadline = time.monotonic() + timeout
    while True:
        found = find_run(root, run_id)
        if found is not None:
            ended = _ended(found)
            if ended is not None:
                msg = (
                    f"{found}: the run with run id {run_id!r} has already ended ({ended}). "
                    "A new run needs a new run id on every node; to continue this one, add "
                    "--resume on every node."
                )
                raise LaunchError(msg)
            return found
        if time.monotonic() >= deadline:
            msg = (
                f"node {node_rank}: no run directory with run id {run_id!r} appeared under "
                f"{root} within {timeout:g} s. Node 0 creates it: start node 0 with the same "
                f"recipe, output_dir and run id, on a filesystem every node shares ({TIMEOUT_ENV} "
                "sets how long the other nodes wait)."
            )
            raise LaunchError(msg)
        time.sleep(POLL_S)
