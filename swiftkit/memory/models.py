"""Model shapes for the memory estimate, read without downloading weights.

Looked up in order: a local model folder's config.json (the config alone is enough), a copy in
the ModelScope or Hugging Face cache, then a built-in table of common models holding their
public config.json values. Plain json reads: no torch, transformers or swift.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCE_LOCAL = "local config.json"
SOURCE_CACHE = "hub cache"
SOURCE_TABLE = "built-in table"


@dataclass(frozen=True)
class ModelShape:
    """A dense decoder-only transformer (Qwen2/Qwen3/Llama layout: GQA attention, SwiGLU MLP)."""

    model_id: str
    source: str  # SOURCE_LOCAL | SOURCE_CACHE | SOURCE_TABLE
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool
    qkv_bias: bool
    max_position_embeddings: int
    model_type: str = "qwen2"  # transformers model_type: qwen2 | qwen3 | llama | ...
    qk_norm: bool = False  # Qwen3 normalises q and k per head
    config_dtype: str | None = None  # torch_dtype written in config.json, when known
    config_path: str | None = None  # the config.json it came from, when read from disk

    @property
    def q_width(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.num_kv_heads * self.head_dim

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each linear layer in one decoder layer, by its module name."""
        h, i = self.hidden_size, self.intermediate_size
        return {
            "q_proj": (h, self.q_width),
            "k_proj": (h, self.kv_width),
            "v_proj": (h, self.kv_width),
            "o_proj": (self.q_width, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    def layer_linear_params(self) -> int:
        return sum(a * b for a, b in self.linear_shapes().values())

    def layer_other_params(self) -> int:
        """Biases and norms of one layer: the part that is never quantized."""
        bias = self.q_width + 2 * self.kv_width if self.qkv_bias else 0
        qk_norm = 2 * self.head_dim if self.qk_norm else 0
        return bias + 2 * self.hidden_size + qk_norm

    def embedding_params(self) -> int:
        """Input embedding plus a separate lm_head when the two are not tied."""
        one = self.vocab_size * self.hidden_size
        return one if self.tie_word_embeddings else 2 * one

    def param_count(self) -> int:
        per_layer = self.layer_linear_params() + self.layer_other_params()
        return self.num_layers * per_layer + self.embedding_params() + self.hidden_size


# name: (hidden, intermediate, layers, heads, kv_heads, head_dim, vocab, tied, max_pos)
_QWEN25 = {
    "0.5B": (896, 4864, 24, 14, 2, 64, 151936, True, 32768, 32768),
    "1.5B": (1536, 8960, 28, 12, 2, 128, 151936, True, 131072, 32768),
    "3B": (2048, 11008, 36, 16, 2, 128, 151936, True, 32768, 32768),
    "7B": (3584, 18944, 28, 28, 4, 128, 152064, False, 131072, 32768),
    "14B": (5120, 13824, 48, 40, 8, 128, 152064, False, 131072, 32768),
    "32B": (5120, 27648, 64, 40, 8, 128, 152064, False, 131072, 32768),
    "72B": (8192, 29568, 80, 64, 8, 128, 152064, False, 131072, 32768),
}
_QWEN3 = {
    "0.6B": (1024, 3072, 28, 16, 8, 128, 151936, True, 40960),
    "1.7B": (2048, 6144, 28, 16, 8, 128, 151936, True, 40960),
    "4B": (2560, 9728, 36, 32, 8, 128, 151936, True, 40960),
    "8B": (4096, 12288, 36, 32, 8, 128, 151936, False, 40960),
    "14B": (5120, 17408, 40, 40, 8, 128, 151936, False, 40960),
    "32B": (5120, 25600, 64, 64, 8, 128, 151936, False, 40960),
}
_LLAMA = {
    "3.1-8B": (4096, 14336, 32, 32, 8, 128, 128256, False, 131072),
    "3.1-70B": (8192, 28672, 80, 64, 8, 128, 128256, False, 131072),
    "3.1-405B": (16384, 53248, 126, 128, 8, 128, 128256, False, 131072),
    "3.2-1B": (2048, 8192, 16, 32, 8, 64, 128256, True, 131072),
    "3.2-3B": (3072, 8192, 28, 24, 8, 128, 128256, True, 131072),
}


def _table() -> dict[str, dict[str, Any]]:
    """Lower-cased model id -> config fields, under both ModelScope and Hugging Face ids."""
    out: dict[str, dict[str, Any]] = {}

    def add(ids: list[str], row: tuple, model_type: str, max_pos: int) -> None:
        h, i, n, heads, kv, hd, vocab, tied = row[:8]
        fields = {
            "hidden_size": h, "intermediate_size": i, "num_layers": n, "num_heads": heads,
            "num_kv_heads": kv, "head_dim": hd, "vocab_size": vocab, "tie_word_embeddings": tied,
            "qkv_bias": model_type == "qwen2", "max_position_embeddings": max_pos,
            "model_type": model_type, "qk_norm": model_type == "qwen3",
            "config_dtype": "bfloat16",
        }  # fmt: skip
        for model_id in ids:
            out[model_id.lower()] = {"model_id": model_id, **fields}

    for size, row in _QWEN25.items():
        add([f"Qwen/Qwen2.5-{size}"], row, "qwen2", row[8])
        add([f"Qwen/Qwen2.5-{size}-Instruct"], row, "qwen2", row[9])
    for size, row in _QWEN3.items():
        add([f"Qwen/Qwen3-{size}", f"Qwen/Qwen3-{size}-Base"], row, "qwen3", row[8])
    for name, row in _LLAMA.items():
        for suffix in ("", "-Instruct"):
            ids = [f"meta-llama/Llama-{name}{suffix}", f"LLM-Research/Llama-{name}{suffix}"]
            if name.startswith("3.1"):
                ids += [f"meta-llama/Meta-Llama-{name}{suffix}"]
                ids += [f"LLM-Research/Meta-Llama-{name}{suffix}"]
            add(ids, row, "llama", row[8])
    return out


BUILTIN_MODELS: dict[str, dict[str, Any]] = _table()


def shape_from_config(config: dict[str, Any], model_id: str, source: str) -> ModelShape | None:
    """A ModelShape from config.json values, or None when it is not a dense decoder we model."""
    cfg = config
    if "hidden_size" not in cfg and isinstance(cfg.get("text_config"), dict):
        cfg = cfg["text_config"]  # multimodal wrappers keep the language model here
    if cfg.get("num_experts") or cfg.get("num_local_experts") or cfg.get("n_routed_experts"):
        return None  # mixture-of-experts: not modelled
    try:
        h = int(cfg["hidden_size"])
        heads = int(cfg["num_attention_heads"])
        model_type = str(cfg.get("model_type", ""))
        return ModelShape(
            model_id=model_id,
            source=source,
            hidden_size=h,
            intermediate_size=int(cfg["intermediate_size"]),
            num_layers=int(cfg["num_hidden_layers"]),
            num_heads=heads,
            num_kv_heads=int(cfg.get("num_key_value_heads") or heads),
            head_dim=int(cfg.get("head_dim") or h // heads),
            vocab_size=int(cfg["vocab_size"]),
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            qkv_bias=model_type == "qwen2" or bool(cfg.get("attention_bias", False)),
            max_position_embeddings=int(cfg.get("max_position_embeddings") or 4096),
            model_type=model_type,
            qk_norm=model_type.startswith("qwen3"),
            config_dtype=cfg.get("torch_dtype") or cfg.get("dtype") or config.get("torch_dtype"),
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def _read_config(path: Path, model_id: str, source: str) -> ModelShape | None:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    shape = shape_from_config(config, model_id, source)
    if shape is None:
        return None
    return ModelShape(**{**shape.__dict__, "config_path": str(path)})


def _cache_candidates(model: str) -> list[Path]:
    """Where ModelScope and Hugging Face keep a downloaded model's config.json."""
    home = Path.home()
    ms_root = Path(os.environ.get("MODELSCOPE_CACHE") or home / ".cache" / "modelscope" / "hub")
    escaped = model.replace(".", "___")  # modelscope writes Qwen2.5 as Qwen2___5
    paths = []
    for name in dict.fromkeys([model, escaped]):
        paths += [ms_root / "models" / name / "config.json", ms_root / name / "config.json"]
    hf_home = Path(os.environ.get("HF_HOME") or home / ".cache" / "huggingface")
    hf_hub = Path(os.environ.get("HF_HUB_CACHE") or hf_home / "hub")
    snapshots = hf_hub / f"models--{model.replace('/', '--')}" / "snapshots"
    if snapshots.is_dir():
        paths += sorted(snapshots.glob("*/config.json"), key=_mtime, reverse=True)
    return paths


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def resolve_model_shape(model: str, *, base_dir: Path | None = None) -> ModelShape | None:
    """The shape of `model` (a local folder or a hub id); None when nothing describes it."""
    if not model:
        return None
    local = Path(model).expanduser()
    if not local.is_absolute() and base_dir is not None and (base_dir / local).exists():
        local = base_dir / local
    if (local / "config.json").is_file():
        return _read_config(local / "config.json", model, SOURCE_LOCAL)
    if "/" in model and not model.startswith((".", "/", "~")):
        for path in _cache_candidates(model):
            if path.is_file() and (shape := _read_config(path, model, SOURCE_CACHE)):
                return shape
    key = model.lower().rstrip("/")
    row = BUILTIN_MODELS.get(key)
    if row is None and "/" not in key:
        # A bare name (`Qwen2.5-7B-Instruct`, as people name their local download folders).
        row = next((r for k, r in BUILTIN_MODELS.items() if k.split("/")[-1] == key), None)
    if row is None:
        return None
    return ModelShape(source=SOURCE_TABLE, **row)
