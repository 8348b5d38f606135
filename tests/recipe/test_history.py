"""Old ms-swift flag names (2.x, 3.x) read against 4.6: every target is a 4.6 flag, every past
field is accounted for, and the messages give the exact line to write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swiftkit.recipe import history
from swiftkit.recipe.flags import Flag, coerce_value, load_schema
from swiftkit.recipe.recipe import load_recipe

FIELDS = Path(__file__).parents[1] / "fixtures" / "ms_swift_past_sft_fields.json"


def test_every_target_is_a_flag_of_the_4_6_schema_and_takes_the_mapped_values():
    schema = load_schema()
    assert len(schema.history) >= 70
    for old, entry in schema.history.items():
        assert old not in schema.flags, old
        assert entry["source"] and entry["last"], old
        assert entry.get("new") or entry.get("instead"), old
        new = entry.get("new")
        if new is None:
            continue
        assert new in schema.flags, (old, new)
        flag = schema.flags[new]
        flag = Flag(new, flag.kind, flag.item_kind, True, None, flag.choices, "")
        for value in (entry.get("values") or {}).values():
            if value is not None:
                coerce_value(flag, value)  # raises when the mapped value does not fit
    for name in schema.old_values:
        assert name in schema.flags


def test_every_field_of_every_past_release_is_accounted_for():
    """A name swift sft once took is a 4.6 flag, a known rename, or has an entry saying what to
    write now: none falls through to a spelling guess."""
    schema = load_schema()
    releases = json.loads(FIELDS.read_text(encoding="utf-8"))["releases"]
    assert {"2.0.0", "2.6.1", "3.0.0", "3.12.6", "4.5.2"} <= set(releases)
    known = set(schema.flags) | set(schema.renames) | set(schema.removed) | set(schema.history)
    missing = {r: sorted(set(names) - known) for r, names in releases.items()}
    assert {r: m for r, m in missing.items() if m} == {}


@pytest.mark.parametrize(
    (
        "line",
        "message",
    ),
    [
        (
            "sft_type: lora",
            "W:1: sft_type is the ms-swift 2.x name of tuner_type; using tuner_type.",
        ),
        (
            "model_id_or_path: Qwen/Qwen2.5-7B-Instruct",
            "W:1: model_id_or_path is the ms-swift 2.x name of model; using model.",
        ),
        (
            "dataset_test_ratio: 0.01",
            "W:1: dataset_test_ratio is the ms-swift 2.x name of split_dataset_ratio; "
            "using split_dataset_ratio.",
        ),
        (
            "add_output_dir_suffix: false",
            "W:1: add_output_dir_suffix is the ms-swift 2.x name of add_version; using "
            "add_version.",
        ),
        (
            "batch_size: 2",
            "W:1: batch_size is the ms-swift 2.x name of per_device_train_batch_size; "
            "using per_device_train_batch_size.",
        ),
        (
            "enable_cache: true",
            "W:1: enable_cache is the ms-swift 3.x name of load_from_cache_file; using "
            "load_from_cache_file.",
        ),
        (
            "train_type: lora",
            "W:1: train_type is the ms-swift 3.x name of tuner_type; using tuner_type.",
        ),
    ],
)
def test_same_meaning_is_translated_with_a_notice(tmp_path, line, message):
    path = tmp_path / "r.yaml"
    path.write_text(line + "\n", encoding="utf-8")
    recipe = load_recipe(str(path))
    assert recipe.problems == ()
    assert recipe.notices == (message.replace("W:", f"{path}:", 1),)
    old = line.split(": ")[0]
    new = message.split("using ")[1].rstrip(".")
    assert new in recipe.args and old not in recipe.args


@pytest.mark.parametrize(
    (
        "line",
        "message",
    ),
    [
        (
            "use_flash_attn: true",
            "use_flash_attn is the ms-swift 2.x flag that became attn_impl (got True). "
            "Write attn_impl: flash_attn.",
        ),
        (
            "use_flash_attn: false",
            "use_flash_attn is the ms-swift 2.x flag that became attn_impl (got False). "
            "Write attn_impl: eager.",
        ),
        (
            "lora_target_modules: ALL",
            "lora_target_modules is the ms-swift 2.x flag that became target_modules (got"
            " 'ALL'). Write target_modules: all-linear.",
        ),
        (
            "lora_target_modules: [q_proj, EMBEDDING]",
            "lora_target_modules is the ms-swift 2.x flag that became target_modules (got"
            " ['q_proj', 'EMBEDDING']). Write target_modules: [q_proj, all-embedding].",
        ),
        (
            "lora_target_modules: DEFAULT",
            "lora_target_modules is the ms-swift 2.x flag that became target_modules (got"
            " 'DEFAULT'). DEFAULT and AUTO meant the model type's default modules in 2.x "
            "(usually the attention projections): list them, e.g. target_modules: "
            "[q_proj, k_proj, v_proj], or write target_modules: all-linear (every linear "
            "layer, the 4.x default).",
        ),
        (
            "target_modules: ALL",
            "target_modules value ALL is ms-swift 2.x's spelling (got ['ALL']). Write "
            "target_modules: all-linear.",
        ),
        (
            "modules_to_save: [EMBEDDING, LN]",
            "modules_to_save value EMBEDDING is ms-swift 2.x's spelling (got "
            "['EMBEDDING', 'LN']). Write modules_to_save: [all-embedding, all-norm].",
        ),
        (
            "dtype: bf16",
            "dtype is the ms-swift 2.x flag that became torch_dtype (got 'bf16'). Write "
            "torch_dtype: bfloat16.",
        ),
        (
            "dtype: AUTO",
            "dtype is the ms-swift 2.x flag that became torch_dtype (got 'AUTO'). Remove "
            "it: AUTO (the model's own dtype) is what 4.x does by default.",
        ),
        (
            "quantization_bit: 4",
            "quantization_bit is the ms-swift 2.x flag that became quant_bits (got 4). "
            "Write quant_bits: 4 and quant_method: bnb.",
        ),
        (
            "use_loss_scale: true",
            "use_loss_scale is the ms-swift 2.x flag that became loss_scale (got True). "
            "Write loss_scale: react.",
        ),
        (
            "check_dataset_strategy: error",
            "check_dataset_strategy is the ms-swift 2.x flag that became strict (got "
            "'error'). Write strict: true.",
        ),
        (
            "device_max_memory: [15GB, 20GB]",
            "device_max_memory is the ms-swift 2.x flag that became max_memory (got "
            "['15GB', '20GB']). Write max_memory: {0: 15GB, 1: 20GB}.",
        ),
        (
            "eval_datasets: [gsm8k]",
            "eval_datasets is the ms-swift 3.x flag that became eval_dataset (got "
            "['gsm8k']). Write eval_dataset: gsm8k and eval_use_evalscope: true.",
        ),
        (
            "template_type: qwen",
            "template_type was removed from ms-swift after 2.6.1. ms-swift 3.0 replaced "
            "it by template, whose names differ from 2.x template types: remove it (swift"
            " takes the model's template), or write template: NAME with a 4.x template "
            "name.",
        ),
        (
            "sequence_parallel: true",
            "sequence_parallel was removed from ms-swift after 2.6.1. It was 2.x's "
            "Megatron sequence parallel switch. For sequence parallelism in 4.x write "
            "sequence_parallel_size: N (GPUs that share one sequence).",
        ),
        (
            "self_cognition_sample: 500",
            "self_cognition_sample was removed from ms-swift after 2.6.1. Add "
            "swift/self-cognition#N to dataset instead (with model_name and "
            "model_author).",
        ),
        (
            "use_flash_atn: true",
            "use_flash_atn is not a swift sft flag. Did you mean attn_impl?",
        ),
    ],
)
def test_changed_values_and_removed_flags_give_the_line_to_write(tmp_path, line, message):
    path = tmp_path / "r.yaml"
    path.write_text(line + "\n", encoding="utf-8")
    recipe = load_recipe(str(path))
    assert recipe.problems == (f"{path}:1: {message}",)


def test_a_known_old_name_beats_a_spelling_match():
    schema = load_schema()
    # difflib alone finds use_flash_ckpt (DLRover flash checkpoints), an unrelated flag.
    import difflib

    assert difflib.get_close_matches("use_flash_attn", schema.flags, n=1)[0] == "use_flash_ckpt"
    assert schema.suggest("use_flash_attn") == "attn_impl"
    assert schema.suggest("Use-Flash-Attn") == "attn_impl"
    assert schema.suggest("sft_type") == "tuner_type"
    assert schema.suggest("lora_target_module") == "target_modules"  # closest to an old name
    assert schema.suggest("gpu_memory_fractoin") is None  # closest to a name with no successor


def test_both_old_and_new_names_set_is_an_error(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("sft_type: lora\ntuner_type: full\n", encoding="utf-8")
    assert load_recipe(str(path)).problems == (
        f"{path}:1: sft_type and tuner_type are both set (sft_type is the old name). "
        "Keep only tuner_type.",
    )


def test_the_table_reads_values_as_recipes_write_them():
    entry = load_schema().history["use_flash_attn"]
    assert history.replacement(entry, "yes") == "attn_impl: flash_attn"
    assert history.replacement(entry, None) is None
    assert history.value_key(4, "int") == history.value_key("4", "int") == "4"
