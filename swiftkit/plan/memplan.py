"""The memory part of a plan: the estimate for the run's longest row and for full max_length,
corrected by the user's finished runs of the same model on the same card, verdicts against the
target card(s) (judged on the high estimate), and ranked changes when it does not fit.

Glue between plan.py and the estimator (models, memory, gpus, fit, learned); imports no torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from swiftkit.memory import learned
from swiftkit.memory.estimate import (
    MemoryConfig,
    MemoryEstimate,
    estimate_memory,
    memory_config_from_args,
)
from swiftkit.memory.fit import Suggestion, Verdict, judge, suggest_changes
from swiftkit.memory.gpus import COMMON_CARDS, GpuCard, find_card
from swiftkit.memory.models import ModelShape, resolve_model_shape
from swiftkit.recipe.swiftargs import output_root
from swiftkit.watch.memruns import finished_records


@dataclass(frozen=True)
class MemoryPlan:
    model_source: str
    param_count: int
    estimate: MemoryEstimate  # at the longest row the run will see
    at_max_length: MemoryEstimate | None  # at full max_length, when that differs
    cards_detected: bool
    verdicts: tuple[Verdict, ...]
    suggestions: tuple[Suggestion, ...]
    shape: ModelShape | None = None
    config: MemoryConfig | None = None
    correction: learned.Correction | None = None

    @property
    def verdict(self) -> str | None:
        """The verdict on the card that will run it (detected or named), else None."""
        return self.verdicts[0].verdict if self.cards_detected and self.verdicts else None

    def to_json(self) -> dict[str, Any]:
        e = self.estimate
        return {
            "model_source": self.model_source,
            "param_count": self.param_count,
            "peak_allocated_bytes": e.peak_allocated_bytes,
            "peak_reserved_bytes": e.peak_reserved_bytes,
            "peak_reserved_high_bytes": e.peak_reserved_high_bytes,
            "device_bytes": e.device_bytes,
            "device_high_bytes": e.device_high_bytes,
            "judged_on": "device_high_bytes",
            "breakdown": dict(e.breakdown),
            "notes": list(e.notes),
            "learned_from_runs": None
            if self.correction is None
            else {
                "factor": self.correction.factor,
                "ratios": list(self.correction.ratios),
                "runs": list(self.correction.runs),
            },
            "seq_len_tokens": e.seq_len_tokens,
            "at_max_length": _estimate_json(self.at_max_length) if self.at_max_length else None,
            "verdict": self.verdict,
            "verdicts": [
                {
                    "card": v.card.name,
                    "total_bytes": v.card.total_bytes,
                    "verdict": v.verdict,
                    "headroom_bytes": v.headroom_bytes,
                    "judged_bytes": v.judged_bytes,
                }
                for v in self.verdicts
            ],
            "suggestions": [
                {
                    "description": s.description,
                    "changes": dict(s.changes),
                    "device_bytes": s.estimate.device_bytes,
                    "device_high_bytes": s.estimate.device_high_bytes,
                    "verdict": s.verdict,
                }
                for s in self.suggestions
            ],
        }


def _estimate_json(e: MemoryEstimate) -> dict[str, Any]:
    out = asdict(e)
    out["breakdown"] = dict(e.breakdown)
    return out


def target_cards(gpus: Sequence[str], detected: Sequence[GpuCard]) -> tuple[list[GpuCard], bool]:
    """Named cards (--gpu or the recipe's swiftkit.gpu), else detected ones, else common cards."""
    if gpus:
        cards = [card for name in gpus if (card := find_card(name)) is not None]
        return cards, True
    if detected:
        return list(detected), True
    return list(COMMON_CARDS), False


def plan_memory(
    resolved: Mapping[str, Any],
    recipe,
    base_dir: Path,
    *,
    world_size: int,
    longest_row_tokens: int | None,
    gpus: Sequence[str],
    findings,
    detected: Sequence[GpuCard] = (),
    profile=None,
) -> MemoryPlan | None:
    names = list(gpus) or ([recipe.settings["gpu"]] if recipe.settings.get("gpu") else [])
    for name in names:
        if find_card(name) is None:
            findings.errors.append(
                f"gpu {name!r} is not a card swiftkit knows. Use a name such as 4090D, A100-80G "
                "or H100 (python -m swiftkit gpus lists them)."
            )
    model = resolved.get("model")
    shape = resolve_model_shape(model, base_dir=base_dir) if model else None
    if shape is None:
        findings.notes.append(
            f"memory: unknown for model {model!r}: no local config.json, no hub cache copy and "
            "not in swiftkit's table. Point model: at a folder holding the model's config.json "
            "(the config alone is enough) to get an estimate"
        )
        return None
    max_length = resolved.get("max_length") or shape.max_position_embeddings
    seq = min(longest_row_tokens, max_length) if longest_row_tokens else max_length
    labels = getattr(profile, "longest_label_tokens", None)
    mean = getattr(profile, "mean_tokens", None)
    cfg = memory_config_from_args(resolved, world_size=world_size, seq_len_tokens=seq,
                                  label_tokens=labels, typical_tokens=mean)  # fmt: skip
    estimate = estimate_memory(shape, cfg)
    at_max = None
    if seq != max_length:
        full = memory_config_from_args(resolved, world_size=world_size, seq_len_tokens=max_length,
                                       label_tokens=labels, typical_tokens=mean)  # fmt: skip
        at_max = estimate_memory(shape, full)
    cards, targeted = target_cards(names, detected)
    if targeted and str(resolved.get("torch_dtype")) in ("bfloat16", "bf16"):
        for card in cards:
            if not card.bf16:
                findings.warnings.append(
                    f"{recipe.location('torch_dtype')}: {card.name} has no bfloat16 support "
                    "(got torch_dtype bfloat16). Use torch_dtype: float16 on this card."
                )
    correction = None
    if targeted and cards:
        records = finished_records([output_root(resolved, base_dir)])
        correction = learned.learn(records, shape, cards[0].name)
        if correction is not None:
            estimate = learned.apply(estimate, correction)
            if at_max is not None:
                at_max = learned.apply(at_max, correction)
            findings.notes.append(f"memory: {estimate.notes[-1]}")
    verdicts = tuple(judge(estimate, card) for card in cards)
    suggestions: tuple[Suggestion, ...] = ()
    failing = [v for v in verdicts if v.verdict != "fits"]
    if targeted and failing:
        suggestions = tuple(suggest_changes(shape, cfg, failing[0].card))
    return MemoryPlan(
        model_source=shape.source,
        param_count=shape.param_count(),
        estimate=estimate,
        at_max_length=at_max,
        cards_detected=targeted,
        verdicts=verdicts,
        suggestions=suggestions,
        shape=shape,
        config=cfg,
        correction=correction,
    )
