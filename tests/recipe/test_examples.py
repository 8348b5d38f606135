"""The value a fix hint suggests: swift's default for the flag, never a number unrelated to it."""

import pytest

from swiftkit.recipe.examples import example_value, fix_hint
from swiftkit.recipe.flags import load_schema
from swiftkit.recipe.recipe import load_recipe


def flag(name):
    return load_schema().get(name)


@pytest.mark.parametrize(
    ("name", "got", "expected"),
    [
        ("num_train_epochs", "3 epochs", "3"),  # swift's default 3.0, written as a recipe would
        ("per_device_train_batch_size", "two", "1"),
        ("lora_rank", 8.5, "8"),
        ("lora_alpha", "high", "32"),
        ("warmup_ratio", "some", "0"),
        ("target_modules", 3, "[all-linear]"),
        ("tuner_type", "lorra", "lora"),  # the choice closest to what was written
        ("tuner_type", "qlora-ish", "lora"),  # nothing close: swift's default
        ("torch_dtype", "float64", "bfloat16"),  # no default, nothing close: the first choice
        ("learning_rate", "fast", "0.0001"),  # None in the schema: swift's LoRA default
        ("max_length", "long", None),  # swift takes the model's: no number to suggest
    ],
)
def test_example_value(name, got, expected):
    assert example_value(flag(name), got) == expected


def test_fix_hint_forms():
    assert fix_hint(flag("num_train_epochs"), "x", override=False) == "Write num_train_epochs: 3."
    assert fix_hint(flag("num_train_epochs"), "x", override=True) == "Write num_train_epochs=3."
    assert fix_hint(flag("use_cpu"), "yep", override=False) == (
        "Write use_cpu: true or use_cpu: false."
    )
    assert fix_hint(flag("max_length"), "long", override=False) == (
        "Write a whole number for max_length."
    )


def test_the_reported_recipe_gets_hints_about_its_own_flags(tmp_path):
    path = tmp_path / "wrongtype.yaml"
    path.write_text(
        "model: Qwen/Qwen2.5-7B-Instruct\ntuner_type: lora\ndataset: d.jsonl\n"
        'per_device_train_batch_size: two\nlearning_rate: "1e-4"\nnum_train_epochs: 3 epochs\n'
        "lora_rank: 8.5\ngradient_checkpointing: yes please\n",
        encoding="utf-8",
    )
    recipe = load_recipe(str(path), ["num_train_epochs=three"])
    assert recipe.problems == (
        f"{path}:4: per_device_train_batch_size must be an integer (got 'two'). "
        "Write per_device_train_batch_size: 1.",
        f"{path}:6: num_train_epochs must be a number (got '3 epochs'). Write num_train_epochs: 3.",
        f"{path}:7: lora_rank must be an integer (got 8.5). Write lora_rank: 8.",
        f"{path}:8: gradient_checkpointing must be true or false (got 'yes please'). "
        "Write gradient_checkpointing: true or gradient_checkpointing: false.",
        "command line (num_train_epochs=...): num_train_epochs must be a number "
        "(got 'three'). Write num_train_epochs=3.",
    )
