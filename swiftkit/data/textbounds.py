"""Token bounds of one text, for a byte-level BPE whose description proves them
(swiftkit.data.boundrules): at most its bytes, at least its words, and, for each run without
whitespace between two spaces, exactly the tokens of " " + run: with the known pre-tokenizers
such a run is always a piece sequence of its own, whatever comes before and after it (no piece
crosses the spaces around it; NFC neither composes nor reorders across a space; the added tokens
hold no space and none eats the space after it). The tokenizer counts each distinct run once,
when a text first holds it (`count`: a text's new runs in one call); a memo keeps them, so a
text's bounds never depend on the texts measured before it. Values are packed as
(upper << 32) | lower, so a text's bounds are one sum.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from swiftkit.data.boundrules import BoundRules

# Python's str.split() splits on these, the tokenizers' regex \s does not.
_PY_ONLY_SPACES = ("\x1c", "\x1d", "\x1e", "\x1f")
# The ASCII characters either splits on, but " ".
_ASCII_SPACES = ("\t", "\n", "\x0b", "\x0c", "\r", *_PY_ONLY_SPACES)
_LOW = (1 << 32) - 1
_SLICE = 2048  # characters of a long text measured at a time when a row may stop early
MIN_SLICE = 256  # and the fewest: a text of at most this many is read whole


class TextBounds:
    """Packed (upper << 32) | lower token bounds of texts; see the module docstring."""

    MEMO_RUNS = 500_000  # distinct runs remembered (about 60 MB at most)

    def __init__(self, rules: BoundRules, count: Callable[[list[str]], list[int]] | None):
        self.rules, self.count = rules, count
        self.memo: dict[str, int] | None = {} if rules.space_pieces and count else None
        self._memo_get = self.memo.__getitem__ if self.memo is not None else None

    def nbytes(self, text: str) -> int:
        """UTF-8 bytes of text as the tokenizer sees it (after NFC when it normalizes)."""
        if text.isascii():
            return len(text)
        if self.rules.nfc and not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        return len(text.encode("utf-8", "surrogatepass"))

    def slices(self, text: str, room: int, words: int | None = None) -> tuple[int, bool]:
        """A long text slice by slice (cut at spaces): (packed bounds so far, whole?), stopping
        once the lower bound passes `room`. The lower bound of a text stopped early is its read
        slices' plus the words of the rest: bounds of pieces cut at a space add up (no piece
        crosses a space), and a piece's words bound its tokens, so it holds; with the words of
        the rest counted from the start (`words`: the text's, when the caller has them), a text
        whose words alone pass `room` is never split. A slice is about as long as the tokens
        still missing (its exact runs beat its words by less than one token a character)."""
        total, start, n = 0, 0, len(text)
        rest = self.plain(text) & _LOW if words is None else words  # words still unread
        while True:
            missing = room - (total & _LOW) - rest
            if missing < 0:
                return total + rest, False
            size = min(max(2 * missing, MIN_SLICE), _SLICE)
            end = text.find(" ", start + size) if start + size < n else -1
            piece = text[start:] if end < 0 else text[start:end]
            total += self.text(piece)
            if end < 0:
                return total, True
            rest = max(rest - (self.plain(piece) & _LOW), 0)
            total += 1 << 32  # the space between two slices
            start = end + 1

    def text(self, text: str) -> int:
        """(upper << 32) | lower tokens of one message text."""
        parts = text.split(" ")
        if len(parts) < 3 or self.memo is None:
            return self.plain(text)
        middle = parts[1:-1]
        try:
            inner = sum(map(self._memo_get, middle))
        except KeyError:
            inner = self.learn(middle)
        return inner + self.plain(parts[0]) + self.plain(parts[-1]) + (1 << 32)

    def plain(self, text: str) -> int:
        """Bytes and words only. Words are whitespace-separated runs: str.split() splits on
        the tokenizers' regex `\\s` (Unicode White_Space) and on \\x1c-\\x1f, which are
        subtracted. In a text with no whitespace but " " (every other whitespace character is
        a control character or a separator, which str.isprintable() rejects) and no double
        space, the words are the spaces + 1, less a space at either end: counted in C."""
        if text.isascii():  # isprintable() runs at ~200 MB/s, `in` at GB/s: long texts use `in`
            simple = text.isprintable() if len(text) < 256 else _no_ascii_space(text)
        else:
            simple = text.isprintable()  # no separator or control character: no whitespace
        if simple:  # the common case: " " is its only whitespace (no tab, newline)
            nbytes = len(text) if text.isascii() else self.nbytes(text)
            if not self.rules.words_bound or not text:
                return nbytes << 32
            if "  " in text:
                return (nbytes << 32) | len(text.split())
            # Words between single spaces, counted in C: one more than the spaces, less a
            # space at either end.
            words = text.count(" ") + 1 - (text[0] == " ") - (text[-1] == " ")
            return (nbytes << 32) | words
        words = 0
        if self.rules.words_bound:
            words = len(text.split())
            if words:
                words = max(words - sum(text.count(c) for c in _PY_ONLY_SPACES), 0)
        return (self.nbytes(text) << 32) | words

    def learn(self, runs: list[str]) -> int:
        """Bounds of runs not seen before: a run without whitespace counts exactly (the tokenizer
        counts " " + run, the new runs of a text in one call), another by bytes and words (with
        the space before it). Remembered while the memo has room. A run's value depends on the
        run alone, never on what was measured before (swiftkit.data.splitscan)."""
        memo, extra = self.memo, {}
        new = list(set(runs).difference(memo))
        exact = [r for r in new if r and r.split() == [r] and _encodable(r)]
        counted = (
            dict(zip(exact, self.count([" " + r for r in exact]), strict=True)) if exact else {}
        )
        for run in new:
            n = counted.get(run)
            value = self.plain(run) + (1 << 32) if n is None else (n << 32) | n
            if len(memo) < self.MEMO_RUNS:
                memo[run] = value
            else:
                extra[run] = value
        if extra:
            return sum(memo[r] if r in memo else extra[r] for r in runs)
        return sum(map(self._memo_get, runs))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the tokenizer would refuse the string
        return False
    return True


def _no_ascii_space(text: str) -> bool:
    """Whether an ASCII text has no whitespace but " " (each `in` is a memchr)."""
    return all(c not in text for c in _ASCII_SPACES)
