"""Flag names (and a few values) of older ms-swift releases, read against ms-swift 4.6.

The table is flag_history.yaml (one entry per old name, each with the release source it comes
from); flags_capture copies it into sft_flags.json as `history` and `old_values`, checking that
every target exists in the installed swift. Here, at validate time, an old name is either
translated (same meaning, same value: a notice) or reported with the exact line to write instead.
A known old name always wins over a spelling match: `use_flash_attn` is attn_impl, never the
unrelated use_flash_ckpt that difflib finds closest.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

_TRUE = frozenset({"true", "yes", "t", "y", "1"})
_FALSE = frozenset({"false", "no", "f", "n", "0"})
OLD_VALUES_KEY = "_values_of_current_flags"


def value_key(value: Any, kind: str | None) -> str | None:
    """The text an old value is looked up by: bools as true/false, numbers as digits."""
    if kind == "bool":
        text = str(value).strip().lower()
        if isinstance(value, bool) or text in _TRUE | _FALSE:
            return "true" if (value is True or text in _TRUE) else "false"
        return None
    if kind == "int":
        try:
            return str(int(str(value).strip()))
        except ValueError:
            return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def yaml_text(value: Any) -> str:
    """A value as one would write it in a recipe line (a one-item list as its item)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        items = [yaml_text(v) for v in value]
        return items[0] if len(items) == 1 else "[" + ", ".join(items) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {yaml_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def is_rename(entry: Mapping[str, Any]) -> bool:
    """Same meaning, same value: the old name can simply be read as the new one."""
    return bool(entry.get("new")) and not any(
        entry.get(k) for k in ("values", "convert", "instead", "also_any")
    )


def era(entry: Mapping[str, Any]) -> str:
    return f"{str(entry['last']).split('.')[0]}.x"


def new_value(entry: Mapping[str, Any], value: Any) -> tuple[bool, Any]:
    """(found, the value for entry['new']): found is False when a value has no equivalent."""
    values = entry.get("values") or {}
    kind = entry.get("kind")
    if entry.get("convert") == "index_dict":
        items = value if isinstance(value, (list, tuple)) else [value]
        return True, {i: item for i, item in enumerate(items)}
    if entry.get("items"):
        items = value if isinstance(value, (list, tuple)) else [value]
        out = []
        for item in items:
            key = value_key(item, "str")
            if key in values and values[key] is None:
                return False, None
            out.append(values.get(key, item))
        return True, out
    if not values:
        return True, value
    key = value_key(value, kind)
    if key not in values or values[key] is None:
        return False, None
    return True, values[key]


def replacement(entry: Mapping[str, Any], value: Any) -> str | None:
    """The exact line(s) to write instead of `old: value`, or None when there is none."""
    if not entry.get("new"):
        return None
    found, new = new_value(entry, value)
    if not found:
        return None
    line = f"{entry['new']}: {yaml_text(new)}"
    extra = (entry.get("also") or {}).get(value_key(value, entry.get("kind")))
    extra = extra or entry.get("also_any")
    return f"{line} and {extra}" if extra else line


def old_name_problem(key: str, value: Any, entry: Mapping[str, Any], where: str) -> str:
    """The message for an old name that cannot simply be translated."""
    line = replacement(entry, value)
    if line is not None:
        return (
            f"{where}: {key} is the ms-swift {era(entry)} flag that became {entry['new']} "
            f"(got {value!r}). Write {line}."
        )
    instead = entry.get("instead") or f"Write {entry['new']}: VALUE."
    if entry.get("new"):
        return (
            f"{where}: {key} is the ms-swift {era(entry)} flag that became {entry['new']} "
            f"(got {value!r}). {instead}"
        )
    return f"{where}: {key} was removed from ms-swift after {entry['last']}. {instead}"


def old_value_problem(name: str, value: Any, entry: Mapping[str, Any], where: str) -> str | None:
    """A message when a current flag holds a value only an older ms-swift understood."""
    values = entry.get("values") or {}
    items = value if isinstance(value, (list, tuple)) else [value]
    old = [str(v) for v in items if value_key(v, "str") in values]
    if not old:
        return None
    found, new = new_value(entry, value)
    what = f"{name} value {old[0]} is ms-swift {era(entry)}'s spelling (got {value!r})"
    if found:
        return f"{where}: {what}. Write {name}: {yaml_text(new)}."
    return f"{where}: {what}. {entry.get('instead') or 'Remove it.'}"


def read_table() -> tuple[dict[str, dict], dict[str, dict]]:
    """(old names, old values of current flags) from flag_history.yaml, keys as value_key."""
    import yaml

    text = resources.files("swiftkit.recipe").joinpath("flag_history.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    old_values = raw.pop(OLD_VALUES_KEY, {})
    return (
        {k: _normalise(v) for k, v in raw.items()},
        {k: _normalise(v) for k, v in old_values.items()},
    )


def _normalise(entry: dict) -> dict:
    """JSON-ready: value maps keyed by value_key (YAML reads `true:` and `4:` as bool and int)."""
    out = dict(entry)
    out["last"] = str(entry["last"])
    kind = entry.get("kind")
    item_kind = "str" if entry.get("items") else kind
    for name in ("values", "also"):
        if name in entry:
            out[name] = {value_key(k, item_kind): v for k, v in entry[name].items()}
    return out


def check_history(history: dict, old_values: dict, flags: dict, renames=(), removed=()) -> None:
    """Refuse a history table that does not fit the installed swift: an old name that is still a
    flag, a target that is not one, or a mapped value the target's type or choices refuse."""
    from swiftkit.recipe.flags import Flag, coerce_value

    if clash := (set(history) & (set(flags) | set(renames) | set(removed))):
        msg = f"flag_history.yaml lists current or 3.x names: {sorted(clash)}"
        raise RuntimeError(msg)
    for name, entry in [*history.items(), *old_values.items()]:
        target = entry.get("new", name if name in old_values else None)
        if target is None:
            continue
        if target not in flags:
            msg = f"flag_history.yaml: {name} -> {target}, not a flag of this swift"
            raise RuntimeError(msg)
        spec = flags[target]
        flag = Flag(target, spec["kind"], spec["item_kind"], True, None, spec["choices"], "")
        for value in (entry.get("values") or {}).values():
            if value is not None:
                coerce_value(flag, value)  # ValueError: the mapped value does not fit
