"""`swiftkit sweep`: plan every variant, refuse before training if any cannot run, train them
one after another, then compare them ranked by best eval_loss (and compare.png).

Exit codes: 0 done, 1 a variant failed, 2 bad input (a variant's recipe or datasets, no
validation split), 3 a variant will not fit or needs a missing GPU, 130/143 stopped by
SIGINT/SIGTERM (`--resume` continues).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import sys
from pathlib import Path

from swiftkit.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_NO_FIT,
    EXIT_OK,
    add_recipe_args,
    count,
    duration,
    err,
    out,
)

HELP = """\
Train several variants of a recipe and compare their eval_loss. A key with several
comma-separated values is swept (several such keys: every combination); a key with one value is
an ordinary override. Every variant is planned first (effective batch, updates, learning rate,
peak memory, time) and the sweep refuses before training if any has an error, will not fit, or
there is no validation split. Variants train one after another, each in its own run directory
(OUTPUT_DIR/sweep-DATE-TIME/key=value/vN-...); the end is the compare table ranked by best
eval_loss and compare.png. SIGTERM stops the running variant after a checkpoint (exit 143);
the same command with --resume resumes it and runs the rest.

examples:
  swiftkit sweep qwen7b_selfcog gradient_accumulation_steps=4,8,16 split_dataset_ratio=0.1
  swiftkit sweep tiny_demo gradient_accumulation_steps=2,4 --lr-scale sqrt --dry-run
  swiftkit sweep tiny_demo lora_rank=4,8 learning_rate=1e-3,5e-3 --json
  swiftkit sweep tiny_demo gradient_accumulation_steps=2,4 --resume
