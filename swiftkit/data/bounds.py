"""Cheap, provable bounds on a row's token count, so that only rows that can matter meet the
tokenizer.

Upper bound: a byte-level BPE (Qwen, Llama 3, GPT-2: tokenizers' ByteLevel pre-tokenizer with a
BPE model) maps every UTF-8 byte to one symbol and only merges symbols, so each piece swift
tokenizes has at most as many tokens as bytes after the tokenizer's normalizer (NFC may lengthen a
string: it is applied when the text is not already NFC). Lower bound: the pre-tokenizer regexes of
those tokenizers never put non-space characters of two whitespace-separated words into one piece,
and each piece gives at least one token, so a text has at least as many tokens as words.

Both need the tokenizer's own description (tokenizer.json): `bound_rules` reads it and turns a
bound off when it cannot be proved (another model type, normalizer or pre-tokenizer). Standard
library only; the tokenizer object comes from swiftkit.data.tokens.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass

from swiftkit.data.templates import _PROMPT, _SUFFIX, _SYSTEM_PREFIX, ChatmlTemplate, swift_contexts

# The pre-tokenizer patterns whose pieces never join two whitespace-separated words:
# Qwen2/2.5/3 (also the tiny model's) and Llama 3; GPT-2's is ByteLevel(use_regex=True).
_WORD_SAFE_PATTERNS = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
)
# Python's str.split() splits on these, the tokenizers' regex \s does not.
_PY_ONLY_SPACES = ("\x1c", "\x1d", "\x1e", "\x1f")
_CHAT_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class BoundRules:
    """What can be proved about a tokenizer: tokens <= bytes (`bytes_bound`, after NFC when
    `nfc`), tokens >= words (`words_bound`). `extra` tokens are added to every row (BOS/EOS)."""

    bytes_bound: bool
    nfc: bool
    words_bound: bool
    extra: int = 0


NO_BOUNDS = BoundRules(bytes_bound=False, nfc=False, words_bound=False)


def bound_rules(tokenizer, extra: int = 0) -> BoundRules:
    """The bounds a loaded `tokenizers.Tokenizer` allows (its model, normalizer, pre-tokenizer
    and added tokens, as tokenizer.json describes them)."""
    if type(tokenizer.model).__name__ != "BPE" or tokenizer.model.dropout:
        return NO_BOUNDS
    normalizer = _state(tokenizer.normalizer)
    kinds = _normalizer_kinds(normalizer)
    if kinds is None or not kinds <= {"NFC"}:
        return NO_BOUNDS
    pre = _state(tokenizer.pre_tokenizer) or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    levels = [s for s in steps if s.get("type") == "ByteLevel"]
    if len(levels) != 1 or levels[0].get("add_prefix_space"):
        return NO_BOUNDS
    others = [s for s in steps if s.get("type") != "ByteLevel"]
    if levels[0].get("use_regex", True):
        words = not others  # GPT-2's own regex
    else:
        patterns = [(s.get("pattern") or {}).get("Regex") for s in others]
        words = len(others) == 1 and others[0].get("type") == "Split"
        words = words and patterns[0] in _WORD_SAFE_PATTERNS
        words = words and others[0].get("behavior") == "Isolated" and not others[0].get("invert")
    added = [t.content for t in tokenizer.get_added_tokens_decoder().values()]
    words = words and not any(any(ch.isspace() for ch in text) for text in added)
    from tokenizers import pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    words = words and all(tokenizer.token_to_id(ch) is not None for ch in alphabet)
    return BoundRules(bytes_bound=True, nfc="NFC" in kinds, words_bound=words, extra=extra)


def _state(component) -> dict | None:
    return None if component is None else json.loads(component.__getstate__())


def _normalizer_kinds(state: dict | None) -> set[str] | None:
    if state is None:
        return set()
    if state.get("type") == "Sequence":
        kinds: set[str] = set()
        for step in state.get("normalizers", []):
            sub = _normalizer_kinds(step)
            if sub is None:
                return None
            kinds |= sub
        return kinds
    return {state.get("type")} if state.get("type") else None


class RowBounds:
    """(upper, label upper) and lower token bounds of a row for one template and system prompt.

    upper(): at least the tokens swift's template gives the row, and at least its labelled
    tokens; lower(): at most its tokens. Both hold for any row; when the rules prove nothing
    the upper bound is UNBOUNDED and the lower bound 0, so every row meets the tokenizer.
    """

    UNBOUNDED = 2**32 - 1

    def __init__(
        self,
        rules: BoundRules,
        meta: ChatmlTemplate | None,
        system: str | None,
        loss_scale: str = "default",
    ) -> None:
        self.rules, self.meta, self.system = rules, meta, system
        self.loss_scale = loss_scale or "default"
        self.usable = rules.bytes_bound and meta is not None
        if meta is not None:
            default = system if system is not None else meta.default_system
            self._sys_over = len(_SYSTEM_PREFIX) - len("{{SYSTEM}}")
            self._default_system = self._sys_over + self.nbytes(default) if default else 0
            self._prompt = len(_PROMPT) - len("{{QUERY}}")
            self._reply = len(meta.non_thinking_prefix) + len(_SUFFIX)
            self._tail = len(meta.non_thinking_prefix or meta.thinking_prefix) + rules.extra
        strategy = self.loss_scale.split("+")[0]
        self._label_all = strategy == "all"
        self._lower_skips_history = bool(meta and meta.is_thinking) and strategy == "last_round"

    def nbytes(self, text: str) -> int:
        """UTF-8 bytes of text as the tokenizer sees it (after NFC when it normalizes)."""
        if text.isascii():
            return len(text)
        if self.rules.nfc and not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        return len(text.encode("utf-8", "surrogatepass"))

    def upper(self, messages: list[dict]) -> tuple[int, int]:
        """(tokens, labelled tokens) upper bounds; the template's text counted as bytes."""
        if not self.usable:
            return self.UNBOUNDED, self.UNBOUNDED
        total, label = self._tail, 0
        rest = messages
        if messages and messages[0]["role"] == "system":
            content = messages[0]["content"]
            if type(content) is not str:
                return self._exact_bytes(messages)
            n = len(content) if content.isascii() else self.nbytes(content)
            total += self._sys_over + n
            rest = messages[1:]
        else:
            total += self._default_system
        prompt, reply = self._prompt, self._reply
        if rest and rest[0]["role"] == "assistant":
            total += prompt  # swift adds an empty query before it
        for m in rest:
            content = m["content"]
            if type(content) is not str:
                return self._exact_bytes(messages)  # lists: the template's own text
            n = len(content) if content.isascii() else self.nbytes(content)
            role = m["role"]
            if role == "user":
                total += n + prompt
            elif role == "assistant":
                total += n + reply
                label += n + reply
            else:
                return self._exact_bytes(messages)  # tools: the template's own text
        return total, (total if self._label_all else label)

    def _exact_bytes(self, messages: list[dict]) -> tuple[int, int]:
        contexts = swift_contexts(messages, self.meta, self.system, None, False, self.loss_scale)
        if contexts is None:
            return 0, 0  # swift's template rejects the row; reported as a row problem
        # eos None: the suffix is added at least as often as with the real EOS.
        total = sum(self.nbytes(text) for text, _w in contexts)
        label = sum(self.nbytes(text) for text, w in contexts if w > 0)
        return total + self.rules.extra, label

    def lower(self, messages: list[dict]) -> int:
        """Words of the system, user and assistant texts, less one per possible join of two
        turns (swift concatenates repeated turns)."""
        if not self.rules.words_bound:
            return 0
        words = 0
        for m in messages:
            content = m.get("content")
            if m.get("role") not in _CHAT_ROLES or not isinstance(content, str):
                continue
            if self._lower_skips_history and m.get("role") == "assistant":
                continue  # last_round on a thinking template cuts history replies
            words += len(content.split()) - sum(content.count(c) for c in _PY_ONLY_SPACES)
        return max(words - max(len(messages) - 1, 0), 0)


# Without a local tokenizer: any byte-level BPE (Qwen, Llama 3) or byte-fallback tokenizer
# makes at most one token per UTF-8 byte, so the bytes of the templated text bound the tokens.
# Per message, room for the role markers; per row, room for a default system prompt and BOS.
_MESSAGE_OVERHEAD_BYTES = 32
_DEFAULT_SYSTEM_BYTES = 256


def upper_without_tokenizer(messages: list[dict], system: str | None) -> int:
    """A generous upper bound on tokens when neither the tokenizer nor the template is known."""
    text = sum(len(str(m.get("content") or "").encode("utf-8")) for m in messages)
    has_system = any(m.get("role") == "system" for m in messages)
    system_bytes = (
        0 if has_system else (len(system.encode("utf-8")) if system else _DEFAULT_SYSTEM_BYTES)
    )
    return text + system_bytes + _MESSAGE_OVERHEAD_BYTES * (len(messages) + 1)
