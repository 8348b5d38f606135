"""swift's chat templates as text: the pieces swift tokenizes one by one for a row.

swift does not render the model's Jinja chat template: for Qwen-style models it fills its own
template (swift/template/base.py Template._swift_encode, :1403-1518) and tokenizes each piece
separately. `swift_chunks` re-implements that for swift's chatml family (qwen, qwen2_5, qwen3,
...). Strings only: no tokenizer here (swiftkit.data.tokens counts; it also renders the model's
Jinja template for the other templates).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

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
    is_thinking: bool = False  # last_round training drops the history's thinking


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
        ChatmlTemplate("qwq", None, thinking_prefix="<think>\n", is_thinking=True),
        ChatmlTemplate(
            "qwen3", None, non_thinking_prefix="<think>\n\n</think>\n\n", is_thinking=True
        ),
        ChatmlTemplate("qwen3_thinking", None, thinking_prefix="<think>\n", is_thinking=True),
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
    chat_template = tokenizer_config(Path(tokenizer_dir)).get("chat_template")
    if not isinstance(chat_template, str) or "<|im_start|>" not in chat_template:
        return None
    for name in ("qwen2_5", "qwen2_5_math", "qwen"):
        if TEMPLATES[name].default_system in chat_template:
            return name
    return "qwen3" if "enable_thinking" in chat_template else None


@functools.lru_cache(maxsize=8)
def tokenizer_config(tokenizer_dir: Path) -> dict:
    try:
        config = json.loads((tokenizer_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def token_text(value) -> str | None:
    return value.get("content") if isinstance(value, dict) else value


def swift_chunks(
    messages: list[dict], t: ChatmlTemplate, system_flag: str | None, eos: str | None, sep: bool
) -> list[str] | None:
    """The strings swift tokenizes one by one for a row (see swift_contexts), or None."""
    contexts = swift_contexts(messages, t, system_flag, eos, sep)
    return None if contexts is None else [text for text, _weight in contexts]


def swift_contexts(
    messages: list[dict],
    t: ChatmlTemplate,
    system_flag: str | None,
    eos: str | None,
    sep: bool,
    loss_scale: str = "default",
) -> list[tuple[str, float]] | None:
    """(string, loss weight) pairs swift tokenizes one by one for a row, or None when swift's
    template fails. A weight > 0 marks labelled tokens (the ones the loss is computed on).

    Steps of Template.encode in order: StdTemplateInputs.from_dict (template_inputs.py:110-160),
    _preprocess_tool_call (base.py:348-371), _swift_prepare_inputs (:1352-1401),
    _add_non_thinking_prefix (:1308-1336), _remove_history_thinking (:1338-1350, only when
    thinking is not preserved: _get_preserve_thinking :173-190), _get_system (:1288-1298),
    _get_std_messages (:1258-1262), _swift_encode (:1403-1518), the loss weights of --loss_scale's
    base strategy default / last_round / all (swift/loss_scale/base.py LossScale.__call__), then
    _simplify_context_list (:967-996), which joins neighbouring strings of equal weight.
    """
    strategy = loss_scale.split("+")[0]
    strategy = strategy if strategy in ("default", "last_round", "all") else "default"
    other = 1.0 if strategy == "all" else 0.0  # system, queries, separators
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
    last_user = max((i for i, m in enumerate(msgs) if m["role"] in ("user", "tool")), default=-1)
    if t.non_thinking_prefix:  # last_round: only the last round gets it
        start = last_user if strategy == "last_round" else -1
        for m in msgs[max(start, 0) :]:
            if m["role"] == "assistant":
                m["content"] = _map_first(
                    m["content"],
                    lambda c: c if c.startswith(("<think>", t.non_thinking_prefix)) else
                    t.non_thinking_prefix + c,
                )  # fmt: skip
    if t.is_thinking and strategy == "last_round":  # thinking not preserved: drop history's
        for m in msgs[: max(last_user, 0)]:
            if m["role"] == "assistant":
                m["content"] = _map_first(m["content"], lambda c: c.split("</think>")[-1].strip())
    if system is None:
        system = system_flag if system_flag is not None else t.default_system
    if msgs and msgs[0]["role"] == "assistant":
        msgs.insert(0, {"role": "user", "content": ""})  # pretraining-style row
    if len(msgs) % 2 == 1:
        msgs.append({"role": "assistant", "content": None})
    contexts: list[tuple[str, float]] = []
    if system:
        contexts.append((_SYSTEM_PREFIX.replace("{{SYSTEM}}", system), other))
    rounds = list(zip(msgs[::2], msgs[1::2], strict=True))
    for i, (query, reply) in enumerate(rounds):
        if query["role"] not in ("user", "tool") or reply["role"] != "assistant":
            return None  # swift asserts the roles alternate (base.py:1448-1449)
        if query["role"] == "tool":
            contexts += [(c, other) for c in query["content"]]
        else:
            contexts.append((_PROMPT.replace("{{QUERY}}", query["content"]), other))
        last = i == len(rounds) - 1
        trained = strategy != "last_round" or last
        if not last:
            contexts += _reply_contexts(reply, t, trained)
            if rounds[i + 1][0]["role"] != "tool":
                contexts.append((_CHAT_SEP, other))
        elif reply["content"] is not None:
            contexts += _reply_contexts(reply, t, trained)
            text = reply["content"]
            text = text[-1] if isinstance(text, list) else text
            stops = (*t.stop_words, _SUFFIX.strip(), eos or "")
            if not sep and not any(s and text.endswith(s) for s in stops):
                contexts.append((_SUFFIX, 1.0))
        else:  # no reply: the response prefix (_get_response_prefix, base.py:192-205)
            contexts += _masked_think(t.non_thinking_prefix or t.thinking_prefix, other, t)
    return _join_equal_weights(contexts)


def _map_first(content, change):
    """swift changes only the first part of a merged (list) reply."""
    if isinstance(content, list):
        return (
            [change(content[0]), *content[1:]]
            if content and isinstance(content[0], str)
            else content
        )
    return change(content) if isinstance(content, str) else content


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


def _reply_contexts(reply: dict, t: ChatmlTemplate, trained: bool) -> list[tuple[str, float]]:
    """A reply's pieces and loss weights (swift/loss_scale/base.py:66-127): an explicit "loss"
    wins, else the strategy's choice (`trained`); qwen3 masks the empty think block
    (ignore_empty_think, added by template_args.py:171-178)."""
    loss = reply.get("loss")
    weight = (1.0 if loss else 0.0) if loss is not None else (1.0 if trained else 0.0)
    parts = reply["content"] if isinstance(reply["content"], list) else [reply["content"]]
    return [piece for part in parts for piece in _masked_think(part, weight, t)]


def _masked_think(text: str, weight: float, t: ChatmlTemplate) -> list[tuple[str, float]]:
    """ignore_empty_think (loss_scale/config/ignore_empty_think.json): an empty think block at
    the start of a weighted piece gets no loss. swift adds it for hybrid thinking templates."""
    match = _EMPTY_THINK.match(text) if t.non_thinking_prefix and weight else None
    if match and match.end():
        return [(text[: match.end()], 0.0), (text[match.end() :], weight)]
    return [(text, weight)]


def _join_equal_weights(contexts: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Empty pieces vanish first (_split_special_tokens), so their neighbours can join."""
    out: list[tuple[str, float]] = []
    for text, weight in contexts:
        if not text:
            continue
        if out and out[-1][1] == weight:
            out[-1] = (out[-1][0] + text, weight)
        else:
            out.append((text, weight))
    return out
