"""Token lengths: finding a local tokenizer, swift's template rules, and agreement with swift.

The fast tests use a small byte-level BPE tokenizer trained here; the slow test compares every
length with swift's own `template.encode` on the tiny Qwen2 model.
"""

import json
from pathlib import Path

import pytest

from swiftkit.data import datasets as ds
from swiftkit.data import tokens

REPO_ROOT = Path(__file__).resolve().parents[2]
QWEN2_5_SYSTEM = tokens.TEMPLATES["qwen2_5"].default_system
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory) -> Path:
    """A small byte-level BPE tokenizer with Qwen's special tokens, no args.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [
        "Who are you? I am a helpful assistant.",
        "system user assistant",
        "你是谁？我是助手。",
    ]
    tokenizer.train_from_iterator(corpus * 20, trainer=trainer)
    folder = tmp_path_factory.mktemp("tok")
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {"eos_token": "<|im_end|>", "chat_template": CHAT_TEMPLATE}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def n_tokens(tok_dir: Path, *pieces: str) -> int:
    """Tokens of each piece encoded on its own, as swift encodes its template pieces."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
    return sum(len(tokenizer.encode(p, add_special_tokens=False).ids) for p in pieces)


def U(text):
    return {"role": "user", "content": text}


def A(text):
    return {"role": "assistant", "content": text}


def S(text):
    return {"role": "system", "content": text}


# ---------------------------------------------------------------- finding a tokenizer


def test_local_folder(tmp_path, tok_dir):
    (tmp_path / "models" / "m").mkdir(parents=True)
    (tmp_path / "models" / "m" / "tokenizer.json").write_text("{}")
    assert tokens.find_local_tokenizer("models/m", tmp_path) == tmp_path / "models" / "m"
    assert tokens.find_local_tokenizer(str(tok_dir), tmp_path) == tok_dir
    (tmp_path / "empty").mkdir()
    assert tokens.find_local_tokenizer("empty", tmp_path) is None


def _isolate(monkeypatch, tmp_path):
    for var in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "MODELSCOPE_CACHE", "USE_HF"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def _touch(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "tokenizer.json").write_text("{}")
    return path


