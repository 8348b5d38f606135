"""`--deepspeed` values as ms-swift 4.6 takes them (swift/arguments/sft_args.py _init_deepspeed,
swift/utils/utils.py json_parse_to_dict), and the preset suggested for the others."""

import json
from pathlib import Path

import pytest

from swiftkit.recipe.deepspeed import PRESETS, parse_deepspeed, suggest_preset

PUBLIC = Path(__file__).resolve().parents[1] / "fixtures" / "public"
SWIFT_CONFIG = (
    Path(__file__).resolve().parents[2] / ".venv/lib/python3.11/site-packages/swift/config"
)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_match_the_json_files_swift_ships(name, tmp_path):
    spec, problem = parse_deepspeed(name, tmp_path)
    assert problem is None and spec.source == "preset"
    shipped = SWIFT_CONFIG / f"{name}.json"
    if not shipped.exists():
        pytest.skip("ms-swift is not installed in .venv")
    from_file, _ = parse_deepspeed(str(shipped), tmp_path)
    assert (spec.stage, spec.offload_optimizer, spec.offload_param) == (
        from_file.stage, from_file.offload_optimizer, from_file.offload_param,
    )  # fmt: skip
    assert from_file.memory_name == name


def _old_names():
    lines = (PUBLIC / "deepspeed-old-preset-names.txt").read_text(encoding="utf-8").splitlines()
    return [tuple(x.split()) for x in lines if x and not x.startswith("#")]


@pytest.mark.parametrize(("old", "preset"), _old_names())
def test_public_2x_3x_values_are_errors_naming_the_4x_preset(old, preset, tmp_path):
    spec, problem = parse_deepspeed(old, tmp_path)
    assert spec is None
    assert problem.startswith(
        f"deepspeed is not a swift 4.6 preset, an existing JSON file or a JSON object (got {old!r})"
    )
    assert f"deepspeed: {preset}." in problem or f"Did you mean {preset}?" in problem


def test_old_name_message_in_full(tmp_path):
    _, problem = parse_deepspeed("default-zero2", tmp_path)
    assert problem == (
        "deepspeed is not a swift 4.6 preset, an existing JSON file or a JSON object "
        "(got 'default-zero2'); swift would stop after start-up (\"Unable to parse json "
        "string\"). 'default-zero2' is the ms-swift 2.x/3.x name: write deepspeed: zero2."
    )


@pytest.mark.parametrize(
    ("typo", "preset"),
    [("zero_2", "zero2"), ("ZeRO3", "zero3"), ("zero3_offlaod", "zero3_offload"),
     ("ds_z3_offload_config.json", "zero3_offload"), ("stage2", "zero2"), ("zer2", "zero2"),
     ("lora", None)],
)  # fmt: skip
def test_typos_get_the_nearest_preset(typo, preset):
    assert suggest_preset(typo) == preset


def test_an_unknown_value_lists_the_presets(tmp_path):
    _, problem = parse_deepspeed("lora", tmp_path)
    assert problem.endswith(
        "Use a preset (zero0, zero1, zero2, zero3, zero2_offload, zero3_offload), a JSON file "
        "that exists, or a JSON object."
    )


def test_json_file_and_object_are_read_for_stage_and_offload(tmp_path):
    config = {"zero_optimization": {"stage": 3, "offload_optimizer": {"device": "cpu"}}}
    (tmp_path / "ds.json").write_text(json.dumps(config), encoding="utf-8")
    spec, problem = parse_deepspeed("ds.json", tmp_path)  # relative to the working directory
    assert problem is None and (spec.source, spec.stage, spec.path) == (
        "file", 3, str(tmp_path / "ds.json"),
    )  # fmt: skip
    assert spec.memory_name == "zero3_offload_optimizer"
    inline, _ = parse_deepspeed({"zero_optimization": {"stage": 1}}, tmp_path)
    assert (inline.source, inline.memory_name) == ("json", "zero1")
    nvme, _ = parse_deepspeed(
        {"zero_optimization": {"stage": 3, "offload_param": {"device": "nvme"},
                               "offload_optimizer": {"device": "nvme"}}}, tmp_path,
    )  # fmt: skip
    assert nvme.memory_name == "zero3_offload"


def test_broken_json_file_and_bad_stage_are_errors(tmp_path):
    (tmp_path / "bad.json").write_text("{stage: 2", encoding="utf-8")
    _, problem = parse_deepspeed("bad.json", tmp_path)
    assert problem.startswith(f"deepspeed file {tmp_path / 'bad.json'} is not valid JSON (")
    assert problem.endswith("(got 'bad.json'). Fix the file, or use a preset such as zero2.")
    _, problem = parse_deepspeed({"zero_optimization": {"stage": 4}}, tmp_path)
    assert problem == (
        "deepspeed config: zero_optimization.stage must be 0, 1, 2 or 3 (got 4). "
        "Fix the config, or use a preset such as zero2."
    )


def test_unset_is_no_deepspeed(tmp_path):
    assert parse_deepspeed(None, tmp_path) == (None, None)
