"""The run across nodes: one row per node (its host, its processes and their global ranks, the
batches it trains per epoch), and the command each node runs.

torchrun numbers processes node by node: global rank = NODE_RANK x NPROC_PER_NODE + local rank
(torch/distributed/elastic/agent/server/api.py `_assign_worker_ranks` with equal local world
sizes). Every process trains the same number of batches per epoch (swift's BatchSamplerShard
gives each rank the same share), so a node trains NPROC_PER_NODE times the per-process count.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from swiftkit.plan.schedule import Schedule
from swiftkit.recipe.launchenv import DEFAULT, LaunchEnv


@dataclass(frozen=True)
class NodeRow:
    node_rank: int
    host: str | None  # from SLURM's node list, or MASTER_ADDR for node 0; None when unknown
    processes: int
    first_global_rank: int
    last_global_rank: int
    batches_per_epoch: int | None  # all of this node's processes together
    is_master: bool  # node 0 hosts the rendezvous (MASTER_ADDR:MASTER_PORT)
    is_this_node: bool  # the NODE_RANK this invocation runs as

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def node_rows(launch: LaunchEnv, schedule: Schedule | None) -> tuple[NodeRow, ...]:
    """One row per node, NNODES rows (at most 1024, beyond that the first 1024)."""
    nproc = launch.nproc_per_node
    rows = []
    for rank in range(min(launch.nnodes, 1024)):
        host = launch.hosts[rank] if rank < len(launch.hosts) else None
        master = launch.values.get("MASTER_ADDR")
        # torchrun's default 127.0.0.1 names no host that the other nodes of a run can reach.
        known = master is not None and (master.source != DEFAULT or launch.nnodes == 1)
        if host is None and rank == 0 and known:
            host = master.value
        rows.append(
            NodeRow(
                node_rank=rank,
                host=host,
                processes=nproc,
                first_global_rank=rank * nproc,
                last_global_rank=rank * nproc + nproc - 1,
                batches_per_epoch=schedule.batches_per_epoch * nproc if schedule else None,
                is_master=rank == 0,
                is_this_node=rank == launch.node_rank,
            )
        )
    return tuple(rows)


def launch_json(launch: LaunchEnv | None, nodes: tuple[NodeRow, ...]) -> dict[str, Any]:
    """The plan's --json fields about the layout: nnodes, nproc_per_node, node_rank, launch
    (name -> value, source, detail, recipe_value), run_id, nodes."""
    if launch is None:
        return {}
    return {
        "nnodes": launch.nnodes,
        "nproc_per_node": launch.nproc_per_node,
        "node_rank": launch.node_rank,
        "launch": launch.to_json(),
        "run_id": launch.run_id.to_json() if launch.run_id else None,
        "nodes": [n.to_json() for n in nodes],
    }


def node_env(env: Mapping[str, str], rank: int) -> dict[str, str]:
    """The launch environment as node `rank` needs it (only NODE_RANK differs between nodes)."""
    out = {}
    for name, value in env.items():
        out[name] = value
        if name == "NNODES":  # NODE_RANK right after it, as torchrun's flags are ordered
            out["NODE_RANK"] = ""
    out["NODE_RANK"] = str(rank)
    return out


def swiftkit_command(
    recipe_ref: str, overrides: Sequence[str], env: Mapping[str, str], run_id: str
) -> str:
    """`SWIFTKIT_RUN_ID=... NNODES=... NODE_RANK=... python -m swiftkit train RECIPE ...`."""
    prefix = [f"SWIFTKIT_RUN_ID={shlex.quote(run_id)}"]
    prefix += [f"{k}={shlex.quote(v)}" for k, v in env.items()]
    words = ["python", "-m", "swiftkit", "train", recipe_ref, *overrides]
    return " ".join([*prefix, *map(shlex.quote, words)])
