"""Token lengths of the rows a run trains and evaluates on, for the time estimate: the length
distribution decides how far each batch is padded.

Uses what the plan's one read of each dataset measured (swiftkit.data.profile: exact lengths, a
uniform random sample, or byte bounds without a tokenizer). A small file whose {{NAME}}/{{AUTHOR}}
rows train fills is tokenized again, filled, as train trains it. Imports no torch or swift.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swiftkit.data import datasets as ds
from swiftkit.data.profile import length_distribution

# Enough rows to know a length distribution.
LENGTH_SAMPLE_ROWS = 20_000


def row_lengths(
    resolved: Mapping[str, Any], stats, base_dir: Path
) -> tuple[dict[str, list[int]], bool]:
    """Token lengths of the rows by role ("train", "val"), as swift encodes them (the local
    tokenizer; otherwise an upper bound from UTF-8 bytes), and whether they are exact.

    Rows swift drops (longer than max_length with truncation_strategy delete) are left out;
    other strategies cut them to max_length. A validation split comes from the training files, so
    "val" is the val_dataset rows when there are any, else the training rows."""
    from swiftkit.data import tokens

    model = resolved.get("model")
    names, authors = resolved.get("model_name"), resolved.get("model_author")
    max_length = resolved.get("max_length")
    out: dict[str, list[int]] = {"train": [], "val": []}
    exact = True
    for st, role in stats:
        s = st.lengths
        if st.spec.local_path is None or st.rows is None or s is None:
            continue
        exact = exact and s.source == "tokenizer"
        tok_dir = tokens.find_local_tokenizer(model, base_dir) if model else None
        every_row_read = s.source == "tokenizer" and s.rows_tokenized >= s.rows
        if st.placeholder_rows and (names or authors) and every_row_read and tok_dir:
            lengths = _filled_lengths(st.spec.local_path, resolved, tok_dir)
        else:
            lengths = length_distribution(s, LENGTH_SAMPLE_ROWS)
        lengths = [n for n in lengths if n > 0]
        if max_length and resolved.get("truncation_strategy") == "delete":
            lengths = [n for n in lengths if n <= max_length]
        elif max_length:
            lengths = [min(n, max_length) for n in lengths]
        out["val" if role == "val" else "train"].extend(lengths)
    if not out["val"]:
        out["val"] = out["train"]
    return out, exact and bool(out["train"])


def _filled_lengths(path: Path, resolved: Mapping[str, Any], tok_dir: Path) -> list[int]:
    """A small file's rows with {{NAME}}/{{AUTHOR}} filled (run/train.py trains on that copy)."""
    from swiftkit.data import tokens

    rows = ds.read_messages(path)
    wrapped = ds.fill_placeholders(
        [{"messages": m} for m in rows],
        name=resolved.get("model_name"),
        author=resolved.get("model_author"),
    )
    filled = [w["messages"] for w in wrapped]
    return tokens.token_lengths(
        filled, tok_dir, system=resolved.get("system"), template=resolved.get("template")
    )
