"""Which --dataset values swift fills {{NAME}}/{{AUTHOR}} in: the rule, and the rule against
swift's own dataset lookup (DatasetSyntax, _select_subsets, SelfCognitionPreprocessor)."""

from pathlib import Path

import pytest

from swiftkit.data import datasets as ds
from swiftkit.data.selfcog import swift_fills, unknown_subsets

# spec -> (fills, subsets swift does not know)
SPECS = {
    "swift/self-cognition": (True, []),
    "swift/self-cognition#500": (True, []),
    "swift/self-cognition:qwen3#10": (True, []),
    "swift/self-cognition:empty_think": (True, []),
    "swift/self-cognition:all": (True, []),
    "swift/self-cognition:default": (True, []),
    "swift/self-cognition:foo": (False, ["foo"]),
    "swift/self-cognition:qwen3/foo": (True, ["foo"]),
    "modelscope/self-cognition": (True, []),
    "hf::modelscope/self-cognition#100": (True, []),
    "ms::swift/self-cognition": (True, []),
    "self-cognition": (True, []),
    "someone/self-cognition": (True, []),  # swift matches datasets by their last path part
    "swift/Self-Cognition": (False, []),  # ... exactly
    "AI-ModelScope/alpaca-gpt4-data-en#500": (False, []),
}


@pytest.mark.parametrize(("raw", "expected"), SPECS.items())
def test_which_specs_swift_fills(raw, expected, tmp_path):
    spec = ds.parse_dataset_spec(raw, base_dir=tmp_path)
    stats = ds.inspect_dataset(spec, [])
    assert stats.swift_fills_placeholders == expected[0]
    assert swift_fills(spec.path_or_id, spec.subset, spec.local_path) == expected[0]
    named = spec.path_or_id.rstrip("/").rsplit("/", 1)[-1] == "self-cognition"
    assert (unknown_subsets(spec.subset) if named else []) == expected[1]


def test_a_local_file_named_self_cognition_is_not_filled(tmp_path):
    (tmp_path / "self-cognition").write_text('{"query": "q", "response": "r"}\n', "utf-8")
    spec = ds.parse_dataset_spec("self-cognition", base_dir=tmp_path)
    assert not swift_fills(spec.path_or_id, spec.subset, spec.local_path)


@pytest.mark.slow
@pytest.mark.parametrize("raw", [s for s in SPECS if "::" not in s])
def test_the_rule_is_swifts_own_lookup(raw, monkeypatch, tmp_path):
    """swift/dataset/loader.py load_dataset: the registered name or DatasetSyntax.get_dataset_meta,
    then _select_subsets; the fill happens in each subset whose preprocessor is a
    SelfCognitionPreprocessor."""
    monkeypatch.chdir(tmp_path)
    from swift.dataset.dataset.llm import SelfCognitionPreprocessor
    from swift.dataset.dataset_syntax import DatasetSyntax
    from swift.dataset.loader import DatasetLoader
    from swift.dataset.register import DATASET_MAPPING

    syntax = DatasetSyntax.parse(raw)
    if syntax.dataset in DATASET_MAPPING:
        meta = DATASET_MAPPING[syntax.dataset]
    else:
        meta = syntax.get_dataset_meta(False)
    subsets = DatasetLoader._select_subsets(syntax.subsets, meta)
    fills = [isinstance(s.preprocess_func, SelfCognitionPreprocessor) for s in subsets]
    spec = ds.parse_dataset_spec(raw, base_dir=Path(tmp_path))
    assert any(fills) == SPECS[raw][0]
    assert swift_fills(spec.path_or_id, spec.subset, spec.local_path) == any(fills)
