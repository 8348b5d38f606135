"""`swiftkit train` and `swiftkit demo`: check, plan, then hand the run to ms-swift.

Exit codes: 0 done, 1 training failed, 2 bad input, 3 will not fit
or needs a GPU, 130 stopped by SIGINT, 143 stopped by SIGTERM (both after saving a checkpoint).
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from swiftkit.cli.common import EXIT_BAD_INPUT, EXIT_OK, err, out
from swiftkit.errors import SwiftkitError


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "train",
        help="check, plan, then train with ms-swift",
        description="The checks and the plan, then ms-swift trains in a new run directory "
        "(output_dir/vN-YYYYMMDD-HHMMSS); one process in-process, several under torchrun. "
        "Refuses bad input (exit 2) and runs that will not fit or need a missing GPU (exit 3). "
        "Examples: swiftkit train qwen7b_selfcog; swiftkit train qwen7b_selfcog --dry-run; "
        "swiftkit train qwen7b_selfcog --resume",
    )
    p.add_argument("recipe", help="recipe name (a file in ./recipes) or path to a .yaml file")
    p.add_argument("overrides", nargs="*", default=[], metavar="key=value", help="override a flag")
    p.add_argument(
        "--dry-run", action="store_true", help="print the equivalent swift sft command and exit"
    )
    p.add_argument("--force", action="store_true", help="start even if it will not fit")
    p.add_argument("--gpu", help="card to check memory against (default: the detected GPU)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the recipe's newest unfinished run from its last complete "
        "checkpoint, with the arguments it was started with",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "demo",
        help="build a tiny local model and train recipes/tiny_demo on CPU",
        description="Build a tiny random-weight Qwen2 model in .cache/tiny-qwen2 (once) and train "
        "recipes/tiny_demo.yaml with the real ms-swift on CPU: no GPU, no model hub. "
        "Example: swiftkit demo num_train_epochs=2",
    )
    p.add_argument("overrides", nargs="*", default=[], metavar="key=value", help="override a flag")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from swiftkit.tiny import DEFAULT_TINY_DIR, build_tiny_model

    out(f"building the tiny Qwen2 model in {DEFAULT_TINY_DIR} (once) ...")
    build_tiny_model(Path.cwd() / DEFAULT_TINY_DIR)
    args.recipe, args.dry_run, args.force, args.gpu, args.resume = (
        "tiny_demo",
        False,
        False,
        None,
        False,
    )
    return cmd_train(args)


def cmd_train(args: argparse.Namespace) -> int:
    from swiftkit.cli.progress import plan_progress
    from swiftkit.cli.render import render_plan, render_problems
    from swiftkit.plan.plan import make_plan
    from swiftkit.recipe.recipe import load_recipe
    from swiftkit.recipe.secrets import redact_args, redact_env
    from swiftkit.run import train
    from swiftkit.run.launch import shell_command

    recipe = load_recipe(args.recipe, args.overrides)
    gpus = [args.gpu] if args.gpu else ()
    if args.dry_run:
        plan = make_plan(recipe, gpus=gpus)
        if plan.errors:
            err(render_problems(plan))
            return EXIT_BAD_INPUT
        out(shell_command(redact_args(recipe.args), redact_env(plan.env)))
        return EXIT_OK

    from swiftkit.memory.hardware import detect_gpus

    detected = detect_gpus()
    with plan_progress() as progress:
        plan = make_plan(recipe, gpus=gpus, detected=detected, progress=progress)
    if plan.errors:
        err(render_problems(plan))
        return EXIT_BAD_INPUT
    out(render_plan(plan))
    resolved = train.resolved_args(recipe, plan)
    train.check_hardware(plan, resolved, len(detected), force=args.force)
    if args.resume:
        spec, notices = train.prepare_resume(recipe, plan, resolved, base_dir=Path.cwd())
        for line in notices:
            err(f"notice: {line}")
    else:
        spec = train.prepare_run(recipe, plan, resolved, base_dir=Path.cwd())
    out(f"run directory: {spec.run_dir}")
    code, failure = train.run_and_record(spec)
    summary = train.summarize_run(spec.run_dir, plan.schedule.max_steps if plan.schedule else None)
    out(_render_summary(summary))
    if isinstance(failure, SwiftkitError):
        raise failure
    if failure is not None:
        again = shlex.join(["python", "-m", "swiftkit", "train", args.recipe, *args.overrides])
        err(f"stopped by {failure} after saving a checkpoint; resume with: {again} --resume")
    return code


def _render_summary(s) -> str:
    step = f"{s.global_step}" if s.global_step is not None else "?"
    planned = f"{s.planned_max_steps}" if s.planned_max_steps is not None else "?"
    mark = "" if s.global_step == s.planned_max_steps else " (differs from the plan)"
    peak = (
        f"{s.peak_memory_gib:.2f} GiB"
        if s.peak_memory_gib is not None
        else "not logged (swift logs it on a GPU only)"
    )
    loss = f"{s.train_loss:.4f}" if s.train_loss is not None else "?"
    return "\n".join(
        [
            "summary:",
            f"  run directory: {s.run_dir}",
            f"  global_step: {step} of planned max_steps {planned}{mark}",
            f"  last checkpoint (the adapter or weights): {s.last_checkpoint or 'none'}",
            f"  peak memory(GiB): {peak}",
            f"  train loss: {loss}",
            f"  loss curve and checks: python -m swiftkit status {s.run_dir}",
        ]
    )
