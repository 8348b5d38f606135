"""Starting ms-swift: in-process through `sft_main` for one process, under torch's own launcher
(`python -m torch.distributed.run ... -m swiftkit.run.worker RUN_DIR`) for several processes or
nodes.

Only this module and worker.py import swift, and only when a run starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swiftkit.errors import LaunchError
from swiftkit.recipe.flags import to_argv
from swiftkit.recipe.secrets import restore_secrets
from swiftkit.run import preempt

# The torchrun child learns credential flags from this variable, never from a file.
SECRETS_ENV = "SWIFTKIT_SECRET_ARGS"

# Flags swiftkit sets itself on every launch: the run directory it created.
OWNED_FLAGS = ("output_dir", "add_version")
# torchrun gives its ranks this long to exit after it passes on SIGTERM, then kills them
# (torch/distributed/launcher/api.py: TORCH_ELASTIC_SHUTDOWN_TIMEOUT, default 30 s). A rank saves
# a checkpoint first; 30 s is short for a large model, so swiftkit allows more unless it is set.
SHUTDOWN_TIMEOUT_ENV, SHUTDOWN_TIMEOUT_S = "TORCH_ELASTIC_SHUTDOWN_TIMEOUT", 300


@dataclass(frozen=True)
class LaunchSpec:
    run_dir: Path
    argv: tuple[str, ...]  # the swift sft flags recorded in the run's provenance
    env: Mapping[str, str]  # launch settings (NPROC_PER_NODE, NNODES, ...)
    resume_from: Path | None = None  # a checkpoint of this run to continue from
    secrets: Mapping[str, str] = field(default_factory=dict)  # credential flags, never on disk

    def full_argv(self) -> list[str]:
        return resume_argv(restore_secrets(self.argv, self.secrets), self.resume_from)

    @property
    def nproc_per_node(self) -> int:
        return int(self.env.get("NPROC_PER_NODE", "1"))

    @property
    def nnodes(self) -> int:
        return int(self.env.get("NNODES", "1"))

    @property
    def first_node(self) -> bool:
        """Node 0 (or a single node): the launcher that writes swiftkit's files in the run."""
        return self.env.get("NODE_RANK", "0").strip() in ("0", "")

    @property
    def distributed(self) -> bool:
        """Under torchrun whenever NPROC_PER_NODE or NNODES is set, even to 1, as swift's CLI
        decides (swift/cli/main.py use_torchrun): accelerate then sees LOCAL_RANK, which
        single-GPU DeepSpeed needs (accelerate/state.py). Neither set: in-process."""
        return "NPROC_PER_NODE" in self.env or "NNODES" in self.env


def swift_argv(args: Mapping[str, Any], *, run_dir: Path | None = None) -> list[str]:
    """The recipe's flags as `swift sft` argv; with run_dir, pointed at swiftkit's run directory."""
    values = dict(args)
    if run_dir is not None:
        for key in OWNED_FLAGS:
            values.pop(key, None)
        values["output_dir"] = str(run_dir)
        values["add_version"] = False
    return to_argv(values)


def shell_command(args: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """The equivalent `swift sft` command line (what --dry-run prints)."""
    prefix = [f"{k}={shlex.quote(v)}" for k, v in env.items()]
    return " ".join([*prefix, "swift", "sft", *map(shlex.quote, to_argv(args))])


def torchrun_command(spec: LaunchSpec) -> list[str]:
    """swift/cli/main.py builds the same torchrun line for NPROC_PER_NODE / NNODES."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(spec.nproc_per_node),
    ]
    if spec.nnodes > 1:
        cmd += [
            "--nnodes",
            str(spec.nnodes),
            "--node_rank",
            spec.env.get("NODE_RANK", "0"),
            "--master_addr",
            spec.env.get("MASTER_ADDR", "127.0.0.1"),
            "--master_port",
            spec.env.get("MASTER_PORT", "29500"),
        ]
    elif "MASTER_PORT" in spec.env:
        cmd += ["--master_port", spec.env["MASTER_PORT"]]
    worker = ["-m", "swiftkit.run.worker", str(spec.run_dir)]
    if spec.resume_from is not None:
        worker.append(str(spec.resume_from))
    return [*cmd, *worker]


def resume_argv(argv: Sequence[str], checkpoint: Path | None) -> list[str]:
    if checkpoint is None:
        return list(argv)
    return [*argv, "--resume_from_checkpoint", str(checkpoint)]


def with_callback(argv: Sequence[str], name: str) -> list[str]:
    """argv with `name` added to --callbacks (a repeated --callbacks would replace the first)."""
    out = list(argv)
    if "--callbacks" in out:
        out.insert(out.index("--callbacks") + 1, name)
    else:
        out += ["--callbacks", name]
    return out


def run_in_process(argv: Sequence[str]) -> dict[str, Any]:
    """Call swift's own sft entrypoint in this process; save and stop on SIGTERM/SIGINT.

    Swift's exceptions propagate. After a stop signal the trainer saves a checkpoint at the
    current step and returns; then Preempted is raised so the caller exits 143 or 130.
    """
    preempt.install()
    from swift import sft_main

    result = sft_main(with_callback(argv, preempt.register_callback()))
    signum = preempt.requested_signal()
    if signum is not None:
        raise preempt.Preempted(signum)
    return result


def run_distributed(spec: LaunchSpec) -> int:
    """Run torchrun as a child in its own session; return its exit code.

    SIGTERM/SIGINT to swiftkit are forwarded to torchrun and every rank at once; each rank's
    preemption callback saves and stops, then Preempted is raised here.
    """
    env = {**os.environ, **spec.env}
    env.setdefault(SHUTDOWN_TIMEOUT_ENV, str(SHUTDOWN_TIMEOUT_S))
    if spec.secrets:
        env[SECRETS_ENV] = json.dumps(dict(spec.secrets))
    try:
        proc = subprocess.Popen(torchrun_command(spec), env=env, start_new_session=True)
    except OSError as e:
        msg = f"could not start torch.distributed.run ({e}). Check that torch is installed."
        raise LaunchError(msg) from e
    received: list[int] = []

    def forward(signum, frame):
        received.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signum)

    previous = {s: signal.signal(s, forward) for s in preempt.SIGNALS}
    try:
        code = proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        raise preempt.Preempted(received[0])
    return code
