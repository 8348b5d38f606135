"""A big JSON Lines file read as byte ranges (by several processes: swiftkit.data.parallelscan),
and the per-row pipeline every reader runs; swiftkit.data.scanmerge merges what the ranges found
into exactly what one pass over the whole file finds.

Why it is exact. A row's treatment depends on the rows before it in three ways, none of which
changes the result:
- the row checks' preprocessor comes from the file's first row: every range is given it
  (RowChecker.start_with);
- the memo of the runs' exact token counts only caches values that depend on the run alone (a
  run is counted when a text first holds it: swiftkit.data.textbounds), so a row's bounds depend
  on the row alone;
- the floors (lower bounds on the longest kept row and label) that decide which rows get tight
  bounds: a range starts from 0, never above what one pass has there, so it measures every row
  one pass measures, and maybe more (no side effect: the bounds are pure); scanmerge replays one
  pass's floors over the rows measured (their quick bounds are kept) and gives the rows one pass
  would not have measured their quick bounds back.
The rest is a sum, a first-seen order or a top-k by a total order: row counts, formats and
placeholder rows add up; columns, problems and lines that cannot be loaded are taken in line
order (numbered on from the lines of the ranges before), the first MAX_ROW_PROBLEMS kept as one
reader keeps them; the sample is the rows of smallest hashed position and the rows kept aside
the top by (bound, earliest row) of the union (LengthScan), rebuilt after the replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from swiftkit.data.lengthcontext import LengthContext
from swiftkit.data.lengthscan import LengthScan
from swiftkit.data.rowcheck import RowChecker, has_placeholder
from swiftkit.data.rowformats import MAX_ROW_PROBLEMS
from swiftkit.data.rowstream import _BOM, LineProblem, load_line

BIG_BYTES = 32 << 20  # a JSON Lines file this big is split (when several CPUs are there)
PROGRESS_EVERY = 4096  # rows between progress reports
_STATE = ("lb", "ub", "lub", "exact", "where", "lower", "heaps", "outside", "sample", "over",
          "tokenized", "best_kept", "best_label", "best_all", "done", "measured")  # fmt: skip


def is_big(path: Path) -> bool:
    """Whether `path` may be split: BIG_BYTES or more of JSON Lines whose first line is a row
    (what rowstream.iter_records reads line by line, with no fallback to the whole file)."""
    try:
        return path.stat().st_size >= BIG_BYTES and first_row(path) is not None
    except OSError:
        return False


def first_row(path: Path) -> dict | None:
    """The file's first row when it is JSON Lines whose first non-blank line is an object."""
    try:
        with path.open("rb") as f:
            head = f.read(64)
            if not head or head.startswith(_BOM) or head.lstrip(b" \t\r\n")[:1] in (b"", b"["):
                return None
            f.seek(0)
            for n, line in enumerate(f, 1):
                try:
                    row = load_line(path.name, n, line)
                except LineProblem:
                    return None
                if row is not None:
                    return row if isinstance(row, dict) else None
    except OSError:
        return None
    return None


def pass_rows(
    records: Iterator[tuple[int, dict, int]],
    checker: RowChecker,
    scan: LengthScan | None,
    tick: Callable[[int, int], None] | None = None,
) -> tuple[int, int, dict[str, None], bool]:
    """Run rows (row number, row, byte offset or -1) through the checks and the scan; tick(i,
    offset) hears of progress. Returns (rows kept, rows holding a placeholder, formats in
    first-seen order, whether every row had an offset)."""
    rows = placeholder_rows = 0
    formats: dict[str, None] = {}
    by_offset = True
    for i, (n, row, offset) in enumerate(records):
        by_offset = by_offset and offset >= 0
        converted = checker.convert(n, row)
        if tick is not None and i % PROGRESS_EVERY == 0:
            tick(i, offset)
        if converted is None:
            continue
        messages, fmt = converted
        rows += 1
        if fmt not in formats:
            formats[fmt] = None
        if _may_hold_placeholder(messages) and has_placeholder(messages):
            placeholder_rows += 1
        if scan is not None:
            scan.add(messages, offset if offset >= 0 else i)
    return rows, placeholder_rows, formats, by_offset


def _may_hold_placeholder(messages: list[dict]) -> bool:
    for m in messages:
        content = m["content"]
        if type(content) is not str or "{{" in content:
            return True
    return False


def range_records(
    path: Path, label: str, start: int, end: int, found: dict[str, Any]
) -> Iterator[tuple[int, dict, int]]:
    """(line number in the range from 1, row, byte offset) for the lines that start at or after
    `start` and before `end`, read as rowstream._json_lines reads them; a line it cannot load is
    listed in `found` (bad: (number, message) for the first MAX_ROW_PROBLEMS, bad_count), with
    the lines read (lines), once the range is read. For a file whose first line is a row."""
    n = bad_count = 0
    bad: list[tuple[int, str]] = []
    with path.open("rb") as f:
        offset = 0
        if start:
            f.seek(start - 1)  # the rest of the line holding byte start-1 is the range before
            offset = start - 1 + len(f.readline())
        for line in f:
            if offset >= end:
                break
            n += 1
            begin, offset = offset, offset + len(line)
            try:
                row = load_line(label, n, line)
            except LineProblem as e:
                bad_count += 1
                if len(bad) < MAX_ROW_PROBLEMS:
                    bad += [(n, m) for m in e.messages]
                continue
            if row is None:
                continue
            yield n, row, begin
    found.update(lines=n, bad=bad, bad_count=bad_count)


def read_range(
    path: Path,
    label: str,
    bounds: tuple[int, int],
    checker: RowChecker,
    ctx: LengthContext | None,
    tick: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """One process's part of a big file: the rows whose line starts in [start, end) (`bounds`).
    `checker` has seen no row and has its plan chosen (RowChecker.start_with the file's first
    row). Returns what scanmerge.merge_parts and merge_scans take."""
    found: dict[str, Any] = {}
    scan = LengthScan(ctx, path.stat().st_size) if ctx is not None else None
    records = range_records(path, label, bounds[0], bounds[1], found)
    rows, placeholder_rows, formats, _by_offset = pass_rows(records, checker, scan, tick)
    state = None
    if scan is not None:
        if scan.encoder is not None:
            scan._flush()  # the rows crossing max_length, tokenized here
        state = {name: getattr(scan, name) for name in _STATE}
    return {**found, "rows": rows, "placeholder_rows": placeholder_rows,
            "formats": list(formats), "checker": checker.part(), "scan": state}  # fmt: skip
