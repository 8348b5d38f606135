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
from swiftkit.errors import HardwareError, LaunchError, SwiftkitError
from swiftkit.plan.plan import Plan
from swiftkit.recipe.recipe import Recipe
from swiftkit.recipe.secrets import secret_args
from swiftkit.recipe.swiftargs import output_root
from swiftkit.run.launch import LaunchSpec, run_distributed, run_in_process, swift_argv
from swiftkit.run.rundir import create_run_dir, write_provenance

HALF_PRECISION = ("bfloat16", "bf16", "float16", "fp16")
# Above this a model is not trained on a CPU in any useful time.
MAX_CPU_PARAMS = 3_000_000_000


@dataclass(frozen=True)
class RunSummary:
    run_dir: Path
    global_step: int | None
    max_steps: int | None
    planned_max_steps: int | None
    last_checkpoint: Path | None
    peak_memory_gib: float | None
    train_loss: float | None


def check_hardware(
    plan: Plan, resolved: Mapping[str, Any], gpus_found: int, *, force: bool
) -> None:
    """Refuse, before any download, a run this machine cannot do. Raises HardwareError (exit 3)."""
    if gpus_found == 0 and not resolved.get("use_cpu"):
        dtype = resolved.get("torch_dtype")
        if dtype in HALF_PRECISION:
            msg = (
                f"{plan.recipe_path}: torch_dtype {dtype} needs a GPU and none was found. "
                "Run it on a GPU machine; on CPU use torch_dtype: float32 and use_cpu: true "
                "(python -m swiftkit demo shows a CPU run)."
            )
            raise HardwareError(msg)
    if gpus_found == 0 and plan.memory is not None:
        params = plan.memory.param_count
        if params and params > MAX_CPU_PARAMS:
            msg = (
                f"{plan.recipe_path}: {params / 1e9:.1f}B parameters will not train on a CPU. "
                "Run it on a GPU machine."
            )
            raise HardwareError(msg)
    if plan.disk is not None and not plan.disk.fits and not force:
        d = plan.disk
        msg = (
            f"{plan.recipe_path}: the checkpoints need about {d.needed_bytes / 2**30:.1f} GiB but "
            f"only {d.free_bytes / 2**30:.1f} GiB is free under {d.output_root}. Free space, "
            "choose another output_dir or lower save_total_limit; --force starts it anyway."
        )
        raise HardwareError(msg)
    m = plan.memory
    if m is not None and m.verdict == "will not fit" and not force:
        v = m.verdicts[0]
        fixes = "; ".join(s.description for s in m.suggestions[:3]) or "see swiftkit plan"
        msg = (
            f"{plan.recipe_path}: will not fit: about {m.estimate.device_bytes / 2**30:.1f} GiB "
            f"needed on {v.card.name} ({v.card.total_bytes / 2**30:.0f} GiB). Try: {fixes}. "
            "--force starts it anyway."
        )
        raise HardwareError(msg)


def _filled_datasets(plan: Plan, resolved, run_dir: Path, base_dir: Path) -> list[str]:
    """Each local dataset with {{NAME}}/{{AUTHOR}} becomes a filled copy in the run directory,
    streamed row by row. The plan's read of each dataset already counted its placeholder rows:
    the others are not read again."""
    names, authors = resolved.get("model_name"), resolved.get("model_author")
    counted = {d.spec: d.placeholder_rows for d in plan.datasets if d.role == "train"}
    out = []
    for raw in resolved.get("dataset") or ():
        spec = ds.parse_dataset_spec(raw, base_dir=base_dir)
        if spec.local_path is None or not spec.local_path.is_file() or not counted.get(raw, 1):
            out.append(raw)
            continue
        target = run_dir / "datasets" / f"{spec.local_path.stem}.filled.jsonl"
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
    run_dir = create_run_dir(
        output_root(resolved, base_dir), add_version=bool(resolved.get("add_version", True))
    )
    args = dict(recipe.args)
    if plan.fills_placeholders:
        args["dataset"] = _filled_datasets(plan, resolved, run_dir, base_dir)
    argv = swift_argv(args, run_dir=run_dir)
    write_provenance(
        run_dir,
        recipe_values=recipe.args,
        plan_json=plan.to_json(),
        swift_argv=argv,
        env=plan.env,
        recipe_path=recipe.path,
    )
    return LaunchSpec(
        run_dir=run_dir, argv=tuple(argv), env=dict(plan.env), secrets=secret_args(recipe.args)
    )


def start_run(spec: LaunchSpec) -> None:
    """Train. Raises LaunchError (exit 1) with swift's own error when training fails."""
    if spec.distributed:
        code = run_distributed(spec)
        if code != 0:
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
    from swiftkit.run.resume import find_resume_point, recipe_changes

    point = find_resume_point(output_root(resolved, base_dir))
    notices = list(point.skipped)
    notices.append(f"resuming {point.run_dir.name} from {point.checkpoint.name}")
    changes = recipe_changes(point.run_dir, recipe.args)
    if changes:
        notices.append(
            "the recipe changed since the run started; resuming with the recorded "
            "arguments: " + "; ".join(changes)
        )
    env = {**point.env, **{k: v for k, v in plan.env.items() if k not in point.env}}
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
    from swiftkit.run import preempt
    from swiftkit.watch import runs

    runs.write_pid(spec.run_dir)
    code, reason, failure = 0, "finished", None
    try:
        start_run(spec)
    except SwiftkitError as e:
        code, reason, failure = e.exit_code, str(e).splitlines()[-1], e
    except preempt.Preempted as e:
        code, reason, failure = preempt.exit_code_for(e.signum), f"stopped by {e}", e
    except KeyboardInterrupt as e:
        code, reason, failure = 130, "interrupted", e
    finally:
        runs.write_exit(spec.run_dir, code, reason)
    return code, failure


def summarize_run(run_dir: Path, planned_max_steps: int | None) -> RunSummary:
    """What swift wrote, read the way `swiftkit status` reads it."""
    from swiftkit.watch.runs import read_run

    run = read_run(run_dir)
    loss = run.train[-1].loss if run.train else run.mean_train_loss
    return RunSummary(
        run_dir=run_dir,
        global_step=run.global_step,
        max_steps=run.max_steps,
        planned_max_steps=planned_max_steps,
        last_checkpoint=run.checkpoints[-1].path if run.checkpoints else None,
        peak_memory_gib=run.peak_memory_gib,
        train_loss=loss,
    )
