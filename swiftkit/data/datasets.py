"""Datasets as ms-swift 4.6 reads them: `--dataset` specs, inspection, placeholders, counts.

Standard library only: nothing here imports swift, torch or datasets. Reading files and folders
lives in swiftkit.data.datafiles, row formats in swiftkit.data.rowformats; their public names are
re-exported here. Each rule names the code it mirrors, as paths under site-packages (swift 4.6.0):

- spec syntax `[hf::|ms::]path_or_id[:subset[/subset]][#N]`: swift/dataset/dataset_syntax.py:56-79
- sampling and splitting: swift/dataset/dataset_meta.py:119-170, swift/dataset/utils.py:18-54

swift never stops on a bad row: it drops it (with a traceback for the first 10, or silently) and
only fails when no row is left. `inspect_dataset` reports both kinds instead of dropping them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftkit.data.datafiles import _OTHER_SUFFIXES, DATA_SUFFIXES
from swiftkit.data.datafiles import read_messages as read_messages  # re-exported
from swiftkit.data.datafiles import read_rows as read_rows  # re-exported
from swiftkit.data.lengthcontext import LengthContext
from swiftkit.data.profile import LengthSummary
from swiftkit.data.rowcheck import PLACEHOLDERS as PLACEHOLDERS  # re-exported
from swiftkit.data.rowformats import rows_to_messages as rows_to_messages  # re-exported
from swiftkit.data.rowstream import iter_rows as iter_rows  # re-exported
from swiftkit.data.scan import scan_path
from swiftkit.data.selfcog import swift_fills
from swiftkit.errors import DatasetError


@dataclass(frozen=True)
class DatasetSpec:
    """One `--dataset` value, parsed as swift parses it.

    local_path is absolute, and set when the value names an existing file or folder or looks like
    a path (a data-file suffix, or starting with /, ./, ../ or ~); otherwise it is a hub id.
    """

    raw: str
    path_or_id: str
    subset: str | None
    sample_rows: int | None
    local_path: Path | None
    hub: str | None = None  # "hf" or "ms" from an "hf::" / "ms::" prefix


@dataclass(frozen=True)
class DatasetStats:
    """What swift will make of one dataset. rows counts the rows left after swift's row checks
    (before sampling and splitting); None when the data cannot be read here (hub, missing file).
    Rows swift drops later, while encoding (too long, or a template error), are still counted."""

    spec: DatasetSpec
    rows: int | None
    formats: tuple[str, ...]
    placeholder_rows: int  # rows containing {{NAME}} or {{AUTHOR}}
    is_local: bool
    swift_fills_placeholders: bool = False  # --model_name/--model_author apply to this dataset
    lengths: LengthSummary | None = None  # token lengths, when inspected with a LengthContext


# ---------------------------------------------------------------- specs


def parse_dataset_spec(raw: str, *, base_dir: Path) -> DatasetSpec:
    """Parse `raw` like DatasetSyntax.parse (dataset_syntax.py:56-79).

    Each split happens only when the text so far is not an existing path, so a file literally
    named `a#1.json` keeps its `#`. `hf::`/`ms::` pick the hub; `#N` must be a positive integer
    (swift: `int()` then `assert dataset_sample > 0`, dataset_meta.py:130). Relative paths
    resolve against base_dir (swift uses its working directory). `~` is not expanded by swift.
    """

    def exists(text: str) -> bool:
        return bool(text) and _resolve(text, base_dir).exists()

    text, hub, sample_rows, subset = raw, None, None, None
    if not exists(text) and "::" in text:
        prefix, text = text.split("::", 1)
        hub = {"hf": "hf", "ms": "ms"}.get(prefix.lower())
    if not exists(text) and "#" in text:
        text, sample = text.rsplit("#", 1)
        try:
            sample_rows = int(sample)
        except ValueError:
            sample_rows = None
        if sample_rows is None or sample_rows <= 0:
            msg = (
                f"--dataset {raw!r}: the number after # must be a positive row count "
                f"(got {sample!r}). Write e.g. {text}#500, or drop the #."
            )
            raise DatasetError(msg) from None
    if not exists(text) and ":" in text:
        text, subset = text.split(":", 1)
        subset = subset.strip()
    path_or_id = text.strip()
    local = None
    if exists(path_or_id) or _looks_like_path(path_or_id):
        local = _resolve(path_or_id, base_dir)
    return DatasetSpec(raw, path_or_id, subset, sample_rows, local, hub)


def _resolve(text: str, base_dir: Path) -> Path:
    path = Path(text)
    return path if path.is_absolute() else (Path(base_dir) / path).absolute()


def _looks_like_path(text: str) -> bool:
    return (
        text.startswith(("/", "./", "../", "~", "\\"))
        or text.lower().endswith(DATA_SUFFIXES + _OTHER_SUFFIXES)
        or text.count("/") >= 2  # hub ids are org/name
    )


# ---------------------------------------------------------------- inspecting


def inspect_dataset(
    spec: DatasetSpec,
    problems: list[str],
    lengths: LengthContext | None = None,
    cache_key: dict[str, Any] | None = None,
    *,
    where: str | None = None,
) -> DatasetStats:
    """Read a local dataset the way swift will and append one house-form message per problem.

    Never raises for bad data. Row problems are capped at MAX_ROW_PROBLEMS per file. With
    `lengths`, the rows' token lengths are measured in the same pass (swiftkit.data.scan);
    `cache_key` (what else they depend on) lets a later plan reuse them. `where`: the recipe's
    file:line that names the dataset, for the message when it does not exist.
    """
    fills = spec.local_path is None and swift_fills(spec.path_or_id, spec.subset, None)
    if spec.local_path is None:
        return DatasetStats(spec, None, (), 0, False, fills)
    if spec.path_or_id.startswith("~"):
        problems.append(
            f"--dataset {spec.raw!r}: swift does not expand ~ (got "
            f"{spec.path_or_id!r}). Write the full path."
        )
        return DatasetStats(spec, None, (), 0, True)
    # A local folder named exactly self-cognition takes the registered dataset's preprocessor
    # (dataset_syntax.py:120-127 matches datasets by base name), so swift fills its placeholders.
    fills = spec.local_path.is_dir() and swift_fills(spec.path_or_id, spec.subset, spec.local_path)
    found = scan_path(spec.local_path, spec.path_or_id, problems, lengths, cache_key, where=where)
    if found.rows is None:
        return DatasetStats(spec, None, (), 0, True, fills)  # None: cannot load, or not here
    return DatasetStats(
        spec, found.rows, found.formats, found.placeholder_rows, True, fills, found.lengths
    )


# ---------------------------------------------------------------- placeholders


def _zh_en(value: str | Sequence[str | None] | None) -> tuple[str | None, str | None] | None:
    """init_self_cognition_preprocessor (swift/dataset/loader.py:191-215): a value is
    (Chinese, English); one value serves both."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    value = list(value)
    if not value:
        return None
    if value[0] is not None and (len(value) == 1 or value[1] is None):
        return value[0], value[0]
    return value[0], value[1]


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def fill_placeholders(
    rows: Sequence[dict],
    *,
    name: str | Sequence[str | None] | None,
    author: str | Sequence[str | None] | None,
) -> list[dict]:
    """Copies of rows with {{NAME}} and {{AUTHOR}} replaced in every string.

    As swift's SelfCognitionPreprocessor (swift/dataset/dataset/llm.py:884-909): name and author
    each take one value or a (Chinese, English) pair, and a row tagged `"tag": "zh"` gets the
    Chinese one, any other row the English one. swift only does this for its registered
    self-cognition dataset; for rows without a tag swiftkit picks Chinese when the row holds
    Chinese characters. A None value leaves its placeholder in place, as in swift.
    """
    pairs = {"{{NAME}}": _zh_en(name), "{{AUTHOR}}": _zh_en(author)}

    def fill(value: Any, zh: bool) -> Any:
        if isinstance(value, str):
            for placeholder, pair in pairs.items():
                chosen = pair and (pair[0] if zh else pair[1])
                if chosen is not None:
                    value = value.replace(placeholder, chosen)
            return value
        if isinstance(value, dict):
            return {k: fill(v, zh) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v, zh) for v in value]
        return value

    out = []
    for row in rows:
        tag = row.get("tag")
        text = json.dumps(row, ensure_ascii=False)
        zh = tag == "zh" if tag is not None else bool(_CJK.search(text))
        out.append(fill(row, zh))
    return out


