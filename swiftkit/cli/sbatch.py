"""`swiftkit sbatch`: a SLURM batch script that trains a recipe on several nodes, saves before the
time limit, requeues itself and resumes. Prints the script's path (nothing else on stdout)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from swiftkit.cli.common import EXIT_BAD_INPUT, EXIT_OK, add_recipe_args, count, err, out

HELP = """\
Write a SLURM batch script for a recipe: it plans once, then srun starts `swiftkit train` on every
node (NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT and NPROC_PER_NODE come from SLURM; all nodes
share one run directory through the run id slurm-$SLURM_JOB_ID). SLURM sends SIGTERM
--signal-before seconds before the time limit: every node saves a checkpoint, the job requeues
itself and resumes with --resume. Prints the script's path; never writes over a file.

examples:
  swiftkit sbatch qwen7b_selfcog --nodes 2 --gpus-per-node 8 --time 12:00:00 --partition gpu
  sbatch $(swiftkit sbatch qwen7b_selfcog --nodes 4 --gpus-per-node 8 --out jobs/q7.sbatch)
"""


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "sbatch",
        help="write a SLURM batch script: every node trains, saves before the limit, requeues",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_recipe_args(p)
    p.add_argument("--nodes", type=int, required=True, help="nodes (sbatch --nodes)")
    p.add_argument(
        "--gpus-per-node",
        type=int,
        required=True,
        help="GPUs per node, one training process each (0: a CPU job)",
    )
    p.add_argument("--time", help="time limit, e.g. 12:00:00 or 2-00:00:00 (sbatch --time)")
    p.add_argument("--partition", help="partition (sbatch --partition)")
    p.add_argument("--account", help="account to charge (sbatch --account)")
    p.add_argument("--job-name", help="job name (default: swiftkit-RECIPE)")
    p.add_argument(
        "--signal-before",
        type=int,
        default=None,
        metavar="SECONDS",
        help="SIGTERM this long before the time limit, to save a checkpoint (default 120)",
    )
    p.add_argument("--out", help="where to write the script (default: ./RECIPE.sbatch)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the path")
    p.set_defaults(func=cmd_sbatch)


def allocation_environ(nodes: int, gpus_per_node: int) -> dict[str, str]:
    """This process's environment as the job will see it on its first node: the submitting
    shell's variables (sbatch exports them), less the launch ones the script unsets, plus SLURM's
    layout for the allocation asked for."""
    from swiftkit.run.sbatch import LAYOUT_VARS

    env = {
        k: v for k, v in os.environ.items() if k not in LAYOUT_VARS and not k.startswith("SLURM_")
    }
    env.pop("SWIFTKIT_RUN_ID", None)
    env.update(
        SLURM_JOB_ID="0",
        SLURM_NNODES=str(nodes),
        SLURM_NODEID="0",
        SLURM_JOB_NODELIST=f"node[1-{nodes}]" if nodes > 1 else "node1",
    )
    if gpus_per_node > 0:
        env["SLURM_GPUS_ON_NODE"] = str(gpus_per_node)
    return env


def cmd_sbatch(args: argparse.Namespace) -> int:
    from swiftkit.cli.render import render_problems
    from swiftkit.plan.plan import make_plan
    from swiftkit.recipe.recipe import load_recipe
    from swiftkit.run.sbatch import DEFAULT_SIGNAL_BEFORE_S, sbatch_script, write_script

    recipe = load_recipe(args.recipe, args.overrides)
    plan = make_plan(recipe, environ=allocation_environ(args.nodes, args.gpus_per_node))
    if plan.errors:
        err(render_problems(plan))
        return EXIT_BAD_INPUT
    text = sbatch_script(
        recipe_path=recipe.path,
        overrides=args.overrides,
        nodes=args.nodes,
        gpus_per_node=args.gpus_per_node,
        workdir=Path.cwd(),
        python=sys.executable,
        job_name=args.job_name or f"swiftkit-{recipe.name}",
        time=args.time,
        partition=args.partition,
        account=args.account,
        signal_before_s=args.signal_before or DEFAULT_SIGNAL_BEFORE_S,
    )
    path = Path(args.out) if args.out else Path(f"{recipe.name}.sbatch")
    path = write_script(path.resolve(), text)
    launch = plan.launch
    asked = args.nodes * max(args.gpus_per_node, 1)
    warnings = list(plan.warnings)
    if plan.world_size != asked and launch is not None:
        warnings.append(
            f"the job will run {count(launch.nnodes, 'node')} x "
            f"{count(launch.nproc_per_node, 'process', 'processes')} = "
            f"world size {plan.world_size}, not --nodes {args.nodes} x --gpus-per-node "
            f"{args.gpus_per_node}: NNODES from {launch.values['NNODES'].describe()}, "
            f"NPROC_PER_NODE from {launch.values['NPROC_PER_NODE'].describe()}"
        )
    # The same findings plan prints for this layout (swiftkit.cli.render.render_plan).
    notes = [*([plan.lr_note] if plan.lr_note else []), *plan.notes]
    s = plan.schedule
    summary = {
        "path": str(path),
        "nodes": args.nodes,
        "gpus_per_node": args.gpus_per_node,
        "world_size": plan.world_size,
        "effective_batch_size": s.effective_batch_size if s else None,
        "max_steps": s.max_steps if s else None,
        "warnings": warnings,
        "notes": notes,
    }
    if args.json:
        out(json.dumps(summary, indent=2))
        return EXIT_OK
    for n in notes:
        err(f"note: {n}")
    for w in warnings:
        err(f"warning: {w}")
    steps = (
        f", {count(s.max_steps, 'optimizer update')}, effective batch {s.effective_batch_size}"
        if s
        else ""
    )
    err(f"{recipe.name}: {count(args.nodes, 'node')}, world size {plan.world_size}{steps}")
    out(str(path))
    return EXIT_OK
