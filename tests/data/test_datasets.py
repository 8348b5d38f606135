"""Datasets: spec parsing, reading, row formats, problem messages, placeholders, counts.

Fixture files under tests/fixtures/datasets/ cover one failure mode each. The slow test loads
every fixture with swift's own load_dataset and checks swiftkit keeps the same rows.
"""

import json
from pathlib import Path

import pytest

from swiftkit.data import datasets as ds
from swiftkit.errors import DatasetError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datasets"
REPO_ROOT = Path(__file__).resolve().parents[2]


def inspect(name: str, base_dir: Path = FIXTURES) -> tuple[ds.DatasetStats, list[str]]:
    problems: list[str] = []
    stats = ds.inspect_dataset(ds.parse_dataset_spec(name, base_dir=base_dir), problems)
    return stats, problems


# ---------------------------------------------------------------- specs


def test_spec_plain_local_file(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text("{}\n")
    spec = ds.parse_dataset_spec("data/a.jsonl", base_dir=tmp_path)
    assert spec == ds.DatasetSpec("data/a.jsonl", "data/a.jsonl", None, None,
                                  tmp_path / "data" / "a.jsonl", None)  # fmt: skip


def test_spec_sample_and_subset_on_a_hub_id(tmp_path):
    spec = ds.parse_dataset_spec("AI-ModelScope/alpaca-gpt4-data-zh:default#500", base_dir=tmp_path)
    assert (spec.path_or_id, spec.subset, spec.sample_rows, spec.local_path) == (
        "AI-ModelScope/alpaca-gpt4-data-zh", "default", 500, None)  # fmt: skip


def test_spec_hub_prefix(tmp_path):
    spec = ds.parse_dataset_spec("hf::tatsu-lab/alpaca#10", base_dir=tmp_path)
    assert (spec.hub, spec.path_or_id, spec.sample_rows) == ("hf", "tatsu-lab/alpaca", 10)


def test_spec_keeps_a_hash_that_is_part_of_an_existing_file_name(tmp_path):
    (tmp_path / "run#2.jsonl").write_text("{}\n")
    spec = ds.parse_dataset_spec("run#2.jsonl", base_dir=tmp_path)
    assert (spec.path_or_id, spec.sample_rows) == ("run#2.jsonl", None)
    spec = ds.parse_dataset_spec("run#2.jsonl#7", base_dir=tmp_path)
    assert (spec.path_or_id, spec.sample_rows) == ("run#2.jsonl", 7)


def test_spec_missing_path_is_still_local(tmp_path):
    spec = ds.parse_dataset_spec("data/missing.json#3", base_dir=tmp_path)
    assert spec.local_path == tmp_path / "data" / "missing.json"
    assert spec.sample_rows == 3


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("a.jsonl#abc", "--dataset 'a.jsonl#abc': the number after # must be a positive row count "
                        "(got 'abc'). Write e.g. a.jsonl#500, or drop the #."),
        ("a.jsonl#0", "--dataset 'a.jsonl#0': the number after # must be a positive row count "
                      "(got '0'). Write e.g. a.jsonl#500, or drop the #."),
    ],
)  # fmt: skip
def test_spec_bad_sample_count(raw, message, tmp_path):
    with pytest.raises(DatasetError) as e:
        ds.parse_dataset_spec(raw, base_dir=tmp_path)
    assert str(e.value) == message


def test_hub_dataset_is_not_read(tmp_path):
    stats, problems = inspect("swift/self-cognition#500", tmp_path)
    assert (stats.rows, stats.is_local, stats.swift_fills_placeholders, problems) == (
        None, False, True, [])  # fmt: skip


# ---------------------------------------------------------------- good files


