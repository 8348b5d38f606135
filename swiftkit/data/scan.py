"""One pass over a local dataset (a file, or the files swift reads from a folder): swift's row
checks, the {{NAME}}/{{AUTHOR}} rows and, given a LengthContext, the token lengths, row by row in
bounded memory. Each file is read once per plan (rows are read again only by number, when the
longest row needs rows that were not kept aside), and what it found is cached
(swiftkit.data.lengthcache) when the file has no problems.

File-level problems (missing, unreadable, invalid JSON) make the dataset's rows unknown, as in
swiftkit.data.datasets.inspect_dataset; row problems are listed and the other rows counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swiftkit.data import lengthcache, parallelscan
from swiftkit.data.datafiles import _OTHER_SUFFIXES, DATA_SUFFIXES, _folder_files, not_found
from swiftkit.data.lengthcontext import LengthContext
from swiftkit.data.lengthscan import LengthScan
from swiftkit.data.profile import LengthSummary
from swiftkit.data.rowcheck import RowChecker
from swiftkit.data.rowstream import FileProblem, fetch_records, iter_records, streams
from swiftkit.data.scanmerge import merge_scans
from swiftkit.data.splitscan import pass_rows


@dataclass
class ScanResult:
    """rows: rows swift keeps after its row checks (None: the data cannot be read here)."""

    rows: int | None
    formats: tuple[str, ...] = ()
    placeholder_rows: int = 0
    lengths: LengthSummary | None = None
    cached_files: int = 0
    files: list[str] = field(default_factory=list)


def scan_path(
    path: Path,
    label: str,
    problems: list[str],
    ctx: LengthContext | None = None,
    cache_key: dict[str, Any] | None = None,
    *,
    where: str | None = None,
) -> ScanResult:
    """Read a local dataset as swift will; append one house-form message per problem.

    ctx: measure token lengths (None: rows and formats only). cache_key: what else the result
    depends on (tokenizer, template, system, max_length); None disables the cache. where: the
    recipe's file:line naming the dataset, for the message when it does not exist.
    """
    path = Path(path)
    if not path.exists():
        problems.append(not_found(label, path, where))
        return ScanResult(None)
    if path.is_dir():
        file_problems: list[str] = []
        files = _folder_files(path, label, file_problems)
        if file_problems:
            problems.extend(file_problems)
            return ScanResult(None)
        labels = [f"{label.rstrip('/')}/{f.relative_to(path).as_posix()}" for f in files]
    else:
        files, labels = [path], [label]
    if any(f.suffix.lower() in _OTHER_SUFFIXES for f in files):
        return ScanResult(None)  # swift reads parquet/arrow; swiftkit cannot
    file_level: list[str] = []
    row_level: list[str] = []
    parts: list[dict[str, Any]] = []
    for f, lab in zip(files, labels, strict=True):
        part = _scan_file(f, lab, ctx, cache_key, file_level, row_level)
        if part is not None:
            parts.append(part)
    if file_level:
        problems.extend(file_level)
        return ScanResult(None)
    problems.extend(row_level)
    rows = sum(p["rows"] for p in parts)
    formats = tuple(dict.fromkeys(fmt for p in parts for fmt in p["formats"]))
    lengths = None
    if ctx is not None:
        lengths = LengthSummary.merge([LengthSummary.from_json(p["lengths"]) for p in parts])
    if rows == 0:
        problems.append(
            f"{label}: no row is in a format swift accepts, so swift "
            "fails while loading it. Fix the rows listed above."
        )
    return ScanResult(
        rows,
        formats,
        sum(p["placeholder_rows"] for p in parts),
        lengths,
        sum(bool(p.get("cached")) for p in parts),
        [str(f) for f in files],
    )


def _scan_file(
    path: Path,
    label: str,
    ctx: LengthContext | None,
    cache_key: dict[str, Any] | None,
    file_level: list[str],
    row_level: list[str],
) -> dict[str, Any] | None:
    suffix = path.suffix.lower()
    key = None
    if cache_key is not None and suffix in DATA_SUFFIXES:
        try:
            key = {**cache_key, "suffix": suffix, "file": lengthcache.file_fingerprint(path)}
        except OSError:
            key = None
        hit = lengthcache.load(key) if key is not None else None
        if hit is not None and (ctx is None or hit.get("lengths") is not None):
            return {**hit, "cached": True}
    checker = RowChecker(label, suffix)
    part, unloadable = _read_or_problem(path, label, checker, ctx)
    if checker.plan_changed():  # later rows' columns pick another preprocessor
        checker = RowChecker(label, suffix, columns=list(checker.columns))
        part, unloadable = _read_or_problem(path, label, checker, ctx)
    problems = checker.problems()
    if unloadable is not None:  # with the rows' own problems, in line order
        file_level.extend(_in_line_order(label, [*unloadable.problems, *problems]))
        return None
    row_level.extend(problems)
    if key is not None and not problems:
        lengthcache.store(key, part)
    return part


def _read_or_problem(
    path: Path, label: str, checker: RowChecker, ctx: LengthContext | None
) -> tuple[dict | None, FileProblem | None]:
    try:
        return _read(path, label, checker, ctx), None
    except FileProblem as e:  # the checker has seen every row that could be read
        return None, e


def _in_line_order(label: str, problems: list[str]) -> list[str]:
    """`label:N:` messages sorted by N; the others (counts of more problems) after them."""

    def line(text: str) -> tuple[int, int]:
        head = text[len(label) + 1 :].split(":", 1)[0] if text.startswith(f"{label}:") else ""
        return (0, int(head)) if head.isdigit() else (1, 0)

    return sorted(problems, key=line)


def _read(path: Path, label: str, checker: RowChecker, ctx: LengthContext | None) -> dict:
    """One pass: by several processes for a big JSON Lines file (data.parallelscan), else here,
    the same way (data.splitscan), so either gives the same part."""
    split = parallelscan.read_parallel(path, label, checker, ctx)
    if split is not None:
        rows, placeholder_rows, formats, states = split
        scan, by_offset = None, True
    else:
        rows, placeholder_rows, formats, scan, by_offset = _read_here(path, label, checker, ctx)
    part: dict[str, Any] = {
        "rows": rows,
        "formats": list(formats),
        "placeholder_rows": placeholder_rows,
        "lengths": None,
    }
    if ctx is not None:
        columns = list(checker.columns)

        def refetch(wheres: list[int]) -> Iterator[tuple[int, list[dict]]]:
            again = RowChecker(label, path.suffix, columns=columns)
            for where, row in fetch_records(path, label, wheres, by_offset=by_offset):
                converted = again.convert(0, row)
                if converted is not None:
                    yield where, converted[0]

        if scan is None:
            scan = merge_scans(ctx, path.stat().st_size, states, refetch)
        part["lengths"] = scan.finish(refetch).to_json()
    return part


def _read_here(path: Path, label: str, checker: RowChecker, ctx: LengthContext | None) -> tuple:
    scan = LengthScan(ctx, path.stat().st_size) if ctx is not None else None
    size = path.stat().st_size if streams(path) else 0
    report = ctx.progress if ctx is not None else None

    def tick(i: int, offset: int) -> None:
        if offset >= 0:
            report(f"reading {path.name}", offset, size)
        else:  # a JSON list: rows so far
            report(f"reading {path.name}", i, None)

    got = pass_rows(iter_records(path, label), checker, scan, tick if report else None)
    if report is not None and got[3] and size:
        report(f"reading {path.name}", size, size)
    return (*got[:3], scan, got[3])
