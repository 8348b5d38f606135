"""`swiftkit train`: from a checked plan to a finished run directory.

prepare_run() makes the run directory, the filled self-cognition copy and the provenance;
start_run() hands the recorded argv to swift (in-process or under torchrun);
summarize_run() reads what swift wrote.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftkit.data import datasets as ds
from swiftkit.errors import LaunchError, OutOfMemoryError, RecipeError, SwiftkitError
from swiftkit.plan.plan import Plan
from swiftkit.recipe.recipe import Recipe
from swiftkit.recipe.secrets import secret_args
from swiftkit.recipe.swiftargs import output_root
from swiftkit.run.launch import LaunchSpec, run_distributed, run_in_process, swift_argv
from swiftkit.run.rundir import create_run_dir, read_provenance, write_provenance


@dataclass(frozen=True)
class RunSummary:
    run_dir: Path
    global_step: int | None
    max_steps: int | None
    planned_max_steps: int | None
    last_checkpoint: Path | None
    peak_memory_gib: float | None
    train_loss: float | None
    stopped_by: str | None = None  # "SIGTERM"/"SIGINT" when a stop signal ended the run early
    resume_from: Path | None = None  # the checkpoint --resume continues from, after a stop


def filled_copies(plan: Plan, values, base_dir: Path, key: str = "dataset"):
    """(raw spec, parsed spec, file name of its filled copy under RUN_DIR/datasets, or None
    when train passes the spec as it is) for each value of `key` (dataset or val_dataset): a
    local file the plan found {{NAME}}/{{AUTHOR}} in (or did not count) gets a copy."""
    role = "train" if key == "dataset" else "val"
    counted = {d.spec: d.placeholder_rows for d in plan.datasets if d.role == role}
    for raw in [values] if isinstance(values, str) else values or ():
        spec = ds.parse_dataset_spec(raw, base_dir=base_dir)
        if spec.local_path is None or not spec.local_path.is_file() or not counted.get(raw, 1):
            yield raw, spec, None
        else:
            yield raw, spec, f"{spec.local_path.stem}.filled.jsonl"


def _filled_datasets(
    plan: Plan, resolved, run_dir: Path, base_dir: Path, key: str = "dataset"
) -> list[str]:
    """Each local dataset (of `key`: dataset or val_dataset) with {{NAME}}/{{AUTHOR}} becomes a
    filled copy in the run directory, streamed row by row. The plan's read of each dataset
    already counted its placeholder rows: the others are not read again."""
    names, authors = resolved.get("model_name"), resolved.get("model_author")
    out = []
    for raw, spec, name in filled_copies(plan, resolved.get(key), base_dir, key):
        if name is None:
            out.append(raw)
            continue
        target = run_dir / "datasets" / name
        target.parent.mkdir(exist_ok=True)
        changed = False
        with target.open("w", encoding="utf-8") as f:
            for row in ds.iter_rows(spec.local_path):
                filled = ds.fill_placeholders([row], name=names, author=authors)[0]
                changed = changed or filled != row
                f.write(json.dumps(filled, ensure_ascii=False) + "\n")
        if not changed:
            target.unlink()
            out.append(raw)
            continue
        suffix = f"#{spec.sample_rows}" if spec.sample_rows is not None else ""
        out.append(f"{target}{suffix}")
    return out


def prepare_run(
    recipe: Recipe, plan: Plan, resolved: Mapping[str, Any], *, base_dir: Path
) -> LaunchSpec:
    """Node 0 (or a single node): a new run directory with its provenance. Other nodes: node 0's
    run directory of the same run id (swiftkit.run.runid), with the arguments recorded there."""
    from swiftkit.run import runid

    root = output_root(resolved, base_dir)
    run_id = _run_id(plan)
    if plan.launch is not None and plan.launch.node_rank > 0:
        found = runid.wait_for_run(
            root, run_id, node_rank=plan.launch.node_rank, timeout=runid.timeout_s()
        )
        recorded = read_provenance(found)
        argv = tuple(recorded["argv"])
        return LaunchSpec(found, argv, dict(plan.env), secrets=secret_args(recipe.args))
    if run_id is not None:
        runid.refuse_used_run_id(root, run_id)
    run_dir = create_run_dir(root, add_version=bool(resolved.get("add_version", True)))
    args = dict(recipe.args)
    if plan.fills_placeholders:
        for key in ("dataset", "val_dataset"):  # swift fills neither in a local file
            if resolved.get(key):
                args[key] = _filled_datasets(plan, resolved, run_dir, base_dir, key)
    argv = swift_argv(args, run_dir=run_dir)
    write_provenance(
        run_dir,
        recipe_values=recipe.args,
        plan_json=plan.to_json(),
        swift_argv=argv,
        env=plan.env,
        recipe_path=recipe.path,
    )
    _start_memory_record(run_dir, plan)
    if run_id is not None:
        runid.record_run_id(run_dir, run_id)  # last: a directory carrying the id is complete
    return LaunchSpec(
        run_dir=run_dir, argv=tuple(argv), env=dict(plan.env), secrets=secret_args(recipe.args)
    )


def _run_id(plan: Plan) -> str | None:
    """The run id every node received; RecipeError (exit 2) when several nodes have none."""
    launch = plan.launch
    if launch is None:
        return None
    if launch.run_id is None and launch.nnodes > 1:
        msg = (
            f"{plan.recipe_path}: NNODES={launch.nnodes}: every node must find the same run "
            "directory, so give them all the same run id: --run-id ID or SWIFTKIT_RUN_ID=ID "
            f"(e.g. {plan.recipe}-0501). Inside a SLURM job it is slurm-$SLURM_JOB_ID."
        )
        raise RecipeError(msg)
    return launch.run_id.value if launch.run_id is not None else None


def _start_memory_record(run_dir: Path, plan: Plan) -> None:
    """RUN_DIR/swiftkit/memory.json: the estimate this run starts from (watch/memruns.py)."""
    from swiftkit.memory.learned import memory_record
    from swiftkit.watch.memruns import start_memory_record

    m = plan.memory
    if m is None or m.shape is None or m.config is None:
        return
    card = m.verdicts[0].card.name if m.cards_detected and m.verdicts else None
    start_memory_record(run_dir, memory_record(m.shape, m.config, m.estimate, card))


def _oom(run_dir: Path, oom: dict) -> OutOfMemoryError:
    step = oom.get("step")
    where = f" in optimizer step {step}" if step else ""
    return OutOfMemoryError(f"training ran out of GPU memory (CUDA out of memory){where}")


def start_run(spec: LaunchSpec) -> None:
    """Train. Raises OutOfMemoryError (exit 4) when it dies of CUDA out-of-memory (the details in
    RUN_DIR/swiftkit/oom.json), LaunchError (exit 1) with swift's own error otherwise."""
    from swiftkit.run import oom

    if spec.distributed:
        code = run_distributed(spec)
        if code != 0:
            record = oom.read_oom(spec.run_dir)
            if record is not None:
                raise _oom(spec.run_dir, record)
            msg = f"training failed: torch.distributed.run exited with {code} (its log is above)."
            raise LaunchError(msg)
        return
    # The recipe's env block applies before torch is imported (OMP_NUM_THREADS, ...).
    os.environ.update(spec.env)
    try:
        run_in_process(spec.full_argv())
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:
        import traceback

        if oom.is_cuda_oom(e):
            raise _oom(spec.run_dir, oom.record_oom(spec.run_dir, e)) from e
        detail = "".join(traceback.format_exception(e)).rstrip()
        msg = f"{detail}\ntraining failed: {type(e).__name__}: {e}"
        raise LaunchError(msg) from e


