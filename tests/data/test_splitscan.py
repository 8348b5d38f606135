"""A JSON Lines file read in byte ranges and merged gives exactly what one pass gives: every line
once with its true number wherever the ranges are cut (inside a line, on a line start, between
\\r and \\n), the lines swift cannot load and the row problems in line order with the same cap,
and the token-length scan (sample, rows kept aside, bounds, counts) unchanged by the split, the
rows a range measured beyond what one pass measures given their quick bounds back.

The ranges are read in this process here (swiftkit.data.parallelscan's processes are tested in
test_parallelscan); small work limits force every path of the scan.
"""

from __future__ import annotations

import json
import random

import pytest

from swiftkit.data import (
    lengthscan,
    parallelscan,
    rowcheck,
    rowstream,
    scanmerge,
    splitscan,
    tokens,
)
from swiftkit.data.bounds import RowBounds, bound_rules
from swiftkit.data.lengthcontext import LengthContext
from swiftkit.data.rowcheck import RowChecker
from swiftkit.data.rowstream import FileProblem
from swiftkit.data.scan import _read_here, scan_path
from swiftkit.tiny.tokenizer import save_tokenizer, train_tokenizer

TEXT = "the model learns from data a training run, with gradient batch café 123"
WORDS, CHINESE = TEXT.split(), ["你好", "世界", "模型", "训练", "数据", "学习"]
SMALL = {"sample_rows": 40, "heap_rows": 8, "batch_bytes": 2000, "exact_profile_bytes": 0,
         "longest_budget_bytes": 3000, "long_budget_bytes": 2000}  # fmt: skip


