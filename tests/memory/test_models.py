"""Model shapes: the built-in table's public figures, local config.json, hub caches, unknowns."""

import json

import pytest

from swiftkit.memory.models import (
    SOURCE_CACHE,
    SOURCE_LOCAL,
    SOURCE_TABLE,
    resolve_model_shape,
    shape_from_config,
)

QWEN7B_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 3584,
    "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
    "num_key_value_heads": 4, "vocab_size": 152064, "tie_word_embeddings": False,
    "max_position_embeddings": 32768, "torch_dtype": "bfloat16",
}  # fmt: skip


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("Qwen/Qwen2.5-7B-Instruct", 7_615_616_512),  # published parameter counts
        ("Qwen/Qwen2.5-7B", 7_615_616_512),
        ("qwen/qwen2.5-0.5b-instruct", 494_032_768),
        ("Qwen/Qwen2.5-72B-Instruct", 72_706_203_648),
        ("meta-llama/Llama-3.1-8B-Instruct", 8_030_261_248),
        ("LLM-Research/Meta-Llama-3.1-8B-Instruct", 8_030_261_248),
        ("LLM-Research/Llama-3.2-1B-Instruct", 1_235_814_400),
        ("Qwen/Qwen3-8B", 8_190_735_360),
        ("Qwen/Qwen3-0.6B", 596_049_920),
    ],
)
def test_builtin_table_matches_published_parameter_counts(model, params, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path))
    shape = resolve_model_shape(model)
    assert shape is not None
    assert shape.source == SOURCE_TABLE
    assert shape.param_count() == params


def test_every_qwen25_size_is_in_the_table_base_and_instruct():
    for size in ("0.5B", "1.5B", "3B", "7B", "14B", "32B", "72B"):
        for suffix in ("", "-Instruct"):
            assert resolve_model_shape(f"Qwen/Qwen2.5-{size}{suffix}") is not None


def test_folder_holding_only_config_json(tmp_path):
    folder = tmp_path / "Qwen2.5-7B-Instruct"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(QWEN7B_CONFIG))
    shape = resolve_model_shape("Qwen2.5-7B-Instruct", base_dir=tmp_path)
    assert shape is not None
    assert shape.source == SOURCE_LOCAL
    assert shape.param_count() == 7_615_616_512
    assert shape.qkv_bias and not shape.tie_word_embeddings
    assert shape.config_path == str(folder / "config.json")


def test_hugging_face_cache_copy_wins_over_the_table(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms"))
    snap = tmp_path / "hub" / "models--Qwen--Qwen2.5-7B-Instruct" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({**QWEN7B_CONFIG, "num_hidden_layers": 2}))
    shape = resolve_model_shape("Qwen/Qwen2.5-7B-Instruct")
    assert shape.source == SOURCE_CACHE
    assert shape.num_layers == 2


def test_modelscope_cache_with_escaped_dots(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path))
    folder = tmp_path / "models" / "Qwen" / "Qwen2___5-7B-Instruct"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(QWEN7B_CONFIG))
    assert resolve_model_shape("Qwen/Qwen2.5-7B-Instruct").source == SOURCE_CACHE


@pytest.mark.parametrize("model", ["someone/unknown-model", "", "no-such-folder"])
def test_unknown_model_gives_none(model, tmp_path):
    assert resolve_model_shape(model, base_dir=tmp_path) is None


def test_unreadable_or_moe_config_gives_none(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    assert resolve_model_shape("bad", base_dir=tmp_path) is None
    assert shape_from_config({**QWEN7B_CONFIG, "num_experts": 64}, "m", SOURCE_LOCAL) is None


def test_qwen3_and_llama_config_fields():
    qwen3 = shape_from_config(
        {"model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072,
         "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8,
         "head_dim": 128, "vocab_size": 151936, "tie_word_embeddings": True},
        "q3", SOURCE_LOCAL,
    )  # fmt: skip
    assert qwen3.param_count() == 596_049_920
    assert qwen3.qk_norm and not qwen3.qkv_bias
    assert qwen3.max_position_embeddings == 4096  # absent: a conservative default
