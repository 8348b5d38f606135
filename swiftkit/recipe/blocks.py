"""A recipe's two reserved blocks besides `extends`: `env:` (launch settings and variables set
before torch is imported) and `swiftkit:` (swiftkit's own settings, never passed to swift)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

LAUNCH_ENV = (
    "CUDA_VISIBLE_DEVICES",
    "NPROC_PER_NODE",
    "NNODES",
    "NODE_RANK",
    "MASTER_ADDR",
    "MASTER_PORT",
)
# swiftkit's own settings. lr_tuned_for_batch: the effective batch the learning rate was chosen
# for (ms-swift's defaults aim at an effective batch of 16). gpu: the card to check memory against.
SWIFTKIT_SETTINGS = {"lr_tuned_for_batch": int, "gpu": str, "description": str}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# swift's own config files carry their variables in an `ENV:` block (swift/cli/main.py
# parse_yaml_args): popped before the flags are turned into argv, each value set as str(value)
# (a YAML true becomes "True"), and an empty or null block ignored (`if env:`).
SWIFT_ENV_KEY = "ENV"


def check_env(
    env: Any,
    where: str,
    problems: list[str],
    *,
    key: str = "env",
    key_where: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables of an `env:` block, or of a swift config file's `ENV:` block (key="ENV":
    values as swift sets them, str(value)). key_where: each variable's own file:line (else the
    block's, `where`)."""
    if env is None or (key == SWIFT_ENV_KEY and not env):
        return {}
    if not isinstance(env, dict):
        problems.append(
            f"{where}: {key} must be a mapping of environment variables (got {env!r}). "
            f"Write e.g. {key}: {{NPROC_PER_NODE: 2}}."
        )
        return {}
    out = {}
    for name, value in env.items():
        at = (key_where or {}).get(name, where) if isinstance(name, str) else where
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            problems.append(
                f"{at}: env key {name!r} is not an environment variable name. Use letters, "
                "digits and _, not starting with a digit (e.g. NPROC_PER_NODE)."
            )
        elif isinstance(value, (dict, list)) or value is None:
            problems.append(
                f"{at}: {key} {name} must be a single value (got {value!r}). Write {name}: VALUE."
            )
        elif key == SWIFT_ENV_KEY:
            out[name] = str(value)
        else:
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def check_settings(
    settings: Any, where: str, problems: list[str], key_where: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """swiftkit's own settings, typed; key_where: each setting's own file:line (else `where`)."""
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        problems.append(
            f"{where}: swiftkit must be a mapping (got {settings!r}). "
            "Write e.g. swiftkit: {lr_tuned_for_batch: 16}."
        )
        return {}
    out = {}
    for key, value in settings.items():
        at = (key_where or {}).get(key, where) if isinstance(key, str) else where
        kind = SWIFTKIT_SETTINGS.get(key)
        if kind is None:
            known = ", ".join(SWIFTKIT_SETTINGS)
            near = difflib.get_close_matches(str(key), list(SWIFTKIT_SETTINGS), n=1, cutoff=0.6)
            hint = f"Did you mean {near[0]}? " if near else ""
            problems.append(
                f"{at}: swiftkit.{key} is not a swiftkit setting. {hint}Use one of: {known}."
            )
        elif kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            problems.append(
                f"{at}: swiftkit.{key} must be a positive integer (got {value!r}). "
                f"Write e.g. {key}: 16 under swiftkit:."
            )
        elif kind is str and not isinstance(value, str):
            problems.append(
                f"{at}: swiftkit.{key} must be a string (got {value!r}). "
                f'Quote it: {key}: "{value}".'
            )
        else:
            out[key] = value
    return out
