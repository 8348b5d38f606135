"""A recipe written as swift's own config file, for `swift sft CONFIG` (train --dry-run
--swift-config PATH).

swift/cli/main.py parse_yaml_args reads a first argument ending in .yaml, .yml or .json: it pops
the `ENV` block into the environment (str(value) each), then turns every other key into
`--key value` (a list into several values, a mapping into JSON, anything else str()). A null
would reach swift as the text None, so unset flags are left out; credentials are left out too,
since this file is meant to be kept and shared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swiftkit.recipe.blocks import SWIFT_ENV_KEY
from swiftkit.recipe.secrets import SECRET_FLAGS, redact_env

SWIFT_CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


def swift_config(args: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The flat flags (values as swiftkit passes them, unset ones left out) and an ENV block."""
    config = {k: _plain(v) for k, v in args.items() if v is not None and k not in SECRET_FLAGS}
    safe_env = {k: v for k, v in redact_env(env).items() if v == env[k]}
    if safe_env:
        config[SWIFT_ENV_KEY] = safe_env
    return config


def _plain(value: Any) -> Any:
    """10.0 as 10 (swift reads either), so the file reads like the recipe it came from."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def left_out(args: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """The flags and variables swift_config leaves out because they hold credentials."""
    secrets = [k for k, v in args.items() if k in SECRET_FLAGS and v is not None]
    return secrets + [k for k, v in redact_env(env).items() if v != env[k]]


def render_swift_config(
    path: Path, args: Mapping[str, Any], env: Mapping[str, str], *, source: str, notes=()
) -> str:
    """The file's text: JSON when `path` ends in .json, YAML with a header comment otherwise."""
    config = swift_config(args, env)
    if path.suffix == ".json":
        return json.dumps(config, indent=2, ensure_ascii=False) + "\n"
    import yaml

    header = [
        f"# The swift config equivalent of {source} (extends and overrides applied),",
        "# written by swiftkit train --dry-run --swift-config.",
        f"# Run it with: swift sft {path}",
    ]
    missing = left_out(args, env)
    if missing:
        header.append(
            f"# Left out because they hold credentials: {', '.join(missing)}. Pass them on the "
            "command line or in the environment."
        )
    header += [f"# {note}" for note in notes]
    body = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(header) + "\n" + body
