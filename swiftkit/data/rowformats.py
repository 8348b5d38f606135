"""Row formats as ms-swift 4.6's preprocessors read them, each row converted or dropped.

Owns which format a file's columns pick, the conversion of each row to [{role, content}], and the
reason swift drops a row. Standard library only. Mirrors swift/dataset/preprocessor/core.py
(swift 4.6.0): the preprocessor a file gets from its columns (739-764), column aliases and
renaming (275-292 safe_rename_columns, 411-422, 507-515), row conversion and the checks that drop
rows (84-102, 220-261, 424-464, 692-716), then the rows swift keeps but its template fails on
(swift/template/base.py:1403-1518). swift drops a bad row and goes on; `_convert_file` reports
each one as a house-form problem instead, up to MAX_ROW_PROBLEMS per file.
"""

from __future__ import annotations

import ast
import contextlib
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any, NoReturn

MAX_ROW_PROBLEMS = 5  # per file; the rest are counted in one line
_ROLES = {"system", "user", "assistant", "tool_call", "tool_response", "tool"}
_ROLE_ALIASES = {
    **dict.fromkeys(("human",), "user"),
    **dict.fromkeys(("gpt", "bot"), "assistant"),
    **dict.fromkeys(("function_call",), "tool_call"),
    **dict.fromkeys(("function_response", "observation", "observations"), "tool_response"),
}
_MESSAGE_KEYS = ("messages", "conversation", "conversations")
# The auto-mapped columns of each preprocessor (core.py:411-422 and 507-515).
_RESPONSE_COLUMNS = {
    **dict.fromkeys(("system", "system_prompt"), "system"),
    **dict.fromkeys(("query", "prompt", "input", "instruction", "question", "problem"), "query"),
    **dict.fromkeys(("response", "answer", "output", "targets", "target", "answer_key", "answers",
                     "solution", "text", "completion", "content"), "response"),
}  # fmt: skip
_MESSAGES_COLUMNS = {
    **dict.fromkeys(_MESSAGE_KEYS, "messages"),
    **dict.fromkeys(("system", "system_prompt"), "system"),
}


class _RowError(Exception):
    """A row swift drops; the message is the part after `row N: `."""


def _drop(text: str) -> NoReturn:
    raise _RowError(text)


def rows_to_messages(row: dict) -> list[dict] | None:
    """One row in any format swift accepts, as [{role, content}]; None when swift drops it.

    The row is judged alone; in a file, the file's columns choose the format for every row
    (a row without "messages" in a file where other rows have it is dropped): see inspect_dataset.
    """
    kind, renames = _plan_columns([row])
    try:
        messages, _fmt = _convert(row, kind, renames)
    except _RowError:
        return None
    return messages


