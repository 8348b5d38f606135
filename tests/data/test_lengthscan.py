"""One pass over a file's rows against tokenizing every row: the count over max_length is exact,
the longest kept row exact when proved (else the bound really bounds it), and the profile exact
when every row was tokenized.

Small work limits force every path: rows kept aside and rows read again by byte offset (JSON
Lines) or by position (a JSON list), budgets that run out, rows dropped by their lower bound.
"""

from __future__ import annotations

import json
import math
import random

import pytest

from swiftkit.data import tokens
from swiftkit.data.bounds import RowBounds, bound_rules
from swiftkit.data.lengthcontext import LengthContext
from swiftkit.data.profile import make_profile
from swiftkit.data.scan import scan_path
from swiftkit.tiny.tokenizer import save_tokenizer, train_tokenizer

TEXT = "the model learns from data 你好 世界 café 123 a training run, with gradient batch"
WORDS = TEXT.split()


@pytest.fixture(scope="module")
def tiny_tok(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-tok")
    save_tokenizer(train_tokenizer(), folder)
    return folder


def make_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)

    def text(k):
        return " ".join(rng.choice(WORDS) for _ in range(k))

    rows = []
    for i in range(n):
        messages = [{"role": "system", "content": text(4)}] if i % 3 == 0 else []
        for _ in range(2 if i % 5 == 0 else 1):
            messages.append({"role": "user", "content": text(rng.randint(1, 12))})
            long = rng.random() < 0.15
            reply = text(rng.randint(60, 160) if long else rng.randint(1, 25))
            messages.append({"role": "assistant", "content": reply})
        rows.append({"messages": messages})
    return rows


def context(tok_dir, max_length, **limits) -> LengthContext:
    def load():
        encoder = tokens.RowEncoder.load(tok_dir, template="qwen2_5")
        rules = bound_rules(encoder.tokenizer, encoder.extra)
        return encoder, RowBounds(rules, encoder.meta, None)

    return LengthContext(load, None, max_length, **limits)


def truth(tok_dir, rows) -> list[int]:
    return tokens.token_lengths([r["messages"] for r in rows], tok_dir, template="qwen2_5")


SMALL = {"sample_rows": 40, "heap_rows": 8, "batch_bytes": 2000, "exact_profile_bytes": 0}


@pytest.mark.parametrize("layout", ["jsonl", "json"])
@pytest.mark.parametrize("max_length", [40, 120, None])
def test_counts_and_longest_equal_tokenizing_every_row(
    tmp_path, tiny_tok, monkeypatch, layout, max_length
):
    from swiftkit.data import scan

    read_again = []
    fetch = scan.fetch_records
    monkeypatch.setattr(
        scan, "fetch_records", lambda *a, **k: read_again.append(k) or fetch(*a, **k)
    )
    rows = make_rows(300)
    path = tmp_path / f"rows.{layout}"
    if layout == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    else:
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), "utf-8")
    lengths = truth(tiny_tok, rows)
    ctx = context(tiny_tok, max_length, longest_budget_bytes=10**9, **SMALL)
    found = scan_path(path, path.name, [], ctx)
    s = found.lengths
    kept = [n for n in lengths if max_length is None or n <= max_length]
    assert found.rows == len(rows)
    assert s.over_max_length == len(lengths) - len(kept)
    assert (s.longest_kept, s.longest_kept_exact) == (max(kept), True)
    assert s.max_tokens >= max(lengths) and (not s.max_exact or s.max_tokens == max(lengths))
    assert 0 < s.rows_tokenized < len(rows)  # the bounds settled the rest
    assert sum(s.exact.values()) == s.rows_tokenized
    assert sum(len(v) for v, _n in s.samples) == 40
    if max_length is None:  # more candidates than rows kept aside: some were read again
        assert read_again and read_again[0]["by_offset"] == (layout == "jsonl")


def test_a_spent_budget_leaves_an_upper_bound(tmp_path, tiny_tok):
    rows = make_rows(300, seed=1)
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    lengths = truth(tiny_tok, rows)
    ctx = context(tiny_tok, None, longest_budget_bytes=1500, long_budget_bytes=0, **SMALL)
    s = scan_path(path, path.name, [], ctx).lengths
    assert not s.longest_kept_exact
    assert s.longest_kept <= max(lengths) <= s.longest_kept_bound
    assert s.max_tokens >= max(lengths) and not s.max_exact


def test_small_files_get_an_exact_profile(tmp_path, tiny_tok):
    rows = make_rows(120, seed=2)
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    lengths = sorted(truth(tiny_tok, rows))
    s = scan_path(path, path.name, [], context(tiny_tok, 60)).lengths
    profile = make_profile(s, 60)
    rank = [lengths[math.ceil(q * len(lengths)) - 1] for q in (0.5, 0.9, 0.99)]
    assert profile.exact and s.rows_tokenized == len(rows)
    assert [profile.p50_tokens, profile.p90_tokens, profile.p99_tokens] == rank
    assert (profile.max_tokens, profile.max_exact) == (lengths[-1], True)
    assert profile.kept_at_max_length == sum(n <= 60 for n in lengths)
