"""Words counted in C, and rows settled early ("surely over max_length") from a lower bound.

`plain` counts the words of a text whose only whitespace is " " without splitting it; the count
must equal what str.split() gives (less the separators only Python splits on), for every text.
`measure(row, stop_above=N)` may stop reading a long row once its lower bound passes N: the row
must then really have more than N tokens, whatever N is, in particular N right at the exact
length and one either side. The exact lengths come from swiftkit.data.tokens (checked against
swift's own encoder by the slow tests in test_tokens.py and tests/plan/test_rowplan_vs_swift.py).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swiftkit.data import bounds, tokens
from swiftkit.data.templates import TEMPLATES
from swiftkit.data.textbounds import _PY_ONLY_SPACES, TextBounds
from swiftkit.tiny.tokenizer import save_tokenizer, train_tokenizer

TEXT = "the model learns from data, and the training run goes on. gradient batch 2048 kalomiter"
WORDS = [*TEXT.split(), "pravelson", "你好", "世界", "café", "(model)", "don't"]


@pytest.fixture(scope="module")
def tiny_tok(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-tok")
    save_tokenizer(train_tokenizer(), folder)
    return folder


def split_words(text: str) -> int:
    """The words rule as str.split() gives it (the slow path, the reference)."""
    words = len(text.split())
    return max(words - sum(text.count(c) for c in _PY_ONLY_SPACES), 0) if words else 0


PIECES = st.sampled_from(
    ["a", "Z", " ", "  ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x00", "\x7f",
     "\x85", "\u00a0", "\u3000", "\u2028", "你", "é", "word", "2048", ".", " the"]
)  # fmt: skip


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(PIECES, max_size=30).map("".join), st.integers(0, 300))
def test_words_counted_in_c_equal_the_split_count(text, pad):
    texts = TextBounds(bounds.BoundRules(True, True, True), None)
    for t in (text, "w " * pad + text, text + " w" * pad):  # long texts take the memchr path
        assert texts.plain(t) & 0xFFFFFFFF == split_words(t), repr(t)
        assert texts.plain(t) >> 32 == texts.nbytes(t)


def long_row(rng: random.Random, n_words: int, *, system: bool, turns: int, chinese: bool):
    def text(k: int) -> str:
        words = [rng.choice(WORDS) for _ in range(k)]
        if not chinese:
            words = [w for w in words if w.isascii()] or ["the"]
        out = " ".join(words)
        if rng.random() < 0.2:  # a tab, a newline or a double space somewhere
            cut = rng.randrange(len(out))
            out = out[:cut] + rng.choice(["\t", "\n", "  ", " \n "]) + out[cut:]
        return out

    row = [{"role": "system", "content": text(12)}] if system else []
    for _ in range(turns):
        share = max(n_words // turns, 4)
        row.append({"role": "user", "content": text(max(share // 5, 2))})
        row.append({"role": "assistant", "content": text(share - share // 5)})
    return row


@pytest.mark.parametrize(
    ("template", "system", "loss_scale", "min_stopped"),
    [
        ("qwen2_5", None, "default", 60),
        ("qwen3", "Be brief.", "default", 60),
        # A thinking template under last_round cuts the history's replies: their words do not
        # count in the lower bound, so rows are rarely settled early (and never wrongly).
        ("qwen3", "Be brief.", "last_round", 0),
        ("chatml", "", "all", 60),
    ],
)
def test_a_row_stopped_early_is_really_over(tiny_tok, template, system, loss_scale, min_stopped):
    """Rows of 300-6000 tokens (texts longer than one slice, multi-turn, system prompts,
    Chinese), each measured with stop_above at its exact length - 1, + 0, + 1 and further off:
    a row is called over only when it is, and the lower bound it stops with holds."""
    encoder = tokens.RowEncoder.load(tiny_tok, system=system, template=template,
                                     loss_scale=loss_scale)  # fmt: skip
    rules = bounds.bound_rules(encoder.tokenizer, encoder.extra)
    row_bounds = bounds.RowBounds(rules, TEMPLATES[template], system, loss_scale,
                                  encoder.count_texts)  # fmt: skip
    rng = random.Random(13)
    stopped = 0
    for i in range(60):
        row = long_row(rng, rng.randint(150, 2500), system=i % 3 == 0, turns=1 + i % 3,
                       chinese=i % 4 == 0)  # fmt: skip
        [(length, _label)] = encoder.count([encoder.contexts(row)])
        if i % 2:
            row_bounds.memo.clear()  # half of them measured with no word known before
        for stop_above in (length - 1, length, length + 1, length // 2, length // 3, 2 * length):
            lower, upper, _ll, _lu = row_bounds.measure(row, stop_above=stop_above)
            assert lower <= length, (i, stop_above)
            if upper is None:  # settled: surely over stop_above
                stopped += 1
                assert length > stop_above, (i, stop_above, lower, length)
                assert lower > stop_above
            else:
                assert length <= upper
    assert stopped >= min_stopped  # the early stop happened (at length // 2, // 3)


def test_stopping_early_never_claims_more_than_reading_the_whole_row():
    """With every space-free run counting one token (a counting function that says so), the
    bounds are as tight as they get: a row stopped early must never have a higher lower bound
    than the same row read whole (the slices' cuts and the unread texts' words only lose)."""
    rules = bounds.BoundRules(True, True, True, space_pieces=True)
    row_bounds = bounds.RowBounds(rules, TEMPLATES["qwen2_5"], None, "default",
                                  lambda texts: [1] * len(texts))  # fmt: skip
    rng = random.Random(5)
    for i in range(40):
        row = long_row(rng, rng.randint(400, 3000), system=i % 2 == 0, turns=1 + i % 3,
                       chinese=False)  # fmt: skip
        whole = row_bounds.measure(row)[0]
        for stop_above in range(whole - 40, whole + 2):
            lower, upper, _ll, _lu = row_bounds.measure(row, stop_above=stop_above)
            assert lower <= whole, (i, stop_above)
            assert upper is not None or lower > stop_above
