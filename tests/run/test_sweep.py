"""Sweep arguments, variants (names, folders, learning rates), the manifest --resume finds, and
each variant's state from its run directory."""

import datetime as dt
import json
from pathlib import Path

import pytest

from swiftkit.errors import RecipeError
from swiftkit.run import sweep as sw

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2025, 1, 2, 3, 4, 5)
# The CPU test recipe (the demo recipe before issue 16): lr 5e-3 tuned for effective batch 4.
TINY = str(REPO / "tests" / "fixtures" / "recipes" / "tiny_cpu.yaml")


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("4,8,16", ["4", "8", "16"]),
        ("8", ["8"]),
        ("[q_proj,v_proj]", ["[q_proj,v_proj]"]),
        ("[q_proj,v_proj],all-linear", ["[q_proj,v_proj]", "all-linear"]),
        ("'a,b',c", ["'a,b'", "c"]),
    ],
)
def test_split_values_keeps_brackets_and_quotes_together(text, values):
    assert sw.split_values(text) == values


def test_parse_swept_and_fixed_and_every_problem_at_once():
    swept, fixed = sw.parse_sweep_words(["lora_rank=4,8", "num_train_epochs=1", "seed=1,2"])
    assert swept == [("lora_rank", ["4", "8"]), ("seed", ["1", "2"])]
    assert fixed == ["num_train_epochs=1"]
    with pytest.raises(RecipeError) as e:
        sw.parse_sweep_words(["lora_rank", "seed=1,,2", "add_version=false", "x=1,2", "x=3,4"])
    assert str(e.value).splitlines() == [
        "sweep argument 'lora_rank' is not key=value. Write e.g. lora_rank=8,16.",
        "sweep argument 'seed=1,,2' has an empty value between commas. Write seed=1,2 (no "
        "empty values).",
        "sweep argument 'x=3,4': x is given twice. Give it once.",
        "sweep argument add_version=...: the sweep gives each variant its own folder under "
        "output_dir/sweep-DATE-TIME/. Give one output_dir (or none), and no add_version.",
    ]
    with pytest.raises(RecipeError, match="needs at least one key with several"):
        sw.parse_sweep_words(["seed=1"])


def test_variants_are_every_combination_with_folders_and_scaled_lr(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    words = ["gradient_accumulation_steps=2,8", "lora_rank=4,8", f"output_dir={tmp_path}"]
    sweep = sw.build_sweep(TINY, words, lr_scale="sqrt", base_dir=REPO, now=NOW)
    assert sweep.sweep_dir == tmp_path / "sweep-20250102-030405"
    assert [v.name for v in sweep.variants] == [
        "gradient_accumulation_steps=2+lora_rank=4",
        "gradient_accumulation_steps=2+lora_rank=8",
        "gradient_accumulation_steps=8+lora_rank=4",
        "gradient_accumulation_steps=8+lora_rank=8",
    ]
    first, last = sweep.variants[0], sweep.variants[-1]
    # The recipe's lr 5e-3 was tuned for effective batch 4: sqrt(2/4) and sqrt(8/4).
    assert "learning_rate=0.00353553" in first.overrides
    assert "learning_rate=0.00707107" in last.overrides
    assert first.overrides[-1] == f"output_dir={first.output_dir}"
    assert first.output_dir == sweep.sweep_dir / first.name
    given = sw.build_sweep(TINY, [*words, "learning_rate=1e-3"], lr_scale="sqrt",
                           base_dir=REPO, now=NOW)  # fmt: skip
    assert not any(o.startswith("learning_rate=0.00") for o in given.variants[0].overrides)
    with pytest.raises(RecipeError, match="--lr-scale must be one of sqrt, linear, none"):
        sw.build_sweep(TINY, words, lr_scale="cube", base_dir=REPO)


def test_resume_finds_the_newest_matching_sweep_and_variant_states(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    words = ["gradient_accumulation_steps=2,4", f"output_dir={tmp_path}"]
    old = sw.build_sweep(TINY, words, lr_scale="none", base_dir=REPO, now=NOW)
    sw.write_manifest(old)
    other = sw.build_sweep(TINY, [*words, "seed=3"], lr_scale="none", base_dir=REPO,
                           now=NOW.replace(hour=9))  # fmt: skip
    sw.write_manifest(other)
    fresh = sw.build_sweep(TINY, words, lr_scale="none", base_dir=REPO)
    found = sw.find_sweep_to_resume(fresh)
    assert found.sweep_dir == old.sweep_dir and found.variants == old.variants
    with pytest.raises(RecipeError, match=r"no sweep of tiny_cpu\.yaml with these values"):
        sw.find_sweep_to_resume(sw.build_sweep(TINY, words, lr_scale="sqrt", base_dir=REPO))

    done, stopped = found.variants
    assert sw.variant_state(done) == "start"
    run = done.output_dir / "v0-20250102-030405"
    (run / "swiftkit").mkdir(parents=True)
    (run / "swiftkit" / "exit.json").write_text(json.dumps({"exit_code": 0}))
    assert sw.variant_state(done) == "done"
    ckpt = stopped.output_dir / "v0-20250102-030406" / "checkpoint-3"
    ckpt.mkdir(parents=True)
    assert sw.variant_state(stopped) == "start"  # nothing complete to resume from
    (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": 3}))
    for name in ("adapter_model.safetensors", "optimizer.pt", "scheduler.pt"):
        (ckpt / name).write_bytes(b"x")
    assert sw.variant_state(stopped) == "resume"
