"""The rows part of a plan: each dataset's rows after `#N` sampling, the validation split and
the max_length filter, the longest row in tokens, and the {{NAME}}/{{AUTHOR}} findings.

Exact token lengths need the model's tokenizer on disk; without it the longest row is bounded
by its UTF-8 bytes and over-long rows cannot be counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftkit.data import datasets as ds
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


def inspect_datasets(
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


@dataclass(frozen=True)
class LengthProfile:
    """What the memory estimate needs of the rows besides the longest one."""

    mean_tokens: int | None  # the mean row
    longest_label_tokens: int | None  # the most tokens any row trains on (logits_to_keep)


def token_lengths(resolved, stats, base_dir):
    """(rows over max_length per spec, longest row in tokens, exact?, LengthProfile) for the
    local datasets.

    Exact with a local tokenizer; otherwise an upper bound from the rows' UTF-8 bytes, and no
    count of over-long rows.
    """
    from swiftkit.data import tokens

    model = resolved.get("model")
    tok_dir = tokens.find_local_tokenizer(model, base_dir) if model else None
    max_length = resolved.get("max_length")
    system = resolved.get("system")
    over: dict[str, int | None] = {}
    longest, total, count, labels = 0, 0, 0, 0
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
        total, count = total + sum(lengths), count + len(lengths)
        labels = max(labels, max(tokens.label_token_counts(rows, tok_dir)))
        if tok_dir is not None and max_length and resolved.get("truncation_strategy") == "delete":
            over[st.spec.raw] = sum(n > max_length for n in lengths)
    profile = LengthProfile(round(total / count) if count else None, labels or None)
    return over, longest or None, tok_dir is not None, profile


def placeholder_findings(recipe, resolved, stats, findings) -> bool:
    """model_name/model_author fill {{NAME}}/{{AUTHOR}} only in swift's self-cognition dataset
    (swiftkit.data.selfcog; swift/dataset/loader.py init_self_cognition_preprocessor). Returns
    whether train must write filled copies of local datasets that hold them."""
    given = {k: bool(resolved.get(k)) for k in ("model_name", "model_author")}
    named = any(given.values())
    swift_filled = [st for st, _ in stats if st.swift_fills_placeholders]
    local_with = [
        st
        for st, _ in stats
        if st.is_local and st.placeholder_rows and not st.swift_fills_placeholders
    ]
    for st, _ in stats:
        self_cog = is_self_cognition(st.spec.path_or_id, st.spec.local_path)
        if self_cog and (odd := unknown_subsets(st.spec.subset)):
            findings.warnings.append(
                f"{recipe.location('dataset')}: {st.spec.raw}: {odd[0]} is not a subset of swift's "
                f"self-cognition dataset ({', '.join(SELF_COGNITION_SUBSETS)}), so swift does not "
                "fill {{NAME}}/{{AUTHOR}} there. Use one of those subsets."
            )
    if swift_filled:
        missing = [k for k, is_set in given.items() if not is_set]
        if missing:
            holders = {"model_name": "{{NAME}}", "model_author": "{{AUTHOR}}"}
            verb = "is" if len(missing) == 1 else "are"
            findings.warnings.append(
                f"{recipe.location('dataset')}: {swift_filled[0].spec.raw} is swift's "
                f"self-cognition dataset, but {' and '.join(missing)} {verb} not set: swift "
                f"leaves {'/'.join(holders[k] for k in missing)} in its rows literally and the "
                "model learns them. Set " + " and ".join(f"{k}: [ZH, EN]" for k in missing) + "."
            )
        else:
            findings.notes.append(
                "swift fills {{NAME}}/{{AUTHOR}} in "
                + ", ".join(st.spec.raw for st in swift_filled)
                + " from model_name and model_author (Chinese rows take the first value, "
                "English rows the second)"
            )
    if named and local_with:
        findings.notes.append(
            "swift fills {{NAME}}/{{AUTHOR}} only in its hub self-cognition dataset: swiftkit "
            "train writes a filled copy of "
            + ", ".join(st.spec.raw for st in local_with)
            + " into the run directory and trains on that"
        )
    elif named and stats and not swift_filled:
        key = "model_name" if "model_name" in recipe.args else "model_author"
        findings.warnings.append(
            f"{recipe.location(key)}: {key} does nothing here: swift uses it only in its "
            "self-cognition dataset (swift/self-cognition), and no dataset in the list is that "
            "one or a local file holding {{NAME}} or {{AUTHOR}}. Remove it, add "
            "swift/self-cognition#N to dataset, or use the placeholders in your rows."
        )
    if local_with and not named:
        where = recipe.location("dataset")
        findings.warnings.append(
            f"{where}: {local_with[0].spec.raw} holds {{{{NAME}}}}/{{{{AUTHOR}}}} but model_name "
            "and model_author are not set: the model would learn the placeholders literally. "
            "Set model_name: and model_author:."
        )
    return bool(named and local_with)
