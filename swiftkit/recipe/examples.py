"""The value a fix hint suggests for a flag whose value has the wrong type or is not a choice.

The suggestion is swift's own default for that flag (swiftkit/recipe/sft_flags.json, captured
from swift's argument dataclasses), so `num_train_epochs: 3 epochs` is answered with
`num_train_epochs: 3`, never with a number unrelated to the flag.
"""

from __future__ import annotations

import difflib
from typing import Any

from swiftkit.recipe.flags import Flag

# Flags whose schema default is None because swift works the value out later; the value given
# is the one swift picks in the common LoRA case.
TYPICAL = {
    # swift/arguments/sft_args.py SftArguments.__post_init__: 1e-4 for tuners, 1e-5 for full
    "learning_rate": 1e-4,
    # swift/arguments/sft_args.py: unset, ceil(16 / batch / world size), 16 on one GPU at batch 1
    "gradient_accumulation_steps": 16,
}
# What to write when a flag has neither a default nor a typical value.
_KIND_HINT = {
    "int": "a whole number",
    "float": "a number",
    "str": "a string",
    "list": "a list, e.g. [VALUE, VALUE]",
}


def yaml_text(value: Any) -> str:
    """`value` as a recipe line would spell it (true, 3, 0.0001, [a, b])."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_text(v) for v in value) + "]"
    return str(value)


def example_value(flag: Flag, got: Any = None) -> str | None:
    """The value to suggest for `flag` after `got` was refused, as recipe text, or None.

    Choices: the one closest to what was written (difflib, as flag names are matched), else
    swift's default, else the first. Otherwise swift's default when it has a real one (not
    None, [] or ""), else a TYPICAL value, else None (the caller names the kind instead).
    """
    if flag.choices:
        words = {str(c): c for c in flag.choices}
        close = difflib.get_close_matches(str(got), list(words), n=1, cutoff=0.88)
        if close:
            return yaml_text(words[close[0]])
        default = flag.default if flag.default in flag.choices else flag.choices[0]
        return yaml_text(default)
    if flag.default not in (None, [], "", {}):
        return yaml_text(flag.default)
    if flag.name in TYPICAL:
        return yaml_text(TYPICAL[flag.name])
    return None


def fix_hint(flag: Flag, got: Any, *, override: bool) -> str:
    """`Write num_train_epochs: 3.` (or `num_train_epochs=3` on the command line)."""
    if flag.kind == "bool":  # the default may be the opposite of what was meant
        sep = "=" if override else ": "
        return f"Write {flag.name}{sep}true or {flag.name}{sep}false."
    value = example_value(flag, got)
    if value is None:
        kind = _KIND_HINT.get(flag.kind)
        return f"Write {kind} for {flag.name}." if kind else "Fix the value."
    return f"Write {flag.name}={value}." if override else f"Write {flag.name}: {value}."
