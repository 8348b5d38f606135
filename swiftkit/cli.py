"""Command line. cli.py and its two siblings (cli_train.py, cli_runs.py) are the only modules
that print or pick exit codes.

Exit codes: 0 done, 1 training failed, 2 bad input (recipe, dataset, command line),
3 will not fit in GPU memory (or needs a GPU this machine lacks), 130 interrupted (Ctrl-C),
143 stopped by SIGTERM after saving a checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from swiftkit.errors import SwiftkitError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_NO_FIT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with exit code 2 and a hint, never a traceback."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}. Run {self.prog} --help.\n")


def _out(text: str) -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _add_recipe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", help="recipe name (a file in ./recipes) or path to a .yaml file")
    p.add_argument(
        "overrides",
        nargs="*",
        default=[],
        metavar="key=value",
        help="override a flag, typed like YAML (e.g. learning_rate=2e-4)",
    )


def _plan(args):
    from swiftkit.plan import make_plan
    from swiftkit.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    gpu = getattr(args, "gpu", None)
    if gpu:
        return make_plan(recipe, gpus=[gpu])
    from swiftkit.hardware import detect_gpus  # nvidia-smi, no torch import

    return make_plan(recipe, detected=detect_gpus())


def cmd_ls(args) -> int:
    from swiftkit.listing import list_recipes

    rows = list_recipes()
    if not rows:
        _err("no recipes in ./recipes. Run swiftkit from the project folder.")
        return EXIT_BAD_INPUT
    width = max(len(r.name) for r in rows)
    for r in rows:
        _out(f"{r.name:<{width}}  {r.model}  {r.tuner}  effective batch {r.effective_batch}")
    return EXIT_OK


def cmd_validate(args) -> int:
    from swiftkit.render import render_problems

    plan = _plan(args)
    if plan.errors:
        _err(render_problems(plan))
        return EXIT_BAD_INPUT
    for w in plan.warnings:
        _err(f"warning: {w}")
    s = plan.schedule
    steps = f", {plan.train_rows} training rows, {s.max_steps} optimizer updates" if s else ""
    _out(f"{plan.recipe_path}: OK ({len(plan.args)} flags{steps})")
    return EXIT_OK


def cmd_plan(args) -> int:
    from swiftkit.render import render_plan

    plan = _plan(args)
    if args.json:
        _out(json.dumps(plan.to_json(), indent=2, default=str))
    else:
        _out(render_plan(plan))
    return EXIT_BAD_INPUT if plan.errors else EXIT_OK


def cmd_flags(args) -> int:
    from swiftkit.flags import load_schema

    schema = load_schema()
    needle = (args.pattern or "").lower()
    shown = 0
    for name, flag in sorted(schema.flags.items()):
        if needle and needle not in name:
            continue
        choices = f"  one of: {', '.join(map(str, flag.choices))}" if flag.choices else ""
        _out(f"{name}  ({flag.kind}, default {flag.default!r}){choices}")
        shown += 1
    if needle and not shown:
        _err(f"no swift sft flag contains {args.pattern!r}.")
        return EXIT_BAD_INPUT
    return EXIT_OK


def cmd_gpus(args) -> int:
    from swiftkit.gpus import CARDS
    from swiftkit.hardware import detect_gpus

    for card in detect_gpus():
        _out(f"detected: {card.name}  {card.total_bytes / 2**30:.1f} GiB")
    for card in CARDS:
        names = ", ".join(card.aliases)
        bf16 = "bf16" if card.bf16 else "no bf16"
        _out(f"{card.name}  {card.total_bytes / 2**30:.1f} GiB  {bf16}  (--gpu {names})")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="swiftkit", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("ls", help="list recipes")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("validate", help="check a recipe and its datasets")
    _add_recipe_args(p)
    p.add_argument("--gpu", help="card to check memory against (e.g. 4090D, A100-80G)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plan", help="show batches, steps, schedule and memory for a recipe")
    _add_recipe_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--gpu", help="card to check memory against (e.g. 4090D, A100-80G)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("flags", help="list swift sft flags (type, default, choices)")
    p.add_argument("pattern", nargs="?", help="only flags whose name contains this")
    p.set_defaults(func=cmd_flags)

    p = sub.add_parser("gpus", help="list the GPUs swiftkit knows, and the detected ones")
    p.set_defaults(func=cmd_gpus)

    from swiftkit import cli_runs, cli_train

    cli_train.add_parsers(sub)
    cli_runs.add_parsers(sub)

    return parser


def _version() -> str:
    from swiftkit import __version__

    return f"swiftkit {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # Overrides may also follow options (`plan r --gpu T4 max_length=4096`): argparse stops
    # filling a nargs="*" positional at the first option, so take the rest back here.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not hasattr(args, "overrides") or any(w.startswith("-") for w in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    try:
        return args.func(args)
    except SwiftkitError as e:
        _err(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (head, grep -q) went away: not an error of ours.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