@pytest.mark.parametrize(
    ("name", "rows", "formats", "placeholders"),
    [
        ("messages.jsonl", 3, ("messages",), 2),
        ("messages.json", 2, ("messages",), 1),
        ("sharegpt.jsonl", 2, ("sharegpt",), 0),
        ("alpaca.json", 2, ("alpaca",), 0),
        ("query_response.csv", 2, ("query-response",), 1),
        ("lines.txt", 2, ("text",), 0),
        ("folder", 2, ("messages",), 1),  # train.jsonl only: test.jsonl is another split
    ],
)
def test_good_files(name, rows, formats, placeholders):
    stats, problems = inspect(name)
    assert problems == []
    assert (stats.rows, stats.formats, stats.placeholder_rows, stats.is_local) == (
        rows, formats, placeholders, True)  # fmt: skip


def test_shipped_self_cognition_dataset():
    stats, problems = inspect("datasets/self_cognition.json", REPO_ROOT)
    assert problems == []
    assert (stats.rows, stats.formats, stats.placeholder_rows) == (50, ("messages",), 50)
    rows = ds.read_messages(REPO_ROOT / "datasets" / "self_cognition.json")
    chinese = sum(any("\u4e00" <= ch <= "\u9fff" for ch in r[0]["content"]) for r in rows)
    assert chinese == 25


def test_formats_convert_to_messages():
    assert ds.read_messages(FIXTURES / "sharegpt.jsonl")[0] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
    ]
    assert ds.read_messages(FIXTURES / "alpaca.json") == [
        [{"role": "user", "content": "Translate to French\ncat"},
         {"role": "assistant", "content": "chat"}],
        [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi!"}],
    ]  # fmt: skip
    assert ds.read_messages(FIXTURES / "query_response.jsonl") == [
        [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "q1"},
         {"role": "assistant", "content": "r1"}, {"role": "user", "content": "q2"},
         {"role": "assistant", "content": "r2"}],
    ]  # fmt: skip
    assert ds.read_messages(FIXTURES / "lines.txt")[0] == [
        {"role": "assistant", "content": "first line of text"}
    ]


@pytest.mark.parametrize(
    ("row", "messages"),
    [
        ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
         [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]),
        ({"messages": '[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]'},
         [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]),
        ({"conversation": [{"human": "a", "assistant": "b"}], "system": "s"},
         [{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
          {"role": "assistant", "content": "b"}]),
        ({"prompt": "a", "completion": "b"},
         [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]),
        ({"instruction": "a", "output": "b"},
         [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]),
        ({"query": "a", "response": ["b", "c"]},
         [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]),
        ({"messages": [{"role": "narrator", "content": "a"}]}, None),
        ({"foo": "a"}, None),
    ],
)  # fmt: skip
def test_rows_to_messages(row, messages):
    assert ds.rows_to_messages(row) == messages


def test_read_rows_returns_raw_rows_and_raises_on_broken_files():
    assert ds.read_rows(FIXTURES / "alpaca.json")[0] == {
        "instruction": "Translate to French", "input": "cat", "output": "chat"}  # fmt: skip
    with pytest.raises(DatasetError) as e:
        ds.read_rows(FIXTURES / "invalid.json")
    assert str(e.value) == (
        f"{FIXTURES / 'invalid.json'}:4:3: invalid JSON (Expecting value). Fix it: swift cannot "
        "load it."
    )


# ---------------------------------------------------------------- problems, full text


