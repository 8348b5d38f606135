"""Run directories: a fresh one per run (never an existing one), and the provenance inside it.

swiftkit names the run directory the way ms-swift does (`output_dir/v{N}-{YYYYMMDD-HHMMSS}`,
swift/utils/utils.py `add_version_to_work_dir`), creates it exclusively, and hands it to swift
with `--add_version false`, so the single-process and torchrun launches write to the same,
known place and nothing is ever written over.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from swiftkit.errors import RecipeError
from swiftkit.recipe.secrets import redact_args, redact_argv, redact_env
from swiftkit.watch.runstate import PROVENANCE_DIR

PACKAGES = ("swiftkit", "ms-swift", "torch", "transformers", "peft", "trl", "datasets")


def _next_version(root: Path) -> int:
    versions = [-1]
    if root.is_dir():
        for child in root.iterdir():
            m = re.match(r"v(\d+)", child.name)
            if m:
                versions.append(int(m.group(1)))
    return max(versions) + 1


def create_run_dir(root: Path, *, add_version: bool = True) -> Path:
    """A new, empty run directory. Never returns one that already holds anything."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        msg = f"output_dir {root} cannot be created ({e}). Choose a writable output_dir."
        raise RecipeError(msg) from e
    if not add_version:
        if any(root.iterdir()):
            msg = (
                f"output_dir {root} already holds files and add_version is false: swiftkit never "
                "writes over a run. Choose a new output_dir or remove add_version: false."
            )
            raise RecipeError(msg)
        return root
    for _ in range(100):
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run = root / f"v{_next_version(root)}-{stamp}"
        try:
            run.mkdir()
        except FileExistsError:
            continue
        except OSError as e:
            msg = f"run directory {run} cannot be created ({e}). Choose a writable output_dir."
            raise RecipeError(msg) from e
        return run
    msg = f"could not create a new run directory under {root}. Check it for stray files."
    raise RecipeError(msg)


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def write_provenance(
    run_dir: Path,
    *,
    recipe_values: Mapping[str, Any],
    plan_json: Mapping[str, Any],
    swift_argv: Sequence[str],
    env: Mapping[str, str],
    recipe_path: Path,
) -> Path:
    """run_dir/swiftkit/: recipe.yaml (resolved), plan.json, swift_args.json, versions.json."""
    prov = run_dir / PROVENANCE_DIR
    prov.mkdir(exist_ok=True)
    resolved = redact_args(recipe_values)
    if env:
        resolved["env"] = redact_env(env)
    header = f"# resolved from {recipe_path} (extends and overrides applied)\n"
    (prov / "recipe.yaml").write_text(
        header + yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    (prov / "plan.json").write_text(json.dumps(plan_json, indent=2, default=str), encoding="utf-8")
    (prov / "swift_args.json").write_text(
        json.dumps({"argv": redact_argv(swift_argv), "env": redact_env(env)}, indent=2),
        encoding="utf-8",
    )
    (prov / "versions.json").write_text(json.dumps(package_versions(), indent=2), encoding="utf-8")
    return prov


def write_auto_fit(run_dir: Path, fit_json: Mapping[str, Any]) -> Path:
    """run_dir/swiftkit/auto_fit.json: the batches `train --auto-fit` changed, before and after.

    plan.json already describes the run as trained (the fitted batches); this file says that
    they were chosen by auto-fit and what the recipe had."""
    path = run_dir / PROVENANCE_DIR / "auto_fit.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(fit_json), indent=2, default=str), encoding="utf-8")
    return path


def read_provenance(run_dir: Path) -> dict[str, Any]:
    """The swift argv and env recorded for a run (for --resume)."""
    path = run_dir / PROVENANCE_DIR / "swift_args.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        msg = (
            f"{path}: cannot read the run's recorded arguments ({e}). Resume needs a swiftkit run."
        )
        raise RecipeError(msg) from e
