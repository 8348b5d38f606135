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
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from swiftkit.data.bounds import RowBounds, bound_rules
from swiftkit.data.hubcache import TOKENIZER_FILE
from swiftkit.data.hubcache import find_local_tokenizer as find_local_tokenizer  # re-exported
from swiftkit.data.lengthcache import files_digest
from swiftkit.data.lengthcontext import LengthContext
from swiftkit.data.templates import (
    _SUFFIX,
    TEMPLATES,
    detect_template,
    swift_contexts,
    token_text,
    tokenizer_config,
)
from swiftkit.errors import DatasetError

_FEW = 64  # strings count_texts encodes one by one


def token_lengths(
    rows: Sequence[list[dict]],
    tokenizer_dir: Path,
    *,
    system: str | None = None,
    template: str | None = None,
    loss_scale: str = "default",
) -> list[int]:
    """The length swift's template gives each row ([{role, content}] as rows_to_messages makes).

    system is --system as swift uses it (a .txt file's text, `\\n` unescaped): it replaces the
    template's default system prompt; a row's own system message wins over both, and an empty
    one means no system block at all. template defaults to `detect_template`. A row swift's
    template rejects (a system message after the first turn, content that is not text) gets 0:
    swift drops it while encoding.
    """
    encoder = RowEncoder.load(
        tokenizer_dir, system=system, template=template, loss_scale=loss_scale
    )
    return [total for total, _label in encoder.count([encoder.contexts(m) for m in rows])]


class RowEncoder:
    """swift's template and the model's tokenizer for one plan: rows -> (tokens, label tokens).

    `contexts(messages)` gives the (string, loss weight) pieces swift tokenizes one by one
    (templates.swift_contexts for swift's chatml family, the rendered Jinja template otherwise);
    `count(pieces)` batch-encodes them with the Rust tokenizer (encode_batch, add_special_tokens
    False as swift encodes pieces) and adds the BOS/EOS the tokenizer adds to a whole row
    (base.py:1425-1432). Label tokens are the ones with a loss weight (what logits_to_keep keeps
    at batch size 1, trainers/mixin.py prepare_logits_to_keep); None for Jinja templates.
    """

    def __init__(self, tokenizer, config, meta, system, loss_scale, extra, has_sep) -> None:
        self.tokenizer, self.config, self.meta = tokenizer, config, meta
        self.system, self.loss_scale = system, loss_scale
        self.extra, self.has_sep = extra, has_sep
        self.eos = token_text(config.get("eos_token"))
        self._suffix_ids: list[int] | None = None

    @classmethod
    def load(
        cls,
        tokenizer_dir: Path,
        *,
        system: str | None = None,
        template: str | None = None,
        loss_scale: str = "default",
    ) -> RowEncoder:
        tokenizer_dir = Path(tokenizer_dir)
        tokenizer = _load_tokenizer(tokenizer_dir)
        meta = TEMPLATES.get(template or detect_template(tokenizer_dir) or "")
        extra, has_sep = 0, False
        if meta is not None and meta.auto_add_bos:  # BOS/EOS the tokenizer adds (base.py:1425-32)
            with_special = tokenizer.encode("a", add_special_tokens=True).ids
            single = tokenizer.encode("a", add_special_tokens=False).ids
            extra = len(with_special) - 1
            has_sep = with_special.index(single[0]) + 1 < len(with_special)
        config = tokenizer_config(tokenizer_dir)
        return cls(tokenizer, config, meta, system, loss_scale or "default", extra, has_sep)

    def contexts(self, messages: list[dict]) -> list[tuple[str, float]] | None:
        if self.meta is not None:
            return swift_contexts(
                messages, self.meta, self.system, self.eos, self.has_sep, self.loss_scale
            )
        chunks = jinja_chunks(messages, self.config, self.system)
        return None if chunks is None else [(c, -1.0) for c in chunks]

    def count(self, rows: Sequence[list[tuple[str, float]] | None]) -> list[tuple[int, int | None]]:
        """(tokens, label tokens) per row; (0, 0) for a row swift's template rejects.

        Labels also cover the template suffix that opens a masked stretch after a reply, as
        swift's Template._add_dynamic_eos (base.py:1241-1255) labels it, and never the first
        token (Template.encode, base.py:1649-1650)."""
        flat = [text for pieces in rows if pieces for text, _w in pieces]
        encodings = iter(self.tokenizer.encode_batch(flat, add_special_tokens=False))
        out: list[tuple[int, int | None]] = []
        for pieces in rows:
            if not pieces:
                out.append((0, 0))
                continue
            total = label = 0
            found = [next(encodings) for _ in pieces]
            for i, ((_text, weight), encoding) in enumerate(zip(pieces, found, strict=True)):
                n = len(encoding)
                total += n
                if weight > 0:
                    label += n
                elif i and pieces[i - 1][1] > 0 and (i + 1 == len(pieces) or pieces[i + 1][1] > 0):
                    label += self._dynamic_eos(encoding)
            if pieces[0][1] > 0 and len(found[0]) and self.extra <= self.has_sep:
                label -= 1  # swift never trains on the first token (base.py:1650)
            out.append((total + self.extra, label if pieces[0][1] >= 0 else None))
        return out

    def count_texts(self, texts: list[str]) -> list[int]:
        """Tokens of each string encoded on its own (no special tokens added). A few strings
        are encoded one by one: waking the Rust thread pool costs more than they do."""
        if len(texts) <= _FEW:
            encode = self.tokenizer.encode
            return [len(encode(text, add_special_tokens=False)) for text in texts]
        return [len(e) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def _dynamic_eos(self, encoding) -> int:
        if self.meta is None:
            return 0
        if self._suffix_ids is None:
            suffix = self.tokenizer.encode(_SUFFIX, add_special_tokens=False).ids
            self._suffix_ids = suffix
        k = len(self._suffix_ids)
        return k if len(encoding) >= k and encoding.ids[:k] == self._suffix_ids else 0


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


def length_context(
    model: str | None,
    base_dir: Path,
    *,
    template: str | None = None,
    system: str | None = None,
    loss_scale: str | None = None,
    max_length: int | None = None,
    progress=None,
) -> tuple[LengthContext, dict]:
    """How a plan measures rows, and the cache key parts that go with it.

    With a local tokenizer (find_local_tokenizer) rows are measured exactly as swift encodes
    them, tokenizing only the rows the bounds cannot settle; without one every length is an upper
    bound from UTF-8 bytes (swiftkit.data.bounds.upper_without_tokenizer).
    """
    tok_dir = find_local_tokenizer(model, base_dir) if model else None
    loss_scale = loss_scale or "default"
    if tok_dir is None:
        ctx = LengthContext(None, system, max_length, progress=progress)
        return ctx, {"tokenizer": None, "system": _digest(system)}

    def load() -> tuple[RowEncoder, RowBounds]:
        encoder = RowEncoder.load(tok_dir, system=system, template=template, loss_scale=loss_scale)
        rules = bound_rules(encoder.tokenizer, encoder.extra)
        return encoder, RowBounds(rules, encoder.meta, system, loss_scale, encoder.count_texts)

    names = (TOKENIZER_FILE, "tokenizer_config.json", "args.json")
    key = {
        "tokenizer": files_digest([tok_dir / name for name in names]),
        "template": template or detect_template(tok_dir),
        "system": _digest(system),  # a prompt's text is not written to the cache
        "loss_scale": loss_scale,
        "max_length": max_length,
    }
    return LengthContext(load, system, max_length, progress=progress), key


def _digest(text: str | None) -> str | None:
    return None if text is None else hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
