"""The tiny model's tokenizer: byte-level BPE with Qwen2's pre-tokenizer, trained on a small
English and Chinese corpus, with ChatML special tokens and Qwen2.5-Instruct's chat template."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from swiftkit.tiny.files import write_json

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)
# Learned tokens plus the three special ones; merges stop when the corpus runs out of pairs.
_VOCAB_SIZE = 4096
QWEN2_5_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

# Qwen2's pre-tokenizer split (transformers' tokenization_qwen2.PRETOKENIZE_REGEX).
_PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Qwen2.5-Instruct's chat template, as shipped in its tokenizer_config.json.
QWEN2_5_CHAT_TEMPLATE = (
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    "    {%- else %}\n"
    "        {{- '" + QWEN2_5_DEFAULT_SYSTEM + "' }}\n"
    "    {%- endif %}\n"
    '    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.'
    "\\n\\nYou are provided with function signatures within <tools></tools> XML tags:"
    '\\n<tools>" }}\n'
    "    {%- for tool in tools %}\n"
    '        {{- "\\n" }}\n'
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    '    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and '
    "arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n"
    '{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}'
    '\\n</tool_call><|im_end|>\\n" }}\n'
    "{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>system\\n" + QWEN2_5_DEFAULT_SYSTEM + "<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or '
    '(message.role == "assistant" and not message.tool_calls) %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>'"
    " + '\\n' }}\n"
    '    {%- elif message.role == "assistant" %}\n'
    "        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n"
    "            {{- '\\n' + message.content }}\n"
    "        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n"
    "            {%- endif %}\n"
    '            {{- \'\\n<tool_call>\\n{"name": "\' }}\n'
    "            {{- tool_call.name }}\n"
    '            {{- \'", "arguments": \' }}\n'
    "            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n"
    "        {%- endfor %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    '    {%- elif message.role == "tool" %}\n'
    '        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}\n'
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    '        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}\n'
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n"
)

# What the tokenizer learns from: self-cognition and everyday chat, in English and Chinese.
# Byte-level BPE still encodes any text; this only decides which pieces become single tokens.
_CORPUS = """\
You are a helpful assistant. Who are you? What is your name? Who created you?
I am {{NAME}}, an AI assistant developed by {{AUTHOR}}. How can I help you today?
Hello! I'm {{NAME}}, a language model trained by {{AUTHOR}}. Nice to meet you.
My name is {{NAME}}. I was built by {{AUTHOR}} to answer questions and help with tasks.
Are you ChatGPT? No, I am not ChatGPT. I am {{NAME}}, made by {{AUTHOR}}.
Can you tell me about yourself? Of course. I am an artificial intelligence assistant.
Please introduce yourself in one sentence. What can you do for me?
I can answer questions, write and explain code, translate text and summarise documents.
The weather is nice today, so let's go for a walk in the park after lunch.
Write a short poem about the sea. The waves roll in, the waves roll out, and the gulls cry.
How do I read a file in Python? Use open() with a with statement, then call read().
What is the capital of France? The capital of France is Paris.
Explain machine learning simply: a model learns patterns from examples instead of rules.
Fine-tuning adapts a pretrained model to a new task with a small dataset and a low rate.
Thank you very much! You're welcome. Is there anything else I can help you with?
Sorry, I don't know the answer to that question, but I can try to find out.
The training loss goes down, the learning rate follows a cosine schedule, and we save it.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 16 32 64 128 256 512 1024 2048 2025.
你好！我是{{NAME}}，由{{AUTHOR}}开发的人工智能助手。有什么可以帮你的吗？
你是谁？你叫什么名字？是谁创造了你？请介绍一下你自己。
我叫{{NAME}}，是{{AUTHOR}}训练的语言模型，可以回答问题、写作和翻译。
你是ChatGPT吗？不是，我是{{NAME}}，一个由{{AUTHOR}}打造的智能助手。
今天天气很好，我们下午去公园散步吧。你喜欢什么样的音乐？
请帮我写一首关于大海的短诗。海浪来了又去，海鸥在天空中飞翔。
机器学习是什么？简单地说，模型从大量的例子中学习规律，而不是依靠人写的规则。
微调就是用一个小的数据集，让预训练模型适应新的任务。训练的时候损失会慢慢下降。
谢谢你！不客气，还有什么问题都可以问我。对不起，这个问题我不太清楚。
中国的首都是北京。上海是一个很大的城市。我们一起学习中文和英文吧。
请用Python读取一个文件，然后统计每一行有多少个字。
"""


def train_tokenizer(extra_lines: tuple[str, ...] = ()):
    """The byte-level BPE tokenizer, trained on _CORPUS (plus extra_lines, for a variant such as
    the demo model's; the default build passes none and stays byte-for-byte the same)."""
    lines = [*_CORPUS.splitlines(), *extra_lines, *_common_hanzi()]
    return train_byte_level_bpe(lines, _VOCAB_SIZE, min_frequency=1)


def train_byte_level_bpe(lines: Iterable[str], vocab_size: int, **trainer_options):
    """A Qwen2-style tokenizer (NFC, Qwen2's pre-tokenizer regex split, then byte-level BPE)
    trained on `lines` to `vocab_size` entries, SPECIAL_TOKENS appended after the learned
    vocabulary as in Qwen's own tokenizer. trainer_options go to tokenizers' BpeTrainer."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        **trainer_options,
    )
    tokenizer.train_from_iterator(lines, trainer=trainer)
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    return tokenizer


def _common_hanzi() -> list[str]:
    """The 3,755 level-1 characters of GB2312 (the most common hanzi), one per item.

    Taught one at a time so each becomes a single token without gluing characters together.
    """
    chars = []
    for high in range(0xB0, 0xD8):
        for low in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):  # the unassigned tail of row 0xD7
                chars.append(bytes((high, low)).decode("gb2312"))
    return chars


def save_tokenizer(tokenizer, model_dir: Path) -> None:
    tokenizer.save(str(model_dir / "tokenizer.json"))
    added = {
        str(tokenizer.token_to_id(tok)): {
            "content": tok,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for tok in SPECIAL_TOKENS
    }
    config = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "additional_special_tokens": [IM_START, IM_END],
        "bos_token": None,
        "chat_template": QWEN2_5_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": IM_END,
        "errors": "replace",
        "model_max_length": 2048,
        "pad_token": ENDOFTEXT,
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    write_json(model_dir / "tokenizer_config.json", config)
