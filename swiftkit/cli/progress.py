"""A progress bar for long dataset reads: rich, on stderr, only on a terminal, only after a second.

`plan_progress()` is the `progress(what, done, total)` callback make_plan passes down to the
dataset scan (swiftkit.data.scan reports bytes read per file; swiftkit.data.lengthscan reports
rows tokenized). Nothing is drawn when stderr is not a terminal (scripts, --json pipelines) or
when the work ends within `delay` seconds, so quick plans print exactly what they printed before.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TextIO


class PlanProgress:
    """Callable as progress(what, done, total); `close()` removes the bar."""

    def __init__(self, stream: TextIO | None = None, *, delay: float = 1.0, force: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = force or bool(isatty())
        self.delay = delay
        self.started = time.monotonic()
        self.bar = None
        self.tasks: dict[str, int] = {}

    def __call__(self, what: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.monotonic() - self.started < self.delay:
                return
            self._start()
        task = self.tasks.get(what)
        if task is None:
            task = self.tasks[what] = self.bar.add_task(what, total=total, shown="")
        shown = f"{done / 2**20:,.0f}/{total / 2**20:,.0f} MiB" if total else f"{done:,} rows"
        self.bar.update(task, completed=done, total=total, shown=shown)

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[shown]}"),
            TimeElapsedColumn(),
            console=Console(file=self.stream, force_terminal=True),
            transient=True,
        )
        self.bar.start()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@contextlib.contextmanager
def plan_progress(stream: TextIO | None = None) -> Iterator[PlanProgress]:
    progress = PlanProgress(stream)
    try:
        yield progress
    finally:
        progress.close()
