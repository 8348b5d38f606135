"""SLURM batch scripts: one `swiftkit train` per node under srun, saved and requeued before the
time limit, resumed after.

Rules (sbatch(1), srun(1), scontrol(1) of SLURM):
- `--signal=TERM@S` without `B:` signals every job step's tasks, not the batch shell: each
  node's `swiftkit train` gets SIGTERM S seconds before the limit (SLURM may send it up to 60 s
  earlier), passes it to torchrun, whose ranks save a checkpoint (swiftkit.run.preempt); each
  node exits 143 and srun returns the highest task exit code.
- `--requeue` and `scontrol requeue $SLURM_JOB_ID`: the job goes back to the queue and its batch
  script starts again from the top with the same SLURM_JOB_ID and SLURM_RESTART_COUNT > 0; the
  script then runs `train --resume`, which finds the run through its run id `slurm-<job id>`.
- `--open-mode=append` keeps the log of every attempt in one file.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from swiftkit.errors import RecipeError

DEFAULT_SIGNAL_BEFORE_S = 120
# A job whose nodes exit 143 every time (a crash that looks like a stop) is not requeued forever.
MAX_REQUEUES = 20
# After the first node's swiftkit exits, srun waits this long for the others, then ends them: a
# node that crashed must not leave the others blocked in a collective until the time limit
# (swift's ddp_timeout defaults to 18,000,000 s).
SRUN_WAIT_S = 600
# Variables the allocation decides; values exported in the submitting shell are dropped.
LAYOUT_VARS = ("NNODES", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT", "NPROC_PER_NODE")
_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
_NAME = re.compile(r"^[A-Za-z0-9_.@+-]+$")


def time_limit_s(text: str) -> int | None:
    """SLURM's --time as seconds: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S; None for UNLIMITED.

    Raises RecipeError (exit 2) for anything else.
    """
    if text.strip().lower() in ("unlimited", "infinite"):
        return None
    m = _TIME.match(text.strip())
    if not m:
        msg = (
            f"--time {text!r} is not a SLURM time limit. Write minutes (90), H:M:S (12:00:00) "
            "or D-H:M:S (2-00:00:00)."
        )
        raise RecipeError(msg)
    days, a, b, c = (int(g) if g is not None else None for g in m.groups())
    if days is not None:  # D-H, D-H:M, D-H:M:S
        return days * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
    if c is not None:  # H:M:S
        return a * 3600 + b * 60 + c
    if b is not None:  # M:S
        return a * 60 + b
    return a * 60  # M


def sbatch_script(
    *,
    recipe_path: Path,
    overrides: Sequence[str],
    nodes: int,
    gpus_per_node: int,
    workdir: Path,
    python: str,
    job_name: str,
    time: str | None = None,
    partition: str | None = None,
    account: str | None = None,
    signal_before_s: int = DEFAULT_SIGNAL_BEFORE_S,
) -> str:
    """The batch script's text. Raises RecipeError (exit 2) for values SLURM would refuse."""
    problems = []
    if nodes < 1:
        problems.append(f"--nodes must be at least 1 (got {nodes}). Write --nodes 2.")
    if gpus_per_node < 0:
        problems.append(
            f"--gpus-per-node must be 0 (a CPU job) or more (got {gpus_per_node}). "
            "Write --gpus-per-node 8."
        )
    for flag, value in (
        ("--partition", partition),
        ("--account", account),
        ("--job-name", job_name),
    ):
        if value is not None and not _NAME.match(value):
            problems.append(
                f"{flag} {value!r} is not a SLURM name (letters, digits, '_', '-', '.'). "
                f"Write e.g. {flag} gpu."
            )
    if signal_before_s < 1:
        problems.append(f"--signal-before must be at least 1 second (got {signal_before_s}).")
    if time is not None:
        try:
            limit = time_limit_s(time)
        except RecipeError as e:
            problems.append(str(e))
        else:
            if limit is not None and signal_before_s >= limit:
                problems.append(
                    f"--signal-before {signal_before_s} s is not shorter than --time {time} "
                    f"({limit} s): the nodes would be asked to stop before they start. Lower "
                    "--signal-before or raise --time."
                )
    if problems:
        raise RecipeError("\n".join(problems), tuple(problems))

    q = shlex.quote
    directives = [
        f"--job-name={job_name}",
        f"--nodes={nodes}",
        "--ntasks-per-node=1",
        *([f"--gpus-per-node={gpus_per_node}"] if gpus_per_node > 0 else []),
        *([f"--time={time}"] if time else []),
        *([f"--partition={partition}"] if partition else []),
        *([f"--account={account}"] if account else []),
        f"--signal=TERM@{signal_before_s}",
        "--requeue",
        "--open-mode=append",
        "--output=swiftkit-%x-%j.out",
    ]
    recipe_words = " ".join(q(w) for w in [str(recipe_path), *overrides])
    gpus = f"{gpus_per_node} GPU{'s' if gpus_per_node != 1 else ''}" if gpus_per_node else "CPUs"
    nodes_text = f"{nodes} node{'s' if nodes != 1 else ''}"
    header = f"""#!/bin/bash
# Written by swiftkit sbatch: {recipe_path.name} on {nodes_text} x {gpus}.
# Submit: sbatch THIS_FILE    Progress: python -m swiftkit status {q(str(recipe_path))}
#
# srun starts one `swiftkit train` per node; each starts torchrun for its GPUs. The layout comes
# from SLURM: NNODES from SLURM_NNODES, NODE_RANK from SLURM_NODEID, MASTER_ADDR is the first host
# of SLURM_JOB_NODELIST, MASTER_PORT is 15000 + the job id's last 4 digits, NPROC_PER_NODE is
# SLURM_GPUS_ON_NODE (a recipe's env: block overrides them). Every node trains in one run
# directory, found through the run id slurm-<job id>.
# {signal_before_s} s before the time limit SLURM sends SIGTERM to every node's swiftkit train
# (not to this shell: no "B:"). Each saves a checkpoint and exits 143; this script then requeues
# the job, which starts again from the top with SLURM_RESTART_COUNT > 0 and resumes from it.
"""
    body = f"""
cd {q(str(workdir))} || exit 2
# The allocation decides the layout: launch variables exported when the job was submitted go.
unset {" ".join(LAYOUT_VARS)}
export SWIFTKIT_RUN_ID="slurm-${{SLURM_JOB_ID}}"
SWIFTKIT=({q(python)} -m swiftkit)
RECIPE=({recipe_words})
# SIGTERM to this shell (preemption, scancel --batch) must not end it before the nodes have saved.
trap 'echo "swiftkit sbatch: the batch shell got SIGTERM; waiting for the nodes to save" >&2' TERM

restarts="${{SLURM_RESTART_COUNT:-0}}"
if [ "$restarts" -gt 0 ]; then
  echo "swiftkit sbatch: restart $restarts of job $SLURM_JOB_ID: resuming run $SWIFTKIT_RUN_ID"
  MODE=(--resume)
else
  # Plan once, here on the first node: a recipe with errors stops before any node starts.
  "${{SWIFTKIT[@]}}" plan "${{RECIPE[@]}}" || exit $?
  MODE=()
fi
# --kill-on-bad-exit=0: a node that exits 143 first must not kill another one still saving.
srun --ntasks-per-node=1 --kill-on-bad-exit=0 --wait={SRUN_WAIT_S} \\
  "${{SWIFTKIT[@]}}" train "${{RECIPE[@]}}" "${{MODE[@]}}"
rc=$?
if [ "$rc" -eq 143 ]; then
  if [ "$restarts" -lt {MAX_REQUEUES} ]; then
    echo "swiftkit sbatch: the nodes saved a checkpoint after SIGTERM; requeueing $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID"
  else
    echo "swiftkit sbatch: stopped {MAX_REQUEUES} times; not requeueing again" >&2
  fi
fi
exit "$rc"
"""
    return header + "".join(f"#SBATCH {d}\n" for d in directives) + body


def write_script(path: Path, text: str) -> Path:
    """Create `path` (never an existing file) holding `text`, executable, and the folders above
    it that are missing. RecipeError if it exists or cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        msg = (
            f"{path} already exists: swiftkit never writes over a file. Choose another --out, "
            "or remove it."
        )
        raise RecipeError(msg) from None
    except OSError as e:
        msg = f"{path} cannot be written ({e}). Choose a writable --out."
        raise RecipeError(msg) from e
    path.chmod(0o755)
    return path
