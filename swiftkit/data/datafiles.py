"""Data files and folders as ms-swift 4.6 loads them, read into numbered rows.

Owns which files a folder contributes and how each file is read, or the problem saying why swift
cannot load it. Standard library only: nothing here imports swift or datasets. A file is loaded by
suffix (json/jsonl -> json, txt -> text, csv: swift/dataset/loader.py:47-70), a folder through
`datasets.load_dataset(folder, split='train')` (loader.py:72-141; datasets 4.8.4's data_files.py
and load.py). `read_rows` returns the rows as loaded, before swift's row checks; `read_messages`
only those swift keeps, converted by swiftkit.data.rowformats.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from swiftkit.data.rowformats import _convert_file, _kind, _RowError
from swiftkit.errors import DatasetError

DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".txt")
_OTHER_SUFFIXES = (".parquet", ".arrow")  # swift loads them too; swiftkit cannot read them
# datasets 4.8 split names found in file and folder names (datasets/data_files.py:43-48).
_SPLIT_WORDS = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test", "testing", "eval", "evaluation"),
}
_SEP = r"[-._ 0-9]"
_IGNORED_FILES = {"README.md", "config.json", "dataset_info.json", "dataset_infos.json",
                  "dummy_data.zip", "dataset_dict.json"}  # fmt: skip


def not_found(label: str, path: Path, where: str | None = None) -> str:
    """The message for a dataset path that does not exist.

    swift tests the spec as written (os.path.isfile / os.path.exists in
    swift/dataset/dataset_syntax.py DatasetSyntax.parse and __post_init__), so a relative path is
    read from the working directory of the swift process. `where`: the recipe's file:line (or
    command line) that names the dataset.
    """
    prefix = f"{where}: " if where else ""
    relative = Path(label)
    if relative.is_absolute() or len(relative.parts) > len(path.parts):
        return f"{prefix}{label}: dataset not found (looked for {path}). Check the path."
    base = Path(*path.parts[: len(path.parts) - len(relative.parts)])
    return (
        f"{prefix}{label}: dataset not found (looked for {path}: swift reads a relative path "
        f"from the directory it runs in, here {base}). Check the path, or run from the directory "
        "it is relative to."
    )


def read_rows(path: Path) -> list[dict]:
    """All rows of a data file, or of the files swift reads from a folder, as swift loads them.

    Raises DatasetError when swift could not load the file at all. Rows swift would drop are
    returned too; use `read_messages` for what swift keeps.
    """
    problems: list[str] = []
    rows = [row for _label, records in _loaded(path, problems) for _n, row in records]
    if problems:
        raise DatasetError(problems[0], tuple(problems))
    return rows


def read_messages(path: Path) -> list[list[dict]]:
    """The rows swift keeps from a file or folder, each converted to [{role, content}]."""
    problems: list[str] = []
    out: list[list[dict]] = []
    for label, records in _loaded(path, problems):
        out += [m for m, _fmt, _n in _convert_file(records, label, Path(label).suffix, [])]
    if problems:
        raise DatasetError(problems[0], tuple(problems))
    return out


def _loaded(path: Path, problems: list[str]) -> list[tuple[str, list]]:
    loaded = _load(Path(path), str(path), problems)
    for label, records in loaded:
        if records is None:
            problems.append(
                f"{label}: swiftkit cannot read {Path(label).suffix} files (swift can)."
            )
    return [(label, records) for label, records in loaded if records is not None]


def _load(path: Path, label: str, problems: list[str]) -> list[tuple[str, list]]:
    """[(label, [(row_number, row), ...])] per data file; problems appended, never raised."""
    if not path.exists():
        problems.append(not_found(label, path))
        return []
    if not path.is_dir():
        return [(label, _load_file(path, label, problems))]
    files = _folder_files(path, label, problems)
    labels = [f"{label.rstrip('/')}/{f.relative_to(path).as_posix()}" for f in files]
    return [(lab, _load_file(f, lab, problems)) for f, lab in zip(files, labels, strict=True)]


def _load_file(path: Path, label: str, problems: list[str]) -> list | None:
    """[(row_number, row)], or None for a file swift reads but swiftkit cannot (parquet)."""
    suffix = path.suffix.lower()
    if suffix in _OTHER_SUFFIXES:
        return None
    if suffix not in DATA_SUFFIXES:
        problems.append(
            f"{label}: swift cannot load a {suffix or 'suffix-less'} file (got {path.name!r})."
            " Use .json, .jsonl, .csv or .txt."
        )
        return []
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        problems.append(f"{label}: cannot be read ({why}). Check it is a readable UTF-8 file.")
        return []
    if not text.strip():
        problems.append(
            f"{label}: is empty, and swift fails on an empty file. Add rows or "
            "remove it from --dataset."
        )
        return []
    try:
        if suffix == ".txt":  # datasets' text builder: one row per line, blank lines included
            records = [(n, {"text": line}) for n, line in enumerate(text.splitlines(), 1)]
        elif suffix == ".csv":
            records = _csv_records(text)
        else:
            records = _json_records(text)
    except _RowError as e:
        problems.append(f"{label}{e}")
        return []
    if not records:
        problems.append(f"{label}: holds no rows. Add rows or remove it from --dataset.")
    return records


_INT = re.compile(r"\s*[-+]?\d+\s*")
_FLOAT = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _csv_records(text: str) -> list:
    """pandas.read_csv(na_filter=False) as loader.py:55-56 calls it: a header line, blank lines
    skipped, and a column whose every cell is a number read as numbers (which swift's template
    then rejects)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    for column in rows[0] if rows else ():
        cells = [row[column] for row in rows]
        for pattern, cast in ((_INT, int), (_FLOAT, float)):
            if all(isinstance(c, str) and pattern.fullmatch(c) for c in cells):
                for row in rows:
                    row[column] = cast(row[column])
                break
    return list(enumerate(rows, 1))


