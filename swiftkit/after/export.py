"""`swiftkit export`: a checkpoint as a folder of its own, the LoRA merged into the base model
(ms-swift's `swift.export_main --merge_lora true`) or the checkpoint's model files as they are,
always into a new folder, with the provenance of the run it came from.

swift's merge (swift/pipelines/export/merge_lora.py `merge_lora`) loads the base and the
adapter, calls merge_and_unload and saves with save_pretrained; it copies the adapter's
args.json beside the weights, so `swift infer --model MERGED` (and `swiftkit infer MERGED`)
finds the template and system prompt without the adapter.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from swiftkit.after.infer import call_swift
from swiftkit.after.target import Target
from swiftkit.errors import RunDirError
from swiftkit.run.rundir import package_versions
from swiftkit.watch.runstate import PROVENANCE_DIR

PROVENANCE_FILE = "swiftkit-export.json"
# What a checkpoint holds for resuming training only: left out of a plain export.
_TRAINING_STATE = ("optimizer.pt", "scheduler.pt", "rng_state*", "training_args.bin",
                   "trainer_state.json", "global_step*", "latest", "zero_to_fp32.py")  # fmt: skip


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    merged: bool
    target: Target
    swift_argv: tuple[str, ...]  # empty for a plain copy
    seconds: float


def default_export_dir(target: Target, merge_lora: bool) -> Path:
    """swift's own default beside the checkpoint, `CKPT-merged` (ExportArguments
    `_init_output_dir`); `CKPT-export` for a plain copy."""
    source = target.checkpoint or Path(str(target.model))
    return source.parent / f"{source.name}-{'merged' if merge_lora else 'export'}"


def export_argv(target: Target, out_dir: Path) -> list[str]:
    return [*target.swift_args(), "--merge_lora", "true", "--output_dir", str(out_dir)]


def export_model(
    target: Target, *, to: Path | None = None, merge_lora: bool = False, quiet: bool = True
) -> ExportResult:
    """Write the export into `to` (default: default_export_dir), which must not exist yet.

    Raises RunDirError (exit 2) for an existing folder or --merge-lora without an adapter, and
    InferenceError (exit 1) when swift's export fails; a half-written folder is removed.
    """
    if merge_lora and not target.adapters:
        msg = (
            f"{target.checkpoint or target.model}: holds full model weights, not a LoRA adapter, "
            "so there is nothing to merge. Use it as it is (swiftkit infer), or export without "
            "--merge-lora."
        )
        raise RunDirError(msg)
    out_dir = Path(to).expanduser().resolve() if to else default_export_dir(target, merge_lora)
    if out_dir.exists():
        msg = (
            f"{out_dir}: already exists, and swiftkit never writes over a folder. Choose another "
            "--to, or remove it first."
        )
        raise RunDirError(msg)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    argv: list[str] = []
    try:
        if merge_lora:
            argv = export_argv(target, out_dir)
            call_swift("export_main", argv, quiet=quiet)
        else:
            source = target.checkpoint or Path(str(target.model))
            shutil.copytree(source, out_dir, ignore=shutil.ignore_patterns(*_TRAINING_STATE))
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    result = ExportResult(out_dir, merge_lora, target, tuple(argv), time.perf_counter() - start)
    write_export_provenance(result)
    return result


def write_export_provenance(result: ExportResult) -> Path:
    """OUT/swiftkit-export.json: where the weights came from and how they were made."""
    t = result.target
    recipe = None
    if t.run_dir is not None:
        path = t.run_dir / PROVENANCE_DIR / "recipe.yaml"
        recipe = path.read_text(encoding="utf-8") if path.is_file() else None
    data = {
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "merged_lora": result.merged,
        "run_dir": str(t.run_dir) if t.run_dir else None,
        "checkpoint": str(t.checkpoint) if t.checkpoint else None,
        "chosen": t.label,
        "base_model": t.model if t.adapters else None,
        "swift_argv": list(result.swift_argv) or None,
        "seconds": round(result.seconds, 2),
        "versions": package_versions(),
        "recipe_yaml": recipe,  # the resolved recipe the run was started from
    }
    path = result.out_dir / PROVENANCE_FILE
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
