"""SLURM's environment: the layout of an allocation, read when swiftkit runs inside one.

Inside a job (SLURM_JOB_ID set) SLURM tells each task how many nodes there are (SLURM_NNODES, or
SLURM_JOB_NUM_NODES), which one it runs on (SLURM_NODEID), the nodes by name (SLURM_JOB_NODELIST,
compact: `gpu[01-02,05]`) and the GPUs of this node (SLURM_GPUS_ON_NODE, SLURM_GPUS_PER_NODE, or
the CUDA_VISIBLE_DEVICES it set). torchrun needs the same layout as NNODES, NODE_RANK,
MASTER_ADDR (the first node), MASTER_PORT and NPROC_PER_NODE. The port comes from the job id as
Lightning derives it (lightning/fabric/plugins/environments/slurm.py `SLURMEnvironment.main_port`:
15000 + the job id's last four digits), so every node computes the same one and two jobs sharing
a node rarely collide. Pure: reads a mapping, never runs scontrol.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

JOB_ID = "SLURM_JOB_ID"
NODE_COUNT_VARS = ("SLURM_NNODES", "SLURM_JOB_NUM_NODES")
NODELIST_VARS = ("SLURM_JOB_NODELIST", "SLURM_NODELIST")
PORT_BASE = 15000
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
MAX_HOSTS = 100_000


def expand_hostlist(text: str) -> list[str]:
    """SLURM's compact host list as host names, in order: `gpu[01-02,05],cpu1` -> gpu01, gpu02,
    gpu05, cpu1; `a[1-3]b` -> a1b, a2b, a3b; several bracket groups multiply (`n[1-2]-ib[0-1]`).

    Zero padding follows the range's first number, as `scontrol show hostnames` does.
    Raises ValueError naming what cannot be read.
    """
    hosts: list[str] = []
    for item in _split_top(text.strip()):
        if not item:
            msg = "an empty host name"
            raise ValueError(msg)
        expanded = [""]
        rest = item
        while rest:
            open_at = rest.find("[")
            if open_at < 0:
                if "]" in rest:
                    msg = f"an unopened ']' in {item!r}"
                    raise ValueError(msg)
                expanded = [h + rest for h in expanded]
                break
            close_at = rest.find("]", open_at)
            if close_at < 0:
                msg = f"an unclosed '[' in {item!r}"
                raise ValueError(msg)
            prefix, inner, rest = rest[:open_at], rest[open_at + 1 : close_at], rest[close_at + 1 :]
            numbers = _expand_ranges(inner, item)
            expanded = [h + prefix + n for h in expanded for n in numbers]
            if len(expanded) > MAX_HOSTS:
                msg = f"more than {MAX_HOSTS} hosts"
                raise ValueError(msg)
        hosts += expanded
    return hosts


def _split_top(text: str) -> list[str]:
    """Split at commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _expand_ranges(inner: str, item: str) -> list[str]:
    out = []
    for part in inner.split(","):
        m = _RANGE.match(part.strip())
        if not m:
            msg = f"{part!r} in {item!r} is not a number or a range like 01-04"
            raise ValueError(msg)
        first, last = m.group(1), m.group(2) or m.group(1)
        lo, hi = int(first), int(last)
        if hi < lo:
            msg = f"the range {part!r} in {item!r} runs backwards"
            raise ValueError(msg)
        if hi - lo >= MAX_HOSTS:
            msg = f"more than {MAX_HOSTS} hosts"
            raise ValueError(msg)
        out += [str(n).zfill(len(first)) for n in range(lo, hi + 1)]
    return out


def port_for_job(job_id: str) -> int:
    """15000 + the last four digits of the job id (Lightning's SLURMEnvironment.main_port)."""
    digits = re.sub(r"\D", "", job_id)[-4:] or "0"
    return PORT_BASE + int(digits)


def gpus_on_node(environ: Mapping[str, str]) -> tuple[int, str] | None:
    """(GPUs of this node, the variable that said so), or None when SLURM gives no GPU count.

    SLURM_GPUS_ON_NODE is a count; SLURM_GPUS_PER_NODE repeats the request (`4`, `a100:4`,
    `a100:2,v100:1`); CUDA_VISIBLE_DEVICES is the list SLURM made visible (`NoDevFiles` when the
    job has no GPU).
    """
    raw = environ.get("SLURM_GPUS_ON_NODE", "").strip()
    if raw.isdigit():
        return int(raw), "SLURM_GPUS_ON_NODE"
    raw = environ.get("SLURM_GPUS_PER_NODE", "").strip()
    if raw:
        counts = [p.rsplit(":", 1)[-1].strip() for p in raw.split(",")]
        if all(c.isdigit() for c in counts):
            return sum(int(c) for c in counts), "SLURM_GPUS_PER_NODE"
    raw = environ.get("CUDA_VISIBLE_DEVICES")
    if raw is not None and raw.strip() not in ("", "NoDevFiles"):
        return len([d for d in raw.split(",") if d.strip()]), "CUDA_VISIBLE_DEVICES"
    return None


@dataclass(frozen=True)
class SlurmLayout:
    """What SLURM says about the layout: name -> (value, where it came from)."""

    job_id: str
    values: Mapping[str, tuple[str, str]]
    hosts: tuple[str, ...]
    problems: tuple[str, ...]


def _first(environ: Mapping[str, str], names) -> tuple[str, str] | None:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return name, value
    return None


def slurm_layout(environ: Mapping[str, str]) -> SlurmLayout | None:
    """The torchrun layout SLURM's variables give, or None outside an allocation."""
    job_id = environ.get(JOB_ID, "").strip()
    if not job_id:
        return None
    values: dict[str, tuple[str, str]] = {}
    problems: list[str] = []
    hosts: tuple[str, ...] = ()
    count = _first(environ, NODE_COUNT_VARS)
    if count is not None:
        name, raw = count
        if raw.isdigit() and int(raw) >= 1:
            values["NNODES"] = (raw, name)
        else:
            problems.append(
                f"{name} is not a node count (got {raw!r}). Set NNODES to the number of nodes."
            )
    nodelist = _first(environ, NODELIST_VARS)
    if nodelist is not None:
        name, raw = nodelist
        try:
            hosts = tuple(expand_hostlist(raw))
        except ValueError as e:
            problems.append(
                f"{name} cannot be read ({e}; got {raw!r}). Set MASTER_ADDR to the first node's "
                "address."
            )
        if hosts:
            values["MASTER_ADDR"] = (hosts[0], f"the first host of {name}={raw}")
    node_id = environ.get("SLURM_NODEID", "").strip()
    if node_id:
        if node_id.isdigit():
            values["NODE_RANK"] = (node_id, "SLURM_NODEID")
        else:
            problems.append(
                f"SLURM_NODEID is not a node index (got {node_id!r}). Set NODE_RANK for this node."
            )
    values["MASTER_PORT"] = (str(port_for_job(job_id)), f"15000 + the last 4 digits of {JOB_ID}")
    gpus = gpus_on_node(environ)
    if gpus is not None and gpus[0] >= 1:
        values["NPROC_PER_NODE"] = (str(gpus[0]), gpus[1])
    return SlurmLayout(job_id, values, hosts, tuple(problems))
