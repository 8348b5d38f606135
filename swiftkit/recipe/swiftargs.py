"""What ms-swift 4.6 makes of a recipe's flags before training, without constructing SftArguments.

SftArguments.__post_init__ fills several values that the dataclass defaults leave as None; a
plan must use the filled values. Each rule names the swift source it mirrors
(paths relative to the installed `swift` package).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swiftkit.recipe.flags import load_schema


def world_size_from_env(env: Mapping[str, str]) -> tuple[int, list[str]]:
    """Processes in the run: NPROC_PER_NODE x NNODES (swift/cli/main.py reads both)."""
    problems = []
    sizes = []
    for name in ("NPROC_PER_NODE", "NNODES"):
        raw = env.get(name, "1")
        try:
            value = int(raw)
            if value < 1:
                raise ValueError
        except ValueError:
            problems.append(
                f"env {name} must be a positive integer (got {raw!r}). Write {name}: 2."
            )
            value = 1
        sizes.append(value)
    return sizes[0] * sizes[1], problems


def default_accumulation(batch_size: int, world_size: int) -> int:
    """trainers/arguments.py:289-291: aim at an effective batch of 16."""
    return max(1, math.ceil(16 / batch_size / world_size))


def resolve_args(args: Mapping[str, Any], *, world_size: int) -> dict[str, Any]:
    """Schema defaults, overlaid by the recipe, then swift's own post-init rules."""
    schema = load_schema()
    out = {name: flag.default for name, flag in schema.flags.items()}
    out.update(args)
    batch = out.get("per_device_train_batch_size") or 1
    if out.get("gradient_accumulation_steps") is None and batch >= 1:
        out["gradient_accumulation_steps"] = default_accumulation(batch, world_size)
    if out.get("learning_rate") is None:  # arguments/sft_args.py:246-249
        out["learning_rate"] = 1e-5 if out.get("tuner_type") == "full" else 1e-4
    if out.get("truncation_strategy") is None:  # arguments/base_args/template_args.py:168
        out["truncation_strategy"] = "delete"
    if out.get("val_dataset") or out.get("streaming"):  # arguments/base_args/data_args.py:129
        out["split_dataset_ratio"] = 0.0
    has_val = bool(
        (out.get("dataset") and (out.get("split_dataset_ratio") or 0) > 0) or out.get("val_dataset")
    )  # arguments/base_args/data_args.py:141-143
    # arguments/sft_args.py:232 and _init_eval_strategy (404-415)
    strategy = out.get("eval_strategy") or out.get("save_strategy") or "steps"
    if strategy == "no":  # _init_eval_strategy: no evaluation, so no rows held out for it
        out["split_dataset_ratio"] = 0.0
    if not has_val:
        strategy = "no"
    out["eval_strategy"] = strategy
    if strategy == "no":
        out["eval_steps"] = None
    elif strategy == "steps" and out.get("eval_steps") is None:
        out["eval_steps"] = out.get("save_steps")
    out["has_validation"] = has_val  # not a flag: whether swift will have validation data
    return out


def output_root(resolved: Mapping[str, Any], base_dir: Path) -> Path:
    """swift's output_dir, or its default `output/<model name>` (arguments/sft_args.py:401)."""
    out = resolved.get("output_dir")
    if not out:
        out = f"output/{Path(str(resolved.get('model') or 'model')).name}"
    path = Path(out).expanduser()
    return path if path.is_absolute() else base_dir / path
