"""JSON recipes (swift's own `swift sft config.json` files): values as json.load reads them,
the line of each key, duplicates reported with the other checks, syntax errors with a line."""

import json

import pytest

from swiftkit.errors import RecipeError
from swiftkit.recipe.jsonfile import read_json_mapping

FIX = " Fix the JSON there."


def write(tmp_path, text, name="c.json"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_values_are_json_loads_and_lines_are_the_keys_lines(tmp_path):
    text = (
        '{\n  "model": "m",\n  "dataset": ["a.jsonl", "b.jsonl#5"],\n'
        '  "lora_rank": 8, "lora_rank": 16,\n  "deepspeed": {"zero_optimization": {"stage": 2}},\n'
        '  "ENV": {"NPROC_PER_NODE": 2, "X": true}\n}\n'
    )
    doc = read_json_mapping(write(tmp_path, text))
    assert doc.values == json.loads(text)  # the last lora_rank, as swift's json.load keeps it
    assert doc.lines == {"model": 2, "dataset": 3, "lora_rank": 4, "deepspeed": 5, "ENV": 6}
    path = tmp_path / "c.json"
    assert doc.problems == (
        f"{path}:4: lora_rank is set twice (first on line 4). Keep one of them.",
    )


def test_a_key_set_twice_inside_a_value(tmp_path):
    doc = read_json_mapping(write(tmp_path, '{"ENV": {"A": 1,\n "A": 2}}'))
    assert doc.values == {"ENV": {"A": 2}}
    assert doc.problems == (
        f"{tmp_path / 'c.json'}:1: A is set twice inside ENV. Keep one of them.",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "{p}: the recipe is empty. Add swift sft flags such as \"model\" and \"dataset\"."),
        (
            "[1, 2]",
            '{p}:1: the top level must be an object of swift sft flags (got a list). '
            'Write {{"flag": value, ...}}.',
        ),
        ('{"model": "m",\n "x": [1,\n}', "{p}:3: invalid JSON: Expecting value (column 1)." + FIX),
        ('{"a": 1 "b": 2}', "{p}:1: invalid JSON: Expecting ',' delimiter (column 9)." + FIX),
        (
            "{'a': 1}",
            "{p}:1: invalid JSON: Expecting property name enclosed in double quotes (column 2)."
            + FIX,
        ),
        ('{"a": 1}\nx', "{p}:2: invalid JSON: Extra data (column 1)." + FIX),
        ('{"a": 1', "{p}:1: invalid JSON: Expecting ',' delimiter (column 8)." + FIX),
    ],
)  # fmt: skip
def test_unreadable_files_stop_with_the_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(RecipeError) as e:
        read_json_mapping(path)
    assert str(e.value) == message.format(p=path)
