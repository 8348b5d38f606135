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

PROVENANCE_DIR = "swiftkit"
PACKAGES = ("swiftkit", "ms-swift", "torch", "transformers", "peft", "trl", "datasets")
# swift sft flags whose values are credentials (checked against the flag schema by a test).
SECRET_FLAGS = ("hub_token", "swanlab_token", "swanlab_secret")
REDACTED = "<redacted>"
_SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|CREDENTIAL", re.I)


def output_root(resolved: Mapping[str, Any], base_dir: Path) -> Path:
    """swift's output_dir, or its default `output/<model name>` (arguments/sft_args.py:401)."""
    out = resolved.get("output_dir")
    if not out:
        out = f"output/{Path(str(resolved.get('model') or 'model')).name}"
    path = Path(out).expanduser()
    return path if path.is_absolute() else base_dir / path


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


def redact_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """swift flags that carry credentials (hub_token, swanlab_token ...) as <redacted>."""
    return {k: (REDACTED if k in SECRET_FLAGS and v is not None else v) for k, v in args.items()}


def redact_argv(argv: Sequence[str]) -> list[str]:
    out = list(argv)
    for i, word in enumerate(out[:-1]):
        if word.startswith("--") and word[2:] in SECRET_FLAGS:
            out[i + 1] = REDACTED
    return out


def secret_args(args: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in args.items() if k in SECRET_FLAGS and v is not None}


def restore_secrets(argv: Sequence[str], secrets: Mapping[str, str]) -> list[str]:
    """Put the real values back where provenance wrote <redacted>; drop a flag with none."""
    out: list[str] = []
    words = list(argv)
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("--") and word[2:] in SECRET_FLAGS and i + 1 < len(words):
            value = words[i + 1]
            if value == REDACTED:
                value = secrets.get(word[2:])
            if value is not None:
                out += [word, value]
            i += 2
            continue
        out.append(word)
        i += 1
    return out


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """Launch settings only; anything that looks like a secret is never written or printed."""
    return {k: ("<redacted>" if _SECRET.search(k) else v) for k, v in env.items()}


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
