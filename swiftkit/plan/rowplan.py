"""The rows part of a plan: each dataset's rows after `#N` sampling, the validation split and
the max_length filter, the longest row in tokens, the length profile, and the {{NAME}}/{{AUTHOR}}
findings.

Each dataset file is read once (swiftkit.data.scan: row checks and token lengths in one pass,
cached per file). Exact token lengths need the model's tokenizer on disk; without it the longest
row is bounded by its UTF-8 bytes and over-long rows cannot be counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from swiftkit.data import datasets as ds
from swiftkit.data.profile import LengthProfile, LengthSummary, make_profile
from swiftkit.errors import DatasetError
from swiftkit.recipe.checks import Findings
from swiftkit.recipe.recipe import Recipe


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
    longest_row_tokens: int | None = None  # longest row swift keeps (exact with a tokenizer)
    longest_label_tokens: int | None = None  # most labelled (loss) tokens in one kept row


def inspect_datasets(
    recipe: Recipe,
    resolved: Mapping[str, Any],
    base_dir: Path,
    findings: Findings,
    progress=None,
) -> list[tuple[ds.DatasetStats, str]]:
    """Each dataset read once: swift's row checks and the token lengths (data.scan)."""
    from swiftkit.data import tokens

    ctx, key = None, None
    if any(resolved.get(k) for k in ("dataset", "val_dataset")):
        ctx, key = tokens.length_context(
            resolved.get("model"),
            base_dir,
            template=resolved.get("template"),
            system=resolved.get("system"),
            loss_scale=resolved.get("loss_scale"),
            max_length=resolved.get("max_length"),
            progress=progress,
        )
    out = []
    for role, key_name in (("train", "dataset"), ("val", "val_dataset")):
        for raw in resolved.get(key_name) or ():
            try:
                spec = ds.parse_dataset_spec(raw, base_dir=base_dir)
            except DatasetError as e:
                findings.errors.append(f"{recipe.location(key_name)}: {e}")
                continue
            try:
                stats = ds.inspect_dataset(spec, findings.errors, ctx, key)
            except DatasetError as e:  # the tokenizer cannot be read: count rows without it
                findings.errors.append(f"{recipe.location('model')}: {e}")
                ctx = key = None
                stats = ds.inspect_dataset(spec, findings.errors)
            out.append((stats, role))
    return out


def count_rows(
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


def token_lengths(resolved, stats):
    """(rows over max_length per spec, longest kept row in tokens, tokenizer local?, longest
    proved?) from the lengths the one read of each dataset measured. With a local tokenizer the
    counts are exact and the longest row is exact when proved within the work limit
    (data.lengthscan), else the longest the tokenizer saw; without one it is an upper bound from
    the rows' UTF-8 bytes, and over-long rows are not counted."""
    max_length = resolved.get("max_length")
    over: dict[str, int | None] = {}
    longest, tokenized, proved = 0, True, True
    for st, _role in stats:
        lengths = st.lengths
        if lengths is None or st.rows is None:
            continue
        tokenized = tokenized and lengths.source == "tokenizer"
        proved = proved and lengths.longest_kept_exact
        longest = max(longest, lengths.longest_kept or 0)
        if lengths.source != "tokenizer" or not max_length:
            continue
        if resolved.get("truncation_strategy") == "delete":
            over[st.spec.raw] = lengths.over_max_length
        elif lengths.over_max_length:  # left/right: long rows are cut to max_length, not dropped
            longest = max(longest, max_length)
    measured = any(st.lengths is not None and st.rows is not None for st, _ in stats)
    tokenized = measured and tokenized
    return over, longest or None, tokenized, tokenized and proved


def length_profile(stats, max_length: int | None) -> LengthProfile | None:
    """The token-length profile of all local datasets together (train and validation files)."""
    parts = [st.lengths for st, _role in stats if st.lengths is not None and st.rows is not None]
    merged = LengthSummary.merge(parts)
    return make_profile(merged, max_length) if merged else None


def with_lengths(plans: list[DatasetPlan], stats) -> list[DatasetPlan]:
    """Each dataset's longest kept row and most labelled tokens, beside its counts."""
    out = []
    for plan, (st, _role) in zip(plans, stats, strict=True):
        lengths = st.lengths
        if lengths is None:
            out.append(plan)
            continue
        label = lengths.longest_label if lengths.source == "tokenizer" else None
        out.append(
            replace(plan, longest_row_tokens=lengths.longest_kept, longest_label_tokens=label)
        )
    return out


def placeholder_findings(recipe, resolved, stats, findings) -> bool:
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
