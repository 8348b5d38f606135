"""What a tokenizer's own description (tokenizer.json) proves about its token counts.

A byte-level BPE (Qwen, Llama 3, GPT-2: tokenizers' ByteLevel pre-tokenizer with a BPE model) maps
every UTF-8 byte to one symbol and only merges symbols, so a piece has at most as many tokens as
bytes after the normalizer (only NFC is allowed: it may lengthen a text, and the bounds apply it).
The pre-tokenizer regexes of those tokenizers never put non-space characters of two
whitespace-separated words into one piece, and every piece gives at least one token while every
byte symbol is in the vocabulary; " " + a space-free run is a piece sequence of its own unless an
added token eats the space after it (rstrip). `bound_rules` turns a bound off when it cannot
prove it (another model, normalizer or pre-tokenizer).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# The pre-tokenizer patterns whose pieces never join two whitespace-separated words:
# Qwen2/2.5/3 (also the tiny model's) and Llama 3; GPT-2's is ByteLevel(use_regex=True).
_WORD_SAFE_PATTERNS = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
)


@dataclass(frozen=True)
class BoundRules:
    """What can be proved about a tokenizer: tokens <= bytes (`bytes_bound`, after NFC when
    `nfc`), tokens >= words (`words_bound`). `extra` tokens are added to every row (BOS/EOS)."""

    bytes_bound: bool
    nfc: bool
    words_bound: bool
    extra: int = 0
    space_pieces: bool = False  # " " + a run without whitespace is always its own pieces


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
    added = list(tokenizer.get_added_tokens_decoder().values())
    words = words and not any(any(ch.isspace() for ch in t.content) for t in added)
    from tokenizers import pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    words = words and all(tokenizer.token_to_id(ch) is not None for ch in alphabet)
    pieces = words and not any(t.rstrip for t in added)  # rstrip eats the next word's space
    return BoundRules(True, "NFC" in kinds, words, extra, space_pieces=pieces)


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


def label_upper_without_tokenizer(messages: list[dict]) -> int:
    """An upper bound on the tokens a row trains on without a tokenizer: its assistant messages'
    UTF-8 bytes (a byte-level BPE makes at most one token per byte) plus the end-of-turn token
    of each (--loss_scale default labels every reply and the template's suffix)."""
    return sum(
        len(str(m.get("content") or "").encode("utf-8")) + 1
        for m in messages
        if m.get("role") == "assistant"
    )
