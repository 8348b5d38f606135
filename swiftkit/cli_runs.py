"""`swiftkit status` and `swiftkit compare`: watching runs. Part of the command line (cli.py calls
add_parsers); prints plain text when stdout is not a terminal, rich tables when it is.

Exit codes: 0 shown, 2 bad input (no such run directory, no runs for a recipe); errors are raised
as SwiftkitError and reported by cli.main.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from swiftkit import curves
from swiftkit.rundir import PROVENANCE_DIR
from swiftkit.runs import Run, find_run, read_run
from swiftkit.runstate import RUNNING

EXIT_OK = 0
GIB = 1024**3
STATE_STYLE = {
    "running": "bold cyan",
    "finished": "bold green",
    "failed": "bold red",
    "interrupted": "bold yellow",
}
MARK_STYLE = {"·": "blue", "•": "bold blue", "E": "bold red"}


def add_parsers(sub) -> None:
    p = sub.add_parser("status", help="state, progress, loss and memory of a run")
    p.add_argument(
        "run",
        nargs="?",
        metavar="RUN_DIR|RECIPE",
        help="a run directory, an output root or a recipe (its newest run); "
        "default: the newest run under ./output",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=5.0,
        metavar="SECONDS",
        help="refresh in place every SECONDS (default 5) until the run ends",
    )
    p.add_argument(
        "--png", type=Path, help="where to write the loss curve (default RUN_DIR/swiftkit/loss.png)"
    )
    p.add_argument("--no-png", action="store_true", help="do not write the loss curve")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("compare", help="one table and one plot for several runs")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR|RECIPE")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--png",
        type=Path,
        default=Path("compare.png"),
        help="where to write the plot (default ./compare.png)",
    )
    p.add_argument("--no-png", action="store_true", help="do not write the plot")
    p.set_defaults(func=cmd_compare)


def _num(v: float | None, fmt: str = ".4f") -> str:
    return "-" if v is None else format(v, fmt)


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(seconds)
    h, m, s = s // 3600, s % 3600 // 60, s % 60
    return f"{h}h {m}m {s}s" if h else f"{m}m {s}s" if m else f"{s}s"


def summarize(run: Run, now: float | None = None) -> dict[str, Any]:
    """What status shows, in numbers (also the --json output)."""
    now = time.time() if now is None else now
    raw = [p.loss for p in run.train]
    sm = curves.smooth(raw)
    best = min(run.train, key=lambda p: p.loss, default=None)
    best_eval = min(run.evals, key=lambda e: e.eval_loss, default=None)
    live = run.state.state == RUNNING
    since = max(0.0, now - run.log_mtime) if live and run.log_mtime else 0.0
    elapsed = run.wall_time_s + since if run.wall_time_s is not None else None
    eta = max(0.0, run.remaining_s - since) if live and run.remaining_s is not None else None
    stab = curves.measure_stability(run.train)
    plan_peak = run.planned_peak_reserved_bytes
    return {
        "run_dir": str(run.run_dir),
        "state": run.state.state,
        "reason": run.state.reason,
        "exit_code": run.state.exit_code,
        "global_step": run.global_step,
        "max_steps": run.max_steps,
        "planned_max_steps": run.planned_max_steps,
        "epoch": run.epoch,
        "elapsed_s": elapsed,
        "eta_s": eta,
        "seconds_per_step": run.seconds_per_step,
        "learning_rate": run.train[-1].learning_rate if run.train else None,
        "peak_learning_rate": run.learning_rate,
        "effective_batch_size": run.effective_batch_size,
        "loss": raw[-1] if raw else None,
        "smoothed_loss": sm[-1] if sm else None,
        "best_loss": best.loss if best else None,
        "best_loss_step": best.step if best else None,
        "eval_loss": run.evals[-1].eval_loss if run.evals else None,
        "eval_loss_step": run.evals[-1].step if run.evals else None,
        "best_eval_loss": best_eval.eval_loss if best_eval else None,
        "best_eval_loss_step": best_eval.step if best_eval else None,
        "peak_memory_gib": run.peak_memory_gib,
        "planned_peak_reserved_gib": plan_peak / GIB if isinstance(plan_peak, int) else None,
        "checkpoints": [c.path.name for c in run.checkpoints],
        "best_checkpoint": run.best_checkpoint.name if run.best_checkpoint else None,
        "best_metric": run.best_metric,
        "stability": None
        if stab is None
        else {
            "roughness": stab.roughness,
            "worst": stab.worst,
            "worst_step": stab.worst_step,
            "window_logs": stab.window_logs,
            "threshold": stab.threshold,
            "high": stab.high,
        },
        "warnings": list(curves.check_curves(run)),
    }


def status_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs, shared by the plain and the rich rendering."""
    step = "-" if s["global_step"] is None else str(s["global_step"])
    pct = (
        f" ({s['global_step'] / s['max_steps']:.0%})" if s["global_step"] and s["max_steps"] else ""
    )
    plan = (
        f", plan {s['planned_max_steps']}"
        if s["planned_max_steps"] not in (None, s["max_steps"])
        else ""
    )
    if s["state"] == RUNNING:
        when = f"{_dur(s['elapsed_s'])} elapsed, ETA {_dur(s['eta_s'])}"
    else:
        when = f"{_dur(s['elapsed_s'])} wall time, {s['state']}"
    speed = f" ({s['seconds_per_step']:.2f} s/step)" if s["seconds_per_step"] else ""
    lr = f"{s['learning_rate']:.3g}" if s["learning_rate"] is not None else "-"
    peak_lr = f" (peak {s['peak_learning_rate']:g})" if s["peak_learning_rate"] else ""
    best = (
        f", best {_num(s['best_loss'])} at step {s['best_loss_step']}"
        if s["best_loss"] is not None
        else ""
    )
    if s["eval_loss"] is None:
        ev = "- (no validation set, or not evaluated yet)"
    else:
        ev = (
            f"{_num(s['eval_loss'])} at step {s['eval_loss_step']}, best "
            f"{_num(s['best_eval_loss'])} at step {s['best_eval_loss_step']}"
        )
    plan_mem = (
        f"plan {s['planned_peak_reserved_gib']:.2f} GiB"
        if s["planned_peak_reserved_gib"] is not None
        else "no plan"
    )
    if s["peak_memory_gib"] is None:
        mem = f"not logged (swift logs memory(GiB) on a GPU only); {plan_mem}"
    else:
        ratio = (
            f" = {s['peak_memory_gib'] / s['planned_peak_reserved_gib']:.0%} of plan"
            if s["planned_peak_reserved_gib"]
            else ""
        )
        mem = f"{s['peak_memory_gib']:.2f} GiB reserved; {plan_mem}{ratio}"
    ckpts = ", ".join(s["checkpoints"]) or "none yet"
    if s["best_checkpoint"]:
        gone = "" if s["best_checkpoint"] in s["checkpoints"] else ", deleted"
        ckpts += f" (best: {s['best_checkpoint']}, eval_loss {_num(s['best_metric'])}{gone})"
    st = s["stability"]
    stab = (
        "- (fewer than 5 logged losses)"
        if st is None
        else (
            f"roughness {st['roughness']:.3f} over the last {st['window_logs']} logs, worst "
            f"{st['worst']:.3f} at step {st['worst_step']} ({'HIGH' if st['high'] else 'ok'}: "
            f"above {st['threshold']:.2f} is noisy)"
        )
    )
    return [
        ("run", s["run_dir"]),
        ("state", s["state"] if s["reason"] == s["state"] else f"{s['state']} ({s['reason']})"),
        ("step", f"{step}/{s['max_steps'] or '?'}{pct}{plan}, epoch {_num(s['epoch'], '.2f')}"),
        ("time", f"{when}{speed}"),
        ("learning rate", f"{lr}{peak_lr}"),
        ("loss", f"{_num(s['loss'])} latest, {_num(s['smoothed_loss'])} smoothed{best}"),
        ("eval_loss", ev),
        ("peak memory", mem),
        ("checkpoints", ckpts),
        ("stability", stab),
    ]


