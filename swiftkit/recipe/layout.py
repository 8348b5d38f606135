"""How ms-swift 4.6 lays a run out over processes and GPUs, and the layouts it refuses.

Rules, from the installed swift package:
- swift/utils/env.py `is_mp`: each process sees n_gpu visible GPUs and there are
  local_world_size processes on the node (NPROC_PER_NODE under torchrun, else 1). swift asserts
  `n_gpu % local_world_size == 0`; with `n_gpu // local_world_size >= 2` it loads the model with
  device_map 'auto' (swift/model/utils.py `get_default_device_map`): the layers are split over
  that many GPUs, one of which works at a time. SWIFT_SINGLE_DEVICE_MODE=1 turns both off.
- swift/arguments/sft_args.py `_init_deepspeed` / `_init_fsdp` and swift/trainers/arguments.py
  `__post_init__`: DeepSpeed, FSDP and liger-kernel are refused with device_map.
- swift/sequence_parallel/sequence_parallel.py `_init_device_mesh`: sequence parallel builds a
  (data, sequence) mesh of world_size // sequence_parallel_size x sequence_parallel_size, which
  torch refuses unless the sizes divide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftkit.recipe.deepspeed import DeepSpeedSpec, parse_deepspeed
from swiftkit.recipe.recipe import Recipe


@dataclass(frozen=True)
class Layout:
    world_size: int  # processes: NPROC_PER_NODE x NNODES
    nproc_per_node: int  # processes on this node (swift's local_world_size)
    visible_gpus: int | None  # CUDA_VISIBLE_DEVICES, else the detected cards; None: unknown
    gpus_per_process: int  # >= 2: swift splits the model over them with device_map
    sequence_parallel: int  # sequence_parallel_size
    data_parallel_size: int  # world_size // sequence_parallel: ranks that read different rows
    deepspeed: DeepSpeedSpec | None


def count_visible(value: str) -> int:
    """GPUs that CUDA_VISIBLE_DEVICES exposes: the listed ids up to the first invalid one (CUDA
    ignores an id such as -1 and every id after it); an empty value hides every GPU."""
    count = 0
    for item in value.split(","):
        item = item.strip()
        if not item or item.startswith("-"):
            break
        count += 1
    return count


def _source(name: str, recipe: Recipe, env: Mapping[str, str], sources: Mapping[str, str]) -> str:
    """Where a launch value came from: swiftkit.recipe.launchenv's source when known."""
    if name in sources:
        return {
            "recipe env:": "from the recipe's env: block",
            "process environment": "from the environment",
        }.get(sources[name], f"from {sources[name]}")
    if name in recipe.env:
        return "from the recipe's env: block"
    return "from the environment" if name in env else "not set"


def _describe(
    recipe: Recipe, env: Mapping[str, str], visible: int, nproc: int, sources: Mapping[str, str]
) -> str:
    cvd = env.get("CUDA_VISIBLE_DEVICES")
    gpus = (
        f"CUDA_VISIBLE_DEVICES {cvd!r} ({_source('CUDA_VISIBLE_DEVICES', recipe, env, sources)}, "
        f"{visible} GPU{'s' if visible != 1 else ''})"
        if cvd is not None
        else f"{visible} GPUs detected (CUDA_VISIBLE_DEVICES not set)"
    )
    return f"{gpus}, NPROC_PER_NODE {nproc} ({_source('NPROC_PER_NODE', recipe, env, sources)})"


def plan_layout(
    recipe: Recipe,
    resolved: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    world_size: int,
    detected_gpus: int | None,
    base_dir: Path,
    errors: list[str],
    notes: list[str],
    sources: Mapping[str, str] | None = None,
) -> Layout:
    """The run's layout; refused layouts and bad `deepspeed` values are appended to `errors`."""
    loc = recipe.location
    spec, problem = parse_deepspeed(resolved.get("deepspeed"), base_dir)
    if problem:
        errors.append(f"{loc('deepspeed')}: {problem}")
    raw = str(env.get("NPROC_PER_NODE", "1")).strip()
    nproc = max(int(raw), 1) if raw.isdigit() else 1  # a bad value is reported by swiftargs
    cvd = env.get("CUDA_VISIBLE_DEVICES")
    visible = count_visible(cvd) if cvd is not None else detected_gpus
    per_process = 1
    where = _describe(recipe, env, visible or 0, nproc, sources or {})
    if visible and env.get("SWIFT_SINGLE_DEVICE_MODE", "0") != "1":
        if visible % nproc:
            fits = [n for n in range(1, visible + 1) if visible % n == 0]
            errors.append(
                f"{recipe.path}: {visible} visible GPUs cannot be shared by {nproc} processes "
                f"(got {where}): swift asserts n_gpu % NPROC_PER_NODE == 0 (swift/utils/env.py "
                f"is_mp). Set NPROC_PER_NODE to one of {', '.join(map(str, fits))}, or make "
                f"CUDA_VISIBLE_DEVICES list a multiple of {nproc} GPUs."
            )
        else:
            per_process = visible // nproc
    if per_process >= 2:
        refused = [
            (key, label, source)
            for key, label, source in (
                ("deepspeed", "DeepSpeed", "swift/arguments/sft_args.py _init_deepspeed"),
                ("fsdp", "FSDP", "swift/arguments/sft_args.py _init_fsdp"),
                ("use_liger_kernel", "liger-kernel", "swift/trainers/arguments.py __post_init__"),
            )
            if resolved.get(key)
        ]
        for key, label, source in refused:
            errors.append(
                f"{loc(key)}: {key} cannot be used when one process holds {per_process} GPUs "
                f"(got {key} {resolved.get(key)!r} with {where}): swift then splits the model "
                f"with device_map and refuses {label} ({source}). "
                f"Set NPROC_PER_NODE: {visible} (one process per GPU), or list {nproc} GPU"
                f"{'s' if nproc != 1 else ''} in CUDA_VISIBLE_DEVICES."
            )
        if not refused:
            notes.append(
                f"each process sees {per_process} GPUs ({where}): swift splits the model over "
                f"them with device_map (naive model parallel, one GPU busy at a time); memory is "
                f"planned per GPU of the split. For data parallel training set NPROC_PER_NODE: "
                f"{visible}"
            )
    if spec is not None and "NPROC_PER_NODE" not in env and "NNODES" not in env:
        notes.append(
            f"{loc('deepspeed')}: deepspeed with neither NPROC_PER_NODE nor NNODES set: swift "
            "then trains in one process without torchrun (swift/cli/main.py use_torchrun), and "
            "accelerate sets up DeepSpeed's distributed state only when LOCAL_RANK is set "
            "(accelerate/state.py PartialState). Set env: {NPROC_PER_NODE: 1} to run it under "
            "torchrun"
        )
    sp = int(resolved.get("sequence_parallel_size") or 1)
    if sp > 1 and world_size % sp:
        errors.append(
            f"{loc('sequence_parallel_size')}: sequence_parallel_size must divide the number of "
            f"processes (got {sp} with {world_size} = NPROC_PER_NODE x NNODES): swift builds a "
            f"(data, sequence) device mesh of {world_size} // {sp} x {sp} "
            "(swift/sequence_parallel/sequence_parallel.py _init_device_mesh). Use a divisor of "
            f"{world_size}, or change NPROC_PER_NODE."
        )
    return Layout(
        world_size=world_size,
        nproc_per_node=nproc,
        visible_gpus=visible,
        gpus_per_process=per_process,
        sequence_parallel=max(sp, 1),
        data_parallel_size=max(world_size // max(sp, 1), 1),
        deepspeed=spec,
    )