@pytest.fixture(scope="module")
def tiny_tok(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-tok")
    save_tokenizer(train_tokenizer(), folder)
    return folder


def mixed_lines(n: int, seed: int = 0, bad_every: int = 0, clean: bool = False) -> list[str]:
    """JSON Lines rows: short, long (a long tail), multi-turn, with a system prompt, Chinese,
    {{NAME}} placeholders, rows swift rejects or warns about (none when clean), blank lines; with
    bad_every, a line that is not JSON or not an object every bad_every lines."""
    rng = random.Random(seed)

    def text(k: int) -> str:
        pool = CHINESE if rng.random() < 0.15 else WORDS
        return " ".join(rng.choice(pool) for _ in range(k))

    lines = []
    for i in range(n):
        if bad_every and i % bad_every == bad_every - 1:
            lines.append('{"messages": [' if i % 2 else "[1, 2]")
            continue
        if i % 23 == 11:
            lines.append("")
            continue
        if (
            i % 29 == 5 and not clean
        ):  # a row problem (no reply) and one the template rejects (late system)
            messages = [{"role": "user", "content": text(3)}]
            if i % 2:
                messages += [
                    {"role": "system", "content": "x"},
                    {"role": "assistant", "content": "y"},
                ]
            lines.append(json.dumps({"messages": messages}, ensure_ascii=False))
            continue
        messages = [{"role": "system", "content": text(5)}] if i % 3 == 0 else []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            messages.append({"role": "user", "content": text(rng.randint(1, 15))})
            tail = rng.random() < 0.12
            reply = text(rng.randint(80, 400) if tail else rng.randint(1, 30))
            messages.append({"role": "assistant", "content": reply})
        if i % 17 == 3:
            messages[-1]["content"] += " I am {{NAME}} by {{AUTHOR}}."
        lines.append(json.dumps({"messages": messages}, ensure_ascii=False))
    return lines


def write(path, lines: list[str], crlf_every: int = 5) -> None:
    ends = ["\r\n" if i % crlf_every == 2 else "\n" for i in range(len(lines))]
    path.write_bytes("".join(t + e for t, e in zip(lines, ends, strict=True)).encode("utf-8"))


def context(tok_dir, max_length, progress=None, **limits) -> LengthContext:
    def load():
        encoder = tokens.RowEncoder.load(tok_dir, template="qwen2_5")
        rules = bound_rules(encoder.tokenizer, encoder.extra)
        return encoder, RowBounds(rules, encoder.meta, None, "default", encoder.count_texts)

    return LengthContext(load, None, max_length, progress=progress, **limits)


def one_pass(path, ctx=None):
    checker = RowChecker(path.name, path.suffix)
    try:
        got = _read_here(path, path.name, checker, ctx)
    except FileProblem as e:
        return ("unloadable", e.problems, checker.problems())
    return (got[:3], checker.problems())


def in_ranges(path, cuts: list[int], ctx=None):
    """The file read as ranges [0, c1), [c1, c2), ... in this process, then merged."""
    checker = RowChecker(path.name, path.suffix)
    checker.start_with(splitscan.first_row(path))
    bounds = list(zip([0, *cuts], [*cuts, path.stat().st_size], strict=True))
    parts = [splitscan.read_range(path, path.name, b, checker.fresh(), ctx) for b in bounds]
    try:
        got = scanmerge.merge_parts(path.name, parts, checker)
    except FileProblem as e:
        return ("unloadable", e.problems, checker.problems())
    return (got[:3], checker.problems())


def test_every_cut_reads_each_line_once_with_its_number(tmp_path):
    path = tmp_path / "rows.jsonl"
    write(path, mixed_lines(40, seed=3), crlf_every=3)
    data = path.read_bytes()
    whole = one_pass(path)
    assert whole[0][0] > 30 and whole[1]  # rows and row problems
    starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    near = {s + d for s in starts for d in (-2, -1, 0, 1)}  # around \r\n, on a line start
    cuts = sorted(c for c in near | set(range(0, len(data), 53)) if 0 <= c <= len(data))
    for cut in cuts:  # and inside lines
        assert in_ranges(path, [cut]) == whole, cut


def test_lines_swift_cannot_load_are_listed_in_order_with_true_numbers(tmp_path, monkeypatch):
    for module in (splitscan, scanmerge, rowstream, rowcheck):
        monkeypatch.setattr(module, "MAX_ROW_PROBLEMS", 3)
    path = tmp_path / "bad.jsonl"
    lines = mixed_lines(120, seed=4, bad_every=25)
    write(path, lines)
    whole = one_pass(path)
    assert whole[0] == "unloadable"
    assert whole[1][:3] == [
        "bad.jsonl:25: each row must be a JSON object (got a list), and swift fails on the "
        'whole file. Make every row an object such as {"messages": [...]}.',
        "bad.jsonl:50: invalid JSON Lines row (Expecting value at column 15). Fix or delete the "
        "line: swift cannot load the file.",
        "bad.jsonl:75: each row must be a JSON object (got a list), and swift fails on the "
        'whole file. Make every row an object such as {"messages": [...]}.',
    ]
    assert whole[1][3].startswith("bad.jsonl: 1 more line swift cannot load")
    size = path.stat().st_size
    for cuts in ([size // 2], [size // 3, 2 * size // 3], [size // 5, size // 4, size - 10]):
        assert in_ranges(path, cuts) == whole


@pytest.mark.parametrize("max_length", [60, None])
def test_the_scan_of_ranges_merged_is_the_scan_of_the_whole(
    tmp_path, tiny_tok, monkeypatch, max_length
):
    path = tmp_path / "rows.jsonl"
    write(path, mixed_lines(600, seed=5))
    monkeypatch.setattr(splitscan, "BIG_BYTES", 1)
    ctx = context(tiny_tok, max_length, **SMALL)
    measured = []
    finish = lengthscan.LengthScan.finish
    monkeypatch.setattr(lengthscan.LengthScan, "finish", lambda self, r: measured.append(
        len(self.measured)) or finish(self, r))  # fmt: skip
    monkeypatch.setenv("SWIFTKIT_WORKERS", "1")
    whole = scan_path(path, "rows.jsonl", problems := [], ctx)
    assert whole.lengths.rows_tokenized < whole.rows and problems
    for workers in (2, 3, 4):  # the parallel path, its jobs run here one after another
        monkeypatch.setenv("SWIFTKIT_WORKERS", str(workers))
        parts = []
        monkeypatch.setattr(parallelscan, "_run", lambda jobs, _s, _p, parts=parts: parts.extend(
            job(lambda i, o: None) for job in jobs) or parts)  # fmt: skip
        found = scan_path(path, "rows.jsonl", again := [], ctx)
        assert len(parts) == workers
        assert (found, again) == (whole, problems)
        assert found.lengths.to_json() == whole.lengths.to_json()
        # the later ranges started from lower floors: they measured more, and were replayed
        extra = sum(len(p["scan"]["measured"]) for p in parts) - measured[0]
        assert extra > 0 or max_length is not None  # later ranges started from lower floors
