"""Rows of one data file, one at a time, in bounded memory: JSON Lines line by line, a JSON list
element by element. What swift cannot load is reported with the same message as
swiftkit.data.datafiles gives (which reads the whole file, and is asked for the message).

`iter_records` yields (row_number, row, byte_offset) and raises FileProblem when the file cannot
be loaded (then nothing it yielded counts); `fetch_records` reads rows again by number, seeking
to the byte offset in JSON Lines. csv and txt files are read whole (swift types a csv column
from all of its cells). orjson parses lines when installed (the json module otherwise).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from swiftkit.data.datafiles import _as_object, _load_file
from swiftkit.data.rowformats import MAX_ROW_PROBLEMS, _RowError

try:
    import orjson

    _loads = orjson.loads
    _FAST_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
except ImportError:  # pragma: no cover - orjson is a dependency; json is the fallback
    _loads = json.loads
    _FAST_ERRORS = (ValueError,)

_BOM = codecs.BOM_UTF8
_READ_BYTES = 1 << 20
_BLANK = b" \t\r\n\x0b\x0c"  # bytes.strip() removes these


class FileProblem(Exception):
    """The whole file cannot be loaded: `problems` are the house-form messages."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if problems else "cannot be loaded")
        self.problems = problems


def streams(path: Path) -> bool:
    """Whether iter_records reads this file row by row (json, jsonl) rather than whole."""
    return path.suffix.lower() in (".json", ".jsonl")


def iter_records(path: Path, label: str) -> Iterator[tuple[int, dict, int]]:
    """(row number, row, byte offset of its line or -1) for every row swift loads from `path`."""
    if not streams(path):
        yield from ((n, row, -1) for n, row in _whole(path, label))
        return
    try:
        with path.open("rb") as f:
            head = f.read(64)
    except OSError:
        head = b""
    first = head.lstrip(b" \t\r\n")[:1]
    if not head or head.startswith(_BOM) or first == b"":
        yield from ((n, row, -1) for n, row in _whole(path, label))  # the message it gives
    elif first == b"[":
        if head[:1] != b"[":  # whitespace before the list: datafiles words it
            yield from ((n, row, -1) for n, row in _whole(path, label))
            return
        yield from _json_list(path, label)
    else:
        yield from _json_lines(path, label)


def _whole(path: Path, label: str) -> list:
    problems: list[str] = []
    records = _load_file(path, label, problems)
    if problems:
        raise FileProblem(problems)
    return records or []


class LineProblem(Exception):
    """A JSON Lines line swift cannot load: `messages` in the house form; `not_json` when it is
    not JSON at all (rather than JSON that is not an object)."""

    def __init__(self, messages: list[str], not_json: bool) -> None:
        super().__init__(messages[0] if messages else "cannot be loaded")
        self.messages, self.not_json = messages, not_json


def load_line(label: str, n: int, line: bytes) -> dict | None:
    """The row on line n (1-based) of a JSON Lines file, None for a blank line. LineProblem
    (naming `label:n`) for a line swift cannot load, worded as datafiles words it."""
    if line[0] in _BLANK and not line.strip():
        return None
    try:
        row = _loads(line)
    except _FAST_ERRORS:
        raise LineProblem(_line_problem(label, n, line), not_json=True) from None
    if not isinstance(row, dict):
        try:
            _as_object(row, n, "line")
        except _RowError as e:
            raise LineProblem([f"{label}{e}"], not_json=False) from None
    return row


def _json_lines(path: Path, label: str) -> Iterator[tuple[int, dict, int]]:
    """Every loadable line; a line that is not a JSON object is listed and the reading goes on,
    so the other lines' problems are found too; FileProblem at the end lists those lines (at
    most MAX_ROW_PROBLEMS, the rest counted), since swift cannot load a file holding one."""
    offset, n, rows = 0, 0, 0
    bad: list[str] = []
    bad_count = 0
    with path.open("rb") as f:
        for line in f:
            n += 1
            start, offset = offset, offset + len(line)
            try:
                row = load_line(label, n, line)
            except LineProblem as e:
                if e.not_json and rows == 0 and not bad_count:  # one pretty-printed object,
                    yield from ((k, r, -1) for k, r in _whole(path, label))  # or a whole-file
                    return  # message
                bad_count += 1
                bad += e.messages if len(bad) < MAX_ROW_PROBLEMS else []
                continue
            if row is None:
                continue
            rows += 1
            yield n, row, start
    bad = unloadable_lines(label, bad, bad_count)
    if bad:
        raise FileProblem(bad)
    if rows == 0:
        yield from ((k, r, -1) for k, r in _whole(path, label))


