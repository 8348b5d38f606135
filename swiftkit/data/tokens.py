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
from collections.abc import Sequence
from pathlib import Path

from swiftkit.data.hubcache import TOKENIZER_FILE
from swiftkit.data.hubcache import find_local_tokenizer as find_local_tokenizer  # re-exported
from swiftkit.data.templates import (
    TEMPLATES,
    detect_template,
    swift_chunks,
    token_text,
    tokenizer_config,
)
from swiftkit.errors import DatasetError


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
    config = tokenizer_config(tokenizer_dir)
    eos = token_text(config.get("eos_token"))
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
            chunked.append(swift_chunks(messages, meta, system, eos, has_sep))
        else:
            chunked.append(jinja_chunks(messages, config, system))
    flat = [c for chunks in chunked if chunks for c in chunks]
    counts = iter(len(e.ids) for e in tokenizer.encode_batch(flat, add_special_tokens=False))
    return [sum(next(counts) for _ in chunks) + extra if chunks else 0 for chunks in chunked]


def label_token_counts(rows: Sequence[list[dict]], tokenizer_dir: Path | None) -> list[int]:
    """Tokens each row trains on: its assistant messages plus one end-of-turn token each
    (--loss_scale default labels every assistant turn and the template's suffix, base.py
    Template._swift_encode). Without a tokenizer, the messages' UTF-8 bytes bound the tokens.
    ms-swift computes logits only for these (SwiftMixin.prepare_logits_to_keep)."""
    texts = [[str(m.get("content") or "") for m in row if m.get("role") == "assistant"]
             for row in rows]  # fmt: skip
    if tokenizer_dir is None:
        return [sum(len(t.encode("utf-8")) + 1 for t in row) for row in texts]
    tokenizer = _load_tokenizer(Path(tokenizer_dir))
    flat = [t for row in texts for t in row]
    counts = iter(len(e.ids) for e in tokenizer.encode_batch(flat, add_special_tokens=False))
    return [sum(next(counts) + 1 for _ in row) for row in texts]


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
    decoder = tokenizer_config(tokenizer_dir).get("added_tokens_decoder") or {}
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


def jinja_chunks(messages: list[dict], config: dict, system_flag: str | None) -> list[str] | None:
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
    tokens = {k: token_text(config.get(k)) for k in ("bos_token", "eos_token", "pad_token")}
    try:
        text = env.from_string(chat_template).render(
            messages=msgs, add_generation_prompt=msgs[-1]["role"] != "assistant", **tokens
        )
    except jinja2.exceptions.TemplateError:
        return None
    return [text]
