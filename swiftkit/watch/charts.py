"""Loss curves drawn: as text for the terminal, and as PNG files (matplotlib with the Agg
backend, imported only when a figure is drawn)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from swiftkit.watch.curves import smooth, smoothing_weight
from swiftkit.watch.runs import Run


def text_chart(run: Run, width: int = 60, height: int = 10) -> list[str]:
    """The loss as a character grid: '·' logged loss, '•' smoothed, 'E' eval loss.

    Lines are plain text; the status command colours the marks when it writes to a terminal.
    """
    if len(run.train) < 2:
        return []
    steps = [p.step for p in run.train]
    raw = [p.loss for p in run.train]
    sm = smooth(raw)
    evals = [(e.step, e.eval_loss) for e in run.evals]
    values = [v for v in (*raw, *(v for _, v in evals)) if math.isfinite(v)]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    eval_steps = [s for s, _ in evals]
    # eval_on_start puts an evaluation at step 0, before the first logged step.
    x0, x1 = min([steps[0], *eval_steps]), max([steps[-1], *eval_steps])
    grid = [[" "] * width for _ in range(height)]

    def put(step: float, value: float, mark: str) -> None:
        if not math.isfinite(value):
            return
        col = round((step - x0) / ((x1 - x0) or 1) * (width - 1))
        row = height - 1 - round((value - lo) / span * (height - 1))
        if mark == "·" and grid[row][col] != " ":
            return
        grid[row][col] = mark

    for s, v in zip(steps, raw, strict=True):
        put(s, v, "·")
    for s, v in zip(steps, sm, strict=True):
        put(s, v, "•")
    for s, v in evals:
        put(s, v, "E")
    labels = {0: hi, height // 2: (hi + lo) / 2, height - 1: lo}
    lines = [
        f"{labels[i]:>9.4g} │{''.join(r)}" if i in labels else f"{'':>9} │{''.join(r)}"
        for i, r in enumerate(grid)
    ]
    axis = f"{'':>9} └{'─' * width}"
    ticks = f"{'':>11}step {x0}".ljust(11 + width - len(str(x1))) + str(x1)
    return [*lines, axis, ticks]


def _figure(rows: int = 1, ratios: Sequence[int] = (1,)):
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, none opened
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        rows, 1, figsize=(9, 5.5), sharex=True, gridspec_kw={"height_ratios": list(ratios)}
    )
    return plt, fig, axes


def plot_run(run: Run, path: Path) -> Path:
    """Train, smoothed and eval loss, with the learning rate on a second axis."""
    plt, fig, ax = _figure()
    steps = [p.step for p in run.train]
    raw = [p.loss for p in run.train]
    ax.plot(steps, raw, color="tab:blue", alpha=0.3, lw=1, label="train loss")
    ax.plot(
        steps,
        smooth(raw),
        color="tab:blue",
        lw=2,
        label=f"smoothed (EMA {smoothing_weight(len(raw)):.2f})",
    )
    if run.evals:
        ax.plot(
            [e.step for e in run.evals],
            [e.eval_loss for e in run.evals],
            "o-",
            color="tab:red",
            ms=5,
            lw=1.5,
            label="eval loss",
        )
    if run.best_checkpoint is not None and run.best_checkpoint.name.startswith("checkpoint-"):
        best = int(run.best_checkpoint.name.removeprefix("checkpoint-"))
        ax.axvline(best, color="tab:green", ls=":", lw=1.2, label=f"best checkpoint ({best})")
    ax.set_xlabel("step (optimizer update)")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    lrs = [(p.step, p.learning_rate) for p in run.train if p.learning_rate is not None]
    if lrs:
        ax2 = ax.twinx()
        lr_steps, lr_values = [s for s, _ in lrs], [v for _, v in lrs]
        line = ax2.plot(lr_steps, lr_values, color="tab:gray", ls="--", lw=1.2)
        ax2.set_ylabel("learning rate", color="tab:gray")
        ax2.tick_params(axis="y", colors="tab:gray")
        ax2.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        ax2.set_ylim(bottom=0)
        handles += line
        labels.append("learning rate")
    ax.legend(handles, labels, loc="upper right", fontsize=9)
    if run.max_steps:
        ax.set_xlim(0, 1.02 * max(run.max_steps, *steps) if steps else run.max_steps)
    step = f"step {run.global_step}/{run.max_steps}" if run.global_step is not None else ""
    ax.set_title(f"{run.name}: {run.state.state}, {step}", fontsize=11)
    return _save(plt, fig, path)


def plot_runs(runs: Sequence[Run], path: Path) -> Path:
    """Several runs on one x axis: rows seen (step x effective batch) when every run knows its
    batch, so runs with different accumulation line up; the learning rate in a panel below."""
    plt, fig, (ax, ax_lr) = _figure(2, (3, 1))
    by_rows = all(r.effective_batch_size for r in runs)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = short_names(runs)
    for i, run in enumerate(runs):
        scale = run.effective_batch_size if by_rows else 1
        c = colors[i % len(colors)]
        xs = [p.step * scale for p in run.train]
        raw = [p.loss for p in run.train]
        label = f"{names[i]} (batch {run.effective_batch_size or '?'})"
        ax.plot(xs, raw, color=c, alpha=0.25, lw=1)
        ax.plot(xs, smooth(raw), color=c, lw=2, label=label)
        if run.evals:
            ax.plot(
                [e.step * scale for e in run.evals],
                [e.eval_loss for e in run.evals],
                "o--",
                color=c,
                ms=5,
                lw=1,
            )
        lrs = [(p.step * scale, p.learning_rate) for p in run.train if p.learning_rate is not None]
        if lrs:
            ax_lr.plot([x for x, _ in lrs], [v for _, v in lrs], color=c, lw=1.5)
    ax.plot([], [], color="gray", lw=2, label="train loss, smoothed (faint: as logged)")
    ax.plot([], [], "o--", color="gray", ms=5, lw=1, label="eval loss")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(f"{len(runs)} runs", fontsize=11)
    ax_lr.set_ylabel("learning rate")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    ax_lr.grid(alpha=0.3)
    ax_lr.set_xlabel("rows seen (step x effective batch)" if by_rows else "step")
    return _save(plt, fig, path)


def short_names(runs: Sequence[Run]) -> list[str]:
    """The output folder's name when that tells the runs apart, else folder/vN-..."""
    parents = [r.run_dir.parent.name for r in runs]
    return parents if len(set(parents)) == len(parents) else [r.name for r in runs]


def _save(plt, fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)  # a --watch reader never sees half a file
    return path
