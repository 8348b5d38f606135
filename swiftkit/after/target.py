"""What `infer`, `export` and `check` load: a run's checkpoint (best by eval loss, the last, or a
step), or a model folder such as a merged export, and how swift is told to load it.

A LoRA checkpoint is passed as `--adapters CKPT`: swift then reads the base model, template,
system prompt and dtype from CKPT/args.json (swift/arguments/base_args/base_args.py
`_init_ckpt_dir`, `load_args_from_ckpt`). A full-weights checkpoint or a model folder is passed as
`--model DIR` (its args.json, when swift wrote one, gives the same). Pure apart from reading files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftkit.errors import RunDirError
from swiftkit.watch.runs import find_run, is_run_dir, list_checkpoints, list_runs, read_run
from swiftkit.watch.runstate import FINISHED

BEST, LAST = "best", "last"


@dataclass(frozen=True)
class Target:
    """One loadable model. `adapters` is empty for full weights and model folders."""

    label: str  # e.g. "checkpoint-168 (best by eval_loss 0.52)"
    model: str | None  # --model: the base model for adapters, or the weights folder
    adapters: tuple[Path, ...]
    run_dir: Path | None  # None for a model folder outside any run
    checkpoint: Path | None
    args: dict[str, Any]  # the args.json swift wrote beside the weights ({} if none)

    def swift_args(self) -> list[str]:
        """The model part of a swift infer/export command line."""
        out = ["--model", self.model] if self.model else []
        if self.adapters:
            out += ["--adapters", *(str(a) for a in self.adapters)]
        return out


def _read_args(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "args.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_adapter(folder: Path) -> bool:
    """swift's BaseArguments._check_is_adapter: an adapter_config.json (or default/, or reft/)."""
    return any(
        (folder / p).exists()
        for p in ("adapter_config.json", "default/adapter_config.json", "reft")
    )


def is_model_folder(folder: Path) -> bool:
    return folder.is_dir() and (folder / "config.json").is_file()


def base_model(args: dict[str, Any], run_dir: Path | None, base_dir: Path) -> str | None:
    """The base model a run trained, as a path swift can open from here.

    swift records `model` as typed (a relative path is relative to where training ran). Tried in
    order: as an absolute path, against base_dir, then against each folder above the run
    directory (runs live under the project's output_dir). A hub id is returned as it is.
    """
    model = args.get("model")
    if not isinstance(model, str) or not model:
        return None
    path = Path(model).expanduser()
    if path.is_absolute():
        return str(path)
    roots = [base_dir, *(run_dir.parents if run_dir else ())]
    for root in roots:
        if is_model_folder(root / path):
            return str((root / path).resolve())
    return model


def _finished_run(ref: str, base_dir: Path) -> Path:
    """The run `ref` names: a run directory as given, else the newest finished run with a
    checkpoint under the output root (of a recipe or folder) that find_run picks."""
    run_dir = find_run(ref, base_dir=base_dir)
    given = Path(ref).expanduser()
    given = given if given.is_absolute() else base_dir / given
    if given.is_dir() and is_run_dir(given):
        return run_dir
    for candidate in reversed(list_runs(run_dir.parent)):
        if list_checkpoints(candidate) and read_run(candidate).state.state == FINISHED:
            return candidate
    return run_dir


def pick_checkpoint(run_dir: Path, which: str = BEST) -> tuple[Path, str]:
    """(checkpoint folder, how it was chosen). which: best (by the trainer's
    best_model_checkpoint, i.e. eval_loss unless metric_for_best_model says otherwise; the last
    when there was no evaluation), last, or a step number."""
    ckpts = list_checkpoints(run_dir)
    if not ckpts:
        msg = (
            f"{run_dir}: no checkpoint-N folder yet. Wait for the first save "
            f"(python -m swiftkit status {run_dir}) or name another run."
        )
        raise RunDirError(msg)
    steps = ", ".join(str(c.step) for c in ckpts)
    if which == LAST:
        return ckpts[-1].path, f"{ckpts[-1].path.name} (the last)"
    if which == BEST:
        run = read_run(run_dir)
        best = run.best_checkpoint
        if best is not None and best.is_dir():
            metric = f" {run.best_metric:.4g}" if run.best_metric is not None else ""
            return best, f"{best.name} (best by eval_loss{metric})"
        return ckpts[-1].path, f"{ckpts[-1].path.name} (the last: no eval_loss to pick by)"
    if not which.isdigit():
        msg = f"--checkpoint must be best, last or a step number (got {which!r}). Steps: {steps}."
        raise RunDirError(msg)
    for c in ckpts:
        if c.step == int(which):
            return c.path, c.path.name
    msg = f"{run_dir}: no checkpoint-{which} (got {which!r}). Saved steps: {steps}."
    raise RunDirError(msg)


def resolve_target(ref: str | None, which: str = BEST, *, base_dir: Path | None = None) -> Target:
    """What to load for `ref`: a checkpoint folder, a model folder (e.g. a merged export), a run
    directory, an output root or a recipe name (its newest finished run). Raises RunDirError."""
    base = base_dir or Path.cwd()
    if ref is not None:
        path = Path(ref).expanduser()
        path = path if path.is_absolute() else base / path
        # A run directory holds swift's args.json too, but never weights at its top level.
        if is_adapter(path) or is_model_folder(path):
            return _folder_target(path, base)
    run_dir = _finished_run(ref, base) if ref is not None else find_run(None, base_dir=base)
    ckpt, how = pick_checkpoint(run_dir, which)
    return _checkpoint_target(ckpt, how, run_dir, base)


def _folder_target(path: Path, base: Path) -> Target:
    run_dir = path.parent if is_run_dir(path.parent) else None
    return _checkpoint_target(path, path.name, run_dir, base)


def _checkpoint_target(ckpt: Path, how: str, run_dir: Path | None, base: Path) -> Target:
    args = _read_args(ckpt) or (_read_args(run_dir) if run_dir else {})
    if is_adapter(ckpt):
        model = base_model(args, run_dir, base)
        return Target(how, model, (ckpt.resolve(),), run_dir, ckpt, args)
    if not is_model_folder(ckpt):
        msg = (
            f"{ckpt}: holds neither an adapter (adapter_config.json) nor model weights "
            "(config.json). Name a checkpoint-N folder, a run directory or a model folder."
        )
        raise RunDirError(msg)
    return Target(how, str(ckpt.resolve()), (), run_dir, ckpt, args)
