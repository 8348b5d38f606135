"""Token lengths of the rows a run trains and evaluates on, for the time estimate: the length
distribution decides how far each batch is padded.

Reads the local dataset files; tokenizes with the model's local tokenizer as swift encodes
(swiftkit.data.tokens), else bounds each row by its UTF-8 bytes. Imports no torch or swift.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swiftkit.data import datasets as ds

# Enough rows to know a length distribution; a larger dataset is read at an even stride.
LENGTH_SAMPLE_ROWS = 20_000


def row_lengths(
    resolved: Mapping[str, Any], stats, base_dir: Path
) -> tuple[dict[str, list[int]], bool]:
    """Token lengths of the rows by role ("train", "val"), as swift encodes them (the local
    tokenizer; otherwise an upper bound from UTF-8 bytes), and whether they are exact.

    {{NAME}}/{{AUTHOR}} are filled first, as `train` fills them. Rows swift drops (longer than
    max_length with truncation_strategy delete) are left out; other strategies cut them to
    max_length. A validation split comes from the training files, so "val" is the val_dataset
    rows when there are any, else the training rows."""
    from swiftkit.data import tokens
    from swiftkit.plan.rowplan import _byte_upper_bound

    model = resolved.get("model")
    tok_dir = tokens.find_local_tokenizer(model, base_dir) if model else None
    system = resolved.get("system")
    max_length = resolved.get("max_length")
    names, authors = resolved.get("model_name"), resolved.get("model_author")
    out: dict[str, list[int]] = {"train": [], "val": []}
    for st, role in stats:
        if st.spec.local_path is None or st.rows is None:
            continue
        rows = ds.read_messages(st.spec.local_path)
        if st.placeholder_rows and (names or authors):  # train fills them (run/train.py)
            wrapped = ds.fill_placeholders(
                [{"messages": m} for m in rows], name=names, author=authors
            )
            rows = [w["messages"] for w in wrapped]
        if len(rows) > LENGTH_SAMPLE_ROWS:
            stride = len(rows) / LENGTH_SAMPLE_ROWS
            rows = [rows[int(i * stride)] for i in range(LENGTH_SAMPLE_ROWS)]
        if tok_dir is None:
            lengths = [_byte_upper_bound(m, system) for m in rows]
        else:
            lengths = tokens.token_lengths(
                rows, tok_dir, system=system, template=resolved.get("template")
            )
        lengths = [n for n in lengths if n > 0]
        if max_length and resolved.get("truncation_strategy") == "delete":
            lengths = [n for n in lengths if n <= max_length]
        elif max_length:
            lengths = [min(n, max_length) for n in lengths]
        out["val" if role == "val" else "train"].extend(lengths)
    if not out["val"]:
        out["val"] = out["train"]
    return out, tok_dir is not None