def _plan_columns(rows: Sequence[dict]) -> tuple[str, dict[str, str]]:
    """AutoPreprocessor._get_preprocessor (core.py:745-752), then its column renames."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    if any(k in columns for k in _MESSAGE_KEYS):
        return "messages", _renames(columns, _MESSAGES_COLUMNS)
    kind = "alpaca" if "instruction" in columns and "input" in columns else "response"
    return kind, _renames(columns, _RESPONSE_COLUMNS)


def _renames(columns: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """safe_rename_columns (core.py:275-292): case-insensitive; two columns aiming at the same
    name cancel each other (e.g. "response" and "answer": neither is renamed)."""
    lower = {c.lower(): c for c in columns}
    safe = {lower[k.lower()]: v for k, v in mapping.items() if k.lower() in lower}
    counter = Counter(safe.values())
    return {k: v for k, v in safe.items() if counter[v] == 1 and k != v}


def _convert(row: dict, kind: str, renames: dict[str, str]) -> tuple[list[dict], str]:
    r = {renames.get(k, k): v for k, v in row.items()}
    if kind == "messages":
        return _convert_messages(r, row)
    if kind == "alpaca":  # AlpacaPreprocessor.preprocess, core.py:448-464
        instruction, input_ = r.pop("instruction", None), r.pop("input", None)
        if r.get("output") is not None:
            r["response"] = r["output"]
        query = f"{instruction}\n{input_}" if instruction and input_ else instruction or input_
        if not isinstance(query, str):
            msg = (
                '"instruction" and "input" are both missing or null (got '
                f"{instruction!r}, {input_!r}); swift drops the row. Fill one of them."
            )
            raise _RowError(msg)
        r["query"] = query
    messages = _convert_response(r, row)
    fmt = "alpaca" if kind == "alpaca" else "text" if set(row) == {"text"} else "query-response"
    return messages, fmt


def _convert_response(r: dict, row: dict) -> list[dict]:
    """ResponsePreprocessor.preprocess (core.py:424-443) and history_to_messages."""
    response = r.get("response")
    if isinstance(response, (list, tuple)):
        if not response:
            _drop(
                '"response" is an empty list (got []); swift drops the row. '
                "Give the reply as a string."
            )
        response = response[0]  # swift takes the first unless RANDOM_DATASET_RESPONSE is set
    history = r.get("history") or []
    if isinstance(history, str):
        try:
            history = ast.literal_eval(history)
        except (ValueError, SyntaxError):
            history = None
    if not isinstance(history, list) or not all(
        isinstance(h, (list, tuple)) and len(h) >= 2 for h in history
    ):
        _drop(
            f'"history" must be a list of [query, response] pairs (got '
            f"{_kind(r.get('history'))}); swift drops the row. Fix it or remove it."
        )
    messages = [{"role": "system", "content": r["system"]}] if r.get("system") is not None else []
    for query, reply in [*history, (r.get("query"), response)]:
        if query is not None:
            messages.append({"role": "user", "content": query})
        if reply is not None:
            messages.append({"role": "assistant", "content": reply})
    if not messages or all(m["role"] == "system" for m in messages):
        aliases = [(k, _RESPONSE_COLUMNS.get(k.lower())) for k in r]
        ignored = [k for k, std in aliases if std in ("query", "response") and std != k]
        if ignored:
            _drop(
                f"its {', '.join(map(repr, ignored))} columns are ignored (got keys {sorted(row)}):"
                " swift renames an alias only when no other column of the file maps to the same"
                " name, and here one does. Use one spelling, e.g. query/response, in every row."
            )
        _drop(
            f"has none of the columns swift reads (got keys {sorted(row)}); swift drops the row. "
            'Use "messages", query/response or instruction/input/output.'
        )
    return messages


def _convert_messages(r: dict, row: dict) -> tuple[list[dict], str]:
    """MessagesPreprocessor.preprocess and RowPreprocessor._check_messages (core.py:692-716,
    84-102)."""
    messages = r.get("messages")
    if isinstance(messages, str):  # default_repair_messages: JSON, then a Python literal
        try:
            messages = json.loads(messages)
        except json.JSONDecodeError:
            with contextlib.suppress(ValueError, SyntaxError):
                messages = ast.literal_eval(messages)
    if messages is None:  # silently dropped, core.py:700
        _drop(
            f'has no "messages" (got keys {sorted(row)}); swift reads every row of this file as '
            "messages because other rows have them, and drops this one without a word. "
            "Convert it or move it to its own file."
        )
    if isinstance(messages, list) and not messages:
        _drop(
            '"messages" is an empty list; swift drops the row. Add the conversation '
            "or remove the row."
        )
    if not isinstance(messages, list) or isinstance(messages, str):
        _drop(
            f'"messages" must be a list of {{role, content}} (got {_kind(messages)}).'
            " Fix the row or remove it."
        )
    for i, m in enumerate(messages, 1):
        if not isinstance(m, dict):
            _drop(
                f"message {i} must be an object with role and content (got "
                f"{_kind(m)}); swift drops the row. Fix the row or remove it."
            )
    messages = [dict(m) for m in messages]
    fmt = "sharegpt" if "from" in messages[0] or "value" in messages[0] else "messages"
    for m in messages:  # _to_std_key: the later alias wins, as in swift
        for std, aliases in (("role", ("role", "from")), ("content", ("content", "value"))):
            for key in aliases:
                if key in m:
                    m[std] = m.pop(key)
    system = r.get("system")
    if "role" not in messages[0] and "content" not in messages[0]:
        return _sharegpt_pairs(messages, system), "sharegpt"
    out = []
    for i, m in enumerate(messages, 1):
        if "role" not in m:
            _drop(
                f'message {i} has no "role" (or "from") (got keys {sorted(m)}); swift '
                "drops the row. Add it."
            )
        role = m["role"]
        if isinstance(role, str):  # to_std_messages, core.py:536-550
            role = _ROLE_ALIASES.get(role.replace("-", "_"), role)
        if i == 1 and role != "system" and system is not None:
            out.append({"role": "system", "content": system})
        if not isinstance(role, str) or role not in _ROLES:
            _drop(
                f"message {i} has a role swift does not accept (got {m['role']!r}); "
                "swift drops the row. Use system, user or assistant."
            )
        if m.get("content") is None:
            what = '"content" is null' if "content" in m else 'has no "content" (or "value")'
            _drop(
                f"message {i} {what} (got keys {sorted(m)}); swift drops the row. "
                "Add the text or remove the row."
            )
        kept = {k: m[k] for k in ("loss", "loss_scale") if k in m}  # swift keeps these two
        out.append({"role": role, "content": m["content"], **kept})
    return out, fmt


def _sharegpt_pairs(messages: list[dict], system: Any) -> list[dict]:
    """[{"human": q, "assistant": a}, ...] (sharegpt_to_messages, core.py:523-534)."""
    out = [{"role": "system", "content": system}] if system is not None else []
    for i, m in enumerate(messages, 1):
        user = next((m[k] for k in ("user", "human") if k in m), None)
        reply = next((m[k] for k in ("assistant", "gpt", "bot") if k in m), None)
        if user is None or reply is None:
            _drop(
                f"turn {i} needs a user (human) and an assistant (gpt) entry (got keys "
                f"{sorted(m)}); swift drops the row. Use role/content messages."
            )
        out += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    return out


def _template_problem(messages: list[dict]) -> str | None:
    """Rows swift keeps at loading but that fail or teach nothing in Template.encode
    (swift/template/base.py:1403-1518, template_inputs.py:110-160)."""
    for i, m in enumerate(messages, 1):
        if m["role"] == "system" and i > 1:
            return (
                f"message {i} is a system message after the first turn (got role 'system'); "
                "swift's template fails on it and drops the row. Move it to the start."
            )
        content = m["content"]
        if m["role"] in ("user", "assistant", "system") and not isinstance(content, (str, list)):
            return (
                f"message {i} content must be text (got {_kind(content)}); swift's template "
                "fails on it and drops the row. Make it text."
            )
    if not any(m["role"] == "assistant" for m in messages):
        roles = [m["role"] for m in messages]
        return (
            f"has no assistant turn (got roles {roles}), so there is nothing to learn from it; "
            "swift keeps it and trains on zero tokens. Add the reply or remove the row."
        )
    return None


def _convert_file(records: list, label: str, suffix: str, problems: list[str]) -> list:
    """[(messages, format, row_number)] for the rows swift keeps; problems for the others."""
    kind, renames = _plan_columns([row for _n, row in records])
    unit = "line" if suffix.lower() in (".jsonl", ".txt") else "row"
    kept, row_problems = [], []
    for n, row in records:
        try:
            messages, fmt = _convert(row, kind, renames)
        except _RowError as e:
            row_problems.append((n, str(e)))
            continue
        kept.append((messages, fmt, n))
        issue = _template_problem(messages)
        if issue:
            row_problems.append((n, issue))
    for n, text in row_problems[:MAX_ROW_PROBLEMS]:
        where = f"{label}:{n}:" if unit == "line" else f"{label}: row {n}:"
        problems.append(f"{where} {text}")
    if len(row_problems) > MAX_ROW_PROBLEMS:
        more = len(row_problems) - MAX_ROW_PROBLEMS
        problems.append(
            f"{label}: {more} more {unit}{'s' if more > 1 else ''} with problems like "
            "those above. Fix or remove them."
        )
    return kept


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    for types, name in (
        (bool, "a boolean"),
        (str, "a string"),
        ((int, float), "a number"),
        (list, "a list"),
        (dict, "an object"),
    ):
        if isinstance(value, types):
            return name
    return type(value).__name__
