"""Does the plan predict the next demo's training time once the user has run one demo?

    python tests/bench/bench_demo_time.py [--runs 4]

In a fresh project folder (recipes/tiny_demo.yaml, its datasets and the demo's model): one
`swiftkit demo` to calibrate, then --runs times: `swiftkit plan tiny_demo --json` (its `time`
block, basis own_runs) followed by `swiftkit demo`, and the predicted seconds next to what swift
logged: `train_runtime` (the trainer's loop: updates, evaluations, saves) against the plan's
total_seconds, and the loop without evaluations (train_runtime - sum of eval_runtime) against
train_seconds + save_seconds. Prints each pair and the relative errors (target: within 30%).
A shared machine's load moves these figures: the script prints the load average with each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
from pathlib import Path

from demoproject import demo_project, swiftkit


def measured(run_dir: Path) -> tuple[float, float]:
    rows = [json.loads(x) for x in (run_dir / "logging.jsonl").read_text().splitlines()]
    runtime = next(r["train_runtime"] for r in rows if "train_runtime" in r)
    evals = sum(r["eval_runtime"] for r in rows if "eval_runtime" in r)
    return runtime, evals


def newest(project: Path) -> Path:
    return sorted((project / "output" / "tiny_demo").glob("v*-*"), key=os.path.getmtime)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    project = demo_project("bench-demo-time-")
    # --no-check: the identity check after training is not part of train_runtime.
    swiftkit(project, "demo", "--no-check")
    runtime, evals = measured(newest(project))
    print(f"calibration demo: train_runtime {runtime:.1f} s (evaluations {evals:.1f} s)")
    total_errors, train_errors, runtimes = [], [], [runtime]
    print(f"{'run':>3} {'basis':9} {'predicted total':>15} {'train_runtime':>13} {'error':>7}   "
          f"{'predicted train+saves':>21} {'without evals':>13} {'error':>7}  load")  # fmt: skip
    for i in range(1, args.runs + 1):
        t = json.loads(swiftkit(project, "plan", "tiny_demo", "--json").stdout)["time"]
        swiftkit(project, "demo", "--no-check")
        runtime, evals = measured(newest(project))
        runtimes.append(runtime)
        loop = runtime - evals
        predicted_loop = t["train_seconds"] + t["save_seconds"]
        e_total = (t["total_seconds"] - runtime) / runtime
        e_loop = (predicted_loop - loop) / loop
        total_errors.append(abs(e_total))
        train_errors.append(abs(e_loop))
        load = os.getloadavg()[0]
        print(f"{i:>3} {t['basis']:9} {t['total_seconds']:>13.1f} s {runtime:>11.1f} s "
              f"{e_total:>+7.1%}   {predicted_loop:>19.1f} s {loop:>11.1f} s {e_loop:>+7.1%}  "
              f"{load:.1f}")  # fmt: skip
    print(f"total: median error {statistics.median(total_errors):.1%}, worst "
          f"{max(total_errors):.1%}; without evaluations: median "
          f"{statistics.median(train_errors):.1%}, worst {max(train_errors):.1%}")  # fmt: skip
    spread = f"{min(runtimes):.1f} to {max(runtimes):.1f} s"
    median = statistics.median(runtimes)
    print(f"the same demo's train_runtime over all {len(runtimes)} runs: {spread} "
          f"(median {median:.1f} s): the noise a prediction is judged against")  # fmt: skip
    shutil.rmtree(project, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
