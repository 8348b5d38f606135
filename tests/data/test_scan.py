"""A dataset's one pass: folders of several files merged, file-level problems making the rows
unknown (as swift fails on the whole dataset), files swiftkit cannot read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swiftkit.data import tokens
from swiftkit.data.scan import scan_path
from swiftkit.tiny.tokenizer import save_tokenizer, train_tokenizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "datasets"
ROW = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
LONG = {
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "y " * 80}]
}


@pytest.fixture(scope="module")
def tiny_tok(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-tok")
    save_tokenizer(train_tokenizer(), folder)
    return folder


def write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")


def test_a_folder_of_files_is_one_dataset(tmp_path, tiny_tok):
    write(tmp_path / "d" / "a.jsonl", [ROW] * 3 + [LONG])
    write(tmp_path / "d" / "b.jsonl", [ROW, LONG, LONG])
    ctx, key = tokens.length_context(str(tiny_tok), tmp_path, template="qwen2_5", max_length=60)
    found = scan_path(tmp_path / "d", "d", [], ctx, key)
    expected = tokens.token_lengths([ROW["messages"], LONG["messages"]], tiny_tok,
                                    template="qwen2_5")  # fmt: skip
    assert expected[0] <= 60 < expected[1]
    s = found.lengths
    assert (found.rows, s.rows, s.over_max_length, s.longest_kept) == (7, 7, 3, expected[0])
    assert (s.max_tokens, s.max_exact) == (expected[1], True)
    cached = scan_path(tmp_path / "d", "d", [], ctx, key)
    assert cached.cached_files == 2 and cached.lengths == s


def test_a_file_level_problem_makes_the_rows_unknown(tmp_path):
    write(tmp_path / "d" / "a.jsonl", [{"messages": []}])  # a row problem
    (tmp_path / "d" / "b.jsonl").write_text('{"a": \n', "utf-8")  # the file cannot load
    problems: list[str] = []
    assert scan_path(tmp_path / "d", "d", problems).rows is None
    assert problems == [
        "d/b.jsonl:1: invalid JSON Lines row (Expecting value at column 7). Fix or delete the "
        "line: swift cannot load the file."
    ]


def test_parquet_is_left_to_swift(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "train.parquet").write_bytes(b"PAR1")
    problems: list[str] = []
    assert scan_path(tmp_path / "d", "d", problems).rows is None
    assert problems == []


def test_an_invalid_json_line_is_listed_with_the_other_rows_problems():
    # tests/fixtures/datasets/bad_json_line.jsonl: the reported file, line 4 cut short
    path = FIXTURES / "bad_json_line.jsonl"
    problems: list[str] = []
    assert scan_path(path, "bad.jsonl", problems).rows is None  # swift cannot load the file
    assert [p.split(" ", 1)[0] for p in problems] == [
        "bad.jsonl:2:", "bad.jsonl:3:", "bad.jsonl:4:", "bad.jsonl:5:", "bad.jsonl:6:"
    ]  # fmt: skip
    assert problems[2] == (
        "bad.jsonl:4: invalid JSON Lines row (Expecting value at column 15). Fix or delete the "
        "line: swift cannot load the file."
    )


def test_invalid_json_lines_are_capped_like_row_problems(tmp_path):
    write(tmp_path / "d.jsonl", [ROW])
    with (tmp_path / "d.jsonl").open("a", encoding="utf-8") as f:
        f.write("{oops\n" * 8)
    problems: list[str] = []
    scan_path(tmp_path / "d.jsonl", "d.jsonl", problems)
    assert len(problems) == 6
    assert problems[-1] == (
        "d.jsonl: 3 more lines swift cannot load, like those above. Fix or delete them."
    )
