"""A big JSON Lines file read by several processes at once: each reads an equal byte range
(swiftkit.data.splitscan) through the same per-row pipeline, and the parent merges what they
found (swiftkit.data.scanmerge) into exactly what one process finds (splitscan says why).

Only a big file (splitscan.BIG_BYTES, 32 MiB) of JSON Lines whose first line is a row (so that
the one-process reader's fallbacks to reading the whole file cannot apply) is split; JSON lists,
csv and parquet are read by one process. The workers are forked before the parent loads the
tokenizer when it has not yet (one loaded earlier is inherited, with TOKENIZERS_PARALLELISM=false
for the children: the Rust thread pool does not survive a fork). They print nothing (stdout and
stderr go to /dev/null), ignore Ctrl-C (the parent stops them), report bytes read through shared
memory for the progress bar, and end when the parent does. When a worker fails in any way, the
file is read again by one process, which gives the error one process gives.

SWIFTKIT_WORKERS sets the number of processes (1: never split); by default the CPUs this process
may use, at most MAX_WORKERS.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from swiftkit.data.lengthcontext import LengthContext
from swiftkit.data.rowcheck import RowChecker
from swiftkit.data.scanmerge import merge_parts
from swiftkit.data.splitscan import first_row, is_big, read_range

MAX_WORKERS = 4
_POLL_SECONDS = 0.2


def worker_count() -> int:
    """Processes to read one file with: SWIFTKIT_WORKERS when it is a whole number >= 1, else
    the CPUs this process may run on (at most MAX_WORKERS); 1 but on Linux (elsewhere fork is
    missing or unsafe with system frameworks, and spawning would import everything again)."""
    if not sys.platform.startswith("linux"):
        return 1
    value = os.environ.get("SWIFTKIT_WORKERS", "").strip()
    if value.isdigit() and int(value) >= 1:
        return int(value)
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))


def read_parallel(
    path: Path, label: str, checker: RowChecker, ctx: LengthContext | None
) -> tuple[int, int, dict[str, None], list] | None:
    """(rows kept, placeholder rows, formats, the length scans' states) of a big file read by
    several processes, as scanmerge.merge_parts gives them (FileProblem when lines cannot be
    loaded); None when the file is read by one process (not big, one worker, or one failed)."""
    workers = worker_count()
    if workers < 2 or not is_big(path):
        return None
    checker.start_with(first_row(path))
    size = path.stat().st_size
    quiet = replace(ctx, progress=None) if ctx is not None else None  # shares the loaded tokenizer
    starts = [size * w // workers for w in range(workers)]
    jobs = [
        partial(read_range, path, label, (start, end), checker.fresh(), quiet)
        for start, end in zip(starts, [*starts[1:], size], strict=True)
    ]
    report = ctx.progress if ctx is not None else None
    parts = _run(jobs, starts, lambda done: report and report(f"reading {path.name}", done, size))
    if parts is None:
        return None
    if report is not None:
        report(f"reading {path.name}", size, size)
    return merge_parts(label, parts, checker)


def _run(
    jobs: list[Callable], starts: list[int], progress: Callable[[int], Any]
) -> list[dict] | None:
    """Each job in a forked process; their results in order, or None when one failed."""
    fork = multiprocessing.get_context("fork")
    done = fork.RawArray("q", len(jobs))  # bytes each worker has read
    procs, conns = [], []
    try:
        try:
            with _forking():
                for slot, (job, start) in enumerate(zip(jobs, starts, strict=True)):
                    receive, send = fork.Pipe(duplex=False)
                    conns.append(receive)
                    args = (send, job, done, slot, start, os.getpid())
                    proc = fork.Process(target=_work, args=args, daemon=True)
                    try:
                        proc.start()
                    finally:
                        send.close()
                    procs.append(proc)
        except OSError:  # no fork now (out of processes or memory): one process reads
            return None
        results: dict[int, Any] = {}
        while len(results) < len(jobs):
            waiting = [c for i, c in enumerate(conns) if i not in results]
            for conn in multiprocessing.connection.wait(waiting, timeout=_POLL_SECONDS):
                i = conns.index(conn)
                try:
                    results[i] = conn.recv()
                except (EOFError, OSError):  # it died (killed, out of memory)
                    return None
                if results[i][0] != "ok":
                    return None
            progress(sum(done))
        return [results[i][1] for i in range(len(jobs))]
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()
        for conn in conns:
            conn.close()


@contextlib.contextmanager
def _forking() -> Iterator[None]:
    """Around starting the workers: nothing buffered to print twice, Ctrl-C held back (so no
    worker starts without ignoring it), the tokenizer's thread pool off in the children."""
    sys.stdout.flush()
    sys.stderr.flush()
    before = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        if before is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = before


def _work(send, job: Callable, done, slot: int, start: int, parent: int) -> None:
    """A worker: run the job, send ("ok", result) or ("error", text); never print, never raise."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - until the process ends

        def tick(_i: int, offset: int) -> None:
            done[slot] = offset - start
            if os.getppid() != parent:  # the parent is gone: stop
                os._exit(1)

        result: tuple = ("ok", job(tick))
    except BaseException as e:  # reported to the parent, which reads the file again
        result = ("error", f"{type(e).__name__}: {e}")
    with contextlib.suppress(BaseException):
        send.send(result)
        send.close()
