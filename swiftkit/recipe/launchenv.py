"""Launch settings and where each one comes from: the process environment, the recipe's `env:`,
SLURM, or torchrun's default.

Precedence follows ms-swift: a variable already set in the process environment wins over a
config file's `ENV:` block, with a warning when they differ (swift/cli/main.py
`parse_yaml_args`); a recipe's `env:` is that block. Inside a SLURM allocation the layout
(NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, NPROC_PER_NODE) comes from SLURM's variables where
neither sets it (swiftkit.recipe.slurm); what is still unset is torchrun's default
(torch/distributed/run.py: --nnodes 1, --node_rank 0, --master_addr 127.0.0.1, --master_port
29500; swift/cli/main.py passes only the variables that are set).

The run id names the one run directory every node of a run shares: `--run-id`, else
SWIFTKIT_RUN_ID, else `slurm-<SLURM_JOB_ID>` for a multi-node SLURM job.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from swiftkit.recipe.blocks import LAUNCH_ENV
from swiftkit.recipe.secrets import redact_env
from swiftkit.recipe.slurm import JOB_ID, slurm_layout

PROCESS, RECIPE, SLURM, DEFAULT, FLAG = (
    "process environment",
    "recipe env:",
    "SLURM",
    "default",
    "--run-id",
)
# torchrun's own defaults for what swift leaves unset (torch/distributed/run.py get_args_parser).
LAYOUT_DEFAULTS = {
    "NPROC_PER_NODE": "1",
    "NNODES": "1",
    "NODE_RANK": "0",
    "MASTER_ADDR": "127.0.0.1",
    "MASTER_PORT": "29500",
}
RUN_ID_ENV = "SWIFTKIT_RUN_ID"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class LaunchValue:
    name: str
    value: str
    source: str  # PROCESS, RECIPE, SLURM, DEFAULT or FLAG
    detail: str = ""  # the variable or rule behind a SLURM value
    replaced: str | None = None  # the recipe's value that the process environment overrode

    def describe(self) -> str:
        """`SLURM (SLURM_NODEID)`, `process environment (the recipe's env: says '0')`, ..."""
        text = f"{self.source} ({self.detail})" if self.detail else self.source
        if self.replaced is not None:
            shown = redact_env({self.name: self.replaced})[self.name]
            text += f" (the recipe's env: says {shown!r})"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "value": redact_env({self.name: self.value})[self.name],
            "source": self.source,
            "detail": self.detail or None,
            "recipe_value": (
                None if self.replaced is None else redact_env({self.name: self.replaced})[self.name]
            ),
        }


@dataclass(frozen=True)
class LaunchEnv:
    """Every variable the run sets (and the layout's defaults), each with its source."""

    values: Mapping[str, LaunchValue]
    run_id: LaunchValue | None = None
    hosts: tuple[str, ...] = ()  # the allocation's nodes in order (SLURM), else empty
    warnings: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def env(self) -> dict[str, str]:
        """name -> value of what is set (defaults left out): what the run's processes get."""
        return {k: v.value for k, v in self.values.items() if v.source != DEFAULT}

    def get(self, name: str) -> str:
        v = self.values.get(name)
        return v.value if v is not None else LAYOUT_DEFAULTS.get(name, "")

    def _int(self, name: str, fallback: int) -> int:
        try:
            return int(self.get(name))
        except ValueError:
            return fallback

    @property
    def nnodes(self) -> int:
        return max(self._int("NNODES", 1), 1)

    @property
    def nproc_per_node(self) -> int:
        return max(self._int("NPROC_PER_NODE", 1), 1)

    @property
    def node_rank(self) -> int:
        return self._int("NODE_RANK", 0)

    def to_json(self) -> dict[str, Any]:
        return {name: v.to_json() for name, v in self.values.items()}


def _check_layout(values: Mapping[str, LaunchValue], problems: list[str]) -> None:
    """NODE_RANK within NNODES and MASTER_PORT a port; NPROC_PER_NODE/NNODES are checked by
    swiftargs.world_size_from_env."""

    def where(name: str) -> str:
        return f"env {name} ({values[name].describe()})"

    nnodes = values["NNODES"].value
    rank = values["NODE_RANK"].value
    if not rank.isdigit():
        problems.append(
            f"{where('NODE_RANK')} must be this node's index, 0 to NNODES - 1 (got {rank!r}). "
            "Write NODE_RANK=0 on the first node, 1 on the second, ..."
        )
    elif nnodes.isdigit() and int(rank) >= int(nnodes) >= 1:
        problems.append(
            f"{where('NODE_RANK')} must be below NNODES={nnodes} (got {rank!r}). "
            f"Number the nodes 0 to {int(nnodes) - 1}."
        )
    port = values["MASTER_PORT"].value
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        problems.append(
            f"{where('MASTER_PORT')} must be a TCP port, 1 to 65535 (got {port!r}). "
            "Write e.g. MASTER_PORT=29500, the same on every node."
        )


def resolve_launch_env(
    recipe_env: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
    *,
    recipe_path: str = "",
    run_id: str | None = None,
) -> LaunchEnv:
    """Each launch value with its source. `environ` defaults to os.environ; `run_id` is the
    `--run-id` flag. Problems (a bad NODE_RANK, port, node list or run id) are returned, not
    raised, to be reported with the recipe's other problems."""
    environ = os.environ if environ is None else environ
    where = f"{recipe_path}: " if recipe_path else ""
    values: dict[str, LaunchValue] = {}
    warnings: list[str] = []
    problems: list[str] = []
    for name in LAUNCH_ENV:
        if name in environ and name not in recipe_env:
            values[name] = LaunchValue(name, environ[name], PROCESS)
    for name, value in recipe_env.items():
        if name not in environ:
            values[name] = LaunchValue(name, value, RECIPE)
            continue
        used = environ[name]
        values[name] = LaunchValue(name, used, PROCESS, replaced=value if used != value else None)
        if used != value:
            mine, theirs = redact_env({name: value})[name], redact_env({name: used})[name]
            warnings.append(
                f"{where}env {name} is {mine!r} in the recipe but {theirs!r} in the process "
                f"environment; using {theirs!r}, as swift does with a config file's ENV "
                f"(swift/cli/main.py parse_yaml_args). Unset {name} to use the recipe's value."
            )

    slurm = slurm_layout(environ)
    hosts: tuple[str, ...] = ()
    if slurm is not None:
        problems += [f"{where}{p}" for p in slurm.problems]
        hosts = slurm.hosts
        for name, (value, detail) in slurm.values.items():
            values.setdefault(name, LaunchValue(name, value, SLURM, detail))
    for name, value in LAYOUT_DEFAULTS.items():
        values.setdefault(name, LaunchValue(name, value, DEFAULT))
    _check_layout(values, problems)

    order = [*LAUNCH_ENV, *(n for n in values if n not in LAUNCH_ENV)]
    ordered = {n: values[n] for n in order if n in values}
    chosen = _run_id(run_id, ordered, environ, slurm is not None, problems, where)
    nnodes = ordered["NNODES"].value
    if chosen is None and nnodes.isdigit() and int(nnodes) > 1:
        warnings.append(
            f"{where}NNODES={nnodes}: give every node the same run id (--run-id ID or "
            f"{RUN_ID_ENV}=ID) so that they share one run directory; train refuses to start "
            "several nodes without one."
        )
    if nnodes.isdigit() and int(nnodes) > 1 and ordered["MASTER_ADDR"].source == DEFAULT:
        warnings.append(
            f"{where}NNODES={nnodes} but MASTER_ADDR is not set (process environment, recipe "
            "env: or SLURM): torchrun then uses 127.0.0.1 (torch/distributed/run.py "
            "--master_addr; swift/cli/main.py get_torchrun_args passes only the variables that "
            "are set), which reaches node 0 only from node 0 itself, so the other nodes cannot "
            "connect. Set MASTER_ADDR to node 0's address on every node, with the same "
            "MASTER_PORT (default 29500)."
        )
    return LaunchEnv(ordered, chosen, hosts, tuple(warnings), tuple(problems))


def _run_id(flag, values, environ, in_slurm, problems, where) -> LaunchValue | None:
    if flag:
        chosen = LaunchValue(RUN_ID_ENV, flag, FLAG)
    elif RUN_ID_ENV in values:
        chosen = values[RUN_ID_ENV]
    elif environ.get(RUN_ID_ENV):
        chosen = LaunchValue(RUN_ID_ENV, environ[RUN_ID_ENV], PROCESS)
    elif in_slurm and values["NNODES"].value.isdigit() and int(values["NNODES"].value) > 1:
        job = environ[JOB_ID].strip()
        chosen = LaunchValue(RUN_ID_ENV, f"slurm-{job}", SLURM, JOB_ID)
    else:
        return None
    if not _RUN_ID.match(chosen.value):
        problems.append(
            f"{where}run id {chosen.value!r} ({chosen.describe()}) must be 1-100 letters, digits, "
            "'.', '_' or '-', starting with a letter or digit. Write e.g. --run-id tiny-0501."
        )
    return chosen


def launch_values(recipe: Any, environ: Mapping[str, str] | None = None, **kw) -> LaunchEnv:
    """resolve_launch_env for a loaded Recipe (its env block and path)."""
    return resolve_launch_env(recipe.env, environ, recipe_path=str(recipe.path), **kw)
