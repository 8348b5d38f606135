"""Loss curves judged: smoothing, the stability measure, warmup checks. swiftkit.watch.charts
draws them.

Stability. swift logs the training loss every logging_steps updates, the mean over the updates
since the last log (swift/trainers/mixin.py `_maybe_log_save_evaluate`: tr_loss / (global_step
- _globalstep_last_logged)). A logged loss is its trend plus noise (the batches drawn, a spike).
The trend is removed locally: for three logs in a row, the second difference
L[i+1] - 2 L[i] + L[i-1] cancels a trend that is straight over those three logs, and for
independent noise of size s on each log its mean square is 6 s^2, so

    roughness = sqrt(mean((L[i+1] - 2 L[i] + L[i-1])^2 over the window)) / (sqrt(6) * mean(L))

is the noise of one logged loss as a fraction of the loss. First differences (the measure this
replaced) count the trend's change of slope as noise: the shipped demo, whose loss falls from 4.0
to 2.8 between two logs right after warmup and then flattens, measured 0.102 on them ("noisy")
and 0.079 on second differences; steady runs stay under 0.01 and an effective batch of 1 without
clipping at 0.16 either way (tests/watch/test_curves.py). A log that averages fewer than half as
many updates as the others (the `logging_first_step` log: one update, so about sqrt(logging_steps)
times the noise) is left out. An effective batch of 16 on chat data logged every 5 updates sits
around 0.02-0.08 (per-row loss varies by about a third, averaged over 16 rows and 5 updates).
Above ROUGH_THRESHOLD (0.10: a log is typically off its trend by a tenth of the loss) the trend
is hidden in the noise and a spike can undo progress.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from swiftkit.watch.runlog import TrainPoint
from swiftkit.watch.runs import Run

# EMA weight: an EMA averages about the last 1 / (1 - weight) logs and lags that far behind a
# falling loss, so short runs get light smoothing: 1 - 15 / logs, between 0 and MAX_SMOOTHING.
MAX_SMOOTHING = 0.9
WINDOW = 20  # logged losses per stability window
MIN_POINTS = 5  # fewer than this: too early to judge
ROUGH_THRESHOLD = 0.10
MAX_WARMUP_FRACTION = 0.20


@dataclass(frozen=True)
class Stability:
    roughness: float  # over the last window
    worst: float  # over the worst window of the run
    worst_step: int  # last step of that window
    window_logs: int
    threshold: float

    @property
    def high(self) -> bool:
        return self.worst > self.threshold


def smoothing_weight(n_logs: int) -> float:
    return min(MAX_SMOOTHING, max(0.0, 1 - 15 / max(n_logs, 1)))


def smooth(values: Sequence[float], weight: float | None = None) -> list[float]:
    """Exponential moving average, debiased (TensorBoard's smoothing without the early lag)."""
    weight = smoothing_weight(len(values)) if weight is None else weight
    out, avg, norm = [], 0.0, 0.0
    for v in values:
        if not math.isfinite(v):
            out.append(out[-1] if out else v)
            continue
        avg = weight * avg + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        out.append(avg / norm)
    return out


def roughness(losses: Sequence[float]) -> float | None:
    """Noise of one logged loss relative to the loss (see the module docstring)."""
    finite = [v for v in losses if math.isfinite(v)]
    if len(finite) < MIN_POINTS:
        return None
    level = statistics.fmean(abs(v) for v in finite)
    if level == 0:
        return None
    second = [a - 2 * b + c for a, b, c in zip(finite, finite[1:], finite[2:], strict=False)]
    return math.sqrt(statistics.fmean(d * d for d in second)) / (math.sqrt(6) * level)


def whole_interval_logs(points: Sequence[TrainPoint]) -> list[TrainPoint]:
    """The logs that each average at least half as many updates as the median log (the
    `logging_first_step` log averages one)."""
    spans = [b - a for a, b in itertools.pairwise([0, *(p.step for p in points)])]
    if not spans:
        return []
    median = statistics.median(spans)
    return [p for p, n in zip(points, spans, strict=True) if 2 * n >= median]


def digits_apart(value: float, threshold: float) -> str:
    """`value` with enough decimals (3 to 6) that it does not print as `threshold` does."""
    for places in range(3, 7):
        if f"{value:.{places}f}" != f"{threshold:.{places}f}":
            break
    return f"{value:.{places}f}"


def measure_stability(points: Sequence[TrainPoint], window: int = WINDOW) -> Stability | None:
    points = whole_interval_logs(points)
    losses = [p.loss for p in points]
    found = []
    for end in range(MIN_POINTS, len(losses) + 1):
        r = roughness(losses[max(0, end - window) : end])
        if r is not None:
            found.append((r, points[end - 1].step))
    if not found:
        return None
    worst, worst_step = max(found)
    return Stability(found[-1][0], worst, worst_step, min(window, len(losses)), ROUGH_THRESHOLD)


def check_curves(run: Run) -> tuple[str, ...]:
    """Warnings about the loss and the schedule, each with what to change."""
    out = []
    bad = [p for p in run.train if not math.isfinite(p.loss)]
    if bad:
        out.append(
            f"loss is {bad[0].loss} at step {bad[0].step}: training diverged. Lower "
            "learning_rate, or set max_grad_norm: 1.0 if it is off."
        )
    s = measure_stability(run.train)
    if s is not None and s.high:
        g = run.accumulation_steps
        more = (
            f"raise gradient_accumulation_steps from {g} to {g * 4}"
            if g
            else "raise gradient_accumulation_steps"
        )
        norm = run.max_grad_norm
        clip = (
            f"lower max_grad_norm from {norm:g} to {norm / 2:g}"
            if norm
            else "set max_grad_norm: 1.0 (clipping is off)"
        )
        out.append(
            f"loss swings: roughness {digits_apart(s.worst, s.threshold)} in the "
            f"{s.window_logs} logs up to step {s.worst_step} (above {s.threshold:.2f}; "
            f"{digits_apart(s.roughness, s.threshold)} now). "
            f"To steady it, {more} (4x the batch halves the noise) or {clip}."
        )
    out += check_warmup(run.warmup_steps, run.max_steps, run.learning_rate)
    return tuple(out)


def check_warmup(warmup: int | None, max_steps: int | None, lr: float | None) -> list[str]:
    if warmup is None or not max_steps:
        return []
    peak = f" {lr:g}" if lr else ""
    if warmup < 1:
        return [
            f"warmup is 0 steps: the first update already runs at the peak learning rate{peak}, "
            "before Adam's running averages mean anything. Set warmup_ratio: 0.05."
        ]
    if warmup > MAX_WARMUP_FRACTION * max_steps:
        return [
            f"warmup is {warmup} of {max_steps} steps ({warmup / max_steps:.0%}, over "
            f"{MAX_WARMUP_FRACTION:.0%}): much of the run trains below the peak learning rate. "
            "Set warmup_ratio: 0.05 to 0.1."
        ]
    return []
