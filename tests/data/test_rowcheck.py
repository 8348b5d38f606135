"""Row checks one row at a time against the whole-file conversion (rowformats._convert_file):
the fast path for plain messages rows, the problems and their cap, and a file whose later rows
change the preprocessor its columns pick."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swiftkit.data.datafiles import _load_file
from swiftkit.data.rowcheck import RowChecker
from swiftkit.data.rowformats import _convert_file
from swiftkit.data.scan import scan_path

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datasets"
FILES = sorted(
    p for p in FIXTURES.iterdir() if p.is_file() and p.suffix in (".json", ".jsonl", ".csv")
)


def streamed(records, label, suffix):
    checker = RowChecker(label, suffix)
    kept = []
    for n, row in records:
        converted = checker.convert(n, row)
        if converted is not None:
            kept.append((*converted, n))
    return kept, checker.problems()


def whole(records, label, suffix):
    problems: list[str] = []
    return _convert_file(records, label, suffix, problems), problems


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_fixtures_convert_as_the_whole_file_does(path):
    records = _load_file(path, path.name, []) or []
    assert streamed(records, path.name, path.suffix) == whole(records, path.name, path.suffix)


MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "role": st.sampled_from(["system", "user", "assistant", "human", "gpt", "tool", "x", 3]),
        "content": st.one_of(st.text(max_size=3), st.none(), st.integers(), st.just(["a"])),
        "from": st.just("user"),
        "loss": st.booleans(),
    },
)
ROW = st.one_of(
    st.fixed_dictionaries({"messages": st.lists(MESSAGE, max_size=4)}),
    st.fixed_dictionaries(
        {"messages": st.lists(MESSAGE, max_size=3), "system": st.text(max_size=2)}
    ),
    st.fixed_dictionaries({"messages": st.one_of(st.none(), st.text(max_size=2), st.integers())}),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(ROW, min_size=1, max_size=8))
def test_any_messages_rows_convert_as_the_whole_file_does(rows):
    records = list(enumerate(rows, 1))
    assert streamed(records, "f.jsonl", ".jsonl") == whole(records, "f.jsonl", ".jsonl")


def test_later_columns_that_change_the_preprocessor_make_the_file_read_again(tmp_path):
    path = tmp_path / "mixed.jsonl"
    rows = [
        {"query": "q", "response": "r"},  # alone, a query/response file
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    problems: list[str] = []
    found = scan_path(path, "mixed.jsonl", problems)
    expected: list[str] = []
    kept = _convert_file(list(enumerate(rows, 1)), "mixed.jsonl", ".jsonl", expected)
    assert (found.rows, problems) == (len(kept), expected)
    assert found.rows == 1 and problems[0].startswith('mixed.jsonl:1: has no "messages"')
