"""The tiny local model: a deterministic, idempotent, atomic build that the real swift trains."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from swiftkit.errors import SwiftkitError
from swiftkit.tiny import BUILD_VERSION, MARKER_FILE, build_tiny_model, is_tiny_build
from swiftkit.tiny import build as tiny

EXPECTED_FILES = {
    "args.json",
    "config.json",
    "generation_config.json",
    "model.safetensors",
    MARKER_FILE,
    "tokenizer.json",
    "tokenizer_config.json",
}


def _contents(model_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(model_dir.iterdir())}


@pytest.fixture(scope="module")
def fresh_build(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("fresh") / "tiny")


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_importing_tiny_does_not_import_torch():
    code = "import sys, swiftkit.tiny; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_build_writes_a_complete_model_folder(fresh_build):
    assert {p.name for p in fresh_build.iterdir()} == EXPECTED_FILES
    marker = json.loads((fresh_build / MARKER_FILE).read_text())
    assert marker == {"build_version": BUILD_VERSION, "seed": 0}
    config = json.loads((fresh_build / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForCausalLM"]
    assert config["dtype"] == "float32"
    assert config["vocab_size"] == 4096
    # swift reads model_type and template from here for a folder name it does not know.
    swift_args = json.loads((fresh_build / "args.json").read_text())
    assert swift_args == {"model_type": "qwen2", "swift_version": "4.6.0", "template": "qwen2_5"}


def test_build_is_deterministic(fresh_build, tiny_model):
    assert _contents(fresh_build) == _contents(tiny_model)


def test_seed_changes_the_weights_only(fresh_build, tmp_path):
    other = _contents(build_tiny_model(tmp_path / "seed1", seed=1))
    same = _contents(fresh_build)
    assert other["model.safetensors"] != same["model.safetensors"]
    assert other["tokenizer.json"] == same["tokenizer.json"]
    assert json.loads(other[MARKER_FILE])["seed"] == 1


def test_build_is_idempotent(fresh_build, monkeypatch):
    before = {p.name: p.stat().st_mtime_ns for p in fresh_build.iterdir()}

    def must_not_build(*args):
        msg = "rebuilt a complete build"
        raise AssertionError(msg)

    monkeypatch.setattr(tiny, "_write_build", must_not_build)
    assert build_tiny_model(fresh_build) == fresh_build
    assert {p.name: p.stat().st_mtime_ns for p in fresh_build.iterdir()} == before


def test_an_older_build_is_replaced(fresh_build, tmp_path):
    old = tmp_path / "tiny"
    shutil.copytree(fresh_build, old)
    (old / MARKER_FILE).write_text(json.dumps({"build_version": 0, "seed": 0}))
    (old / "stale.bin").write_bytes(b"x")
    assert not is_tiny_build(old)

    build_tiny_model(old)

    assert is_tiny_build(old)
    assert _contents(old) == _contents(fresh_build)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]  # no temp folders left


def test_a_failed_build_leaves_nothing_behind(tmp_path, monkeypatch):
    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(tiny, "_save_model", killed)
    with pytest.raises(KeyboardInterrupt):
        build_tiny_model(tmp_path / "tiny")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_is_not_a_build_is_never_overwritten(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")

    with pytest.raises(SwiftkitError) as err:
        build_tiny_model(foreign)

    assert str(err.value) == (
        f"{foreign}: is not empty and holds no tiny-model build (swiftkit-tiny.json is missing), "
        "so it will not be overwritten. Remove it or choose another folder."
    )
    assert (foreign / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "text",
    [
        "Hello! I'm {{NAME}}, an assistant made by {{AUTHOR}}.",
        "你好！我是一个人工智能助手，今天天气很好。",
        "Mixed: 微调 fine-tuning, 数字 2048, emoji 🤖, Ελληνικά, 日本語",
    ],
)
def test_tokenizer_round_trips(tokenizer, text):
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    assert len(ids) < len(text.encode("utf-8"))  # merges were learned, not just bytes


def test_special_tokens_are_single_tokens(tokenizer):
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.bos_token is None
    ids = tokenizer.encode("<|im_start|>user\nhi<|im_end|><|endoftext|>")
    assert ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert ids[-2:] == [tokenizer.eos_token_id, tokenizer.pad_token_id]
    assert len(tokenizer) == 4096


def test_chat_template_renders_chatml_with_qwen_default_system(tokenizer):
    messages = [
        {"role": "user", "content": "你是谁？"},
        {"role": "assistant", "content": "I am tiny."},
    ]
    assert tokenizer.apply_chat_template(messages, tokenize=False) == (
        "<|im_start|>system\n"
        "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n你是谁？<|im_end|>\n"
        "<|im_start|>assistant\nI am tiny.<|im_end|>\n"
    )


def test_chat_template_uses_a_given_system_and_generation_prompt(tokenizer):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


@pytest.mark.slow
def test_swift_lora_run_reaches_max_steps_and_writes_an_adapter(run_sft):
    run_dir = run_sft("--max_steps", "3", "--gradient_accumulation_steps", "2")

    args = json.loads((run_dir / "args.json").read_text())
    assert (args["model_type"], args["template"], args["tuner_type"]) == (
        "qwen2",
        "qwen2_5",
        "lora",
    )
    checkpoint = run_dir / "checkpoint-3"
    assert (checkpoint / "adapter_model.safetensors").is_file()
    assert (checkpoint / "adapter_config.json").is_file()
    assert (run_dir / "last-checkpoint").resolve() == checkpoint.resolve()
    lines = [json.loads(line) for line in (run_dir / "logging.jsonl").read_text().splitlines()]
    steps = [line["global_step/max_steps"] for line in lines if "loss" in line]
    assert steps == ["1/3", "2/3", "3/3"]
    result = lines[-1]  # sft_main's return value, also written as the last line
    assert result["global_step"] == 3
    assert Path(result["last_model_checkpoint"]).resolve() == checkpoint.resolve()


@pytest.mark.slow
def test_swift_counts_a_row_as_its_full_chatml_encoding(tiny_model, tokenizer):
    from swift.model import get_processor
    from swift.template import MaxLengthError, get_template

    messages = [
        {"role": "user", "content": "Who are you?"},
        {"role": "assistant", "content": "I am {{NAME}}, an AI assistant developed by {{AUTHOR}}."},
    ]
    hf_length = len(tokenizer.encode(tokenizer.apply_chat_template(messages, tokenize=False)))
    assert hf_length == 77

    processor = get_processor(str(tiny_model))
    template = get_template(processor, max_length=hf_length, truncation_strategy="raise")
    template.set_mode("train")
    encoded = template.encode({"messages": messages}, return_length=True)
    # The qwen2_5 default system prompt is included, and the trailing "\n" after <|im_end|>.
    assert encoded["lengths"] == [hf_length]

    # --truncation_strategy delete is "raise" inside the template; the row is then dropped.
    template = get_template(processor, max_length=hf_length - 1, truncation_strategy="raise")
    template.set_mode("train")
    with pytest.raises(MaxLengthError):
        template.encode({"messages": messages}, return_length=True)