def _plain_status(s: dict[str, Any], chart: list[str], png: Path | None) -> str:
    lines = [f"{label + ':':<15}{value}" for label, value in status_rows(s)]
    lines += ["warnings:", *(f"  - {w}" for w in s["warnings"])] if s["warnings"] else []
    if chart:
        lines += ["loss (· logged, • smoothed, E eval):", *chart]
    if png:
        lines.append(f"loss curve: {png}")
    return "\n".join(lines)


def _rich_status(s: dict[str, Any], chart: list[str], png: Path | None):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for label, value in status_rows(s):
        style = STATE_STYLE.get(s["state"], "") if label == "state" else ""
        table.add_row(label, Text(value, style=style))
    parts: list[Any] = [table]
    for w in s["warnings"]:
        parts.append(Text(f"warning: {w}", style="yellow"))
    if chart:
        parts.append(Text("loss (· logged, • smoothed, E eval):", style="bold"))
        for line in chart:
            text = Text(line)
            for i, ch in enumerate(line):
                if ch in MARK_STYLE and i > 10:
                    text.stylize(MARK_STYLE[ch], i, i + 1)
            parts.append(text)
    if png:
        parts.append(Text(f"loss curve: {png}", style="dim"))
    return Group(*parts)


def _status_once(args, run_dir: Path, tty: bool):
    run = read_run(run_dir)
    s = summarize(run)
    png = None
    if not args.no_png and len(run.train) >= 1:
        png = curves.plot_run(run, args.png or run_dir / PROVENANCE_DIR / "loss.png")
    s["png"] = str(png) if png else None
    if args.json:
        return run, json.dumps(s, indent=None if args.watch else 2)
    chart = curves.text_chart(run)
    return run, (_rich_status(s, chart, png) if tty else _plain_status(s, chart, png))


