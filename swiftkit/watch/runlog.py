"""swift's log of a run: logging.jsonl read into training and evaluation points.

Owns reading what swift logs while it trains: logging.jsonl's rows (one per log step, one per
evaluation, `train_runtime` when training ends normally, then a result row with
`last_model_checkpoint`), swift's format_time durations, and the tolerant readers for swift's JSON
files (a missing or half-written file reads as empty). Pure apart from reading files; never
imports torch or swift.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TIME_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


@dataclass(frozen=True)
class TrainPoint:
    step: int
    epoch: float | None
    loss: float
    learning_rate: float | None
    grad_norm: float | None


@dataclass(frozen=True)
class EvalPoint:
    step: int
    epoch: float | None
    eval_loss: float


def parse_duration(text: Any) -> float | None:
    """swift's format_time ('1d 2h 3m 4s', '59s') back to seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    if not isinstance(text, str):
        return None
    parts = _TIME_PART.findall(text)
    if not parts:
        return None
    return sum(float(n) * _SECONDS[unit] for n, unit in parts)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_log_rows(path: Path) -> list[dict[str, Any]]:
    """logging.jsonl's rows; a half-written last line (the run is writing it) is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _progress(row: dict[str, Any]) -> tuple[int | None, int | None]:
    raw = row.get("global_step/max_steps")
    if isinstance(raw, str) and "/" in raw:
        a, b = raw.split("/", 1)
        if a.strip().isdigit() and b.strip().isdigit():
            return int(a), int(b)
    return None, None


def _keep_before(points: list, step: int) -> list:
    """A resumed run logs its steps again from the checkpoint: the newer rows win."""
    return [p for p in points if p.step < step]


def _parse_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    train: list[TrainPoint] = []
    evals: list[EvalPoint] = []
    out: dict[str, Any] = {"peak": None, "runtime": None, "mean_loss": None, "result": None}
    step = max_steps = None
    last: dict[str, Any] = {}
    for row in rows:
        if "last_model_checkpoint" in row:
            out["result"] = row
            continue
        s, m = _progress(row)
        if s is not None:
            step, max_steps, last = s, m, row
        memory = _float(row.get("memory(GiB)"))
        if memory is not None:
            out["peak"] = max(out["peak"] or 0.0, memory)
        loss, eval_loss = _float(row.get("loss")), _float(row.get("eval_loss"))
        if "train_runtime" in row:
            out["runtime"] = _float(row["train_runtime"])
            out["mean_loss"] = _float(row.get("train_loss"))
        elif loss is not None and s is not None:
            if train and s <= train[-1].step:
                train, evals = _keep_before(train, s), _keep_before(evals, s)
            lr, gn = _float(row.get("learning_rate")), _float(row.get("grad_norm"))
            train.append(TrainPoint(s, _float(row.get("epoch")), loss, lr, gn))
        elif eval_loss is not None and s is not None:
            evals = [e for e in evals if e.step < s]
            evals.append(EvalPoint(s, _float(row.get("epoch")), eval_loss))
    out.update(train=tuple(train), evals=tuple(evals), step=step, max_steps=max_steps, last=last)
    return out
