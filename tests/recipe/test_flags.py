"""The committed `swift sft` flag schema, value coercion and argv building.

Tests that build swift's own parser import ms-swift (about 8 s, once per module).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from swiftkit.recipe import flags_capture
from swiftkit.recipe.flags import Flag, load_schema, to_argv
from swiftkit.recipe.flags import coerce_value as coerce

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MODELSCOPE_OFFLINE", "1")

# The reference setup: self-cognition LoRA on Qwen2.5-7B-Instruct.
REFERENCE = {
    "model": "Qwen/Qwen2.5-7B-Instruct",
    "tuner_type": "lora",
    "dataset": ["AI-ModelScope/alpaca-gpt4-data-zh#500", "swift/self-cognition#500"],
    "torch_dtype": "bfloat16",
    "num_train_epochs": 10,
    "per_device_train_batch_size": 1,
    "per_device_eval_batch_size": 1,
    "learning_rate": "1e-4",  # YAML 1.1 reads 1e-4 as a string
    "lora_rank": 8,
    "lora_alpha": 32,
    "target_modules": "all-linear",
    "gradient_accumulation_steps": 16,
    "eval_steps": 50,
    "save_steps": 50,
    "save_total_limit": 2,
    "logging_steps": 5,
    "max_length": 2048,
    "output_dir": "output",
    "system": "You are a helpful assistant.",
    "warmup_ratio": 0.05,
    "dataloader_num_workers": 4,
    "model_author": "swift",
    "model_name": "swift-robot",
    "gradient_checkpointing": True,
    "add_version": "false",
    "deepspeed": "zero2",
    "lr_scheduler_kwargs": {"min_lr": 1e-06},
    "quant_bits": 4,
    "seed": -1,
    "split_dataset_ratio": 0.01,
}


def flag(name: str) -> Flag:
    found = load_schema().get(name)
    assert found is not None, name
    return found


@pytest.fixture(scope="module")
def swift_parser():
    parser, _, _ = flags_capture.build_parser()
    return parser


def parse_with_swift(parser, argv: list[str]) -> dict:
    """What `swift sft argv` parses to, without building SftArguments (its __post_init__ has
    side effects). swift.utils.parse_args feeds exactly this namespace to the dataclass."""
    namespace, remaining = parser.parse_known_args(argv)
    assert remaining == [], remaining
    parsed = vars(namespace)
    for name, value in parsed.items():  # dict flags arrive as JSON text; swift decodes them later
        if load_schema().flags[name].kind == "dict" and isinstance(value, str) and "{" in value:
            parsed[name] = json.loads(value)
    return parsed


# --- the committed file ------------------------------------------------------------------


def test_committed_schema_matches_installed_swift():
    expected = flags_capture.render(flags_capture.capture())
    lines = flags_capture.diff(flags_capture.DATA_PATH, expected)
    assert not lines, "".join(lines[:60]) + "\nRun python -m swiftkit.recipe.flags_capture."


def test_check_reports_a_stale_file(tmp_path, capsys):
    stale = json.loads(flags_capture.DATA_PATH.read_text(encoding="utf-8"))
    stale["flags"]["lora_rank"]["default"] = 16
    path = tmp_path / "sft_flags.json"
    path.write_text(flags_capture.render(stale), encoding="utf-8")
    assert flags_capture.main(["--check", "--path", str(path)]) == 1
    out = capsys.readouterr().out
    assert '-      "default": 16,' in out
    assert '+      "default": 8,' in out
    assert out.rstrip().endswith("Run python -m swiftkit.recipe.flags_capture to regenerate it.")


def test_schema_has_every_option_swift_registers(swift_parser):
    schema = load_schema()
    known = set(schema.flags) | set(schema.aliases) | set(schema.negations)
    options = {
        opt.removeprefix("--")
        for action in swift_parser._actions
        for opt in action.option_strings
        if opt not in ("-h", "--help")
    }
    assert known == options
    assert len(schema.flags) == 333
    assert schema.swift_version == "4.6.0"


def test_schema_kinds_and_defaults():
    assert flag("tuner_type").choices[:3] == ("adalora", "adapter", "boft")
    assert "lora" in flag("tuner_type").choices and flag("tuner_type").default == "lora"
    assert (flag("lora_rank").kind, flag("lora_rank").default) == ("int", 8)
    assert (flag("lora_alpha").kind, flag("lora_alpha").default) == ("float", 32.0)
    assert flag("learning_rate").kind == "float" and flag("learning_rate").optional
    assert (flag("target_modules").kind, flag("target_modules").item_kind) == ("list", "str")
    assert flag("target_modules").default == ["all-linear"]
    assert flag("deepspeed").kind == "dict" and flag("deepspeed").optional
    assert flag("torch_dtype").choices == ("bfloat16", "float16", "float32")
    assert flag("optim").kind == "str" and "adamw_torch_fused" in flag("optim").choices
    assert flag("quant_bits").kind == "any" and flag("quant_bits").choices[-1] == "float8"
    assert flag("gradient_checkpointing").kind == "bool"
    assert flag("gradient_checkpointing").default is True
    assert flag("lora_rank").help == "Rank for LoRA."


def test_renames_and_removed():
    schema = load_schema()
    assert schema.renames["train_type"] == "tuner_type"
    assert schema.renames["metric"] == "eval_metric"
    assert all(new in schema.flags for new in schema.renames.values())
    assert not set(schema.renames) & set(schema.flags)
    assert schema.removed["adafactor"] == "Write optim: adafactor."
    assert not set(schema.removed) & set(schema.flags)


def test_aliases_and_negations():
    schema = load_schema()
    assert schema.aliases["output-dir"] == "output_dir"
    assert schema.negations["no_gradient_checkpointing"] == "gradient_checkpointing"
    assert schema.negations["no-add-version"] == "add_version"


def test_suggest():
    schema = load_schema()
    assert schema.suggest("lora_rnak") == "lora_rank"
    assert schema.suggest("learning_rat") == "learning_rate"
    assert schema.suggest("train_type") == "tuner_type"
    assert schema.suggest("Lora-Rank") == "lora_rank"
    assert schema.suggest("zzzz") is None


# --- coerce_value ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("lora_rank", 8, 8),
        ("lora_rank", "16", 16),
        ("lora_rank", 4.0, 4),
        ("learning_rate", "1e-4", 1e-4),
        ("learning_rate", 1, 1.0),
        ("lora_alpha", 32, 32.0),
        ("gradient_checkpointing", True, True),
        ("gradient_checkpointing", "false", False),
        ("gradient_checkpointing", "True", True),
        ("packing", 1, True),
        ("system", "You are a helpful assistant.", "You are a helpful assistant."),
        ("model_revision", 2, "2"),
        ("target_modules", "all-linear", ["all-linear"]),
        ("target_modules", ["q_proj", "v_proj"], ["q_proj", "v_proj"]),
        ("model_author", "swift robot", ["swift robot"]),
        ("reft_layers", ["1", 2], [1, 2]),
        ("tuner_type", "full", "full"),
        ("quant_bits", 4, 4),
        ("quant_bits", "4", 4),
        ("quant_bits", "float8", "float8"),
        ("debug", "underflow_overflow", ["underflow_overflow"]),
        ("deepspeed", "zero3", "zero3"),
        ("deepspeed", {"zero_optimization": {"stage": 2}}, {"zero_optimization": {"stage": 2}}),
        ("model_kwargs", '{"max_pixels": 1024}', {"max_pixels": 1024}),
        ("learning_rate", None, None),
        ("torch_dtype", None, None),
    ],
)
def test_coerce_value(name, value, expected):
    out = coerce(flag(name), value)
    assert out == expected
    assert type(out) is type(expected)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("lora_rank", "abc", "must be an integer (got 'abc')"),
        ("lora_rank", 8.5, "must be an integer (got 8.5)"),
        ("lora_rank", True, "must be an integer (got True)"),
        ("lora_rank", None, "cannot be null (got None)"),
        ("learning_rate", "fast", "must be a number (got 'fast')"),
        ("gradient_checkpointing", "maybe", "must be true or false (got 'maybe')"),
        ("gradient_checkpointing", 2, "must be true or false (got 2)"),
        ("system", True, "must be a string (got True)"),
        ("system", ["a"], "must be a string (got ['a'])"),
        ("target_modules", [], "must list at least one value (got [])"),
        ("reft_layers", [1, "x"], "item 2 must be an integer (got 'x')"),
        ("deepspeed", "{not json", "must be a valid JSON object (got '{not json')"),
        ("deepspeed", 3, "must be a mapping, a JSON object or a string (got 3)"),
        ("torch_dtype", "bf16", "must be one of: 'bfloat16', 'float16', 'float32' (got 'bf16')"),
        ("quant_bits", 5, "must be one of: 1, 2, 3, 4, 8, 'float8' (got 5)"),
        ("quant_bits", True, "must be one of: 1, 2, 3, 4, 8, 'float8' (got True)"),
    ],
)
def test_coerce_value_errors(name, value, message):
    with pytest.raises(ValueError) as info:
        coerce(flag(name), value)
    assert str(info.value) == message


def test_coerce_value_lists_all_choices():
    with pytest.raises(ValueError) as info:
        coerce(flag("tuner_type"), "lorra")
    choices = ", ".join(repr(c) for c in flag("tuner_type").choices)
    assert str(info.value) == f"must be one of: {choices} (got 'lorra')"


# --- to_argv -----------------------------------------------------------------------------


def test_to_argv_forms():
    argv = to_argv(
        {
            "lora_rank": 8,
            "learning_rate": 1e-05,
            "gradient_checkpointing": False,
            "target_modules": ["q_proj", "v_proj"],
            "lr_scheduler_kwargs": {"min_lr": 1e-06},
            "system": "-be brief",
            "model": None,
        }
    )
    assert argv == [
        "--lora_rank", "8",
        "--learning_rate", "1e-05",
        "--gradient_checkpointing", "false",
        "--target_modules", "q_proj", "v_proj",
        "--lr_scheduler_kwargs", '{"min_lr": 1e-06}',
        "--system=-be brief",
    ]  # fmt: skip


def test_to_argv_rejects_what_swift_cannot_parse():
    with pytest.raises(ValueError, match="empty list"):
        to_argv({"dataset": []})
    with pytest.raises(ValueError, match="items starting with '-'"):
        to_argv({"stop_words": ["ok", "-x"]})


def test_reference_setup_round_trips_through_swift_parser(swift_parser):
    values = {name: coerce(flag(name), raw) for name, raw in REFERENCE.items()}
    parsed = parse_with_swift(swift_parser, to_argv(values))
    for name, value in values.items():
        assert parsed[name] == value, name
        assert type(parsed[name]) is type(value), name
    assert parsed["learning_rate"] == 1e-4
    assert parsed["target_modules"] == ["all-linear"]
    assert parsed["model_author"] == ["swift"]
    assert parsed["add_version"] is False


def test_every_default_round_trips_through_swift_parser(swift_parser):
    """Each flag's default, coerced and written as argv, parses back to the same value."""
    values = {}
    for f in load_schema().flags.values():
        if f.default is None or f.default == []:
            continue
        values[f.name] = coerce(f, f.default)
    parsed = parse_with_swift(swift_parser, to_argv(values))
    mismatched = {n: (v, parsed[n]) for n, v in values.items() if parsed[n] != v}
    assert not mismatched
    assert len(values) > 150


def test_dash_values_round_trip(swift_parser):
    values = {"system": "- terse -", "seed": -1, "stop_words": ["-end"], "eval_steps": -1e-05}
    parsed = parse_with_swift(swift_parser, to_argv(values))
    assert {name: parsed[name] for name in values} == values


# --- the fast path -----------------------------------------------------------------------


def test_loading_the_schema_imports_no_heavy_modules():
    code = (
        "import sys, swiftkit.recipe.flags as f; f.load_schema(); "
        "print(sorted(m for m in ('torch', 'swift', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
