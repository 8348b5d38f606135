"""`swiftkit validate` and `swiftkit plan`: the checks and the plan, before a GPU is touched."""

from __future__ import annotations

import argparse
import json

from swiftkit.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_NO_FIT,
    EXIT_OK,
    add_recipe_args,
    count,
    err,
    out,
)
from swiftkit.cli.fit import add_fit_args

VALIDATE_HELP = """\
Check a recipe and its datasets: every flag against swift sft's own schema, values, datasets and
the traps ms-swift lets through. Ends in one OK line, or lists every problem (exit code 2).

example:
  swiftkit validate qwen7b_selfcog
  swiftkit validate recipes/my_run.yaml num_train_epochs=3
"""

PLAN_HELP = """\
What the run will do: rows after sampling, the split and the max_length filter; effective batch;
the exact number of optimizer updates; when it logs, evaluates and saves; the rows' token lengths
(p50/p90/p99/max, rows over max_length, the max_length keeping 99% and 100%); peak GPU memory per
card and whether it fits; the fixes when it does not; how long it takes (per update and in total).
--fit also finds the largest per-device batch that fits the card at the same effective batch
(exit code 3 when even batch 1 does not fit). Each dataset file is read once and cached
(~/.cache/swiftkit; SWIFTKIT_CACHE_DIR moves it); a long read shows a progress bar on a terminal.

examples:
  swiftkit plan qwen7b_selfcog
  swiftkit plan qwen7b_selfcog --gpu 4090D per_device_train_batch_size=2
  swiftkit plan qwen7b_selfcog --gpu 4090D --fit
  swiftkit plan qwen7b_selfcog --json | jq .max_steps
  swiftkit plan qwen7b_selfcog --gpu 4090D --json | jq .time.total_seconds
  swiftkit plan my_run --json | jq .token_lengths.max_length_for_99
"""


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "validate",
        help="check a recipe and its datasets",
        description=VALIDATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_recipe_args(p)
    p.add_argument("--gpu", help="card to check memory against (e.g. 4090D, A100-80G)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "plan",
        help="show batches, steps, schedule and memory for a recipe",
        description=PLAN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_recipe_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--gpu", help="card to check memory against (e.g. 4090D, A100-80G)")
    add_fit_args(p, flag="--fit")
    p.set_defaults(func=cmd_plan)


def make_cli_plan(args, extra: list[str] | tuple[str, ...] = ()):
    """The plan for a recipe named on the command line, against --gpu or the detected cards;
    `extra` overrides come after the command line's. Long dataset reads show a progress bar on
    stderr (a terminal only)."""
    from swiftkit.cli.progress import plan_progress
    from swiftkit.plan import make_plan
    from swiftkit.recipe import load_recipe

    recipe = load_recipe(args.recipe, [*args.overrides, *extra])
    gpu = getattr(args, "gpu", None)
    with plan_progress() as progress:
        if gpu:
            return make_plan(recipe, gpus=[gpu], progress=progress)
        from swiftkit.memory.hardware import detect_gpus  # nvidia-smi, no torch import

        return make_plan(recipe, detected=detect_gpus(), progress=progress)


def cmd_validate(args) -> int:
    from swiftkit.cli.render import render_problems

    plan = make_cli_plan(args)
    if plan.errors:
        err(render_problems(plan))
        return EXIT_BAD_INPUT
    for w in plan.warnings:
        err(f"warning: {w}")
    s = plan.schedule
    steps = (
        f", {count(plan.train_rows, 'training row')}, {count(s.max_steps, 'optimizer update')}"
        if s
        else ""
    )
    out(f"{plan.recipe_path}: OK ({count(len(plan.args), 'flag')}{steps})")
    return EXIT_OK


def cmd_plan(args) -> int:
    from swiftkit.cli.render import render_plan

    plan = make_cli_plan(args)
    fit = None
    if args.fit and not plan.errors:
        from swiftkit.cli.fit import override_words, run_fit

        fit, _ = run_fit(plan, args.headroom, lambda c: make_cli_plan(args, override_words(c)))
    if args.json:
        data = plan.to_json()
        if args.fit:
            data["fit"] = fit.to_json() if fit else None
        out(json.dumps(data, indent=2, default=str))
    else:
        out(render_plan(plan))
        if fit is not None:
            from swiftkit.cli.fit import render_fit

            out(render_fit(fit))
    if plan.errors:
        return EXIT_BAD_INPUT
    return EXIT_NO_FIT if fit is not None and fit.after is None else EXIT_OK
