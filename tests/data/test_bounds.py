"""The cheap token bounds: lower <= swift's exact length <= upper for any row, and the rules that
turn a bound off when the tokenizer's description cannot prove it.

The exact lengths come from swiftkit.data.tokens (checked against swift's own encoder by the slow
tests in test_tokens.py); the tokenizer is the tiny model's real byte-level BPE (NFC, Qwen2's
pre-tokenizer regex, ChatML special tokens), trained here in a second.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from swiftkit.data import bounds, tokens
from swiftkit.data.templates import TEMPLATES
from swiftkit.tiny.tokenizer import save_tokenizer, train_tokenizer

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# Pieces that stress the bounds: whitespace Python and the regex disagree on (\x1c-\x1f),
# combining marks and letters NFC composes or expands, CJK, digits, punctuation, emoji, special
# tokens, think tags, and words between spaces (whose exact counts both bounds use).
ALPHABET = st.sampled_from(
    [*"aZ 09.,!?'\"-_\n\r\t", "\x1c", "\x1f", "\x85", "\u00a0", "\u3000", "\u2028",
     "e\u0301", "\u0301", "\u0958", "\ufb2c", "\U0001d160", "\u2126", "你", "好", "😀",
     "<|im_end|>", "<|im_start|>", "<think>", "</think>", "{{NAME}}", " the", " helpful",
     " assistant.", " don't", " 2048", "  ", " \n \n", "(model)", " cafe\u0301", " Who"]
)  # fmt: skip
TEXT = st.lists(ALPHABET, max_size=40).map("".join)


@pytest.fixture(scope="module")
def tiny_tok(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-tok")
    save_tokenizer(train_tokenizer(), folder)
    return folder


def message(role: str, text: str) -> dict:
    return {"role": role, "content": text}


ROWS = st.builds(
    lambda system, turns, lead: (
        ([message("system", system)] if system is not None else [])
        + ([message("assistant", lead)] if lead is not None else [])
        + [
            message(r, t)
            for pair in turns
            for r, t in zip(("user", "assistant"), pair, strict=True)
        ]
    ),
    st.none() | TEXT,
    st.lists(st.tuples(TEXT, TEXT), min_size=0, max_size=3),
    st.none() | TEXT,
).filter(bool)


@pytest.mark.parametrize(
    ("template", "system", "loss_scale"),
    [
        ("qwen2_5", None, "default"),
        ("qwen3", "Be brief.", "last_round"),
        ("qwen3_thinking", None, "last_round"),
        ("chatml", "", "all"),
    ],
)
def test_bounds_hold_for_any_row(tiny_tok, template, system, loss_scale):
    encoder = tokens.RowEncoder.load(tiny_tok, system=system, template=template,
                                     loss_scale=loss_scale)  # fmt: skip
    rules = bounds.bound_rules(encoder.tokenizer, encoder.extra)
    assert rules == bounds.BoundRules(True, True, True, encoder.extra, space_pieces=True)
    row_bounds = bounds.RowBounds(rules, TEMPLATES[template], system, loss_scale,
                                  encoder.count_texts)  # fmt: skip

    @SETTINGS
    @given(ROWS)
    def check(row):
        contexts = encoder.contexts(row)
        if contexts is None:
            return  # swift's template rejects it: a row problem, never measured
        [(length, label)] = encoder.count([contexts])
        lower, upper, label_lower, label_upper = row_bounds.measure(row)
        assert lower <= length <= upper
        assert label_lower <= label <= label_upper
        quick, quick_label = row_bounds.quick(row)
        assert length <= quick and label <= quick_label

    check()


def test_tool_rows_and_list_replies_use_the_templates_own_text(tiny_tok):
    encoder = tokens.RowEncoder.load(tiny_tok, template="qwen2_5")
    rules = bounds.bound_rules(encoder.tokenizer)
    row_bounds = bounds.RowBounds(rules, TEMPLATES["qwen2_5"], None, count=encoder.count_texts)
    call = {"name": "weather", "arguments": {"city": "Paris"}}
    row = [
        message("user", "weather?"),
        {"role": "tool_call", "content": json.dumps(call, indent=4)},
        {"role": "tool_response", "content": {"temp": 21}},
        message("assistant", "21 degrees."),
    ]
    [(length, _label)] = encoder.count([encoder.contexts(row)])
    lower, upper, _label_lower, _label_upper = row_bounds.measure(row)
    assert lower <= length <= upper <= row_bounds.quick(row)[0]


def _byte_bpe() -> models.BPE:
    """A BPE whose vocabulary holds the 256 byte-level symbols and nothing else."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    return models.BPE(vocab={ch: i for i, ch in enumerate(sorted(alphabet))}, merges=[])