def unloadable_lines(label: str, bad: list[str], bad_count: int) -> list[str]:
    """The messages of the lines swift cannot load: the first ones listed, the rest counted."""
    if bad_count > len(bad):
        more = bad_count - len(bad)
        bad = [
            *bad,
            f"{label}: {more} more line{'s' if more > 1 else ''} swift cannot load, like those "
            "above. Fix or delete them.",
        ]
    return bad


def _line_problem(label: str, n: int, line: bytes) -> list[str]:
    """The message datafiles gives for a bad line (json's own wording of the error)."""
    try:
        text = line.decode("utf-8").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        return [f"{label}: cannot be read (not UTF-8 text). Check it is a readable UTF-8 file."]
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return [
            f"{label}:{n}: invalid JSON Lines row ({e.msg} at column {e.colno}). Fix or delete "
            "the line: swift cannot load the file."
        ]
    return [f"{label}:{n}: invalid JSON Lines row. Fix or delete the line: swift cannot load it."]


def _json_list(path: Path, label: str) -> Iterator[tuple[int, dict, int]]:
    """Elements of one JSON list, decoded one by one from a growing window of the file."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    buf, pos, n, eof, strings = "", 0, 0, False, None
    with path.open("rb") as f:

        def more() -> bool:
            """Read on (the window doubles for a long element); False at the end."""
            nonlocal buf, pos, eof
            if eof:
                return False
            chunk = f.read(max(_READ_BYTES, len(buf)))
            try:
                text = utf8.decode(chunk, final=not chunk)
            except UnicodeDecodeError:
                raise FileProblem(_whole_problems(path, label)) from None
            eof = not chunk
            buf, pos = buf[pos:] + text, 0
            return True

        if not more():
            raise FileProblem(_whole_problems(path, label))
        pos = 1  # after '['
        expect_value = True
        while True:
            while True:  # skip whitespace, find the next token
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or not more():
                    break
            if pos >= len(buf):
                raise FileProblem(_whole_problems(path, label))
            if buf[pos] == "]" and (n == 0 or not expect_value):
                pos += 1
                break
            if not expect_value:
                if buf[pos] != ",":
                    raise FileProblem(_whole_problems(path, label))
                pos += 1
                expect_value = True
                continue
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                    if end >= len(buf) and not eof and more():
                        continue  # a number may go on in the next chunk
                    break
                except json.JSONDecodeError:
                    if not more():
                        raise FileProblem(_whole_problems(path, label)) from None
            pos, n, expect_value = end, n + 1, False
            if strings is None:
                strings = isinstance(value, str)  # a list of strings becomes a "text" column
            if strings and isinstance(value, str):
                value = {"text": value}
            if not isinstance(value, dict):
                try:
                    _as_object(value, n, "row")
                except _RowError as e:
                    raise FileProblem([f"{label}{e}"]) from None
            yield n, value, -1
        while buf[pos:].strip() == "" and more():
            pass
        if buf[pos:].strip():
            raise FileProblem(_whole_problems(path, label))
    if n == 0:
        raise FileProblem(_whole_problems(path, label))


def _whole_problems(path: Path, label: str) -> list[str]:
    problems: list[str] = []
    _load_file(path, label, problems)
    return problems or [f"{label}: cannot be loaded as JSON. Fix it: swift cannot load it."]


def iter_rows(path: Path) -> Iterator[dict]:
    """Every row of a data file as swift loads it, one at a time. Raises DatasetError when the
    file cannot be loaded."""
    from swiftkit.errors import DatasetError

    try:
        for _n, row, _offset in iter_records(Path(path), str(path)):
            yield row
    except FileProblem as e:
        raise DatasetError(e.problems[0], tuple(e.problems)) from None


def fetch_records(
    path: Path, label: str, wheres: Iterable[int], *, by_offset: bool
) -> Iterator[tuple[int, dict]]:
    """(where, row) for rows asked for again: `wheres` are the byte offsets iter_records gave
    (by_offset) or the rows' 0-based positions in its order (the file is then read again)."""
    todo = sorted(set(wheres))
    if not todo:
        return
    if by_offset:
        with path.open("rb") as f:
            for offset in todo:
                f.seek(offset)
                yield offset, _loads(f.readline())
        return
    wanted = set(todo)
    for i, (_n, row, _offset) in enumerate(iter_records(path, label)):
        if i in wanted:
            yield i, row
            wanted.discard(i)
            if not wanted:
                return
