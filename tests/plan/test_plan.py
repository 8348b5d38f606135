"""make_plan on the shipped recipes and on small projects: numbers, warnings, errors, JSON."""

import json
from pathlib import Path

import pytest

from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted(p.stem for p in (REPO / "recipes").glob("*.yaml"))
JSON_KEYS = {
    "effective_batch_size",
    "world_size",
    "train_rows",
    "val_rows",
    "updates_per_epoch",
    "max_steps",
    "warmup_steps",
    "eval_steps_at",
    "save_steps_at",
    "warnings",
    "errors",
}


def write_rows(path, n):
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    path.write_text(json.dumps([row] * n), encoding="utf-8")


@pytest.mark.parametrize("name", RECIPES)
def test_every_shipped_recipe_validates_and_plans(in_repo, name):
    plan = make_plan(load_recipe(name), environ={})
    assert plan.errors == ()
    assert plan.schedule is not None and plan.schedule.max_steps > 0
    data = json.loads(json.dumps(plan.to_json()))
    assert data.keys() >= JSON_KEYS


def test_reference_recipe_numbers(in_repo):
    plan = make_plan(load_recipe("qwen7b_selfcog"), environ={})
    rows = len(json.loads((REPO / "datasets/self_cognition.json").read_text(encoding="utf-8")))
    s = plan.schedule
    assert s.effective_batch_size == 16
    assert plan.train_rows == rows
    assert s.updates_per_epoch == -(-rows // 16)
    assert s.max_steps == 10 * s.updates_per_epoch == 40
    assert s.warmup_steps == 2  # ceil(40 * 0.05)
    assert s.eval_steps_at == ()  # no validation split: swift never evaluates
    assert s.save_steps_at == (40,)
    assert plan.fills_placeholders
    assert any("eval_steps is ignored" in w for w in plan.warnings)


def test_reference_memory_in_article_band_at_full_length(in_repo):
    plan = make_plan(load_recipe("qwen7b_selfcog"), environ={})
    m = plan.memory
    full = m.at_max_length or m.estimate
    assert full.seq_len_tokens == 2048
    assert 18e9 <= full.device_bytes <= 22e9
    # The shipped rows are short: the plan shows the lower figure for them.
    assert m.estimate.seq_len_tokens < 2048
    assert m.estimate.device_bytes < full.device_bytes


def test_world_size_from_env_block_and_default_accumulation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_rows(tmp_path / "d.json", 30)
    (tmp_path / "r.yaml").write_text(
        "model: Qwen/Qwen2.5-0.5B-Instruct\ndataset: d.json\nenv:\n  NPROC_PER_NODE: 2\n"
    )
    plan = make_plan(load_recipe("r.yaml"), environ={})
    s = plan.schedule
    assert plan.world_size == 2
    assert s.accumulation_steps == 8  # ceil(16 / 1 / 2)
    assert s.effective_batch_size == 16
    assert s.batches_per_epoch == 15
    assert any("swift uses ceil(16 / 1 / 2) = 8" in n for n in plan.notes)


def test_lr_note_when_effective_batch_differs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_rows(tmp_path / "d.json", 8)
    (tmp_path / "r.yaml").write_text(
        "model: m\ndataset: d.json\ngradient_accumulation_steps: 64\nlearning_rate: 1.0e-4\n"
    )
    plan = make_plan(load_recipe("r.yaml"), environ={})
    assert plan.lr_note == (
        "effective batch 64 differs from 16 (ms-swift's default effective batch): scale "
        "learning_rate 0.0001 by sqrt(64/16) -> 0.0002, or linearly -> 0.0004"
    )


def test_misspelled_key_wrong_type_and_missing_dataset_reported_together(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "r.yaml"
    path.write_text("model: m\nlora_rnak: 8\nnum_train_epochs: ten\ndataset: missing.json\n")
    plan = make_plan(load_recipe("r.yaml"), environ={})
    p = path.resolve()
    assert plan.errors[0] == f"{p}:2: lora_rnak is not a swift sft flag. Did you mean lora_rank?"
    assert plan.errors[1].startswith(f"{p}:3: num_train_epochs must be a number")
    assert "missing.json" in plan.errors[2] and "not found" in plan.errors[2]
    assert len(plan.errors) == 3
    assert plan.schedule is None


def test_absurd_step_counts_are_refused_quickly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_rows(tmp_path / "d.json", 4)
    path = tmp_path / "r.yaml"
    path.write_text("model: m\ndataset: d.json\nmax_steps: 1000000000\n")
    plan = make_plan(load_recipe("r.yaml"), environ={})
    assert plan.errors == (
        f"{path.resolve()}:3: max_steps makes 1,000,000,000 optimizer updates, more than "
        "1,000,000. Check max_steps and num_train_epochs.",
    )


def test_length_profile_and_rows_dropped_with_a_local_tokenizer(tmp_path, monkeypatch):
    """The one read of the dataset gives the max_length filter, the longest kept row and the
    profile; with this few rows every row is tokenized, so all of it is exact."""
    from swiftkit.cli.render import render_plan
    from swiftkit.data import tokens
    from swiftkit.tiny.tokenizer import save_tokenizer, train_tokenizer

    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").mkdir()
    save_tokenizer(train_tokenizer(), tmp_path / "m")
    (tmp_path / "m" / "args.json").write_text('{"template": "qwen2_5"}')
    rows = []
    for i in range(40):
        reply = "The answer is long. " * (30 if i % 4 == 0 else 1)
        system = [{"role": "system", "content": "Be brief."}] if i % 3 == 0 else []
        turn = [
            {"role": "user", "content": f"Question {i}?"},
            {"role": "assistant", "content": reply},
        ]
        rows.append({"messages": system + turn * (2 if i % 5 == 0 else 1)})
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "r.yaml").write_text("model: m\ndataset: d.jsonl\nmax_length: 100\n")
    lengths = tokens.token_lengths([r["messages"] for r in rows], tmp_path / "m")
    kept = [n for n in lengths if n <= 100]
    plan = make_plan(load_recipe("r.yaml"), environ={})
    assert plan.errors == ()
    assert (plan.train_rows, plan.longest_row_tokens, plan.longest_row_exact) == (
        len(kept), max(kept), True)  # fmt: skip
    t = plan.to_json()["token_lengths"]
    assert (t["exact"], t["max"], t["max_exact"], t["rows"]) == (True, max(lengths), True, 40)
    assert (t["kept_at_max_length"], t["dropped_at_max_length"]) == (len(kept), 40 - len(kept))
    assert t["p50"] == sorted(lengths)[19] and t["max_length_for_99"] == t["p99"]
    assert t["mean"] == round(sum(lengths) / 40)
    assert plan.datasets[0].longest_row_tokens == max(kept)
    assert 0 < plan.datasets[0].longest_label_tokens < max(kept)
    text = render_plan(plan)
    assert f"max_length 100: {len(kept)} rows fit, {40 - len(kept)} are longer" in text


def test_errors_elsewhere_keep_the_exact_token_counts(tmp_path):
    # the rows were tokenized by the one read of the dataset: an unrelated error (a malformed
    # override) must not turn them into "upper bounds" with a "tokenizer is not local" note
    from swiftkit.tiny.tokenizer import save_tokenizer, train_tokenizer

    tok = tmp_path / "tok"
    tok.mkdir()
    save_tokenizer(train_tokenizer(), tok)
    write_rows(tmp_path / "d.json", 3)
    (tmp_path / "r.yaml").write_text(
        f"model: {tok}\ntemplate: qwen2_5\ndataset: d.json\n", encoding="utf-8"
    )
    plan = make_plan(load_recipe(str(tmp_path / "r.yaml"), ["foo"]), base_dir=tmp_path, environ={})
    assert plan.errors == ("override 'foo' has no '='. Write key=value, e.g. learning_rate=2e-4.",)
    assert plan.rows_exact is True
    assert not [n for n in plan.notes if "tokenizer is not local" in n]
