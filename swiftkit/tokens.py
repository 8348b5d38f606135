"""Token lengths of dataset rows as ms-swift 4.6 encodes them for training, from a local tokenizer.

swift does not render the model's Jinja chat template: for Qwen-style models it fills its own
template (swift/template/base.py Template._swift_encode, :1403-1518) and tokenizes each piece
separately, and that length (`encoded['length']`, base.py:1549-1557) is what --max_length
is compared with (truncation_strategy delete drops longer rows). This module re-implements that
for swift's chatml family (qwen, qwen2_5, qwen3, ...) with the `tokenizers` library, so nothing
imports transformers or torch; `tokenizers` and `jinja2` are imported inside functions.

Other templates fall back to the model's Jinja chat template, as swift's `--template_backend
jinja` encodes: an approximation of swift's own template (the default system prompt and the
BOS/EOS handling can differ by a few tokens). Assumes --loss_scale default.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from swiftkit.errors import DatasetError
from swiftkit.hubcache import TOKENIZER_FILE
from swiftkit.hubcache import find_local_tokenizer as find_local_tokenizer  # re-exported

# ChatmlTemplateMeta (swift/template/templates/utils.py:13-19).
_PROMPT = "<|im_start|>user\n{{QUERY}}<|im_end|>\n<|im_start|>assistant\n"
_CHAT_SEP = "<|im_end|>\n"
_SUFFIX = "<|im_end|>\n"
_SYSTEM_PREFIX = "<|im_start|>system\n{{SYSTEM}}<|im_end|>\n"
_EMPTY_THINK = re.compile(r"^<think>\s*</think>\s*|^</think>\s*")  # ignore_empty_think.json


@dataclass(frozen=True)
class ChatmlTemplate:
    """A chatml-family swift TemplateMeta (swift/template/templates/qwen.py:33-99)."""

    name: str
    default_system: str | None
    auto_add_bos: bool = False
    stop_words: tuple[str, ...] = ("<|endoftext|>",)
    non_thinking_prefix: str = ""  # qwen3: added to every reply, its loss masked
    thinking_prefix: str = ""  # ends the prompt of a row whose last turn has no reply
    hermes: bool = True  # tool calls in Hermes form (swift/agent_template/hermes.py)


TEMPLATES = {
    t.name: t
    for t in (
        ChatmlTemplate("chatml", None, auto_add_bos=True, stop_words=(), hermes=False),
        ChatmlTemplate("qwen", "You are a helpful assistant."),
        ChatmlTemplate(
            "qwen2_5", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
        ),
        ChatmlTemplate(
            "qwen2_5_math",
            "Please reason step by step, and put your final answer within \\boxed{}.",
        ),
        ChatmlTemplate(
            "qwq_preview",
            "You are a helpful and harmless assistant. You are Qwen developed by Alibaba. "
            "You should think step-by-step.",
        ),
        ChatmlTemplate("qwq", None, thinking_prefix="<think>\n"),
        ChatmlTemplate("qwen3", None, non_thinking_prefix="<think>\n\n</think>\n\n"),
        ChatmlTemplate("qwen3_thinking", None, thinking_prefix="<think>\n"),
        ChatmlTemplate("qwen3_nothinking", None),
    )
}


def detect_template(tokenizer_dir: Path) -> str | None:
    """swift's template for a model folder when it can be told from files: args.json (as swift
    reads it, swift/template/register.py:23-36), else the Qwen chat template's default system.
    None means unknown: pass `template=` (the recipe's --template) to be exact."""
    try:
        args = json.loads((Path(tokenizer_dir) / "args.json").read_text(encoding="utf-8"))
        if isinstance(args, dict) and args.get("template"):
            return str(args["template"])
    except (OSError, ValueError):
        pass
    chat_template = _tokenizer_config(Path(tokenizer_dir)).get("chat_template")
    if not isinstance(chat_template, str) or "<|im_start|>" not in chat_template:
        return None
    for name in ("qwen2_5", "qwen2_5_math", "qwen"):
        if TEMPLATES[name].default_system in chat_template:
            return name
    return "qwen3" if "enable_thinking" in chat_template else None


# ---------------------------------------------------------------- lengths


def token_lengths(
    rows: Sequence[list[dict]],
    tokenizer_dir: Path,
    *,
    system: str | None = None,
    template: str | None = None,
) -> list[int]:
    """The length swift's template gives each row ([{role, content}] as rows_to_messages makes).

    system is --system as swift uses it (a .txt file's text, `\\n` unescaped): it replaces the
    template's default system prompt; a row's own system message wins over both, and an empty
    one means no system block at all. template defaults to `detect_template`. A row swift's
    template rejects (a system message after the first turn, content that is not text) gets 0:
    swift drops it while encoding.
    """
    tokenizer_dir = Path(tokenizer_dir)
    tokenizer = _load_tokenizer(tokenizer_dir)
    config = _tokenizer_config(tokenizer_dir)
    eos = _token_text(config.get("eos_token"))
    name = template or detect_template(tokenizer_dir)
    meta = TEMPLATES.get(name or "")
    extra, has_sep = 0, False
    if meta is not None and meta.auto_add_bos:  # BOS and EOS the tokenizer adds (base.py:1425-1432)
        with_special = tokenizer.encode("a", add_special_tokens=True).ids
        single = tokenizer.encode("a", add_special_tokens=False).ids
        extra = len(with_special) - 1
        has_sep = with_special.index(single[0]) + 1 < len(with_special)
    chunked = []
    for messages in rows:
        if meta is not None:
            chunked.append(_swift_chunks(messages, meta, system, eos, has_sep))
        else:
            chunked.append(_jinja_chunks(messages, config, system))
    flat = [c for chunks in chunked if chunks for c in chunks]
    counts = iter(len(e.ids) for e in tokenizer.encode_batch(flat, add_special_tokens=False))
    return [sum(next(counts) for _ in chunks) + extra if chunks else 0 for chunks in chunked]


@functools.lru_cache(maxsize=8)
def _load_tokenizer(tokenizer_dir: Path):
    from tokenizers import AddedToken, Tokenizer

    path = tokenizer_dir / TOKENIZER_FILE
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as e:  # tokenizers raises its own Exception type
        msg = f"{path}: cannot be read as a tokenizer ({e}). Point model at a complete folder."
        raise DatasetError(msg) from e
    # transformers also registers the tokens tokenizer_config.json lists (added_tokens_decoder).
    known = set(tokenizer.get_vocab(with_added_tokens=True))
    decoder = _tokenizer_config(tokenizer_dir).get("added_tokens_decoder") or {}
    missing = [t for t in decoder.values() if isinstance(t, dict) and t.get("content") not in known]
    tokenizer.add_special_tokens(
        [
            AddedToken(
                t["content"],
                single_word=t.get("single_word", False),
                lstrip=t.get("lstrip", False),
                rstrip=t.get("rstrip", False),
                normalized=t.get("normalized", False),
                special=True,
            )
            for t in missing
        ]
    )
    return tokenizer


@functools.lru_cache(maxsize=8)
def _tokenizer_config(tokenizer_dir: Path) -> dict:
    try:
        config = json.loads((tokenizer_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def _token_text(value) -> str | None:
    return value.get("content") if isinstance(value, dict) else value


def _swift_chunks(
    messages: list[dict], t: ChatmlTemplate, system_flag: str | None, eos: str | None, sep: bool
) -> list[str] | None:
    """The strings swift tokenizes one by one for a row, or None when swift's template fails.

    Steps of Template.encode in order: StdTemplateInputs.from_dict (template_inputs.py:110-160),
    _preprocess_tool_call (base.py:348-371), _swift_prepare_inputs (:1352-1401),
    _add_non_thinking_prefix (:1308-1336), _get_system (:1288-1298), _get_std_messages
    (:1258-1262), _swift_encode (:1403-1518), then _simplify_context_list (:967-996), which joins
    neighbouring strings of equal loss weight before tokenizing each.
    """
    msgs = [dict(m) for m in messages]
    system = msgs.pop(0)["content"] if msgs and msgs[0]["role"] == "system" else None
    for m in msgs:
        if m["role"] == "tool_response":
            m["role"] = "tool"
        if m["role"] in ("tool_call", "tool") and not isinstance(m["content"], str):
            m["content"] = json.dumps(m["content"], ensure_ascii=False)
    msgs = _merge_turns(_fold_tool_calls(msgs), t)
    if msgs is None or any(not _is_text(m["content"]) for m in msgs):
        return None
    if system is not None and not isinstance(system, str):
        return None
    if t.non_thinking_prefix:
        for m in msgs:
            if m["role"] != "assistant":
                continue
            parts = m["content"] if isinstance(m["content"], list) else [m["content"]]
            if isinstance(parts[0], str) and not parts[0].startswith(
                ("<think>", t.non_thinking_prefix)
            ):
                parts[0] = t.non_thinking_prefix + parts[0]
            m["content"] = parts if isinstance(m["content"], list) else parts[0]
    if system is None:
        system = system_flag if system_flag is not None else t.default_system
    if msgs and msgs[0]["role"] == "assistant":
        msgs.insert(0, {"role": "user", "content": ""})  # pretraining-style row
    if len(msgs) % 2 == 1:
        msgs.append({"role": "assistant", "content": None})
    contexts: list[tuple[str, float]] = []
    if system:
        contexts.append((_SYSTEM_PREFIX.replace("{{SYSTEM}}", system), 0.0))
    rounds = list(zip(msgs[::2], msgs[1::2], strict=True))
    for i, (query, reply) in enumerate(rounds):
        if query["role"] not in ("user", "tool") or reply["role"] != "assistant":
            return None  # swift asserts the roles alternate (base.py:1448-1449)
        if query["role"] == "tool":
            contexts += [(c, 0.0) for c in query["content"]]
        else:
            contexts.append((_PROMPT.replace("{{QUERY}}", query["content"]), 0.0))
        last = i == len(rounds) - 1
        if not last:
            contexts += _reply_contexts(reply, t)
            if rounds[i + 1][0]["role"] != "tool":
                contexts.append((_CHAT_SEP, 0.0))
        elif reply["content"] is not None:
            contexts += _reply_contexts(reply, t)
            text = reply["content"]
            text = text[-1] if isinstance(text, list) else text
            stops = (*t.stop_words, _SUFFIX.strip(), eos or "")
            if not sep and not any(s and text.endswith(s) for s in stops):
                contexts.append((_SUFFIX, 1.0))
        else:  # no reply: the response prefix (_get_response_prefix, base.py:192-205)
            contexts.append((t.non_thinking_prefix or t.thinking_prefix, 0.0))
    return _join_equal_weights(contexts)


def _is_text(content) -> bool:
    if isinstance(content, list):
        return all(isinstance(c, str) for c in content)
    return content is None or isinstance(content, str)


def _fold_tool_calls(msgs: list[dict]) -> list[dict]:
    """Consecutive tool_call messages become one assistant reply (hermes _format_tool_calls)."""
    out: list[dict] = []
    for m in msgs:
        if m["role"] != "tool_call":
            out.append(m)
            continue
        try:  # BaseAgentTemplate._parse_tool_call (swift/agent_template/base.py:131-139)
            call = json.loads(m["content"])
            arguments = call.get("arguments")
            arguments = call.get("parameters") if arguments is None else arguments
            if isinstance(arguments, str):
                arguments = json.loads(arguments)
            call = {"name": call["name"], "arguments": arguments}
        except (ValueError, TypeError, KeyError, AttributeError):
            call = m["content"]
        text = f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call>"
        if out and out[-1].get("_tool_call"):
            out[-1]["content"] += "\n" + text
        else:
            out.append({"role": "assistant", "content": text, "_tool_call": True})
    return out


def _merge_turns(msgs: list[dict], t: ChatmlTemplate) -> list[dict] | None:
    """_swift_prepare_inputs: tool results after a reply become one hermes tool turn; repeated
    user turns are concatenated, repeated replies kept as a list."""
    out: list[dict] = []
    i = 0
    while i < len(msgs):
        m = msgs[i]
        prev = out[-1] if out else None
        if m["role"] == "tool" and prev is not None and prev["role"] == "assistant":
            if not t.hermes:
                return None
            j = i
            while j + 1 < len(msgs) and msgs[j + 1]["role"] == "tool":
                j += 1
            results = "\n".join(
                f"<tool_response>\n{r['content']}\n</tool_response>" for r in msgs[i : j + 1]
            )
            out.append(
                {"role": "tool", "content": [_CHAT_SEP, _PROMPT.replace("{{QUERY}}", results)]}
            )
            i = j + 1
            continue
        if m["role"] == "tool" or m["role"] == "system":
            return None  # a tool result with no call before it, or a late system message
        if prev is not None and prev["role"] == m["role"] and m["role"] in ("user", "assistant"):
            if m["role"] == "user":
                if not (isinstance(prev["content"], str) and isinstance(m["content"], str)):
                    return None
                prev["content"] += m["content"]
            else:
                listed = prev["content"] if isinstance(prev["content"], list) else [prev["content"]]
                prev["content"] = [*listed, m["content"]]
        else:
            out.append({"role": m["role"], "content": m["content"], "loss": m.get("loss")})
        i += 1
    return out


def _reply_contexts(reply: dict, t: ChatmlTemplate) -> list[tuple[str, float]]:
    """A reply's pieces and loss weights (swift/loss_scale/base.py:66-127); qwen3 masks the
    empty think block (ignore_empty_think, added by template_args.py:171-178)."""
    loss = reply.get("loss")
    weight = 0.0 if loss is not None and not loss else 1.0
    parts = reply["content"] if isinstance(reply["content"], list) else [reply["content"]]
    out = []
    for part in parts:
        match = _EMPTY_THINK.match(part) if t.non_thinking_prefix and weight else None
        if match and match.end():
            out += [(part[: match.end()], 0.0), (part[match.end() :], weight)]
        else:
            out.append((part, weight))
    return out


def _join_equal_weights(contexts: list[tuple[str, float]]) -> list[str]:
    """Empty pieces vanish first (_split_special_tokens), so their neighbours can join."""
    chunks: list[str] = []
    weights: list[float] = []
    for text, weight in contexts:
        if not text:
            continue
        if chunks and weights[-1] == weight:
            chunks[-1] += text
        else:
            chunks.append(text)
            weights.append(weight)
    return chunks


def _jinja_chunks(messages: list[dict], config: dict, system_flag: str | None) -> list[str] | None:
    """Template._jinja_encode (base.py:1264-1286): the chat template rendered, one string."""
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    chat_template = config.get("chat_template")
    if isinstance(chat_template, list):  # named templates: use "default"
        named = {t.get("name"): t.get("template") for t in chat_template if isinstance(t, dict)}
        chat_template = named.get("default")
    if not isinstance(chat_template, str):
        msg = "tokenizer_config.json has no chat_template. Set --template to a known template."
        raise DatasetError(msg)
    msgs: list[dict] = []
    for m in messages:  # _swift_prepare_inputs joins repeated turns for this backend too
        if msgs and msgs[-1]["role"] == m["role"] in ("user", "assistant"):
            msgs[-1] = {**msgs[-1], "content": msgs[-1]["content"] + m["content"]}
        else:
            msgs.append(dict(m))
    if not (msgs and msgs[0]["role"] == "system") and system_flag is not None:
        msgs.insert(0, {"role": "system", "content": system_flag})
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = lambda x, indent=None, **_: json.dumps(
        x, ensure_ascii=False, indent=indent
    )

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    tokens = {k: _token_text(config.get(k)) for k in ("bos_token", "eos_token", "pad_token")}
    try:
        text = env.from_string(chat_template).render(
            messages=msgs, add_generation_prompt=msgs[-1]["role"] != "assistant", **tokens
        )
    except jinja2.exceptions.TemplateError:
        return None
    return [text]
