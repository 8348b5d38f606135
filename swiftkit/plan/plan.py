"""make_plan(): everything knowable about a run before a GPU is touched.

recipe -> resolved swift args -> checks -> datasets (rows, split, truncation) -> schedule
-> memory. Pure: reads files, never imports torch or swift, never prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from swiftkit.data.profile import LengthProfile
from swiftkit.plan.disk import DiskPlan, plan_disk
from swiftkit.plan.lookups import gpu_problems, model_warning
from swiftkit.plan.lrscale import lr_note as make_lr_note
from swiftkit.plan.memplan import MemoryPlan, plan_memory
from swiftkit.plan.nodes import NodeRow, launch_json, node_rows
from swiftkit.plan.rowplan import (
    DatasetPlan,
    count_rows,
    inspect_datasets,
    length_profile,
    placeholder_findings,
    rows_for_memory,
    token_lengths,
    with_lengths,
)
from swiftkit.plan.schedule import Schedule, make_schedule
from swiftkit.plan.stepchecks import (
    check_max_epochs,
    rows_per_rank_problem,
    schedule_json,
    schedule_options,
    too_many_steps,
)
from swiftkit.plan.timeplan import TimeEstimate, plan_time
from swiftkit.recipe.checks import check_recipe
from swiftkit.recipe.flags import load_schema
from swiftkit.recipe.launchenv import LaunchEnv, launch_values
from swiftkit.recipe.layout import plan_layout
from swiftkit.recipe.recipe import Recipe
from swiftkit.recipe.secrets import redact_args, redact_env
from swiftkit.recipe.swiftargs import output_root, resolve_args, world_size_from_env

# ms-swift's defaults aim at an effective batch of 16 (trainers/arguments.py:291), and the
# reference article tuned lr 1e-4 for it.
DEFAULT_LR_BATCH = 16


@dataclass(frozen=True)
class Plan:
    recipe: str
    recipe_path: str
    args: Mapping[str, Any]  # the recipe's own flags, as passed to swift
    env: Mapping[str, str]
    world_size: int
    datasets: tuple[DatasetPlan, ...]
    train_rows: int | None
    val_rows: int | None
    rows_exact: bool
    longest_row_tokens: int | None
    longest_row_exact: bool
    max_length_tokens: int | None
    schedule: Schedule | None
    learning_rate: float
    lr_note: str | None
    fills_placeholders: bool
    memory: MemoryPlan | None
    disk: DiskPlan | None
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    launch: LaunchEnv | None = None  # each launch value with its source
    nodes: tuple[NodeRow, ...] = ()  # one row per node
    time: TimeEstimate | None = None
    token_lengths: LengthProfile | None = None  # the local datasets' length profile

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        s = self.schedule
        out: dict[str, Any] = {
            "recipe": self.recipe,
            "recipe_path": self.recipe_path,
            "swift_version": load_schema().swift_version,
            "args": redact_args(self.args),
            "env": redact_env(self.env),
            "world_size": self.world_size,
            **launch_json(self.launch, self.nodes),
            "per_device_train_batch_size": s.per_device_batch if s else None,
            "gradient_accumulation_steps": s.accumulation_steps if s else None,
            "effective_batch_size": s.effective_batch_size if s else None,
            "train_rows": self.train_rows,
            "val_rows": self.val_rows,
            "rows_exact": self.rows_exact,
            "datasets": [asdict(d) for d in self.datasets],
            "longest_row_tokens": self.longest_row_tokens,
            "longest_row_exact": self.longest_row_exact,
            "max_length_tokens": self.max_length_tokens,
            "batches_per_epoch": s.batches_per_epoch if s else None,
            "updates_per_epoch": s.updates_per_epoch if s else None,
            "num_train_epochs": s.epochs if s else None,
            "max_steps": s.max_steps if s else None,
            "warmup_steps": s.warmup_steps if s else None,
            **schedule_json(s),
            "logging_steps_at": list(s.log_steps_at) if s else [],
            "eval_steps_at": list(s.eval_steps_at) if s else [],
            "save_steps_at": list(s.save_steps_at) if s else [],
            "checkpoints_kept": list(s.checkpoints_kept) if s else [],
            "keeps_best_checkpoint": s.keeps_best_checkpoint if s else False,
            "learning_rate": self.learning_rate,
            "lr_note": self.lr_note,
            "fills_placeholders": self.fills_placeholders,
            "memory": self.memory.to_json() if self.memory else None,
            "disk": asdict(self.disk) if self.disk else None,
            "warnings": list(self.warnings),
            "errors": list(self.errors),
            "notes": list(self.notes),
            "time": self.time.to_json() if self.time else None,
            "token_lengths": self.token_lengths.to_json() if self.token_lengths else None,
        }
        return out


def make_plan(
    recipe: Recipe,
    *,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    gpus: Sequence[str] = (),
    detected: Sequence[Any] = (),
    run_id: str | None = None,
    progress=None,
) -> Plan:
    """The plan for a recipe. progress(what, done, total) hears about long dataset reads."""
    base = base_dir or Path.cwd()
    launch = launch_values(recipe, environ, run_id=run_id)
    env = launch.env
    world_size, env_problems = world_size_from_env(env)
    resolved = resolve_args(recipe.args, world_size=world_size)
    findings = check_recipe(recipe, resolved)
    findings.errors.extend(gpu_problems(recipe, gpus))
    if note := model_warning(recipe, resolved.get("model"), base):
        findings.warnings.append(note)
    findings.errors.extend(f"{recipe.path}: {p}" for p in env_problems)
    findings.warnings.extend(recipe.notices)
    findings.warnings.extend(launch.warnings)
    findings.errors.extend(launch.problems)
    sources = {name: v.source for name, v in launch.values.items()}
    layout = plan_layout(recipe, resolved, env, world_size=world_size, base_dir=base,
                         detected_gpus=len(detected) or None, errors=findings.errors,
                         notes=findings.notes, sources=sources)  # fmt: skip

    stats = inspect_datasets(recipe, resolved, base, findings, progress)
    # from what the read of each dataset measured: pure, so also beside errors elsewhere
    over, longest, have_tokenizer, longest_exact = token_lengths(resolved, stats)
    profile = length_profile(stats, resolved.get("max_length"))

    had_errors = bool(findings.errors)  # e.g. a ratio out of range: already reported

    def split_error(message: str) -> None:
        if not had_errors:
            findings.errors.append(f"{recipe.location('split_dataset_ratio')}: {message}")

    plans, train_rows, val_rows, exact = count_rows(stats, resolved, over, split_error)
    plans = with_lengths(plans, stats)
    if stats and not have_tokenizer and resolved.get("truncation_strategy") == "delete":
        findings.notes.append(
            "row counts are an upper bound: the tokenizer is not local, so rows longer than "
            "max_length (which swift drops) could not be counted"
        )
        exact = False
    if any(st.rows is None for st, _ in stats):
        findings.notes.append(
            "a hub dataset cannot be counted offline: updates and max_steps are unknown until "
            "it is downloaded (or use a local copy)"
        )
    fills = placeholder_findings(recipe, resolved, stats, findings)

    schedule = None
    batch = resolved.get("per_device_train_batch_size") or 1
    accumulation = resolved.get("gradient_accumulation_steps") or 1
    if train_rows is not None and not findings.errors:
        if train_rows <= 0:
            findings.errors.append(
                f"{recipe.path}: no training rows are left after the split and the max_length "
                "filter. Lower split_dataset_ratio or raise max_length."
            )
        elif too_few := rows_per_rank_problem(recipe, train_rows, layout):
            findings.errors.append(too_few)
        elif too_many := too_many_steps(train_rows, resolved, layout, batch, accumulation):
            findings.errors.append(f"{recipe.location(too_many[0])}: {too_many[1]}")
        else:
            schedule = make_schedule(
                train_rows,
                world_size=world_size,
                batch=batch,
                accumulation=accumulation,
                epochs=float(resolved.get("num_train_epochs") or 0),
                max_steps_flag=int(resolved.get("max_steps") or -1),
                warmup_steps=float(resolved.get("warmup_steps") or 0),
                warmup_ratio=float(resolved.get("warmup_ratio") or 0),
                logging_steps=resolved.get("logging_steps") or 0,
                logging_first_step=bool(resolved.get("logging_first_step")),
                eval_steps=resolved.get("eval_steps"),
                save_steps=resolved.get("save_steps"),
                save_strategy=str(resolved.get("save_strategy") or "steps"),
                save_total_limit=resolved.get("save_total_limit"),
                eval_strategy=str(resolved.get("eval_strategy") or "no"),
                **schedule_options(resolved, layout),
            )
            check_max_epochs(recipe, resolved, schedule, findings.warnings)
    if "gradient_accumulation_steps" not in recipe.args:
        findings.notes.append(
            f"gradient_accumulation_steps is not set: swift uses ceil(16 / {batch} / {world_size})"
            f" = {accumulation}"
        )

    tuned_for = recipe.settings.get("lr_tuned_for_batch", DEFAULT_LR_BATCH)
    effective = batch * accumulation * layout.data_parallel_size
    lr = float(resolved["learning_rate"])
    lr_note = make_lr_note(lr, effective, tuned_for, "lr_tuned_for_batch" in recipe.settings)

    memory = None
    if not findings.errors:
        memory = plan_memory(
            resolved,
            recipe,
            base,
            world_size=world_size,
            longest_row_tokens=longest,
            profile=rows_for_memory(stats),
            gpus=gpus,
            findings=findings,
            detected=detected,
            layout=layout,
        )
    disk = None
    if memory is not None and memory.checkpoint is not None:
        disk = plan_disk(output_root(resolved, base), memory.checkpoint, schedule)
        if not disk.fits:
            findings.warnings.append(
                f"{recipe.location('output_dir')}: the checkpoints need about "
                f"{disk.needed_bytes / 2**30:.1f} GiB ({disk.checkpoints_at_once} at once) but "
                f"only {disk.free_bytes / 2**30:.1f} GiB is free under {disk.output_root}. "
                "Free space, choose another output_dir, or lower save_total_limit."
            )
    time_estimate = plan_time(
        resolved, memory, schedule, disk, env, world_size, stats, base, val_rows, findings.notes
    )
    return Plan(
        recipe=recipe.name,
        recipe_path=str(recipe.path),
        args=dict(recipe.args),
        env=env,
        world_size=world_size,
        datasets=tuple(plans),
        train_rows=train_rows,
        val_rows=val_rows,
        rows_exact=exact,
        longest_row_tokens=longest,
        longest_row_exact=longest_exact,
        max_length_tokens=resolved.get("max_length"),
        schedule=schedule,
        learning_rate=lr,
        lr_note=lr_note,
        fills_placeholders=fills,
        memory=memory,
        disk=disk,
        errors=tuple(findings.errors),
        warnings=tuple(findings.warnings),
        notes=tuple(findings.notes),
        launch=launch,
        nodes=node_rows(launch, schedule),
        time=time_estimate,
        token_lengths=profile,
    )
