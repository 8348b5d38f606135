"""What the byte ranges of a big file (swiftkit.data.splitscan) found, merged into what one pass
over the whole file finds; why that is exact is in splitscan's docstring."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from swiftkit.data.lengthcontext import LengthContext
from swiftkit.data.lengthscan import UNKNOWN, LengthScan
from swiftkit.data.rowcheck import RowChecker
from swiftkit.data.rowformats import MAX_ROW_PROBLEMS
from swiftkit.data.rowstream import FileProblem, unloadable_lines

_ORDER = itemgetter(0, 1)


def merge_parts(
    label: str, parts: list[dict[str, Any]], checker: RowChecker
) -> tuple[int, int, dict[str, None], list]:
    """What one pass over the file finds, from its ranges' parts in file order: (rows kept,
    placeholder rows, formats, the scans' states for `merge_scans`). The problems go to
    `checker`; lines swift cannot load raise FileProblem as rowstream.iter_records raises it."""
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
    return rows, placeholder_rows, formats, [p["scan"] for p in parts]


def merge_scans(
    ctx: LengthContext, size: int, states: list[dict[str, Any]], refetch: Callable
) -> LengthScan:
    """One LengthScan holding the ranges' rows in file order (row numbers shifted by the rows
    before), as one pass makes it: arrays and counts joined, maxima taken, the floors replayed
    (splitscan's docstring), the rows kept aside and the sample cut to the top of their union
    by the total order `add` keeps them in ((key, -row) and (-hash, row)). refetch(wheres) reads
    rows again (LengthScan.finish's), for rows kept aside that no range kept."""
    scan = LengthScan(ctx, size)
    ml, floors = ctx.max_length, (0, 0)
    long_size = max(ctx.heap_rows // 16, 8)
    long, sample, known = [], [], {}
    for st in states:
        base = len(scan.ub)
        for name in ("lb", "ub", "lub", "exact", "where"):
            getattr(scan, name).extend(st[name])
        scan.lower.update((i + base, lb) for i, lb in st["lower"].items())
        long += [(key, neg - base, m) for key, neg, m in st["heaps"]["long"]]
        scan.outside["long"] = max(scan.outside["long"], st["outside"]["long"])
        known.update(
            (base - neg, m) for name in ("kept", "label") for _k, neg, m in st["heaps"][name]
        )
        sample += [(key, i + base, m) for key, i, m in st["sample"]]
        for name in ("over", "tokenized", "done"):
            setattr(scan, name, getattr(scan, name) + st[name])
        for name in ("best_kept", "best_label", "best_all"):
            setattr(scan, name, max(getattr(scan, name), st[name]))
        floors = _replay(scan, ml, st["measured"], base, floors)
    long.sort(key=_ORDER, reverse=True)
    if len(long) > long_size:
        scan.outside["long"] = max(scan.outside["long"], long[long_size][0])
    scan.heaps["long"] = long[:long_size]
    scan.sample = sorted(sample, key=_ORDER, reverse=True)[: scan.sample_rows]
    for heap in (scan.heaps["long"], scan.sample):
        heapq.heapify(heap)
    if scan.encoder is not None:
        _rebuild_kept(scan, ml, known, refetch)
    return scan


def _replay(scan: LengthScan, ml, measured: dict, base: int, floors: tuple[int, int]):
    """LengthScan.add's choice of the rows it measures, with one pass's floors (`floors` at the
    range's start): a row measured here that one pass would not measure gets its quick bounds
    back. Returns the floors at the range's end."""
    floor, label_floor = floors
    for i, (ub, lub, lb, label_lb) in measured.items():
        j = i + base
        if (ml is not None and ub > ml) or ub > floor or lub > label_floor:
            if ml is None or scan.ub[j] <= ml:
                floor, label_floor = max(floor, lb), max(label_floor, label_lb)
        else:
            scan.lb[j], scan.ub[j], scan.lub[j] = 0, min(ub, UNKNOWN - 1), min(lub, UNKNOWN - 1)
    return floor, label_floor


def _rebuild_kept(scan: LengthScan, ml, known: dict[int, list], refetch: Callable) -> None:
    """The rows kept aside for the longest kept row and label: the top heap_rows by (bound,
    earliest row) of the rows within max_length, the highest bound left out noted; messages from
    the ranges' own heaps (which hold every such row but those given quick bounds back)."""
    size, rows = scan.ctx.heap_rows, range(len(scan.ub))
    within = rows if ml is None else [j for j in rows if scan.ub[j] <= ml]
    for name, keys in (("kept", scan.ub), ("label", scan.lub)):
        top = heapq.nlargest(size + 1, ((keys[j], -j) for j in within))
        if len(top) > size:
            scan.outside[name] = top.pop()[0]
        missing = {scan.where[-neg]: -neg for _key, neg in top if -neg not in known}
        if missing:
            known.update((missing[w], m) for w, m in refetch(list(missing)))
        scan.heaps[name] = [(key, neg, known[-neg]) for key, neg in top]
        heapq.heapify(scan.heaps[name])