def _json_records(text: str) -> list:
    """JSON Lines, or one JSON list, whatever the suffix (datasets/packaged_modules/json/json.py
    :154-260: a list only when the first byte is '[', else JSON Lines, else one whole object)."""
    if text[0] != "[" and text.lstrip("\ufeff \t\r\n").startswith("["):
        msg = (
            ": the JSON list does not start at the first byte (got whitespace or a BOM "
            "before '['), and swift's loader then fails on it. Delete what precedes the '['."
        )
        raise _RowError(msg)
    if text[0] == "[":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            msg = f":{e.lineno}:{e.colno}: invalid JSON ({e.msg}). Fix it: swift cannot load it."
            raise _RowError(msg) from e
        if data and isinstance(data[0], str):  # a list of strings becomes a "text" column
            data = [{"text": item} if isinstance(item, str) else item for item in data]
        return [(n, _as_object(row, n, "row")) for n, row in enumerate(data, 1)]
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append((n, _as_object(json.loads(line), n, "line")))
        except json.JSONDecodeError as e:
            if not records:  # maybe one pretty-printed object: datasets falls back to pandas
                try:
                    return [(1, _as_object(json.loads(text), 1, "line"))]
                except json.JSONDecodeError:
                    pass
            msg = (
                f":{n}: invalid JSON Lines row ({e.msg} at column {e.colno}). Fix or delete "
                "the line: swift cannot load the file."
            )
            raise _RowError(msg) from e
    return records


def _as_object(row: Any, n: int, unit: str) -> dict:
    if not isinstance(row, dict):
        where = f": row {n}" if unit == "row" else f":{n}"
        msg = (
            f"{where}: each row must be a JSON object (got {_kind(row)}), and swift fails "
            'on the whole file. Make every row an object such as {"messages": [...]}.'
        )
        raise _RowError(msg)
    return row


def _folder_files(folder: Path, label: str, problems: list[str]) -> list[Path]:
    """The files `datasets.load_dataset(folder, split='train')` reads (loader.py:81-117):
    split names in folder names, else in file names (datasets/data_files.py:43-104), else all
    files are train; then only the most common data suffix (datasets/load.py:210-244). Hidden
    files, __dirs__ and README.md/dataset_info.json are skipped. Sharded data/train-0000x-of-
    names, zip archives and parquet are not modelled."""
    files = []
    for p in sorted(folder.rglob("*")):
        parts = p.relative_to(folder).parts
        if (
            p.is_file()
            and p.name not in _IGNORED_FILES
            and not any(part.startswith(".") for part in parts)
            and not any(part.startswith("__") for part in parts[:-1])
        ):
            files.append(p)
    splits = _splits_by(files, folder, by_dir=True) or _splits_by(files, folder, by_dir=False)
    train = splits.get("train", []) if splits else files
    if not train:
        problems.append(
            f"{label}: has no train files (found only {', '.join(sorted(splits)) or 'nothing'}); "
            "swift loads split 'train' and fails. Rename the data file, e.g. to train.jsonl."
        )
        return []
    known = DATA_SUFFIXES + _OTHER_SUFFIXES
    counts = Counter(p.suffix.lower() for p in train if p.suffix.lower() in known)
    if not counts:
        problems.append(f"{label}: holds no .json, .jsonl, .csv or .txt file. Add one.")
        return []
    best = max(
        counts,
        key=lambda s: (counts[s], s == ".parquet", s == ".jsonl", s == ".json", s == ".csv", s),
    )
    same = (".json", ".jsonl") if best in (".json", ".jsonl") else (best,)
    return [p for p in train if p.suffix.lower() in same]


def _splits_by(files: list[Path], folder: Path, *, by_dir: bool) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for split, words in _SPLIT_WORDS.items():
        tail = f"({_SEP}.*|$)" if by_dir else f"({_SEP}.*)"  # a file name needs a separator after
        pattern = re.compile(rf"(^|.*{_SEP})({'|'.join(words)}){tail}")
        for p in files:
            parts = p.relative_to(folder).parts
            names = parts[:-1] if by_dir else parts[-1:]
            if any(pattern.fullmatch(name) for name in names):
                out.setdefault(split, []).append(p)
    return out
