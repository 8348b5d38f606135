"""`swiftkit train` and `swiftkit demo`: check, plan, then hand the run to ms-swift.

Exit codes: 0 done, 1 training failed, 2 bad input, 3 will not fit
or needs a GPU, 4 ran out of GPU memory, 130 stopped by SIGINT, 143 stopped by SIGTERM (both
after saving a checkpoint).
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from swiftkit.cli.common import EXIT_BAD_INPUT, EXIT_OK, err, out
from swiftkit.cli.fit import add_fit_args
from swiftkit.errors import OutOfMemoryError, RecipeError, SwiftkitError


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "train",
        help="check, plan, then train with ms-swift",
        description="The checks and the plan, then ms-swift trains in a new run directory "
        "(output_dir/vN-YYYYMMDD-HHMMSS); one process in-process, several under torchrun. "
        "Refuses bad input (exit 2) and runs that will not fit or need a missing GPU (exit 3). "
        "--auto-fit first raises per_device_train_batch_size to the largest that fits the card "
        "(same effective batch) and records the change in the run's provenance. "
        "Examples: swiftkit train qwen7b_selfcog; swiftkit train qwen7b_selfcog --dry-run; "
        "swiftkit train qwen7b_selfcog --auto-fit; "
        "swiftkit train qwen7b_selfcog --dry-run --swift-config run.yaml (then: swift sft "
        "run.yaml); swiftkit train qwen7b_selfcog --resume; on node 1 of 2: NNODES=2 "
        "NODE_RANK=1 MASTER_ADDR=gpu01 MASTER_PORT=29500 swiftkit train qwen7b_selfcog "
        "--run-id q7-0501",
    )
    p.add_argument(
        "recipe",
        help="recipe name (a file in ./recipes) or path to a .yaml or .json file "
        "(swift's own config files, with their ENV block, are recipes too)",
    )
    p.add_argument("overrides", nargs="*", default=[], metavar="key=value", help="override a flag")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the equivalent swift sft command (one per node) and exit",
    )
    p.add_argument(
        "--swift-config",
        metavar="PATH",
        type=Path,
        help="with --dry-run: write the recipe as a swift config file (.yaml, .yml or .json: "
        "flat flags and an ENV block) for `swift sft PATH`, and print that command",
    )
    p.add_argument("--force", action="store_true", help="start even if it will not fit")
    p.add_argument("--gpu", help="card to check memory against (default: the detected GPU)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the recipe's newest unfinished run from its last complete "
        "checkpoint, with the arguments it was started with",
    )
    p.add_argument(
        "--run-id",
        help="name shared by every node of one run: node 0 creates the run directory, the "
        "others find it (default: SWIFTKIT_RUN_ID, or slurm-$SLURM_JOB_ID on several SLURM nodes)",
    )
    add_fit_args(p, flag="--auto-fit")
    _add_no_check(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "demo",
        help="build a tiny local model and train recipes/tiny_demo on CPU",
        description="Build and pretrain a tiny Qwen2 model in .cache/tiny-demo (once), LoRA-train "
        "recipes/tiny_demo.yaml with the real ms-swift on CPU (no GPU, no model hub), then check "
        "it learned its new name on held-out questions. Example: swiftkit demo",
    )
    p.add_argument("overrides", nargs="*", default=[], metavar="key=value", help="override a flag")
    _add_no_check(p)
    p.set_defaults(func=cmd_demo)


def _add_no_check(p) -> None:
    p.add_argument(
        "--no-check",
        action="store_true",
        help="skip the identity check that follows a run whose recipe sets model_name or "
        "model_author (swiftkit check RUN runs it later)",
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from swiftkit.cli.demo import demo_report
    from swiftkit.tiny import DEMO, DEMO_TINY_DIR, build_tiny_model

    out(f"building and pretraining the tiny Qwen2 model in {DEMO_TINY_DIR} (once) ...")
    build_tiny_model(Path.cwd() / DEMO_TINY_DIR, preset=DEMO)
    args.recipe, args.dry_run, args.force, args.gpu, args.resume = (
        "tiny_demo",
        False,
        False,
        None,
        False,
    )
    args.run_id = None
    args.fit, args.headroom = False, None
    code = cmd_train(args)
    if code == 0:
        out(demo_report(args.run_dir, getattr(args, "identity_check", None)))
    return code


def cmd_train(args: argparse.Namespace) -> int:
    from swiftkit.cli.nodes import dry_run_commands, dry_run_notes
    from swiftkit.cli.progress import plan_progress
    from swiftkit.cli.render import render_plan, render_problems
    from swiftkit.plan.plan import make_plan
    from swiftkit.recipe.recipe import load_recipe
    from swiftkit.run import train
    from swiftkit.run.gate import check_hardware

    recipe = load_recipe(args.recipe, args.overrides)
    gpus = [args.gpu] if args.gpu else ()
    if getattr(args, "swift_config", None) is not None and not args.dry_run:
        msg = (
            f"--swift-config {args.swift_config} writes a file only with --dry-run. Add --dry-run."
        )
        raise RecipeError(msg)
    if args.dry_run and not args.fit:
        plan = make_plan(recipe, gpus=gpus, run_id=args.run_id)
        if plan.errors:
            err(render_problems(plan))
            return EXIT_BAD_INPUT
        for line in dry_run_notes(plan):
            err(line)
        if getattr(args, "swift_config", None) is not None:
            return _write_swift_config(args.swift_config, recipe, plan)
        out(dry_run_commands(plan, args.recipe, args.overrides))
        return EXIT_OK

    from swiftkit.memory.hardware import detect_gpus

    detected = detect_gpus()
    with plan_progress() as progress:
        plan = make_plan(
            recipe, gpus=gpus, detected=detected, run_id=args.run_id, progress=progress
        )
    if plan.errors:
        err(render_problems(plan))
        return EXIT_BAD_INPUT
    fit = None
    if args.fit:
        recipe, plan, fit = _auto_fit(args, recipe, plan, gpus, detected)
        if args.dry_run:
            from swiftkit.cli.fit import override_words

            words = [*args.overrides, *override_words(fit.changes)]
            for line in dry_run_notes(plan):
                err(line)
            out(dry_run_commands(plan, args.recipe, words))
            return EXIT_OK
    out(render_plan(plan))
    if fit is not None:
        from swiftkit.cli.fit import render_fit

        out(render_fit(fit))
    resolved = train.resolved_args(recipe, plan)
    check_hardware(plan, resolved, len(detected), force=args.force)
    if args.resume:
        spec, notices = train.prepare_resume(recipe, plan, resolved, base_dir=Path.cwd())
        for line in notices:
            err(f"notice: {line}")
    else:
        spec = train.prepare_run(recipe, plan, resolved, base_dir=Path.cwd())
        if fit is not None:
            from swiftkit.run.rundir import write_auto_fit

            write_auto_fit(spec.run_dir, fit.to_json())
    out(f"run directory: {spec.run_dir}")
    args.run_dir = spec.run_dir
    code, failure = train.run_and_record(spec)
    stopped = (str(failure) or "SIGINT") if isinstance(failure, KeyboardInterrupt) else None
    last_step = plan.schedule.last_step if plan.schedule else None
    summary = train.summarize_run(spec.run_dir, last_step, stopped_by=stopped)
    again = shlex.join(["python", "-m", "swiftkit", "train", args.recipe, *args.overrides])
    out(_render_summary(summary, f"{again} --resume"))
    if isinstance(failure, OutOfMemoryError):
        from swiftkit.run import oom

        record = oom.read_oom(spec.run_dir) or {}
        raise oom.oom_error(record, plan.memory, last_step, spec.run_dir, args.recipe)
    if code == 0 and spec.first_node and not getattr(args, "no_check", False):
        from swiftkit.cli.demo import identity_after_training

        args.identity_check = identity_after_training(spec.run_dir, recipe.args)
    if isinstance(failure, SwiftkitError):
        raise failure
    where = ""
    if plan.launch is not None and plan.launch.nnodes > 1:
        run_id = plan.launch.run_id.value if plan.launch.run_id else "?"
        where = f" (on every node, with run id {run_id})"
    if failure is not None and summary.resume_from is None:
        err(f"stopped by {stopped} before any checkpoint was saved; start it again with: {again}")
    elif failure is not None:
        err(f"stopped by {stopped} after saving a checkpoint; resume with: {again} --resume{where}")
    return code


def _write_swift_config(path: Path, recipe, plan) -> int:
    """`--dry-run --swift-config PATH`: the recipe as swift's own config file, never written over
    the recipe (or a base it extends)."""
    from swiftkit.recipe.swiftconfig import SWIFT_CONFIG_SUFFIXES, render_swift_config

    if path.suffix not in SWIFT_CONFIG_SUFFIXES:
        msg = (
            f"--swift-config {path}: swift sft reads a config file only when its name ends in "
            f".yaml, .yml or .json (got {path.suffix or 'no suffix'!r}). Name it e.g. "
            f"{path.with_suffix('.yaml')}."
        )
        raise RecipeError(msg)
    if path.resolve() in recipe.chain:
        msg = f"--swift-config {path} is the recipe itself. Write the swift config to a new file."
        raise RecipeError(msg)
    notes = []
    if plan.fills_placeholders:
        notes.append(
            "swift leaves {{NAME}}/{{AUTHOR}} literal in local datasets; swiftkit train trains "
            "on a filled copy instead."
        )
    text = render_swift_config(path, recipe.args, recipe.env, source=recipe.path, notes=notes)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        msg = f"--swift-config {path}: cannot be written ({e}). Choose a writable path."
        raise RecipeError(msg) from e
    err(f"wrote the swift config equivalent of {recipe.path} to {path}")
    out(shlex.join(["swift", "sft", str(path)]))
    return EXIT_OK


def _auto_fit(args, recipe, plan, gpus, detected):
    """Apply auto-fit: (recipe, plan, fit) with the fitted batches, or the originals (and the
    fit, to show) when even batch 1 does not fit: then the will-not-fit check refuses with the
    ranked fixes."""
    from swiftkit.cli.fit import override_words, run_fit
    from swiftkit.plan.plan import make_plan
    from swiftkit.recipe.recipe import load_recipe

    def load(changes):
        return load_recipe(args.recipe, [*args.overrides, *override_words(changes)])

    fit, new_plan = run_fit(
        plan,
        args.headroom,
        lambda c: make_plan(load(c), gpus=gpus, detected=detected, run_id=args.run_id),
    )
    if new_plan is None or not fit.changes:
        return recipe, plan, fit
    return load(fit.changes), new_plan, fit


def _render_summary(s, resume_command: str | None = None) -> str:
    step = f"{s.global_step}" if s.global_step is not None else "?"
    planned = f"{s.planned_max_steps}" if s.planned_max_steps is not None else "?"
    mark = "" if s.global_step == s.planned_max_steps else " (differs from the plan)"
    resume = []
    if getattr(s, "stopped_by", None):
        mark = f": stopped early by {s.stopped_by} at step {step}"
        if s.resume_from is not None:
            resume = [
                f"  resumes from: {s.resume_from}",
                f"  resume with: {resume_command}",
            ]
        else:
            resume = ["  resumes from: nothing (no complete checkpoint was saved)"]
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
            *resume,
            f"  last checkpoint (the adapter or weights): {s.last_checkpoint or 'none'}",
            f"  peak memory(GiB): {peak}",
            f"  train loss: {loss}",
            f"  loss curve and checks: python -m swiftkit status {s.run_dir}",
        ]
    )
