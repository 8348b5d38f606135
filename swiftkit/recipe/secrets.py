"""Credentials in recipes: which swift flags and environment variables hold secrets, and their
redaction wherever a recipe, a plan or a command line is printed or written to disk.

The real values reach swift from memory only (swiftkit.run.launch passes them to torchrun ranks
through an environment variable), never through a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# swift sft flags whose values are credentials (checked against the flag schema by a test).
SECRET_FLAGS = ("hub_token", "swanlab_token", "swanlab_secret")
REDACTED = "<redacted>"
_SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|CREDENTIAL", re.I)


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
