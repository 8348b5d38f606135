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
from swiftkit.data.profile import LengthProfile, LengthSummary, make_profile, mean_tokens
from swiftkit.data.selfcog import SELF_COGNITION_SUBSETS, is_self_cognition, unknown_subsets
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
            where = recipe.location(key_name)
            try:
                stats = ds.inspect_dataset(spec, findings.errors, ctx, key, where=where)
            except DatasetError as e:  # the tokenizer cannot be read: count rows without it
                findings.errors.append(f"{recipe.location('model')}: {e}")
                ctx = key = None
                stats = ds.inspect_dataset(spec, findings.errors, where=where)
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
            drop_train, drop_val, known = length_drops(
                over, st.rows, train, val, split=role == "train" and 0 < ratio < 1
            )
            exact = exact and known
            train, val = train - drop_train, val - drop_val
        plans.append(
            DatasetPlan(
                st.spec.raw, path, st.rows, sampled, train, val, over, st.placeholder_rows, role
            )
        )
        if train_total is not None:
            train_total += train
            val_total += val
    return plans, train_total, val_total, exact


def length_drops(
    over: int, rows: int, train: int, val: int, *, split: bool
) -> tuple[int, int, bool]:
    """(train rows dropped, val rows dropped, exact?) when `over` of a dataset's `rows` are
    longer than max_length, after sampling and the split gave it `train` and `val` rows.

    swift drops over-long rows after the split and `#N` sampling (truncation_strategy delete:
    swift/pipelines/train/sft.py, AddLengthPreprocessor). sample_dataset
    (swift/dataset/utils.py:18-54) takes the whole dataset N // rows times, then N % rows rows at
    random. So without a split the count is exact when each row is taken a whole number of
    times (no #N, or N a multiple of the rows): every over-long row is dropped that many
    times. A random split (train_test_split), or a random remainder, leaves an expected count:
    each taken row is over-long with probability over / rows.
    """
    if over >= rows:  # every row is too long: all of them go, wherever they landed
        return train, val, True
    if split:
        return round(train * over / rows), round(val * over / rows), False
    drops = []
    for n in (train, val):
        repeats, remainder = divmod(n, rows)
        drops.append(repeats * over + round(remainder * over / rows))
    exact = train % rows == 0 and val % rows == 0
    return drops[0], drops[1], exact


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


@dataclass(frozen=True)
class RowsForMemory:
    """What the memory estimate needs of the rows besides the longest kept one (upper bounds
    from their bytes when the tokenizer is not local)."""

    mean_tokens: int | None  # the mean row: how much the allocator's blocks vary
    longest_label_tokens: int | None  # the most tokens a row trains on (logits_to_keep)


def rows_for_memory(stats) -> RowsForMemory | None:
    parts = [st.lengths for st, _role in stats if st.lengths is not None and st.rows is not None]
    merged = LengthSummary.merge(parts)
    if merged is None:
        return None
    return RowsForMemory(mean_tokens(merged), merged.longest_label)


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
    """model_name/model_author fill {{NAME}}/{{AUTHOR}} only in swift's self-cognition dataset
    (swiftkit.data.selfcog; swift/dataset/loader.py init_self_cognition_preprocessor). Returns
    whether train must write filled copies of local datasets that hold them."""
    given = {k: bool(resolved.get(k)) for k in ("model_name", "model_author")}
    named = any(given.values())
    swift_filled = [(st, r) for st, r in stats if st.swift_fills_placeholders]
    local_with = [
        (st, r)
        for st, r in stats
        if st.is_local and st.placeholder_rows and not st.swift_fills_placeholders
    ]
    # a local file that could not be read may hold them: nothing can be said about it
    unread = any(st.is_local and st.rows is None for st, _ in stats)
    for st, role in stats:
        self_cog = is_self_cognition(st.spec.path_or_id, st.spec.local_path)
        if self_cog and (odd := unknown_subsets(st.spec.subset)):
            findings.warnings.append(
                f"{_where(recipe, role)}: {st.spec.raw}: {odd[0]} is not a subset of swift's "
                f"self-cognition dataset ({', '.join(SELF_COGNITION_SUBSETS)}), so swift does not "
                "fill {{NAME}}/{{AUTHOR}} there. Use one of those subsets."
            )
    if swift_filled:
        missing = [k for k, is_set in given.items() if not is_set]
        if missing:
            holders = {"model_name": "{{NAME}}", "model_author": "{{AUTHOR}}"}
            verb = "is" if len(missing) == 1 else "are"
            first, role = swift_filled[0]
            findings.warnings.append(
                f"{_where(recipe, role)}: {first.spec.raw} is swift's "
                f"self-cognition dataset, but {' and '.join(missing)} {verb} not set: swift "
                f"leaves {'/'.join(holders[k] for k in missing)} in its rows literally and the "
                "model learns them. Set " + " and ".join(f"{k}: [ZH, EN]" for k in missing) + "."
            )
        else:
            findings.notes.append(
                "swift fills {{NAME}}/{{AUTHOR}} in "
                + ", ".join(st.spec.raw for st, _ in swift_filled)
                + " from model_name and model_author (Chinese rows take the first value, "
                "English rows the second)"
            )
    if named and local_with:
        findings.notes.append(
            "swift fills {{NAME}}/{{AUTHOR}} only in its hub self-cognition dataset: swiftkit "
            "train writes a filled copy of "
            + ", ".join(st.spec.raw for st, _ in local_with)
            + " into the run directory and trains on that"
        )
    elif named and stats and not swift_filled and not unread:
        key = "model_name" if "model_name" in recipe.args else "model_author"
        findings.warnings.append(
            f"{recipe.location(key)}: {key} does nothing here: swift uses it only in its "
            "self-cognition dataset (swift/self-cognition), and no dataset in the list is that "
            "one or a local file holding {{NAME}} or {{AUTHOR}}. Remove it, add "
            "swift/self-cognition#N to dataset, or use the placeholders in your rows."
        )
    if local_with and not named:
        first, role = local_with[0]
        findings.warnings.append(
            f"{_where(recipe, role)}: {first.spec.raw} holds {{{{NAME}}}}/{{{{AUTHOR}}}} but "
            "model_name and model_author are not set: the model would learn the placeholders "
            "literally. Set model_name: and model_author:."
        )
    return bool(named and local_with)


def _where(recipe, role: str) -> str:
    """Where the list that names a dataset was set: dataset, or val_dataset for held-out files."""
    return recipe.location("val_dataset" if role == "val" else "dataset")
