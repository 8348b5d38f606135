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
