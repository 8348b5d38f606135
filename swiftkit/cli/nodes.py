"""The launch layout as text: each launch value with its source, one row per node, and the
command every node runs (`train --dry-run`). Returns strings; the commands decide where they go."""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Sequence

from swiftkit.cli.common import count
from swiftkit.plan.nodes import node_env, swiftkit_command
from swiftkit.plan.plan import Plan
from swiftkit.recipe.launchenv import DEFAULT
from swiftkit.recipe.secrets import redact_args, redact_env


def render_launch(plan: Plan) -> list[str]:
    """`launch:` and `nodes:` sections of the plan; nothing for a plain one-process run."""
    launch = plan.launch
    if launch is None:
        return []
    shown = {n: v for n, v in launch.values.items() if v.source != DEFAULT}
    if plan.world_size <= 1 and not shown and launch.run_id is None:
        return []
    nnodes, nproc = launch.nnodes, launch.nproc_per_node
    head = (
        f"launch: {nnodes} node{'s' if nnodes != 1 else ''} x {nproc} "
        f"process{'es' if nproc != 1 else ''} = world size {plan.world_size}"
    )
    if nnodes > 1:
        head += f" (this is node {launch.node_rank})"
    lines = [head]
    values = redact_env({n: v.value for n, v in launch.values.items()})
    width = max(len(f"{n}={values[n]}") for n in launch.values) + 2
    for name, v in launch.values.items():
        if v.source == DEFAULT and plan.world_size <= 1:
            continue
        lines.append(f"  {f'{name}={values[name]}':<{width}}{v.describe()}")
    if launch.run_id is not None:
        lines.append(f"  run id: {launch.run_id.value} ({launch.run_id.describe()})")
    if nnodes > 1:
        lines.append("nodes:")
        for row in plan.nodes:
            marks = [
                m for m, on in (("master", row.is_master), ("this node", row.is_this_node)) if on
            ]
            mark = f" ({', '.join(marks)})" if marks else ""
            batches = (
                f", {count(row.batches_per_epoch, 'batch', 'batches')} per epoch"
                if row.batches_per_epoch is not None
                else ""
            )
            ranks = (
                f"rank {row.first_global_rank}"
                if row.processes == 1
                else f"ranks {row.first_global_rank}-{row.last_global_rank}"
            )
            lines.append(
                f"  node {row.node_rank} {row.host or '?'}{mark}: {row.processes} "
                f"process{'es' if row.processes != 1 else ''}, global {ranks}{batches}"
            )
        if len(plan.nodes) < nnodes:
            lines.append(f"  ... {nnodes - len(plan.nodes)} more")
    return lines


RUN_DIR = "<RUN_DIR>"  # the run directory train makes at launch: output_dir/vN-YYYYMMDD-HHMMSS
NODE0_ADDRESS = "<node-0-address>"


def train_args(plan: Plan) -> tuple[dict, list[str]]:
    """The flags as train passes them: a local dataset holding {{NAME}}/{{AUTHOR}} becomes its
    filled copy under RUN_DIR (swiftkit.run.train.filled_copies: swift fills them only in its
    hub self-cognition dataset), and the note that says so."""
    from pathlib import Path

    from swiftkit.recipe.swiftargs import output_root
    from swiftkit.run.train import filled_copies

    args = dict(plan.args)
    if not plan.fills_placeholders:
        return args, []
    swaps = []
    for key in ("dataset", "val_dataset"):
        if not args.get(key):
            continue
        passed = []
        for raw, spec, name in filled_copies(plan, args[key], Path.cwd(), key):
            if name is None:
                passed.append(raw)
                continue
            suffix = f"#{spec.sample_rows}" if spec.sample_rows is not None else ""
            passed.append(f"{RUN_DIR}/datasets/{name}{suffix}")
            swaps.append(f"{raw} -> {passed[-1]}")
        args[key] = passed
    root = output_root(plan.args, Path.cwd())
    note = (
        "swift leaves {{NAME}}/{{AUTHOR}} literal in a local dataset, so train writes filled "
        f"copies into the run directory it makes at launch ({RUN_DIR} = {root}/vN-YYYYMMDD-HHMMSS) "
        f"and passes those: {'; '.join(swaps)}. The swift sft command needs them: run "
        "python -m swiftkit train, or fill the placeholders yourself."
    )
    return args, [note]


def dry_run_notes(plan: Plan) -> list[str]:
    """What --dry-run says beside the commands (on stderr): the plan's warnings, the
    learning-rate note and how train fills placeholders."""
    lines = [f"warning: {w}" for w in plan.warnings]
    if plan.lr_note:
        lines.append(f"note: {plan.lr_note}")
    lines += [f"note: {n}" for n in train_args(plan)[1]]
    return lines


def dry_run_commands(plan: Plan, recipe_ref: str, overrides: Sequence[str]) -> str:
    """The equivalent `swift sft` command, with the datasets train passes; for several nodes one
    per node, each followed by the `swiftkit train` line that runs it there and shares the run
    directory. Without MASTER_ADDR, a placeholder for node 0's address: torchrun's default
    127.0.0.1 reaches node 0 only from node 0."""
    from swiftkit.run.launch import shell_command

    args = redact_args(train_args(plan)[0])
    env = redact_env(plan.env)
    launch = plan.launch
    if launch is None or launch.nnodes <= 1:
        return shell_command(args, env)
    run_id = (
        launch.run_id.value
        if launch.run_id is not None
        else f"{plan.recipe}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    )
    unset = [n for n in ("MASTER_ADDR", "MASTER_PORT") if launch.values[n].source == DEFAULT]
    lines = []
    for row in plan.nodes:
        here = node_env(env, row.node_rank)
        if "MASTER_ADDR" in unset:
            here["MASTER_ADDR"] = NODE0_ADDRESS
        if unset:  # the same port on every node, written out (torchrun's default)
            here["MASTER_PORT"] = launch.values["MASTER_PORT"].value
        host = f" ({row.host})" if row.host else ""
        lines.append(f"# node {row.node_rank} of {launch.nnodes}{host}")
        lines.append(shell_command(args, here))
        lines.append(
            "#   through swiftkit (one shared run directory): "
            + swiftkit_command(recipe_ref, overrides, here, run_id)
        )
    if "MASTER_ADDR" in unset:
        lines.append(
            f"# MASTER_ADDR is not set: replace {NODE0_ADDRESS} with node 0's address (the same "
            "on every node)"
        )
    if launch.run_id is None:
        lines.append(
            f"# no run id was given: {shlex.quote(run_id)} is a suggestion; every node needs the "
            "same one"
        )
    return "\n".join(lines)