def resolved_args(recipe: Recipe, plan: Plan) -> dict[str, Any]:
    from swiftkit.recipe.swiftargs import resolve_args

    return resolve_args(recipe.args, world_size=plan.world_size)


def prepare_resume(
    recipe: Recipe, plan: Plan, resolved: Mapping[str, Any], *, base_dir: Path
) -> tuple[LaunchSpec, list[str]]:
    """The newest unfinished run of this recipe, from its last complete checkpoint."""
    from swiftkit.run.resume import find_resume_point, node_env, recipe_changes
    from swiftkit.run.runid import find_run

    root = output_root(resolved, base_dir)
    run_id, run_dir = _run_id(plan), None
    if run_id is not None:
        run_dir = find_run(root, run_id)
        if run_dir is None:
            msg = (
                f"{root}: no run with run id {run_id!r} to resume. Check the run id (it is in "
                "RUN_DIR/swiftkit/run_id), or start the run without --resume."
            )
            raise RecipeError(msg)
    point = find_resume_point(root, run_dir)
    notices = list(point.skipped)
    notices.append(f"resuming {point.run_dir.name} from {point.checkpoint.name}")
    changes = recipe_changes(point.run_dir, recipe.args)
    if changes:
        notices.append(
            "the recipe changed since the run started; resuming with the recorded "
            "arguments: " + "; ".join(changes)
        )
    env, env_notices = node_env(point.env, plan.env)
    notices += env_notices
    spec = LaunchSpec(
        run_dir=point.run_dir,
        argv=point.argv,
        env=env,
        resume_from=point.checkpoint,
        secrets=secret_args(recipe.args),
    )
    return spec, notices


