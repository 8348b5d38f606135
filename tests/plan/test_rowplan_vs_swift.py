"""The rows part of a plan at dataset scale against swift's own encoder.

10,000 training rows (short and over-long rows, multi-turn rows, rows with their own system
prompt, Chinese, replies with "loss": false) and 200 validation rows go through swift's sft_main
on the tiny CPU model for one step; the rows swift keeps after its max_length filter, the train and
validation sizes and the longest training row (swift's "Dataset Token Length" max) must equal the
plan's, which reads each file once and tokenizes only the rows its bounds cannot settle.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace

import pytest

from swiftkit.data import tokens
from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe
from swiftkit.run.launch import swift_argv
from tests.conftest import CPU_SFT_FLAGS, sft_in_process

pytestmark = pytest.mark.slow

TOPICS = ["the model", "a dataset", "gradient accumulation", "the learning rate", "天气", "数据"]
SYSTEMS = ["You are a pirate.", "Answer in one line.", "你是一个乐于助人的助手。", ""]


def make_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        messages = []
        if rng.random() < 0.25:
            messages.append({"role": "system", "content": rng.choice(SYSTEMS)})
        for turn in range(rng.choice([1, 1, 1, 1, 2, 3])):
            topic = rng.choice(TOPICS)
            messages.append({"role": "user", "content": f"Tell me about {topic}, please ({i})."})
            words = rng.randint(60, 260) if rng.random() < 0.1 else rng.randint(2, 14)
            reply = " ".join(
                rng.choice(["It", "is", "good", "很好", "and", topic]) for _ in range(words)
            )
            message = {"role": "assistant", "content": reply}
            if turn == 0 and rng.random() < 0.05:
                message["loss"] = False
            messages.append(message)
        rows.append({"messages": messages})
    return rows


def size_and_max(stat: str) -> tuple[int, int]:
    """swift's 'mean±std, min=..., max=..., size=N' (sft.py _stat_dataset)."""
    found = dict(re.findall(r"(max|size)=([\d.]+)", stat))
    return int(found["size"]), round(float(found["max"]))


def test_rows_kept_and_sizes_equal_swifts_at_10k_rows(tiny_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # These files are small enough to be tokenized whole; make the plan measure them as it
    # measures big ones: only the rows the bounds cannot settle, and a sample.
    context = tokens.length_context

    def as_if_big(*args, **kwargs):
        ctx, key = context(*args, **kwargs)
        return replace(ctx, exact_profile_bytes=0, sample_rows=200), key

    monkeypatch.setattr(tokens, "length_context", as_if_big)
    for name, n, seed in (("train.jsonl", 10_000, 1), ("val.jsonl", 200, 2)):
        rows = make_rows(n, seed)
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "r.yaml").write_text(
        f"model: {tiny_model}\ndataset: train.jsonl\nval_dataset: val.jsonl\nmax_length: 200\n"
        "system: You are a careful assistant.\nmax_steps: 1\nper_device_train_batch_size: 1\n"
        "gradient_accumulation_steps: 1\nsave_strategy: 'no'\neval_strategy: 'no'\n"
        f"output_dir: {tmp_path / 'out'}\n",
        encoding="utf-8",
    )
    plan = make_plan(load_recipe("r.yaml"), environ={})
    assert plan.errors == ()
    train, val = plan.datasets
    assert 1000 < train.rows_over_max_length < 3000 and val.rows_over_max_length > 0
    assert plan.token_lengths.rows_tokenized < 9000  # the bounds settled the others
    flags = list(CPU_SFT_FLAGS)
    flags[flags.index("--max_length") + 1] = "200"
    result = sft_in_process([*flags, *swift_argv(plan.args)])
    train_size, train_max = size_and_max(result["train_dataset"])
    val_size, _val_max = size_and_max(result["val_dataset"])
    assert (train_size, val_size) == (plan.train_rows, plan.val_rows)
    assert plan.longest_row_exact and train_max == train.longest_row_tokens