def _tokenizer(**parts) -> Tokenizer:
    tok = Tokenizer(parts.pop("model", None) or _byte_bpe())
    for name, value in parts.items():
        setattr(tok, name, value)
    return tok


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        # GPT-2: ByteLevel with its own regex.
        ({"pre_tokenizer": pre_tokenizers.ByteLevel(add_prefix_space=False)}, (True, False, True)),
        # A leading space may be added to every piece: one token more than bytes.
        ({"pre_tokenizer": pre_tokenizers.ByteLevel(add_prefix_space=True)}, (False, False, False)),
        # Lowercasing may change bytes: nothing is proved.
        (
            {
                "normalizer": normalizers.Lowercase(),
                "pre_tokenizer": pre_tokenizers.ByteLevel(add_prefix_space=False),
            },
            (False, False, False),
        ),
        # A split pattern swiftkit does not know: bytes still bound, words do not.
        (
            {
                "normalizer": normalizers.NFC(),
                "pre_tokenizer": pre_tokenizers.Sequence(
                    [
                        pre_tokenizers.Split(" ", behavior="isolated"),
                        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
                    ]
                ),
            },
            (True, True, False),
        ),
        # Not byte-level (a SentencePiece-style Metaspace): nothing is proved.
        ({"pre_tokenizer": pre_tokenizers.Metaspace()}, (False, False, False)),
        ({"model": models.WordPiece({"[UNK]": 0}, unk_token="[UNK]")}, (False, False, False)),
    ],
)
def test_rules_follow_the_tokenizer_description(parts, expected):
    rules = bounds.bound_rules(_tokenizer(**parts))
    assert (rules.bytes_bound, rules.nfc, rules.words_bound) == expected


def test_words_bound_needs_every_byte_in_the_vocabulary():
    """A byte missing from the vocabulary vanishes: a word could give no token at all."""
    level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    assert bounds.bound_rules(_tokenizer(pre_tokenizer=level)).words_bound
    empty = _tokenizer(model=models.BPE(), pre_tokenizer=level)
    assert not bounds.bound_rules(empty).words_bound


def test_without_proof_every_row_is_unbounded():
    row_bounds = bounds.RowBounds(bounds.NO_BOUNDS, TEMPLATES["qwen2_5"], None)
    row = [message("user", "q"), message("assistant", "a")]
    unbounded = bounds.RowBounds.UNBOUNDED
    assert row_bounds.measure(row) == (0, unbounded, 0, unbounded)
    assert row_bounds.quick(row) == (unbounded, unbounded)


def test_words_between_spaces_make_both_bounds_tight(tiny_tok):
    encoder = tokens.RowEncoder.load(tiny_tok, template="qwen2_5", system="")
    rules = bounds.bound_rules(encoder.tokenizer)
    row_bounds = bounds.RowBounds(rules, TEMPLATES["qwen2_5"], "", count=encoder.count_texts)
    text = "The model learns from the data, and the training run goes on. " * 40
    row = [message("user", "Why?"), message("assistant", text)]
    [(length, _label)] = encoder.count([encoder.contexts(row)])
    first = row_bounds.measure(row)  # new words counted as they come: the same bounds again
    lower, upper, _label_lower, _label_upper = row_bounds.measure(row)
    assert first[0] == lower <= length <= upper == first[1]
    assert 0.98 * length <= lower and upper <= 1.05 * length
    assert len(row_bounds.memo) == 11  # each distinct word between two spaces, counted once


def test_nfc_expansion_counts_in_the_upper_bound(tiny_tok):
    """U+1D160 is 4 bytes and 12 after NFC: the bound counts the normalized text."""
    encoder = tokens.RowEncoder.load(tiny_tok, template="qwen2_5")
    row_bounds = bounds.RowBounds(bounds.bound_rules(encoder.tokenizer), TEMPLATES["qwen2_5"], "")
    row = [message("user", ""), message("assistant", "\U0001d160" * 50)]
    [(length, _label)] = encoder.count([encoder.contexts(row)])
    assert length <= row_bounds.measure(row)[1]
    assert row_bounds.nbytes("\U0001d160") == 12
