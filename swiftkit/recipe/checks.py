"""Checks on a typed recipe: sane ranges, and the traps ms-swift lets through or reports late.

Each check returns messages in the house form `<where>: <key> <what is wrong> (got ...). <fix>.`
Errors block a run; warnings never do.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swiftkit.recipe.recipe import Recipe

# The article's advice for batch 1: accumulation 8-32, never above 64.
MAX_ACCUMULATION = 64
LORA_KEYS = (
    "lora_rank",
    "lora_alpha",
    "lora_dropout",
    "lora_bias",
    "lora_dtype",
    "use_rslora",
    "use_dora",
    "lora_modules",
    "init_weights",
)
FLASH_ATTN = ("flash_attn", "flash_attention_2", "flash_attention_3", "flash_attn_3")


@dataclass(frozen=True)
class Range:
    test: Callable[[Any], bool]
    rule: str
    fix: str


def _positive(v):
    return v > 0


RANGES: dict[str, Range] = {
    "per_device_train_batch_size": Range(lambda v: v >= 1, "must be at least 1", "Use 1 or more"),
    "per_device_eval_batch_size": Range(lambda v: v >= 1, "must be at least 1", "Use 1 or more"),
    "gradient_accumulation_steps": Range(
        lambda v: v >= 1, "must be at least 1", "Use 1 or more (16 gives an effective batch of 16)"
    ),
    "num_train_epochs": Range(_positive, "must be above 0", "Use e.g. 3"),
    "max_steps": Range(
        lambda v: v == -1 or v > 0,
        "must be -1 (use epochs) or above 0",
        "Use -1 to train by num_train_epochs",
    ),
    "max_length": Range(_positive, "must be at least 1 token", "Use e.g. 2048"),
    # save_total_limit <= 0 keeps every checkpoint, as None does (transformers 5.19
    # trainer_utils.py rotate_checkpoints): no range to check.
    "warmup_ratio": Range(lambda v: 0 <= v < 1, "must be in [0, 1)", "Use e.g. 0.05"),
    "warmup_steps": Range(lambda v: v >= 0, "must not be negative", "Use 0 or more"),
    "learning_rate": Range(_positive, "must be above 0", "Use e.g. 1e-4 for LoRA, 1e-5 for full"),
    "lora_rank": Range(lambda v: v >= 1, "must be at least 1", "Use e.g. 8"),
    "lora_alpha": Range(_positive, "must be above 0", "Use e.g. 32"),
    "lora_dropout": Range(lambda v: 0 <= v < 1, "must be in [0, 1)", "Use e.g. 0.05"),
    "split_dataset_ratio": Range(
        lambda v: 0 <= v < 1, "must be in [0, 1)", "Use e.g. 0.05 to hold out 5% for evaluation"
    ),
    "logging_steps": Range(_positive, "must be above 0", "Use e.g. 5"),
    "eval_steps": Range(_positive, "must be above 0", "Use e.g. 50"),
    "save_steps": Range(_positive, "must be above 0", "Use e.g. 50"),
    "dataloader_num_workers": Range(lambda v: v >= 0, "must not be negative", "Use 0 or more"),
    "max_grad_norm": Range(lambda v: v >= 0, "must not be negative", "Use e.g. 1.0"),
    "weight_decay": Range(lambda v: v >= 0, "must not be negative", "Use e.g. 0.1"),
    "seed": Range(lambda v: v >= 0, "must not be negative", "Use e.g. 42"),
}


@dataclass
class Findings:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_ranges(recipe: Recipe, findings: Findings) -> None:
    for key, rng in RANGES.items():
        value = recipe.args.get(key)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(value):  # .inf/.nan: no schedule or memory can be computed
            findings.errors.append(
                f"{recipe.location(key)}: {key} must be a finite number (got {value!r}). {rng.fix}."
            )
        elif not rng.test(value):
            findings.errors.append(
                f"{recipe.location(key)}: {key} {rng.rule} (got {value!r}). {rng.fix}."
            )


def check_traps(recipe: Recipe, resolved: Mapping[str, Any], findings: Findings) -> None:
    """The combinations swift accepts silently, rejects late, or that do not do what they say."""
    args = recipe.args
    loc = recipe.location
    tuner = resolved.get("tuner_type")

    if tuner == "full":
        for key in LORA_KEYS:
            if key in args:
                findings.warnings.append(
                    f"{loc(key)}: {key} has no effect with tuner_type full (got {args[key]!r}). "
                    "Remove it, or use tuner_type: lora."
                )

    if args.get("quant_bits") is not None and not args.get("quant_method"):
        findings.errors.append(
            f"{loc('quant_bits')}: quant_bits is ignored without quant_method "
            f"(got quant_bits {args['quant_bits']!r}). Add quant_method: bnb for QLoRA."
        )

    if args.get("warmup_ratio") and args.get("warmup_steps"):
        findings.errors.append(
            f"{loc('warmup_steps')}: warmup_steps and warmup_ratio cannot both be set "
            f"(got {args['warmup_steps']!r} and {args['warmup_ratio']!r}); swift refuses it. "
            "Keep one of them."
        )

    # 0.1, as sweep and the recipes suggest: swift holds out max(int(N x ratio), 1) rows per
    # dataset, 5 of a 50-row self-cognition file (0.05 would leave an eval_loss over 2 rows).
    if not resolved.get("has_validation") and "eval_steps" in args:
        findings.warnings.append(
            f"{loc('eval_steps')}: eval_steps is ignored: there is no validation data, so swift "
            "never evaluates (split_dataset_ratio defaults to 0 in ms-swift 4). "
            "Set split_dataset_ratio: 0.1 or val_dataset: FILE to get eval_loss."
        )

    for key in ("packing", "padding_free"):
        if args.get(key) and resolved.get("attn_impl") not in FLASH_ATTN:
            findings.errors.append(
                f"{loc(key)}: {key} needs flash attention (got attn_impl "
                f"{resolved.get('attn_impl')!r}). Set attn_impl: flash_attn (flash-attn installed) "
                f"or remove {key}."
            )

    accumulation = args.get("gradient_accumulation_steps")
    if isinstance(accumulation, int) and accumulation > MAX_ACCUMULATION:
        findings.warnings.append(
            f"{loc('gradient_accumulation_steps')}: gradient_accumulation_steps above "
            f"{MAX_ACCUMULATION} makes each update slow and stale (got {accumulation}). "
            "Keep it in 8-32 with batch 1, or raise per_device_train_batch_size."
        )

    if not resolved.get("dataset"):
        findings.errors.append(
            f"{recipe.path}: dataset is not set. Add dataset: FILE_OR_ID "
            "(e.g. datasets/self_cognition.json)."
        )
    if not resolved.get("model"):
        findings.errors.append(
            f"{recipe.path}: model is not set. Add model: ID_OR_FOLDER "
            "(e.g. Qwen/Qwen2.5-7B-Instruct)."
        )


def check_remote_code(
    recipe: Recipe, resolved: Mapping[str, Any], findings: Findings, base_dir: Path | None = None
) -> None:
    """ms-swift 4.6 has no trust_remote_code flag: it loads every model with
    trust_remote_code=True (swift/model/register.py:161). A local model folder holding Python
    files, or a config.json with auto_map, therefore runs that code; say so."""
    model = resolved.get("model")
    if not isinstance(model, str) or not model:
        return
    folder = Path(model) if Path(model).is_absolute() else (base_dir or Path.cwd()) / model
    code: list[str] = []
    try:
        if not folder.is_dir():
            return
        code = sorted(p.name for p in folder.glob("*.py"))
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    if isinstance(config, dict) and config.get("auto_map") and not code:
        code = ["auto_map in config.json"]
    if code:
        findings.warnings.append(
            f"{recipe.location('model')}: the model ships its own Python code "
            f"(got {', '.join(code)}), and ms-swift runs it: it loads every model with "
            "trust_remote_code=True. Train it only if you trust where the folder came from."
        )


def check_recipe(
    recipe: Recipe, resolved: Mapping[str, Any], base_dir: Path | None = None
) -> Findings:
    findings = Findings(errors=list(recipe.problems))
    check_ranges(recipe, findings)
    check_traps(recipe, resolved, findings)
    check_remote_code(recipe, resolved, findings, base_dir)
    return findings