# ---------------------------------------------------------------- counts


def count_after_sampling(rows: int, sample_rows: int | None) -> int:
    """Rows after `#N` (swift/dataset/utils.py:18-54, sample_dataset): without #N all rows;
    with it exactly N: the whole dataset N // rows times plus N % rows rows drawn without
    replacement (the first ones with --dataset_shuffle false or --streaming).

    Sampling happens after the row checks and before encoding, per dataset; with
    split_dataset_ratio > 0 the split comes first and only the training part is sampled: see
    split_counts. swift divides by the row count, so #N on a dataset with no rows fails.
    """
    if sample_rows is None:
        return rows
    if rows <= 0:
        msg = f"cannot sample {sample_rows} rows from a dataset with no usable rows. Fix the rows."
        raise DatasetError(msg)
    return sample_rows


def split_counts(
    rows: int, split_dataset_ratio: float, *, sample_rows: int | None = None
) -> tuple[int, int]:
    """(train, val) rows for one dataset, as DatasetLoader.post_process computes them
    (swift/dataset/dataset_meta.py:119-170, non-streaming). `rows` is the count before `#N`.

    - ratio 0: (N, 0), N = sample_rows or rows. ratio 1: (0, N), N <= rows (asserted).
    - else: val = max(int(min(rows, N) * ratio), 1), train = N - val (must be > 0). int() floors
      the float product, so 0.29 * 100 gives 28. The split (datasets' train_test_split, shuffled
      with --data_seed unless --dataset_shuffle false, which takes the last rows) comes first;
      the train part is then sampled to N - val, repeating rows when N > rows, so val never holds
      duplicates and #N counts train + val.
    - Each dataset is split on its own and the parts concatenated, then shuffled with
      --data_seed when --dataset_shuffle is true (loader.py:360-421); the seed is --data_seed,
      not --seed (swift/arguments/base_args/data_args.py:93, 161-179).
    - --val_dataset (or --streaming) sets split_dataset_ratio to 0 (data_args.py:129-135);
      --val_dataset files are loaded with ratio 1 (base_args.py:391-406).
    - Streaming instead takes N rows in order and val = int(N * ratio) with no minimum.
    Rows over max_length are dropped after this, from each part (swift/pipelines/train/sft.py
    :302-340, AddLengthPreprocessor).
    """
    if not 0 <= split_dataset_ratio <= 1:
        msg = (
            f"split_dataset_ratio must be between 0 and 1 (got {split_dataset_ratio!r}). "
            "Use e.g. 0.05."
        )
        raise DatasetError(msg)
    n = count_after_sampling(rows, sample_rows)
    if split_dataset_ratio == 0:
        return n, 0
    if split_dataset_ratio == 1:
        if n > rows:
            msg = f"#{n} asks for more validation rows than the dataset has ({rows}). Lower it."
            raise DatasetError(msg)
        return 0, n
    val = max(int(min(rows, n) * split_dataset_ratio), 1)
    if n - val <= 0:
        msg = (
            f"split_dataset_ratio {split_dataset_ratio} leaves no training rows out of {n} "
            f"({val} go to validation). Lower the ratio or add rows."
        )
        raise DatasetError(msg)
    return n - val, val
