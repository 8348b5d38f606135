"""Streaming rows against reading the whole file (swiftkit.data.datafiles): the same rows, row
numbers and problem messages, whatever the chunk boundaries; rows read again by offset or
position."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swiftkit.data import rowstream
from swiftkit.data.datafiles import _load_file
from swiftkit.errors import DatasetError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datasets"
FILES = sorted(p for p in FIXTURES.iterdir() if p.is_file() and p.suffix != ".yaml")


def streamed(path: Path) -> tuple[list, list[str]]:
    try:
        return [(n, row) for n, row, _off in rowstream.iter_records(path, path.name)], []
    except rowstream.FileProblem as e:
        return [], e.problems


def whole(path: Path) -> tuple[list, list[str]]:
    problems: list[str] = []
    records = _load_file(path, path.name, problems)
    return (records or [] if not problems else []), problems


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("chunk", [1 << 20, 7])
def test_every_fixture_streams_as_it_reads_whole(path, chunk, monkeypatch):
    monkeypatch.setattr(rowstream, "_READ_BYTES", chunk)
    assert streamed(path) == whole(path)


@pytest.mark.parametrize(
    "text",
    [
        '[{"a": 1}, {"a": 12345678901234567890}, {"b": [1, 2, {"c": "d"}]}]',
        '[\n  {"a": "x\\u00e9"} ,\n  {"a": -1.5e3}\n]\n\n',
        '["one", "two", "th\\"ree"]',
        '[{"a": 1},]',  # trailing comma: invalid
        '[{"a": 1}] {"b": 2}',  # something after the list: invalid
        '[{"a": 1}, 3]',  # not an object
        "[]",
    ],
)
@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_json_lists_across_chunk_boundaries(tmp_path, monkeypatch, text, chunk):
    monkeypatch.setattr(rowstream, "_READ_BYTES", chunk)
    path = tmp_path / "rows.json"
    path.write_text(text, encoding="utf-8")
    assert streamed(path) == whole(path)


def test_json_lines_offsets_and_reading_again(tmp_path):
    rows = [{"i": i, "text": "é" * i} for i in range(50)]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    found = list(rowstream.iter_records(path, path.name))
    assert [row for _n, row, _off in found] == rows
    assert [n for n, _row, _off in found] == list(range(1, 100, 2))  # blank lines counted
    offsets = [off for _n, _row, off in found]
    again = dict(rowstream.fetch_records(path, path.name, offsets[::7], by_offset=True))
    assert again == {off: rows[i * 7] for i, off in enumerate(offsets[::7])}
    by_position = dict(rowstream.fetch_records(path, path.name, [3, 40], by_offset=False))
    assert by_position == {3: rows[3], 40: rows[40]}


def test_a_bad_line_after_good_ones_names_the_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": \n', encoding="utf-8")
    assert streamed(path) == whole(path)
    assert streamed(path)[1] == [
        "rows.jsonl:3: invalid JSON Lines row (Expecting value at column 7). Fix or delete the "
        "line: swift cannot load the file."
    ]


def test_iter_rows_raises_the_house_message(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n[1]\n', encoding="utf-8")
    with pytest.raises(DatasetError) as e:
        list(rowstream.iter_rows(path))
    assert str(e.value).startswith(f"{path}:2: each row must be a JSON object (got a list)")
