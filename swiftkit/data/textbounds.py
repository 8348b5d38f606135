"""Token bounds of one text, for a byte-level BPE whose description proves them
(swiftkit.data.boundrules): at most its bytes, at least its words, and, for each run without
whitespace between two spaces, exactly the tokens of " " + run: with the known pre-tokenizers
such a run is always a piece sequence of its own, whatever comes before and after it (no piece
crosses the spaces around it; NFC neither composes nor reorders across a space; the added tokens
hold no space and none eats the space after it). The tokenizer counts each distinct run once
(`count`, in batches); a memo keeps them. Values are packed as (upper << 32) | lower, so a
text's bounds are one sum.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from swiftkit.data.boundrules import BoundRules

# Python's str.split() splits on these, the tokenizers' regex \s does not.
_PY_ONLY_SPACES = ("\x1c", "\x1d", "\x1e", "\x1f")
_LOW = (1 << 32) - 1
_SLICE = 2048  # characters of a long text measured at a time when a row may stop early


class TextBounds:
    """Packed (upper << 32) | lower token bounds of texts; see the module docstring."""

    MEMO_RUNS = 500_000  # distinct runs remembered (about 60 MB at most)
    LEARN_RUNS = 2048  # runs counted per tokenizer call

    def __init__(self, rules: BoundRules, count: Callable[[list[str]], list[int]] | None):
        self.rules, self.count = rules, count
        self.memo: dict[str, int] | None = {} if rules.space_pieces and count else None
        self._memo_get = self.memo.__getitem__ if self.memo is not None else None
        self._queue: list[str] = []
        self._calls = 0

    def nbytes(self, text: str) -> int:
        """UTF-8 bytes of text as the tokenizer sees it (after NFC when it normalizes)."""
        if text.isascii():
            return len(text)
        if self.rules.nfc and not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        return len(text.encode("utf-8", "surrogatepass"))

    def slices(self, text: str, room: int) -> tuple[int, bool]:
        """A long text slice by slice (cut at spaces): (packed bounds so far, whole?), stopping
        once its lower bound passes `room`."""
        total, start, n = 0, 0, len(text)
        while True:
            end = text.find(" ", start + _SLICE) if start + _SLICE < n else -1
            total += self.text(text[start:] if end < 0 else text[start:end])
            if end < 0:
                return total, True
            total += 1 << 32  # the space between two slices
            if (total & _LOW) > room:
                return total, False
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
        """Bytes and words only."""
        if text.isascii() and text.isprintable():  # the common case: no tabs or newlines
            words = text.count(" ") + 1 if self.rules.words_bound and text.strip() else 0
            if words > 1:
                words = len(text.split())
            return (len(text) << 32) | words
        words = 0
        if self.rules.words_bound:
            words = len(text.split())
            if words and not text.isprintable():
                words = max(words - sum(text.count(c) for c in _PY_ONLY_SPACES), 0)
        return (self.nbytes(text) << 32) | words

    def learn(self, runs: list[str]) -> int:
        """Bounds of runs not seen before: bytes and words at first (valid, looser); a run
        without whitespace gets its exact count once the tokenizer has counted " " + run, in one
        call per LEARN_RUNS runs or 64 texts. Remembered while the memo has room."""
        memo, extra = self.memo, {}
        for run in set(runs).difference(memo):
            value = self.plain(run) + (1 << 32)  # with the space before it
            if run and run.split() == [run] and _encodable(run):
                self._queue.append(run)
            if len(memo) < self.MEMO_RUNS:
                memo[run] = value
            else:
                extra[run] = value
        if len(self._queue) >= self.LEARN_RUNS:
            queued, self._queue = self._queue, []
            counts = self.count([" " + r for r in queued])
            memo.update(
                (r, (n << 32) | n) for r, n in zip(queued, counts, strict=True) if r in memo
            )
        if extra:
            return sum(memo[r] if r in memo else extra[r] for r in runs)
        return sum(map(self._memo_get, runs))

    def flush(self) -> None:
        """Count the runs waiting for the tokenizer (one call)."""
        if self._queue:
            queued, self._queue = self._queue, []
            counts = self.count([" " + r for r in queued])
            memo = self.memo
            memo.update(
                (r, (n << 32) | n) for r, n in zip(queued, counts, strict=True) if r in memo
            )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the tokenizer would refuse the string
        return False
    return True
