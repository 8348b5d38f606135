"""Learning from the user's own runs: correct the estimate with what their finished runs of the
same model on the same card logged.

Each run that `swiftkit train` started keeps its MemoryConfig, ModelShape and card in
RUN_DIR/swiftkit/memory.json, and the peak memory(GiB) swift logged (max_memory_reserved) when
it ends (swiftkit.watch.memruns). For runs of the same architecture on the same card, the
current estimator re-estimates each recorded configuration (so an older swiftkit's figures do
not leak in) and the median of logged / estimated reserved becomes a factor on this plan's
reserved memory; the spread of those ratios widens the high estimate.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from swiftkit.memory import calibration
from swiftkit.memory.estimate import MemoryConfig, MemoryEstimate, estimate_memory
from swiftkit.memory.gpus import find_card
from swiftkit.memory.models import ModelShape

MAX_RUNS = 5  # the newest runs that count


@dataclass(frozen=True)
class Correction:
    factor: float  # median of logged / estimated max_memory_reserved
    spread: float  # largest ratio / median - 1 (0 with one run)
    runs: tuple[str, ...]  # the run directories used, newest first
    ratios: tuple[float, ...]


def family(shape: ModelShape) -> str:
    """Runs correct each other when their architecture is the same: model_type and size."""
    return f"{shape.model_type or 'model'}-h{shape.hidden_size}-l{shape.num_layers}"


def _same_card(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    ca, cb = find_card(a), find_card(b)
    if ca is not None and cb is not None:
        return ca.name == cb.name
    return a.strip().lower() == b.strip().lower()


def _from_fields(cls, data: Mapping[str, Any]):
    names = {f.name for f in fields(cls)}
    values = {k: v for k, v in data.items() if k in names}
    if cls is MemoryConfig and "target_modules" in values:
        values["target_modules"] = tuple(values["target_modules"])
    return cls(**values)


def memory_record(shape: ModelShape, cfg: MemoryConfig, est: MemoryEstimate, card: str | None):
    """What a run records when it starts (RUN_DIR/swiftkit/memory.json)."""
    from dataclasses import asdict

    return {
        "family": family(shape),
        "card": card,
        "shape": asdict(shape),
        "config": {k: v for k, v in asdict(cfg).items() if k != "notes"},
        "estimate": {
            "peak_allocated_bytes": est.peak_allocated_bytes,
            "peak_reserved_bytes": est.peak_reserved_bytes,
            "peak_reserved_high_bytes": est.peak_reserved_high_bytes,
            "device_bytes": est.device_bytes,
            "device_high_bytes": est.device_high_bytes,
        },
    }


def learn(records: Sequence[Mapping[str, Any]], shape: ModelShape, card: str | None):
    """The correction from finished records (watch.memruns.finished_records, newest first) of
    `shape`'s family on `card`, or None when there are none."""
    ratios, runs = [], []
    for rec in records:
        if rec.get("family") != family(shape) or not _same_card(rec.get("card"), card):
            continue
        try:
            old_shape = _from_fields(ModelShape, rec["shape"])
            cfg = _from_fields(MemoryConfig, rec["config"])
            logged = int(rec["logged"]["peak_reserved_bytes"])
        except (KeyError, TypeError, ValueError):
            continue
        estimated = estimate_memory(old_shape, cfg).peak_reserved_bytes
        if estimated <= 0 or logged <= 0:
            continue
        ratios.append(logged / estimated)
        runs.append(str(rec.get("run_dir")))
        if len(ratios) == MAX_RUNS:
            break
    if not ratios:
        return None
    median = statistics.median(ratios)
    spread = max(ratios) / median - 1
    return Correction(median, spread, tuple(runs), tuple(ratios))


def apply(est: MemoryEstimate, corr: Correction) -> MemoryEstimate:
    """The estimate scaled by the correction, the difference as its own breakdown line
    (`learned_from_your_runs`); the high estimate is the corrected one plus the larger of the
    runs' spread and calibration.HIGH_MARGIN."""
    reserved = int(est.peak_reserved_bytes * corr.factor)
    context = est.device_bytes - est.peak_reserved_bytes
    breakdown = dict(est.breakdown)
    ctx = breakdown.pop("cuda_context", context)
    breakdown["learned_from_your_runs"] = reserved - est.peak_reserved_bytes
    breakdown["cuda_context"] = ctx
    high = int(reserved * (1 + max(corr.spread, calibration.HIGH_MARGIN)))
    note = (
        f"corrected by {len(corr.runs)} finished run{'s' if len(corr.runs) != 1 else ''} of "
        f"this model on this card: logged / estimated max_memory_reserved "
        + ", ".join(f"{r:.2f}" for r in corr.ratios)
        + f" (median {corr.factor:.2f}; newest: {corr.runs[0]})"
    )
    return replace(
        est,
        peak_reserved_bytes=reserved,
        device_bytes=reserved + context,
        breakdown=breakdown,
        notes=(*est.notes, note),
        peak_reserved_high_bytes=high,
        device_high_bytes=high + context,
    )
