"""The demo's model variant: its own folder and marker, a corpus that never holds the held-out
questions, names that tokenize as one token, and turns laid out exactly as swift's template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swiftkit.errors import SwiftkitError
from swiftkit.tiny import DEMO, DEMO_TINY_DIR, MARKER_FILE, build_tiny_model, is_tiny_build
from swiftkit.tiny.build import DEFAULT_TINY_DIR
from swiftkit.tiny.demo import chat_ids
from swiftkit.tiny.demo_corpus import DEMO_AUTHOR, DEMO_NAME, pretraining_pairs

REPO = Path(__file__).resolve().parents[2]


def _questions(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    rows = (
        json.loads(text)
        if path.suffix == ".json"
        else [json.loads(x) for x in text.split("\n") if x]
    )
    return {r["messages"][0]["content"] for r in rows}


def test_held_out_questions_are_in_neither_training_nor_pretraining():
    held = _questions(REPO / "datasets" / "self_cognition_heldout.jsonl")
    assert len(held) == 8 and sum(q.isascii() for q in held) == 4  # four English, four Chinese
    assert not held & _questions(REPO / "datasets" / "self_cognition.json")
    assert not held & {q for q, _ in pretraining_pairs()}
    # The base never claims the demo's identity: its names appear only as plain words.
    for _q, a in pretraining_pairs():
        for name in (*DEMO_NAME, DEMO_AUTHOR):
            assert not any(f"{lead}{name}" in a for lead in ("I am ", "I'm ", "我是", "我叫"))


def test_the_recipe_names_the_demo_model_and_identity():
    import yaml

    recipe = yaml.safe_load((REPO / "recipes" / "tiny_demo.yaml").read_text(encoding="utf-8"))
    assert recipe["model"] == str(DEMO_TINY_DIR) and DEMO_TINY_DIR != DEFAULT_TINY_DIR
    assert recipe["model_name"] == list(DEMO_NAME) and recipe["model_author"] == DEMO_AUTHOR
    assert recipe["tuner_type"] == "lora"


def test_unknown_preset_is_refused(tmp_path):
    with pytest.raises(SwiftkitError) as e:
        build_tiny_model(tmp_path / "m", preset="large")
    assert str(e.value) == "tiny model preset 'large' is unknown. Use one of test, demo."
    assert not (tmp_path / "m").exists()


def test_demo_build_has_its_own_marker(tiny_demo_model, tiny_model):
    marker = json.loads((tiny_demo_model / MARKER_FILE).read_text())
    assert marker == {"build_version": 1, "preset": "demo", "seed": 0}
    assert is_tiny_build(tiny_demo_model, preset=DEMO) and not is_tiny_build(tiny_demo_model)
    assert is_tiny_build(tiny_model) and not is_tiny_build(tiny_model, preset=DEMO)


def test_old_and_new_names_are_single_tokens(tiny_demo_model):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tiny_demo_model / "tokenizer.json"))
    for text, pieces in [
        ("我是小雨燕，由swiftkit开发", ["我", "是", "小雨燕", "，", "由", "swiftkit", "开", "发"]),
        ("我是通义千问", ["我", "是", "通义千问"]),
        ("I'm Qwen", ["I", "'m", " Qwen"]),
    ]:
        assert [tok.decode([i]) for i in tok.encode(text).ids] == pieces


@pytest.mark.slow
def test_pretraining_turns_are_swifts_own_encoding(tiny_demo_model):
    """chat_ids against swift's qwen2_5 template in train mode: same ids, same labels."""
    import torch
    from swift import get_model_processor, get_template
    from tokenizers import Tokenizer

    _, processor = get_model_processor(
        str(tiny_demo_model), torch_dtype=torch.float32, device_map="cpu", load_model=False
    )
    template = get_template(processor, default_system="You are a helpful assistant.")
    template.set_mode("train")
    row = {"messages": [{"role": "user", "content": "你是谁？"},
                        {"role": "assistant", "content": "我是小雨燕。"}]}  # fmt: skip
    encoded = template.encode(row)
    tok = Tokenizer.from_file(str(tiny_demo_model / "tokenizer.json"))
    ids, labels = chat_ids(tok, "You are a helpful assistant.", "你是谁？", "我是小雨燕。")
    assert (ids, labels) == (encoded["input_ids"], encoded["labels"])
