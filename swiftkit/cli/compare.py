"""`swiftkit compare`: several runs side by side, one table and one loss plot."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from swiftkit.cli.common import EXIT_OK, STATE_STYLE, duration, num
from swiftkit.watch import charts
from swiftkit.watch.runs import find_run, read_run
from swiftkit.watch.summary import compare_row

COLUMNS = (
    "run",
    "state",
    "effective batch",
    "lr",
    "steps",
    "final loss",
    "best loss",
    "eval loss",
    "peak mem",
    "wall time",
)


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="one table and one plot for several runs",
        description="Several runs side by side: effective batch, learning rate, steps, final and "
        "best loss, eval_loss, peak memory, wall time; their loss curves in one plot. "
        "Example: swiftkit compare output/tiny_demo/v0-* output/tiny_demo/v1-*",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR|RECIPE")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--png",
        type=Path,
        default=None,
        help="where to write the plot (default: compare.png in the folder that holds all the "
        "runs, e.g. their output_dir; ./compare.png when they share none)",
    )
    p.add_argument("--no-png", action="store_true", help="do not write the plot")
    p.set_defaults(func=cmd_compare)


def _cells(r: dict[str, Any]) -> list[str]:
    steps = f"{r['global_step'] if r['global_step'] is not None else '?'}/{r['max_steps'] or '?'}"
    lr = f"{r['learning_rate']:g}" if r["learning_rate"] is not None else "-"
    batch = str(r["effective_batch_size"] or "-")
    mem = f"{r['peak_memory_gib']:.2f} GiB" if r["peak_memory_gib"] is not None else "-"
    return [
        r["run"],
        r["state"],
        batch,
        lr,
        steps,
        num(r["final_loss"]),
        num(r["best_loss"]),
        num(r["eval_loss"]),
        mem,
        duration(r["wall_time_s"]),
    ]


def plain_table(rows: list[dict[str, Any]]) -> str:
    cells = [list(COLUMNS), *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    )


def default_png(dirs: list[Path]) -> Path:
    """compare.png in the deepest folder holding every run (never inside one run, never the
    filesystem root), else in the working directory."""
    resolved = [Path(d).resolve() for d in dirs]
    common = Path(os.path.commonpath(resolved))
    if common in resolved:
        common = common.parent
    if common == Path(common.anchor):
        return Path("compare.png")
    return _relative(common / "compare.png")


def _relative(path: Path) -> Path:
    """The path as the user would type it from the working directory, where it is below it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def cmd_compare(args) -> int:
    dirs = list(dict.fromkeys(find_run(ref) for ref in args.runs))
    runs = [read_run(d) for d in dirs]
    rows = [compare_row(r) for r in runs]
    target = args.png if args.png is not None else default_png(dirs)
    png = None if args.no_png else charts.plot_runs(runs, target)
    tty = sys.stdout.isatty() and not args.json
    if args.json:
        print(json.dumps({"runs": rows, "png": str(png) if png else None}, indent=2), flush=True)
        return EXIT_OK
    if not tty:
        print(plain_table(rows), flush=True)
        if png:
            print(f"plot: {png}", flush=True)
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for name in COLUMNS:
        table.add_column(name, no_wrap=name == "run")
    for r in rows:
        cells = _cells(r)
        cells[1] = f"[{STATE_STYLE.get(r['state'], '')}]{cells[1]}[/]"
        table.add_row(*cells)
    console = Console()
    console.print(table)
    if png:
        console.print(f"plot: {png}", style="dim")
    return EXIT_OK
