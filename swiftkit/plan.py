"""make_plan(): everything knowable about a run before a GPU is touched.

recipe -> resolved swift args -> checks -> datasets (rows, split, truncation) -> schedule
-> memory. Pure: reads files, never imports torch or swift, never prints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from swiftkit import datasets as ds
from swiftkit.checks import Findings, check_recipe
from swiftkit.disk import DiskPlan, plan_disk
from swiftkit.errors import DatasetError
from swiftkit.flags import load_schema
from swiftkit.memplan import MemoryPlan, plan_memory
from swiftkit.recipe import Recipe, launch_env
from swiftkit.rundir import output_root, redact_args, redact_env
from swiftkit.schedule import Schedule, make_schedule, updates_for
from swiftkit.swiftargs import resolve_args, world_size_from_env

# ms-swift's defaults aim at an effective batch of 16 (trainers/arguments.py:291), and the
# reference article tuned lr 1e-4 for it.
DEFAULT_LR_BATCH = 16


@dataclass(frozen=True)
class DatasetPlan:
    spec: str
    path: str | None
    rows_in_file: int | None
    rows_sampled: int | None
    train_rows: int | None
    val_rows: int | None
    rows_over_max_length: int | None
    placeholder_rows: int
    role: str  # "train" (split by split_dataset_ratio) or "val" (val_dataset)


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
        }
        return out


def _lr_note(lr: float, effective: int, tuned_for: int, explicit: bool) -> str | None:
    if effective == tuned_for or effective < 1:
        return None
    ratio = effective / tuned_for
    source = "the recipe's lr_tuned_for_batch" if explicit else "ms-swift's default effective batch"
    return (
        f"effective batch {effective} differs from {tuned_for} ({source}): "
        f"scale learning_rate {lr:g} by sqrt({effective}/{tuned_for}) -> "
        f"{lr * math.sqrt(ratio):.3g}, "
        f"or linearly -> {lr * ratio:.3g}"
    )


def _inspect_datasets(
    recipe: Recipe, resolved: Mapping[str, Any], base_dir: Path, findings: Findings
) -> list[tuple[ds.DatasetStats, str]]:
    out = []
    for role, key in (("train", "dataset"), ("val", "val_dataset")):
        for raw in resolved.get(key) or ():
            try:
                spec = ds.parse_dataset_spec(raw, base_dir=base_dir)
            except DatasetError as e:
                findings.errors.append(f"{recipe.location(key)}: {e}")
                continue
            out.append((ds.inspect_dataset(spec, findings.errors), role))
    return out


def _count_rows(
    stats: list[tuple[ds.DatasetStats, str]],
    resolved: Mapping[str, Any],
    over_by_spec: Mapping[str, int | None],
    on_error,
) -> tuple[list[DatasetPlan], int | None, int | None, bool]:
    ratio = resolved.get("split_dataset_ratio") or 0.0
    plans, train_total, val_total, exact = [], 0, 0, True
    for st, role in stats:
        over = over_by_spec.get(st.spec.raw)
        path = str(st.spec.local_path) if st.spec.local_path else None
        counts = None
        if st.rows is not None:
            try:
                sampled = ds.count_after_sampling(st.rows, st.spec.sample_rows)
                if role == "val":
                    counts = (0, sampled)
                else:
                    counts = ds.split_counts(st.rows, ratio, sample_rows=st.spec.sample_rows)
            except DatasetError as e:
                on_error(str(e))
        if counts is None:
            plans.append(DatasetPlan(st.spec.raw, path, st.rows, None, None, None, None, 0, role))
            train_total = val_total = None
            continue
        train, val = counts
        if over:
            exact = False  # which rows land in which split is random: spread the drops
            share_train = round(over * train / max(train + val, 1))
            train, val = train - share_train, val - (over - share_train)
        plans.append(
            DatasetPlan(
                st.spec.raw, path, st.rows, sampled, train, val, over, st.placeholder_rows, role
            )
        )
        if train_total is not None:
            train_total += train
            val_total += val
    return plans, train_total, val_total, exact


# Without a local tokenizer: any byte-level BPE (Qwen, Llama 3) or byte-fallback tokenizer
# makes at most one token per UTF-8 byte, so the bytes of the templated text bound the tokens.
# Per message, room for the role markers; per row, room for a default system prompt and BOS.
_MESSAGE_OVERHEAD_BYTES = 32
_DEFAULT_SYSTEM_BYTES = 256


def _byte_upper_bound(messages: list[dict], system: str | None) -> int:
    text = sum(len(str(m.get("content") or "").encode("utf-8")) for m in messages)
    has_system = any(m.get("role") == "system" for m in messages)
    system_bytes = (
        0 if has_system else (len(system.encode("utf-8")) if system else _DEFAULT_SYSTEM_BYTES)
    )
    return text + system_bytes + _MESSAGE_OVERHEAD_BYTES * (len(messages) + 1)


def _token_lengths(resolved, stats, base_dir):
    """(rows over max_length per spec, longest row in tokens, exact?) for the local datasets.

    Exact with a local tokenizer; otherwise an upper bound from the rows' UTF-8 bytes, and no
    count of over-long rows.
    """
    from swiftkit import tokens

    model = resolved.get("model")
    tok_dir = tokens.find_local_tokenizer(model, base_dir) if model else None
    max_length = resolved.get("max_length")
    system = resolved.get("system")
    over: dict[str, int | None] = {}
    longest = 0
    for st, _role in stats:
        if st.spec.local_path is None or st.rows is None:
            continue
        rows = ds.read_messages(st.spec.local_path)
        if tok_dir is None:
            lengths = [_byte_upper_bound(m, system) for m in rows]
        else:
            lengths = tokens.token_lengths(
                rows, tok_dir, system=system, template=resolved.get("template")
            )
        if not lengths:
            continue
        longest = max(longest, max(lengths))
        if tok_dir is not None and max_length and resolved.get("truncation_strategy") == "delete":
            over[st.spec.raw] = sum(n > max_length for n in lengths)
    return over, longest or None, tok_dir is not None


# More optimizer updates than any fine-tuning run makes: almost surely a typo, and listing its
# log/eval/save steps would take minutes.
MAX_PLANNED_STEPS = 1_000_000


def _too_many_steps(rows, resolved, world_size, batch, accumulation) -> tuple[str, str] | None:
    flag = int(resolved.get("max_steps") or -1)
    if flag > 0:
        steps, key = flag, "max_steps"
    else:
        _, updates = updates_for(
            rows, world_size=world_size, batch=batch, accumulation=accumulation
        )
        steps, key = (
            math.ceil(float(resolved.get("num_train_epochs") or 0) * updates),
            "num_train_epochs",
        )
    if steps <= MAX_PLANNED_STEPS:
        return None
    return key, (
        f"{key} makes {steps:,} optimizer updates, more than {MAX_PLANNED_STEPS:,}. "
        "Check max_steps and num_train_epochs."
    )


def make_plan(
    recipe: Recipe,
    *,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    gpus: Sequence[str] = (),
    detected: Sequence[Any] = (),
) -> Plan:
    base = base_dir or Path.cwd()
    env = launch_env(recipe, environ)
    world_size, env_problems = world_size_from_env(env)
    resolved = resolve_args(recipe.args, world_size=world_size)
    findings = check_recipe(recipe, resolved)
    findings.errors.extend(f"{recipe.path}: {p}" for p in env_problems)
    findings.warnings.extend(recipe.notices)

    stats = _inspect_datasets(recipe, resolved, base, findings)
    over, longest, have_tokenizer = {}, None, False
    if not findings.errors:
        over, longest, have_tokenizer = _token_lengths(resolved, stats, base)

    had_errors = bool(findings.errors)  # e.g. a ratio out of range: already reported

    def split_error(message: str) -> None:
        if not had_errors:
            findings.errors.append(f"{recipe.location('split_dataset_ratio')}: {message}")

    plans, train_rows, val_rows, exact = _count_rows(stats, resolved, over, split_error)
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
    fills = _placeholder_findings(recipe, resolved, stats, findings)

    schedule = None
    batch = resolved.get("per_device_train_batch_size") or 1
    accumulation = resolved.get("gradient_accumulation_steps") or 1
    if train_rows is not None and not findings.errors:
        if train_rows <= 0:
            findings.errors.append(
                f"{recipe.path}: no training rows are left after the split and the max_length "
                "filter. Lower split_dataset_ratio or raise max_length."
            )
        elif too_many := _too_many_steps(train_rows, resolved, world_size, batch, accumulation):
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
                evaluates=resolved.get("eval_strategy") == "steps",
            )
    if "gradient_accumulation_steps" not in recipe.args:
        findings.notes.append(
            f"gradient_accumulation_steps is not set: swift uses ceil(16 / {batch} / {world_size})"
            f" = {accumulation}"
        )

    tuned_for = recipe.settings.get("lr_tuned_for_batch", DEFAULT_LR_BATCH)
    effective = batch * accumulation * world_size
    lr = float(resolved["learning_rate"])
    lr_note = _lr_note(lr, effective, tuned_for, "lr_tuned_for_batch" in recipe.settings)

    memory = None
    if not findings.errors:
        memory = plan_memory(
            resolved,
            recipe,
            base,
            world_size=world_size,
            longest_row_tokens=longest,
            gpus=gpus,
            findings=findings,
            detected=detected,
        )
    disk = None
    if memory is not None:
        disk = plan_disk(
            output_root(resolved, base),
            memory.estimate.breakdown,
            schedule,
            resolved.get("save_total_limit"),
        )
        if not disk.fits:
            findings.warnings.append(
                f"{recipe.location('output_dir')}: the checkpoints need about "
                f"{disk.needed_bytes / 2**30:.1f} GiB ({disk.checkpoints_at_once} at once) but "
                f"only {disk.free_bytes / 2**30:.1f} GiB is free under {disk.output_root}. "
                "Free space, choose another output_dir, or lower save_total_limit."
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
        longest_row_exact=have_tokenizer,
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
    )


def _placeholder_findings(recipe, resolved, stats, findings) -> bool:
    """model_name/model_author only fill the registered swift/self-cognition dataset."""
    named = bool(resolved.get("model_name") or resolved.get("model_author"))
    local_with = [
        st
        for st, _ in stats
        if st.is_local and st.placeholder_rows and not st.swift_fills_placeholders
    ]
    local_without = [st for st, _ in stats if st.is_local and not st.placeholder_rows]
    if named and local_with:
        findings.notes.append(
            "swift fills {{NAME}}/{{AUTHOR}} only in its hub self-cognition dataset: swiftkit "
            "train writes a filled copy of "
            + ", ".join(st.spec.raw for st in local_with)
            + " into the run directory and trains on that"
        )
        return True
    if named and local_without and not local_with:
        key = "model_name" if "model_name" in recipe.args else "model_author"
        findings.warnings.append(
            f"{recipe.location(key)}: {key} does nothing here: no local dataset holds "
            "{{NAME}} or {{AUTHOR}}. Remove it, or use placeholders in your rows."
        )
    if local_with and not named:
        where = recipe.location("dataset")
        findings.warnings.append(
            f"{where}: {local_with[0].spec.raw} holds {{{{NAME}}}}/{{{{AUTHOR}}}} but model_name "
            "and model_author are not set: the model would learn the placeholders literally. "
            "Set model_name: and model_author:."
        )
    return False
