"""Datasets as ms-swift 4.6 reads them: `--dataset` specs, files and folders, row formats, counts.

Standard library only: nothing here imports swift, torch or datasets. Each rule names the code it
mirrors, as paths under site-packages (swift 4.6.0, datasets 4.8.4):

- spec syntax `[hf::|ms::]path_or_id[:subset[/subset]][#N]`: swift/dataset/dataset_syntax.py:56-79
- a file is loaded by suffix (json/jsonl -> json, txt -> text, csv): swift/dataset/loader.py:47-70
- a folder goes through `datasets.load_dataset(folder, split='train')`: loader.py:72-141
- which preprocessor a file gets, from its columns: swift/dataset/preprocessor/core.py:739-764
- column aliases and renaming: core.py:275-292 (safe_rename_columns), 411-422, 507-515
- row conversion and the checks that drop rows: core.py:84-102, 220-261, 424-464, 692-716
- sampling and splitting: swift/dataset/dataset_meta.py:119-170, swift/dataset/utils.py:18-54

swift never stops on a bad row: it drops it (with a traceback for the first 10, or silently) and
only fails when no row is left. `inspect_dataset` reports both kinds instead of dropping them.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from swiftkit.errors import DatasetError

PLACEHOLDERS = ("{{NAME}}", "{{AUTHOR}}")
MAX_ROW_PROBLEMS = 5  # per file; the rest are counted in one line
DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".txt")
_OTHER_SUFFIXES = (".parquet", ".arrow")  # swift loads them too; swiftkit cannot read them
_SELF_COGNITION_IDS = ("self-cognition", "swift/self-cognition", "modelscope/self-cognition")
_ROLES = {"system", "user", "assistant", "tool_call", "tool_response", "tool"}
_ROLE_ALIASES = {
    **dict.fromkeys(("human",), "user"),
    **dict.fromkeys(("gpt", "bot"), "assistant"),
    **dict.fromkeys(("function_call",), "tool_call"),
    **dict.fromkeys(("function_response", "observation", "observations"), "tool_response"),
}
_MESSAGE_KEYS = ("messages", "conversation", "conversations")
# The auto-mapped columns of each preprocessor (core.py:411-422 and 507-515).
_RESPONSE_COLUMNS = {
    **dict.fromkeys(("system", "system_prompt"), "system"),
    **dict.fromkeys(("query", "prompt", "input", "instruction", "question", "problem"), "query"),
    **dict.fromkeys(("response", "answer", "output", "targets", "target", "answer_key", "answers",
                     "solution", "text", "completion", "content"), "response"),
}  # fmt: skip
_MESSAGES_COLUMNS = {
    **dict.fromkeys(_MESSAGE_KEYS, "messages"),
    **dict.fromkeys(("system", "system_prompt"), "system"),
}
# datasets 4.8 split names found in file and folder names (datasets/data_files.py:43-48).
_SPLIT_WORDS = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test", "testing", "eval", "evaluation"),
}
_SEP = r"[-._ 0-9]"
_IGNORED_FILES = {"README.md", "config.json", "dataset_info.json", "dataset_infos.json",
                  "dummy_data.zip", "dataset_dict.json"}  # fmt: skip


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


class _RowError(Exception):
    """A row swift drops; the message is the part after `row N: `."""


def _drop(text: str) -> NoReturn:
    raise _RowError(text)


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


# ---------------------------------------------------------------- reading files


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
        problems.append(
            f"{label}: dataset not found (looked for {path}). Check the path; relative paths are "
            "read from the directory swift runs in."
        )
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


# ---------------------------------------------------------------- row formats


def rows_to_messages(row: dict) -> list[dict] | None:
    """One row in any format swift accepts, as [{role, content}]; None when swift drops it.

    The row is judged alone; in a file, the file's columns choose the format for every row
    (a row without "messages" in a file where other rows have it is dropped): see inspect_dataset.
    """
    kind, renames = _plan_columns([row])
    try:
        messages, _fmt = _convert(row, kind, renames)
    except _RowError:
        return None
    return messages


def _plan_columns(rows: Sequence[dict]) -> tuple[str, dict[str, str]]:
    """AutoPreprocessor._get_preprocessor (core.py:745-752), then its column renames."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    if any(k in columns for k in _MESSAGE_KEYS):
        return "messages", _renames(columns, _MESSAGES_COLUMNS)
    kind = "alpaca" if "instruction" in columns and "input" in columns else "response"
    return kind, _renames(columns, _RESPONSE_COLUMNS)


