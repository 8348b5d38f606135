"""Cheap, provable bounds on a row's token count, so that only rows that can matter meet the
tokenizer.

What a tokenizer allows is in swiftkit.data.boundrules (tokens <= bytes, tokens >= words, and
" " + a space-free run being its own pieces). RowBounds applies it to a row as swift's template
lays it out: the template's own tokens, each message text's bytes and words, and the exact counts
of its space-separated runs, which the tokenizer gives once per distinct run (a memo). Standard
library only; the tokenizer's counting function is passed in (swiftkit.data.tokens).
"""

from __future__ import annotations

from collections.abc import Callable

from swiftkit.data.boundrules import NO_BOUNDS as NO_BOUNDS  # re-exported
from swiftkit.data.boundrules import BoundRules
from swiftkit.data.boundrules import bound_rules as bound_rules  # re-exported
from swiftkit.data.templates import _PROMPT, _SUFFIX, _SYSTEM_PREFIX, ChatmlTemplate, swift_contexts
from swiftkit.data.textbounds import _LOW, MIN_SLICE, TextBounds

_CHAT_ROLES = ("system", "user", "assistant")
_REPLY_ROLES = ("user", "assistant")


class RowBounds:
    """Lower and upper bounds on the tokens swift's template gives a row, and an upper bound on
    its labelled tokens, for one template, system prompt and --loss_scale. They hold for any row;
    when the rules prove nothing the bounds are 0 and UNBOUNDED, so every row meets the tokenizer.

    Each message text counts by swiftkit.data.textbounds (bytes and words, exact counts of its
    space-separated runs); the template's own text by its special tokens and role words. Cuts
    swift makes between separately tokenized pieces (template text, empty think blocks, joined
    turns) fall on a text's first or last run, which only count as bytes and words.
    """

    UNBOUNDED = 2**32 - 1

    def __init__(
        self,
        rules: BoundRules,
        meta: ChatmlTemplate | None,
        system: str | None,
        loss_scale: str = "default",
        count: Callable[[list[str]], list[int]] | None = None,
    ) -> None:
        self.rules, self.meta, self.system = rules, meta, system
        self.loss_scale = loss_scale or "default"
        self.usable = rules.bytes_bound and meta is not None
        self.count = count
        self.texts = TextBounds(rules, count)
        self.memo = self.texts.memo
        self._text, self._plain, self._slices = self.texts.text, self.texts.plain, self.texts.slices
        if meta is not None:
            default = system if system is not None else meta.default_system
            self._sys_over = len(_SYSTEM_PREFIX) - len("{{SYSTEM}}")
            self._default_system = self._sys_over + self.nbytes(default) if default else 0
            self._prompt = len(_PROMPT) - len("{{QUERY}}")
            self._reply = len(meta.non_thinking_prefix) + len(_SUFFIX)
            self._tail = len(meta.non_thinking_prefix or meta.thinking_prefix) + rules.extra
        strategy = self.loss_scale.split("+")[0]
        self._label_all = strategy == "all"
        self._label_default = strategy == "default"
        self._lower_skips_history = bool(meta and meta.is_thinking) and strategy == "last_round"
        self._cuts_think = bool(meta and meta.non_thinking_prefix)  # ignore_empty_think
        self._consts: tuple[int, ...] | None = None

    def nbytes(self, text: str) -> int:
        return self.texts.nbytes(text)

    def quick(self, messages: list[dict]) -> tuple[int, int]:
        """(tokens, labelled tokens) upper bounds from the texts' bytes alone: a few
        microseconds a row, looser than `measure` (which also counts space-separated runs)."""
        if not self.usable:
            return self.UNBOUNDED, self.UNBOUNDED
        sys_over, prompt, reply, _f1, _f2, _f3, block, _exact = self._template()
        total, label = self._tail, 0
        rest = messages
        if messages and messages[0]["role"] == "system":
            content = messages[0]["content"]
            if type(content) is not str:
                return self._exact_bytes(messages)
            total += sys_over + (len(content) if content.isascii() else self.nbytes(content))
            rest = messages[1:]
        else:
            total += block
        if rest and rest[0]["role"] == "assistant":
            total += prompt  # swift adds an empty query before it
        for m in rest:
            content = m["content"]
            if type(content) is not str:
                return self._exact_bytes(messages)
            n = len(content) if content.isascii() else self.nbytes(content)
            role = m["role"]
            if role == "user":
                total += n + prompt
            elif role == "assistant":
                total += n + reply
                label += n + reply
            else:
                return self._exact_bytes(messages)
        return total, (total if self._label_all else label)

    def measure(self, messages: list[dict], stop_above: int | None = None):
        """(lower, upper, labelled lower, labelled upper) token bounds of one row. With
        stop_above, a row found to have more tokens than that returns (lower, None, 0, None) as
        soon as it is (long texts are read in slices): the caller keeps its quick() bounds.
        Texts not read yet count by their words (counted in C), so a row whose words alone
        pass stop_above is settled without reading any text word by word."""
        if not self.usable:
            return 0, self.UNBOUNDED, 0, self.UNBOUNDED
        words, later = [], 0  # later: words of the texts not read yet (bound their tokens)
        if stop_above is not None:
            words = [self._message_words(m) for m in messages]
            later = sum(words)
            if later - len(messages) > stop_above:
                return later - len(messages), None, 0, None
        sys_over, prompt, reply, sys_floor, turn_floor, sep_floor, block, exact = self._template()
        packed = label = sure = replies = 0  # packed: (upper << 32) | lower of the texts
        over, label_over = self._tail, 0
        floor = 0  # template tokens surely there (special tokens, role words, separators)
        rest = messages
        if messages and messages[0]["role"] == "system":
            content = messages[0]["content"]
            if type(content) is not str:
                return self._exact(messages)
            later -= words[0] if words else 0
            packed += self._text(content)
            over += sys_over
            floor += sys_floor if content else 0
            rest = messages[1:]
        else:
            over += block
            floor += block if exact else 0
        if rest and rest[0]["role"] == "assistant":
            over += prompt  # swift adds an empty query before it
        previous, first = None, len(messages) - len(rest)
        for i, m in enumerate(rest):
            content, role = m["content"], m["role"]
            later -= words[first + i] if words else 0
            if type(content) is not str or role not in _REPLY_ROLES:
                return self._exact(messages)  # tools, lists: the template's own text
            if role == "assistant" and self._lower_skips_history:  # last_round, thinking:
                value = self._plain(content) >> 32 << 32  # the history is cut: its bytes only
            elif (
                role == "assistant"
                and self._cuts_think
                and (content[:1].isspace() or content.startswith(("<think>", "</think>")))
            ):
                value = self._plain(content)  # swift tokenizes an empty think block apart
            elif stop_above is not None and len(content) > MIN_SLICE:
                room = stop_above - floor - (packed & _LOW) - later + len(messages)
                value, done = self._slices(content, room, words[first + i])
                if not done:
                    lower = ((packed + value) & _LOW) + later + floor - len(messages)
                    return lower, None, 0, None
            else:
                value = self._text(content)
            if role == "user":
                packed += value
                over += prompt
                floor += turn_floor if previous != "user" else 0
            else:
                packed += value
                label += value
                sure += (value & _LOW) if "loss" not in m else 0
                replies += 1
                if i + 1 < len(rest) and rest[i + 1]["role"] == "user":
                    floor += sep_floor
            previous = role
        over += reply * replies
        label_over += reply * replies
        lower = max((packed & _LOW) - max(len(messages) - 1, 0), 0) + floor
        upper = (packed >> 32) + over
        # Labelled for sure: replies with no "loss" key under the default strategy.
        label_lower = max(sure - max(replies - 1, 0), 0) if self._label_default else 0
        return lower, upper, label_lower, (upper if self._label_all else (label >> 32) + label_over)

    def _template(self) -> tuple[int, ...]:
        """The template's own tokens, worked out once: upper bounds around a system text, a
        query and a reply (special tokens 1, role words their tokens, a newline that may join
        the text next to it 1 byte; bytes without a tokenizer); the tokens surely there for a
        system block, a turn and a separator; and the system block of --system or the
        template's default, exact when counted (special tokens delimit it)."""
        if self._consts is None:
            count = self.count or (lambda texts: [1] * len(texts))
            system, user, assistant, newline = (max(n, 1) for n in count(
                ["system", "user", "assistant", "\n"]))  # fmt: skip
            default = self.system if self.system is not None else self.meta.default_system
            block, exact = self._default_system, False
            if default and self.count is not None:
                block, exact = self.count([_SYSTEM_PREFIX.replace("{{SYSTEM}}", default)])[0], True
            over = (self._sys_over, self._prompt, self._reply)
            if self.count is not None:
                over = (
                    2 + system + 1 + newline,
                    3 + user + assistant + 2 + newline,
                    len(self.meta.non_thinking_prefix) + 1 + newline,
                )
            # <|im_start|> system <|im_end|>; <|im_start|> user <|im_end|> \n <|im_start|>
            # assistant; <|im_end|> \n between turns
            floors = (2 + system, 3 + user + newline + assistant, 1 + newline)
            self._consts = (*over, *floors, block, exact)
        return self._consts

    def _exact(self, messages: list[dict]) -> tuple[int, int, int, int]:
        upper, label = self._exact_bytes(messages)
        return self._words_lower(messages), upper, 0, label

    def _exact_bytes(self, messages: list[dict]) -> tuple[int, int]:
        contexts = swift_contexts(messages, self.meta, self.system, None, False, self.loss_scale)
        if contexts is None:
            return 0, 0  # swift's template rejects the row; reported as a row problem
        # eos None: the suffix is added at least as often as with the real EOS.
        total = sum(self.nbytes(text) for text, _w in contexts)
        label = sum(self.nbytes(text) for text, w in contexts if w > 0)
        return total + self.rules.extra, label

    def _words_lower(self, messages: list[dict]) -> int:
        """Words of the system, user and assistant texts, less one per possible join of two
        turns (swift concatenates repeated turns)."""
        words = sum(self._message_words(m) for m in messages)
        return max(words - max(len(messages) - 1, 0), 0)

    def _message_words(self, m: dict) -> int:
        content = m.get("content")
        if not self.rules.words_bound or m.get("role") not in _CHAT_ROLES:
            return 0
        if not isinstance(content, str) or (self._lower_skips_history and m["role"] == "assistant"):
            return 0
        return self._plain(content) & _LOW
