"""`swiftkit status`: one run's state, progress, loss and memory, once or live (--watch).

Plain text when stdout is not a terminal, rich tables when it is; --json prints the numbers.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from swiftkit.cli.common import EXIT_OK, STATE_STYLE, duration, num
from swiftkit.watch import charts
from swiftkit.watch.curves import digits_apart
from swiftkit.watch.runs import find_run, read_run
from swiftkit.watch.runstate import PROVENANCE_DIR, RUNNING
from swiftkit.watch.summary import summarize

MARK_STYLE = {"·": "blue", "•": "bold blue", "E": "bold red"}


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "status",
        help="state, progress, loss and memory of a run",
        description="A run's state, step of max_steps, ETA, learning rate, loss (latest and "
        "smoothed), eval_loss, peak memory against the plan, checkpoints, a loss-stability check "
        "and a loss chart (also RUN_DIR/swiftkit/loss.png). "
        "Examples: swiftkit status; swiftkit status qwen7b_selfcog --watch",
    )
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
        when = f"{duration(s['elapsed_s'])} elapsed, ETA {duration(s['eta_s'])}"
    else:
        when = f"{duration(s['elapsed_s'])} wall time, {s['state']}"
    speed = f" ({s['seconds_per_step']:.2f} s/step)" if s["seconds_per_step"] else ""
    lr = f"{s['learning_rate']:.3g}" if s["learning_rate"] is not None else "-"
    peak_lr = f" (peak {s['peak_learning_rate']:g})" if s["peak_learning_rate"] else ""
    best = (
        f", best {num(s['best_loss'])} at step {s['best_loss_step']}"
        if s["best_loss"] is not None
        else ""
    )
    if s["eval_loss"] is None:
        ev = "- (no validation set, or not evaluated yet)"
    else:
        ev = (
            f"{num(s['eval_loss'])} at step {s['eval_loss_step']}, best "
            f"{num(s['best_eval_loss'])} at step {s['best_eval_loss_step']}"
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
        ckpts += f" (best: {s['best_checkpoint']}, eval_loss {num(s['best_metric'])}{gone})"
    st = s["stability"]
    stab = (
        "- (fewer than 5 logged losses)"
        if st is None
        else (
            f"roughness {digits_apart(st['roughness'], st['threshold'])} over the last "
            f"{st['window_logs']} logs, worst {digits_apart(st['worst'], st['threshold'])} at "
            f"step {st['worst_step']} ({'HIGH' if st['high'] else 'ok'}: "
            f"above {st['threshold']:.2f} is noisy)"
        )
    )
    return [
        ("run", s["run_dir"]),
        ("state", s["state"] if s["reason"] == s["state"] else f"{s['state']} ({s['reason']})"),
        ("step", f"{step}/{s['max_steps'] or '?'}{pct}{plan}, epoch {num(s['epoch'], '.2f')}"),
        ("time", f"{when}{speed}"),
        ("learning rate", f"{lr}{peak_lr}"),
        ("loss", f"{num(s['loss'])} latest, {num(s['smoothed_loss'])} smoothed{best}"),
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
        png = charts.plot_run(run, args.png or run_dir / PROVENANCE_DIR / "loss.png")
    s["png"] = str(png) if png else None
    if args.json:
        return run, json.dumps(s, indent=None if args.watch else 2)
    chart = charts.text_chart(run)
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