"""


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="train several variants of a recipe and rank them by eval_loss",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_recipe_args(p)
    p.add_argument(
        "--lr-scale",
        choices=("sqrt", "linear", "none"),
        default="none",
        help="scale learning_rate with each variant's effective batch against the recipe's "
        "lr_tuned_for_batch (else its own effective batch); default none",
    )
    p.add_argument("--dry-run", action="store_true", help="plan every variant and stop")
    p.add_argument("--json", action="store_true", help="JSON lines: the plans, then the comparison")
    p.add_argument("--resume", action="store_true", help="continue the newest matching sweep")
    p.add_argument("--gpu", help="card to check memory against (default: the detected GPU)")
    p.set_defaults(func=cmd_sweep)


def _row(variant, plan, state: str) -> list[str]:
    s, m, t = plan.schedule, plan.memory, plan.time
    return [
        variant.name,
        state,
        f"{s.per_device_batch}x{s.accumulation_steps}x{s.world_size}={s.effective_batch_size}"
        if s
        else "?",
        str(s.max_steps) if s else "?",
        f"{plan.learning_rate:.3g}",
        f"{m.estimate.device_bytes / 2**30:.1f} GiB" if m else "?",
        (m.verdict or "-") if m else "-",
        duration(t.total_seconds) if t else "-",
    ]


def render_plans(rows: list[list[str]]) -> str:
    head = ["variant", "state", "effective batch", "updates", "lr", "peak memory", "verdict",
            "time"]  # fmt: skip
    table = [head, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in table)  # fmt: skip


def _problems(variant, plan) -> tuple[list[str], list[str]]:
    """(bad input, will not fit) for one variant."""
    bad = [f"{variant.name}: {e}" for e in plan.errors]
    s = plan.schedule
    if not plan.errors and (s is None or not s.eval_steps_at or not plan.val_rows):
        bad.append(
            f"{variant.name}: no validation split, so no eval_loss to compare. Set "
            "split_dataset_ratio=0.1 (or val_dataset=FILE) in the recipe or on the command line."
        )
    m = plan.memory
    no_fit = []
    if m is not None and m.verdict == "will not fit":
        v = m.verdicts[0]
        no_fit.append(
            f"{variant.name}: will not fit: needs {v.judged_bytes / 2**30:.1f} GiB on the high "
            f"estimate on {v.card.name}. Try: python -m swiftkit plan {plan.recipe} --fit"
        )
    return bad, no_fit


def cmd_sweep(args) -> int:
    from swiftkit.memory.hardware import detect_gpus
    from swiftkit.plan.plan import make_plan
    from swiftkit.recipe.recipe import load_recipe
    from swiftkit.run import sweep as sw
    from swiftkit.run.gate import check_hardware
    from swiftkit.run.train import resolved_args

    base_dir = Path.cwd()
    sweep = sw.build_sweep(args.recipe, args.overrides, lr_scale=args.lr_scale, base_dir=base_dir)
    if args.resume:
        sweep = sw.find_sweep_to_resume(sweep)
    gpus = [args.gpu] if args.gpu else ()
    detected = detect_gpus()
    planned = []
    for v in sweep.variants:
        recipe = load_recipe(args.recipe, v.overrides, base_dir=base_dir)
        plan = make_plan(recipe, gpus=gpus, detected=detected)
        state = sw.variant_state(v) if args.resume else "start"
        planned.append((v, recipe, plan, state))
    bad, no_fit = [], []
    for v, _, plan, _ in planned:
        b, n = _problems(v, plan)
        bad += b
        no_fit += n
    if args.json:
        out(json.dumps({
            "event": "plans",
            "sweep_dir": str(sweep.sweep_dir),
            "variants": [{"name": v.name, "overrides": list(v.overrides), "state": st,
                          "plan": p.to_json()} for v, _, p, st in planned],
            "problems": bad + no_fit,
        }, default=str))  # fmt: skip
    else:
        out(f"sweep of {sweep.recipe_path} ({count(len(planned), 'variant')}, {sweep.sweep_dir}):")
        out(render_plans([_row(v, p, st) for v, _, p, st in planned]))
    if bad or no_fit:
        n = len(bad) + len(no_fit)
        err(f"{n} problem{'s' if n != 1 else ''} found; nothing was trained:")
        for line in bad + no_fit:
            err(f"  - {line}")
        return EXIT_BAD_INPUT if bad else EXIT_NO_FIT
    for _, recipe, plan, _ in planned:
        check_hardware(plan, resolved_args(recipe, plan), len(detected), force=False)
    if args.dry_run:
        return EXIT_OK
    if not args.resume:
        sw.write_manifest(sweep)
    code = _train_all(args, planned, base_dir)
    if code != EXIT_OK:
        return code
    return _compare(args, sweep)


def _train_all(args, planned, base_dir: Path) -> int:
    from swiftkit.run import preempt
    from swiftkit.run import sweep as sw

    again = shlex.join(["python", "-m", "swiftkit", "sweep", args.recipe, *args.overrides,
                        "--lr-scale", args.lr_scale, "--resume"])  # fmt: skip
    quiet = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    for i, (v, recipe, plan, state) in enumerate(planned, 1):
        if state == "done":
            err(f"[{i}/{len(planned)}] {v.name}: finished already, skipped")
            continue
        verb = "resuming" if state == "resume" else "training"
        err(f"[{i}/{len(planned)}] {verb} {v.name}")
        try:
            with quiet:
                code, failure, run_dir = sw.train_variant(recipe, plan, state, base_dir=base_dir)
        except preempt.Preempted as e:  # between variants: nothing was running
            code, failure, run_dir = preempt.exit_code_for(e.signum), e, None
        if code == EXIT_OK:
            err(f"[{i}/{len(planned)}] {v.name}: finished in {run_dir}")
            continue
        if isinstance(failure, preempt.Preempted):
            err(f"stopped by {failure} during {v.name}; resume the sweep with: {again}")
        else:
            err(
                f"{v.name} failed (exit {code}): {str(failure).splitlines()[-1] if failure else ''}"
            )
            err(f"fix it, then continue the sweep with: {again}")
        return code
    return EXIT_OK


def _compare(args, sweep) -> int:
    from swiftkit.cli.compare import plain_table
    from swiftkit.run import sweep as sw
    from swiftkit.watch import charts
    from swiftkit.watch.runs import read_run
    from swiftkit.watch.summary import compare_row

    runs = [read_run(d) for v in sweep.variants if (d := sw.variant_run(v)) is not None]
    rows = [compare_row(r) for r in runs]
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["best_eval_loss"] is None,
                                                    rows[i]["best_eval_loss"] or 0.0))  # fmt: skip
    runs, rows = [runs[i] for i in order], [rows[i] for i in order]
    png = charts.plot_runs(runs, sweep.sweep_dir / "compare.png") if runs else None
    if args.json:
        out(json.dumps({"event": "comparison", "sweep_dir": str(sweep.sweep_dir),
                        "ranked_by": "best_eval_loss", "runs": rows,
                        "png": str(png) if png else None}))  # fmt: skip
        return EXIT_OK
    out(f"ranked by best eval_loss ({count(len(rows), 'run')}):")
    width = max((len(r["run"].split("/")[0]) for r in rows), default=0)
    for i, r in enumerate(rows, 1):
        loss = r["best_eval_loss"]
        shown = f"{loss:.4f}" if loss is not None else "-"
        out(f"  {i}. {r['run'].split('/')[0]:<{width}}  best eval_loss {shown}  ({r['state']})")
    out(plain_table(rows))
    if png:
        out(f"plot: {png}")
    return EXIT_OK