def _renames(columns: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """safe_rename_columns (core.py:275-292): case-insensitive; two columns aiming at the same
    name cancel each other (e.g. "response" and "answer": neither is renamed)."""
    lower = {c.lower(): c for c in columns}
    safe = {lower[k.lower()]: v for k, v in mapping.items() if k.lower() in lower}
    counter = Counter(safe.values())
    return {k: v for k, v in safe.items() if counter[v] == 1 and k != v}


def _convert(row: dict, kind: str, renames: dict[str, str]) -> tuple[list[dict], str]:
    r = {renames.get(k, k): v for k, v in row.items()}
    if kind == "messages":
        return _convert_messages(r, row)
    if kind == "alpaca":  # AlpacaPreprocessor.preprocess, core.py:448-464
        instruction, input_ = r.pop("instruction", None), r.pop("input", None)
        if r.get("output") is not None:
            r["response"] = r["output"]
        query = f"{instruction}\n{input_}" if instruction and input_ else instruction or input_
        if not isinstance(query, str):
            msg = (
                '"instruction" and "input" are both missing or null (got '
                f"{instruction!r}, {input_!r}); swift drops the row. Fill one of them."
            )
            raise _RowError(msg)
        r["query"] = query
    messages = _convert_response(r, row)
    fmt = "alpaca" if kind == "alpaca" else "text" if set(row) == {"text"} else "query-response"
    return messages, fmt


def _convert_response(r: dict, row: dict) -> list[dict]:
    """ResponsePreprocessor.preprocess (core.py:424-443) and history_to_messages."""
    response = r.get("response")
    if isinstance(response, (list, tuple)):
        if not response:
            _drop(
                '"response" is an empty list (got []); swift drops the row. '
                "Give the reply as a string."
            )
        response = response[0]  # swift takes the first unless RANDOM_DATASET_RESPONSE is set
    history = r.get("history") or []
    if isinstance(history, str):
        try:
            history = ast.literal_eval(history)
        except (ValueError, SyntaxError):
            history = None
    if not isinstance(history, list) or not all(
        isinstance(h, (list, tuple)) and len(h) >= 2 for h in history
    ):
        _drop(
            f'"history" must be a list of [query, response] pairs (got '
            f"{_kind(r.get('history'))}); swift drops the row. Fix it or remove it."
        )
    messages = [{"role": "system", "content": r["system"]}] if r.get("system") is not None else []
    for query, reply in [*history, (r.get("query"), response)]:
        if query is not None:
            messages.append({"role": "user", "content": query})
        if reply is not None:
            messages.append({"role": "assistant", "content": reply})
    if not messages or all(m["role"] == "system" for m in messages):
        aliases = [(k, _RESPONSE_COLUMNS.get(k.lower())) for k in r]
        ignored = [k for k, std in aliases if std in ("query", "response") and std != k]
        if ignored:
            _drop(
                f"its {', '.join(map(repr, ignored))} columns are ignored (got keys {sorted(row)}):"
                " swift renames an alias only when no other column of the file maps to the same"
                " name, and here one does. Use one spelling, e.g. query/response, in every row."
            )
        _drop(
            f"has none of the columns swift reads (got keys {sorted(row)}); swift drops the row. "
            'Use "messages", query/response or instruction/input/output.'
        )
    return messages


def _convert_messages(r: dict, row: dict) -> tuple[list[dict], str]:
    """MessagesPreprocessor.preprocess and RowPreprocessor._check_messages (core.py:692-716,
    84-102)."""
    messages = r.get("messages")
    if isinstance(messages, str):  # default_repair_messages: JSON, then a Python literal
        try:
            messages = json.loads(messages)
        except json.JSONDecodeError:
            with contextlib.suppress(ValueError, SyntaxError):
                messages = ast.literal_eval(messages)
    if messages is None:  # silently dropped, core.py:700
        _drop(
            f'has no "messages" (got keys {sorted(row)}); swift reads every row of this file as '
            "messages because other rows have them, and drops this one without a word. "
            "Convert it or move it to its own file."
        )
    if isinstance(messages, list) and not messages:
        _drop(
            '"messages" is an empty list; swift drops the row. Add the conversation '
            "or remove the row."
        )
    if not isinstance(messages, list) or isinstance(messages, str):
        _drop(
            f'"messages" must be a list of {{role, content}} (got {_kind(messages)}).'
            " Fix the row or remove it."
        )
    for i, m in enumerate(messages, 1):
        if not isinstance(m, dict):
            _drop(
                f"message {i} must be an object with role and content (got "
                f"{_kind(m)}); swift drops the row. Fix the row or remove it."
            )
    messages = [dict(m) for m in messages]
    fmt = "sharegpt" if "from" in messages[0] or "value" in messages[0] else "messages"
    for m in messages:  # _to_std_key: the later alias wins, as in swift
        for std, aliases in (("role", ("role", "from")), ("content", ("content", "value"))):
            for key in aliases:
                if key in m:
                    m[std] = m.pop(key)
    system = r.get("system")
    if "role" not in messages[0] and "content" not in messages[0]:
        return _sharegpt_pairs(messages, system), "sharegpt"
    out = []
    for i, m in enumerate(messages, 1):
        if "role" not in m:
            _drop(
                f'message {i} has no "role" (or "from") (got keys {sorted(m)}); swift '
                "drops the row. Add it."
            )
        role = m["role"]
        if isinstance(role, str):  # to_std_messages, core.py:536-550
            role = _ROLE_ALIASES.get(role.replace("-", "_"), role)
        if i == 1 and role != "system" and system is not None:
            out.append({"role": "system", "content": system})
        if not isinstance(role, str) or role not in _ROLES:
            _drop(
                f"message {i} has a role swift does not accept (got {m['role']!r}); "
                "swift drops the row. Use system, user or assistant."
            )
        if m.get("content") is None:
            what = '"content" is null' if "content" in m else 'has no "content" (or "value")'
            _drop(
                f"message {i} {what} (got keys {sorted(m)}); swift drops the row. "
                "Add the text or remove the row."
            )
        kept = {k: m[k] for k in ("loss", "loss_scale") if k in m}  # swift keeps these two
        out.append({"role": role, "content": m["content"], **kept})
    return out, fmt


def _sharegpt_pairs(messages: list[dict], system: Any) -> list[dict]:
    """[{"human": q, "assistant": a}, ...] (sharegpt_to_messages, core.py:523-534)."""
    out = [{"role": "system", "content": system}] if system is not None else []
    for i, m in enumerate(messages, 1):
        user = next((m[k] for k in ("user", "human") if k in m), None)
        reply = next((m[k] for k in ("assistant", "gpt", "bot") if k in m), None)
        if user is None or reply is None:
            _drop(
                f"turn {i} needs a user (human) and an assistant (gpt) entry (got keys "
                f"{sorted(m)}); swift drops the row. Use role/content messages."
            )
        out += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    return out


def _template_problem(messages: list[dict]) -> str | None:
    """Rows swift keeps at loading but that fail or teach nothing in Template.encode
    (swift/template/base.py:1403-1518, template_inputs.py:110-160)."""
    for i, m in enumerate(messages, 1):
        if m["role"] == "system" and i > 1:
            return (
                f"message {i} is a system message after the first turn (got role 'system'); "
                "swift's template fails on it and drops the row. Move it to the start."
            )
        content = m["content"]
        if m["role"] in ("user", "assistant", "system") and not isinstance(content, (str, list)):
            return (
                f"message {i} content must be text (got {_kind(content)}); swift's template "
                "fails on it and drops the row. Make it text."
            )
    if not any(m["role"] == "assistant" for m in messages):
        roles = [m["role"] for m in messages]
        return (
            f"has no assistant turn (got roles {roles}), so there is nothing to learn from it; "
            "swift keeps it and trains on zero tokens. Add the reply or remove the row."
        )
    return None


# ---------------------------------------------------------------- inspecting


def inspect_dataset(spec: DatasetSpec, problems: list[str]) -> DatasetStats:
    """Read a local dataset the way swift will and append one house-form message per problem.

    Never raises for bad data. Row problems are capped at MAX_ROW_PROBLEMS per file.
    """
    fills = spec.local_path is None and spec.path_or_id in _SELF_COGNITION_IDS
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
    fills = spec.local_path.is_dir() and spec.local_path.name == "self-cognition"
    before = len(problems)
    loaded = _load(spec.local_path, spec.path_or_id, problems)
    if len(problems) > before or any(records is None for _label, records in loaded):
        return DatasetStats(spec, None, (), 0, True, fills)  # None: cannot load, or not here
    kept, formats, placeholder_rows = 0, [], 0
    for label, records in loaded:
        converted = _convert_file(records, label, Path(label).suffix, problems)
        kept += len(converted)
        formats += [fmt for _m, fmt, _n in converted]
        placeholder_rows += sum(_has_placeholder(m) for m, _fmt, _n in converted)
    if kept == 0:
        problems.append(
            f"{spec.path_or_id}: no row is in a format swift accepts, so swift "
            "fails while loading it. Fix the rows listed above."
        )
    return DatasetStats(spec, kept, tuple(dict.fromkeys(formats)), placeholder_rows, True, fills)


def _convert_file(records: list, label: str, suffix: str, problems: list[str]) -> list:
    """[(messages, format, row_number)] for the rows swift keeps; problems for the others."""
    kind, renames = _plan_columns([row for _n, row in records])
    unit = "line" if suffix.lower() in (".jsonl", ".txt") else "row"
    kept, row_problems = [], []
    for n, row in records:
        try:
            messages, fmt = _convert(row, kind, renames)
        except _RowError as e:
            row_problems.append((n, str(e)))
            continue
        kept.append((messages, fmt, n))
        issue = _template_problem(messages)
        if issue:
            row_problems.append((n, issue))
    for n, text in row_problems[:MAX_ROW_PROBLEMS]:
        where = f"{label}:{n}:" if unit == "line" else f"{label}: row {n}:"
        problems.append(f"{where} {text}")
    if len(row_problems) > MAX_ROW_PROBLEMS:
        more = len(row_problems) - MAX_ROW_PROBLEMS
        problems.append(
            f"{label}: {more} more {unit}{'s' if more > 1 else ''} with problems like "
            "those above. Fix or remove them."
        )
    return kept


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    for types, name in (
        (bool, "a boolean"),
        (str, "a string"),
        ((int, float), "a number"),
        (list, "a list"),
        (dict, "an object"),
    ):
        if isinstance(value, types):
            return name
    return type(value).__name__


# ---------------------------------------------------------------- placeholders


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return any(p in value for p in PLACEHOLDERS)
    if isinstance(value, dict):
        return any(_has_placeholder(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_placeholder(v) for v in value)
    return False


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