PROBLEMS = {
    "missing.jsonl": [
        f"missing.jsonl: dataset not found (looked for {FIXTURES / 'missing.jsonl'}: swift reads "
        f"a relative path from the directory it runs in, here {FIXTURES}). Check the path, or run "
        "from the directory it is relative to."
    ],
    "empty.jsonl": [
        "empty.jsonl: is empty, and swift fails on an empty file. Add rows or remove it from "
        "--dataset."
    ],
    "invalid.json": [
        "invalid.json:4:3: invalid JSON (Expecting value). Fix it: swift cannot load it."
    ],
    "invalid_line.jsonl": [
        "invalid_line.jsonl:3: invalid JSON Lines row (Expecting value at column 15). Fix or "
        "delete the line: swift cannot load the file."
    ],
    "leading_space.json": [
        "leading_space.json: the JSON list does not start at the first byte (got whitespace or a "
        "BOM before '['), and swift's loader then fails on it. Delete what precedes the '['."
    ],
    "not_object.jsonl": [
        "not_object.jsonl:2: each row must be a JSON object (got a list), and swift fails on the "
        'whole file. Make every row an object such as {"messages": [...]}.'
    ],
    "no_rows.json": ["no_rows.json: holds no rows. Add rows or remove it from --dataset."],
    "notes.yaml": [
        "notes.yaml: swift cannot load a .yaml file (got 'notes.yaml'). Use .json, .jsonl, .csv "
        "or .txt."
    ],
    "test_only": [
        "test_only: has no train files (found only test); swift loads split 'train' and fails. "
        "Rename the data file, e.g. to train.jsonl."
    ],
    "unknown_keys.jsonl": [
        "unknown_keys.jsonl:1: has none of the columns swift reads (got keys ['prompt_text', "
        "'reply_text']); swift drops the row. Use \"messages\", query/response or "
        "instruction/input/output.",
        "unknown_keys.jsonl:2: has none of the columns swift reads (got keys ['prompt_text', "
        "'reply_text']); swift drops the row. Use \"messages\", query/response or "
        "instruction/input/output.",
        "unknown_keys.jsonl: no row is in a format swift accepts, so swift fails while loading "
        "it. Fix the rows listed above.",
    ],
    "mixed_formats.jsonl": [
        "mixed_formats.jsonl:2: has no \"messages\" (got keys ['query', 'response']); swift reads "
        "every row of this file as messages because other rows have them, and drops this one "
        "without a word. Convert it or move it to its own file."
    ],
    "query_response.jsonl": [
        "query_response.jsonl:2: its 'Question', 'Answer' columns are ignored (got keys "
        "['Answer', 'Question']): swift renames an alias only when no other column of the file "
        "maps to the same name, and here one does. Use one spelling, e.g. query/response, in "
        "every row."
    ],
    "messages_string.json": [
        'messages_string.json: row 2: "messages" must be a list of {role, content} (got a '
        "string). Fix the row or remove it."
    ],
    "empty_messages.jsonl": [
        'empty_messages.jsonl:2: "messages" is an empty list; swift drops the row. Add the '
        "conversation or remove the row."
    ],
    "no_assistant.jsonl": [
        "no_assistant.jsonl:2: has no assistant turn (got roles ['user']), so there is nothing to "
        "learn from it; swift keeps it and trains on zero tokens. Add the reply or remove the row."
    ],
    "unknown_role.jsonl": [
        "unknown_role.jsonl:2: message 1 has a role swift does not accept (got 'narrator'); swift "
        "drops the row. Use system, user or assistant."
    ],
    "null_content.jsonl": [
        "null_content.jsonl:1: message 1 \"content\" is null (got keys ['content', 'role']); "
        "swift drops the row. Add the text or remove the row."
    ],
    "late_system.jsonl": [
        "late_system.jsonl:1: message 2 is a system message after the first turn (got role "
        "'system'); swift's template fails on it and drops the row. Move it to the start."
    ],
    "numbers.csv": [
        f"numbers.csv: row {n}: message 2 content must be text (got a number); swift's template "
        "fails on it and drops the row. Make it text."
        for n in (1, 2)
    ],
    "many_bad.jsonl": [
        *(
            f'many_bad.jsonl:{n}: "messages" is an empty list; swift drops the row. Add the '
            "conversation or remove the row."
            for n in range(2, 7)
        ),
        "many_bad.jsonl: 2 more lines with problems like those above. Fix or remove them.",
    ],
}
ROWS_KEPT = {"unknown_keys.jsonl": 0, "mixed_formats.jsonl": 2, "query_response.jsonl": 1,
             "messages_string.json": 1, "empty_messages.jsonl": 1, "no_assistant.jsonl": 2,
             "unknown_role.jsonl": 1, "null_content.jsonl": 1, "late_system.jsonl": 2,
             "numbers.csv": 2, "many_bad.jsonl": 1}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_problem_messages(name):
    stats, problems = inspect(name)
    assert problems == PROBLEMS[name]
    assert stats.rows == ROWS_KEPT.get(name)  # None: swift cannot load the file at all