def cmd_status(args) -> int:
    run_dir = find_run(args.run)
    tty = sys.stdout.isatty() and not args.json
    if not args.watch:
        _show(_status_once(args, run_dir, tty)[1], tty)
        return EXIT_OK
    try:
        if tty:
            from rich.console import Console
            from rich.live import Live

            with Live(console=Console(), auto_refresh=False, screen=False) as live:
                while True:
                    run, view = _status_once(args, run_dir, tty)
                    live.update(view, refresh=True)
                    if run.state.state != RUNNING:
                        break
                    time.sleep(args.watch)
        else:
            while True:
                run, view = _status_once(args, run_dir, tty)
                print(view, flush=True)
                if run.state.state != RUNNING:
                    break
                time.sleep(args.watch)
                if not args.json:
                    print("", flush=True)
    except KeyboardInterrupt:
        pass  # stopping the watch is not an error; the run goes on
    return EXIT_OK


def _show(view, tty: bool) -> None:
    if tty:
        from rich.console import Console

        Console().print(view)
    else:
        print(view, flush=True)


COLUMNS = (
    "run",
    "state",
    "batch",
    "lr",
    "steps",
    "final loss",
    "best loss",
    "eval loss",
    "peak mem",
    "wall time",
)


def compare_row(run: Run) -> dict[str, Any]:
    s = summarize(run)
    return {
        "run": run.name,
        "run_dir": str(run.run_dir),
        "state": s["state"],
        "effective_batch_size": run.effective_batch_size,
        "learning_rate": run.learning_rate,
        "global_step": run.global_step,
        "max_steps": run.max_steps,
        "final_loss": s["loss"],
        "best_loss": s["best_loss"],
        "eval_loss": s["eval_loss"],
        "best_eval_loss": s["best_eval_loss"],
        "peak_memory_gib": run.peak_memory_gib,
        "wall_time_s": run.wall_time_s,
    }


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
        _num(r["final_loss"]),
        _num(r["best_loss"]),
        _num(r["eval_loss"]),
        mem,
        _dur(r["wall_time_s"]),
    ]


def plain_table(rows: list[dict[str, Any]]) -> str:
    cells = [list(COLUMNS), *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    )


def cmd_compare(args) -> int:
    dirs = list(dict.fromkeys(find_run(ref) for ref in args.runs))
    runs = [read_run(d) for d in dirs]
    rows = [compare_row(r) for r in runs]
    png = None if args.no_png else curves.plot_runs(runs, args.png)
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
