"""What every subcommand shares: exit codes, the argument parser class, output helpers.

Exit codes: 0 done, 1 training failed, 2 bad input (recipe, dataset, command line),
3 will not fit in GPU memory (or needs a GPU this machine lacks), 4 training ran out of GPU
memory (CUDA out of memory), 130 interrupted (Ctrl-C), 143 stopped by SIGTERM after saving a
checkpoint.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_NO_FIT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_OUT_OF_MEMORY = 4  # swiftkit.errors.OutOfMemoryError
STATE_STYLE = {
    "running": "bold cyan",
    "finished": "bold green",
    "failed": "bold red",
    "interrupted": "bold yellow",
}


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with exit code 2 and a hint, never a traceback."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}. Run {self.prog} --help.\n")


def out(text: str) -> None:
    print(text, flush=True)


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def add_recipe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "recipe",
        help="recipe name (a file in ./recipes) or path to a .yaml or .json file (swift config "
        "files with an ENV block are recipes too)",
    )
    p.add_argument(
        "overrides",
        nargs="*",
        default=[],
        metavar="key=value",
        help="override a flag, typed like YAML (e.g. learning_rate=2e-4)",
    )


def count(n: int, noun: str, nouns: str | None = None) -> str:
    """`1 checkpoint folder`, `2 checkpoint folders`: the noun agrees with the number."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def num(v: float | None, fmt: str = ".4f") -> str:
    return "-" if v is None else format(v, fmt)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(seconds)
    h, m, s = s // 3600, s % 3600 // 60, s % 60
    return f"{h}h {m}m {s}s" if h else f"{m}m {s}s" if m else f"{s}s"
