"""swift's row checks one row at a time: the streaming form of rowformats._convert_file.

A file's columns choose its preprocessor (rowformats._plan_columns, from every row's columns).
Streaming cannot see the last row's columns first, so the plan comes from the first row and the
columns of all rows are collected on the way: `plan_changed()` says when the whole file's columns
pick another plan, and the caller reads the file again with `columns=` given. Rows in the
commonest shape ({"messages": [{role, content}, ...]} with system/user/assistant text) take a
fast path that gives the same result as rowformats._convert and _template_problem.
"""

from __future__ import annotations

from typing import Any

from swiftkit.data.rowformats import (
    MAX_ROW_PROBLEMS,
    _convert,
    _plan_columns,
    _RowError,
    _template_problem,
)

PLACEHOLDERS = ("{{NAME}}", "{{AUTHOR}}")


def has_placeholder(value: Any) -> bool:
    """Whether any string inside value holds {{NAME}} or {{AUTHOR}}."""
    if isinstance(value, str):
        return any(p in value for p in PLACEHOLDERS)
    if isinstance(value, dict):
        return any(has_placeholder(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_placeholder(v) for v in value)
    return False


class RowChecker:
    """Converts the rows of one file to [{role, content}] as swift does, collecting problems.

    `convert(n, row)` returns (messages, format) for a row swift keeps (rows its template fails
    on included, as swift keeps them at loading), or None for a row it drops.
    """

    def __init__(self, label: str, suffix: str, columns: list[str] | None = None) -> None:
        self.label, self.suffix = label, suffix
        self.unit = "line" if suffix.lower() in (".jsonl", ".txt") else "row"
        self.columns: dict[str, None] = dict.fromkeys(columns or ())
        self._fixed = columns is not None
        self.plan: tuple[str, dict[str, str]] | None = (
            _plan_columns([self.columns]) if columns is not None else None
        )
        self._last_keys: Any = None
        self._row_problems: list[tuple[int, str]] = []
        self.problem_count = 0

    def convert(self, n: int, row: dict) -> tuple[list[dict], str] | None:
        keys = row.keys()
        if keys != self._last_keys:
            self._last_keys = keys
            for k in keys:
                if k not in self.columns:
                    self.columns[k] = None
            if self.plan is None:
                self.plan = _plan_columns([row])
        kind, renames = self.plan
        if kind == "messages" and not renames and len(row) == 1:
            fast = _fast_messages(row.get("messages"))
            if fast is not None:
                return fast, "messages"
        try:
            messages, fmt = _convert(row, kind, renames)
        except _RowError as e:
            self._problem(n, str(e))
            return None
        issue = _template_problem(messages)
        if issue:
            self._problem(n, issue)
        return messages, fmt

    def start_with(self, row: dict) -> None:
        """Choose the preprocessor from the file's first row before reading, as `convert` does
        at that row (so that readers of later parts of the file convert alike)."""
        if self.plan is None:
            self.plan = _plan_columns([row])

    def fresh(self) -> RowChecker:
        """A checker with this one's plan (and its columns when given) that has seen no row."""
        other = RowChecker(self.label, self.suffix, list(self.columns) if self._fixed else None)
        other.plan = self.plan
        return other

    def part(self) -> tuple[list[str], list[tuple[int, str]], int]:
        """What this checker found (columns, first problems, problem count), for `absorb`."""
        return list(self.columns), list(self._row_problems), self.problem_count

    def absorb(self, part: tuple[list[str], list[tuple[int, str]], int], lines_before: int) -> None:
        """Take in what a checker found reading on in the same file (its line numbers count from
        1 after `lines_before` lines): the columns, problems and count this one would have."""
        columns, problems, count = part
        for k in columns:
            self.columns.setdefault(k, None)
        room = max(MAX_ROW_PROBLEMS - len(self._row_problems), 0)
        self._row_problems += [(n + lines_before, text) for n, text in problems[:room]]
        self.problem_count += count

    def _problem(self, n: int, text: str) -> None:
        self.problem_count += 1
        if len(self._row_problems) < MAX_ROW_PROBLEMS:
            self._row_problems.append((n, text))

    def plan_changed(self) -> bool:
        """True when the columns of every row pick another preprocessor than the first row's."""
        return (
            not self._fixed
            and self.plan is not None
            and (_plan_columns([self.columns]) != self.plan)
        )

    def problems(self) -> list[str]:
        """The house-form messages, as rowformats._convert_file words them."""
        out = []
        for n, text in self._row_problems:
            where = f"{self.label}:{n}:" if self.unit == "line" else f"{self.label}: row {n}:"
            out.append(f"{where} {text}")
        if self.problem_count > MAX_ROW_PROBLEMS:
            more = self.problem_count - MAX_ROW_PROBLEMS
            out.append(
                f"{self.label}: {more} more {self.unit}{'s' if more > 1 else ''} with problems "
                "like those above. Fix or remove them."
            )
        return out


def _fast_messages(messages: Any) -> list[dict] | None:
    """The row's own messages when they are exactly [{role, content: str}] with system, user and
    assistant roles, a system message only first and an assistant turn: what _convert_messages
    would copy unchanged and _template_problem would pass. None for anything else."""
    if type(messages) is not list or not messages:
        return None
    has_reply, first = False, True
    for m in messages:
        if type(m) is not dict or len(m) != 2:
            return None
        role, content = m.get("role"), m.get("content")
        if type(content) is not str or type(role) is not str:
            return None
        if role == "assistant":
            has_reply = True
        elif role != "user" and (role != "system" or not first):
            return None
        first = False
    return messages if has_reply else None
