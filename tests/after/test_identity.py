"""The identity check's pure parts: which rows are identity questions, scoring, pass mark, file."""

import json
import shutil
from pathlib import Path

import pytest

from swiftkit.after.identity import (
    BUILTIN_QUESTIONS,
    identity_names,
    identity_questions,
    score,
    wants_check,
    write_check,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def row(q, a):
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def test_names_come_as_swift_takes_them():
    assert identity_names({"model_name": ["小黄", "Xiao Huang"], "model_author": "swift"}) == (
        ("小黄", "Xiao Huang"),
        ("swift",),
    )
    assert identity_names({"model_name": None, "model_author": [None, "x"]}) == ((), ("x",))
    assert wants_check({"model_author": ["swift"]}) and not wants_check({"model_name": []})


def _score(responses, questions=None):
    questions = questions or [(f"q{i}", None) for i in range(len(responses))]
    return score(
        questions,
        responses,
        names=("小雨燕", "tiny-swift"),
        authors=("swiftkit",),
        source="test",
        checkpoint="checkpoint-5",
    )


def test_either_name_counts_case_insensitively_and_four_of_five_pass():
    check = _score(
        [
            "I'm Tiny-Swift, made by SwiftKit.",
            "我是小雨燕。",
            "I am tiny-swift.",
            "My name is tiny-swift",
            "I am Qwen, created by Alibaba Cloud.",
        ]
    )
    assert [a.names_model for a in check.answers] == [True, True, True, True, False]
    assert (check.name_hits, check.author_hits, check.needed) == (4, 1, 4)
    assert check.passed
    assert not _score(["tiny-swift"] * 3 + ["no"] * 2).passed  # 3 of 5
    assert _score(["tiny-swift"] * 7 + ["no"]).passed  # 7 of 8
    assert not _score(["tiny-swift"] * 6 + ["no"] * 2).passed  # 6 of 8
    assert not _score([]).passed


def test_check_json_holds_counts_and_answers(tmp_path):
    check = _score(["我是小雨燕，由swiftkit开发。"], [("你是谁？", "我是小雨燕。")])
    path = write_check(tmp_path, check, seconds=1.234)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert path == tmp_path / "swiftkit" / "check.json"
    assert data["passed"] is True and data["seconds"] == 1.23
    assert (data["questions"], data["name_hits"], data["author_hits"]) == (1, 1, 1)
    assert data["answers"] == [
        {
            "query": "你是谁？",
            "response": "我是小雨燕，由swiftkit开发。",
            "names_model": True,
            "names_author": True,
            "reference": "我是小雨燕。",
        }
    ]


@pytest.fixture
def run_dir(tmp_path):
    run = tmp_path / "output" / "v0-20261130-080000"
    run.mkdir(parents=True)
    return run


def test_questions_are_the_identity_rows_of_swifts_split(run_dir):
    rows = [
        row("Who are you?", "I am tiny-swift."),
        row("What is 2 + 2?", "4"),
        row("Who made you?", "SWIFTKIT made me."),  # the author counts too
        row("Name?", "{{NAME}}"),  # a run that trained the placeholder literally
    ]
    (run_dir / "val_dataset.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows), encoding="utf-8"
    )
    source, found = identity_questions(run_dir, {}, ["tiny-swift"], ["swiftkit"])
    assert source == f"validation split ({run_dir / 'val_dataset.jsonl'})"
    assert found == [
        ([{"role": "user", "content": "Who are you?"}], "I am tiny-swift."),
        ([{"role": "user", "content": "Who made you?"}], "SWIFTKIT made me."),
        ([{"role": "user", "content": "Name?"}], "{{NAME}}"),
    ]


def test_val_dataset_files_of_the_run_and_the_built_in_fallback(run_dir, tmp_path):
    val = tmp_path / "heldout.jsonl"
    val.write_text(json.dumps(row("你叫什么？", "我叫小雨燕。")), encoding="utf-8")
    source, found = identity_questions(run_dir, {"val_dataset": [str(val)]}, ["小雨燕"], [])
    assert source == f"validation split ({val})"
    assert found == [([{"role": "user", "content": "你叫什么？"}], "我叫小雨燕。")]
    source, found = identity_questions(run_dir, {"val_dataset": [str(val)]}, ["tiny-swift"], [])
    assert source == "built-in questions (the validation split holds no identity rows)"
    assert [c[0]["content"] for c, _ in found] == list(BUILTIN_QUESTIONS)
    assert any(not q.isascii() for q in BUILTIN_QUESTIONS)  # English and Chinese
    assert identity_questions(None, {}, ["x"], [])[0].startswith("built-in")


def test_swifts_own_split_file_with_messages_as_json_strings(run_dir):
    """swift 4.6 writes RUN/val_dataset.jsonl with each message as a JSON string (a real file
    from `swiftkit train` on the tiny CPU recipe, split_dataset_ratio 0.1)."""
    shutil.copy(FIXTURES / "swift_output" / "val_dataset.jsonl", run_dir / "val_dataset.jsonl")
    source, found = identity_questions(run_dir, {}, ["tiny-swift"], ["swiftkit"])
    assert source.startswith("validation split (")
    assert len(found) == 5
    assert found[0] == (
        [{"role": "user", "content": "Are you developed by OpenAI?"}],
        "No, I was not developed by OpenAI. I am tiny-swift, and swiftkit trained me.",
    )
