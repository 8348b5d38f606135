"""The efficiency factor of the time estimate: measured time against the ideal time of timing.py.

Where it comes from, in order (the estimate's `basis`):
1. own_runs: this user's finished runs of the same model family on the same device. A run
   started by swiftkit holds the plan it was started from (swiftkit/plan.json, with the ideal
   times of its `time` block) and swift's log (logging.jsonl: `train_runtime` when training ends,
   `eval_runtime` per evaluation; swift/trainers/patcher.py add_train_message logs
   train_speed(s/it) = elapsed / steps). efficiency = ideal / measured, the median of the newest
   runs; evaluation gets its own factor when the runs evaluated.
2. public_logs: the median over public ms-swift training logs of the same tuner
   (public_speeds.json: model, card, tuner, batch, length and the measured speed, with sources).
3. uncalibrated: a default.
Pure apart from reading run directories; never imports torch or swift.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from swiftkit.plan.publiclogs import public_efficiency
from swiftkit.watch.runlog import _float, _read_json, read_log_rows
from swiftkit.watch.runs import list_runs
from swiftkit.watch.runstate import PROVENANCE_DIR

OWN_RUNS, PUBLIC_LOGS, UNCALIBRATED = "own_runs", "public_logs", "uncalibrated"
# Without any calibration: a third of the ideal on a GPU (published LoRA/full fine-tuning runs
# reach 20-50% of peak), the nominal figures as they are on a CPU.
DEFAULT_GPU_EFFICIENCY = 0.33
DEFAULT_CPU_EFFICIENCY = 1.0
RUNS_USED = 5  # the newest matching runs; the median of their factors
RUNS_SCANNED = 60


@dataclass(frozen=True)
class Calibration:
    train_efficiency: float
    eval_efficiency: float
    basis: str  # OWN_RUNS | PUBLIC_LOGS | UNCALIBRATED
    detail: str  # one line for people
    runs: tuple[str, ...] = ()  # the run directories it came from (own_runs)


@dataclass(frozen=True)
class RunSample:
    """One finished run: what it was planned to take at efficiency 1, and what it took."""

    run_dir: Path
    device_key: str
    model_family: str
    model_id: str
    ideal_train_s: float
    ideal_eval_s: float
    save_s: float
    measured_train_s: float
    measured_eval_s: float

    @property
    def train_efficiency(self) -> float:
        return self.ideal_train_s / self.measured_train_s

    @property
    def eval_efficiency(self) -> float | None:
        if self.ideal_eval_s <= 0 or self.measured_eval_s <= 0:
            return None
        return self.ideal_eval_s / self.measured_eval_s


def read_run_sample(run_dir: Path) -> RunSample | None:
    """A finished, never-resumed run with a swiftkit time block, or None."""
    plan = _read_json(run_dir / PROVENANCE_DIR / "plan.json")
    time = plan.get("time") if isinstance(plan.get("time"), dict) else None
    ideal = time.get("ideal") if time and isinstance(time.get("ideal"), dict) else None
    if not ideal:
        return None
    rows = read_log_rows(run_dir / "logging.jsonl")
    runtimes = [_float(r.get("train_runtime")) for r in rows if "train_runtime" in r]
    if len(runtimes) != 1 or runtimes[0] is None:  # unfinished, or resumed (runtime restarts)
        return None
    evals = sum(_float(r.get("eval_runtime")) or 0.0 for r in rows if "eval_runtime" in r)
    save = _float(time.get("save_seconds")) or 0.0
    measured_train = runtimes[0] - evals - save
    ideal_train = _float(ideal.get("train_seconds"))
    if not ideal_train or measured_train <= 0:
        return None
    return RunSample(
        run_dir=run_dir,
        device_key=str(time.get("device_key")),
        model_family=str(time.get("model_family")),
        model_id=str(time.get("model_id")),
        ideal_train_s=ideal_train,
        ideal_eval_s=_float(ideal.get("eval_seconds")) or 0.0,
        save_s=save,
        measured_train_s=measured_train,
        measured_eval_s=evals,
    )


def _folders(root: Path, depth: int) -> list[Path]:
    """root and the folders up to `depth` levels below it that are not run directories."""
    out = [root]
    if depth > 0:
        for child in sorted(root.iterdir()):
            if child.is_dir() and not child.name.startswith(("v", ".")):
                out += _folders(child, depth - 1)
    return out


def candidate_runs(roots: Iterable[Path], limit: int = RUNS_SCANNED) -> list[Path]:
    """Run directories under each root and up to two levels below it (a sweep's variants sit
    at OUTPUT_ROOT/sweep-*/VARIANT/vN-*), newest first."""
    found: dict[Path, str] = {}
    for root in roots:
        if not root.is_dir():
            continue
        for parent in _folders(root, 2):
            for run in list_runs(parent):
                found[run.resolve()] = run.name.split("-", 1)[-1]
    ordered = sorted(found, key=lambda p: found[p], reverse=True)
    return ordered[:limit]


def own_runs_calibration(
    roots: Sequence[Path], *, device_key: str, model_family: str, model_id: str
) -> Calibration | None:
    """The median factor of the newest finished runs on this device: the same model when there
    are any, else the same model family."""
    samples = [s for r in candidate_runs(roots) if (s := read_run_sample(r)) is not None]
    same = [s for s in samples if s.device_key == device_key and s.model_family == model_family]
    exact = [s for s in same if s.model_id == model_id]
    chosen = (exact or same)[:RUNS_USED]
    if not chosen:
        return None
    train = statistics.median(s.train_efficiency for s in chosen)
    evals = [e for s in chosen if (e := s.eval_efficiency) is not None]
    which = "this model" if exact else f"the {model_family} family"
    n = len(chosen)
    return Calibration(
        train_efficiency=train,
        eval_efficiency=statistics.median(evals) if evals else train,
        basis=OWN_RUNS,
        detail=f"your {n} finished run{'s' if n != 1 else ''} of {which} on {device_key}",
        runs=tuple(str(s.run_dir) for s in chosen),
    )


def calibrate(
    roots: Sequence[Path],
    *,
    device_key: str,
    on_gpu: bool,
    model_family: str,
    model_id: str,
    tuner: str,
) -> Calibration:
    """The factor for this device and model: own runs, else public logs (GPU), else a default."""
    own = own_runs_calibration(
        roots, device_key=device_key, model_family=model_family, model_id=model_id
    )
    if own is not None:
        return own
    if on_gpu and (public := public_efficiency(tuner)) is not None:
        eff, n = public
        return Calibration(
            eff, eff, PUBLIC_LOGS, f"median of {n} public ms-swift {tuner} logs (A100)"
        )
    eff = DEFAULT_GPU_EFFICIENCY if on_gpu else DEFAULT_CPU_EFFICIENCY
    fix = "finish one run on it to calibrate" if not on_gpu else "no public logs for this tuner"
    return Calibration(eff, eff, UNCALIBRATED, f"a default factor {eff:g} ({fix})")