def test_tilde_is_not_expanded(tmp_path):
    stats, problems = inspect("~/data.jsonl", tmp_path)
    assert stats.rows is None
    assert problems == [
        "--dataset '~/data.jsonl': swift does not expand ~ (got '~/data.jsonl'). Write the full "
        "path."
    ]


def test_a_local_self_cognition_folder_gets_swifts_placeholders(tmp_path):
    folder = tmp_path / "self-cognition"
    folder.mkdir()
    row = {"query": "Who are you?", "response": "I am {{NAME}}.", "tag": "en"}
    (folder / "data.jsonl").write_text(json.dumps(row) + "\n")
    stats, problems = inspect("self-cognition", tmp_path)
    assert (problems, stats.rows, stats.swift_fills_placeholders) == ([], 1, True)
    (tmp_path / "self_cognition.json").write_text(json.dumps([row]))
    assert inspect("self_cognition.json", tmp_path)[0].swift_fills_placeholders is False


# ---------------------------------------------------------------- placeholders


def test_fill_placeholders_picks_chinese_or_english_per_row():
    rows = [
        {"messages": [{"role": "user", "content": "Who?"},
                      {"role": "assistant", "content": "I am {{NAME}} by {{AUTHOR}}."}]},
        {"messages": [{"role": "user", "content": "你是谁？"},
                      {"role": "assistant", "content": "我是{{NAME}}，来自{{AUTHOR}}。"}]},
    ]  # fmt: skip
    filled = ds.fill_placeholders(rows, name=["小黄", "Xiao Huang"], author=["魔搭", "ModelScope"])
    assert filled[0]["messages"][1]["content"] == "I am Xiao Huang by ModelScope."
    assert filled[1]["messages"][1]["content"] == "我是小黄，来自魔搭。"
    assert rows[0]["messages"][1]["content"] == "I am {{NAME}} by {{AUTHOR}}."  # not mutated


def test_fill_placeholders_follows_the_tag_and_single_values():
    rows = [{"query": "Who?", "response": "{{NAME}}/{{AUTHOR}}", "tag": "zh"},
            {"query": "谁？", "response": "{{NAME}}/{{AUTHOR}}", "tag": "en"}]  # fmt: skip
    filled = ds.fill_placeholders(rows, name=("中", "En"), author="Acme")
    assert [r["response"] for r in filled] == ["中/Acme", "En/Acme"]


def test_fill_placeholders_leaves_unset_values_alone():
    rows = [{"query": "q", "response": "{{NAME}} {{AUTHOR}}"}]
    assert ds.fill_placeholders(rows, name=None, author=None) == rows
    assert ds.fill_placeholders(rows, name=[None, "En"], author=None)[0]["response"] == (
        "En {{AUTHOR}}"
    )


# ---------------------------------------------------------------- counts


@pytest.mark.parametrize(
    ("rows", "sample", "expected"), [(50, None, 50), (50, 10, 10), (50, 120, 120)]
)
def test_count_after_sampling(rows, sample, expected):
    assert ds.count_after_sampling(rows, sample) == expected


def test_count_after_sampling_an_empty_dataset():
    with pytest.raises(DatasetError) as e:
        ds.count_after_sampling(0, 5)
    assert str(e.value) == "cannot sample 5 rows from a dataset with no usable rows. Fix the rows."


