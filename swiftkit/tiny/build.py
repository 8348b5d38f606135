"""The tiny local chat model: a random-weight Qwen2 and a locally trained byte-level BPE tokenizer.

Tests and the demo recipe train it with the real ms-swift on CPU in seconds; nothing is downloaded.
torch, transformers and tokenizers are imported inside `build_tiny_model` only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from swiftkit.errors import SwiftkitError
from swiftkit.tiny.demo import DEMO_SHAPE, pretrain
from swiftkit.tiny.demo_corpus import tokenizer_lines
from swiftkit.tiny.files import write_json
from swiftkit.tiny.tokenizer import (
    ENDOFTEXT,
    IM_END,
    SPECIAL_TOKENS,
    save_tokenizer,
    train_tokenizer,
)

DEFAULT_TINY_DIR = Path(".cache/tiny-qwen2")
# Bump when anything written below changes: an older build is then replaced, not reused.
BUILD_VERSION = 1
MARKER_FILE = "swiftkit-tiny.json"
# The demo's variant (recipes/tiny_demo.yaml): the same layout, a tokenizer that also learned
# the demo corpus, and weights pretrained on it (swiftkit.tiny.demo). Its own folder and version.
DEMO = "demo"
DEMO_TINY_DIR = Path(".cache/tiny-demo")
DEMO_BUILD_VERSION = 1
PRESETS = ("test", DEMO)
_TEST_SHAPE = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}


def build_tiny_model(out_dir: Path, *, seed: int = 0, preset: str = "test") -> Path:
    """Build the tiny model into out_dir (or reuse a complete build there) and return out_dir.

    preset "test" (the default) is the random-weight model the test suite trains; "demo" is the
    demo's pretrained variant. Deterministic given seed. The build happens in a temporary folder
    beside out_dir and is renamed into place, so an interrupted build never leaves a
    half-written out_dir.
    """
    if preset not in PRESETS:
        msg = f"tiny model preset {preset!r} is unknown. Use one of {', '.join(PRESETS)}."
        raise SwiftkitError(msg)
    out_dir = Path(out_dir)
    if is_tiny_build(out_dir, seed=seed, preset=preset):
        return out_dir
    if out_dir.exists() and not _is_replaceable(out_dir):
        msg = (
            f"{out_dir}: is not empty and holds no tiny-model build ({MARKER_FILE} is missing), "
            "so it will not be overwritten. Remove it or choose another folder."
        )
        raise SwiftkitError(msg)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        _write_build(tmp_dir, seed, preset)
        _move_into_place(tmp_dir, out_dir, seed, preset)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return out_dir


def is_tiny_build(model_dir: Path, *, seed: int = 0, preset: str = "test") -> bool:
    """True when model_dir holds a complete build of this preset's version with this seed."""
    try:
        marker = json.loads((Path(model_dir) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker == _marker(seed, preset)


def _marker(seed: int, preset: str = "test") -> dict[str, int | str]:
    if preset == DEMO:
        return {"build_version": DEMO_BUILD_VERSION, "preset": DEMO, "seed": seed}
    return {"build_version": BUILD_VERSION, "seed": seed}


def _is_replaceable(out_dir: Path) -> bool:
    return out_dir.is_dir() and (not any(out_dir.iterdir()) or (out_dir / MARKER_FILE).exists())


def _move_into_place(tmp_dir: Path, out_dir: Path, seed: int, preset: str) -> None:
    if is_tiny_build(out_dir, seed=seed, preset=preset):
        return  # another process finished the same build meanwhile: leave it for its readers
    old_dir = None
    if out_dir.exists() and any(out_dir.iterdir()):
        # An older version or another seed: set it aside, then swap the new build in.
        old_dir = Path(
            tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent)
        )
        os.replace(out_dir, old_dir / out_dir.name)
    try:
        os.replace(tmp_dir, out_dir)  # atomic; replaces an empty folder
    except OSError:
        # Another process finished the same build first: theirs is as good as ours.
        if not is_tiny_build(out_dir, seed=seed, preset=preset):
            raise
    finally:
        if old_dir is not None:
            shutil.rmtree(old_dir, ignore_errors=True)


def _write_build(model_dir: Path, seed: int, preset: str = "test") -> None:
    demo = preset == DEMO
    tokenizer = train_tokenizer(tokenizer_lines() if demo else ())
    vocab_size = tokenizer.get_vocab_size()
    special_ids = {tok: tokenizer.token_to_id(tok) for tok in SPECIAL_TOKENS}
    save_tokenizer(tokenizer, model_dir)
    _save_model(model_dir, seed, vocab_size, special_ids, tokenizer if demo else None)
    # swift cannot infer model_type from a folder name it does not know (Qwen2ForCausalLM maps
    # to both qwen2 and qwen2_gte), nor the template. It reads both from an args.json in the
    # model folder, as it does for models it saved itself (swift/model/model_meta.py
    # _read_args_json_model_type, swift/template/register.py _read_args_json_template_type).
    swift_args = {"model_type": "qwen2", "template": "qwen2_5", "swift_version": "4.6.0"}
    write_json(model_dir / "args.json", swift_args)
    _apply_umask(model_dir)
    write_json(model_dir / MARKER_FILE, _marker(seed, preset))  # last: its presence: complete


def _apply_umask(model_dir: Path) -> None:
    """mkdtemp makes the folder private (0700) and some writers do the same to files: undo it."""
    umask = os.umask(0)
    os.umask(umask)
    model_dir.chmod(0o777 & ~umask)
    for path in model_dir.iterdir():
        path.chmod(0o666 & ~umask)


def _save_model(
    model_dir: Path, seed: int, vocab_size: int, special_ids: dict[str, int], pretrain_on=None
) -> None:
    """Random weights; with pretrain_on (a tokenizer), pretrained on the demo corpus first."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab_size,
        **(DEMO_SHAPE if pretrain_on is not None else _TEST_SHAPE),
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=special_ids[ENDOFTEXT],
        eos_token_id=special_ids[IM_END],
        pad_token_id=special_ids[ENDOFTEXT],
        # float32 in config.json: swift then trains in float32 on CPU without --torch_dtype.
        dtype="float32",
    )
    config.architectures = ["Qwen2ForCausalLM"]
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    if pretrain_on is not None:
        pretrain(model, pretrain_on, seed=seed)
    model.save_pretrained(model_dir, safe_serialization=True)
    generation = GenerationConfig(
        bos_token_id=special_ids[ENDOFTEXT],
        eos_token_id=[special_ids[IM_END], special_ids[ENDOFTEXT]],
        pad_token_id=special_ids[ENDOFTEXT],
        do_sample=False,
        max_new_tokens=64,
    )
    generation.save_pretrained(model_dir)