def test_hugging_face_cache_prefers_refs_main(tmp_path, monkeypatch):
    _isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    repo = tmp_path / "hf" / "models--Qwen--Qwen2.5-0.5B-Instruct"
    _touch(repo / "snapshots" / "old")
    main = _touch(repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123\n")
    assert tokens.find_local_tokenizer("Qwen/Qwen2.5-0.5B-Instruct", tmp_path) == main


def test_hf_home_and_the_default_cache(tmp_path, monkeypatch):
    _isolate(monkeypatch, tmp_path)
    default = _touch(tmp_path / "xdg" / "huggingface" / "hub" / "models--a--b" / "snapshots" / "1")
    assert tokens.find_local_tokenizer("a/b", tmp_path) == default
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hfhome"))
    home = _touch(tmp_path / "hfhome" / "hub" / "models--a--b" / "snapshots" / "2")
    assert tokens.find_local_tokenizer("a/b", tmp_path) == home


def test_modelscope_cache_with_escaped_dots(tmp_path, monkeypatch):
    _isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms"))
    folder = _touch(tmp_path / "ms" / "models" / "Qwen" / "Qwen2___5-0___5B-Instruct")
    assert tokens.find_local_tokenizer("Qwen/Qwen2.5-0.5B-Instruct", tmp_path) == folder


def test_modelscope_default_and_flat_layouts(tmp_path, monkeypatch):
    _isolate(monkeypatch, tmp_path)
    flat = _touch(tmp_path / "home" / ".cache" / "modelscope" / "hub" / "org" / "name")
    assert tokens.find_local_tokenizer("org/name", tmp_path) == flat


def test_use_hf_puts_the_hugging_face_cache_first(tmp_path, monkeypatch):
    _isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    ms = _touch(tmp_path / "ms" / "models" / "a" / "b")
    hf = _touch(tmp_path / "hf" / "models--a--b" / "snapshots" / "1")
    assert tokens.find_local_tokenizer("a/b", tmp_path) == ms
    monkeypatch.setenv("USE_HF", "1")
    assert tokens.find_local_tokenizer("a/b", tmp_path) == hf


def test_nothing_cached(tmp_path, monkeypatch):
    _isolate(monkeypatch, tmp_path)
    assert tokens.find_local_tokenizer("Qwen/Qwen2.5-7B-Instruct", tmp_path) is None
    assert tokens.find_local_tokenizer("", tmp_path) is None


# ---------------------------------------------------------------- template detection


def test_detect_template(tmp_path, tok_dir):
    assert tokens.detect_template(tok_dir) is None
    (tmp_path / "args.json").write_text(json.dumps({"template": "qwen3"}))
    assert tokens.detect_template(tmp_path) == "qwen3"
    qwen = tmp_path / "qwen"
    qwen.mkdir()
    template = "{{'<|im_start|>system\\n" + QWEN2_5_SYSTEM + "<|im_end|>\\n'}}"
    (qwen / "tokenizer_config.json").write_text(json.dumps({"chat_template": template}))
    assert tokens.detect_template(qwen) == "qwen2_5"


# ---------------------------------------------------------------- swift's template rules


def test_qwen2_5_pieces_and_default_system(tok_dir):
    lengths = tokens.token_lengths([[U("Who are you?"), A("I am a helpful assistant.")]], tok_dir,
                                   template="qwen2_5")  # fmt: skip
    prompt = (f"<|im_start|>system\n{QWEN2_5_SYSTEM}<|im_end|>\n<|im_start|>user\nWho are you?"
              "<|im_end|>\n<|im_start|>assistant\n")  # fmt: skip
    assert lengths == [n_tokens(tok_dir, prompt, "I am a helpful assistant.<|im_end|>\n")]


def test_system_flag_row_system_and_empty_system(tok_dir):
    row = [U("q"), A("a")]
    reply = "a<|im_end|>\n"

    def prompt(system):
        block = f"<|im_start|>system\n{system}<|im_end|>\n" if system else ""
        return block + "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"

    lengths = tokens.token_lengths([row], tok_dir, system="Be brief.", template="qwen2_5")
    assert lengths == [n_tokens(tok_dir, prompt("Be brief."), reply)]
    lengths = tokens.token_lengths([[S("Row system."), *row]], tok_dir, system="Be brief.",
                                   template="qwen2_5")  # fmt: skip
    assert lengths == [n_tokens(tok_dir, prompt("Row system."), reply)]
    lengths = tokens.token_lengths([[S(""), *row]], tok_dir, template="qwen2_5")
    assert lengths == [n_tokens(tok_dir, prompt(None), reply)]


def test_multi_turn_and_merged_turns(tok_dir):
    rows = [[U("a"), U("b"), A("c"), A("d"), U("e"), A("f")]]
    lengths = tokens.token_lengths(rows, tok_dir, template="qwen3_nothinking")
    expected = n_tokens(
        tok_dir,
        "<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n",
        "cd",
        "<|im_end|>\n<|im_start|>user\ne<|im_end|>\n<|im_start|>assistant\n",
        "f<|im_end|>\n",
    )
    assert lengths == [expected]


def test_rows_without_a_reply_or_with_a_stop_word(tok_dir):
    rows = [[U("q")], [U("q"), A("done<|im_end|>")]]
    lengths = tokens.token_lengths(rows, tok_dir, template="qwen3_nothinking")
    prompt = "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"
    assert lengths == [n_tokens(tok_dir, prompt), n_tokens(tok_dir, prompt, "done<|im_end|>")]


def test_rows_swift_cannot_encode_get_zero(tok_dir):
    rows = [[U("a"), S("late"), A("b")], [U(5), A("b")]]
    assert tokens.token_lengths(rows, tok_dir, template="qwen2_5") == [0, 0]


def test_unknown_template_renders_the_chat_template(tok_dir):
    lengths = tokens.token_lengths([[U("q"), A("a")]], tok_dir, system="sys")
    text = "<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nq<|im_end|>\n"
    assert lengths == [n_tokens(tok_dir, text + "<|im_start|>assistant\na<|im_end|>\n")]


# ---------------------------------------------------------------- against swift itself

ROWS = [
    [U("Who are you?"), A("I am Tiny, an assistant trained by Acme.")],
    [U("你是谁？"), A("我是小助手，由某某公司训练。")],
    [S("You are a pirate."), U("Hello"), A("Arr, hello there!")],
    [S("你是一个乐于助人的助手。"), U("今天天气怎么样？"), A("今天天气晴朗，适合出去散步。")],
    [U("What is 2+2?"), A("4"), U("And 3+3?"), A("6"), U("Thanks!"), A("You're welcome.")],
    [U("第一轮问题"), A("第一轮回答"), U("第二轮问题"), A("第二轮回答")],
    [S(""), U("No system at all"), A("Right.")],
    [U("part one, "), U("part two"), A("merged user")],
    [U("q"), A("first reply. "), A("second reply")],
    [A("A pretraining-style row with no user turn.")],
    [U("Unanswered question?")],
    [U("a"), A("b"), U("trailing user")],
    [U("Starts with newlines"), A("\n\nHello after two newlines")],
    [U("Starts with space"), A(" leading space")],
    [U("   spaces around   "), A("  both sides  ")],
    [U("ends in stop word"), A("done<|im_end|>")],
    [U("ends in endoftext"), A("done<|endoftext|>")],
    [U("code"), A("```python\ndef f(x):\n    return x * 2\n```\n")],
    [U("Tabs\tand\ttabs"), A("Line1\r\nLine2\rLine3")],
    [U("Emoji 😀🎉 and accents café naïve"), A("Ünïcödé ✓")],
    [U("Mixed 中文 and English 混合"), A("好的 OK 没问题 no problem")],
    [U(""), A("empty user")],
    [U("empty reply"), A("")],
    [U("special tokens in text <|im_start|>user"), A("and <|im_end|> in the middle.")],
    [U("Numbers 1234567890 3.14159"), A("2048 tokens, 16 GPUs, 1e-4")],
    [U("Long " + "word " * 300), A("ok " * 200)],
    [U("长文本" * 200), A("回答" * 150)],
    [S("Multi\nline\nsystem"), U("q1"), A("a1"), U("q2"), A("a2")],
    [U("<think>\nhm\n</think>\n\nquestion"), A("<think>\nI should answer.\n</think>\n\nAnswer.")],
    [U("Empty think"), A("<think>\n\n</think>\n\nDirect answer.")],
    [U("weather?"), {"role": "tool_call", "content": '{"name": "w", "arguments": {"city": "P"}}'},
     {"role": "tool_response", "content": '{"temp": 21}'}, A("It is 21 degrees.")],
    [U("two calls"), {"role": "tool_call", "content": '{"name": "a", "arguments": {}}'},
     {"role": "tool_call", "content": '{"name": "b", "arguments": {"x": 1}}'},
     {"role": "tool_response", "content": "ra"}, {"role": "tool_response", "content": "rb"},
     A("Both done.")],
    [U("q"), {"role": "assistant", "content": "not trained", "loss": False}, U("q2"), A("yes")],
    [U("late system"), S("oops"), A("x")],
]  # fmt: skip
SWIFT_TEMPLATES = ["qwen2_5", "qwen", "qwen3", "qwen3_nothinking", "qwq", "chatml"]


@pytest.mark.slow
@pytest.mark.parametrize("template", SWIFT_TEMPLATES)
@pytest.mark.parametrize("system", [None, "Custom system prompt.", "系统提示"])
def test_lengths_equal_swifts_encode(tiny_model, template, system):
    from swift import get_processor, get_template

    rows = [*ROWS, *ds.read_messages(REPO_ROOT / "datasets" / "self_cognition.json")]
    loss_scale = "default+ignore_empty_think" if template == "qwen3" else "default"  # as swift sets
    processor = get_processor(str(tiny_model))
    swift_template = get_template(
        processor, default_system=system, template_type=template, loss_scale=loss_scale
    )
    swift_template.set_mode("train")
    expected = []
    for row in rows:
        try:
            expected.append(swift_template.encode({"messages": row}, return_length=True)["length"])
        except Exception:  # swift drops the row while encoding
            expected.append(0)
    assert tokens.token_lengths(rows, tiny_model, system=system, template=template) == expected


@pytest.mark.slow
def test_template_comes_from_args_json(tiny_model):
    assert tokens.detect_template(tiny_model) == "qwen2_5"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("template", "strategy"),
    [("qwen2_5", "default"), ("qwen3", "last_round"), ("qwen3", "all")],
)
def test_lengths_and_labels_follow_the_loss_scale_strategy(tiny_model, template, strategy):
    """--loss_scale last_round / all change which pieces carry a loss (and so how swift joins
    them before tokenizing) and, on thinking templates, what history keeps."""
    from swift import get_processor, get_template

    loss_scale = f"{strategy}+ignore_empty_think" if template == "qwen3" else strategy
    processor = get_processor(str(tiny_model))
    swift_template = get_template(processor, template_type=template, loss_scale=loss_scale)
    swift_template.set_mode("train")
    history_think = [U("q1"), A("<think>\nfirst\n</think>\n\n  a1 "), U("q2"), A("a2")]
    rows = [*ROWS, history_think]
    expected = []
    for row in rows:
        try:
            encoded = swift_template.encode({"messages": row}, return_length=True)
        except Exception:  # swift drops the row while encoding
            expected.append((0, 0))
            continue
        labels = sum(label != -100 for label in encoded["labels"])
        expected.append((encoded["length"], labels))
    encoder = tokens.RowEncoder.load(tiny_model, template=template, loss_scale=loss_scale)
    assert encoder.count([encoder.contexts(row) for row in rows]) == expected