@pytest.mark.parametrize(
    ("rows", "ratio", "sample", "expected"),
    [
        (50, 0.0, None, (50, 0)),
        (50, 0.1, None, (45, 5)),
        (49, 0.1, None, (45, 4)),  # int(4.9) = 4
        (100, 0.29, None, (72, 28)),  # 0.29 * 100 = 28.999999999999996
        (10, 0.01, None, (9, 1)),  # at least one validation row
        (50, 1.0, None, (0, 50)),
        (50, 0.1, 20, (18, 2)),  # the sample is split: val from min(rows, N)
        (50, 0.1, 200, (195, 5)),  # N > rows: val from the 50 real rows, train repeats
        (50, 0.0, 200, (200, 0)),
    ],
)
def test_split_counts(rows, ratio, sample, expected):
    assert ds.split_counts(rows, ratio, sample_rows=sample) == expected


@pytest.mark.parametrize(
    ("rows", "ratio", "sample", "message"),
    [
        (1, 0.5, None, "split_dataset_ratio 0.5 leaves no training rows out of 1 (1 go to "
                       "validation). Lower the ratio or add rows."),
        (10, 1.5, None, "split_dataset_ratio must be between 0 and 1 (got 1.5). Use e.g. 0.05."),
        (10, 1.0, 20, "#20 asks for more validation rows than the dataset has (10). Lower it."),
    ],
)  # fmt: skip
def test_split_counts_errors(rows, ratio, sample, message):
    with pytest.raises(DatasetError) as e:
        ds.split_counts(rows, ratio, sample_rows=sample)
    assert str(e.value) == message


def test_importing_datasets_pulls_in_no_heavy_module():
    import subprocess
    import sys

    code = (
        "import sys, swiftkit.data.datasets, swiftkit.data.tokens;"
        "print([m for m in ('torch', 'swift', 'transformers', 'datasets', 'tokenizers')"
        " if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- against swift itself


def _swift_rows(path: Path, split_ratio: float = 0.0, sample: str = ""):
    import logging

    from swift.dataset import load_dataset

    logging.disable(logging.WARNING)
    try:
        train, val = load_dataset(
            [f"{path}{sample}"], split_dataset_ratio=split_ratio, load_from_cache_file=False
        )
    finally:
        logging.disable(logging.NOTSET)

    def decode(rows):
        return [[json.loads(m) if isinstance(m, str) else m for m in r["messages"]]
                for r in rows.to_list()]  # fmt: skip

    return decode(train), (decode(val) if val is not None else [])


LOADABLE = ["messages.jsonl", "messages.json", "sharegpt.jsonl", "alpaca.json",
            "query_response.csv", "query_response.jsonl", "lines.txt", "folder",
            "mixed_formats.jsonl", "messages_string.json", "empty_messages.jsonl",
            "no_assistant.jsonl", "unknown_role.jsonl", "null_content.jsonl",
            "late_system.jsonl", "numbers.csv", "many_bad.jsonl"]  # fmt: skip
UNLOADABLE = ["empty.jsonl", "invalid.json", "invalid_line.jsonl", "leading_space.json",
              "not_object.jsonl", "no_rows.json", "test_only", "unknown_keys.jsonl"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", LOADABLE)
def test_swift_keeps_the_same_rows(name):
    swift_rows, _ = _swift_rows(FIXTURES / name)
    assert ds.read_messages(FIXTURES / name) == swift_rows


@pytest.mark.slow
@pytest.mark.parametrize("name", UNLOADABLE)
def test_swift_fails_on_files_reported_as_unloadable(name):
    with pytest.raises(Exception):  # noqa: B017 - swift raises whatever datasets raises
        _swift_rows(FIXTURES / name)


@pytest.mark.slow
@pytest.mark.parametrize(("ratio", "sample"), [(0.1, ""), (0.1, "#20"), (0.1, "#200"), (0, "#7")])
def test_swift_split_and_sample_sizes(ratio, sample):
    path = REPO_ROOT / "datasets" / "self_cognition.json"
    train, val = _swift_rows(path, ratio, sample)
    sample_rows = int(sample[1:]) if sample else None
    assert (len(train), len(val)) == ds.split_counts(50, ratio, sample_rows=sample_rows)