def run_and_record(spec: LaunchSpec) -> tuple[int, BaseException | None]:
    """Train, recording the pid while it runs and how it ended (for `swiftkit status`)."""
    from swiftkit.run import oom, preempt
    from swiftkit.watch import memruns, runs

    if spec.first_node:  # only node 0 writes swiftkit's markers
        runs.write_pid(spec.run_dir)
    code, reason, failure = 0, "finished", None
    try:
        start_run(spec)
    except OutOfMemoryError as e:
        code, reason, failure = e.exit_code, e.reason, e
    except SwiftkitError as e:
        code, reason, failure = e.exit_code, str(e).splitlines()[-1], e
    except preempt.Preempted as e:
        code, reason, failure = preempt.exit_code_for(e.signum), f"stopped by {e}", e
    except KeyboardInterrupt as e:
        code, reason, failure = 130, "interrupted", e
    finally:
        if spec.first_node:
            runs.write_exit(spec.run_dir, code, reason)
            memruns.finish_memory_record(
                spec.run_dir, exit_code=code, oom=oom.read_oom(spec.run_dir)
            )
    return code, failure


def summarize_run(
    run_dir: Path, planned_max_steps: int | None, *, stopped_by: str | None = None
) -> RunSummary:
    """What swift wrote, read the way `swiftkit status` reads it. After a stop signal, also the
    checkpoint `train --resume` will continue from (the newest complete one, as
    swiftkit.run.resume.find_resume_point picks it)."""
    from swiftkit.run.resume import checkpoint_problem
    from swiftkit.watch.runs import read_run

    run = read_run(run_dir)
    loss = run.train[-1].loss if run.train else run.mean_train_loss
    resume_from = None
    if stopped_by is not None:
        complete = [c.path for c in run.checkpoints if checkpoint_problem(c.path) is None]
        resume_from = complete[-1] if complete else None
    return RunSummary(
        run_dir=run_dir,
        global_step=run.global_step,
        max_steps=run.max_steps,
        planned_max_steps=planned_max_steps,
        last_checkpoint=run.checkpoints[-1].path if run.checkpoints else None,
        peak_memory_gib=run.peak_memory_gib,
        train_loss=loss,
        stopped_by=stopped_by,
        resume_from=resume_from,
    )
