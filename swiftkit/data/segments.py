"""A JSON Lines file's one pass in segments: the per-row pipeline (swift's row checks, the
{{NAME}}/{{AUTHOR}} rows, the token-length scan), a reader of one byte range, and the merge of
what ranges read apart found into what one pass over the whole file finds.

A big file is cut into segments at fixed byte positions that depend only on its size
(`segment_starts`); a row belongs to the segment its line starts in. The length scan restarts
what it learns from the stream (swiftkit.data.lengthscan.LengthScan.new_segment) at every
segment start, in one process as in several, so each row's bounds depend only on the rows of
its segment before it. Everything else is a sum, a first-seen order or a top-k by a total order
of (value, row), which merge exactly: row counts, formats and placeholder rows add up; columns
and problems are taken in line order (line numbers counted from the end of the previous range),
the first MAX_ROW_PROBLEMS kept as one reader keeps them; the rows kept aside and the sample
keep the top of their union (swiftkit.data.parallelscan reads the ranges in processes).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

from swiftkit.data.datafiles import _as_object
from swiftkit.data.lengthcontext import LengthContext
from swiftkit.data.lengthscan import LengthScan
from swiftkit.data.rowcheck import RowChecker, has_placeholder
from swiftkit.data.rowformats import MAX_ROW_PROBLEMS, _RowError
from swiftkit.data.rowstream import (
    _BLANK,
    _BOM,
    _FAST_ERRORS,
    FileProblem,
    _line_problem,
    _loads,
    unloadable_lines,
)

SEGMENT_BYTES = 16 << 20  # a segment is at least this big (a file under twice it has one)
MAX_SEGMENTS = 16  # and there are at most this many (enough to share among 2-4 processes)
WARM_BLOCKS, WARM_BLOCK_BYTES = 64, 64 << 10  # the rows every segment learns from
PROGRESS_EVERY = 4096  # rows between progress reports
_NEVER = 1 << 63
_STATE = ("lb", "ub", "lub", "exact", "where", "lower", "heaps", "outside", "sample", "over",
          "tokenized", "best_kept", "best_label", "best_all", "done")  # fmt: skip
_ORDER = itemgetter(0, 1)


def segment_starts(size: int) -> list[int]:
    """Byte positions where the segments of a `size`-byte JSON Lines file start (the first is
    0): size // SEGMENT_BYTES segments of equal size, at least 1 and at most MAX_SEGMENTS."""
    n = max(1, min(MAX_SEGMENTS, size // SEGMENT_BYTES))
    return [size * k // n for k in range(n)]


def first_row(path: Path) -> dict | None:
    """The file's first row when it is JSON Lines whose first non-blank line is an object (what
    rowstream.iter_records reads line by line without falling back to the whole file)."""
    try:
        with path.open("rb") as f:
            head = f.read(64)
            if not head or head.startswith(_BOM) or head.lstrip(b" \t\r\n")[:1] in (b"", b"["):
                return None
            f.seek(0)
            for line in f:
                if line[0] in _BLANK and not line.strip():
                    continue
                try:
                    row = _loads(line)
                except _FAST_ERRORS:
                    return None
                return row if isinstance(row, dict) else None
    except OSError:
        return None
    return None


def warm_rows(path: Path, label: str, checker: RowChecker) -> list[list[dict]]:
    """The messages of rows spread over the whole file, for `warm_up`: those whose lines start
    in WARM_BLOCKS blocks of WARM_BLOCK_BYTES at evenly spaced positions (lines that cannot be
    loaded and rows swift drops left out)."""
    size, rows, again = path.stat().st_size, [], checker.fresh()
    for k in range(WARM_BLOCKS):
        start = size * k // WARM_BLOCKS
        for n, row, _offset in range_records(path, label, start, start + WARM_BLOCK_BYTES, {}):
            converted = again.convert(n, row)
            if converted is not None:
                rows.append(converted[0])
    return rows


def warm_up(scan: LengthScan, rows: list[list[dict]]) -> None:
    """Set what every segment starts from (LengthScan.warm): the memo of runs and the floors
    the file's first rows give, measured as `add` measures them. Every process learns the same,
    and a segment's rows then meet a memo about as warm as one pass over the file gives them."""
    bounds, ml = scan.bounds, scan.ctx.max_length
    if scan.encoder is None or bounds is None:
        return
    bounds.forget()
    floor = label_floor = 0
    for messages in rows:
        crosses = ml is not None and bounds.quick(messages)[0] > ml
        lb, ub, label_lb, _label_ub = bounds.measure(messages, stop_above=ml if crosses else None)
        if ub is not None and (ml is None or ub <= ml):
            floor, label_floor = max(floor, lb), max(label_floor, label_lb)
    bounds.flush()
    scan.warm = (dict(bounds.memo or {}), floor, label_floor)
    scan.new_segment()


def pass_rows(
    records: Iterator[tuple[int, dict, int]],
    checker: RowChecker,
    scan: LengthScan | None,
    cuts: list[int],
    tick: Callable[[int, int], None] | None = None,
) -> tuple[int, int, dict[str, None], bool]:
    """Run rows (row number, row, byte offset or -1) through the checks and the scan; a new
    segment starts at each offset of `cuts` (ascending). tick(i, offset) hears of progress.
    Returns (rows kept, rows holding a placeholder, formats in first-seen order, by_offset)."""
    rows = placeholder_rows = 0
    formats: dict[str, None] = {}
    by_offset = True
    later = iter(cuts)
    cut = next(later, _NEVER)
    for i, (n, row, offset) in enumerate(records):
        if offset >= cut:
            while offset >= cut:
                cut = next(later, _NEVER)
            if scan is not None:
                scan.new_segment()
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
            if line[0] in _BLANK and not line.strip():
                continue
            try:
                row = _loads(line)
            except _FAST_ERRORS:
                bad_count += 1
                if len(bad) < MAX_ROW_PROBLEMS:
                    bad += [(n, m) for m in _line_problem(label, n, line)]
                continue
            if not isinstance(row, dict):
                try:
                    _as_object(row, n, "line")
                except _RowError as e:
                    bad_count += 1
                    bad += [(n, f"{label}{e}")] if len(bad) < MAX_ROW_PROBLEMS else []
                    continue
            yield n, row, begin
    found.update(lines=n, bad=bad, bad_count=bad_count)


def read_range(
    path: Path,
    label: str,
    bounds: tuple[int, int],
    cuts: list[int],
    checker: RowChecker,
    ctx: LengthContext | None,
    tick: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """One process's part of a file: the rows whose line starts in [start, end) (`bounds`, each
    a segment start or the file's size), `cuts` the segment starts inside it. `checker` has seen
    no row and has its plan chosen (RowChecker.start_with the file's first row). Returns what
    `merge_parts` takes."""
    found: dict[str, Any] = {}
    size = path.stat().st_size
    scan = LengthScan(ctx, size) if ctx is not None else None
    if scan is not None:
        warm_up(scan, warm_rows(path, label, checker))
    records = range_records(path, label, bounds[0], bounds[1], found)
    rows, placeholder_rows, formats, _by_offset = pass_rows(records, checker, scan, cuts, tick)
    state = None
    if scan is not None:
        if scan.encoder is not None:
            scan._flush()  # the rows crossing max_length, tokenized here
        state = {name: getattr(scan, name) for name in _STATE}
    return {**found, "rows": rows, "placeholder_rows": placeholder_rows,
            "formats": list(formats), "checker": checker.part(), "scan": state}  # fmt: skip


def merge_parts(
    path: Path, label: str, parts: list[dict[str, Any]], checker: RowChecker, ctx
) -> tuple[int, int, dict[str, None], LengthScan | None]:
    """What one pass over the file finds, from its ranges' parts in file order: (rows kept,
    placeholder rows, formats, the length scan ready to finish). The problems go to `checker`;
    lines swift cannot load raise FileProblem as rowstream.iter_records raises it."""
    bad: list[str] = []
    bad_count = lines = rows = placeholder_rows = 0
    formats: dict[str, None] = {}
    for part in parts:
        for n, message in part["bad"]:
            head = f"{label}:{n}:"
            if message.startswith(head):  # numbered from the file's first line
                message = f"{label}:{n + lines}:{message[len(head) :]}"
            bad += [message][: MAX_ROW_PROBLEMS - len(bad)]
        bad_count += part["bad_count"]
        checker.absorb(part["checker"], lines)
        lines += part["lines"]
        rows += part["rows"]
        placeholder_rows += part["placeholder_rows"]
        formats.update(dict.fromkeys(part["formats"]))
    bad = unloadable_lines(label, bad, bad_count)
    if bad:
        raise FileProblem(bad)
    if ctx is None:
        return rows, placeholder_rows, formats, None
    return rows, placeholder_rows, formats, _merge_scans(ctx, path, [p["scan"] for p in parts])


def _merge_scans(ctx: LengthContext, path: Path, states: list[dict[str, Any]]) -> LengthScan:
    """One LengthScan holding the parts' rows in file order (row numbers shifted by the rows
    before), as if it had read them all: arrays and counts joined, maxima taken, and the rows
    kept aside and the sample cut to the top of their union by the same total order as `add`
    keeps them ((key, -row) and (-hash, row): no ties), the highest key left out noted."""
    scan = LengthScan(ctx, path.stat().st_size)
    sizes = {"kept": ctx.heap_rows, "label": ctx.heap_rows, "long": max(ctx.heap_rows // 16, 8)}
    heaps: dict[str, list] = {name: [] for name in sizes}
    sample: list = []
    for st in states:
        base = len(scan.ub)
        for name in ("lb", "ub", "lub", "exact", "where"):
            getattr(scan, name).extend(st[name])
        scan.lower.update((i + base, lb) for i, lb in st["lower"].items())
        for name in sizes:
            heaps[name] += [(key, neg - base, m) for key, neg, m in st["heaps"][name]]
            scan.outside[name] = max(scan.outside[name], st["outside"][name])
        sample += [(key, i + base, m) for key, i, m in st["sample"]]
        for name in ("over", "tokenized", "done"):
            setattr(scan, name, getattr(scan, name) + st[name])
        for name in ("best_kept", "best_label", "best_all"):
            setattr(scan, name, max(getattr(scan, name), st[name]))
    for name, size in sizes.items():
        entries = sorted(heaps[name], key=_ORDER, reverse=True)
        if len(entries) > size:
            scan.outside[name] = max(scan.outside[name], entries[size][0])
        scan.heaps[name] = entries[:size]
        heapq.heapify(scan.heaps[name])
    scan.sample = sorted(sample, key=_ORDER, reverse=True)[: scan.sample_rows]
    heapq.heapify(scan.sample)
    return scan
